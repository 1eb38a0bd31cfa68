"""Generic block classes, written from the block's definition (its AST), not from one instance.

`bottleneck(width, stride=1)` becomes `class Bottleneck(nn.Module)` with
`__init__(self, in_channels, width, stride=1)`: the body is walked once with the arguments and the
input channels as Python names (`symbolic.Code`), so each layer kind writes `nn.Conv2d(in_channels,
width, ...)`, the channel count is tracked as an expression (`width * 4`, `c1 + c3 + c5 + pp`), an
automatic shortcut becomes `nn.Identity()` or a projection chosen in __init__, and a repeat whose
count is an argument becomes a loop building an nn.Sequential.

The walk is made once per instance of the block, side by side with that instance's expanded
nodes: each layer the walk writes must be the node the expander made (same name, kind, inputs and
— evaluated with the instance's arguments — same attributes). That proves the class builds what
the analysis analysed, gives each node's module path for the tests, and collects every
instance's shapes for the comments. All instances must give the same class text.

What cannot be generic raises `NotGeneric`: with the argument names to fix (a word argument such
as `padding=pad`, a `bias=b`), the block gets one class per value of those; without names (a
dense layer that needs the spatial size, an unknown kind), one class per concrete instance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from .. import ast
from ..expand import _validate, bind_attrs
from ..exprs import evaluate, evaluate_int
from ..ir import ScopeKind, numbered
from ..layers import KINDS, Conditional, Constructor, ShapeError, lookup_word
from ..layers.base import NoSymbolicRule, exact
from .concrete import _call, constructor_expr, is_alias, with_inplace
from .elements import Container, Element, Group, Handle, Loop, Note
from .pysrc import Bracketed, Raw, Stmt, comment, literal, strip_parens, where
from .symbolic import ATOM, SPATIAL, Code, NeedsSpatial, as_int, mul, names_of, translate

if TYPE_CHECKING:
    from .plan import Generator


class NotGeneric(Exception):
    """The block cannot be one generic class: `names` are the arguments to fix (None: none helps)."""

    def __init__(self, names: frozenset[str] | None, why: str):
        super().__init__(why)
        self.names = names


class Mismatch(NotGeneric):
    """The walk and the expanded instance disagree: a bug, met by writing the block per use."""


@dataclass
class Slot:
    """A comment waiting for every instance's shapes."""

    note: Note
    shape: tuple[Any, ...]  # symbolic
    stride: Any  # symbolic stride product since the block input, None when unknown
    span: Any
    samples: list[tuple[tuple[int, ...], tuple[int, ...], int | None]] = field(default_factory=list)


@dataclass
class Cur:
    handle: Handle
    shape: tuple[Any, ...]  # symbolic: channels as a number or Code, spatial as SPATIAL or numbers
    ir: str  # the instance's node holding this tensor
    stride: Any = 1  # symbolic stride product since the block input (None: unknown)
    stride_val: int | None = 1  # the same for this instance


@dataclass
class Ctx:
    container: Container
    ir: str  # IR scope the expander names nodes in
    tag: str


def _qualify(scope: str, local: str) -> str:
    return f"{scope}.{local}" if scope else local


class BlockWalk:
    """One walk of a block body for one instance: code from the symbols, checks from the instance."""

    def __init__(self, gen: Generator, block: ast.BlockDef, instance_id: str, sym_env: dict[str, Any],
                 locals_: LocalNames, slots: list[Slot] | None):
        self.gen = gen
        self.net = gen.network
        self.block = block
        self.instance = self.net.scopes[instance_id]
        self.sym_env = sym_env
        self.val_env: dict[str, Any] = {**self.net.program.params, **self.instance.args}
        self.locals = locals_
        self.slots = slots  # None: a nested walk made only for the output shape
        self.recording = slots is not None  # off while later repetitions of a loop are checked
        self.ir_counts: dict[str, dict[str, int]] = {}
        self.ir_taken: set[str] = set()
        entry = self.gen.analysis[self.instance.entry]
        self.base_hw = tuple(entry.shape[1:])

    # --- the expander's naming -------------------------------------------------------------------
    def _fresh_ir(self, scope: str, base: str) -> str:
        counts = self.ir_counts.setdefault(scope, {})
        counts[base] = counts.get(base, 0) + 1
        return numbered(base, counts[base])

    def _node(self, scope: str, local: str, kind: str, inputs: tuple[str, ...]):
        node_id = _qualify(scope, local)
        node = self.net.node_map.get(node_id)
        if node is None or node.kind != kind or tuple(node.inputs) != tuple(inputs):
            raise Mismatch(None, f"the walk of block '{self.block.name}' does not meet node {node_id}")
        self.ir_taken.add(node_id)
        return node

    def _scope(self, scope_id: str, kind: str, entry: str):
        scope = self.net.scopes.get(scope_id)
        if scope is None or scope.kind != kind or scope.entry != entry:
            raise Mismatch(None, f"the walk of block '{self.block.name}' does not meet scope {scope_id}")
        return scope

    # --- the block ---------------------------------------------------------------------------------
    def run(self, container: Container, entry: Cur) -> Cur:
        block, scope = self.block, self.instance.id
        ctx = Ctx(container, scope, "")
        if block.form == "sequence":
            out = self.seq(block.body, entry, ctx)
        elif block.form == "parallel":
            ends = [self.group(branch, entry, ctx, "branch") for branch in block.branches]
            out = self.merge(block.merge, block, ends, ctx)
        else:
            body = self.seq(block.body, entry, ctx)
            if block.shortcut == "identity":
                short = entry
            elif isinstance(block.shortcut, str):
                short = self.projection(entry, body, ctx)
            else:
                short = self.group(block.shortcut, entry, ctx, "shortcut")
            out = self.merge(block.merge, block, [body, short], ctx)
        if block.after is not None:
            out = self.seq(block.after, out, ctx)
        if out.ir != self.instance.exit:
            raise Mismatch(None, f"block '{block.name}' ends elsewhere than its instance {self.instance.id}")
        return out

    def seq(self, seq: ast.Seq, cur: Cur, ctx: Ctx) -> Cur:
        for item in seq.items:
            cur = self.item(item, cur, ctx)
        return cur

    def item(self, item: ast.Item, cur: Cur, ctx: Ctx) -> Cur:
        if isinstance(item, ast.Call):
            block = self.net.program.blocks.get(item.word)
            if block is not None:
                return self.block_call(block, item, cur, ctx)
            found = lookup_word(item.word)
            if found is None:
                raise Mismatch(None, f"unknown word {item.word}")
            return self.layer(found[0], found[1], item, cur, ctx)
        if isinstance(item, ast.Mark):
            return cur
        if isinstance(item, ast.Seq):
            if item.stage:
                return self.group(item, cur, ctx, "stage")
            return self.seq(item, cur, ctx)
        return self.repeat(item, cur, ctx)

    # --- layers ----------------------------------------------------------------------------------------
    def attrs(self, kind, fixed, call: ast.Call) -> dict[str, Any]:
        defaults = self.net.program.defaults
        values, spans = bind_attrs(kind, fixed, call, defaults, lambda e: evaluate(e, self.val_env))
        for attr in kind.attrs:
            values[attr.name] = _validate(kind, attr, values[attr.name], spans.get(attr.name, call.span), call,
                                          self.val_env)
        symbols, spans = bind_attrs(kind, fixed, call, defaults, lambda e: translate(e, self.sym_env))
        for attr in kind.attrs:
            value = symbols[attr.name]
            if isinstance(value, Code):
                if attr.type in ("int", "padding"):
                    value = as_int(value)
                elif attr.type != "float":
                    raise NotGeneric(value.names, f"{kind.name} {attr.name} must be known for the class")
            else:
                value = _validate(kind, attr, value, spans.get(attr.name, call.span), call, {})
            symbols[attr.name] = value
        return values, symbols

    def layer(self, kind, fixed, call: ast.Call, cur: Cur, ctx: Ctx) -> Cur:
        node = self._node(ctx.ir, self._fresh_ir(ctx.ir, kind.name), kind.name, (cur.ir,))
        values, attrs = self.attrs(kind, fixed, call)
        if values != dict(node.attrs):
            raise Mismatch(None, f"attributes of {node.id} differ from the walk's")
        info = self.gen.analysis[node.id]
        shapes = [cur.shape]
        try:
            shape = self.out_shape(kind, attrs, shapes)
            build = kind.constructor(attrs, shapes)
            if isinstance(build, Conditional):
                raise NotGeneric(None, f"{kind.name} builds a conditional module")
            alias = is_alias(kind, attrs, build, shapes)
            kind.forward(attrs, "\0m", ["\0a"], shapes)  # writes nothing it cannot write
        except NeedsSpatial:
            raise NotGeneric(None, f"{kind.name} needs the input's height and width") from None
        except NoSymbolicRule as exc:
            raise NotGeneric(None, str(exc)) from None
        if len(shape) != len(info.shape):
            raise Mismatch(None, f"rank of {node.id}")
        stride, stride_val = self.stride(kind, attrs, shapes, node, info, cur)
        if alias:
            return Cur(cur.handle, shape, node.id, stride, stride_val)
        inplace = isinstance(build, Constructor) and cur.handle.overwritable and kind.runs_inplace(attrs)
        if inplace:
            build = with_inplace(build)
        out = Handle(ctx.tag, overwritable=kind.overwritable and info.stored and not inplace)

        name = ctx.container.fresh(kind.name)
        fattrs, fshapes, stored = self.forward_values(name, attrs, shapes)

        def forward(module, args, attrs=fattrs, shapes=fshapes, kind=kind):
            return kind.forward(attrs, module, args, shapes)

        note = self.slot(shape, stride, node.span, node.id, stride_val)
        paths = {node.id: ""} if build is not None else {}
        expr = constructor_expr(build) if build is not None else None
        stored = self.used(stored, forward("\0m", ["\0a"]))
        ctx.container.add(Element(name, expr, forward, [cur.handle], out, note, paths, stored=stored))
        return Cur(out, shape, node.id, stride, stride_val)

    def out_shape(self, kind, attrs, shapes) -> tuple[Any, ...]:
        concrete = all(isinstance(d, int) for s in shapes for d in s) and not any(
            isinstance(v, Code) for v in attrs.values())
        if concrete:
            return tuple(kind.infer(attrs, [tuple(s) for s in shapes])[0])
        try:
            return tuple(kind.symbolic_shape(attrs, shapes))
        except NoSymbolicRule:
            raise NotGeneric(None, f"{kind.name} has no rule for sizes given as expressions") from None

    def stride(self, kind, attrs, shapes, node, info, cur: Cur) -> tuple[Any, int | None]:
        try:
            step = kind.receptive(attrs, shapes)[1]
            if isinstance(step, Fraction) or isinstance(cur.stride, Fraction):  # upsampled: numbers only
                numeric = isinstance(cur.stride, (int, Fraction)) and isinstance(step, (int, Fraction))
                stride = exact(cur.stride * step) if numeric else None
            else:
                stride = None if cur.stride is None else mul(cur.stride, step)
        except _RULE_FAILURES:  # a rule that needs sizes the class does not know
            stride = None
        try:
            step_val = kind.receptive(node.attrs, list(info.inputs))[1]
            stride_val = None if cur.stride_val is None else cur.stride_val * step_val
        except _RULE_FAILURES:
            stride_val = None
        return stride, stride_val

    def merge(self, kind_name: str, block: ast.BlockDef, ins: list[Cur], ctx: Ctx) -> Cur:
        kind = KINDS[kind_name]
        node = self._node(ctx.ir, self._fresh_ir(ctx.ir, kind_name), kind_name, tuple(c.ir for c in ins))
        info = self.gen.analysis[node.id]
        attrs = dict(node.attrs)
        shapes = [c.shape for c in ins]
        shape = self.out_shape(kind, attrs, shapes)
        try:
            kind.forward(attrs, None, [f"\0{i}" for i in range(len(ins))], shapes)
        except NeedsSpatial:
            raise NotGeneric(None, f"{kind_name} needs the input's height and width") from None
        out = Handle(ctx.tag, overwritable=kind.overwritable and info.stored)

        name = ctx.container.fresh(kind_name)
        fattrs, fshapes, stored = self.forward_values(name, attrs, shapes)

        def forward(module, args, attrs=fattrs, shapes=fshapes, kind=kind):
            return kind.forward(attrs, module, args, shapes)

        stored = self.used(stored, forward(None, [f"\0{i}" for i in range(len(ins))]))
        strides = {str(c.stride) for c in ins}
        stride = ins[0].stride if len(strides) == 1 else None
        stride_val = ins[0].stride_val if len({c.stride_val for c in ins}) == 1 else None
        note = self.slot(shape, stride, self.block.span, node.id, stride_val)  # the block's, not a call's
        ctx.container.add(Element(name, None, forward, [c.handle for c in ins], out, note, stored=stored))
        return Cur(out, shape, node.id, stride, stride_val)

    def projection(self, entry: Cur, body: Cur, ctx: Ctx) -> Cur:
        """The automatic shortcut: identity when the body keeps the shape, else what the kind builds,
        decided in __init__ from the arguments."""
        local = "shortcut" if _qualify(ctx.ir, "shortcut") not in self.ir_taken else self._fresh_ir(ctx.ir, "shortcut")
        node = self._node(ctx.ir, local, "projection", (entry.ir, body.ir))
        kind = KINDS["projection"]
        info = self.gen.analysis[node.id]
        if body.stride is None or body.stride_val is None:
            raise NotGeneric(None, "the body's stride is not known from the arguments")
        project = info.stored  # a projection makes a new tensor; the identity hands its input on
        stride_val = kind.receptive(node.attrs, list(info.inputs))[1]
        keeps = info.inputs[0][0] == info.inputs[1][0] and body.stride_val == 1
        if project == keeps or (project and stride_val != body.stride_val):
            raise NotGeneric(None, "the body changes the size by other than its strides")
        attrs = {**node.attrs, "stride": body.stride}
        shapes = [entry.shape, body.shape]
        try:
            build = kind.constructor(attrs, shapes)
            kind.forward(attrs, "\0m", ["\0a", "\0b"], shapes)
        except (NeedsSpatial, NoSymbolicRule):
            raise NotGeneric(None, "the shortcut needs the input's height and width") from None
        alternative = None
        if isinstance(build, Conditional):
            condition = _simplify(build.condition)
            decided = True if condition is None else _decide(condition)
            if decided is None:
                alternative = (condition, constructor_expr(build.module))
                build = build.identity
            else:
                build = build.identity if decided else build.module
        shape = body.shape
        out = Handle("shortcut")
        note = self.slot(shape, body.stride, self.block.span, node.id, body.stride_val)
        if build is None and is_alias(kind, attrs, build, shapes):
            return Cur(entry.handle, shape, node.id, body.stride, body.stride_val)

        name = "shortcut"
        fattrs, fshapes, stored = self.forward_values(name, attrs, shapes)

        def forward(module, args, attrs=fattrs, shapes=fshapes):
            return kind.forward(attrs, module, args, shapes)

        stored = self.used(stored, forward("\0m", ["\0a", "\0b"]))
        expr = constructor_expr(build) if build is not None else None
        paths = {node.id: ""} if build is not None else {}
        element = Element(name, expr, forward, [entry.handle, body.handle], out, note, paths, shape_only=(1,),
                          alternative=alternative, stored=stored)
        ctx.container.add(element)
        return Cur(out, shape, node.id, body.stride, body.stride_val)

    def forward_values(self, name: str, attrs: dict[str, Any], shapes: list[tuple[Any, ...]]):
        """Attributes and shapes for a kind's forward: an argument-dependent value (a zero-pad
        shortcut's stride) is kept on the module in __init__ and read back as `self.<name>`."""
        stored: list[tuple[str, Code]] = []

        def keep(key: str, value: Any) -> Any:
            if not isinstance(value, Code):
                return value
            attr = f"{name}_{key}"
            stored.append((attr, value))
            return Code(f"self.{attr}", ATOM, value.names, value.is_int)

        fattrs = {k: keep(k, v) for k, v in attrs.items()}
        fshapes = [tuple(keep(f"channels{i}" if j == 0 else f"size{i}_{j}", d) for j, d in enumerate(shape))
                   for i, shape in enumerate(shapes)]
        return fattrs, fshapes, stored

    @staticmethod
    def used(stored: list[tuple[str, Code]], text: str) -> list[tuple[str, Code]]:
        import re

        return [(n, v) for n, v in stored if re.search(rf"\bself\.{n}\b", text)]

    # --- groups, blocks, repeats -------------------------------------------------------------------------
    def group(self, seq: ast.Seq, cur: Cur, ctx: Ctx, kind: str) -> Cur:
        scope_id = _qualify(ctx.ir, self._fresh_ir(ctx.ir, kind))
        scope = self._scope(scope_id, kind, cur.ir)
        name = "shortcut" if kind == "shortcut" else ctx.container.fresh(kind)
        tag = ctx.tag if kind == "stage" else name
        group = Group(name, tag, cur.handle, Note())
        end = self.seq(seq, cur, Ctx(group, scope.id, tag))
        if end.ir != scope.exit:
            raise Mismatch(None, f"{scope_id} ends elsewhere")
        group.note = self.slot(end.shape, end.stride, seq.span, scope.exit, end.stride_val)
        for element in group.finish(end.handle):
            ctx.container.add(element)
        return end

    def block_call(self, block: ast.BlockDef, call: ast.Call, cur: Cur, ctx: Ctx) -> Cur:
        scope_id = _qualify(ctx.ir, self._fresh_ir(ctx.ir, block.name))
        scope = self._scope(scope_id, ScopeKind.BLOCK, cur.ir)
        if scope.block != block.name:
            raise Mismatch(None, f"{scope_id} is not a '{block.name}'")
        symbols = bind_block_args(block, call, lambda e: translate(e, self.sym_env))
        values = bind_block_args(block, call, lambda e: evaluate(e, self.val_env))
        if values != scope.args:
            raise NotGeneric(None, f"arguments of {scope_id} differ from the walk's")
        ref = self.gen.class_ref(scope_id)
        if ref is None or ref.variant is None or not ref.variant.generic:
            raise NotGeneric(None, f"block '{block.name}' inside it is written per use")
        variant = ref.variant
        for name in variant.static:
            if isinstance(symbols[name], Code):
                raise NotGeneric(symbols[name].names, f"argument '{name}' of '{block.name}' must be known")
        if variant.static_in and isinstance(cur.shape[0], Code):
            raise NotGeneric(cur.shape[0].names, f"the input channels of '{block.name}' must be known")
        inner_env = {**self.net.program.params, **symbols}
        sub = BlockWalk(self.gen, block, scope_id, inner_env, LocalNames(self.locals.taken), None)
        end = sub.run(Container(), Cur(Handle(), cur.shape, cur.ir, cur.stride, cur.stride_val))
        self.ir_taken |= sub.ir_taken
        out = Handle(ctx.tag)
        build = Bracketed(f"{variant.class_name}(", ")", variant.call_items(cur.shape[0], symbols))
        note = self.slot(end.shape, end.stride, call.span, scope.exit, end.stride_val)
        name = ctx.container.fresh(block.name)
        ctx.container.add(Element(name, build, _call, [cur.handle], out, note, dict(ref.paths)))
        return Cur(out, end.shape, scope.exit, end.stride, end.stride_val)

    def repeat(self, item: ast.Repeat, cur: Cur, ctx: Ctx) -> Cur:
        count = translate(item.count, self.sym_env)
        count_val = evaluate_int(item.count, self.val_env, "a repeat count")
        if not isinstance(count, Code):
            for k in range(count_val):
                cur = self.with_index(item.index, k, k, lambda cur=cur: self.item(item.body, cur, ctx))
            return cur
        return self.loop(item, count, count_val, cur, ctx)

    def with_index(self, index: str | None, sym: Any, val: int, walk):
        if index is None:
            return walk()
        saved = (self.sym_env.get(index, _MISSING), self.val_env.get(index, _MISSING))
        self.sym_env[index], self.val_env[index] = sym, val
        try:
            return walk()
        finally:
            for env, old in ((self.sym_env, saved[0]), (self.val_env, saved[1])):
                if old is _MISSING:
                    env.pop(index, None)
                else:
                    env[index] = old

    def loop(self, item: ast.Repeat, count: Code, count_val: int, cur: Cur, ctx: Ctx) -> Cur:
        names = count.names | names_of(cur.shape[0])
        if count_val == 0:
            raise NotGeneric(count.names, "a repeat that runs 0 times shows no body")
        list_var, channel_var = self.locals.fresh("layers"), self.locals.fresh("channels")
        index = self.locals.fresh(item.index) if item.index else "_"
        header = f"for {index} in range({strip_parens(str(as_int(count)))})"
        name = ctx.container.fresh("repeat")
        loop = Loop(name, cur.handle, Note(), header, list_var, channel_var, cur.shape[0])
        body_in = (Code(channel_var, ATOM, names),) + tuple(SPATIAL for _ in cur.shape[1:])
        position, ir, stride_val, end = 0, cur.ir, cur.stride_val, None
        for k in range(count_val):
            target = loop if k == 0 else Container()
            start = Handle()
            entry = Cur(start, body_in, ir, 1, 1)
            recording, self.recording = self.recording, self.recording and k == 0
            try:
                end = self.with_index(item.index, Code(index, ATOM, count.names), k,
                                      lambda entry=entry, target=target: self.item(item.body, entry,
                                                                                   Ctx(target, ctx.ir, ctx.tag)))
            finally:
                self.recording = recording
            previous = start
            for element in target.elements:
                if not element.plain or element.data_inputs() != [previous]:
                    raise NotGeneric(names, "a repeat body that is not a chain of single modules")
                for node, path in element.paths.items():
                    loop.paths[node] = f"{position}.{path}" if path else str(position)
                position += 1
                previous = element.out
            if len(end.shape) != len(body_in):
                raise NotGeneric(names, "a repeat body that changes the rank")
            ir = end.ir
            stride_val = None if stride_val is None or end.stride_val is None else stride_val * end.stride_val
            if k == 0:
                first = end
                if first.shape[0] != body_in[0]:
                    loop.body_tail.append(Stmt(Raw(literal(first.shape[0])), channel_var))
        channels = Code(channel_var, ATOM, names) if loop.body_tail else cur.shape[0]
        shape = (channels,) + tuple(SPATIAL for _ in cur.shape[1:])
        stride = cur.stride if first.stride == 1 else None
        out = Handle(ctx.tag)
        label = (_last_value(first.shape[0], index, count, channel_var),) + shape[1:] if loop.body_tail else shape
        loop.note = self.slot(label, stride, item.span, ir, stride_val)
        element = loop.finish(out)
        ctx.container.add(element)
        return Cur(out, shape, ir, stride, stride_val)

    # --- comments --------------------------------------------------------------------------------------
    def slot(self, shape, stride, span, node_id: str, stride_val) -> Note:
        note = Note()
        if self.recording and self.slots is not None:
            out = tuple(self.gen.analysis[node_id].shape)
            self.slots.append(Slot(note, shape, stride, span, [(self.base_hw, out[1:], stride_val)]))
        return note


def _last_value(value: Any, index: str, count: Code, channel_var: str) -> Any:
    """A loop body's channel count after the last repetition, for the comment: the index
    replaced by count - 1 (`c + 2 * i` → `c + 2 * (n - 1)`); "?" when it grows from itself."""
    import re

    text = str(value)
    if re.search(rf"(?<![.\w]){re.escape(channel_var)}\b", text):
        return "?"
    if index == "_":
        return value
    last = strip_parens(str(count))
    last = f"({last} - 1)" if last.isidentifier() or last.isdigit() or count.prec >= ATOM else f"(({last}) - 1)"
    return re.sub(rf"(?<![.\w]){re.escape(index)}\b", last, text)


_MISSING = object()
_RULE_FAILURES = (NeedsSpatial, NoSymbolicRule, ShapeError, TypeError, ValueError, ArithmeticError, KeyError)


def _decide(condition: str) -> bool | None:
    """A condition over numbers only is decided now; one with names is left to __init__."""
    import re

    bare = re.sub(r"\b(and|or|not)\b", " ", condition)
    if not re.fullmatch(r"[0-9 ()+\-*/%=<>!]*", bare):
        return None
    return bool(eval(condition, {"__builtins__": {}}, {}))  # digits, operators, and/or/not only


def _simplify(condition: str) -> str | None:
    """Drop the parts of `a == b and 1 == 1` that compare a thing with itself; None when nothing
    is left (always true)."""
    parts = condition.split(" and ")
    kept = []
    for part in parts:
        sides = part.split(" == ")
        if len(sides) == 2 and sides[0].strip() == sides[1].strip():
            continue
        kept.append(part)
    return " and ".join(kept) if kept else None


def bind_block_args(block: ast.BlockDef, call: ast.Call, value_of) -> dict[str, Any]:
    """A call's arguments by parameter, as the expander binds them (positional, named, defaults)."""
    from ..exprs import Symbol

    bound: dict[str, Any] = {}
    for param, expr in zip(block.params, call.args):
        bound[param.name] = value_of(expr)
    lowered = {p.name.lower(): p.name for p in block.params}
    for name, expr, _ in call.kwargs:
        bound[lowered.get(name, name)] = value_of(expr)
    for param in block.params:
        if param.name not in bound:
            bound[param.name] = Symbol(param.default) if isinstance(param.default, str) else param.default
    return {p.name: bound[p.name] for p in block.params}


class LocalNames:
    """Names of __init__ locals in one class: parameters, loop lists, loop variables."""

    def __init__(self, taken: set[str]):
        self.taken = set(taken)

    def fresh(self, base: str) -> str:
        from .names import local

        if base in ("layers", "channels"):
            text, n = base, 2
            while text in self.taken:
                text = f"{base}{n}"
                n += 1
            self.taken.add(text)
            return text
        return local(base, self.taken)


def comment_text(slot: Slot) -> str:
    """`[B, width * 4, H/stride, W/stride]  path:line:col` from the symbolic shape and every
    instance's sizes: H and W are the block input's; H/s is rounded up."""
    shape = slot.shape
    channels = strip_parens(str(shape[0])) if isinstance(shape[0], str) else str(shape[0])
    dims = [channels]
    for axis, letter in ((0, "H"), (1, "W")):
        if len(shape) < 3:
            break
        outs = [s[1][axis] for s in slot.samples]
        bases = [s[0][axis] if len(s[0]) > axis else None for s in slot.samples]
        if all(o == b for o, b in zip(outs, bases)):
            dims.append(letter)
        elif len(set(outs)) == 1 and isinstance(shape[1 + axis], int):
            dims.append(str(outs[0]))
        elif isinstance(slot.stride, Fraction) and slot.stride < 1 and (1 / slot.stride).denominator == 1 and all(
            b is not None and o == b * int(1 / slot.stride) for o, b in zip(outs, bases)
        ):
            dims.append(f"{letter}*{int(1 / slot.stride)}")  # upsampled: a step of 1/k is k outputs a pixel
        elif slot.stride is not None and all(
            s[2] and b is not None and o == -(-b // s[2]) for s, o, b in zip(slot.samples, outs, bases)
        ):
            text = strip_parens(str(slot.stride))
            dims.append(f"{letter}/{text}" if text.isidentifier() or text.isdigit() else f"{letter}/({text})")
        elif len(set(outs)) == 1:
            dims.append(str(outs[0]))
        else:
            dims.append("?")
    return comment(f"[B, {', '.join(dims)}]  {where(slot.span)}")
