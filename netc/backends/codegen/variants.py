"""Which classes a file holds for its blocks, and what they are called.

Blocks are planned callee first. For each block, its instances are grouped into *variants*: one
generic class when every argument can be a constructor parameter; one class per value of the
arguments that must be known in __init__ (a word such as `padding=same`, a bool); and, when the
block cannot be written generically at all, one class per concrete instance signature (arguments
and input shape), written from that instance's part of the network. A generic class is written
from the block's template (netc/graph/templates.py), checked against every instance it stands for. A
block instance whose inner tensors are read from outside (a head starting from a mark inside it)
or one that reads a point placed outside it is not a module at all: its layers are written into the
enclosing class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...analysis.infer import Analysis
from ...frontend.exprs import layered
from ...frontend.symbolic import Sym, Var
from ...graph.ir import BlockSignature, Network, ScopeKind
from ...graph.templates import TEMPLATE_INPUT, NotGeneric, correspond
from .class_source import ClassRef, ClassSource
from .comments import comment_text
from .elements import Container, Element, Handle, class_block, forward_statements, init_statements, module_paths
from .emit import Emitter
from .inference import current_plan
from .names import attribute, class_name, local
from .pysrc import Comment, Item, Raw, Stmt, comment, literal, render, where


@dataclass
class Param:
    name: str  # as the spec writes it
    py: str  # as __init__ names it
    annotation: str
    default: Any  # None: required


@dataclass
class Variant:
    block: BlockSignature
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
            elif isinstance(value, Sym) or value != param.default:
                items.append(Item(Raw(literal(value)), param.py))
        return items

    def signature(self) -> list[Item]:
        items: list[Item] = [] if self.static_in else [Item(Raw("in_channels: int"))]
        star = seen_default = False
        for param in self.params:
            if param.default is None and seen_default and not star:
                items.append(Item(Raw("*")))
                star = True
            seen_default = seen_default or param.default is not None
            text = f"{param.py}: {param.annotation}"
            if param.default is not None:
                text += f" = {literal(param.default)}"
            items.append(Item(Raw(text)))
        return items


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    return str(value) if not isinstance(value, float) else f"{value:g}"


def render_class(name: str, container: Container, x: Handle, outputs: list[tuple[str, Handle]],
                 params: list[Item], extra: list[Any], as_dict: bool = False,
                 methods: Callable[[dict[str, str]], tuple[list[Any], list[Any]]] | None = None,
                 train_only: tuple[str, ...] = (), more_args: Sequence[Handle] = ()) -> tuple[list[Any], dict[str, str]]:
    """A class's statements, and its IR nodes' module paths. `methods`, given those paths, adds
    statements at the end of __init__ and methods after forward."""
    elements: list[Element] = container.elements
    taken: set[str] = {name for element in elements for name, _ in element.module_values}
    for element in elements:
        if element.build is not None:
            element.name = attribute(element.name, taken)
    init = init_statements(elements) + extra
    forward = forward_statements(x, elements, outputs, as_dict, train_only, more_args)
    paths = module_paths(elements)
    tail, more = methods(paths) if methods is not None else ([], [])
    eval_tensor = bool(train_only) and len([n for n, _ in outputs if n not in train_only]) == 1
    arg_names = [x.var or "x"] + [h.var or "x" for h in more_args]
    return class_block(name or "Block", params, init + tail, forward, as_dict, [], more, eval_tensor,
                       arg_names), paths


class ClassPlanner:
    """The block classes of one file, and how each block instance is written (`refs`)."""

    def __init__(self, analysis: Analysis, class_names: set[str], pinned: frozenset[str]):
        self.analysis = analysis
        self.network: Network = analysis.network
        self.spec = self.network.source
        self.class_names = class_names
        self.pinned = pinned
        self.readers = self.network.readers  # read only
        self.index = {node_id: i for i, node_id in enumerate(self.network.order)}
        self.refs: dict[str, ClassRef] = {}
        self.classes: list[Variant] = []
        self.reasons: dict[str, NotGeneric] = {}  # why a block is not one generic class

    # --- scopes ------------------------------------------------------------------------------------
    def modulable(self, scope_id: str) -> bool:
        """Whether a block instance can be one module: nothing outside reads its inner tensors, and
        it reads nothing from outside but its input (a point placed before the block)."""
        scope = self.network.scopes[scope_id]
        inside = set(self.network.nodes_in(scope_id))
        if scope.exit not in inside:
            return False
        for node_id in inside:
            if any(i not in inside and i != scope.entry for i in self.network.node(node_id).inputs):
                return False
            if node_id == scope.exit:
                continue
            if node_id in self.pinned:
                return False
            if any(r not in inside for r in self.readers.get(node_id, ())):
                return False
        return True

    def _post_order(self, children, out: list[str]) -> None:
        for child in children:
            if self.network.is_scope(child):
                self._post_order(self.network.scopes[child].children, out)
                out.append(child)

    def _inner_blocks(self, scope_id: str) -> set[str]:
        found = set()
        for child in self.network.scopes[scope_id].children:
            if self.network.is_scope(child):
                scope = self.network.scopes[child]
                if scope.kind == ScopeKind.BLOCK and scope.block:
                    found.add(scope.block)
                found |= self._inner_blocks(child)
        return found

    def _position(self, scope_id: str) -> int:
        return self.index.get(self.network.scopes[scope_id].entry, -1)

    # --- planning ----------------------------------------------------------------------------------
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
            self.plan_block(self.spec.blocks[name], sorted(instances[name], key=self._position))

        for name in instances:
            visit(name)

    def plan_block(self, block: BlockSignature, instances: list[str]) -> None:
        names = {name for name, _ in block.params}
        args = [self.network.scopes[s].args for s in instances]
        static = {
            name for name, default in block.params
            if any(not _numeric(a[name]) for a in args) or (default is not None and not _numeric(default))
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

    def _variant_key(self, block: BlockSignature, scope_id: str, static: frozenset[str], static_in: bool):
        scope = self.network.scopes[scope_id]
        shape = self.analysis[scope.entry].shape
        return (
            tuple((name, scope.args[name]) for name, _ in block.params if name in static),
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
            taken = set(self.class_names)
            values: dict[str, Any] = dict(key[0])
            for name, default in block.params:
                if name in static:
                    continue
                given = [self.network.scopes[s].args[name] for s in members]
                is_int = all(isinstance(v, int) for v in given) and (default is None or isinstance(default, int))
                param = Param(name, local(name, taken), "int" if is_int else "float", default)
                variant.params.append(param)
                values[name] = Var(param.py, name, frozenset({name}), is_int)
            channels = key[1] if static_in else Var("in_channels", "in_channels", frozenset({"in_channels"}))
            template = self.network.templates.expand(block.name, values, channels, key[2])
            # Each instance checks the class, but instances with the same arguments and input shape
            # check it alike (the class is a function of those): one writing each, not 33,333. The
            # inference build writes every one: each records its own folded batch norms in the plan.
            by_instance: dict[Any, Any] = {}
            written, paths = [], []
            for scope_id in members:
                key = self._instance_key(scope_id) if current_plan() is None else None
                first = by_instance.get(key) if key is not None else None
                moved = self._same_paths(template, first, scope_id) if first is not None else None
                if moved is None:
                    first = self.write_generic(variant, template, scope_id, taken)
                    if key is not None:
                        by_instance[key] = first
                    moved = first[0]
                written.append(first)
                paths.append(moved)
            distinct = list({id(w): w for w in written}.values())
            texts = [w[2] for w in distinct]
            if any(t != texts[0] for t in texts):
                raise NotGeneric(frozenset(name for name, _ in block.params) | {"in_channels"},
                                 f"instances of '{block.name}' give different code")
            first_slots = distinct[0][1]
            for other in distinct[1:]:
                for slot, more in zip(first_slots, other[1]):
                    slot.samples.extend(more.samples)
            for slot in first_slots:
                slot.note.text = comment_text(slot)
            variant.statements = render_class(variant.class_name, *written[0][3])[0]  # now with the comments
            for scope_id, one in zip(members, paths):
                variant.paths[scope_id] = one
            variants.append(variant)
        return variants

    def _instance_key(self, scope_id: str) -> Any:
        """What an instance's writing of its generic class depends on: its arguments and its input's
        shape (None when an argument cannot be hashed: that instance is written on its own)."""
        scope = self.network.scopes[scope_id]
        key = (tuple(scope.args.items()), tuple(self.analysis[scope.entry].shape))
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def _same_paths(self, template: Network, first: Any, scope_id: str) -> dict[str, str] | None:
        """The module paths of an instance that writes its class as `first`'s did: first's paths,
        keyed by this instance's nodes (node for node through the template); None where a key
        has no counterpart (then the instance is written on its own)."""
        found = correspond(template, self.network, scope_id)
        counterpart = {mine: ours for t, nodes in first[4].items() for mine, ours in zip(nodes, found.get(t, []))}
        if any(k not in counterpart for k in first[0]):
            return None
        return {counterpart[k]: path for k, path in first[0].items()}

    def write_generic(self, variant: Variant, template: Network, scope_id: str, taken: set[str]):
        """The class as one instance checks it: (paths, comment slots, text without comments, what
        render_class takes, the instance's nodes for each template node)."""
        scope = self.network.scopes[scope_id]
        env = layered({**scope.args, "in_channels": self.analysis[scope.entry].shape[0]}, self.spec.params)
        found = correspond(template, self.network, scope_id)
        source = ClassSource(template, template.top, TEMPLATE_INPUT, self.refs, self.analysis, template=template,
                             instance=scope_id, found=found, env=env, locals_taken=taken, slots=[])
        x = Handle()
        emitter = Emitter(source, x)
        container = Container()
        emitter.children(template.top, container, "")
        exit_ = template.outputs[0][1]
        extra = [Stmt(Raw(literal(emitter.sized[exit_].shape[0])), "self.out_channels")]
        arguments = (container, x, [("output", emitter.handles[exit_])], variant.signature(), extra)
        statements, paths = render_class(variant.class_name, *arguments)
        return paths, source.slots, "\n".join(render(statements)), arguments, found

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
                source = ClassSource(self.network, scope.children, scope.entry, self.refs, self.analysis,
                                     pinned=self.pinned, exit=scope.exit)
                emitter = Emitter(source, x)
                container = Container()
                emitter.children(scope.children, container, "")
                channels = self.analysis[scope.exit].shape[0]
                extra = [Stmt(Raw(str(channels)), "self.out_channels")]
                statements, paths = render_class(variant.class_name, container, x,
                                                 [("output", emitter.handles[scope.exit])], [], extra)
                texts.append("\n".join(render(statements)))
                variant.statements = variant.statements or statements
                variant.paths[scope_id] = paths
            if any(t != texts[0] for t in texts):  # the same arguments and shape expand the same
                raise AssertionError(f"netc: instances of block '{block.name}' give different code")
            variants.append(variant)
        return variants

    def finish_variant(self, variant: Variant) -> None:
        """Name the class in its statements (names are given after planning) and register refs."""
        block = variant.block
        signature = ", ".join(name for name, _ in block.params)
        called = f"{block.name}({signature})" if block.params else block.name
        reason = self.reasons.get(block.name)
        how = "generic" if variant.generic else f"one class per use: {reason}"
        if variant.generic and variant.static:
            first = self.network.scopes[variant.instances[0]].args
            fixed = ", ".join(f"{name}={_show(first[name])}" for name, _ in block.params if name in variant.static)
            how = f"for {fixed}"
        header = [Comment(comment(f"{called}: a {block.form} block ({how}), {where(block.span)}"))]
        cls = variant.statements[-1]
        cls.header = f"class {variant.class_name}(nn.Module)"
        variant.statements = header + [cls]
        for scope_id in variant.instances:
            self.refs[scope_id] = ClassRef(variant.class_name, variant.call_items, variant.paths[scope_id],
                                           variant.generic, variant.static, variant.static_in)
