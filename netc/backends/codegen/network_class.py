"""The network class with the spec's params as constructor arguments: `Model(classes=10)`.

The whole network is expanded once more with its params as expressions (netc/graph/templates.py,
`expand_network`), checked node for node against the analysed network (`correspond_network`), and
written by the one emitter as a generic class, as a block's class is. A param that cannot stay an
argument is fixed at its value: one a block body reads (the block's class is written with it), a
repeat count whose body is not a chain of modules, an input size, a word; the emitter and the
template say which by raising NotGeneric, and the fixed ones go into the file's header with why.
When nothing can stay an argument the class is written from the analysed network, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...analysis.infer import Analysis
from ...frontend.symbolic import Var
from ...graph.templates import NETWORK_INSTANCE, TEMPLATE_INPUT, NotGeneric, correspond_network
from .class_source import ClassSource
from .comments import network_comment_text
from .elements import Container, Handle
from .emit import Emitter
from .names import local
from .pysrc import Item, Raw, literal
from .variants import ClassPlanner, render_class

MAX_ATTEMPTS = 64  # each attempt fixes at least one more param; a spec has few


@dataclass
class NetworkClass:
    statements: list[Any] | None  # None: no param can be an argument (`fixed` says why)
    paths: dict[str, str]
    arguments: dict[str, str] = field(default_factory=dict)  # param → the constructor's keyword for it
    fixed: dict[str, str] = field(default_factory=dict)  # param → why it is fixed at generation


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def generic_network(analysis: Analysis, planner: ClassPlanner, top_name: str, pinned: frozenset[str],
                    heads: dict[str, str | None], methods) -> NetworkClass:
    """The network class taking its params; its statements are None when none can be an argument."""
    net = analysis.network
    params = dict(net.source.params)
    fixed: dict[str, str] = {}
    several_inputs = sum(1 for n in net.order if not net.node(n).inputs) > 1
    for name, value in params.items():
        if not _numeric(value):
            fixed[name] = "it is not a number"
        elif several_inputs:  # the class of several named inputs is written from the analysed network
            fixed[name] = "the network has several named inputs"
    for _ in range(MAX_ATTEMPTS):
        free = [name for name in params if name not in fixed]
        if not free:
            return NetworkClass(None, {}, {}, fixed)
        try:
            return _write(analysis, planner, top_name, pinned, heads, methods, params, free, fixed)
        except NotGeneric as exc:
            names = (exc.names or frozenset()) & set(free)
            if not names:  # the emitter cannot say which param: the first whose fixing is enough
                found = _fix_one(analysis, planner, top_name, pinned, heads, methods, params, free, fixed, str(exc))
                return found or NetworkClass(None, {}, {}, {**fixed, **{name: str(exc) for name in free}})
            for name in sorted(names):
                fixed[name] = str(exc)
    return NetworkClass(None, {}, {}, {**fixed, **{name: "too many attempts" for name in params if name not in fixed}})


def _fix_one(analysis, planner, top_name, pinned, heads, methods, params, free, fixed, why) -> NetworkClass | None:
    for name in free:
        rest = [other for other in free if other != name]
        if not rest:
            return None
        try:
            return _write(analysis, planner, top_name, pinned, heads, methods, params, rest, {**fixed, name: why})
        except NotGeneric:
            continue
    return None


def _write(analysis: Analysis, planner: ClassPlanner, top_name: str, pinned: frozenset[str],
           heads: dict[str, str | None], methods, params: dict[str, Any], free: list[str],
           fixed: dict[str, str]) -> NetworkClass:
    net = analysis.network
    taken: set[str] = set()
    values: dict[str, Any] = {}
    keywords: dict[str, str] = {}
    signature: list[Item] = []
    for name in free:
        value = params[name]
        is_int = isinstance(value, int)
        keywords[name] = py = local(name, taken)  # a param named self or x is renamed, as a block's
        values[name] = Var(py, name, frozenset({name}), is_int)
        signature.append(Item(Raw(f"{py}: {'int' if is_int else 'float'} = {literal(value)}")))
    template = net.templates.expand_network(values)
    found = correspond_network(template, net)
    source = ClassSource(template, template.top, TEMPLATE_INPUT, planner.refs, analysis, pinned=pinned, heads=heads,
                         template=template, instance=NETWORK_INSTANCE, found=found, env=dict(params),
                         locals_taken=taken, slots=[])
    entry = next(n for n in net.order if not net.node(n).inputs)
    x = Handle(var=net.node(entry).attrs.get("name"))  # a named input is forward's argument of its name
    emitter = Emitter(source, x)
    container = Container()
    emitter.children(template.top, container, "")
    for slot in source.slots or []:
        slot.note.text = network_comment_text(slot)
    outputs = [(name, emitter.handles[node]) for name, node in template.outputs]
    statements, paths = render_class(top_name, container, x, outputs, signature, [], as_dict=bool(heads),
                                     methods=methods, train_only=net.source.train_only)
    return NetworkClass(statements, _instance_paths(paths, found), keywords, dict(fixed))


def _instance_paths(paths: dict[str, str], found: dict[str, list[str]]) -> dict[str, str]:
    """Module paths keyed by the analysed network's nodes. A loop's elements are keyed so already,
    one per repetition; every other template node stands for exactly one node."""
    out: dict[str, str] = {}
    for node, path in paths.items():
        instances = found.get(node, [node])
        out[instances[0] if len(instances) == 1 else node] = path
    return out
