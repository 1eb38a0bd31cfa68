"""Structure recovery: the traced ops (netc/importer/tracing.py) as netc's sequences, blocks,
repetitions and stages.

1. Series-parallel decomposition of the data flow. Walking back from the output, a layer follows
   its one input; a merge (concat, add, mul) forks at the nearest common dominator of its inputs,
   and each input is a branch from there. A value read past its branch (a graph netc could only
   write with marks) is an error naming the op.
2. Scopes. Each op carries the stack of modules it ran in (torch.fx's nn_module_stack); consecutive
   items of one module instance are grouped into it. A merge belongs to the module around its
   branches and itself (DenseNet's concatenations, rebuilt by the tracer, to their branches' layer).
3. Lowering, bottom-up. A module instance whose items are a merge (and layers after it) is a
   `parallel:` or `residual:` block (`shortcut: auto` where the shortcut is the identity or the 1×1
   projection netc would make, else the shortcut's own layers; `after:` the layers after the merge);
   one made of layers and block calls is a `body:` block; a plain container (nn.Sequential, a
   module holding only block calls) is inlined, or at the top a stage `[...]` when its calls are of
   one module class (ResNet's layer1…4, DenseNet's dense blocks). A class used once as a plain
   sequence is inlined. A merge inside a module with other items around it becomes a block of its own.
4. Arguments. The instances of one module class with the same structure are one block; every
   attribute is a slot, and a slot whose value differs between instances is an argument (slots
   with equal values across all instances are one argument; a slot that is k times another, the
   bottleneck's `width*4`). An argument whose commonest value covers most instances (a stride of 1)
   gets it as its default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .mapping import SAME, Layer, Unmappable
from .tracing import Op, Traced


# --- 1. the data flow as sequences and merges ---------------------------------------------------------
@dataclass
class LItem:
    op: Op

    @property
    def stack(self):
        return self.op.stack


@dataclass
class PItem:
    branches: list[list]
    op: Op  # the merge
    stack: tuple = ()


def _meet(names: list[str], idom: dict[str, str | None], depth: dict[str, int]) -> str:
    """The nearest point every one of `names` passes through: their lowest common dominator."""
    a = names[0]
    for b in names[1:]:
        while a != b:
            if depth[a] >= depth[b]:
                a = idom[a]  # type: ignore[assignment]
            else:
                b = idom[b]  # type: ignore[assignment]
    return a


def _dominators(traced: Traced) -> tuple[dict[str, str | None], dict[str, int]]:
    idom: dict[str, str | None] = {traced.input: None}
    depth = {traced.input: 0}
    for name, op in traced.ops.items():
        preds = [p for p in op.inputs if p in depth]
        if not preds:  # a constant computed from nothing the input feeds
            raise Unmappable(op.what, "a tensor that does not depend on the model's input")
        d = _meet(preds, idom, depth)
        idom[name] = d
        depth[name] = depth[d] + 1
    return idom, depth


def decompose(traced: Traced) -> list:
    idom, depth = _dominators(traced)

    def lca(names: list[str]) -> str:
        return _meet(names, idom, depth)

    visited: set[str] = set()

    def region(entry: str, value: str) -> list:
        items: list = []
        while value != entry:
            op = traced.ops[value]
            if value in visited:
                raise Unmappable(op.what, "its output is read by two branches that merge elsewhere: the graph is not "
                                 "sequences and merges of branches from one point",
                                 "netc writes such graphs with marks (<name>), which `netc import` does not write yet")
            visited.add(value)
            if op.merge is not None:
                fork = lca(list(op.inputs))
                items.append(PItem([region(fork, i) for i in op.inputs], op))
                value = fork
            else:
                items.append(LItem(op))
                value = op.inputs[0]
        items.reverse()
        return items

    items = region(traced.input, traced.output)
    _par_stacks(items)
    return items


def _common(stacks: list[tuple]) -> tuple:
    if not stacks:
        return ()
    first = stacks[0]
    n = min(len(s) for s in stacks)
    k = 0
    while k < n and all(s[k] == first[k] for s in stacks):
        k += 1
    return first[:k]


def _ops_in(items: list) -> list[Op]:
    found: list[Op] = []
    for item in items:
        if isinstance(item, LItem):
            found.append(item.op)
        else:
            found.append(item.op)
            for branch in item.branches:
                found += _ops_in(branch)
    return found


def _par_stacks(items: list) -> None:
    for item in items:
        if isinstance(item, PItem):
            for branch in item.branches:
                _par_stacks(branch)
            inner = [op.stack for branch in item.branches for op in _ops_in(branch)]
            if not inner:
                item.stack = item.op.stack
                continue
            branches = _common(inner)
            merge = item.op.stack
            if item.op.rewritten or merge[:len(branches)] != branches[:len(merge)] or len(merge) > len(branches):
                item.stack = branches  # a merge placed in a sibling module: the branches decide
            else:
                item.stack = _common([branches, merge])


# --- 2. scopes -----------------------------------------------------------------------------------------
@dataclass
class SItem:
    key: str
    path: str
    cls: str
    items: list


def _scope_at(item, depth: int):
    stack = item.stack
    return stack[depth] if len(stack) > depth else None


def group(items: list, depth: int = 0) -> list:
    out: list = []
    i = 0
    while i < len(items):
        scope = _scope_at(items[i], depth)
        if scope is None:
            item = items[i]
            if isinstance(item, PItem):
                item.branches = [group(b, depth) for b in item.branches]
            out.append(item)
            i += 1
            continue
        j = i
        while j < len(items) and _scope_at(items[j], depth) == scope:
            j += 1
        path, cls = scope
        out.append(SItem(path, path.split("@")[0], cls, group(items[i:j], depth + 1)))
        i = j
    return out


# --- 3. terms, instances and blocks -------------------------------------------------------------------
@dataclass
class TLayer:
    layer: Layer
    op: Op | None = None


@dataclass
class TCall:
    instance: Instance


@dataclass
class TStage:
    terms: list
    cls: str = ""  # the model's module it was made from, and its path
    path: str = ""


@dataclass
class Instance:
    cls: str
    path: str
    form: str  # body | parallel | residual
    body: list = field(default_factory=list)  # body, or a residual's body
    branches: list[list] = field(default_factory=list)
    shortcut: Any = None  # residual: "auto" | "identity" | terms
    merge: str = "concat"
    after: list = field(default_factory=list)
    variant: Variant | None = None
    values: list = field(default_factory=list)
    out_shape: tuple = ()


@dataclass
class Arg:
    name: str
    slot: int  # the slot whose value it is
    default: Any = None
    has_default: bool = False


@dataclass
class Variant:
    name: str
    cls: str
    signature: str
    instances: list[Instance] = field(default_factory=list)
    args: list[Arg] = field(default_factory=list)
    exprs: list[str | None] = field(default_factory=list)  # per slot: the expression, None for a constant
    slot_names: list[str] = field(default_factory=list)


def parts(inst: Instance) -> list[tuple[str, Any]]:
    """The instance's pieces in one fixed order: what slots are counted and rendered in."""
    if inst.form == "body":
        out = [("body", inst.body)]
    elif inst.form == "parallel":
        out = [(f"branch{k}", b) for k, b in enumerate(inst.branches)]
    else:
        out = [("residual", inst.body)]
        if isinstance(inst.shortcut, list):
            out.append(("shortcut", inst.shortcut))
    out.append(("after", inst.after))
    return out


def term_values(terms: list) -> list:
    values: list = []
    for t in terms:
        if isinstance(t, TLayer):
            values += [s.value for s in t.layer.slots]
        elif isinstance(t, TCall):
            values += t.instance.values
        else:
            values += term_values(t.terms)
    return values


def term_signature(terms: list) -> str:
    out = []
    for t in terms:
        if isinstance(t, TLayer):
            out.append(t.layer.word + "(" + ",".join(s.name for s in t.layer.slots) + ")")
        elif isinstance(t, TCall):
            out.append("@" + t.instance.variant.name)  # type: ignore[union-attr]
        else:
            out.append("[" + term_signature(t.terms) + "]")
    return "-".join(out)


def term_slot_names(terms: list) -> list[str]:
    names: list[str] = []
    for t in terms:
        if isinstance(t, TLayer):
            names += [s.name for s in t.layer.slots]
        elif isinstance(t, TCall):
            names += t.instance.variant.slot_names  # type: ignore[union-attr]
        else:
            names += term_slot_names(t.terms)
    return names


def snake(name: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.strip("_"))
    text = re.sub(r"[^A-Za-z0-9_]", "_", text).lower().strip("_") or "block"
    return text if re.match(r"[a-z]", text) else f"b_{text}"


class Recovery:
    def __init__(self, class_counts: dict[str, int]):
        self.variants: list[Variant] = []
        self.by_key: dict[tuple[str, str], Variant] = {}
        self.class_counts = class_counts
        self.used_names: set[str] = set()

    # lowering ---------------------------------------------------------------------------------------
    def lower_items(self, items: list, owner: str, top: bool) -> list:
        out: list = []
        for item in items:
            if isinstance(item, LItem):
                out.append(TLayer(item.op.layer, item.op))  # type: ignore[arg-type]
            elif isinstance(item, PItem):
                out.append(TCall(self.par_instance(f"{owner}_branches", item.op.what, item, [])))
            else:
                out += self.lower_scope(item, top)
        return _drop_flatten(out)

    def lower_scope(self, s: SItem, top: bool) -> list:
        items = s.items
        if items and isinstance(items[0], PItem) and all(isinstance(i, LItem) for i in items[1:]):
            after = self.lower_items(items[1:], s.cls, False)
            return [TCall(self.par_instance(s.cls, s.path, items[0], after))]
        plain = s.cls in ("Sequential", "ModuleList", "ModuleDict")
        terms = self.lower_items(items, s.cls, top and plain)
        # A block of the model's whose body happens to be calls of one class was made a stage (the
        # first FusedMBConv of an EfficientNetV2 stage: its expand and project convs, no residual);
        # beside blocks of its own class it is one of them, or the stage around it would be split.
        called = {t.instance.cls for t in terms if isinstance(t, TCall)}
        terms = [TCall(self.register(Instance(t.cls, t.path, "body", body=_unstage(t.terms), out_shape=_last_shape(t.terms))))
                 if isinstance(t, TStage) and t.cls in called else t for t in terms]
        calls_only = all(isinstance(t, (TCall, TStage)) for t in terms)
        if plain or calls_only:
            calls = [t for t in terms if isinstance(t, TCall)]
            if top and terms and len(calls) == len(terms) and len({c.instance.cls for c in calls}) == 1:
                return [TStage(terms, s.cls, s.path)]
            if plain or self.class_counts.get(s.cls, 0) <= 1:
                return terms
        if self.class_counts.get(s.cls, 0) <= 1 or len(terms) <= 1:
            return terms
        body = _unstage(terms)
        return [TCall(self.register(Instance(s.cls, s.path, "body", body=body, out_shape=_last_shape(body))))]

    def par_instance(self, cls: str, path: str, par: PItem, after: list) -> Instance:
        branches = [_unstage(self.lower_items(b, cls, False)) for b in par.branches]
        merge = par.op.merge or "concat"
        shape = tuple(par.op.shape[1:])
        inst = Instance(cls, path, "parallel", branches=branches, merge=merge, after=after, out_shape=shape)
        if merge in ("add", "mul") and len(branches) == 2:
            empty = [k for k, b in enumerate(branches) if not b]
            if empty:
                body = branches[1 - empty[0]]
                shortcut: Any = "auto" if merge == "add" else "identity"
            else:
                first, second = branches
                if merge == "add" and _is_auto_projection(second, first, shape):
                    body, shortcut = first, "auto"
                elif merge == "add" and _is_auto_projection(first, second, shape):
                    body, shortcut = second, "auto"
                elif _count(first) >= _count(second):
                    body, shortcut = first, second
                else:
                    body, shortcut = second, first
            if body:
                inst = Instance(cls, path, "residual", body=body, shortcut=shortcut, merge=merge, after=after,
                                out_shape=shape)
        return self.register(inst)

    def register(self, inst: Instance) -> Instance:
        inst.values = [v for _, terms in parts(inst) for v in term_values(terms)]
        signature = inst.form + "|" + inst.merge + "|" + (
            inst.shortcut if isinstance(inst.shortcut, str) else "terms" if inst.shortcut else "") + "|" + \
            "|".join(f"{name}:{term_signature(terms)}" for name, terms in parts(inst))
        key = (inst.cls, signature)
        variant = self.by_key.get(key)
        if variant is None:
            variant = Variant(self._name(inst.cls), inst.cls, signature)
            variant.slot_names = [n for _, terms in parts(inst) for n in term_slot_names(terms)]
            self.by_key[key] = variant
            self.variants.append(variant)
        variant.instances.append(inst)
        inst.variant = variant
        return inst

    def _name(self, cls: str) -> str:
        from ..layers import lookup_word

        base = snake(cls)
        if lookup_word(base) is not None or base in ("classes", "identity", "from"):
            base += "_block"
        name, k = base, 2
        while name in self.used_names:
            name, k = f"{base}_{k}", k + 1
        self.used_names.add(name)
        return name

    # arguments --------------------------------------------------------------------------------------
    def infer_arguments(self) -> None:
        for variant in self.variants:  # callees before their callers: instances register bottom-up
            _arguments(variant)


def _drop_flatten(terms: list) -> list:
    """A flatten right before an fc (or a dropout and then an fc) left out: netc's fc flattens a map
    itself, and dropout acts on each value alike, flat or not."""
    words = [t.layer.word if isinstance(t, TLayer) else None for t in terms]
    keep = []
    for k, t in enumerate(terms):
        if words[k] == "flatten":
            rest = words[k + 1:k + 3]
            if rest[:1] == ["fc"] or rest == ["dropout", "fc"]:
                continue
        keep.append(t)
    return keep


def _unstage(terms: list) -> list:
    out: list = []
    for t in terms:
        out += _unstage(t.terms) if isinstance(t, TStage) else [t]
    return out


def _last_shape(terms: list) -> tuple:
    for t in reversed(terms):
        if isinstance(t, TLayer) and t.op is not None:
            return tuple(t.op.shape[1:])
        if isinstance(t, TCall):
            return t.instance.out_shape
    return ()


def _count(terms: list) -> int:
    return sum(_count(t.terms) if isinstance(t, TStage) else 1 for t in terms)


def _slot(layer: Layer, name: str) -> Any:
    return next((s.value for s in layer.slots if s.name == name), None)


def _layers(terms: list) -> list[Layer]:
    """Every layer of the terms, block calls opened."""
    found: list[Layer] = []
    for t in terms:
        if isinstance(t, TLayer):
            found.append(t.layer)
        elif isinstance(t, TCall):
            found += [layer for _, ts in parts(t.instance) for layer in _layers(ts)]
        else:
            found += _layers(t.terms)
    return found


def _step(terms: list) -> tuple[int, int]:
    """The body's sampling step per axis: the product of its strides, as netc's projection takes it."""
    h = w = 1
    for t in terms:
        if isinstance(t, TLayer):
            layer = t.layer
            stride = _slot(layer, "stride")
            if layer.word in ("conv", "maxpool", "avgpool", "l2pool") and stride is not None:
                sh, sw = stride if isinstance(stride, tuple) else (stride, stride)
                h, w = h * sh, w * sw
        elif isinstance(t, TCall):
            inst = t.instance
            inner = inst.body if inst.form != "parallel" else (inst.branches[0] if inst.branches else [])
            sh, sw = _step(inner + inst.after)
            h, w = h * sh, w * sw
    return h, w


def _is_auto_projection(shortcut: list, body: list, shape: tuple) -> bool:
    """Whether the shortcut is the projection `shortcut: auto` makes for this body: a 1×1 conv to the
    body's channels at the body's step, without bias and then a BN (torch's eps and momentum)
    exactly where the body uses batch norm."""
    if not shortcut or not all(isinstance(t, TLayer) for t in shortcut) or len(shortcut) > 2:
        return False
    conv = shortcut[0].layer
    if conv.word != "conv":
        return False
    values = {s.name: s.value for s in conv.slots}
    body_bn = any(layer.word == "bn" for layer in _layers(body))
    has_bn = len(shortcut) == 2
    if has_bn:
        bn = shortcut[1].layer
        if bn.word != "bn" or _slot(bn, "eps") != 1e-5 or _slot(bn, "momentum") != 0.1:
            return False
    step = _step(body)
    stride = values["stride"] if isinstance(values["stride"], tuple) else (values["stride"], values["stride"])
    return (values["kernel"] == 1 and values["padding"] in (SAME, 0) and values["dilation"] == 1
            and values["groups"] == 1 and values["bias"] == (not has_bn) and has_bn == body_bn
            and tuple(stride) == step and (not shape or values["filters"] == shape[0]))


def _norm(value: Any) -> tuple:
    return (type(value).__name__, value)


ARG_NAMES = {"filters": "c", "units": "n"}


def _arguments(variant: Variant) -> None:
    instances = variant.instances
    variant.slot_names = [n for _, terms in parts(instances[0]) for n in term_slot_names(terms)]
    slots = len(instances[0].values)
    vectors = [tuple(_norm(inst.values[s]) for inst in instances) for s in range(slots)]
    exprs: list[str | None] = [None] * slots
    args: list[Arg] = []
    seen: dict[tuple, str] = {}
    taken: set[str] = set()
    for s in range(slots):
        vector = vectors[s]
        if len(set(vector)) == 1:
            continue
        if vector in seen:
            exprs[s] = seen[vector]
            continue
        relation = _relation(vector, [(a, vectors[a.slot]) for a in args])
        if relation:
            exprs[s] = seen[vector] = relation
            continue
        base = ARG_NAMES.get(variant.slot_names[s], variant.slot_names[s])
        name, k = base, 2
        while name in taken:
            name, k = f"{base}{k}", k + 1
        taken.add(name)
        arg = Arg(name, s)
        values = [v for _, v in vector]
        common = max(values, key=values.count)
        if values.count(common) * 2 > len(values) and variant.slot_names[s] not in ("filters", "units", "c", "n"):
            arg.default, arg.has_default = common, True
        args.append(arg)
        exprs[s] = seen[vector] = name
    variant.args = [a for a in args if not a.has_default] + [a for a in args if a.has_default]
    variant.exprs = exprs
    # what a caller calls these slots: the argument's name where the slot is one
    variant.slot_names = [e if e is not None and e.isidentifier() else n for e, n in zip(exprs, variant.slot_names)]


def _relation(vector: tuple, bases: list[tuple[Arg, tuple]]) -> str | None:
    if not all(t == "int" for t, _ in vector):
        return None
    values = [v for _, v in vector]
    for arg, base in bases:
        if not all(t == "int" for t, _ in base):
            continue
        numbers = [v for _, v in base]
        if any(b == 0 for b in numbers):
            continue
        for k in range(2, 17):
            if all(v == k * b for v, b in zip(values, numbers)):
                return f"{arg.name}*{k}"
    return None


def class_counts(items: list) -> dict[str, int]:
    counts: dict[str, set[str]] = {}

    def walk(items: list) -> None:
        for item in items:
            if isinstance(item, SItem):
                counts.setdefault(item.cls, set()).add(item.key)
                walk(item.items)
            elif isinstance(item, PItem):
                for b in item.branches:
                    walk(b)

    walk(items)
    return {cls: len(keys) for cls, keys in counts.items()}


def recover(traced: Traced) -> tuple[list, Recovery]:
    items = group(decompose(traced))
    recovery = Recovery(class_counts(items))
    terms = recovery.lower_items(items, "network", True)
    recovery.infer_arguments()
    return terms, recovery
