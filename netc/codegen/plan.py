"""The whole file: which classes to write, what they are called, and the network class itself.

Blocks are planned callee first. For each block, its instances are grouped into *variants*: one
generic class when every argument can be a constructor parameter; one class per value of the
arguments that must be known in __init__ (a word such as `padding=same`, a bool); and, when the
block cannot be written generically at all, one class per concrete instance signature (arguments
and input shape), written from the expanded graph. A block instance whose inner tensors are read
from outside (a head starting from a mark inside it) is not a module at all: its layers are
written into the enclosing class.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import ast
from ..infer import Analysis
from ..ir import ScopeKind
from ..version import __version__
from .blockgen import BlockWalk, Cur, LocalNames, NotGeneric, comment_text
from .concrete import ConcreteEmitter, shape_text
from .elements import (
    RESERVED_LOCALS,
    Container,
    Element,
    Handle,
    class_block,
    forward_statements,
    init_statements,
    module_paths,
)
from .names import GLOBALS, attribute, class_name
from .pysrc import Comment, Item, Raw, Stmt, comment, literal, render, spec_label
from .pysrc import where as place  # `where` is a local name in Generator: the block's call signature
from .symbolic import ATOM, SPATIAL, Code


@dataclass
class Param:
    name: str  # as the spec writes it
    py: str  # as __init__ names it
    annotation: str
    default: Any  # None: required


@dataclass
class Variant:
    block: ast.BlockDef
    generic: bool
    static: frozenset[str]
    static_in: bool
    params: list[Param] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    class_name: str = ""
    statements: list[Any] = field(default_factory=list)
    paths: dict[str, dict[str, str]] = field(default_factory=dict)  # instance → node → path

    def call_items(self, in_channels: Any, values: dict[str, Any]) -> list[Item]:
        """Constructor arguments: input channels and required parameters positionally, the rest
        by name when they differ from the default."""
        if not self.generic:
            return []
        items = [] if self.static_in else [Item(Raw(literal(in_channels)))]
        by_name = False
        for param in self.params:
            value = values[param.name]
            by_name = by_name or param.default is not None
            if not by_name:
                items.append(Item(Raw(literal(value))))
            elif isinstance(value, Code) or value != param.default:
                items.append(Item(Raw(literal(value)), param.py))
        return items


@dataclass
class ClassRef:
    class_name: str
    call_items: list[Item]
    paths: dict[str, str]
    variant: Variant | None


@dataclass
class Generated:
    source: str
    class_name: str
    paths: dict[str, str]  # IR node id → module path in the network module
    fallbacks: dict[str, Exception] = field(default_factory=dict)  # block → why it is one class per use


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class Generator:
    def __init__(self, analysis: Analysis):
        self.analysis = analysis
        self.network = net = analysis.network
        self.program = net.program
        self.readers: dict[str, set[str]] = {}
        for node in net.nodes():
            for index, source in enumerate(node.inputs):
                if index not in node.shape_only:
                    self.readers.setdefault(source, set()).add(node.id)
        self.consumers = {source: len(readers) for source, readers in self.readers.items()}
        self.index = {node_id: i for i, node_id in enumerate(net.order)}
        self.outputs = {node for _, node in net.outputs}
        self.origins = {h.name: h.origin for h in self.program.heads}
        self.origin_nodes = {s.entry for s in net.scopes.values() if s.kind == ScopeKind.HEAD and self.origins.get(s.label)}
        self.refs: dict[str, ClassRef] = {}
        self.class_names: set[str] = set(GLOBALS)
        self.top_name = class_name(self.program.name, self.program.name_span, "the spec's name", self.class_names)
        self.class_names.add("Model")  # the alias of the network class
        self.classes: list[Variant] = []
        self.reasons: dict[str, NotGeneric] = {}  # why a block is not one generic class

    # --- questions the emitters ask ----------------------------------------------------------------
    def pinned(self, node_id: str | None) -> bool:
        """An output of the network or the start of a head: a variable of forward."""
        return node_id is None or node_id in self.outputs or node_id in self.origin_nodes

    def shared(self, node_id: str) -> bool:
        """Read by more than one layer, or kept as an output."""
        return self.consumers.get(node_id, 0) > 1 or self.pinned(node_id)

    def class_ref(self, scope_id: str) -> ClassRef | None:
        return self.refs.get(scope_id)

    def head_var(self, head: str) -> str:
        return head if head not in RESERVED_LOCALS else f"{head}_"

    def head_origin(self, head: str) -> str | None:
        return self.origins.get(head)

    # --- scopes ------------------------------------------------------------------------------------
    def nodes_in(self, scope_id: str) -> list[str]:
        found = []
        for child in self.network.scopes[scope_id].children:
            found.extend(self.nodes_in(child) if child in self.network.scopes else [child])
        return found

    def modulable(self, scope_id: str) -> bool:
        """Whether a block instance can be one module: nothing outside reads its inner tensors."""
        scope = self.network.scopes[scope_id]
        inside = set(self.nodes_in(scope_id))
        if scope.exit not in inside:
            return False
        readers = self.readers
        for node_id in inside:
            if node_id == scope.exit:
                continue
            if node_id in self.outputs or node_id in self.origin_nodes:
                return False
            if any(r not in inside for r in readers.get(node_id, ())):
                return False
        return True

    def _post_order(self, children, out: list[str]) -> None:
        for child in children:
            if child in self.network.scopes:
                self._post_order(self.network.scopes[child].children, out)
                out.append(child)

    # --- planning ---------------------------------------------------------------------------------------
    def plan(self) -> None:
        order: list[str] = []
        self._post_order(self.network.top, order)
        instances: dict[str, list[str]] = {}
        for scope_id in order:
            scope = self.network.scopes[scope_id]
            if scope.kind == ScopeKind.BLOCK and scope.block and self.modulable(scope_id):
                instances.setdefault(scope.block, []).append(scope_id)
        deps: dict[str, set[str]] = {name: set() for name in instances}
        for name, members in instances.items():
            for scope_id in members:
                deps[name] |= self._inner_blocks(scope_id) & set(instances)
        planned: list[str] = []

        def visit(name: str) -> None:  # callee first
            if name in planned:
                return
            planned.append(name)  # marks it; a block never calls itself (the expander checks)
            for inner in sorted(deps[name] - {name}, key=list(instances).index):
                visit(inner)
            self.plan_block(self.program.blocks[name], sorted(instances[name], key=self._position))

        for name in instances:
            visit(name)

    def _inner_blocks(self, scope_id: str) -> set[str]:
        found = set()
        for child in self.network.scopes[scope_id].children:
            if child in self.network.scopes:
                scope = self.network.scopes[child]
                if scope.kind == ScopeKind.BLOCK and scope.block:
                    found.add(scope.block)
                found |= self._inner_blocks(child)
        return found

    def _position(self, scope_id: str) -> int:
        return self.index.get(self.network.scopes[scope_id].entry, -1)

    def plan_block(self, block: ast.BlockDef, instances: list[str]) -> None:
        names = {p.name for p in block.params}
        args = [self.network.scopes[s].args for s in instances]
        static = {
            p.name for p in block.params
            if any(not _numeric(a[p.name]) for a in args) or (p.default is not None and not _numeric(p.default))
        }
        static_in = False
        variants = None
        for _ in range(len(names) + 3):
            try:
                variants = self.generic_variants(block, instances, frozenset(static), static_in)
                break
            except NotGeneric as exc:
                self.reasons[block.name] = exc
                if exc.names is None:
                    break
                grown = static | (exc.names & names)
                grown_in = static_in or "in_channels" in exc.names
                if grown == static and grown_in == static_in:
                    break
                static, static_in = grown, grown_in
        if variants is None:
            variants = self.concrete_variants(block, instances)
        base = class_name(block.name, block.span, "block", self.class_names)
        for index, variant in enumerate(variants, 1):
            variant.class_name = base if len(variants) == 1 else f"{base}_{index}"
            self.class_names.add(variant.class_name)
            self.classes.append(variant)
        for variant in variants:
            self.finish_variant(variant)

    def _variant_key(self, block: ast.BlockDef, scope_id: str, static: frozenset[str], static_in: bool):
        scope = self.network.scopes[scope_id]
        shape = self.analysis[scope.entry].shape
        return (
            tuple((p.name, scope.args[p.name]) for p in block.params if p.name in static),
            shape[0] if static_in else None,
            len(shape),
        )

    def generic_variants(self, block, instances, static, static_in) -> list[Variant]:
        groups: dict[Any, list[str]] = {}
        for scope_id in instances:
            groups.setdefault(self._variant_key(block, scope_id, static, static_in), []).append(scope_id)
        variants = []
        for key, members in groups.items():
            variant = Variant(block, True, static, static_in, instances=members)
            taken = LocalNames(self.class_names | {self.top_name})
            for p in block.params:
                if p.name in static:
                    continue
                values = [self.network.scopes[s].args[p.name] for s in members]
                is_int = all(isinstance(v, int) for v in values) and (p.default is None or isinstance(p.default, int))
                variant.params.append(Param(p.name, taken.fresh(p.name), "int" if is_int else "float", p.default))
            walks = [self.walk(variant, scope_id, key[2], taken) for scope_id in members]
            texts = [w[3] for w in walks]
            if any(t != texts[0] for t in texts):
                raise NotGeneric(frozenset(p.name for p in block.params) | {"in_channels"},
                                 f"instances of '{block.name}' give different code")
            first_slots = walks[0][1]
            for other in walks[1:]:
                for slot, more in zip(first_slots, other[1]):
                    slot.samples.extend(more.samples)
            for slot in first_slots:
                slot.note.text = comment_text(slot)
            variant.statements = self.render_class(variant, *walks[0][4])[0]  # now with the comments
            for scope_id, walk in zip(members, walks):
                variant.paths[scope_id] = walk[2]
            variants.append(variant)
        return variants

    def walk(self, variant: Variant, scope_id: str, rank: int, taken: LocalNames):
        scope = self.network.scopes[scope_id]
        env: dict[str, Any] = dict(self.program.params)
        for p in variant.block.params:
            if p.name in variant.static:
                env[p.name] = scope.args[p.name]
        for param in variant.params:
            env[param.name] = Code(param.py, ATOM, frozenset({param.name}), param.annotation == "int")
        entry = self.analysis[scope.entry].shape
        channels = entry[0] if variant.static_in else Code("in_channels", ATOM, frozenset({"in_channels"}))
        shape = (channels,) + tuple(SPATIAL for _ in range(rank - 1))
        slots: list = []
        walker = BlockWalk(self, variant.block, scope_id, env, LocalNames(taken.taken), slots)
        container = Container()
        x = Handle()
        out = walker.run(container, Cur(x, shape, scope.entry))
        params = [] if variant.static_in else [Item(Raw("in_channels: int"))]
        params += self._signature(variant)
        extra = [Stmt(Raw(literal(out.shape[0])), "self.out_channels")]
        statements, paths = self.render_class(variant, container, x, out.handle, params, extra)
        text = "\n".join(render(statements))
        return statements, slots, paths, text, (container, x, out.handle, params, extra)

    def _signature(self, variant: Variant) -> list[Item]:
        items, star = [], False
        seen_default = False
        for param in variant.params:
            if param.default is None and seen_default and not star:
                items.append(Item(Raw("*")))
                star = True
            seen_default = seen_default or param.default is not None
            text = f"{param.py}: {param.annotation}"
            if param.default is not None:
                text += f" = {literal(param.default)}"
            items.append(Item(Raw(text)))
        return items

    def concrete_variants(self, block, instances) -> list[Variant]:
        groups: dict[Any, list[str]] = {}
        for scope_id in instances:
            scope = self.network.scopes[scope_id]
            key = (tuple(scope.args.items()), tuple(self.analysis[scope.entry].shape))
            groups.setdefault(key, []).append(scope_id)
        variants = []
        for members in groups.values():
            variant = Variant(block, False, frozenset(), True, instances=members)
            texts = []
            for scope_id in members:
                scope = self.network.scopes[scope_id]
                x = Handle()
                emitter = ConcreteEmitter(self, scope.entry, x)
                container = Container()
                emitter.children(scope.children, container, "")
                out = emitter.handles[scope.exit]
                channels = self.analysis[scope.exit].shape[0]
                extra = [Stmt(Raw(str(channels)), "self.out_channels")]
                statements, paths = self.render_class(variant, container, x, out, [], extra)
                texts.append("\n".join(render(statements)))
                variant.statements = variant.statements or statements
                variant.paths[scope_id] = paths
            if any(t != texts[0] for t in texts):  # the same arguments and shape expand the same
                raise AssertionError(f"netc: instances of block '{block.name}' give different code")
            variants.append(variant)
        return variants

    def render_class(self, variant: Variant | None, container: Container, x: Handle, out: Handle,
                     params: list[Item], extra: list[Any], outputs=None, as_dict=False):
        elements: list[Element] = container.elements
        taken: set[str] = {name for element in elements for name, _ in element.stored}
        for element in elements:
            if element.build is not None:
                element.name = attribute(element.name, taken)
        init = init_statements(elements) + extra
        forward = forward_statements(x, elements, outputs or [("output", out)], as_dict)
        name = variant.class_name if variant is not None else self.top_name
        statements = class_block(name or "Block", params, init, forward, as_dict, [])
        return statements, module_paths(elements)

    def finish_variant(self, variant: Variant) -> None:
        """Rename the class in its statements (names are given after planning) and register refs."""
        block = variant.block
        signature = ", ".join([p.name for p in block.params])
        where = f"{block.name}({signature})" if block.params else block.name
        reason = self.reasons.get(block.name)
        how = "generic" if variant.generic else f"one class per use: {reason}"
        if variant.generic and variant.static:
            fixed = ", ".join(f"{p.name}={_show(self._static_value(variant, p.name))}"
                              for p in block.params if p.name in variant.static)
            how = f"for {fixed}"
        header = [Comment(comment(f"{where}: a {block.form} block ({how}), {place(block.span)}"))]
        statements = variant.statements
        cls = statements[-1]
        cls.header = f"class {variant.class_name}(nn.Module)"
        variant.statements = header + [cls]
        for scope_id in variant.instances:
            scope = self.network.scopes[scope_id]
            in_channels = self.analysis[scope.entry].shape[0]
            self.refs[scope_id] = ClassRef(variant.class_name, variant.call_items(in_channels, scope.args),
                                           variant.paths[scope_id], variant)

    def _static_value(self, variant: Variant, name: str) -> Any:
        return self.network.scopes[variant.instances[0]].args[name]

    # --- the file ---------------------------------------------------------------------------------------
    def generate(self) -> Generated:
        self.plan()
        net = self.network
        inputs = [n for n in net.order if not net.node(n).inputs]
        x = Handle()
        emitter = ConcreteEmitter(self, inputs[0] if inputs else None, x)
        container = Container()
        emitter.children(net.top, container, "")
        outputs = [(name, emitter.handles[node]) for name, node in net.outputs]
        as_dict = bool(self.program.heads)
        statements, paths = self.render_class(None, container, x, outputs[0][1], [], [], outputs, as_dict)
        lines = self.header() + [""]
        lines += ["import torch", "from torch import nn"]
        for variant in self.classes:
            lines += ["", ""] + render(variant.statements)
        top_comment = comment(f"{self.program.name}: the network, {place(self.program.name_span)}")
        lines += ["", "", f"# {top_comment}"] + render(statements)
        if self.top_name != "Model":
            lines += ["", "", f"Model = {self.top_name}"]
        fallbacks = {v.block.name: self.reasons[v.block.name] for v in self.classes if not v.generic}
        return Generated("\n".join(lines) + "\n", self.top_name, paths, fallbacks)

    def header(self) -> list[str]:
        net, analysis = self.network, self.analysis
        outputs = ", ".join(
            f"{name} {shape_text(analysis[node].shape)}" for name, node in net.outputs
        )
        lines = [
            f"Generated by netc {__version__} from {spec_label(net.program.path)}; regenerate rather than edit.",
            f"{self.top_name}: input {shape_text(net.input_shape)} -> {outputs}",
            (f"{analysis.params:,} parameters, {analysis.flops:,} FLOPs per image "
             f"({'x'.join(map(str, net.input_shape))} input, as torch.utils.flop_counter counts them)."),
            "Each layer's comment: its output shape, and where the spec writes it (file:line:col).",
        ]
        if any(v.generic for v in self.classes):
            lines.append("In block classes, H and W are the block input's height and width; H/s rounds up.")
        return [f"# {comment(line)}" for line in lines]


def _show(value: Any) -> str:
    return str(value) if not isinstance(value, float) else f"{value:g}"


def generate(analysis: Analysis) -> Generated:
    return Generator(analysis).generate()


__all__ = ["Generated", "Generator", "generate"]
