"""The whole generated file: header, imports, the helper classes of layers torch.nn has no module
for (ConvNeXt's LayerNorm2d, declared with their kinds), the block classes, then the network class.

The network class is written from the network by the same emitter as every block class
(netc/backends/codegen/emit.py); block instances with a class of their own (netc/backends/codegen/variants.py)
appear in it as one call each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...analysis.infer import Analysis
from ...graph.ir import ScopeKind
from ...layers import KINDS, Conditional, Constructor
from ...version import __version__
from .class_source import ClassSource, shape_text
from .elements import Container, Handle
from .emit import Emitter
from .frozen import frozen_statements
from .inference import InferencePlan, header_lines, loader_method, loader_source, loader_tables, planning
from .init_method import init_method
from .names import GLOBALS, class_name
from .network_class import generic_network
from .pysrc import Raw, Stmt, comment, render, spec_label, where
from .variants import ClassPlanner, render_class


@dataclass
class Generated:
    source: str
    class_name: str
    paths: dict[str, str]  # IR node id → module path in the network module
    fallbacks: dict[str, Exception] = field(default_factory=dict)  # block → why it is one class per use
    arguments: dict[str, str] = field(default_factory=dict)  # the spec's params the network class takes → keyword
    fixed: dict[str, str] = field(default_factory=dict)  # the others: param → why it is fixed


def generate(analysis: Analysis, inference: bool = False, channels_last: bool = False) -> Generated:
    """The generated file: the ordinary module, or the inference build (netc/backends/codegen/inference.py)."""
    if not inference:
        return _generate(analysis, None, {})
    training = _generate(analysis, None, {})
    plan = InferencePlan(channels_last=channels_last)
    with planning(plan):
        return _generate(analysis, plan, training.paths)


def _generate(analysis: Analysis, plan: InferencePlan | None, training_paths: dict[str, str]) -> Generated:
    net = analysis.network
    spec = net.source
    helpers = helper_classes(analysis)
    class_names: set[str] = set(GLOBALS) | set(helpers)  # a block may not take a helper's name
    top_name = class_name(net.name, spec.name_span, "the spec's name", class_names)
    class_names.add("Model")  # the alias of the network class
    origins = dict(spec.heads)
    origin_nodes = {s.entry for s in net.scopes.values() if s.kind == ScopeKind.HEAD and origins.get(s.label)}
    pinned = frozenset({node for _, node in net.outputs} | origin_nodes)
    planner = ClassPlanner(analysis, class_names | {top_name}, pinned)
    planner.plan()

    inputs = [n for n in net.order if not net.node(n).inputs]
    x = Handle()
    source = ClassSource(net, net.top, inputs[0] if inputs else None, planner.refs, analysis, pinned=pinned,
                         heads=origins)
    loader: list = []

    def methods(paths: dict[str, str]) -> tuple[list, list]:  # the end of __init__, and methods after forward
        if plan is not None:  # weights come from a trained module: no init, no freezing
            loader[:] = loader_source(*loader_tables(analysis, plan, training_paths, paths))
            tail = [Stmt(Raw("self.to(memory_format=torch.channels_last)"))] if plan.channels_last else []
            return tail, [loader_method(top_name)]
        tail, more = init_method(analysis, paths)
        return tail + frozen_statements(analysis, paths), more

    generic = generic_network(analysis, planner, top_name, pinned, origins, methods)
    arguments, fixed = generic.arguments, generic.fixed
    if generic.statements is not None:
        statements, paths = generic.statements, generic.paths
    else:
        if inputs:
            x.var = net.node(inputs[0]).attrs.get("name")  # a named input: forward's argument of its name
        emitter = Emitter(source, x)
        container = Container()
        emitter.children(net.top, container, "")
        outputs = [(name, emitter.handles[node]) for name, node in net.outputs]
        statements, paths = render_class(top_name, container, x, outputs, [], [], as_dict=bool(spec.heads),
                                         methods=methods, train_only=spec.train_only,
                                         more_args=[emitter.handles[n] for n in inputs[1:]])
    lines = _header(analysis, top_name, any(v.generic for v in planner.classes), arguments, fixed)
    lines += (header_lines(plan) if plan is not None else []) + [""]
    lines += ["import torch", "from torch import nn"]
    for helper in helpers.values():
        lines += ["", ""] + helper.rstrip("\n").split("\n")
    for variant in planner.classes:
        lines += ["", ""] + render(variant.statements)
    top_comment = comment(f"{net.name}: the network, {where(spec.name_span)}")
    lines += ["", "", f"# {top_comment}"] + render(statements)
    if top_name != "Model":
        lines += ["", "", f"Model = {top_name}"]
    if loader:
        lines += ["", ""] + render(loader)
    fallbacks = {v.block.name: planner.reasons[v.block.name] for v in planner.classes if not v.generic}
    return Generated("\n".join(lines) + "\n", top_name, paths, fallbacks, arguments, fixed)


def helper_classes(analysis: Analysis) -> dict[str, str]:
    """The classes the file defines for layers torch.nn has no module for (Constructor.source),
    by name, in the order the network first uses them: each once, however many layers use it."""
    found: dict[str, str] = {}
    net = analysis.network
    asked: set[tuple] = set()  # (kind, attributes, input shapes) already asked: each asked once
    for node_id in net.order:
        node = net.node(node_id)
        if not node.inputs:
            continue
        inputs = analysis[node_id].inputs
        try:
            key = (node.kind, tuple(node.attrs.items()), inputs)
            if key in asked:
                continue
            asked.add(key)
        except TypeError:  # an attribute value that cannot be hashed: asked every time
            pass
        build = KINDS[node.kind].constructor(node.attrs, list(inputs))
        for one in (build.identity, build.module) if isinstance(build, Conditional) else (build,):
            _classes_of(one, found)
    return found


def _classes_of(one: Any, found: dict[str, str]) -> None:
    """The classes a construction defines, its arguments' included (a projection's
    nn.Sequential(conv, FrozenBatchNorm2d(…)))."""
    if not isinstance(one, Constructor):
        return
    for arg in (*one.args, *(v for _, v in one.kwargs)):
        _classes_of(arg, found)
    if one.source:
        for cls, source in one.needs:
            found.setdefault(cls, source)
        found.setdefault(one.cls, one.source)


def _header(analysis: Analysis, top_name: str, any_generic: bool, arguments: list[str],
            fixed: dict[str, str]) -> list[str]:
    net = analysis.network
    outputs = ", ".join(f"{name} {shape_text(analysis[node].shape, 'K' if analysis[node].rows else 'B')}"
                        for name, node in net.outputs)
    named = [net.node(n) for n in net.order if not net.node(n).inputs and "name" in net.node(n).attrs]
    if named:  # forward's arguments, by name; an [R, K] input is all the batch's rows (R per image)
        given = ", ".join(f"{node.attrs['name']} " + (shape_text(analysis[node.id].shape, 'K')
                          + f" ({node.attrs['rows']} per image)" if "rows" in node.attrs
                          else shape_text(analysis[node.id].shape)) for node in named)
        signature = f"{top_name}: input{'s' if len(named) > 1 else ''} {given} -> {outputs}"
    else:
        signature = f"{top_name}: input {shape_text(net.input_shape)} -> {outputs}"
    lines = [
        f"Generated by netc {__version__} from {spec_label(net.source.path)}; regenerate rather than edit.",
        signature,
        (f"{analysis.params:,} parameters, {analysis.flops:,} FLOPs per image "
         f"({'x'.join(map(str, net.input_shape))} input, as torch.utils.flop_counter counts them)."),
        "Each layer's comment: its output shape, and where the spec writes it (file:line:col).",
    ]
    if any_generic:
        lines.append("In block classes, H and W are the block input's height and width; H/s rounds up.")
    params = net.source.params
    if arguments:
        given = ", ".join(f"{keyword}={_value(params[name])}" for name, keyword in arguments.items())
        lines.append(f"{top_name}({given}) takes these params; netc checked these values (netc check -D checks others).")
    if fixed:
        lines.append("Fixed at generation (netc compile -D NAME=VALUE writes another value):")
        lines += [f"  {name}={_value(params[name])}: {why}" for name, why in fixed.items()]
    return [f"# {comment(line)}" for line in lines]


def _value(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


__all__ = ["Generated", "generate"]
