"""The Graphviz picture: nodes, edges, labels and clusters checked against what the analysis says.

The DOT text is parsed here independently (a small tokenizer for DOT statements) and compared with
the analysis: one node per layer, each label holding the layer's notation and its parameter count,
each edge labelled with its producer's output shape, one cluster per block. With `dot` installed,
the SVG is parsed as XML; the missing-`dot` path is run in a subprocess whose PATH has no `dot`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import netc
from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.backends.drawing import render_to_path, to_digraph
from netc.errors import NetcError, UsageError

ROOT = Path(__file__).resolve().parent.parent
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz `dot` is not installed")


# --- an independent reader for the DOT text -------------------------------------------------------
def _tokens(line: str) -> list[str]:
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if c.isspace():
            i += 1
        elif c == '"':
            j = i + 1
            while line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            out.append(line[i:j + 1])
            i = j + 1
        elif c == "<":  # an HTML-like string: balanced angle brackets
            depth, j = 0, i
            while True:
                depth += {"<": 1, ">": -1}.get(line[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(line[i:j])
            i = j
        elif line.startswith("->", i):
            out.append("->")
            i += 2
        elif c in "{}[]=;,":
            out.append(c)
            i += 1
        else:
            m = re.match(r"[^\s{}\[\]=;,\"<]+", line[i:])
            out.append(m.group(0))
            i += len(m.group(0))
    return out


def _unquote(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r'\\(.)', r"\1", token[1:-1])
    return token


def _attrs(tokens: list[str]) -> dict[str, str]:
    attrs, k = {}, 0
    while k < len(tokens):
        if k + 2 < len(tokens) and tokens[k + 1] == "=":
            attrs[tokens[k]] = _unquote(tokens[k + 2])
            k += 3
        else:
            k += 1
    return attrs


@dataclass
class Dot:
    nodes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    clusters: dict[str, dict[str, str]] = field(default_factory=dict)  # name → its attributes
    parent: dict[str, str] = field(default_factory=dict)  # node or cluster → enclosing cluster ("" top)
    graph: dict[str, str] = field(default_factory=dict)

    def edge(self, src: str, dst: str) -> dict[str, str]:
        found = [a for s, d, a in self.edges if (s, d) == (src, dst)]
        assert len(found) == 1, f"{src} -> {dst}: {len(found)} edges"
        return found[0]

    def into(self, dst: str) -> list[str]:
        return [s for s, d, _ in self.edges if d == dst]

    def out_of(self, src: str) -> list[str]:
        return [d for s, d, _ in self.edges if s == src]

    def cluster_of(self, name: str) -> str:
        return self.parent[name]


def parse_dot(source: str) -> Dot:
    dot, stack = Dot(), []
    for line in source.splitlines():
        tokens = _tokens(line)
        if not tokens:
            continue
        if tokens[0] in ("digraph", "subgraph"):
            name = _unquote(tokens[1]) if tokens[0] == "subgraph" else ""
            if name:
                dot.clusters[name] = {}
                dot.parent[name] = stack[-1] if stack else ""
            stack.append(name)
        elif tokens == ["}"]:
            stack.pop()
        elif tokens[0] in ("graph", "node", "edge") and tokens[1] == "[":
            if tokens[0] == "graph" and len(stack) == 1:
                dot.graph = _attrs(tokens[2:-1])
        elif len(tokens) > 1 and tokens[1] == "=":  # attributes of the enclosing (sub)graph
            dot.clusters[stack[-1]].update(_attrs(tokens))
        elif len(tokens) > 2 and tokens[1] == "->":
            dot.edges.append((_unquote(tokens[0]), _unquote(tokens[2]), _attrs(tokens[3:])))
        else:
            name = _unquote(tokens[0])
            assert name not in dot.nodes, f"node {name} declared twice"
            dot.nodes[name] = _attrs(tokens[1:])
            dot.parent[name] = stack[-1]
    return dot


# --- independent formatting of the analysis' numbers -----------------------------------------------
def shape_text(shape) -> str:
    return "×".join(str(d) for d in shape)


def params_text(count: int) -> str:
    return f"{count:,} param" + ("s" if count != 1 else "")


def visible(label: str) -> str:
    """The text of an HTML-like label, tags dropped and entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]*>", " ", label[1:-1] if label.startswith("<") else label))


def spec(tmp_path: Path, text: str, name: str = "net.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return analyze_file(str(path))


def dot_of(analysis, **options) -> Dot:
    return parse_dot(to_digraph(analysis, **options).source)


SINK = "output output"

RESIDUAL = """
name: resblocks
input: [16, 32, 32]
blocks:
  res:
    args: {c: null, stride: 1}
    residual: conv(c, 3, stride=stride, bias=false)-bn-relu-conv(c, 3, bias=false)-bn
    shortcut: auto
    after: relu
network: "conv3-16-relu - [res(16)*3] - [res(32, stride=2)-res(32)*2] - globalavgpool-fc(10)"
"""

INCEPTION = """
name: tiny_inception
input: [3, 32, 32]
blocks:
  inception:
    args: [c1, r3, c3, pp]
    parallel:
      - conv(c1, 1)-relu
      - conv(r3, 1)-relu-conv(c3, 3)-relu
      - maxpool(3, stride=1, padding=1)-conv(pp, 1)-relu
network: conv3-32-relu-inception(8, 4, 16, 8)-inception(16, 8, 24, 8)-globalavgpool-fc(10)-softmax
"""


# --- nodes, edges, labels ----------------------------------------------------------------------------
def test_one_node_per_layer_with_notation_and_params_and_shapes_on_edges():
    analysis = analyze_expression("conv3-64-relu-maxpool-conv(128, 3, stride=2)-bn-relu-FC-4096-dropout-FC-10",
                                  (3, 32, 32))
    dot = dot_of(analysis)
    layers = analysis.network.order
    assert set(dot.nodes) == set(layers) | {SINK}
    for node_id in layers:
        info = analysis[node_id]
        text = visible(dot.nodes[node_id]["label"])
        assert info.label in text
        if info.params:
            assert params_text(info.params) in text
        else:
            assert "param" not in text
    expected = {(src, n) for n in layers for src in analysis.network.node(n).inputs}
    expected.add((layers[-1], SINK))
    assert {(s, d) for s, d, _ in dot.edges} == expected
    assert len(dot.edges) == len(expected)
    for src, dst, attrs in dot.edges:
        assert attrs["label"] == shape_text(analysis[src].shape)
    # the lecture notes' notation
    labels = [analysis[n].label for n in layers]
    assert "conv3-64" in labels and "FC-4096" in labels and "maxpool2" in labels and "conv3-128 /2" in labels
    assert "3×32×32" in visible(dot.nodes["input"]["label"])  # the input's shape has no edge to sit on


def test_colour_by_kind_category_and_merges_are_ovals(tmp_path):
    from netc.layers import CATEGORY_COLORS, KINDS

    analysis = spec(tmp_path, RESIDUAL)
    dot = dot_of(analysis)
    categories = set()
    for node_id in analysis.network.order:
        if node_id not in dot.nodes:
            continue
        category = KINDS[analysis.network.node(node_id).kind].category
        categories.add(category)
        assert dot.nodes[node_id]["fillcolor"] == CATEGORY_COLORS[category]
        assert (dot.nodes[node_id].get("shape") == "oval") == (category == "merge")
    assert {"conv", "pool", "fc", "activation", "norm", "merge", "input"} <= categories
    assert len({CATEGORY_COLORS[c] for c in categories}) == len(categories)


def test_inception_branches_side_by_side_into_concat(tmp_path):
    analysis = spec(tmp_path, INCEPTION)
    network = analysis.network
    dot = dot_of(analysis)
    blocks = [s for s in network.scopes.values() if s.kind == "block"]
    assert len(blocks) == 2
    for block in blocks:
        cluster = f"cluster_{block.id}"
        assert block.label in visible(dot.clusters[cluster]["label"])
        branches = [s for s in network.scopes.values() if s.parent == block.id and s.kind == "branch"]
        assert len(branches) == 3
        concat = block.exit
        # each branch is its own (frameless) cluster inside the block's cluster
        branch_clusters = {dot.cluster_of(b.exit) for b in branches}
        assert len(branch_clusters) == 3
        assert all(dot.cluster_of(c) == cluster for c in branch_clusters)
        assert sorted(dot.into(concat)) == sorted(b.exit for b in branches)
        for b in branches:
            assert dot.edge(b.exit, concat)["label"] == shape_text(analysis[b.exit].shape)
        # every branch starts from the block's input
        firsts = [n for n in dot.out_of(block.entry)]
        assert len(firsts) == 3
    assert len(dot.nodes) == len(network.order) + 1


def test_residual_skip_edges_projection_and_identity(tmp_path):
    analysis = spec(tmp_path, RESIDUAL)
    network = analysis.network
    dot = dot_of(analysis)
    shortcuts = [n for n in network.order if network.node(n).shape_only]
    identity = [n for n in shortcuts if analysis[n].params == 0 and not analysis[n].new_tensor]
    projections = [n for n in shortcuts if n not in identity]
    assert len(identity) == 5 and len(projections) == 1
    # identity shortcuts are not nodes; they are plain skip edges from the block input into the add
    assert set(dot.nodes) == (set(network.order) - set(identity)) | {SINK}
    for node_id in identity:
        block = network.scopes[network.node(node_id).scope]
        add = next(n for n in network.order if node_id in network.node(n).inputs)
        skip = dot.edge(block.entry, add)
        assert skip["label"] == shape_text(analysis[block.entry].shape)
        assert skip["color"] != dot.edge(network.node(add).inputs[0], add).get("color")
    # a projection draws only its data edge (block input → projection), never the shape-only one
    (projection,) = projections
    node = network.node(projection)
    assert dot.into(projection) == [node.inputs[0]]
    assert params_text(analysis[projection].params) in visible(dot.nodes[projection]["label"])
    add = next(n for n in network.order if projection in network.node(n).inputs)
    assert dot.edge(projection, add)["label"] == shape_text(analysis[projection].shape)
    # every add has exactly two incoming edges: body and shortcut
    for n in network.order:
        if network.node(n).kind == "add":
            assert len(dot.into(n)) == 2


def test_blocks_and_stages_are_labelled_clusters_with_totals(tmp_path):
    analysis = spec(tmp_path, RESIDUAL)
    network = analysis.network
    dot = dot_of(analysis)
    for scope in network.scopes.values():
        cluster = f"cluster_{scope.id}"
        assert cluster in dot.clusters
        parent = f"cluster_{scope.parent}" if scope.parent else ""
        assert dot.cluster_of(cluster) == parent
        text = visible(dot.clusters[cluster]["label"])
        total = sum(analysis[n].params for n in network.order if n.startswith(scope.id + "."))
        assert f"{total:,}" in text
        assert (scope.label if scope.kind == "block" else scope.id) in text
    for node_id in dot.nodes:
        if node_id in network.order:
            scope = network.node(node_id).scope
            assert dot.cluster_of(node_id) == (f"cluster_{scope}" if scope else "")


def test_several_heads_are_several_sinks(tmp_path):
    analysis = spec(tmp_path, """
name: two_heads
input: [3, 32, 32]
network: conv3-32-relu-maxpool-<features>-conv3-64-relu-maxpool
heads:
  scores: FC-10-softmax
  boxes: {from: features, body: "conv(4, 1)-flatten-fc(40)"}
""")
    dot = dot_of(analysis)
    sinks = [n for n in dot.nodes if not dot.out_of(n)]
    assert sorted(sinks) == ["output boxes", "output scores"]
    for name, node_id in analysis.network.outputs:
        assert dot.into(f"output {name}") == [node_id]
        assert dot.edge(node_id, f"output {name}")["label"] == shape_text(analysis[node_id].shape)
    pool = analysis.network.node("pool1")
    assert len(dot.out_of(pool.id)) == 2  # the mark <features> branches


def test_warnings_are_highlighted_on_their_nodes():
    analysis = analyze_expression("conv(8, 3, stride=2, padding=0)-relu-conv3-8-maxpool(3, stride=2)", (3, 32, 32))
    dot = dot_of(analysis)
    warned = {n for n in analysis.network.order if analysis[n].warnings}
    assert warned == {"conv1"}
    for node_id in analysis.network.order:
        attrs = dot.nodes[node_id]
        assert (attrs.get("color") == "#d62728") == (node_id in warned)
        assert ("doesn't fit" in visible(attrs["label"])) == (node_id in warned)
    assert "doesn't fit" in dot.nodes["conv1"]["tooltip"]


# --- folding and rolling ------------------------------------------------------------------------------
def _block_totals(analysis, scope_id: str) -> tuple[int, int]:
    members = [n for n in analysis.network.order if n.startswith(scope_id + ".")]
    return len(members), sum(analysis[n].params for n in members)


def test_depth_folds_deeper_scopes_into_one_node_with_totals(tmp_path):
    analysis = spec(tmp_path, RESIDUAL)
    network = analysis.network
    for depth, level in ((0, 1), (1, 2)):
        dot = dot_of(analysis, depth=depth)
        folded = [s for s in network.scopes.values() if s.id.count(".") + 1 == level]
        assert folded
        for scope in folded:
            assert scope.id in dot.nodes
            text = visible(dot.nodes[scope.id]["label"])
            count, params = _block_totals(analysis, scope.id)
            assert f"{count} layers" in text and params_text(params) in text
            assert shape_text(analysis[scope.exit].shape) in text
            out = [a["label"] for s, d, a in dot.edges if s == scope.id]
            assert out == [shape_text(analysis[scope.exit].shape)]
        inside = [n for n in dot.nodes if any(n.startswith(s.id + ".") for s in folded)]
        assert inside == []
        shallower = [s for s in network.scopes.values() if s.id.count(".") + 1 < level]
        assert {f"cluster_{s.id}" for s in shallower} == set(dot.clusters) - {""}
    # depth 0: the whole residual network is a chain of top-level items
    dot = dot_of(analysis, depth=0)
    assert dot.out_of("relu1") == ["stage1"] and dot.out_of("stage1") == ["stage2"]
    assert dot.edge("stage1", "stage2")["label"] == "16×32×32"
    assert dot.edge("stage2", "adaptiveavgpool1")["label"] == "32×16×16"


def test_depth_on_googlenet_folds_inception_branches(tmp_path):
    analysis = analyze_file(str(ROOT / "specs" / "googlenet.yaml"))
    network = analysis.network
    dot = dot_of(analysis, depth=1)
    inceptions = [s for s in network.scopes.values() if s.block == "inception" and not s.parent]
    assert len(inceptions) == 9
    for block in inceptions:
        branches = [s for s in network.scopes.values() if s.parent == block.id]
        assert len(branches) == 4
        assert sorted(dot.into(block.exit)) == sorted(b.id for b in branches)
        assert all(dot.cluster_of(b.id) == f"cluster_{block.id}" for b in branches)
    assert len(dot.nodes) < 80


def test_roll_draws_identical_blocks_once_with_a_badge(tmp_path):
    analysis = spec(tmp_path, RESIDUAL)
    full, rolled = dot_of(analysis), dot_of(analysis, roll=True)
    # stage1: res(16) ×3 all identical; stage2: res(32, 2) then res(32) ×2
    assert "×3" in visible(rolled.clusters["cluster_stage1.res1"]["label"])
    assert "cluster_stage1.res2" not in rolled.clusters and "cluster_stage1.res3" not in rolled.clusters
    assert "×" not in visible(rolled.clusters["cluster_stage2.res1"]["label"]).replace("32×", "")
    assert "×2" in visible(rolled.clusters["cluster_stage2.res2"]["label"])
    assert "cluster_stage2.res3" not in rolled.clusters
    assert len(rolled.nodes) < len(full.nodes)
    # the run is still connected: its leader's output feeds what followed the last repetition
    assert rolled.edge("stage1.res1.relu2", "stage2.res1.conv1")["label"] == "16×32×32"
    assert rolled.edge("stage2.res2.relu2", "adaptiveavgpool1")["label"] == "32×16×16"
    # folded and rolled: one node with the badge and the per-block totals
    dot = dot_of(analysis, depth=1, roll=True)
    text = visible(dot.nodes["stage1.res1"]["label"])
    _, params = _block_totals(analysis, "stage1.res2")
    assert "×3" in text and f"{params:,} params each" in text
    assert "stage1.res2" not in dot.nodes


def test_roll_keeps_blocks_that_differ(tmp_path):
    analysis = spec(tmp_path, INCEPTION)
    assert to_digraph(analysis, roll=True).source == to_digraph(analysis).source


# --- determinism, options, errors ---------------------------------------------------------------------
def test_same_spec_same_dot_text(tmp_path):
    for text in (RESIDUAL, INCEPTION):
        a = spec(tmp_path, text, "a.yaml")
        b = spec(tmp_path, text, "a.yaml")
        for options in ({}, {"depth": 1}, {"roll": True}, {"rankdir": "LR"}):
            assert to_digraph(a, **options).source == to_digraph(b, **options).source


def test_options_and_bad_options(tmp_path):
    analysis = spec(tmp_path, INCEPTION)
    assert dot_of(analysis, rankdir="LR").graph["rankdir"] == "LR"
    with pytest.raises(UsageError, match="depth"):
        to_digraph(analysis, depth=-1)
    with pytest.raises(UsageError, match="rankdir"):
        to_digraph(analysis, rankdir="XY")
    with pytest.raises(UsageError, match=r"\.svg, \.png, \.pdf or \.dot"):
        render_to_path(analysis, str(tmp_path / "net.jpg"))
    assert not (tmp_path / "net.jpg").exists()


def test_api_render_returns_a_digraph(tmp_path):
    import graphviz

    path = tmp_path / "inc.yaml"
    path.write_text(INCEPTION)
    import netc.backends.drawing  # the drawing package's name must not shadow the function netc.render

    graph = netc.render(str(path), depth=0, rankdir="LR")
    assert isinstance(graph, graphviz.Digraph)
    dot = parse_dot(graph.source)
    assert "inception1" in dot.nodes and dot.graph["rankdir"] == "LR"


def test_dot_file_needs_no_graphviz_and_is_the_digraph_source(tmp_path, monkeypatch):
    analysis = spec(tmp_path, INCEPTION)
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "net.dot"
    render_to_path(analysis, str(out))
    assert out.read_text() == to_digraph(analysis).source
    with pytest.raises(NetcError, match="Graphviz"):
        render_to_path(analysis, str(tmp_path / "net.svg"))
    assert not (tmp_path / "net.svg").exists()
    assert netc.analyze(str(tmp_path / "net.yaml"))._repr_svg_() is None  # Jupyter falls back to the plain repr


def test_unwritable_target_is_a_one_line_usage_error_as_for_tables(tmp_path):
    spec_path = tmp_path / "inc.yaml"
    spec_path.write_text(INCEPTION, encoding="utf-8")
    target = tmp_path / "missing" / "net.dot"
    done = _cli(["render", str(spec_path), "-o", str(target)], tmp_path, os.environ.get("PATH", ""))
    assert done.returncode == 2 and not target.exists()
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("netc: error:")
    assert f"{target}: cannot write: no such directory" in done.stderr and ".netc-" not in done.stderr


def _cli(args, cwd, path_env):
    env = {**os.environ, "PATH": path_env, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_without_dot_fails_in_one_line_and_dot_output_still_works(tmp_path):
    spec_path = tmp_path / "inc.yaml"
    spec_path.write_text(INCEPTION)
    empty = tmp_path / "bin"
    empty.mkdir()
    for ext in ("png", "svg", "pdf"):
        target = tmp_path / f"net.{ext}"
        result = _cli(["render", str(spec_path), "-o", str(target)], tmp_path, str(empty))
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert "Graphviz" in lines[0] and "-o net.dot" in lines[0] and "install" in lines[0]
        assert not target.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".netc-")] == []
    result = _cli(["render", str(spec_path), "-o", str(tmp_path / "net.dot"), "--depth", "1"], tmp_path, str(empty))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "net.dot").read_text().startswith("digraph tiny_inception {")


def test_cli_unknown_format_is_a_usage_error(tmp_path):
    spec_path = tmp_path / "inc.yaml"
    spec_path.write_text(INCEPTION)
    result = _cli(["render", str(spec_path), "-o", str(tmp_path / "net.jpg")], tmp_path, os.environ["PATH"])
    assert result.returncode == 2
    message = (f"netc: error: cannot tell the picture format from {str(tmp_path / 'net.jpg')!r}: "
               "name the file .svg, .png, .pdf or .dot")
    assert result.stderr.strip().splitlines() == [message]


def test_render_never_imports_torch(tmp_path):
    code = ("import sys, netc; from netc.backends.drawing import to_digraph; "
            "to_digraph(netc.analyze('specs/googlenet.yaml'), depth=1).source; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr


# --- with Graphviz installed --------------------------------------------------------------------------
@needs_dot
def test_svg_parses_and_names_every_layer(tmp_path):
    analysis = spec(tmp_path, RESIDUAL)
    out = tmp_path / "net.svg"
    render_to_path(analysis, str(out))
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    titles = {el.text for el in root.iter() if el.tag.endswith("title")}
    identity = {n for n in analysis.network.order
                if analysis.network.node(n).shape_only and analysis[n].params == 0}
    for node_id in analysis.network.order:
        if node_id not in identity:
            assert node_id in titles
    svg_text = out.read_text()
    for node_id in analysis.network.order:
        assert analysis[node_id].label.replace("-", "&#45;") in svg_text or analysis[node_id].label in svg_text
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".netc-")] == []


@needs_dot
def test_png_pdf_and_jupyter_svg(tmp_path):
    analysis = spec(tmp_path, INCEPTION)
    render_to_path(analysis, str(tmp_path / "net.png"), depth=0)
    render_to_path(analysis, str(tmp_path / "net.pdf"), rankdir="LR")
    assert (tmp_path / "net.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "net.pdf").read_bytes().startswith(b"%PDF")
    svg = netc.analyze(str(tmp_path / "net.yaml"))._repr_svg_()
    assert ET.fromstring(svg.encode()).tag.endswith("svg")


@needs_dot
@pytest.mark.parametrize("name", ["googlenet", "resnet50"])
def test_zoo_specs_render_and_parse(tmp_path, name):
    analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"))
    for options in ({}, {"depth": 1, "roll": True}):
        out = tmp_path / f"{name}.svg"
        render_to_path(analysis, str(out), **options)
        titles = {el.text for el in ET.parse(out).getroot().iter() if el.tag.endswith("title")}
        assert "input" in titles and analysis.network.outputs[0][1] in titles


def test_a_picture_too_large_for_graphviz_is_refused_with_the_ways_out(tmp_path, monkeypatch):
    from netc.backends.drawing import output

    spec_path = tmp_path / "long.yaml"
    spec_path.write_text("input: [3, 8, 8]\nnetwork: (cbr)*30\nblocks:\n  cbr: conv(4, 3)-bn-relu\n", encoding="utf-8")
    analysis = analyze_file(str(spec_path))
    monkeypatch.setattr(output, "MAX_LAYOUT_NODES", 50)
    monkeypatch.setenv("PATH", str(tmp_path))  # refused before dot is looked for
    with pytest.raises(NetcError) as caught:
        render_to_path(analysis, str(tmp_path / "long.svg"))
    text = str(caught.value)
    assert "the picture would draw 92 nodes" in text and "the limit is 50" in text
    assert "--depth 0" in text and "--roll" in text and "-o long.dot" in text
    assert not (tmp_path / "long.svg").exists()
    render_to_path(analysis, str(tmp_path / "long.dot"))  # the DOT text has no cap
    render_to_path(analysis, str(tmp_path / "folded.dot"), depth=0)
    assert output.drawn_nodes(to_digraph(analysis, depth=0)) == 32  # input, 30 folded blocks, the output


def test_the_cli_refuses_an_oversized_layout_in_a_message_and_a_hint(tmp_path):
    spec_path = tmp_path / "long.yaml"
    spec_path.write_text("input: [3, 8, 8]\nnetwork: (relu)*2500\n", encoding="utf-8")
    done = _cli(["render", str(spec_path), "-o", str(tmp_path / "long.svg")], tmp_path, os.environ.get("PATH", ""))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    first, hint = done.stderr.strip().splitlines()
    assert first == (f"error: cannot write {tmp_path / 'long.svg'}: the picture would draw 2,502 nodes, more than "
                     "Graphviz lays out in reasonable time (the limit is 2,000)")
    assert hint.startswith("  hint: fold stages and blocks into one node each with --depth 0")
    assert not (tmp_path / "long.svg").exists()


def test_dot_is_stopped_after_its_timeout(tmp_path, monkeypatch):
    from netc.backends.drawing import output

    slow = tmp_path / "dot"
    slow.write_text("#!/bin/sh\nexec /bin/sleep 30\n", encoding="utf-8")
    slow.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(output, "DOT_TIMEOUT", 0.5)
    analysis = analyze_expression("conv3-8-relu", (3, 8, 8))
    with pytest.raises(NetcError, match=r"dot did not finish laying out 4 nodes in 0\.5 s"):
        render_to_path(analysis, str(tmp_path / "net.svg"))
    assert not (tmp_path / "net.svg").exists()


def test_fast_statements_write_the_bytes_graphviz_writes():
    """netc/backends/drawing/statements.py writes node and edge lines itself, for speed: the same bytes as
    graphviz's own Digraph.node and .edge for names and values that need quoting, HTML labels,
    ports, None values and attributes out of order."""
    import graphviz

    from netc.backends.drawing.statements import add_edge, add_node

    cases = [
        ("conv1", {"label": "<<b>conv</b> 3×3>", "fillcolor": "#ffffff", "class": "conv"}),
        ("stage1.block 2", {"label": 'say "hi"\\n', "tooltip": "a\nb", "penwidth": None, "shape": "box"}),
        ("node", {}),  # a DOT keyword as a name
        ("output out", {"label": "<<b>out</b>>", "shape": "oval", "margin": "0.05,0.02"}),
        ("ünïcode", {"label": "→ 3×224×224", "z": "1", "a": "2"}),
    ]
    theirs, ours = graphviz.Digraph(), graphviz.Digraph()
    for name, attrs in cases:
        theirs.node(name, **attrs)
        add_node(ours, name, **attrs)
    for (tail, _), (head, attrs) in zip(cases, cases[1:]):
        theirs.edge(tail, head, **attrs)
        add_edge(ours, tail, head, **attrs)
    theirs.edge("a:p1:n", "b c", label="1×2")
    add_edge(ours, "a:p1:n", "b c", label="1×2")
    assert ours.source == theirs.source
    assert len(ours.body) == len(cases) * 2


def test_fast_subgraphs_write_the_bytes_graphviz_writes():
    """netc/backends/drawing/statements.py writes clusters itself (graphviz's subgraph() copies the parent's
    body on every call): the same bytes as graphviz's own, nested, with graph attributes."""
    import graphviz

    from netc.backends.drawing.statements import add_edge, add_node, subgraph

    theirs, ours = graphviz.Digraph(), graphviz.Digraph()
    with theirs.subgraph(name="cluster_stage1") as outer:
        outer.attr(label="stage 1", style="rounded,filled", fillcolor="#eeeeee", penwidth=None)
        with outer.subgraph(name="cluster_stage1.block 1") as inner:
            inner.attr(label="", peripheries="0")
            inner.node("stage1.conv1", label="<<b>conv</b>>", tooltip=graphviz.nohtml('a "q"\\nb'))
        outer.edge("stage1.conv1", "x y", label="3×8×8")
    with subgraph(ours, "cluster_stage1") as outer:
        outer.attr(label="stage 1", style="rounded,filled", fillcolor="#eeeeee", penwidth=None)
        with subgraph(outer, "cluster_stage1.block 1") as inner:
            inner.attr(label="", peripheries="0")
            add_node(inner, "stage1.conv1", label="<<b>conv</b>>", tooltip=graphviz.nohtml('a "q"\\nb'))
        add_edge(outer, "stage1.conv1", "x y", label="3×8×8")
    assert ours.source == theirs.source


@needs_dot
def test_a_cluster_without_parameters_renders(tmp_path):
    """A stage of pools and a head of activations hold no parameters: their cluster labels carry no
    counts line, which Graphviz 2.43 would refuse as an empty <font></font>."""
    analysis = spec(tmp_path, """
name: no_params
input: [3, 32, 32]
network:
  - conv3-8-relu - <y>
  - "[maxpool - avgpool(2)]"
heads:
  y2: {from: y, body: "maxpool-relu"}
  main: globalavgpool-fc(10)
""")
    dot = to_digraph(analysis).source
    assert "></font>" not in dot
    out = tmp_path / "no_params.svg"
    render_to_path(analysis, str(out))
    titles = {el.text for el in ET.parse(out).getroot().iter() if el.tag.endswith("title")}
    assert "cluster_y2" in titles


def test_dot_failing_shows_its_whole_message(tmp_path, monkeypatch):
    failing = tmp_path / "dot"
    failing.write_text("#!/bin/sh\n/bin/cat >/dev/null\nprintf 'Error: syntax error in line 1 \\n... <font></font> ...\\n"
                       "in label of graph cluster_y2\\n' >&2\nexit 1\n", encoding="utf-8")
    failing.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(NetcError) as caught:
        render_to_path(analyze_expression("conv3-8-relu", (3, 8, 8)), str(tmp_path / "net.svg"))
    assert str(caught.value) == (f"error: cannot write {tmp_path / 'net.svg'}: dot failed: Error: syntax error in line 1 "
                                 "... <font></font> ... in label of graph cluster_y2")
    assert not (tmp_path / "net.svg").exists()
