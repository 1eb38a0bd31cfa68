"""The expander: the one reader of the spec's AST, in either of two domains.

It walks a program's DSL items (sequences, repeats, calls, blocks, marks) and makes IR nodes and
scopes (netc/graph/ir.py), naming each node as the spec reads (`stage3.bottleneck2.conv1`), binding and
validating every layer's attributes (netc/graph/attributes.py), enforcing the size limits as it goes, and
collecting independent errors as a compiler does. What an argument expression *is* is the
domain's: a number when the whole network is expanded (netc/graph/expand.py), an expression over a
block's arguments when one block is expanded for its generic class (netc/graph/templates.py).
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import MAX_ERRORS, Diagnostic, Diagnostics, NetcError, closest, did_you_mean
from ..frontend import ast
from ..frontend.exprs import Symbol, Value, evaluate, evaluate_int, layered
from ..layers import INPUT_KIND, KINDS, SHORTCUT_KIND, LayerKind, known_words, lookup_word
from .attributes import bind_attrs, validate_attr
from .ir import Node, Scope, ScopeKind, numbered
from .points import PointTable, written_marks

MAX_BLOCK_DEPTH = 64
STEPS_PER_LAYER = 3  # calls, repeats and repetitions allowed per layer of the limit: bounds repeats of empty bodies


class LimitError(NetcError):
    """A size limit was reached: expansion stops here (other errors keep it going)."""


def limit_error(span, message: str) -> LimitError:
    return LimitError([Diagnostic("error", message, span, "raise the limit with --max-layers if this is intended")])


class Expander:
    def __init__(self, program: ast.Program, max_layers: int):
        self.program = program
        self.max_layers = max_layers
        self.nodes: dict[str, Node] = {}
        self.order: list[str] = []
        self.scopes: dict[str, Scope] = {}
        self.top: list[str] = []
        self.points = PointTable(written_marks(program))
        self.owners: list[str] = [""]  # the block instances being expanded, outermost first ("" the top level)
        self.counters: dict[str, dict[str, int]] = {}
        self.call_stack: list[str] = []
        # Independent errors are collected, as a compiler does: a failed item is left out and
        # expansion goes on from the item before it. Each error is reported once.
        self.errors = Diagnostics()
        self.error_events = 0  # errors met, repeats included: a repetition stops at its first
        self.steps = 0
        self.max_steps = STEPS_PER_LAYER * max_layers + 10_000
        self.min_layers_memo: dict[int, int] = {}
        self.min_block_memo: dict[str, int] = {}
        self.inert_memo: dict[int, bool] = {}
        self.min_depth = 0
        self.naming: dict[str, str] = {}  # a loop scope (templates only) → the scope that names its nodes
        self.left_behind: list[tuple[str, str, Any]] = []  # the running tensors `from(<p>)` replaced, and where

    # --- naming and bookkeeping ---------------------------------------------------------------
    def _fresh(self, scope: str, base: str) -> str:
        counts = self.counters.setdefault(self.naming.get(scope, scope), {})
        counts[base] = counts.get(base, 0) + 1
        return numbered(base, counts[base])

    def _qualify(self, scope: str, local: str) -> str:
        scope = self.naming.get(scope, scope)
        return f"{scope}.{local}" if scope else local

    def _attach(self, scope: str, child: str) -> None:
        (self.scopes[scope].children if scope else self.top).append(child)

    def add_node(self, kind: str, attrs: dict[str, Any], inputs: tuple[str, ...], scope: str, span, text: str,
                 local: str | None = None, shape_only: tuple[int, ...] = ()) -> str:
        if len(self.order) >= self.max_layers:
            raise limit_error(span, f"the network expands past {self.max_layers:,} layers")
        least, most = KINDS[kind].inputs
        if len(inputs) < least or (most is not None and len(inputs) > most):
            count = f"{least}" if least == most else f"at least {least}" if most is None else f"{least} to {most}"
            raise NetcError.at(span, f"{kind} takes {count} input(s), got {len(inputs)}")
        local = local or self._fresh(scope, kind)
        node_id = self._qualify(scope, local)
        if node_id in self.nodes:  # an explicit local name already used: number it
            node_id = self._qualify(scope, self._fresh(scope, local))
        self.nodes[node_id] = Node(node_id, kind, attrs, inputs, scope, span, text, tuple(shape_only))
        self.order.append(node_id)
        self._attach(scope, node_id)
        return node_id

    def add_inputs(self, shape: tuple[Any, ...], first_local: str) -> str:
        """The network's input nodes, and the node `network:` starts from. An unnamed input is the
        node `first_local`; named inputs (`input: {image: …, rois: …}`) are nodes of their names,
        each also a point (`<rois>`) placed before the network, the first of them (whose shape is
        `shape`, the spec's or --input's) the one `network:` starts from."""
        program = self.program
        if not program.inputs:
            return self.add_node(INPUT_KIND, {"shape": shape}, (), "", program.input_span, "input", local=first_local)
        start = ""
        for k, decl in enumerate(program.inputs):
            attrs: dict[str, Any] = {"shape": shape if k == 0 else decl.shape, "name": decl.name}
            if decl.rows is not None:
                attrs["rows"] = decl.rows
            node = self.add_node(INPUT_KIND, attrs, (), "", decl.span, decl.name,
                                 local=first_local if k == 0 else decl.name)
            self.points.place(decl.name, None, node, "", decl.span)
            start = start or node
        return start

    def new_scope(self, kind: str, base: str, parent: str, label: str, span, entry: str | None,
                  block: str | None = None, args: dict[str, Any] | None = None, exact: bool = False) -> Scope:
        """A new scope named base1, base2, … — or exactly `base` (a head's own name) when free."""
        scope_id = self._qualify(parent, base)
        if not exact or scope_id in self.scopes or scope_id in self.nodes:
            scope_id = self._qualify(parent, self._fresh(parent, base))
        scope = Scope(scope_id, kind, label, span, parent, block, dict(args or {}), entry)
        self.scopes[scope.id] = scope
        self._attach(parent, scope.id)
        return scope

    # --- the domain: what an argument expression is -------------------------------------------
    # Here a number (the whole network is expanded); netc/graph/templates.py expands a block once with
    # its arguments as expressions instead.
    def value(self, expr: ast.Expr, env: dict[str, Any]) -> Any:
        return evaluate(expr, env)

    def attr_value(self, kind: LayerKind, attr, value: Any, span, call: ast.Call, env: dict[str, Any]) -> Any:
        return validate_attr(kind, attr, value, span, call, env)

    def block_params(self) -> dict[str, Any]:
        """The spec's params as a block body sees them."""
        return self.program.params

    # --- sequences ------------------------------------------------------------------------------
    def seq(self, seq: ast.Seq, cur: str, env: dict[str, Value], scope: str) -> str:
        for item in seq.items:
            try:
                cur = self.item(item, cur, env, scope)
            except LimitError:
                raise
            except NetcError as exc:  # leave the item out and go on: later items may hold more errors
                self.record(exc)
        return cur

    def heads(self, end: str, env: dict[str, Value]) -> list[tuple[str, str]]:
        """The network's outputs: its heads, each from the end of `network` or from its mark, or
        the end itself when there are none."""
        outputs: list[tuple[str, str]] = []
        for head in self.program.heads:
            origin = end
            if head.origin is not None:
                try:
                    origin = self.points.find(head.origin, head.origin_index, [""], head.origin_span,
                                              f"head '{head.name}' starts from", before=False)
                except NetcError as exc:
                    self.record(exc)
                    continue
            scope = self.new_scope(ScopeKind.HEAD, head.name, "", head.name, head.span, origin, exact=True)
            scope.exit = self.seq(head.body, origin, env, scope.id)
            outputs.append((head.name, scope.exit))
        return outputs or [("output", end)]

    def record(self, exc: NetcError) -> None:
        self.error_events += 1
        self.errors.add(exc)
        if self.errors.full:
            raise LimitError(self.errors.found[:MAX_ERRORS])

    def step(self, span) -> None:
        """Count a call, a stage, a repeat or one repetition: what makes expansion work. Layers are limited
        on their own; this bounds the work that makes no layers, as in ((relu)*0)*100000."""
        self.steps += 1
        if self.steps > self.max_steps:
            raise limit_error(span, f"the network takes more than {self.max_steps:,} steps to expand "
                         f"(the limit for {self.max_layers:,} layers)")

    def item(self, item: ast.Item, cur: str, env: dict[str, Value], scope: str) -> str:
        if isinstance(item, ast.Call):
            return self.call(item, cur, env, scope)
        if isinstance(item, ast.Mark):
            return self.mark(item, cur, env)
        if isinstance(item, ast.Seq):
            if item.stage:
                return self.stage(item, cur, env, scope)
            return self.seq(item, cur, env, scope)
        return self.repeat(item, cur, env, scope)

    def mark(self, item: ast.Mark, cur: str, env: dict[str, Value]) -> str:
        """A named point: the tensor after the items before it (netc/graph/points.py)."""
        index = None if item.index is None else self.index_value(item.index, env)
        self.points.place(item.name, index, cur, self.owners[-1], item.span)
        return cur

    def index_value(self, expr: ast.Expr, env: dict[str, Any]) -> Any:
        return evaluate_int(expr, env, "a point's index")

    def read_point(self, point: ast.Point, env: dict[str, Value], what: str = "reads") -> str:
        index = None if point.index is None else self.index_value(point.index, env)
        return self.points.find(point.name, index, self.owners, point.span, what)

    def read_points(self, points: tuple[ast.Point, ...], env: dict[str, Value], what: str) -> tuple[str, ...]:
        """The nodes a layer's points name, in the order written; `<m[*]>` stands for every index."""
        nodes: list[str] = []
        for point in points:
            if point.every:
                nodes += self.points.find_every(point.name, self.owners, point.span, what)
            else:
                nodes.append(self.read_point(point, env, what))
        return tuple(nodes)

    def go_on_from(self, call: ast.Call, cur: str, env: dict[str, Value]) -> str:
        """`from(<y>)`: the running tensor becomes the point's (Ultralytics' `from`, a head's
        `from:`); the tensor before it must be read by a later layer through a point, or its
        layers would be computed for nothing (checked when the network is whole)."""
        if (call.args or call.kwargs or call.point_kwargs or call.number is not None or len(call.points) != 1
                or call.points[0].every):
            raise NetcError.at(call.span, f"'{call.text}' takes one point and nothing else: from(<name>)",
                               "from(<y>) goes on from the point <y>; the layer after it may read more points")
        self.left_behind.append((cur, f"from(<{call.points[0].text}>)", call.span))
        return self.read_point(call.points[0], env, f"'{call.text}' reads")

    def stage(self, seq: ast.Seq, cur: str, env: dict[str, Value], scope: str) -> str:
        self.step(seq.span)
        stage = self.new_scope(ScopeKind.STAGE, "stage", scope, "stage", seq.span, cur)
        stage.exit = self.seq(seq, cur, env, stage.id)
        return stage.exit

    def repeat(self, item: ast.Repeat, cur: str, env: dict[str, Value], scope: str) -> str:
        self.step(item.span)
        count = evaluate_int(item.count, env, "a repeat count")
        if count < 0:  # 0 leaves the item out: the notes' template allows (FC-RELU)*K with K = 0
            raise NetcError.at(item.count.span, f"a repeat count must be at least 0, got {count}")
        if count > self.max_layers:
            raise limit_error(item.count.span, f"repeating {count:,} times expands past {self.max_layers:,} layers")
        least = count * self.min_layers(item.body)
        if len(self.order) + least > self.max_layers:
            raise limit_error(item.span, f"this repetition expands to at least {least:,} layers, "
                         f"past the limit of {self.max_layers:,}")
        if item.index and item.index in self.program.params:
            raise NetcError.at(item.span, f"repeat index '{item.index}' hides the param of the same name")
        inert = self.inert_memo.get(id(item.body))
        if inert is None:
            inert = self.inert_memo[id(item.body)] = _inert(item.body)
        if inert:
            return cur  # only (…)*0 inside: every repetition would do nothing
        for k in range(count):
            self.step(item.span)
            inner = layered({item.index: k}, env) if item.index else env
            before, errors_before = len(self.order), self.error_events
            cur = self.item(item.body, cur, inner, scope)
            made = len(self.order) - before
            if k == 0 and before + made * count > self.max_layers:
                raise limit_error(item.span, f"this repetition expands to {made * count:,} layers, "
                             f"past the limit of {self.max_layers:,}")
            if self.error_events != errors_before:
                break  # the next repetitions would repeat the same errors
        return cur

    def min_layers(self, item: ast.Item) -> int:
        """A lower bound on the layers an item expands to, known before expanding it, so that a
        limit is reported at once rather than after building 100,000 layers: repeat counts that
        are plain numbers multiply, others count as 0; a block counts its fewest layers."""
        known = self.min_layers_memo.get(id(item))  # the AST outlives the expansion: ids are stable
        if known is None:
            known = self.min_layers_memo[id(item)] = self._min_layers(item)
        return known

    def _min_layers(self, item: ast.Item) -> int:
        cap = self.max_layers + 1
        if isinstance(item, ast.Call):
            block = self.program.blocks.get(item.word)
            if block is None:
                return 1 if lookup_word(item.word) is not None else 0
            if block.name not in self.min_block_memo:
                if self.min_depth >= MAX_BLOCK_DEPTH:
                    return 0  # deeper than expansion goes: still a lower bound
                self.min_block_memo[block.name] = 0  # a recursive call counts 0 (and is an error)
                self.min_depth += 1
                try:
                    self.min_block_memo[block.name] = min(cap, self.min_block_layers(block))
                finally:
                    self.min_depth -= 1
            return self.min_block_memo[block.name]
        if isinstance(item, ast.Seq):
            return min(cap, sum(self.min_layers(i) for i in item.items))
        if isinstance(item, ast.Repeat):
            count = item.count.value if isinstance(item.count, ast.Num) and isinstance(item.count.value, int) else 0
            return min(cap, max(count, 0) * self.min_layers(item.body))
        return 0

    def min_block_layers(self, block: ast.BlockDef) -> int:
        if block.form == "parallel":
            total = sum(self.min_layers(b) for b in block.branches) + 1
        else:
            total = self.min_layers(block.body) if block.body is not None else 0
            if block.form == "residual":
                total += 1 + (self.min_layers(block.shortcut) if isinstance(block.shortcut, ast.Seq) else 0)
        return total + (self.min_layers(block.after) if block.after is not None else 0)

    # --- layers ---------------------------------------------------------------------------------
    def call(self, call: ast.Call, cur: str, env: dict[str, Value], scope: str) -> str:
        self.step(call.span)
        if call.word == ast.GO_ON_FROM:
            return self.go_on_from(call, cur, env)
        block = self.program.blocks.get(call.word)
        if block is not None:
            return self.block_call(block, call, cur, env, scope)
        found = lookup_word(call.word)
        if found is None:
            raise NetcError.at(call.span, f"unknown layer or block '{call.text}'", self.suggest(call))
        kind, fixed = found
        if call.point_kwargs:
            name, point, span = call.point_kwargs[0]
            raise NetcError.at(span, f"'{name}=<{point.text}>': a layer reads points among its positional arguments, "
                               "not by name", f"write {call.word}(<{point.text}>)")
        attrs = self.resolve_attrs(kind, fixed, call, env)
        inputs = (cur,) + self.read_points(call.points, env, f"'{call.text}' reads") if call.points else (cur,)
        shape_only = tuple(range(1, len(inputs))) if kind.points_for_shape else ()
        return self.add_node(kind.name, attrs, inputs, scope, call.span, call.text, shape_only=shape_only)

    def suggest(self, call: ast.Call) -> str | None:
        """'did you mean …?' for an unknown word that looks like a slip (covn3-64 → conv3-64, maxpol →
        maxpool), or netc's word for PyTorch's name (conv2d → conv). A word naming a layer netc does
        not have (groupnorm, deconv) is not "unknown": its own error, saying what the layer is, is
        raised here instead."""
        from ..layers.pytorch_names import foreign_name

        foreign = foreign_name(call.word)
        if foreign is not None and foreign.netc_word is None:
            raise NetcError.at(call.span, foreign.message(re.sub(r"-[0-9]+$", "", call.text)), foreign.hint)
        if foreign is not None:
            if foreign.hint:
                return foreign.hint
            match, why = foreign.netc_word, f" (netc's word for {foreign.name})"
        else:
            why, match = "", closest(call.word, known_words() + list(self.program.blocks))
            kernel = re.fullmatch(r"([a-z_]+?)([0-9]+)", call.word)
            if kernel and closest(kernel.group(1), ["conv", "convolution"]):
                match = f"conv{int(kernel.group(2))}"  # a conv word with any kernel: covn9 → conv9
        if match is None:
            return None
        if call.number is not None:
            match = f"{match}-{call.number}"
        return f"did you mean '{match}'?{why}"

    def resolve_attrs(self, kind: LayerKind, fixed: dict[str, Any], call: ast.Call, env: dict[str, Value]) -> dict[str, Any]:
        attrs, spans = bind_attrs(kind, fixed, call, self.program.defaults, lambda expr: self.value(expr, env))
        for attr in kind.attrs:
            attrs[attr.name] = self.attr_value(kind, attr, attrs[attr.name], spans.get(attr.name, call.span), call, env)
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
        least = self.min_layers(call)
        if len(self.order) + least > self.max_layers:
            raise limit_error(call.span, f"block '{block.name}' expands to at least {least:,} layers here, "
                         f"past the limit of {self.max_layers:,}")
        args, tensors = self.bind(block, call, env)
        inner_env: dict[str, Value] = layered(args, self.block_params())  # type: ignore[assignment]
        label = f"{block.name}({', '.join(_show(v) for v in args.values())})"
        instance = self.new_scope(ScopeKind.BLOCK, block.name, scope, label, call.span, cur, block.name, args)
        self.points.blocks[instance.id] = block.name
        for name, (node, span) in tensors.items():  # a point given as an argument: the body reads it as <name>
            self.points.place(name, None, node, instance.id, span)
        self.call_stack.append(block.name)
        self.owners.append(instance.id)
        try:
            out = self.block_body(block, call.span, call.text, cur, inner_env, instance.id)
            for name, span in block.outputs:
                if not any(p.owner == instance.id for p in self.points.placed.get((name, None), ())):
                    self.record(NetcError.at(span, f"block '{block.name}' names the output <{name}>, which its body "
                                             "does not place", f"place it where that tensor is: … - <{name}> - …"))
                    self.points.place(name, None, out, instance.id, span)  # so that its readers are no echo
        finally:
            self.call_stack.pop()
            self.owners.pop()
        instance.exit = out
        return out

    def block_body(self, block: ast.BlockDef, span, text: str, cur: str, env: dict[str, Value], scope: str) -> str:
        """The nodes of one use of a block; its merge and shortcut nodes carry the call's place (`span`, `text`)."""
        if block.form == "sequence":
            out = self.seq(block.body, cur, env, scope)
        elif block.form == "parallel":
            ends = []
            for branch in block.branches:
                sub = self.new_scope(ScopeKind.BRANCH, "branch", scope, "branch", branch.span, cur)
                sub.exit = self.seq(branch, cur, env, sub.id)
                ends.append(sub.exit)
            out = self.add_node(block.merge, {}, tuple(ends), scope, span, text)
        else:
            body_end = self.seq(block.body, cur, env, scope)
            if block.shortcut == "identity":
                short_end = cur
            elif block.shortcut in ("auto", "zeropad"):
                blocks = self.program.blocks
                attrs = {"bn": _uses_batchnorm(block.body, blocks), "zeropad": block.shortcut == "zeropad"}
                if not attrs["bn"] and _uses_batchnorm(block.body, blocks, frozen=True):
                    attrs["frozen"] = True  # a detection backbone's FrozenBatchNorm2d: its projection's too
                short_end = self.add_node(SHORTCUT_KIND, attrs, (cur, body_end), scope, span, text,
                                          local="shortcut", shape_only=(1,))
            else:
                sub = self.new_scope(ScopeKind.SHORTCUT, "shortcut", scope, "shortcut", block.shortcut.span, cur)
                sub.exit = short_end = self.seq(block.shortcut, cur, env, sub.id)
            out = self.add_node(block.merge, {}, (body_end, short_end), scope, span, text)
        if block.after is not None:
            out = self.seq(block.after, out, env, scope)
        return out

    def bind(self, block: ast.BlockDef, call: ast.Call, env: dict[str, Value]
             ) -> tuple[dict[str, Value], dict[str, tuple[str, Any]]]:
        """The block's arguments by name, and the tensors of those given points (`unit(<h>, <l>)`):
        each is read here, in the caller's scope, and placed inside the use as a mark of the
        argument's name."""
        names = [p.name for p in block.params]
        positional: list[ast.Expr | ast.Point] = list(call.args)
        for place, point in zip(call.point_at, call.points):
            positional.insert(place, point)
        if len(positional) > len(names):
            extra = positional[len(names)]
            hint = (f"a point is given to an argument of the block's own (its body reads it as <name>), or "
                    f"merged after the block: {block.name}(…)-concat(<{extra.base}>)"
                    if isinstance(extra, ast.Point) else None)
            raise NetcError.at(
                extra.span,
                f"block '{block.name}' takes {len(names)} argument(s) ({', '.join(names) or 'none'}); got {len(positional)}",
                hint,
            )
        bound: dict[str, Value] = {}
        tensors: dict[str, tuple[str, Any]] = {}

        def take(name: str, given: ast.Expr | ast.Point) -> Value:
            if not isinstance(given, ast.Point):
                return self.value(given, env)
            if given.every:
                raise NetcError.at(given.span, f"argument '{name}' of block '{block.name}' takes one point, "
                                   f"not every index of <{given.base}>")
            tensors[name] = (self.read_point(given, env, f"block '{block.name}' reads"), given.span)
            return Symbol(f"<{given.text}>")

        for param, given in zip(block.params, positional):
            bound[param.name] = take(param.name, given)
        lowered = {n.lower(): n for n in names}
        for name, given, span in sorted(call.kwargs + call.point_kwargs, key=lambda k: (k[2].line, k[2].col)):
            real = lowered.get(name)
            if real is None:
                listing = ", ".join(names) if names else "no arguments"
                raise NetcError.at(span, f"block '{block.name}' has no argument '{name}' (it takes {listing})",
                                   did_you_mean(name, names))
            if real in bound:
                raise NetcError.at(span, f"argument '{real}' of block '{block.name}' given twice")
            bound[real] = take(real, given)
        for param in block.params:
            if param.name not in bound:
                if param.default is None:
                    raise NetcError.at(call.span, f"block '{block.name}' needs argument '{param.name}'")
                bound[param.name] = Symbol(param.default) if isinstance(param.default, str) else param.default
        return {p.name: bound[p.name] for p in block.params}, tensors


def _inert(item: ast.Item) -> bool:
    """Whether expanding an item certainly does nothing: it holds only repeats counted 0."""
    if isinstance(item, ast.Repeat):
        return (isinstance(item.count, ast.Num) and item.count.value == 0) or _inert(item.body)
    if isinstance(item, ast.Seq):  # an empty stage [(…)*0] included: it names nothing
        return all(_inert(i) for i in item.items)
    return False


def _show(value: Value) -> str:
    return str(value) if not isinstance(value, float) else f"{value:g}"


def _uses_batchnorm(seq: ast.Seq, blocks: dict[str, ast.BlockDef], seen: frozenset[str] = frozenset(),
                    frozen: bool = False) -> bool:
    """Whether a residual body uses batch norm (with `frozen`, a frozen one), itself or in a block
    it calls, so that its automatic projection gets one too."""
    for item in seq.items:
        while isinstance(item, ast.Repeat):
            item = item.body
        if isinstance(item, ast.Seq) and _uses_batchnorm(item, blocks, seen, frozen):
            return True
        if not isinstance(item, ast.Call):
            continue
        block = blocks.get(item.word)
        if block is not None:
            if block.name in seen:
                continue  # a block calling itself is reported where it is expanded
            parts = [block.body, *block.branches] if block.body is not None else list(block.branches)
            if any(part is not None and _uses_batchnorm(part, blocks, seen | {block.name}, frozen) for part in parts):
                return True
            continue
        found = lookup_word(item.word)
        if found is not None and (found[0].frozen_norm if frozen else found[0].batch_norm):
            return True
    return False
