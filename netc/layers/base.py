"""What a layer kind is: one declaration says everything about it.

A kind declares its attributes (with defaults and validation), how the DSL names it, its shape
rule, parameter count, MACs/FLOPs, receptive-field step, its PyTorch emitter and its drawing
category. Every backend asks the kind; none branches on kind names.

Shapes are tuples: (C, H, W) for feature maps, (F,) for vectors; the batch axis is implicit.
Emitters may be handed symbolic sizes (netc/frontend/symbolic.py: `width * 4` as an expression over a
block's arguments) by the code generator for block classes, so they build arguments with `py_*`
helpers that fold numbers and build expressions otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from ..frontend.symbolic import Bin, Sym, binary

Shape = tuple[int, ...]
REQUIRED = object()

# Drawing style per category: fill colour for Graphviz nodes.
CATEGORY_COLORS: dict[str, str] = {
    "input": "#e0e0e0",
    "conv": "#a8d1f0",
    "pool": "#f7c99b",
    "upsample": "#fbe3c4",
    "fc": "#c5b3e6",
    "activation": "#c9e8b5",
    "norm": "#f5e79e",
    "dropout": "#eeeeee",
    "merge": "#f4a6a6",
    "reshape": "#dddddd",
}


@dataclass(frozen=True)
class Misfit:
    """The lecture notes' "doesn't fit": a window layer whose last rows or columns of (padded)
    input no window reads. `lost` counts the rows and columns of real input left unread, per axis
    (height, width); (0, 0) means only padding goes unread, which loses nothing. Whether input is
    really lost is decided over the whole graph (netc/analysis/infer.py): another reader of the same tensor
    may read what this one leaves out, as a ResNet block's body does for its 1×1 stride-2 shortcut."""

    message: str
    lost: tuple[int, int] = (0, 0)


class NoSymbolicRule(Exception):
    """A kind that cannot state its output shape in terms of a block's arguments. `needs` are the
    values that would have to be numbers (a kernel given as an argument): the code generator then
    writes one class per value of the arguments they depend on, or one per use when none is given."""

    def __init__(self, message: str, *needs: Any):
        super().__init__(message)
        self.needs = needs


class ShapeError(Exception):
    """A layer cannot take the shape it is given; the message says why, the hint how to fix it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Saved:
    """What autograd keeps for one layer's backward, as PyTorch's kernels do: some of its inputs,
    perhaps its output, and tensors it makes on the way (LRN's padded squares, a dropout mask).
    Tensors are counted once however many layers keep them (see netc/analysis/memory.py)."""

    inputs: tuple[int, ...] = (0,)  # which inputs are kept
    output: bool = False  # the output is kept (backward of relu, sigmoid, softmax reads it)
    hidden: int = 0  # values of other tensors kept, in the model's dtype
    indices: int = 0  # int64 values kept (max pooling's argmax)
    per_batch: int = 0  # values kept once for the whole batch, whatever its size (BN's statistics)


NOTHING_SAVED = Saved(inputs=())


@dataclass(frozen=True)
class Learned:
    """One tensor a kind's module learns, as the module names it (nn.Conv2d's weight and bias): what
    `init:` may set. Checked when the spec is checked, so that the generated reset_parameters()
    never asks torch for a tensor the module lacks or a fan it cannot compute."""

    name: str  # the module's attribute: weight, bias
    rank: int  # its dimensions at the fewest (a conv's weight 4, a norm's scale 1); fan-based init needs 2
    switch: str | None = None  # the bool attribute that, false, leaves the module without it (bias, affine)
    what: str = ""  # how a message names it: "one slope per channel"


@dataclass(frozen=True)
class Attr:
    name: str
    type: str  # int | float | floats (a tuple of numbers: sizes=(32, 64)) | bool | padding | choice
    default: Any = REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    pair: bool = False  # may be given per axis, (height, width): a 1×7 kernel is kernel=(1, 7)


@dataclass(frozen=True)
class Constructor:
    """An nn.Module construction: `nn.<cls>(*args, **kwargs)`; values are numbers or code."""

    cls: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    # The class's source, for a layer torch.nn has no module for (ConvNeXt's LayerNorm2d): the
    # generated file defines it once, before its first use, so that it stays standalone, and the
    # construction is `<cls>(…)` rather than `nn.<cls>(…)`. Empty for torch.nn's own modules.
    source: str = ""
    # Classes of the file that `source` uses, (name, source), each defined before it (and once).
    needs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Conditional:
    """A module chosen when the block is built: `identity` when each pair in `equal` is equal
    (the sizes may be expressions over the block's arguments), else `module`."""

    equal: tuple[tuple[Any, Any], ...]
    identity: Constructor
    module: Constructor


def is_spatial(shape: Shape) -> bool:
    return len(shape) == 3


def numel(shape: Shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def exact(value: int | Fraction) -> int | Fraction:
    """A receptive-field size or step as an int when it is whole (a Fraction after upsampling)."""
    if type(value) is int:  # nearly always; isinstance against Fraction (an ABC) is slow
        return value
    return int(value) if isinstance(value, Fraction) and value.denominator == 1 else value


def one_value(pair: tuple[Any, Any]) -> Any:
    """A (height, width) pair as one value when both axes agree, as the DSL's (3, 3) is 3."""
    return pair[0] if pair[0] == pair[1] else tuple(pair)


def fmt_step(jump: int | Fraction) -> str:
    """The step between neighbouring outputs in input pixels, for tables: `/2` (every second
    pixel), `×2` (two outputs per pixel, after upsampling), or `/3/2`."""
    if jump == 1:
        return ""
    if jump < 1 and (1 / jump).denominator == 1:
        return f" ×{int(1 / jump)}"
    return f" /{jump}"


def json_number(value: int | Fraction) -> int | str:
    """An int, or a fraction as the string "1/2" (JSON has no exact fractions)."""
    value = exact(value)
    return value if isinstance(value, int) else str(value)


def fmt_shape(shape: Shape) -> str:
    return "×".join(map(str, shape))


def py(value: Any) -> str:
    """Python source for a value: a number, a bool, or a size expression (netc/frontend/symbolic.py), a sum
    parenthesised as a whole so that it can be embedded in larger text."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def is_parenthesised(text: str) -> bool:
    """Whether the whole text is one parenthesised group: `(a + b)`, not `(a) + (b)`."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth = 0
    for k, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and k < len(text) - 1:
            return False
    return True


# Size arithmetic for shape rules and emitters: numbers fold; a block argument (a Sym) makes an
# expression that prints with the parentheses Python's precedence needs (3 * (w // 2)).
def _arith(op: str, a: Any, b: Any) -> Any:
    if isinstance(a, Sym) or isinstance(b, Sym):
        binary(op, 1 if isinstance(a, Sym) else a, 1 if isinstance(b, Sym) else b)  # refuses SPATIAL and words
        return Bin(op, a, b)
    return binary(op, a, b)


def py_add(a: Any, b: Any) -> Any:
    return _arith("+", a, b)


def py_sub(a: Any, b: Any) -> Any:
    return _arith("-", a, b)


def py_mul(a: Any, b: Any) -> Any:
    return _arith("*", a, b)


def py_floordiv(a: Any, b: Any) -> Any:
    return _arith("//", a, b)


def py_reciprocal(value: Any) -> Any:
    """1/value: a receptive-field step after upsampling by `value` (an exact fraction, or 1 / s)."""
    return exact(Fraction(1, value)) if not isinstance(value, Sym) else Bin("/", 1, value)


def py_prod(values: tuple[Any, ...]) -> Any:
    """Product of sizes: a flattened feature count."""
    total: Any = values[0] if values else 1
    for value in values[1:]:
        total = py_mul(total, value)
    return total


LONG_SUM = 32  # a sum of more terms than this is gathered (c + c + … → n * c) and kept shallow


def py_sum(values: tuple[Any, ...] | list[Any]) -> Any:
    """Sum of sizes: concatenated channels. A long sum (a concat of thousands of branches) gathers
    equal terms into one product and adds the rest as a balanced tree, so that the expression stays
    short and shallow (printing or evaluating a left-deep sum of 10,000 terms would recurse 10,000 deep)."""
    if len(values) <= LONG_SUM or not any(isinstance(v, Sym) for v in values):
        total: Any = values[0]
        for value in values[1:]:
            total = py_add(total, value)
        return total
    number: Any = 0
    counts: dict[Any, int] = {}
    for value in values:
        if isinstance(value, Sym):
            counts[value] = counts.get(value, 0) + 1
        else:
            number = py_add(number, value)
    terms = [term if count == 1 else py_mul(count, term) for term, count in counts.items()]
    if number != 0:
        terms.append(number)
    while len(terms) > 1:
        terms = [py_add(terms[k], terms[k + 1]) if k + 1 < len(terms) else terms[k] for k in range(0, len(terms), 2)]
    return terms[0]


def divides_hint(word: str, channels: int, count: int, what: str = "the number of groups") -> str | None:
    """A hint for a count that does not divide the channels: the nearest count below it that does
    (`groupnorm(4)` for groupnorm(5) on 12 channels)."""
    top = min(count, channels)
    for d in range(top, max(0, top - 10_000), -1):
        if channels % d == 0:
            return f"{what} must divide the {channels} channels: {word}({d}) does"
    return None


@dataclass(frozen=True)
class LayerKind:
    """Base for every kind. Subclasses override what differs from 'shape-preserving, no params'."""

    name: ClassVar[str] = ""
    category: ClassVar[str] = "activation"
    attrs: ClassVar[tuple[Attr, ...]] = ()
    words: ClassVar[dict[str, dict[str, Any]]] = {}  # DSL word → fixed attributes
    number_attr: ClassVar[str | None] = None  # what `word-N` sets (conv3-64 → filters)
    defaults_key: ClassVar[str | None] = None  # section of `defaults:` that applies
    foldable: ClassVar[bool] = False  # folded into the previous row by `table --compact`
    inputs: ClassVar[tuple[int, int | None]] = (1, 1)  # (min, max) number of inputs
    counts_flops: ClassVar[bool] = False  # FlopCounterMode counts this kind's work
    merges: ClassVar[bool] = False  # a block may merge its branches, or body and shortcut, with it (`merge:`)
    batch_norm: ClassVar[bool] = False  # normalises over the batch: a residual body with one gets a projection with one
    frozen_norm: ClassVar[bool] = False  # a batch norm with fixed buffers (FrozenBatchNorm2d): likewise for projections
    # An in-place activation may overwrite this kind's output when nothing else reads it: False where
    # backward reads the output (relu, sigmoid, tanh, softmax) or the output may be the input itself
    # (dropout in eval mode). Views (makes_new_tensor False) are never overwritten either.
    overwritable: ClassVar[bool] = True
    # Run in place, autograd keeps a copy of the input for backward (hardtanh for relu6, hardswish,
    # hardsigmoid, silu): the output shares the input's storage, but the bytes kept are those of an
    # out-of-place run. Without autograd (inference) in place saves the allocation outright.
    in_place_copies_input: ClassVar[bool] = False
    # The identity in eval mode (dropout, stochastic depth): the inference build leaves it out.
    eval_identity: ClassVar[bool] = False
    # What forward names the output when it is a path of its own beside the main chain (the
    # automatic shortcut: `shortcut = self.shortcut(x)`); "" for the chain's running variable.
    output_variable: ClassVar[str] = ""
    # The points a call reads (`upsample(<c4>)`) are read for their shape only, not their values.
    points_for_shape: ClassVar[bool] = False
    # Tensors are per image, or per row of a named [R, K] input (per RoI after a roi operator). The
    # output of most kinds is per whatever its data inputs are (which must agree); this names the
    # input whose rows the output has instead (a roi operator's boxes: one pooled map per RoI).
    rows_input: ClassVar[int | None] = None
    # Forward reads those shapes from the tensors at run time (`upsample(<c4>)` takes c4's size then,
    # so that the module runs at any input size): the code generator passes them and keeps them alive
    # until this layer, as the memory model does (liveness._held_until holds every input).
    shapes_at_run_time: ClassVar[bool] = False
    # Its torch counterparts, which `netc import` (and so `netc port`'s structure) read: torch.nn
    # module classes by name (names, not classes: the analysis path imports no torch) and functions
    # or tensor methods by __name__ (F.pixel_shuffle and torch.pixel_shuffle), with how
    # each of the word's attributes is read back: (attribute, the module's attribute or the call's
    # keyword, the call's positional index). A kind whose counterpart needs more (checks, renamed
    # values) overrides from_torch_module / from_torch_call.
    torch_modules: ClassVar[tuple[str, ...]] = ()
    torch_functions: ClassVar[tuple[str, ...]] = ()
    torch_attrs: ClassVar[tuple[tuple[str, str, int], ...]] = ()
    # The tensors its module learns, by the module's attribute names: what `init:` may set.
    learned: ClassVar[tuple[Learned, ...]] = ()

    def learned_tensor(self, name: str) -> Learned | None:
        """The declared tensor of that name, or None when the kind's module has no such attribute."""
        return next((t for t in self.learned if t.name == name), None)

    def has_tensor(self, attrs: dict[str, Any], name: str) -> bool:
        """Whether a layer with these attributes has the tensor (a conv with bias=false has no bias)."""
        tensor = self.learned_tensor(name)
        return tensor is not None and (tensor.switch is None or bool(attrs.get(tensor.switch, True)))

    @property
    def pools(self) -> bool:
        """A pooling layer (messages count them: "at conv5 after 2 pools")."""
        return self.category == "pool"

    # --- the DSL ------------------------------------------------------------------------------
    def from_torch_module(self, module: Any) -> dict[str, Any]:
        """The word's attributes read back from one of its torch.nn counterparts."""
        return {attr: getattr(module, torch_name) for attr, torch_name, _ in self.torch_attrs}

    def from_torch_call(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The word's attributes read back from a call of one of its torch functions."""
        return {attr: kwargs[name] if name in kwargs else args[index] for attr, name, index in self.torch_attrs}

    def word_attrs(self, word: str) -> dict[str, Any] | None:
        """Attributes fixed by a DSL word, or None when the word is not this kind's."""
        return dict(self.words[word]) if word in self.words else None

    # --- analysis -----------------------------------------------------------------------------
    def infer(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Shape, list[Misfit]]:
        """Output shape and the windows that don't fit; raise ShapeError when the input does not fit."""
        return inputs[0], []

    def resolve(self, attrs: dict[str, Any], inputs: list[Shape], jumps: list[int]) -> dict[str, Any]:
        """Attributes this kind decides from its inputs, added to the node's by the analysis: the
        automatic projection's stride is its body's sampling step (`jumps` are the inputs' steps in
        network-input pixels, each one number or a (height, width) pair where the axes differ).
        Most kinds decide nothing."""
        return {}

    def params(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> tuple[int, int]:
        """(weights, biases)."""
        return 0, 0

    def macs(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        return 0

    def flops(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> int:
        """FLOPs as torch.utils.flop_counter counts them: 2 × MACs for conv and matmul, else 0."""
        return 2 * self.macs(attrs, inputs, out) if self.counts_flops else 0

    def receptive(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[Any, Any]:
        """(kernel extent, stride), for receptive-field arithmetic: each one number for both spatial
        axes, or a (height, width) pair where they differ (a 1×7 conv, a 3×1 pool)."""
        return 1, 1

    def saved(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape) -> Saved:
        """What backward keeps (per image); most kernels keep their input (conv, fc, BN, pools)."""
        return Saved()

    def channels_last_output(self, attrs: dict[str, Any], inputs: list[Shape], channels_last: list[bool]) -> bool:
        """Whether the output's memory is laid out channels last (NHWC strides, as torch's
        channels_last) given its data inputs' layouts: most ops keep their first input's (torch's
        suggest_memory_format); a layer that permutes to channels-last and back (layer norm over
        channels) makes it; a reshape to a vector makes a contiguous one. It decides what oneDNN
        copies when a conv reads the tensor (netc/analysis/liveness.py)."""
        return bool(channels_last) and channels_last[0]

    def contiguous_view(self, attrs: dict[str, Any], inputs: list[Shape], batch: int) -> bool:
        """For a layer whose output is a view of its input (makes_new_tensor False): whether that
        view is one contiguous block of memory at this batch; a conv reading one that is not copies
        it first."""
        return True

    def strided_pointwise(self, attrs: dict[str, Any], inputs: list[Shape]) -> bool:
        """Whether the layer is a 1×1 convolution of stride > 1 (oneDNN lays it out otherwise)."""
        return False

    def channels_last_weight_copies(self, attrs: dict[str, Any], inputs: list[Shape]) -> int:
        """Copies of its weight a oneDNN conv makes on each call when its input is channels last:
        the blocked weight, and for some kinds first a channels-last one (Conv)."""
        return 1

    def channels_last_backward_values(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape, weights: int,
                                      batch: int) -> int:
        """Values a oneDNN conv's backward allocates and frees on a channels-last input, beside the
        gradients it keeps: a blocked weight and its gradient."""
        return 2 * weights

    def native_cpu_columns(self, attrs: dict[str, Any], inputs: list[Shape], out: Shape, batch: int,
                           half: bool, threads: int = 2, onednn: bool = True) -> int | None:
        """Values of the im2col buffer torch's own CPU kernel allocates beside the output while it
        runs this layer (and again in its backward), where torch runs the layer with that kernel
        rather than with oneDNN; None where oneDNN runs it (netc/analysis/liveness.py models its reorders)
        or the kind has no such kernel. `threads`: torch's intra-op threads; `onednn`: whether
        torch may use oneDNN at all (torch.backends.mkldnn.enabled)."""
        return None

    def conv_window(self, attrs: dict[str, Any], inputs: list[Shape]) -> tuple[tuple[int, int], int]:
        """For a convolution: its kernel (height, width) and its groups (as many as input channels:
        depthwise), what backends choose their kernels and buffers by."""
        return (1, 1), 1

    @property
    def convolution(self) -> bool:
        """Whether backends run the layer as a convolution over its weight (oneDNN's reorders,
        cuDNN, torch's im2col): the kinds of the "conv" category."""
        return self.category == "conv"

    def composed_temporaries(self, saved: Saved) -> bool:
        """Whether the layer is composed of small ops (LRN: squares, padded, pooled, scaled,
        shifted), two of whose temporaries are alive beside the output in inference."""
        return self.category == "norm" and bool(saved.hidden)

    def passes_input(self, attrs: dict[str, Any], inputs: list[Shape]) -> bool:
        """Whether the layer is nothing here: forward hands its first input on unchanged (an
        automatic shortcut that is the identity). The table lists no row for it."""
        return False

    def makes_new_tensor(self, attrs: dict[str, Any], inputs: list[Shape]) -> bool:
        """Whether the output is a new tensor kept for backward (False for views like flatten)."""
        return True

    # --- presentation ---------------------------------------------------------------------------
    def label(self, attrs: dict[str, Any]) -> str:
        """Short name in the lecture notes' notation: conv3-64, maxpool 3/2, FC-4096."""
        return self.name

    # --- code generation --------------------------------------------------------------------------
    def constructor(self, attrs: dict[str, Any], inputs: list[Any]) -> Constructor | None:
        """The nn.Module this layer becomes, or None when forward does it with a plain expression."""
        return None

    def forward(self, attrs: dict[str, Any], module: str | None, args: list[str], inputs: list[Shape]) -> str:
        """The forward expression, given the module attribute and the input variable names."""
        return f"{module}({args[0]})"

    def not_exportable(self, attrs: dict[str, Any]) -> str | None:
        """Why an ONNX trace cannot follow this layer's generated code (a Python loop over its
        input's rows, which a trace would fix at the example's count), or None: it can."""
        return None

    def runs_in_place(self, attrs: dict[str, Any]) -> bool:
        """Whether the module may be built with inplace=True where its input is not needed again."""
        return False

    def in_place_forward(self, attrs: dict[str, Any], args: list[str]) -> str | None:
        """A statement that writes the result into the first input, `out += shortcut`, for a kind
        without a module whose backward reads none of its inputs; None when it has none. The code
        generator uses it where that input is read by nothing else and may be overwritten."""
        return None

    def batch_norm_inside(self, attrs: dict[str, Any]) -> tuple[dict[str, Any], float] | None:
        """For the inference build: when the layer's own module ends with a batch norm after a conv
        (an nn.Sequential of the two), the attributes of that conv with a bias and without the
        norm, and the norm's eps; None when it has none."""
        return None

    def folds_batch_norm(self, attrs: dict[str, Any]) -> int | None:
        """For the inference build: the axis of this layer's weight that holds its output channels,
        when a batch norm reading only its output can be folded into its weight and bias; None when
        it cannot."""
        return None

    def with_bias(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The attributes of this layer given a bias (a batch norm folded into it)."""
        return attrs

    def symbolic_shape(self, attrs: dict[str, Any], inputs: list[tuple[Any, ...]]) -> tuple[Any, ...]:
        """The output shape for a generic block class, where sizes may be Python expressions
        (strings such as "width * 4"). Only the rank and the channel count (first entry) must be
        right: spatial entries may be the input's placeholders passed through. A kind with its own
        `infer` declares this too; one that does not is generated per concrete shape instead."""
        if type(self).infer is LayerKind.infer:
            return inputs[0]
        raise NoSymbolicRule(f"{self.name} has no symbolic shape rule")
