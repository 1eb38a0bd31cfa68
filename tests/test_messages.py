"""Warnings and errors a user wants to read.

- 'did you mean' only for what looks like a slip of the fingers: `rmsnorm` is not a misspelt
  `norm` (LRN), nor `unpool` a misspelt `pool`; a word naming a PyTorch layer netc lacks says so,
  and PyTorch's name for a layer netc has gets netc's word. The table of PyTorch's names
  (netc/layers/pytorch_names.py) is checked against torch.nn itself, so it cannot drift.
- No message puts a control character on the terminal raw: spec text reaches messages (a key, a
  word, a file name), and an escape sequence in it must be shown, not obeyed.
- The README's table of layer words is the registry's (scripts/layer_table.py), never stale.

Every expected message here is written by hand from what the person needs to read.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netc.analysis.pipeline import analyze_expression, analyze_program
from netc.errors import Diagnostic, NetcError, SourceSpan, closest, did_you_mean
from netc.frontend.program import build_program
from netc.frontend.spec import load_yaml
from netc.layers import KINDS, known_words, lookup_word

ROOT = Path(__file__).resolve().parent.parent


def first_error(network: str, blocks: str = "") -> Diagnostic:
    spec = f"input: [3, 32, 32]\n{blocks}network: {network}\n"
    with pytest.raises(NetcError) as info:
        analyze_program(build_program(load_yaml(spec, "s.yaml")))
    return info.value.diagnostics[0]


# --- a PyTorch layer netc does not have ----------------------------------------------------------------
@pytest.mark.parametrize("word, torch_class", [
    ("rmsnorm", "RMSNorm"), ("RMSNorm", "RMSNorm"),
    ("reflectionpad", "ReflectionPad2d"), ("rrelu", "RReLU"), ("mish", "Mish"), ("selu", "SELU"),
    ("dropout3d", "Dropout3d"), ("conv3d", "Conv3d"), ("hardshrink", "Hardshrink"),
    ("fractionalmaxpool", "FractionalMaxPool2d"), ("instancenorm1d", "InstanceNorm1d"),
])
def test_a_pytorch_layer_netc_lacks_is_named_as_such(word, torch_class):
    d = first_error(f"conv3-8 - {word} - relu")
    assert d.message == f"'{word}' is PyTorch's nn.{torch_class}, which netc does not have yet"
    assert d.hint is None or "did you mean" not in d.hint


def test_the_hint_for_a_missing_layer_names_what_netc_has_that_comes_closest():
    assert first_error("conv3-8-rmsnorm").hint == (
        "layernorm comes closest: it too normalises each position over its channels, but subtracts their "
        "mean first and learns a shift besides the scale")
    assert first_error("conv3-8-rrelu").hint == (
        "leakyrelu(slope) has a fixed negative slope and prelu learns it; RReLU draws it at random while training")
    assert first_error("conv3-8-reflectionpad").hint == (
        "netc pads with zeros only: inside a conv or pool (conv(C, 3, padding=1)), or zeropad(left, right, top, bottom)")
    assert first_error("conv3-8-conv1d").hint == "netc's layers are 2-d: it has nn.Conv2d as 'conv'"
    assert first_error("conv3-8-dropout3d").hint == "netc's layers are 2-d: it has nn.Dropout2d as 'dropout2d'"
    assert first_error("conv3-8-instancenorm1d").hint == (
        "netc's layers are 2-d: it has nn.InstanceNorm2d as 'instancenorm'")
    assert first_error("conv3-8-adaptivemaxpool3d").hint == (
        "netc's layers are 2-d: it has nn.AdaptiveMaxPool2d as 'adaptivemaxpool'")


def test_nothing_is_offered_where_netc_has_nothing_close():
    """Unpooling has no honest stand-in: neither pool nor any other word is offered."""
    assert first_error("conv3-8-unpool").hint is None
    assert first_error("conv3-8-fold").hint is None


def test_a_layer_pytorch_has_no_module_for_is_described():
    d = first_error("conv3-8-seblock-fc(10)")
    assert d.message == ("'seblock' is squeeze-and-excitation (channels scaled by a gate computed from the map), "
                         "which netc does not have yet")


@pytest.mark.parametrize("word,netc_word", [("roi_pool", "roipool"), ("roi_align", "roialign")])
def test_roi_pooling_under_torchvision_spellings_points_to_netc_word(word, netc_word):
    d = first_error(f"conv3-8 - {word}(7) - fc(10)")
    assert d.hint is not None and netc_word in d.hint


def test_a_loss_or_a_container_is_not_a_missing_layer():
    loss = first_error("conv3-8-fc(10)-crossentropyloss")
    assert loss.message == "'crossentropyloss' is PyTorch's nn.CrossEntropyLoss, a loss, which is not part of a network in netc"
    assert loss.hint == "a spec describes the model; the loss belongs to the training code"
    container = first_error("sequential")
    assert container.message == "'sequential' is PyTorch's nn.Sequential, a container of modules, not a layer"


@pytest.mark.parametrize("word, hint", [
    ("conv2d", "did you mean 'conv'? (netc's word for PyTorch's nn.Conv2d)"),
    ("conv2d-64", "did you mean 'conv-64'? (netc's word for PyTorch's nn.Conv2d)"),
    ("maxpool2d", "did you mean 'maxpool'? (netc's word for PyTorch's nn.MaxPool2d)"),
    ("batchnorm2d", "did you mean 'bn'? (netc's word for PyTorch's nn.BatchNorm2d)"),
    ("lazylinear", "did you mean 'linear'? (netc's word for PyTorch's nn.LazyLinear)"),
    ("dwconv", "a depthwise conv is conv(C, 3, groups=C) in netc, C being its input channels"),
    # layers netc has since issue 12, by PyTorch's class names and the names people give them
    ("instancenorm2d", "did you mean 'instancenorm'? (netc's word for PyTorch's nn.InstanceNorm2d)"),
    ("adaptivemaxpool2d", "did you mean 'adaptivemaxpool'? (netc's word for PyTorch's nn.AdaptiveMaxPool2d)"),
    ("zeropad2d", "did you mean 'zeropad'? (netc's word for PyTorch's nn.ZeroPad2d)"),
    ("hswish", "did you mean 'hardswish'? (netc's word for PyTorch's nn.Hardswish)"),
    ("hsigmoid", "did you mean 'hardsigmoid'? (netc's word for PyTorch's nn.Hardsigmoid)"),
    ("spatialdropout", "did you mean 'dropout2d'? (netc's word for PyTorch's nn.Dropout2d)"),
    ("instnorm", "did you mean 'instancenorm'? (netc's word for PyTorch's nn.InstanceNorm2d)"),
])
def test_pytorchs_name_for_a_layer_netc_has_gets_netcs_word(word, hint):
    d = first_error(f"conv3-8 - {word}")
    assert d.message == f"unknown layer or block '{word}'"
    assert d.hint == hint


# --- the typo rule ----------------------------------------------------------------------------------
LAYER_WORDS = known_words()
CONV_ARGS = [a.name for a in KINDS["conv"].attrs]


@pytest.mark.parametrize("word, choices", [
    ("rmsnorm", LAYER_WORDS), ("unpool", LAYER_WORDS), ("channelsplit", LAYER_WORDS),
    ("hardtanh", LAYER_WORDS), ("alphadropout", LAYER_WORDS), ("fold", LAYER_WORDS),
    ("bnrelu", ["bn", "relu"]),
    ("padding_mode", CONV_ARGS),  # a different argument of PyTorch's, not a misspelt padding
    ("prelu", ["relu"]), ("max", ["maxpool"]),
])
def test_a_known_word_with_a_meaningful_part_attached_is_not_a_typo(word, choices):
    assert closest(word, choices) is None


@pytest.mark.parametrize("word, choices, expected", [
    ("negative_slope", ["slope"], "slope"),  # PyTorch's name for the same argument
    ("out_channels", CONV_ARGS, "filters"),
    ("out_features", ["units", "bias"], "units"),
])
def test_pytorchs_argument_name_suggests_netcs(word, choices, expected):
    assert closest(word, choices) == expected


def test_a_typo_rule_applies_to_keys_too():
    """`defaults: {conv2d: …}` is PyTorch's class name, not a slip for the `conv` section."""
    text = "input: [3, 8, 8]\nnetwork: conv3-8\ndefaults: {conv2d: {filters: 8}}\n"
    with pytest.raises(NetcError) as info:
        build_program(load_yaml(text, "s.yaml"))
    d = info.value.diagnostics[0]
    assert d.message == "unknown defaults section 'conv2d'"
    assert d.hint is None


def test_a_long_word_is_answered_at_once():
    """Comparing costs length²: a 200,000-character word against long block names must not."""
    long = "a" * 200_000
    blocks = {f"{long}{i}": "relu" for i in range(3)}
    assert closest(long, list(blocks)) is None
    assert did_you_mean("b" * 70, ["b" * 71]) is None


# --- control characters ---------------------------------------------------------------------------------
def test_printable_escapes_what_a_terminal_would_obey():
    from netc.errors import printable

    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("\x9b2J\x7f\x00") == "\\x9b2J\\x7f\\x00"
    assert printable("x\u202eevil\u2066\u2028y") == "x\\u202eevil\\u2066\\u2028y"
    assert printable("tab\there\nnew\rcr") == "tab\\there\\nnew\\rcr"
    assert printable("3×32×32 … é ü 中") == "3×32×32 … é ü 中"


def test_a_rendered_diagnostic_has_no_control_character():
    span = SourceSpan("s\x1b]0;x\x07.yaml", 2, 3, 9, 'x: "\x1b[2Jab\u202ecd"')
    text = Diagnostic("error", "unknown key '\x1b[2J\u202ecd'", span, "not '\x9b31m'").render()
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]", text), repr(text)
    assert text.splitlines()[0] == "s\\x1b]0;x\\x07.yaml:2:3: error: unknown key '\\x1b[2J\\u202ecd'"
    assert text.splitlines()[-1] == "  hint: not '\\x9b31m'"


def test_the_source_line_shows_a_bidi_override_as_a_space():
    """The excerpt keeps one character per column, so the caret stays under the culprit."""
    span = SourceSpan("s.yaml", 1, 6, 8, "ab\u202ecd: xy")
    lines = Diagnostic("error", "m", span).render().splitlines()
    assert lines[1:] == ["  ab cd: xy", "       ^~"]


CONTROL = re.compile(rb"[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xa8\xa9\xaa-\xae]|\xe2\x81[\xa6-\xa9]")


def netc_check(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "netc", "check", str(path), *args], cwd=ROOT, env=env,
                          capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("spec", [
    'input: [3, 8, 8]\nnetwork: relu\n"\\e[31mhaeds\\e[0m": 1\n',  # a top-level key
    'input: [3, 8, 8]\nnetwork: relu\ndefaults: {"conv\\e[2J": {filters: 8}}\n',  # a defaults section
    'input: [3, 8, 8]\nnetwork: relu\ndefaults: {pool: {"kernel\\u009b31m": 2}}\n',  # a C1 CSI in an attribute
    'input: [3, 8, 8]\nnetwork: "relu - <a>"\nheads: {o: {from: "a\\e]0;pwned\\a", body: relu}}\n',  # a mark
    'input: [3, 8, 8]\nnetwork: relu\nblocks: {b: {"bo\\u202edy": relu}}\n',  # a bidi override in a block key
])
def test_spec_text_reaches_stderr_escaped(tmp_path, spec):
    path = tmp_path / "spec.yaml"
    path.write_text(spec, encoding="utf-8")
    done = netc_check(path)
    assert done.returncode == 1, done.stderr
    assert b"error:" in done.stderr and b"Traceback" not in done.stderr
    assert not CONTROL.search(done.stderr), done.stderr


def test_a_file_name_with_an_escape_sequence_is_printed_escaped(tmp_path):
    path = tmp_path / "\x1b[32mspec.yaml"
    path.write_text("input: [3, 8, 8]\nnetwork: rleu\n", encoding="utf-8")
    done = netc_check(path)
    assert done.returncode == 1
    assert b"\\x1b[32mspec.yaml:2:10: error: unknown layer or block 'rleu'" in done.stderr
    assert not CONTROL.search(done.stderr), done.stderr


def test_a_command_line_error_is_printed_escaped(tmp_path):
    done = netc_check(tmp_path / "\x1b[31mmissing.yaml")
    assert done.returncode == 2
    assert not CONTROL.search(done.stderr), done.stderr


# --- the table of PyTorch's names against torch.nn ----------------------------------------------------------
def test_the_table_of_pytorch_modules_is_torch_nns():
    torch = pytest.importorskip("torch")
    from torch import nn

    from netc.layers import pytorch_names

    modules = {name for name in nn.modules.__all__
               if isinstance(getattr(nn, name, None), type) and issubclass(getattr(nn, name), nn.Module)}
    listed = set(pytorch_names.NN_MODULES)
    assert modules <= listed, f"torch.nn has modules the table lacks: {sorted(modules - listed)}"
    version = tuple(int(p) for p in re.findall(r"\d+", torch.__version__)[:2])
    if version >= tuple(int(p) for p in pytorch_names.TORCH_VERSION.split(".")[:2]):
        assert listed == modules, f"the table lists what torch.nn no longer has: {sorted(listed - modules)}"


def test_the_tables_entries_name_real_classes_and_real_netc_words():
    from netc.layers import pytorch_names as names

    classes = set(names.NN_MODULES)
    assert set(names.NETC_WORD) <= classes
    assert set(names.CLOSEST) <= classes
    assert set(names.CONTAINERS) <= classes
    for spelling, target in names.SPELLINGS.items():
        assert target in classes or target in names.OTHER_LAYERS, spelling
        assert lookup_word(spelling) is None, f"{spelling} is a netc word, so not a name for something netc lacks"
    for word in list(names.NETC_WORD.values()):
        assert lookup_word(word) is not None, word


# Each class netc is said to have, built from its netc word (with what the word needs after it) and
# found in the module netc makes.
SAME_CLASS = [
    ("Conv2d", "3-4", (3, 8, 8)), ("MaxPool2d", "", (3, 8, 8)), ("AvgPool2d", "", (3, 8, 8)),
    ("AdaptiveAvgPool2d", "(2)", (3, 8, 8)), ("BatchNorm2d", "", (3, 8, 8)), ("BatchNorm1d", "", (8,)),
    ("LocalResponseNorm", "", (3, 8, 8)), ("Upsample", "", (3, 8, 8)), ("ConvTranspose2d", "(4)", (3, 8, 8)),
    ("AdaptiveMaxPool2d", "(2)", (3, 8, 8)), ("InstanceNorm2d", "", (3, 8, 8)), ("ZeroPad2d", "(1)", (3, 8, 8)),
]


def test_netc_word_table_says_what_netc_builds():
    pytest.importorskip("torch")
    from torch import nn

    from netc.backends.codegen import build_module
    from netc.layers.pytorch_names import NETC_WORD

    for cls, after, shape in SAME_CLASS:
        module = build_module(analyze_expression(NETC_WORD[cls] + after, shape))
        assert any(type(m) is getattr(nn, cls) for m in module.modules()), cls
    # The two others compute the same as their class without being it (the next test).
    assert {cls for cls, _, _ in SAME_CLASS} | {"Softmax2d", "Unflatten"} == set(NETC_WORD)


def test_softmax_and_reshape_compute_what_softmax2d_and_unflatten_do():
    torch = pytest.importorskip("torch")
    from torch import nn

    from netc.backends.codegen import build_module
    from netc.layers.pytorch_names import NETC_WORD

    x = torch.randn(2, 4, 3, 3)
    softmax = build_module(analyze_expression(NETC_WORD["Softmax2d"], (4, 3, 3)))
    assert torch.allclose(softmax(x), nn.Softmax2d()(x))
    v = torch.randn(2, 36)
    reshape = build_module(analyze_expression(f"{NETC_WORD['Unflatten']}(4, 3, 3)", (36,)))
    assert torch.equal(reshape(v), nn.Unflatten(1, (4, 3, 3))(v))


# --- the README's table of layer words -----------------------------------------------------------------------
def _layer_table_script():
    spec = importlib.util.spec_from_file_location("layer_table", ROOT / "scripts" / "layer_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_layer_table_is_up_to_date():
    script = _layer_table_script()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert script.updated_readme(readme, script.table()) == readme, (
        "README.md's layer-word table is out of date: run python scripts/layer_table.py")


def test_readme_layer_table_lists_every_word_and_argument():
    table = _layer_table_script().table()
    for kind in KINDS.values():
        for word in kind.words:
            assert f"`{word}`" in table, word
        for attr in kind.attrs:
            if kind.words:
                assert f"`{attr.name}` (" in table, (kind.name, attr.name)


def test_every_defaults_section_in_the_table_is_one_a_spec_may_write():
    """Each row's section, with each argument set to the default the table prints, is accepted."""
    table = _layer_table_script().table()
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        section = cells[3].strip("`")
        if section == "—":
            continue
        values = {}
        for name, default in re.findall(r"`(\w+)` \(([^;)]+)", cells[1]):
            if default != "required" and not default.startswith("= "):  # = kernel: the default is another's value
                values[name] = default
        body = ", ".join(f"{k}: {v}" for k, v in values.items())
        build_program(load_yaml(f"input: [3, 8, 8]\nnetwork: relu\ndefaults: {{{section}: {{{body}}}}}\n", "s.yaml"))
