"""What one generated class is written from (`ClassSource`), how a block instance with a class of
its own is called (`ClassRef`), and the small pieces every class uses: module expressions and
shape comments. See netc/backends/codegen/emit.py for the emitter itself."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...analysis.annotated import Analysis
from ...frontend.symbolic import NeedsSpatial, names_of
from ...graph.ir import Network
from ...graph.templates import NotGeneric
from ...layers import Constructor
from ...layers.base import LayerKind
from .comments import Slot
from .elements import Item, Note
from .pysrc import Bracketed, Expr, Raw, comment, literal, where


@dataclass
class ClassRef:
    """How a block instance is written where it is used: `Name(args…)`, and its module paths."""

    class_name: str
    call_items: Callable[[Any, dict[str, Any]], list[Item]]  # (input channels, arguments) → constructor items
    paths: dict[str, str]  # the instance's IR nodes → module path inside it
    generic: bool = False
    static: frozenset[str] = frozenset()  # arguments the class fixes
    static_in: bool = True  # the class fixes its input channels


@dataclass
class ClassSource:
    """What one class is written from: a fragment of IR and, for a generic class, one instance."""

    network: Network  # the IR the fragment's nodes live in: the analysed network, or a block template
    children: Sequence[str]  # the fragment: node and scope ids, in order
    entry: str | None  # the node whose output is the class input
    refs: dict[str, ClassRef]  # block instances (of the analysed network) written as classes
    analysis: Analysis
    pinned: frozenset[str] = frozenset()  # outputs and head starts: variables of forward
    heads: dict[str, str | None] = field(default_factory=dict)  # head → the mark it starts from
    template: Network | None = None  # set for a generic class: `network` is then the template
    instance: str | None = None  # the block instance checked against (generic class)
    found: dict[str, list[str]] = field(default_factory=dict)  # template id → the instance's ids (templates.correspond)
    env: dict[str, Any] = field(default_factory=dict)  # the instance's values of the template's variables
    locals_taken: set[str] = field(default_factory=set)  # names __init__ already uses (parameters)
    slots: list[Slot] | None = None  # comments of a generic class, filled with this instance's numbers
    # The node whose output a block's class returns: a mark after the block (`blk(3)*3 - <p1>`)
    # names the instance's output in the caller's forward, never a variable inside the class, which
    # every instance shares.
    exit: str | None = None

    @property
    def instance_entry(self) -> str:
        """The analysed node whose output is the instance's input (the network's input when the
        instance is the whole network, netc/backends/codegen/network_class.py)."""
        scope = self.analysis.network.scopes.get(self.instance or "")
        return scope.entry if scope is not None else self.found[self.entry][0]


@dataclass
class Sized:
    """What a generic class knows of a tensor: its shape and its stride since the block input,
    as expressions; None where unknown."""

    shape: tuple[Any, ...]
    stride: Any = 1


def constructor_expr(value: Any) -> Expr:
    if isinstance(value, Constructor):
        items = [Item(constructor_expr(a)) for a in value.args]
        items += [Item(constructor_expr(v), k) for k, v in value.kwargs]
        # A class the generated file defines itself (Constructor.source) is named as it is.
        return Bracketed(f"{value.cls}(" if value.source else f"nn.{value.cls}(", ")", items)
    if isinstance(value, tuple) and len(value) > 1:  # a tuple argument: nn.ZeroPad2d((0, 1, 0, 1))
        return Bracketed("(", ")", [Item(constructor_expr(v)) for v in value])
    if isinstance(value, tuple) and len(value) == 1:  # a tuple of one keeps its comma: sizes ((32,), (64,))
        return Bracketed("(", ",)", [Item(constructor_expr(value[0]))])
    return Raw(literal(value))


def shape_text(shape: tuple[int, ...], batch: str = "B") -> str:
    return f"[{batch}, " + ", ".join(str(d) for d in shape) + "]"


def note(shape_or_text: Any, span: Any) -> Note:
    text = shape_or_text if isinstance(shape_or_text, str) else shape_text(shape_or_text)
    return Note(comment(f"{text}  {where(span)}"))


def hands_input_on(kind: LayerKind, attrs: dict[str, Any], build: Any, in_shapes: list[Any]) -> bool:
    """Whether forward hands its first input on unchanged (identity, a shortcut that keeps the shape)."""
    if build is not None:
        return False
    args = ["\0a"] + ["\0b"] * (len(in_shapes) - 1)
    return kind.forward(attrs, None, args, in_shapes) == "\0a"


def not_generic(kind: LayerKind, exc: Exception) -> NotGeneric:
    if isinstance(exc, NeedsSpatial):
        return NotGeneric(None, f"{kind.name} needs the input's height and width")
    needs = frozenset().union(*(names_of(v) for v in getattr(exc, "needs", ())))
    return NotGeneric(needs or None, str(exc))
