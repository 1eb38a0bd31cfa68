"""Jupyter and the HTML table (issue 14, part 3): `netc.analyze(...)` shows as its picture, its
`.table()` as HTML grouped by scope with a totals row; `netc table --format html` writes the same
table as a standalone page.

The HTML is read back with the standard library's html.parser and checked against the analysis's
own numbers (each layer's params, FLOPs, MACs; the totals), against the JSON table's rows, and for
ResNet-50's stage 1 against torchvision's `layer1` (215,808 parameters)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import netc
from netc.analysis.table import HEADER, _cells, table_rows
from netc.cli import main

ROOT = Path(__file__).resolve().parent.parent
RESNET50 = str(ROOT / "specs" / "resnet50.yaml")
SMALL = """\
name: small
input: [3, 32, 32]
blocks:
  res:
    args: [w]
    residual: conv(w, 3, bias=false)-bn-relu-conv(w, 3, bias=false)-bn
    after: relu
network: conv(16, 3)-relu - maxpool - res(16) - res(32) - conv(8, (7, 3)) - dropout(0.2) - fc(10) - softmax
"""
TAGS = {"html", "head", "meta", "title", "style", "body", "div", "table", "caption", "thead", "tbody", "tfoot",
        "tr", "th", "td", "span", "pre"}


class Rows(HTMLParser):
    """The table's rows: each a dict with the row's attributes and its cells' text; every tag seen."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.rows: list[dict] = []
        self.tags: list[str] = []
        self.cell: list[str] | None = None
        self.cell_attrs: dict = {}
        self.pre: list[str] | None = None
        self.summary = ""
        self.caption: list[str] | None = None
        self.caption_text = ""
        self.title: list[str] | None = None
        self.title_text = ""
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append({"attrs": attrs, "cells": [], "cell_attrs": []})
        elif tag in ("td", "th"):
            self.cell, self.cell_attrs = [], attrs
        elif tag == "pre":
            self.pre = []
        elif tag == "caption":
            self.caption = []
        elif tag == "title":
            self.title = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1]["cells"].append("".join(self.cell))
            self.rows[-1]["cell_attrs"].append(self.cell_attrs)
            self.cell = None
        elif tag == "pre":
            self.summary, self.pre = "".join(self.pre or []), None
        elif tag == "caption":
            self.caption_text, self.caption = "".join(self.caption or []), None
        elif tag == "title":
            self.title_text, self.title = "".join(self.title or []), None

    def handle_data(self, data):
        for sink in (self.cell, self.pre, self.caption, self.title):
            if sink is not None:
                sink.append(data)

    def of(self, kind: str) -> list[dict]:
        return [r for r in self.rows if kind in r["attrs"].get("class", "").split()]


def number(cell: str) -> int:
    return int(cell.replace(",", ""))


@pytest.fixture
def small(tmp_path: Path) -> str:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


def run_cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


# --- the numbers ------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["small", "resnet50"])
def test_every_layer_row_and_the_totals_are_the_analysis(spec, small):
    path = small if spec == "small" else RESNET50
    analysis = netc.analyze(path)
    parsed = Rows(analysis.table().html())
    layers = parsed.of("layer")
    json_layers = json.loads(analysis.table().render("json"))["layers"]
    assert [r["cells"][0] for r in layers] == [layer["name"] for layer in json_layers]
    assert [r["cells"] for r in parsed.of("header") or parsed.rows[:1]] == [list(HEADER)]
    for row in layers:
        info = analysis[row["cells"][0]]
        params, weights, activations, macs, flops = (number(c) for c in row["cells"][3:8])
        assert (params, weights, activations, macs, flops) == (info.params, info.weights, info.activations,
                                                               info.macs, info.flops), row["cells"][0]
        assert row["cells"][2] == "×".join(map(str, info.shape))
    assert sum(number(r["cells"][3]) for r in layers) == analysis.params
    assert sum(number(r["cells"][7]) for r in layers) == analysis.flops
    (total,) = parsed.of("total")
    assert total["cells"][0] == "total"
    assert [number(c) for c in total["cells"][3:8]] == [analysis.params, analysis.weights, analysis.activations,
                                                         analysis.macs, analysis.flops]
    assert parsed.caption_text == f"{analysis.network.name}: input " + "×".join(map(str, analysis.network.input_shape))
    assert f"params       {analysis.params:,}" in parsed.summary


def test_the_cells_are_the_text_tables_cells_and_compact_folds_the_same(small):
    analysis = netc.analyze(small)
    for compact in (False, True):
        layers = Rows(analysis.table(compact=compact).html()).of("layer")
        assert [r["cells"] for r in layers] == [list(_cells(r)) for r in table_rows(analysis, compact)]
    compact = Rows(analysis.table(compact=True).html()).of("layer")
    names = [r["cells"][0] for r in compact]
    assert "res1.bn1" not in names and "relu1" not in names
    conv = next(r for r in compact if r["cells"][0] == "res1.conv1")
    assert number(conv["cells"][3]) == 3 * 3 * 16 * 16 + 2 * 16  # its bn folded in, as `--compact` folds it
    assert sum(number(r["cells"][3]) for r in compact) == analysis.params
    (total,) = Rows(analysis.table(compact=True).html()).of("total")
    assert number(total["cells"][5]) == analysis.activations  # the notes' count, one volume per layer


def test_the_receptive_field_per_axis_where_the_axes_differ(small):
    analysis = netc.analyze(small)
    layers = {r["cells"][0]: r["cells"] for r in Rows(analysis.table().html()).of("layer")}
    rf = analysis["conv2"].receptive_field
    assert rf[0] != rf[1]
    assert layers["conv2"][8].startswith(f"{rf[0]}×{rf[1]}")  # the 7×3 conv: height × width
    assert layers["conv2"][1] == "conv7×3-8"


# --- grouping ---------------------------------------------------------------------------------------
def test_resnet50_groups_its_layers_under_stage_and_block_rows():
    analysis = netc.analyze(RESNET50)
    parsed = Rows(analysis.table().html())
    stages = [r for r in parsed.of("scope") if r["attrs"]["data-kind"] == "stage"]
    blocks = [r for r in parsed.of("scope") if r["attrs"]["data-kind"] == "block"]
    assert [r["cells"][0] for r in stages] == ["stage1", "stage2", "stage3", "stage4"]
    assert [r["cells"][0] for r in blocks][:4] == ["stage1.bottleneck1", "stage1.bottleneck2", "stage1.bottleneck3",
                                                   "stage2.bottleneck1"]
    assert len(blocks) == 3 + 4 + 6 + 3
    assert blocks[3]["cells"][1] == "bottleneck(128, 2)"
    assert {r["attrs"]["data-depth"] for r in stages} == {"0"} and {r["attrs"]["data-depth"] for r in blocks} == {"1"}
    # Each scope row comes right before its first layer, and the layers under it are deeper.
    rows = parsed.rows[1:]  # past the header
    for k, row in enumerate(rows):
        if "scope" not in row["attrs"]["class"]:
            continue
        name = row["cells"][0]
        following = next(r for r in rows[k + 1:] if "layer" in r["attrs"]["class"])
        assert following["cells"][0].startswith(name + ".")
        inside = [n for n in analysis.network.order if n.startswith(name + ".")]
        assert number(row["cells"][3]) == sum(analysis[n].params for n in inside), name
        assert number(row["cells"][7]) == sum(analysis[n].flops for n in inside), name
        assert row["cells"][2] == "×".join(map(str, analysis[analysis.network.scopes[name].exit].shape))
    depth_of = {r["cells"][0]: int(r["attrs"]["data-depth"]) for r in parsed.of("layer")}
    assert depth_of["conv1"] == 0 and depth_of["fc1"] == 0
    assert depth_of["stage3.bottleneck2.conv1"] == 2
    assert number(stages[0]["cells"][3]) == 215_808  # torchvision's resnet50.layer1


# --- escaping ---------------------------------------------------------------------------------------
HOSTILE = "<script>alert('x')</script>"


def _doctored(small: str):
    """The small network with hostile text wherever spec text reaches the table: the network's
    name, a block's call, a layer's label and a warning. (The front end refuses such names, see
    below; the renderer escapes them anyway.)"""
    from netc.backends.notebook import NotebookAnalysis

    analysis = netc.analyze(small)
    network = analysis.network
    scopes = dict(network.scopes)
    scopes["res1"] = dataclasses.replace(scopes["res1"], label=f'res(16) "{HOSTILE}" & <img src=x onerror=alert(1)>')
    info = dict(analysis.info)
    info["conv1"] = dataclasses.replace(info["conv1"], label=f"conv{HOSTILE}", warnings=(f'"><{HOSTILE}',))
    network = dataclasses.replace(network, name=HOSTILE, scopes=scopes)
    return NotebookAnalysis.of(dataclasses.replace(analysis, network=network, info=info))


def test_hostile_names_are_escaped(small):
    analysis = _doctored(small)
    for text in (analysis.table().html(), analysis.table()._repr_html_()):
        parsed = Rows(text)
        assert set(parsed.tags) <= TAGS, set(parsed.tags) - TAGS  # no <script>, no <img>
        assert "<script>" not in text and "<img" not in text
        scope = next(r for r in parsed.of("scope") if r["cells"][0] == "res1")
        assert scope["cells"][1] == f'res(16) "{HOSTILE}" & <img src=x onerror=alert(1)>'  # the text, as text
        conv = next(r for r in parsed.of("layer") if r["cells"][0] == "conv1")
        assert conv["cells"][1] == f"conv{HOSTILE} !"
        assert conv["cell_attrs"][1]["title"] == f'"><{HOSTILE}'  # the warning, quotes and all, in its attribute
        assert parsed.caption_text.startswith(HOSTILE)
    assert Rows(analysis.table().html()).title_text == f"{HOSTILE} — netc table"


@pytest.mark.parametrize("yaml_text", [
    'name: t\ninput: [3, 8, 8]\nblocks: {"<script>": relu}\nnetwork: "<script>"\n',
    'name: t\ninput: [3, 8, 8]\nnetwork: relu\nheads: {"<script>x": fc(2)}\n',
    'name: "<script>"\ninput: [3, 8, 8]\nnetwork: relu\n',
])
def test_a_hostile_name_in_a_spec_is_refused_before_any_html(tmp_path, yaml_text):
    spec, out = tmp_path / "hostile.yaml", tmp_path / "x.html"
    spec.write_text(yaml_text)
    code, _, stderr = run_cli("table", spec, "--format", "html", "-o", out)
    assert code == 1 and "Traceback" not in stderr and "error:" in stderr
    assert not out.exists()


# --- the command line writes the same page ------------------------------------------------------------
def test_netc_table_format_html_writes_the_apis_document(tmp_path, small):
    out = tmp_path / "x.html"
    for spec in (small, RESNET50):
        code, _, err = run_cli("table", spec, "--format", "html", "-o", out)
        assert code == 0, err
        assert out.read_text(encoding="utf-8") == netc.analyze(spec).table().html()
    code, stdout, err = run_cli("table", small, "--format", "html", "--compact", "--batch", "8", "--dtype", "float16",
                                "--optimizer", "adam")
    assert code == 0, err
    expected = netc.analyze(small).table(compact=True, batch=8, dtype="float16", optimizer="adam").html()
    assert stdout == expected
    assert expected.startswith("<!DOCTYPE html>") and "<style>" in expected and expected.endswith("</html>\n")
    assert "batch 8, float16, adam" in Rows(expected).summary


def test_the_notebook_fragment_is_the_documents_table(small):
    table = netc.analyze(small).table()
    fragment, document = table._repr_html_(), table.html()
    assert "<html" not in fragment and fragment.startswith('<div class="netc-table">') and "<style>" in fragment
    assert Rows(fragment).rows == Rows(document).rows
    assert str(table) == table.render("text") == netc.analyze(small).table().render()
    assert repr(table).startswith("small: input 3×32×32")


def test_table_arguments_are_checked():
    analysis = netc.analyze(RESNET50)
    for bad in ({"batch": 0}, {"batch": "8"}, {"dtype": "int8"}, {"optimizer": "lion"}):
        with pytest.raises(netc.UsageError):
            analysis.table(**bad)
    with pytest.raises(netc.UsageError, match="format"):
        analysis.table().render("xml")


# --- the picture --------------------------------------------------------------------------------------
@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_the_analysis_shows_as_its_picture(small):
    svg = netc.analyze(small)._repr_svg_()
    assert svg is not None and "<svg" in svg and "res1" in svg


def test_without_graphviz_the_analysis_shows_one_line(small, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    analysis = netc.analyze(small)
    assert analysis._repr_svg_() is None  # Jupyter then shows text/plain: the repr
    assert repr(analysis) == (f"<netc analysis small: {len(analysis.info) - 1} layers, {analysis.params:,} params, "
                              f"{analysis.flops / 1e9:.2f} GFLOPs, output 10>")
    assert analysis.table()._repr_html_()  # the table needs no Graphviz


def test_the_notebook_path_imports_no_torch(small):
    script = ("import sys, netc\n"
              f"a = netc.analyze({small!r})\n"
              "a.table()._repr_html_(); a.table(compact=True).html(); repr(a)\n"
              "assert 'torch' not in sys.modules, 'torch imported'\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": ""}  # no dot: _repr_svg_ not asked
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
