"""Program (AST) → Network (graph IR): resolve params, defaults, blocks, repetition and heads.

Each DSL word becomes one node with validated attributes; a block call becomes a scope holding
its nodes; repetition is unrolled. The output is checked for names and arguments, not shapes:
shapes are `infer`'s business.
"""

from __future__ import annotations

from typing import Any, Callable

import networkx as nx

from . import ast
from .errors import NetcError, did_you_mean
from .exprs import MAX_INT, Symbol, Value, evaluate, evaluate_int
from .ir import Network, Node, Scope
from .layers import KINDS, LayerKind, known_words, lookup_word
from .layers.base import REQUIRED as _REQUIRED

DEFAULT_MAX_LAYERS = 100_000
MAX_BLOCK_DEPTH = 64


class _Expander:
    def __init__(self, program: ast.Program, max_layers: int):
        self.program = program
        self.max_layers = max_layers
        self.graph = nx.DiGraph()
        self.order: list[str] = []
        self.scopes: dict[str, Scope] = {}
        self.top: list[str] = []
        self.marks: dict[str, str] = {}
        self.counters: dict[str, dict[str, int]] = {}
        self.call_stack: list[str] = []

    # --- naming and bookkeeping ---------------------------------------------------------------
    def _fresh(self, scope: str, base: str) -> str:
        counts = self.counters.setdefault(scope, {})
        counts[base] = counts.get(base, 0) + 1
        return f"{base}{counts[base]}"

    @staticmethod
    def _qualify(scope: str, local: str) -> str:
        return f"{scope}.{local}" if scope else local

    def _attach(self, scope: str, child: str) -> None:
        (self.scopes[scope].children if scope else self.top).append(child)

    def add_node(self, kind: str, attrs: dict[str, Any], inputs: tuple[str, ...], scope: str, span, text: str,
                 local: str | None = None, shape_only: tuple[int, ...] = ()) -> str:
        if len(self.order) >= self.max_layers:
            raise NetcError.at(
                span, f"the network expands past {self.max_layers:,} layers",
                "raise the limit with --max-layers if this is intended",
            )
        local = local or self._fresh(scope, kind)
        node_id = self._qualify(scope, local)
        if node_id in self.graph:  # an explicit local name already used: number it
            node_id = self._qualify(scope, self._fresh(scope, local))
        self.graph.add_node(node_id, node=Node(node_id, kind, attrs, inputs, scope, span, text))
        for index, source in enumerate(inputs):
            self.graph.add_edge(source, node_id, index=index, shape_only=index in shape_only)
        self.order.append(node_id)
        self._attach(scope, node_id)
        return node_id

    def new_scope(self, kind: str, base: str, parent: str, label: str, span, entry: str | None,
                  block: str | None = None, args: dict[str, Any] | None = None) -> Scope:
        scope = Scope(self._qualify(parent, self._fresh(parent, base)), kind, label, span, parent,
                      block, dict(args or {}), entry)
        self.scopes[scope.id] = scope
        self._attach(parent, scope.id)
        return scope

    # --- sequences ------------------------------------------------------------------------------
    def seq(self, seq: ast.Seq, cur: str, env: dict[str, Value], scope: str) -> str:
        for item in seq.items:
            cur = self.item(item, cur, env, scope)
        return cur

    def item(self, item: ast.Item, cur: str, env: dict[str, Value], scope: str) -> str:
        if isinstance(item, ast.Call):
            return self.call(item, cur, env, scope)
        if isinstance(item, ast.Mark):
            if item.name in self.marks:
                raise NetcError.at(item.span, f"mark <{item.name}> is placed twice")
            self.marks[item.name] = cur
            return cur
        if isinstance(item, ast.Seq):
            if item.stage:
                return self.stage(item, cur, env, scope)
            return self.seq(item, cur, env, scope)
        return self.repeat(item, cur, env, scope)

    def stage(self, seq: ast.Seq, cur: str, env: dict[str, Value], scope: str) -> str:
        stage = self.new_scope("stage", "stage", scope, "stage", seq.span, cur)
        stage.exit = self.seq(seq, cur, env, stage.id)
        return stage.exit

    def repeat(self, item: ast.Repeat, cur: str, env: dict[str, Value], scope: str) -> str:
        count = evaluate_int(item.count, env, "a repeat count")
        if count < 1:
            raise NetcError.at(item.count.span, f"a repeat count must be at least 1, got {count}")
        if count > self.max_layers:
            raise NetcError.at(
                item.count.span, f"repeating {count:,} times expands past {self.max_layers:,} layers",
                "raise the limit with --max-layers if this is intended",
            )
        if item.index and item.index in self.program.params:
            raise NetcError.at(item.span, f"repeat index '{item.index}' hides the param of the same name")
        for k in range(count):
            inner = {**env, item.index: k} if item.index else env
            before = len(self.order)
            cur = self.item(item.body, cur, inner, scope)
            made = len(self.order) - before
            if k == 0 and before + made * count > self.max_layers:
                raise NetcError.at(
                    item.span, f"this repetition expands to {made * count:,} layers, past the limit of {self.max_layers:,}",
                    "raise the limit with --max-layers if this is intended",
                )
        return cur

    # --- layers ---------------------------------------------------------------------------------
    def call(self, call: ast.Call, cur: str, env: dict[str, Value], scope: str) -> str:
        block = self.program.blocks.get(call.word)
        if block is not None:
            return self.block_call(block, call, cur, env, scope)
        found = lookup_word(call.word)
        if found is None:
            choices = known_words() + list(self.program.blocks)
            hint = did_you_mean(call.word, choices)
            raise NetcError.at(call.span, f"unknown layer or block '{call.text}'", hint)
        kind, fixed = found
        attrs = self.resolve_attrs(kind, fixed, call, env)
        return self.add_node(kind.name, attrs, (cur,), scope, call.span, call.text)

    def resolve_attrs(self, kind: LayerKind, fixed: dict[str, Any], call: ast.Call, env: dict[str, Value]) -> dict[str, Any]:
        attrs, spans = bind_attrs(kind, fixed, call, self.program.defaults, lambda expr: evaluate(expr, env))
        for attr in kind.attrs:
            attrs[attr.name] = _validate(kind, attr, attrs[attr.name], spans.get(attr.name, call.span), call, env)
        return attrs

    # --- blocks ---------------------------------------------------------------------------------
    def block_call(self, block: ast.BlockDef, call: ast.Call, cur: str, env: dict[str, Value], scope: str) -> str:
        if block.name in self.call_stack:
            path = " → ".join(self.call_stack[self.call_stack.index(block.name):] + [block.name])
            raise NetcError.at(call.span, f"block '{block.name}' calls itself ({path})")
        if len(self.call_stack) >= MAX_BLOCK_DEPTH:
            raise NetcError.at(call.span, f"blocks nested more than {MAX_BLOCK_DEPTH} deep")
        if call.number is not None:
            raise NetcError.at(call.span, f"block '{block.name}' takes no -N number; pass arguments in ( )")
        args = self.bind(block, call, env)
        inner_env: dict[str, Value] = {**self.program.params, **args}
        label = f"{block.name}({', '.join(_show(v) for v in args.values())})"
        instance = self.new_scope("block", block.name, scope, label, call.span, cur, block.name, args)
        self.call_stack.append(block.name)
        try:
            out = self.block_body(block, call, cur, inner_env, instance.id)
        finally:
            self.call_stack.pop()
        instance.exit = out
        return out

    def block_body(self, block: ast.BlockDef, call: ast.Call, cur: str, env: dict[str, Value], scope: str) -> str:
        if block.form == "sequence":
            out = self.seq(block.body, cur, env, scope)
        elif block.form == "parallel":
            ends = []
            for branch in block.branches:
                sub = self.new_scope("branch", "branch", scope, "branch", branch.span, cur)
                sub.exit = self.seq(branch, cur, env, sub.id)
                ends.append(sub.exit)
            out = self.add_node("concat", {}, tuple(ends), scope, call.span, call.text)
        else:
            body_end = self.seq(block.body, cur, env, scope)
            if block.shortcut == "identity":
                short_end = cur
            elif block.shortcut == "auto":
                attrs = {"bn": _uses_batchnorm(block.body, self.program.blocks)}
                short_end = self.add_node("projection", attrs, (cur, body_end), scope, call.span, call.text,
                                          local="shortcut", shape_only=(1,))
            else:
                sub = self.new_scope("shortcut", "shortcut", scope, "shortcut", block.shortcut.span, cur)
                sub.exit = short_end = self.seq(block.shortcut, cur, env, sub.id)
            out = self.add_node("add", {}, (body_end, short_end), scope, call.span, call.text)
        if block.after is not None:
            out = self.seq(block.after, out, env, scope)
        return out

    def bind(self, block: ast.BlockDef, call: ast.Call, env: dict[str, Value]) -> dict[str, Value]:
        names = [p.name for p in block.params]
        if len(call.args) > len(names):
            raise NetcError.at(
                call.args[len(names)].span,
                f"block '{block.name}' takes {len(names)} argument(s) ({', '.join(names) or 'none'}); got {len(call.args)}",
            )
        bound: dict[str, Value] = {}
        for param, expr in zip(block.params, call.args):
            bound[param.name] = evaluate(expr, env)
        lowered = {n.lower(): n for n in names}
        for name, expr, span in call.kwargs:
            real = lowered.get(name)
            if real is None:
                raise NetcError.at(span, f"block '{block.name}' has no argument '{name}'", did_you_mean(name, names))
            if real in bound:
                raise NetcError.at(span, f"argument '{real}' of block '{block.name}' given twice")
            bound[real] = evaluate(expr, env)
        for param in block.params:
            if param.name not in bound:
                if param.default is None:
                    raise NetcError.at(call.span, f"block '{block.name}' needs argument '{param.name}'")
                bound[param.name] = Symbol(param.default) if isinstance(param.default, str) else param.default
        return {p.name: bound[p.name] for p in block.params}

    # --- the whole network ----------------------------------------------------------------------
    def network(self) -> Network:
        program = self.program
        env: dict[str, Value] = dict(program.params)
        start = self.add_node("input", {"shape": program.input_shape}, (), "", program.input_span, "input", local="input")
        end = self.seq(program.network, start, env, "")
        outputs: list[tuple[str, str]] = []
        for head in program.heads:
            origin = end
            if head.origin is not None:
                if head.origin not in self.marks:
                    hint = did_you_mean(head.origin, list(self.marks))
                    raise NetcError.at(head.origin_span, f"head '{head.name}' starts from <{head.origin}>, which no mark names", hint)
                origin = self.marks[head.origin]
            scope = self.new_scope("head", head.name, "", head.name, head.span, origin)
            scope.exit = self.seq(head.body, origin, env, scope.id)
            outputs.append((head.name, scope.exit))
        if not outputs:
            outputs.append(("output", end))
        return Network(program.name, program.input_shape, self.graph, tuple(self.order), tuple(outputs),
                       self.scopes, tuple(self.top), program)


def bind_attrs(kind: LayerKind, fixed: dict[str, Any], call: ast.Call, defaults: dict[str, dict[str, Any]],
               value_of: Callable[[ast.Expr], Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Attributes of one layer call, in order of precedence: the kind's defaults, the spec's
    `defaults:`, what the word fixes (conv3 → kernel 3), the bound number (conv3-64), then
    positional and named arguments. `value_of` turns an argument expression into a value: a
    number when expanding, Python source when generating a block class. Returns the attributes
    and the span of each argument that set one."""
    names = [a.name for a in kind.attrs]
    attrs: dict[str, Any] = {a.name: a.default for a in kind.attrs}
    attrs.update(defaults.get(kind.defaults_key or "", {}))
    attrs.update(defaults.get(kind.name, {}))
    attrs.update(fixed)
    spans: dict[str, Any] = {}
    if call.number is not None:
        if kind.number_attr is None:
            raise NetcError.at(call.span, f"'{call.word}' takes no -N number (as in conv3-64 or FC-4096)")
        attrs[kind.number_attr] = call.number
    free = [n for n in names if n not in fixed and n != (kind.number_attr if call.number is not None else None)]
    if len(call.args) > len(free):
        extra = call.args[len(free)]
        listing = ", ".join(free) if free else "none"
        raise NetcError.at(extra.span, f"'{call.text}' takes at most {len(free)} positional argument(s) ({listing}); got {len(call.args)}")
    for name, expr in zip(free, call.args):
        attrs[name] = value_of(expr)
        spans[name] = expr.span
    for name, expr, name_span in call.kwargs:
        if name not in names:
            hint = did_you_mean(name, names)
            listing = ", ".join(names) if names else "no arguments"
            raise NetcError.at(name_span, f"'{call.text}' has no argument '{name}' (it takes {listing})", hint)
        attrs[name] = value_of(expr)
        spans[name] = expr.span
    return attrs, spans


def _show(value: Value) -> str:
    return str(value) if not isinstance(value, float) else f"{value:g}"


def _uses_batchnorm(seq: ast.Seq, blocks: dict[str, ast.BlockDef]) -> bool:
    """Whether a residual body uses batch norm, so its automatic projection gets one too."""
    for item in seq.items:
        while isinstance(item, ast.Repeat):
            item = item.body
        if isinstance(item, ast.Seq) and _uses_batchnorm(item, blocks):
            return True
        if isinstance(item, ast.Call):
            found = lookup_word(item.word)
            if found is not None and found[0].name == "bn":
                return True
    return False


def _validate(kind: LayerKind, attr, value: Any, span, call: ast.Call, env: dict[str, Value]) -> Any:
    what = f"{kind.name} {attr.name}"
    if value is None and attr.default is None:
        return None
    if value is None or value is _REQUIRED:
        raise NetcError.at(
            call.span, f"'{call.text}' needs a value for '{attr.name}'",
            f"write it as an argument, or set defaults: {{{kind.defaults_key or kind.name}: {{{attr.name}: …}}}}",
        )
    if isinstance(value, Symbol) and attr.type in ("int", "float"):
        names = [k for k in env]
        raise NetcError.at(span, f"undefined variable '{value}' for {what}", did_you_mean(value.name, names))
    if attr.type == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise NetcError.at(span, f"{what} must be a whole number, got {value!r}")
    elif attr.type == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NetcError.at(span, f"{what} must be a number, got {value!r}")
        value = float(value)
    elif attr.type == "bool":
        if isinstance(value, Symbol) and value.name.lower() in ("true", "false"):
            value = value.name.lower() == "true"
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        elif isinstance(value, int) and value in (0, 1):
            value = bool(value)
        if not isinstance(value, bool):
            raise NetcError.at(span, f"{what} must be true or false, got {value!r}")
    elif attr.type == "padding":
        if isinstance(value, str) and not isinstance(value, Symbol):
            value = Symbol(value.lower())
        if isinstance(value, Symbol):
            if value.name.lower() not in ("valid", "same", "full"):
                raise NetcError.at(span, f"{what} must be valid, same, full or a whole number, got '{value}'",
                                   did_you_mean(value.name, ["valid", "same", "full"]))
            return Symbol(value.name.lower())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise NetcError.at(span, f"{what} must be valid, same, full or a whole number ≥ 0, got {value!r}")
    elif attr.type == "choice":
        name = value.name if isinstance(value, Symbol) else value
        if not isinstance(name, str) or name.lower() not in attr.choices:
            raise NetcError.at(span, f"{what} must be one of {', '.join(attr.choices)}, got {value!r}",
                               did_you_mean(str(name), list(attr.choices)))
        return name.lower()
    if attr.minimum is not None and isinstance(value, (int, float)) and value < attr.minimum:
        raise NetcError.at(span, f"{what} must be at least {attr.minimum:g}, got {value}")
    if isinstance(value, int) and value > MAX_INT:
        raise NetcError.at(span, f"{what} is too large")
    return value


def expand(program: ast.Program, max_layers: int = DEFAULT_MAX_LAYERS) -> Network:
    """Unroll a program into its layer graph. Raises NetcError with the offending span."""
    try:
        return _Expander(program, max_layers).network()
    except RecursionError:
        raise NetcError.at(program.network.span, "the network is nested too deeply to expand") from None


__all__ = ["DEFAULT_MAX_LAYERS", "KINDS", "expand"]
