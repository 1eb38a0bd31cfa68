"""Block templates: a block expanded once in the symbolic domain, for its generic class.

The expander (netc/graph/expand.py) is the only reader of the AST. For the network it runs with numbers;
here it runs on one block with the block's arguments as expressions (netc/frontend/symbolic.py), producing
an IR fragment — a `Network` whose sizes may be expressions, whose input has `in_channels`
channels, and whose repeats counted by an argument stay one `LOOP` scope with the body expanded
once. The code generator writes the block's class from this fragment alone.

`correspond` is the proof that a template is what it stands for: evaluated at an instance's
arguments (loops unrolled) it must give that instance's subgraph in the network, node for node
(kind, attributes, inputs) and scope for scope. It returns which instance nodes each template node
stands for, which the code generator uses for comments and module paths, and raises
`TemplateMismatch` — a bug, never a silent fallback — when they differ.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..errors import NetcError
from ..frontend import ast
from ..frontend.exprs import Value, layered
from ..frontend.symbolic import SPATIAL, NotSymbolic, Sym, Var, as_int, translate, value_at
from ..layers import INPUT_KIND, LayerKind
from ..limits import DEFAULT_MAX_LAYERS
from .attributes import validate_attr
from .expander import Expander
from .ir import Network, NetworkSource, Scope, ScopeKind

TEMPLATE_INPUT = "input"  # the template's input node: the block's entry


class NotGeneric(Exception):
    """The block cannot be one generic class: `names` are the arguments to fix (None: none helps)."""

    def __init__(self, names: frozenset[str] | None, why: str):
        super().__init__(why)
        self.names = names


class TemplateMismatch(AssertionError):
    """A template evaluated at an instance's arguments is not that instance: a bug in netc."""


class _TemplateExpander(Expander):
    """The expander in the symbolic domain: argument expressions become `Sym` trees."""

    def value(self, expr: ast.Expr, env: dict[str, Any]) -> Any:
        try:
            return translate(expr, env)
        except NotSymbolic as exc:
            raise NotGeneric(exc.names, str(exc)) from None

    def attr_value(self, kind: LayerKind, attr, value: Any, span, call: ast.Call, env: dict[str, Any]) -> Any:
        if isinstance(value, tuple) and attr.pair and any(isinstance(v, Sym) for v in value):  # (k, 1): per axis
            single = dataclasses.replace(attr, pair=False)
            height, width = (self.attr_value(kind, single, v, span, call, env) for v in value)
            return height if height == width else (height, width)
        if attr.type == "floats" and any(isinstance(v, Sym) for v in (value if isinstance(value, tuple) else (value,))):
            names = frozenset().union(*(v.names for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Sym)))
            raise NotGeneric(names, f"{kind.name} {attr.name} must be known for the class")
        if isinstance(value, Sym):
            if attr.type in ("int", "padding"):
                return as_int(value)
            if attr.type == "float":
                return value
            raise NotGeneric(value.names, f"{kind.name} {attr.name} must be known for the class")
        return validate_attr(kind, attr, value, span, call, {})

    def record(self, exc: NetcError) -> None:
        # The network's expansion met no error here, so one now is a use this class cannot cover.
        raise NotGeneric(None, exc.diagnostics[0].message if exc.diagnostics else "an error")

    def index_value(self, expr: ast.Expr, env: dict[str, Any]) -> Any:
        value = self.value(expr, env)
        if isinstance(value, Sym):  # which point a layer reads is fixed in a class
            raise NotGeneric(value.names, "a point's index must be known for the class")
        return super().index_value(expr, env)

    def repeat(self, item: ast.Repeat, cur: str, env: dict[str, Value], scope: str) -> str:
        count = self.value(item.count, env)
        if not isinstance(count, Sym):  # a number: unrolled, as in the network
            return super().repeat(item, cur, env, scope)
        self.step(item.span)
        loop = self.new_scope(ScopeKind.LOOP, "@loop", scope, "repeat", item.span, cur)
        self.naming[loop.id] = self.naming.get(scope, scope)
        loop.count = as_int(count)
        inner = env
        if item.index:
            loop.index = Var(item.index, f"@{loop.id}", count.names)
            inner = {**env, item.index: loop.index}
        latest = self.points.latest_reads
        loop.exit = self.item(item.body, cur, inner, loop.id)
        if self.points.latest_reads != latest:  # <unit.high> is the previous repetition's: one body cannot say so
            raise NotGeneric(count.names, "a repetition reads the latest use of a block: it is unrolled")
        return loop.exit


class BlockTemplates:
    """The templates of one program's blocks: what a network offers its code generator
    (`Network.templates`), so that only the expander reads the AST."""

    def __init__(self, program: ast.Program):
        self._program = program

    def expand_network(self, values: dict[str, Any]) -> Network:
        """The whole network expanded once with `values` for some of the spec's params (`Var`s),
        for a network class that takes them as constructor arguments. Raises NotGeneric."""
        return expand_network_template(self._program, values)

    def expand(self, block: str, values: dict[str, Any], in_channels: Any, rank: int) -> Network:
        """Block `block` expanded once with `values` for its arguments (numbers for the arguments
        fixed for the class, `Var`s for the others) and `in_channels` input channels, for inputs of
        `rank` dimensions. Raises NotGeneric."""
        return expand_template(self._program, self._program.blocks[block], values, in_channels, rank)


def expand_template(program: ast.Program, block: ast.BlockDef, values: dict[str, Any], in_channels: Any,
                    rank: int) -> Network:
    expander = _TemplateExpander(program, DEFAULT_MAX_LAYERS)
    env: dict[str, Any] = {**program.params, **values}
    shape = (in_channels,) + (SPATIAL,) * (rank - 1)
    start = expander.add_node(INPUT_KIND, {"shape": shape}, (), "", block.span, "input", local=TEMPLATE_INPUT)
    expander.call_stack.append(block.name)
    try:
        end = expander.block_body(block, block.span, block.name, start, env, "")
    except RecursionError:
        raise NotGeneric(None, "nested too deeply") from None
    top = tuple(child for child in expander.top if child != TEMPLATE_INPUT)
    source = NetworkSource(program.path, block.span, block.span, dict(program.params), {})
    return Network(block.name, shape, expander.nodes, tuple(expander.order), (("output", end),),
                   expander.scopes, top, source)


class _NetworkTemplateExpander(_TemplateExpander):
    """The whole network with some params as expressions. A block body that reads one of them
    cannot be its class (written with the param's value): the param is then fixed."""

    def __init__(self, program: ast.Program, values: dict[str, Any]):
        super().__init__(program, DEFAULT_MAX_LAYERS)
        self.symbolic_params = values
        # Merged once: a block body sees the same params at every call (a copy per call was
        # params × calls: 20,000 params and 100,000 calls did not finish).
        self.params_seen_by_blocks: dict[str, Any] = {**program.params, **values}

    def block_params(self) -> dict[str, Any]:
        return self.params_seen_by_blocks

    def value(self, expr: ast.Expr, env: dict[str, Any]) -> Any:
        value = super().value(expr, env)
        if self.call_stack and isinstance(value, Sym):
            inside = value.names & set(self.symbolic_params)
            if inside:
                raise NotGeneric(frozenset(inside), f"block '{self.call_stack[-1]}' uses "
                                 f"{', '.join(sorted(inside))} in its body")
        return value


def expand_network_template(program: ast.Program, values: dict[str, Any]) -> Network:
    expander = _NetworkTemplateExpander(program, values)
    env: dict[str, Any] = {**program.params, **values}
    start = expander.add_node(INPUT_KIND, {"shape": program.input_shape}, (), "", program.input_span, "input",
                              local=TEMPLATE_INPUT)
    try:
        outputs = expander.heads(expander.seq(program.network, start, env, ""), env)
    except RecursionError:
        raise NotGeneric(None, "nested too deeply") from None
    top = tuple(child for child in expander.top if child != TEMPLATE_INPUT)
    source = NetworkSource(program.path, program.name_span, program.network.span, dict(program.params), {})
    return Network(program.name, program.input_shape, expander.nodes, tuple(expander.order), tuple(outputs),
                   expander.scopes, top, source, (), expander.points.variables)


NETWORK_INSTANCE = "@network"  # correspond_network's name for the whole network as one instance


def correspond_network(template: Network, network: Network) -> dict[str, list[str]]:
    """`correspond` for a template of the whole network (expand_network_template): at the spec's
    params it must be the network, node for node, with the same outputs."""
    entry = next(n for n in network.order if not network.node(n).inputs)
    whole = Scope(NETWORK_INSTANCE, ScopeKind.BLOCK, network.name, network.source.name_span, "", None,
                  dict(network.source.params), entry, network.outputs[0][1],
                  [c for c in network.top if c != entry])
    view = dataclasses.replace(network, scopes={**network.scopes, NETWORK_INSTANCE: whole})
    found: dict[str, list[str]] = {TEMPLATE_INPUT: [entry]}
    bound: dict[str, str] = {TEMPLATE_INPUT: entry}
    _Matcher(template, view, found, bound).children(template.top, list(whole.children), 0,
                                                    dict(network.source.params), NETWORK_INSTANCE)
    _check([name for name, _ in template.outputs] == [name for name, _ in network.outputs],
           "the network's template has other outputs")
    for (_, mine), (_, theirs) in zip(template.outputs, network.outputs):
        _check(bound.get(mine) == theirs, f"the template's output {mine} is not the network's {theirs}")
    return found


def correspond(template: Network, network: Network, instance_id: str) -> dict[str, list[str]]:
    """For each template node and scope, the instance's nodes and scopes it stands for, in order
    (a loop's body stands for one per repetition). Raises TemplateMismatch where they differ."""
    instance = network.scopes[instance_id]
    env: dict[str, Any] = layered(instance.args, network.source.params)  # type: ignore[assignment]
    found: dict[str, list[str]] = {TEMPLATE_INPUT: [instance.entry]}
    bound: dict[str, str] = {TEMPLATE_INPUT: instance.entry}  # template node → the instance node it is now
    _Matcher(template, network, found, bound).children(template.top, list(instance.children), 0, env, instance_id)
    _check(bound.get(template.outputs[0][1]) == instance.exit, f"the template of {instance_id} ends elsewhere")
    return found


def _check(condition: bool, why: str) -> None:
    if not condition:
        raise TemplateMismatch(why)


class _Matcher:
    def __init__(self, template: Network, network: Network, found: dict[str, list[str]], bound: dict[str, str]):
        self.template, self.network, self.found, self.bound = template, network, found, bound

    def children(self, children, targets: list[str], position: int, env: dict[str, Any], where: str) -> int:
        """Match template children against the instance's `targets` from `position`; returns the
        position after them."""
        for child in children:
            scope = self.template.scopes.get(child)
            if scope is not None and scope.kind == ScopeKind.LOOP:
                position = self.loop(scope, targets, position, env, where)
                continue
            _check(position < len(targets), f"{where} has fewer parts than its template")
            target = targets[position]
            position += 1
            if scope is not None:
                self.scope(scope, target, env)
            else:
                self.node(child, target, env)
        return position

    def loop(self, loop, targets: list[str], position: int, env: dict[str, Any], where: str) -> int:
        count = value_at(loop.count, env)
        _check(isinstance(count, int) and count >= 0, f"the count of {loop.id} is {count!r}")
        entry = loop.entry
        before = self.bound.get(entry)
        running = before
        for k in range(count):
            self.bound[entry] = running
            inner = layered({loop.index.key: k}, env) if loop.index is not None else env
            position = self.children(loop.children, targets, position, inner, where)
            running = self.bound.get(loop.exit)
        self.bound[entry] = before
        self.bound[loop.exit] = running
        return position

    def scope(self, scope, target: str, env: dict[str, Any]) -> None:
        other = self.network.scopes.get(target)
        _check(other is not None and other.kind == scope.kind and other.block == scope.block,
               f"{target} is not a {scope.kind} like {scope.id}")
        if scope.kind == ScopeKind.BLOCK:
            args = {name: _evaluated(value, env) for name, value in scope.args.items()}
            _check(args == other.args, f"the arguments of {target} differ from its template's")
        _check(self.bound.get(scope.entry) == other.entry, f"{target} starts elsewhere than its template")
        self.found.setdefault(scope.id, []).append(target)
        end = self.children(scope.children, list(other.children), 0, env, target)
        _check(end == len(other.children), f"{target} has more parts than its template")
        if scope.exit is not None:
            self.bound[scope.exit] = other.exit
        _check(other.exit == self.bound.get(scope.exit, other.entry), f"{target} ends elsewhere than its template")

    def node(self, node_id: str, target: str, env: dict[str, Any]) -> None:
        node, other = self.template.node(node_id), self.network.node_map.get(target)
        _check(other is not None and other.kind == node.kind, f"{target} is not a {node.kind} like {node_id}")
        inputs = tuple(self.bound.get(i) for i in node.inputs)
        _check(inputs == tuple(other.inputs), f"the inputs of {target} differ from its template's")
        attrs = {name: _evaluated(value, env) for name, value in node.attrs.items()}
        _check(attrs == {name: other.attrs.get(name) for name in attrs},
               f"the attributes of {target} differ from its template's: {attrs} and {other.attrs}")
        _check(node.shape_only == other.shape_only, f"{target} reads its inputs otherwise than its template")
        self.found.setdefault(node_id, []).append(target)
        self.bound[node_id] = target


def _evaluated(value: Any, env: dict[str, Any]) -> Any:
    if isinstance(value, tuple):
        return tuple(_evaluated(v, env) for v in value)
    return value_at(value, env)
