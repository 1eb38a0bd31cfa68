"""Block templates (netc/graph/templates.py): a block expanded once with its arguments as expressions is,
evaluated at each instance's arguments, exactly that instance's part of the network.

This is the proof that a generic class (written from the template alone) is what the analysis
analysed: for every block instance of every zoo spec and every small spec of test_codegen.py, the
template corresponds to the instance node for node. A template that differs in a kind, an
attribute, an input, a repeat count or a scope is refused, so the check can fail.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_codegen import CASES, SMALL

from netc.analysis.pipeline import analyze_file
from netc.frontend.symbolic import Sym, Var
from netc.graph.ir import ScopeKind
from netc.graph.templates import NotGeneric, TemplateMismatch, correspond

ROOT = Path(__file__).resolve().parents[1]


def _analysis(case: str, params: dict, tmp_path: Path):
    where, name = case.split(":", 1)
    if where == "zoo":
        return analyze_file(str(ROOT / "specs" / f"{name}.yaml"), params or None)
    path = tmp_path / f"{name}.yaml"
    path.write_text(SMALL[name].lstrip(), encoding="utf-8")
    return analyze_file(str(path), params or None)


def _template(analysis, scope_id: str):
    """The template with every numeric argument symbolic (words fixed), less the arguments the
    expander says must be numbers (a function such as make_divisible of them), as the code
    generator does."""
    net = analysis.network
    scope = net.scopes[scope_id]
    fixed: set[str] = set()
    while True:
        values = {}
        for name, value in scope.args.items():
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            symbolic = numeric and name not in fixed
            values[name] = Var(name, name, frozenset({name}), isinstance(value, int)) if symbolic else value
        channels = Var("in_channels", "in_channels", frozenset({"in_channels"}))
        try:
            return net.templates.expand(scope.block, values, channels, len(analysis[scope.entry].shape))
        except NotGeneric as exc:
            assert exc.names and not exc.names <= fixed, exc
            fixed |= exc.names


def _instances(analysis):
    """Every block use a class may be written for: one that reads no tensor from outside but its
    input. A use given points (HRNet's exchange(<x0>, <x1>)) is written into the enclosing class,
    as the code generator's planner decides (ClassPlanner.modulable), never from a template."""
    net = analysis.network

    def reads_outside(scope_id: str) -> bool:
        inside = set(net.nodes_in(scope_id))
        entry = net.scopes[scope_id].entry
        return any(i not in inside and i != entry for n in inside for i in net.node(n).inputs)

    return [s for s, scope in net.scopes.items() if scope.kind == ScopeKind.BLOCK and not reads_outside(s)]


@pytest.mark.parametrize("case,params", CASES, ids=[c + ("-" + str(p) if p else "") for c, p in CASES])
def test_every_template_is_each_of_its_instances(case, params, tmp_path):
    analysis = _analysis(case, params, tmp_path)
    net = analysis.network
    for scope_id in _instances(analysis):
        template = _template(analysis, scope_id)
        found = correspond(template, net, scope_id)
        matched = [i for tid, ids in found.items() if tid in template.node_map and tid != "input" for i in ids]
        assert sorted(matched) == sorted(net.nodes_in(scope_id)), scope_id  # every node, once


def _spec(tmp_path: Path, text: str):
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return analyze_file(str(path))


LOOP_SPEC = """
name: loops
input: [3, 16, 16]
blocks:
  grow:
    args: {c: null, n: 1}
    body: (conv(c + 4*i, 3)-relu)*n@i
network: grow(8, 1)-grow(8, 3)-grow(16, 2)
"""


def test_a_repeat_counted_by_an_argument_is_one_loop_whose_body_stands_for_every_repetition(tmp_path):
    analysis = _spec(tmp_path, LOOP_SPEC)
    net = analysis.network
    for scope_id, count in zip(_instances(analysis), (1, 3, 2)):
        template = _template(analysis, scope_id)
        loops = [s for s in template.scopes.values() if s.kind == ScopeKind.LOOP]
        assert len(loops) == 1 and len(template.nodes_in(loops[0].id)) == 2  # conv and relu, once
        assert isinstance(loops[0].count, Sym) and loops[0].count.evaluate({"n": count}) == count
        found = correspond(template, net, scope_id)
        conv = next(n for n in template.nodes_in(loops[0].id) if template.node(n).kind == "conv")
        filters = [net.node(i).attrs["filters"] for i in found[conv]]
        first = 8 if scope_id != "grow3" else 16
        assert filters == [first + 4 * i for i in range(count)]  # the index is the loop's, repetition by repetition


def _with_node(template, node_id, **changes):
    node = template.node(node_id)
    nodes = dict(template.node_map)
    nodes[node_id] = dataclasses.replace(node, **changes)
    return dataclasses.replace(template, node_map=nodes)


def test_a_template_that_differs_from_its_instance_is_refused(tmp_path):
    analysis = _spec(tmp_path, LOOP_SPEC)
    net = analysis.network
    scope_id = _instances(analysis)[1]
    template = _template(analysis, scope_id)
    correspond(template, net, scope_id)  # as expanded: the same
    conv = next(n for n in template.order if template.node(n).kind == "conv")
    relu = next(n for n in template.order if template.node(n).kind == "relu")
    wrong = [
        _with_node(template, conv, attrs={**template.node(conv).attrs, "kernel": 5}),  # an attribute
        _with_node(template, conv, kind="bn"),  # a kind
        _with_node(template, relu, inputs=("input",)),  # an input
    ]
    loop = next(s for s in template.scopes.values() if s.kind == ScopeKind.LOOP)
    for broken in wrong:
        with pytest.raises(TemplateMismatch):
            correspond(broken, net, scope_id)
    one_more = dict(template.scopes)
    one_more[loop.id] = dataclasses.replace(loop, count=2)  # a count that is not the instance's (3)
    with pytest.raises(TemplateMismatch):
        correspond(dataclasses.replace(template, scopes=one_more), net, scope_id)


def test_block_arguments_stay_expressions_in_the_template(tmp_path):
    analysis = _spec(tmp_path, """
name: sym
input: [3, 16, 16]
blocks:
  bottleneck:
    args: {width: null, stride: 1}
    residual: conv(width, 1)-conv(width, 3, stride=stride)-conv(width*4, 1)
network: bottleneck(4)-bottleneck(8, stride=2)
""")
    scope_id = _instances(analysis)[1]
    template = _template(analysis, scope_id)
    convs = [template.node(n) for n in template.order if template.node(n).kind == "conv"]
    assert [str(c.attrs["filters"]) for c in convs] == ["width", "width", "width * 4"]
    assert str(convs[1].attrs["stride"]) == "stride"
    assert correspond(template, analysis.network, scope_id)

