"""The DSL's abstract syntax tree: what the text says, before anything is resolved."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SourceSpan
from .initspec import InitSpec


# --- expressions (arguments, repeat counts) ---------------------------------------------------
@dataclass(frozen=True)
class Num:
    value: int | float
    span: SourceSpan


@dataclass(frozen=True)
class Name:
    id: str
    span: SourceSpan


@dataclass(frozen=True)
class BinOp:
    op: str  # + - * / // % **, and the comparisons == != < <= > >= (a boolean)
    left: Expr
    right: Expr
    span: SourceSpan


@dataclass(frozen=True)
class Neg:
    operand: Expr
    span: SourceSpan


@dataclass(frozen=True)
class Func:
    """`ceil(x)`, `min(a, b)`, `make_divisible(c * width, 8)`: a function of the DSL's arithmetic."""

    name: str
    args: tuple[Expr, ...]
    span: SourceSpan


@dataclass(frozen=True)
class Tuple:
    """`(1, 7)`, `(0.5, 1, 2)`: a tuple of values. Two of them are a value per spatial axis (height,
    width) for a window's kernel, stride, padding; any number is a list for an attribute that takes
    one (anchors' sizes and ratios). Which reading applies is the attribute's, not the syntax's."""

    items: tuple[Expr, ...]
    span: SourceSpan


@dataclass(frozen=True)
class IfElse:
    """`a if c else b`, as Python reads it: only the branch the test picks is evaluated."""

    then: Expr
    test: Expr
    other: Expr
    span: SourceSpan


Expr = Num | Name | BinOp | Neg | Func | Tuple | IfElse


# --- network items ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    """A layer word or block call: `conv3-64`, `maxpool`, `conv(96, 11, stride=4)`, `inception(...)`."""

    word: str  # lower-cased, without a bound number
    number: int | None  # the VGG-style bound number: conv3-64 → 64
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str, Expr, SourceSpan], ...]
    span: SourceSpan
    text: str  # as written, for messages and labels
    points: tuple[Point, ...] = ()  # earlier points it reads besides the running tensor: concat(<skip>)
    point_at: tuple[int, ...] = ()  # each point's place among the positional arguments (args and points)
    point_kwargs: tuple[tuple[str, Point, SourceSpan], ...] = ()  # a block's arguments given points: low=<l>


GO_ON_FROM = "from"  # from(<p>): the DSL's one word that is neither a layer nor a block (netc/graph/expander.py)


@dataclass(frozen=True)
class Point:
    """`<name>`, `<name[i]>` or `<down2.skip>`: a named point, placed by a mark or read by a layer."""

    name: str  # the mark's name, qualified by a block instance's scope name when written so (down2.skip)
    index: Expr | None
    span: SourceSpan
    text: str  # as written, without the angle brackets
    every: bool = False  # <m[*]>: every index of the mark, in order

    @property
    def base(self) -> str:
        return self.name.rsplit(".", 1)[-1]

    @property
    def owner(self) -> str | None:
        """The block instance written before the name (`down2` in down2.skip), or None."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else None


@dataclass(frozen=True)
class Mark:
    """`<name>` (or `<name[i]>`): a named point in the network that heads branch from and later
    layers read (`concat(<name>)`)."""

    name: str
    span: SourceSpan
    index: Expr | None = None


@dataclass(frozen=True)
class Repeat:
    body: Item
    count: Expr
    index: str | None  # `*M@i` binds the 0-based repetition index to i
    span: SourceSpan
    stage: bool  # written with [ ]: each repetition is a named stage


@dataclass(frozen=True)
class Seq:
    items: tuple[Item, ...]
    span: SourceSpan
    stage: bool = False  # written with [ ]


Item = Call | Mark | Repeat | Seq


# --- spec-level declarations ----------------------------------------------------------------------
@dataclass(frozen=True)
class BlockParam:
    name: str
    default: int | float | str | None  # None: required
    span: SourceSpan


@dataclass(frozen=True)
class BlockDef:
    """A named sub-network under `blocks:`.

    form is "sequence" (body), "parallel" (branches merged, by default by concat) or "residual"
    (body and shortcut merged, by default by add); `merge` names the merging kind. `after` runs on
    the merged result.
    """

    name: str
    params: tuple[BlockParam, ...]
    form: str
    body: Seq | None
    branches: tuple[Seq, ...]
    shortcut: str | Seq  # "auto" | "identity" | "zeropad" | a sequence
    after: Seq | None
    span: SourceSpan
    merge: str = ""  # the kind that merges branches or body and shortcut: concat, add, mul, …
    outputs: tuple[tuple[str, SourceSpan], ...] = ()  # `outputs:` marks the caller reads as <unit.name>


@dataclass(frozen=True)
class HeadDef:
    name: str
    origin: str | None  # a mark name; None: the end of `network`
    origin_span: SourceSpan | None
    body: Seq
    span: SourceSpan
    train_only: bool = False  # returned in training mode only (GoogLeNet's auxiliary classifiers)
    origin_index: int | None = None  # the mark's index where it is placed in a repetition (`from: y[2]`)


@dataclass(frozen=True)
class InputDecl:
    """One named input of `input: {image: [3, H, W], rois: [R, 5]}`. A [C, H, W] or [F] input is
    per image (the batch axis implicit, as everywhere); an [R, K] input is a set of R rows of K
    values per image (RoIs, boxes): `shape` is one row's, (K,), and `rows` is R. Its tensor has no
    image batch axis of its own: torch's roi operators take a [K, 5] tensor of all the batch's rows."""

    name: str
    shape: tuple[int, ...]
    span: SourceSpan
    rows: int | None = None  # R for an [R, K] input; None for a per-image one


@dataclass(frozen=True)
class Program:
    """A whole spec after parsing: every DSL string is an AST, every value checked for type."""

    name: str
    name_span: SourceSpan
    input_shape: tuple[int, ...]
    input_span: SourceSpan
    params: dict[str, int | float]
    param_spans: dict[str, SourceSpan]
    defaults: dict[str, dict[str, int | float | str | bool]]
    default_spans: dict[tuple[str, str], SourceSpan]
    blocks: dict[str, BlockDef]
    network: Seq
    heads: tuple[HeadDef, ...]
    path: str
    overrides: dict[str, int | float] = field(default_factory=dict)
    init: InitSpec | None = None  # `init:` (netc/frontend/initspec.py); None: PyTorch's own initialisation
    freeze: tuple[tuple[str, SourceSpan], ...] = ()  # `freeze:` scope names, where each is written
    # `input: {image: …, rois: …}`: every named input, the first the one `network:` starts from
    # (its shape is `input_shape`, which --input replaces); empty for the one unnamed `input: [...]`.
    inputs: tuple[InputDecl, ...] = ()
