"""The front end: DSL parsing and expansion, spans, bad specs, the grammar cache, the lazy graph.

Bad specs go through the command line, `python -m netc check SPEC`: one test per error class
asserts the message (substrings), the position `path:line:col` (computed from the spec text the
test wrote, never from netc's output) and the exit code 1. The hostile-input suite keeps the
larger golden corpus; these are the front end's own unit tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.errors import NetcError
from netc.frontend.program import load_program
from netc.graph.expand import expand

ROOT = Path(__file__).resolve().parent.parent


def netc(*args: str, cwd: Path = ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def position(text: str, needle: str, nth: int = 0) -> str:
    """`line:col` (1-based) of the nth occurrence of needle in text."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{col}"


def check_error(tmp_path: Path, spec: str, needle: str, *messages: str, nth: int = 0) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    done = netc("check", str(path))
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{position(spec, needle, nth)}: error: "), done.stderr
    for message in messages:
        assert message in done.stderr, done.stderr
    return done.stderr


# --- bad specs, one per error class ------------------------------------------------------------------
def test_output_size_not_positive(tmp_path):
    spec = 'input: [3, 56, 56]\nnetwork: "conv3-64-relu-maxpool-conv3-64-maxpool-maxpool-conv(64, 11, padding=0)"\n'
    check_error(tmp_path, spec, "conv(64, 11", "input 7×7 too small for conv 11×11", "at conv3 after 3 pools")


def test_residual_add_mismatch_with_identity_shortcut(tmp_path):
    spec = (
        "input: [64, 32, 32]\nblocks:\n  down:\n    residual: conv(128, 3, stride=2)-bn-relu\n"
        "    shortcut: identity\nnetwork: conv1-64 - down\n"
    )
    check_error(tmp_path, spec, "down\n", "residual add of mismatched shapes 128×16×16 (body) and 64×32×32 (shortcut)")


def test_concat_of_different_spatial_sizes(tmp_path):
    spec = (
        "input: [3, 32, 32]\nblocks:\n  incep:\n    parallel:\n      - conv(8, 3, padding=valid)\n"
        "      - conv(8, 1)\nnetwork: conv3-16 - incep\n"
    )
    check_error(tmp_path, spec, "incep\n", "concat needs the same spatial size on every input", "8×30×30, 8×32×32")


def test_unknown_layer_word_with_suggestion(tmp_path):
    spec = "input: [3, 32, 32]\nnetwork: conv3-64-rleu-maxpool\n"
    check_error(tmp_path, spec, "rleu", "unknown layer or block 'rleu'", "did you mean 'relu'?")


def test_unknown_block_with_suggestion(tmp_path):
    spec = (
        "input: [3, 32, 32]\nblocks:\n  inception:\n    parallel: ['conv(8, 1)', 'conv(8, 3)']\n"
        "network: conv3-64-relu - inceptoin(1)\n"
    )
    check_error(tmp_path, spec, "inceptoin", "unknown layer or block 'inceptoin'", "did you mean 'inception'?")


def test_too_many_positional_arguments(tmp_path):
    spec = "input: [3, 8, 8]\nnetwork: conv(8, 3, 1, 0, 1, 1, true, 5)\n"
    check_error(tmp_path, spec, "5)", "'conv' takes at most 7 positional argument(s)", "got 8")


def test_too_many_block_arguments(tmp_path):
    spec = "input: [3, 8, 8]\nblocks:\n  b:\n    args: [w]\n    body: conv(w, 3)\nnetwork: b(8, 9)\n"
    check_error(tmp_path, spec, "9)", "block 'b' takes 1 argument(s) (w); got 2")


def test_wrong_argument_name_with_suggestion(tmp_path):
    spec = "input: [3, 32, 32]\nnetwork: conv(64, 3, strid=2)\n"
    check_error(tmp_path, spec, "strid", "'conv' has no argument 'strid'", "did you mean 'stride'?")


def test_missing_block_argument(tmp_path):
    spec = "input: [3, 8, 8]\nblocks:\n  b:\n    args: [w]\n    body: conv(w, 3)\nnetwork: conv3-4 - b\n"
    check_error(tmp_path, spec, "b\n", "block 'b' needs argument 'w'")


def test_undefined_variable_with_suggestion(tmp_path):
    spec = "input: [3, 32, 32]\nparams: {N: 2}\nnetwork: conv(n*32, 3)\n"
    check_error(tmp_path, spec, "n*32", "undefined variable 'n'", "did you mean 'N'?")


def test_undefined_repeat_count(tmp_path):
    spec = "input: [3, 8, 8]\nparams: {N: 2}\nnetwork: (conv3-8)*R\n"
    check_error(tmp_path, spec, "R\n", "undefined variable 'R'")


@pytest.mark.parametrize("spec,needle,message", [
    ("input: [3, 32, 32]\nparams: {N: two}\nnetwork: conv(64, 3)\n", "two", "param 'N' must be a number"),
    ("input: [3, 32, 32]\nnetwork: conv(8, 3, bias=7)\n", "7)", "conv bias must be true or false, got 7"),
    ("input: [3, 32, 32]\nnetwork: conv(8.5, 3)\n", "8.5", "conv filters must be a whole number, got 8.5"),
    ("input: [3, 32, 32]\nnetwork: conv(8, 3, padding=samee)\n", "samee", "padding must be valid, same, full"),
    ("input: abc\nnetwork: conv3-8\n", "abc", "input must be a list"),
    ("input: [3, 8, 8]\nnetwork: 5\n", "5\n", "network must be a string"),
], ids=["param", "bool", "whole-number", "padding-word", "input", "network"])
def test_bad_types(tmp_path, spec, needle, message):
    check_error(tmp_path, spec, needle, message)


@pytest.mark.parametrize("spec,needle,message", [
    ("input: [3, 32, 32]\nnetwork: conv(-4, 3)\n", "-4", "conv filters must be at least 1, got -4"),
    ("input: [3, 32, 32]\nnetwork: conv(0, 3)\n", "0, 3", "conv filters must be at least 1, got 0"),
    ("input: [3, 32, 32]\nnetwork: conv(8, 3, stride=0)\n", "0)", "conv stride must be at least 1, got 0"),
    ("input: [3, 32, 32]\nnetwork: maxpool(0)\n", "0)", "pool kernel must be at least 1, got 0"),
    ("input: [3, 32, 32]\nnetwork: fc(-10)\n", "-10", "fc units must be at least 1"),
    ("input: [3, 0, 32]\nnetwork: conv3-8\n", "[3, 0", "input sizes must be between 1 and 1,000,000, got 0"),
], ids=["negative-filters", "zero-filters", "zero-stride", "zero-pool", "negative-units", "zero-input"])
def test_negative_and_zero_sizes(tmp_path, spec, needle, message):
    check_error(tmp_path, spec, needle, message)


@pytest.mark.parametrize("spec,needle,message", [
    ("name: broken\ninput: [3, 32, 32\nnetwork: conv3-64\n", "[", "invalid YAML: '[' is never closed"),
    ("input: [3, 32, 32]\nnetwork:\n\t- conv3-8\n", "\t", "invalid YAML: a tab character in the indentation"),
    ("input: [3, 32, 32]\nnetwork: conv3-8\ninput: [3, 32, 32]\n", "input", "duplicate key 'input'"),
], ids=["unclosed-flow-list", "tab", "duplicate-key"])
def test_yaml_errors_with_position(tmp_path, spec, needle, message):
    nth = 1 if "duplicate" in message else 0
    check_error(tmp_path, spec, needle, message, nth=nth)


def test_dsl_cut_by_a_yaml_flow_list_points_at_the_open_bracket(tmp_path):
    spec = "input: [3, 8, 8]\nblocks:\n  b:\n    parallel: [conv(8, 1), conv(8, 3)]\nnetwork: b\n"
    check_error(tmp_path, spec, "(8, 1", "'(' is never closed", "quote each item")


def test_errors_inside_folded_and_quoted_yaml_map_back_to_the_file(tmp_path):
    folded = "input: [3, 8, 8]\nnetwork: >-\n  conv3-8 -\n  relu - frob\n"
    check_error(tmp_path, folded, "frob", "unknown layer or block 'frob'")
    quoted = "input: [3, 8, 8]\nnetwork: 'conv3-8 - it''s - relu'\n"
    check_error(tmp_path, quoted, "''s", "unexpected character")  # the caret on the escape ''

    listed = "input: [3, 8, 8]\nnetwork:\n  - conv3-8-relu\n  - conv3-8-rleu\n"
    check_error(tmp_path, listed, "rleu", "unknown layer or block 'rleu'")


def test_error_output_has_source_line_and_caret(tmp_path):
    spec = "input: [3, 32, 32]\nnetwork: conv3-64-rleu-maxpool\n"
    stderr = check_error(tmp_path, spec, "rleu", "unknown layer")
    lines = stderr.splitlines()
    assert lines[1].strip() == "network: conv3-64-rleu-maxpool"
    assert lines[2].index("^") == lines[1].index("rleu")
    assert lines[2].strip() == "^~~~"


def test_non_square_maps_are_named_as_they_are():
    """A map of H×W, not H×H: the error names both sides, and an axis that does not fit warns."""
    with pytest.raises(NetcError) as caught:
        analyze_expression("conv(8, 11, padding=0)", (3, 20, 7))
    assert "input 20×7 too small for conv 11×11" in str(caught.value)
    analysis = analyze_expression("conv(8, 3, stride=2, padding=0)", (3, 9, 10))  # H fits, W does not
    (warning,) = analysis.warnings
    assert "doesn't fit" in warning.message and "(10 − 3 + 2·0)/2" in warning.message
    assert analysis["conv1"].shape == (8, 4, 4)
    analysis = analyze_expression("conv(8, 3, stride=3, padding=0)", (3, 8, 7))  # neither fits: one warning
    (warning,) = analysis.warnings
    assert "in height, (W − F + 2P)/S = (8 − 3 + 2·0)/3" in warning.message and "the last 2 row" in warning.message
    assert "in width, (W − F + 2P)/S = (7 − 3 + 2·0)/3" in warning.message and "the last 1 row" in warning.message


# --- the DSL --------------------------------------------------------------------------------------
def kinds(analysis) -> list[str]:
    return [node.kind for node in analysis.network.nodes()][1:]


def test_vgg_notation_binds_numbers_to_the_word_before():
    analysis = analyze_expression("conv3-64-relu - conv1-256 - FC-4096 - soft-max", (3, 8, 8))
    assert kinds(analysis) == ["conv", "relu", "conv", "fc", "softmax"]
    assert analysis["conv1"].shape == (64, 8, 8) and analysis["conv2"].shape == (256, 8, 8)
    assert analysis["conv1"].weights == 3 * 3 * 3 * 64 and analysis["conv2"].weights == 64 * 256
    assert analysis["fc1"].shape == (4096,)


def test_layer_words_are_case_insensitive():
    a = analyze_expression("CONV3-8-ReLU-MaxPool-fc-10-SOFTMAX", (3, 8, 8))
    b = analyze_expression("conv3-8-relu-maxpool-FC-10-softmax", (3, 8, 8))
    assert kinds(a) == kinds(b) == ["conv", "relu", "pool", "fc", "softmax"]
    assert [i.shape for i in a.info.values()] == [i.shape for i in b.info.values()]


def test_template_with_repetition(tmp_path):
    """The notes' template [(CONV-RELU)*N-POOL]*M-(FC-RELU)*K-SOFTMAX with N=2, M=3, K=1."""
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "input: [3, 32, 32]\nparams: {N: 2, M: 3, K: 1}\n"
        "defaults:\n  conv: {filters: 16}\n  fc: {units: 64}\n"
        'network: "[(CONV-RELU)*N-POOL]*M-(FC-RELU)*K-FC(10)-SOFTMAX"\n'
    )
    analysis = analyze_file(str(spec))
    assert kinds(analysis) == ["conv", "relu", "conv", "relu", "pool"] * 3 + ["fc", "relu", "fc", "softmax"]
    assert [s.id for s in analysis.network.scopes.values() if s.kind == "stage"] == ["stage1", "stage2", "stage3"]
    assert analysis.output_shapes() == {"output": (10,)}
    assert analysis["stage3.pool1"].shape == (16, 4, 4)


def test_repetition_index_and_arithmetic():
    analysis = analyze_expression("[conv(64*2**i, 3)-relu-maxpool]*4@i - fc((7 + 1) // 2 * 256 % 1000)", (3, 32, 32))
    filters = [info.shape[0] for node, info in analysis.rows() if node.kind == "conv"]
    assert filters == [64, 128, 256, 512]
    assert analysis.output_shapes() == {"output": ((7 + 1) // 2 * 256 % 1000,)}


def test_block_arguments_defaults_and_keywords(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text(
        "input: [16, 8, 8]\nblocks:\n  unit:\n    args: {width: null, stride: 1}\n"
        "    body: conv(width, 3, stride=stride)-relu\n"
        "network: unit(8) - unit(width=12, stride=2) - unit(4, 2)\n"
    )
    analysis = analyze_file(str(spec))
    shapes = [info.shape for node, info in analysis.rows() if node.kind == "conv"]
    assert shapes == [(8, 8, 8), (12, 4, 4), (4, 2, 2)]
    assert analysis.network.scopes["unit2"].args == {"width": 12, "stride": 2}


def test_defaults_section_applies_to_bare_words(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text(
        "input: [3, 32, 32]\ndefaults:\n  conv: {filters: 20, kernel: 5, padding: valid}\n"
        "  pool: {type: avg, kernel: 3, stride: 1}\nnetwork: conv-pool-conv3-pool(2)\n"
    )
    analysis = analyze_file(str(spec))
    assert [info.shape for info in analysis.info.values()][1:] == [(20, 28, 28), (20, 26, 26), (20, 24, 24), (20, 23, 23)]
    assert analysis["pool1"].label.startswith("avgpool")


def test_mark_and_heads(tmp_path):
    spec = tmp_path / "h.yaml"
    spec.write_text(
        "input: [3, 16, 16]\nnetwork: conv3-8-relu - <features> - maxpool\n"
        "heads:\n  a: fc(3)\n  b: {from: features, body: conv1-2}\n"
    )
    analysis = analyze_file(str(spec))
    assert analysis.output_shapes() == {"a": (3,), "b": (2, 16, 16)}


def test_self_calling_block_is_an_error(tmp_path):
    spec = tmp_path / "r.yaml"
    spec.write_text("input: [3, 8, 8]\nblocks:\n  a: conv3-8 - b\n  b: relu - a\nnetwork: a\n")
    with pytest.raises(NetcError) as caught:
        analyze_file(str(spec))
    assert "calls itself" in str(caught.value)


# --- the graph IR -----------------------------------------------------------------------------------
def test_the_public_graph_view_is_built_lazily_with_every_layers_numbers():
    nx = pytest.importorskip("networkx")
    torch = pytest.importorskip("torch")
    from netc.backends.codegen import build_module

    analysis = analyze_file(str(ROOT / "specs" / "resnet50.yaml"))
    assert "graph" not in analysis.__dict__  # not built by the analysis
    graph = analysis.graph
    assert analysis.graph is graph  # built once
    network = analysis.network
    assert list(graph.nodes) == list(network.order)
    for node_id in network.order:
        data, node = graph.nodes[node_id], network.node(node_id)
        assert (data["kind"], data["scope"], data["shape"]) == (node.kind, node.scope, analysis[node_id].shape)
        assert [u for u, _ in sorted(graph.in_edges(node_id), key=lambda e: graph.edges[e]["index"])] == list(node.inputs)
    # torch's own count of the built module's parameters, and of its layers' outputs
    module = build_module(analysis)
    assert sum(d["params"] for _, d in graph.nodes(data=True)) == sum(p.numel() for p in module.parameters())
    assert graph.nodes["fc1"]["shape"] == tuple(module(torch.randn(1, 3, 224, 224)).shape[1:])
    projections = [n for n in network.nodes() if n.kind == "projection"]
    assert projections
    for node in projections:
        assert graph.edges[node.inputs[0], node.id] == {"index": 0, "shape_only": False}
        assert graph.edges[node.inputs[1], node.id] == {"index": 1, "shape_only": True}
    assert nx.is_directed_acyclic_graph(graph)
    for node_id in network.order[::25]:
        assert network.ancestors(node_id) == nx.ancestors(graph, node_id)


@pytest.mark.parametrize("command", ["check", "table"])
def test_analysis_path_imports_neither_torch_nor_networkx(command):
    code = (
        "import sys, io, contextlib\n"
        "from netc.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        f"    rc = main(['{command}', 'specs/resnet50.yaml'])\n"
        "print(rc, 'torch' in sys.modules, 'networkx' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.split() == ["0", "False", "False"], done.stderr


# --- the grammar cache --------------------------------------------------------------------------------
def test_grammar_cache_is_written_once_and_reused(tmp_path):
    cache = tmp_path / "cache"
    work = tmp_path / "elsewhere"
    work.mkdir()
    spec = str(ROOT / "specs" / "vgg16.yaml")
    first = netc("check", spec, cwd=work, env={"NETC_CACHE_DIR": str(cache)})
    assert first.returncode == 0, first.stderr
    (entry,) = cache.iterdir()
    assert entry.name.startswith("grammar-") and entry.stat().st_size > 0
    assert oct(cache.stat().st_mode & 0o777) == oct(0o700)
    stamp = entry.stat().st_mtime_ns
    second = netc("check", spec, cwd=work, env={"NETC_CACHE_DIR": str(cache)})
    assert second.returncode == 0 and second.stdout == first.stdout
    assert entry.stat().st_mtime_ns == stamp  # loaded, not rebuilt
    assert list(work.iterdir()) == []  # nothing written to the working directory


def test_damaged_grammar_cache_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    assert netc("check", "specs/vgg16.yaml", env={"NETC_CACHE_DIR": str(cache)}).returncode == 0
    (entry,) = cache.iterdir()
    entry.write_bytes(b"not a pickle\n\x80\x04garbage")
    done = netc("table", "specs/vgg16.yaml", "--format", "json", env={"NETC_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["totals"]["params"] == 138_357_544
    assert entry.read_bytes() != b"not a pickle\n\x80\x04garbage"


@pytest.mark.parametrize("setup", ["a-file", "group-writable", "relative"])
def test_unusable_grammar_cache_falls_back_cleanly(tmp_path, setup):
    if setup == "a-file":
        target = tmp_path / "plain-file"
        target.write_text("")
        cache = str(target / "sub")
    elif setup == "group-writable":
        target = tmp_path / "shared"
        target.mkdir()
        target.chmod(0o777)
        cache = str(target)
    else:
        target = tmp_path
        cache = "relative/cache"
    done = netc("check", str(ROOT / "specs" / "vgg16.yaml"), cwd=tmp_path, env={"NETC_CACHE_DIR": cache})
    assert done.returncode == 0, done.stderr
    assert "ok" in done.stdout and done.stderr == ""
    if setup == "group-writable":
        assert list(target.iterdir()) == []  # a directory others can write is never trusted
    if setup == "relative":
        assert not (tmp_path / "relative").exists()


def test_a_kinds_declared_arity_is_enforced_when_a_node_is_made():
    """LayerKind.inputs is checked at expansion: the automatic projection reads exactly two
    tensors (the block input and its body's output), the input layer none."""
    from netc.frontend.program import program_from_expression
    from netc.graph.expander import Expander

    expander = Expander(program_from_expression("relu", (3, 8, 8)), 100)
    span = expander.program.network.span
    start = expander.add_node("input", {"shape": (3, 8, 8)}, (), "", span, "input", local="input")
    with pytest.raises(NetcError) as caught:
        expander.add_node("projection", {"bn": False, "zeropad": False}, (start,), "", span, "x")
    assert "projection takes 2 input(s), got 1" in str(caught.value)
    with pytest.raises(NetcError):
        expander.add_node("input", {"shape": (3, 8, 8)}, (start,), "", span, "x")
    assert expander.add_node("add", {}, (start, start), "", span, "x") == "add1"
