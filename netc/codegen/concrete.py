"""Classes written from the expanded graph, with every size a number: the network class itself,
and the fallback for a block that cannot be one generic class (see blockgen).

Each IR node becomes an element, asking its kind for the module (`constructor`) and the forward
expression (`forward`); a node whose forward is its input (identity, a shortcut that keeps the
shape) becomes nothing. Scopes become groups — stages, branches, heads: an nn.Sequential when they
are simple chains — or, for block instances, one instance of the block's class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..ir import ScopeKind
from ..layers import KINDS, Constructor
from .elements import Container, Element, Group, Handle, Note
from .pysrc import Bracketed, Expr, Item, Raw, comment, literal, where

if TYPE_CHECKING:
    from .plan import Generator


def constructor_expr(value) -> Expr:
    if isinstance(value, Constructor):
        items = [Item(constructor_expr(a)) for a in value.args]
        items += [Item(constructor_expr(v), k) for k, v in value.kwargs]
        return Bracketed(f"nn.{value.cls}(", ")", items)
    return Raw(literal(value))


def with_inplace(build: Constructor) -> Constructor:
    return Constructor(build.cls, build.args, tuple(build.kwargs) + (("inplace", True),))


def shape_text(shape: tuple[int, ...]) -> str:
    return "[B, " + ", ".join(str(d) for d in shape) + "]"


def note(shape_or_text, span) -> Note:
    text = shape_or_text if isinstance(shape_or_text, str) else shape_text(shape_or_text)
    return Note(comment(f"{text}  {where(span)}"))


def is_alias(kind, attrs, build, in_shapes) -> bool:
    """Whether forward hands its first input on unchanged (identity, a shortcut that keeps the shape)."""
    if build is not None:
        return False
    args = ["\0a"] + ["\0b"] * (len(in_shapes) - 1)
    return kind.forward(attrs, None, args, in_shapes) == "\0a"


class ConcreteEmitter:
    """Elements for IR nodes and scopes of one class."""

    def __init__(self, gen: Generator, input_node: str | None, input_handle: Handle):
        self.gen = gen
        self.net = gen.network
        self.handles: dict[str, Handle] = {}
        self.inplace: set[str] = set()
        if input_node is not None:
            self.handles[input_node] = input_handle

    def children(self, children: list[str] | tuple[str, ...], container: Container, tag: str) -> None:
        for child in children:
            if child in self.net.scopes:
                self.scope(child, container, tag)
            else:
                self.node(child, container, tag)

    # --- layers ---------------------------------------------------------------------------------------
    def node(self, node_id: str, container: Container, tag: str) -> None:
        node = self.net.node(node_id)
        if node_id in self.handles:
            return
        if not node.inputs:  # the network input is forward's argument
            self.handles[node_id] = Handle(tag, pinned=True)
            return
        kind = KINDS[node.kind]
        info = self.gen.analysis[node_id]
        attrs = dict(node.attrs)
        in_shapes = list(info.inputs)
        inputs = [self.handles[i] for i in node.inputs]
        data = [h for i, h in enumerate(inputs) if i not in node.shape_only]
        build = kind.constructor(attrs, in_shapes)
        if is_alias(kind, attrs, build, in_shapes):
            self.handles[node_id] = inputs[0]
            return
        inplace = (
            isinstance(build, Constructor) and len(data) == 1 and data[0].overwritable and kind.runs_inplace(attrs)
        )
        if inplace:
            build = with_inplace(build)
            self.inplace.add(node_id)
        out = Handle(
            tag,
            overwritable=kind.overwritable and info.stored and not inplace and not self.gen.shared(node_id),
            pinned=self.gen.pinned(node_id),
        )
        self.handles[node_id] = out

        def forward(module, args, attrs=attrs, in_shapes=in_shapes, kind=kind):
            return kind.forward(attrs, module, args, in_shapes)

        element = Element(
            node.local_name,
            constructor_expr(build) if build is not None else None,
            forward,
            inputs,
            out,
            note(info.shape, node.span),
            {node_id: ""} if build is not None else {},
            shape_only=tuple(node.shape_only),
        )
        container.add(element)

    # --- scopes -----------------------------------------------------------------------------------------
    def scope(self, scope_id: str, container: Container, tag: str) -> None:
        scope = self.net.scopes[scope_id]
        entry = self.handles[scope.entry] if scope.entry is not None else None
        local = scope_id.rsplit(".", 1)[-1]
        if scope.kind == ScopeKind.BLOCK:
            ref = self.gen.class_ref(scope_id)
            if ref is not None and entry is not None:
                out = Handle(tag, pinned=self.gen.pinned(scope.exit))
                self.handles[scope.exit] = out
                build = Bracketed(f"{ref.class_name}(", ")", ref.call_items)
                info = self.gen.analysis[scope.exit]
                container.add(Element(local, build, _call, [entry], out, note(info.shape, scope.span), dict(ref.paths)))
                return
        if scope.kind == ScopeKind.HEAD:
            local, tag = scope.label, self.gen.head_var(scope.label)
            origin = self.gen.head_origin(scope.label)
            if origin and entry is not None and entry.prefer is None and entry.var is None:
                entry.prefer = origin
        elif scope.kind == ScopeKind.BRANCH:
            tag = local
        elif scope.kind == ScopeKind.SHORTCUT:
            local = tag = "shortcut"
        info = self.gen.analysis[scope.exit] if scope.exit else None
        group = Group(local, tag, entry or Handle(), note(info.shape if info else "", scope.span))
        self.children(scope.children, group, tag)
        self.pin_escapes(scope.children)
        exit_ = self.handles.get(scope.exit, entry) if scope.exit else entry
        for element in group.finish(exit_):
            container.add(element)


    def pin_escapes(self, children: list[str]) -> None:
        """A child's output read by anything but the child after it cannot hide in an nn.Sequential."""
        for child, after in zip(children, list(children[1:]) + [None]):
            out = self.net.scopes[child].exit if child in self.net.scopes else child
            handle = self.handles.get(out)
            if handle is None or after is None:
                continue
            inside = set(self.gen.nodes_in(after)) if after in self.net.scopes else {after}
            if not self.gen.readers.get(out, set()) <= inside:
                handle.pinned = True


def _call(module, args):
    return f"{module}({args[0]})"
