"""Layers with several inputs: concat (inception), add (residual), and the residual shortcut."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .base import (
    NOTHING_SAVED,
    Attr,
    Conditional,
    Constructor,
    LayerKind,
    NoSymbolicRule,
    Saved,
    ShapeError,
    exact,
    fmt_shape,
    numel,
    one_value,
    py_sum,
)
from .conv import axis_text, native_conv_columns, per_axis, window_output_axes
from .norm import FROZEN_BATCH_NORM


@dataclass(frozen=True)
class _Merge(LayerKind):
    """A kind that joins tensors: a block's `merge:`, or a layer reading points (concat(<skip>),
    add(<lateral>), mul(<gate>)). It keeps nothing for backward of its own."""

    category = "merge"
    inputs = (1, None)
    merges = True

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED


@dataclass(frozen=True)
class Concat(_Merge):
    name = "concat"
    words = {"concat": {}, "cat": {}}  # with points to read: concat(<skip>), add(<lateral>), mul(<gate>)
    attrs = (Attr("crop", "bool", False),)  # crop larger inputs to the first's size, at their centre (U-Net)

    def infer(self, attrs, inputs):
        first = inputs[0]
        for shape in inputs[1:]:
            if len(shape) != len(first):
                raise ShapeError(f"concat of a map and a vector: {', '.join(fmt_shape(s) for s in inputs)}")
            if attrs.get("crop") and all(d >= f for d, f in zip(shape[1:], first[1:])):
                continue
            if shape[1:] != first[1:]:
                sizes = ", ".join(fmt_shape(s) for s in inputs)
                hint = ("crop the larger maps to the first's size with concat(…, crop=true), as the original "
                        "U-Net does" if not attrs.get("crop") and all(d >= f for d, f in zip(shape[1:], first[1:]))
                        else None)
                raise ShapeError(f"concat needs the same spatial size on every input, got {sizes}"
                                 + (" (crop=true only makes larger maps smaller)" if attrs.get("crop") else ""), hint)
        return (sum(s[0] for s in inputs),) + first[1:], []

    def symbolic_shape(self, attrs, inputs):
        return (py_sum([s[0] for s in inputs]),) + tuple(inputs[0][1:])

    def receptive(self, attrs, inputs):
        return 1, 1

    def label(self, attrs):
        return "concat, cropped" if attrs.get("crop") else "concat"

    def forward(self, attrs, module, args, inputs):
        parts = [args[0]] + [self._cropped(arg, shape, args[0]) if attrs.get("crop") else arg
                             for arg, shape in zip(args[1:], inputs[1:])]
        return f"torch.cat([{', '.join(parts)}], dim=1)"

    @staticmethod
    def _cropped(arg: str, shape, first: str) -> str:
        """The centre of a larger map, the size of the first input: a view, no copy. The sizes are
        read at run time, so that the module runs at other input sizes than the spec's (U-Net's
        skips are cut by a different margin at each)."""
        if len(shape) != 3:
            return arg
        return (f"{arg}.narrow(2, ({arg}.size(2) - {first}.size(2)) // 2, {first}.size(2))"
                f".narrow(3, ({arg}.size(3) - {first}.size(3)) // 2, {first}.size(3))")


@dataclass(frozen=True)
class Add(_Merge):
    name = "add"
    words = {"add": {}}  # with points to read: concat(<skip>), add(<lateral>), mul(<gate>)

    def infer(self, attrs, inputs):
        first = inputs[0]
        for shape in inputs[1:]:
            if shape != first:
                raise ShapeError(
                    f"residual add of mismatched shapes {fmt_shape(first)} (body) and {fmt_shape(shape)} (shortcut)",
                    "use `shortcut: auto` (a 1×1 projection when the shape changes) or write a projection "
                    "shortcut, e.g. `shortcut: conv(C, 1, stride=S)-bn`",
                )
        return first, []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def label(self, attrs):
        return "add"

    def forward(self, attrs, module, args, inputs):
        return " + ".join(args)

    def in_place_forward(self, attrs, args):
        # torchvision's `out += identity`: add's backward reads neither input.
        return f"{args[0]} += {args[1]}" if len(args) == 2 and args[0] != args[1] else None


@dataclass(frozen=True)
class Mul(_Merge):
    """Element-wise product with broadcasting: a gate of C×1×1 (or C) scales each channel of a
    C×H×W map, as squeeze-and-excitation does (`merge: mul`)."""

    name = "mul"
    words = {"mul": {}}  # with points to read: concat(<skip>), add(<lateral>), mul(<gate>)

    def infer(self, attrs, inputs):
        out = inputs[0]
        for shape in inputs[1:]:
            out = _broadcast(out, shape, inputs)
        return out, []

    def symbolic_shape(self, attrs, inputs):
        # Take, on each axis, the size that is not a literal 1 (the gate's): a gate C×1×1 on a C×H×W map.
        out = list(inputs[0])
        for shape in inputs[1:]:
            out = [b if a == 1 else a for a, b in zip(out, shape)]
        return tuple(out)

    def label(self, attrs):
        return "mul"

    def forward(self, attrs, module, args, inputs):
        return " * ".join(args)

    def saved(self, attrs, inputs, out):
        # Each factor's gradient is the other factor: backward keeps both (a single input, squared, once).
        return Saved(inputs=tuple(range(len(inputs))))


def _broadcast(a, b, inputs) -> tuple[int, ...]:
    """NumPy's rule, for tensors of one rank: on each axis the sizes are equal or one of them is 1."""
    if len(a) != len(b) or any(x != y and 1 not in (x, y) for x, y in zip(a, b)):
        sizes = " and ".join(fmt_shape(s) for s in inputs)
        raise ShapeError(f"mul of {sizes}: on each axis the sizes must be equal or one of them 1",
                         "a channel gate is C×1×1 (globalavgpool-…-sigmoid) for a C×H×W map")
    return tuple(max(x, y) for x, y in zip(a, b))


@dataclass(frozen=True)
class Projection(LayerKind):
    """The automatic residual shortcut: identity when the body keeps the shape, else a 1×1 conv
    (with batch norm when the body uses it) to the body's channels and stride — or, with
    `zeropad` (`shortcut: zeropad`, He et al.'s option A), the input subsampled by the stride and
    padded with zero channels after its own: no parameters, no multiply-adds.

    Inputs: the block input, then the body's output, read for its shape only.
    """

    name = "projection"
    category = "conv"
    inputs = (2, 2)
    attrs = (Attr("bn", "bool", False), Attr("zeropad", "bool", False), Attr("frozen", "bool", False))
    counts_flops = True
    overwritable = False  # the identity shortcut is its input
    output_variable = "shortcut"

    def resolve(self, attrs, inputs, jumps):
        # The shortcut samples its input on the body's grid: every `jumps[1] / jumps[0]` pixels. In a
        # block class the steps count from the block input (jumps[0] is 1) and may be expressions.
        if len(inputs[0]) != 3:
            return {}
        if None in jumps:
            raise NoSymbolicRule("the steps into the shortcut are not known from the arguments")
        if any(isinstance(j, tuple) for j in jumps):  # a step per axis, (height, width)
            (h0, w0), (h1, w1) = per_axis(jumps[0]), per_axis(jumps[1])
            return {"body_stride": one_value((exact(Fraction(h1) / h0), exact(Fraction(w1) / w0)))}
        return {"body_stride": jumps[1] if jumps[0] == 1 else exact(Fraction(jumps[1]) / jumps[0])}

    def _plan(self, inputs, attrs=None) -> tuple[bool, int]:
        """Whether a projection is needed, and its stride: the body's sampling step when the
        analysis has found it (`body_stride`), else the least stride that gives the body's size."""
        (x, target) = inputs[0], inputs[1]
        if x == target:
            return False, 1
        if len(x) != 3 or len(target) != 3:
            raise ShapeError(f"cannot project {fmt_shape(x)} onto {fmt_shape(target)}")
        step = (attrs or {}).get("body_stride")
        if step is not None and not all(isinstance(s, int) for s in per_axis(step)):
            raise ShapeError(
                f"the body makes its {x[1]}×{x[2]} input larger ({target[1]}×{target[2]}); an automatic shortcut "
                "only projects or subsamples",
                "write the shortcut yourself, e.g. `shortcut: upsample-conv(C, 1)`")
        if step is not None:
            got = tuple((size - 1) // s + 1 for size, s in zip(x[1:], per_axis(step)))
            if got == tuple(target[1:]):
                return True, step
            raise ShapeError(
                f"the body samples its {x[1]}×{x[2]} input every {axis_text(step)} pixel(s) and gives "
                f"{target[1]}×{target[2]}, but a 1×1 projection with stride {axis_text(step)} gives {got[0]}×{got[1]}: the body's windows do not "
                "line up with one stride",
                "pad the body's windows so the output is ⌈H/S⌉ (padding=same), or write the shortcut yourself "
                "(shortcut: conv(C, 1, stride=S)-…, or a pool)",
            )
        for stride in range(max(1, x[1] // max(target[1], 1)), x[1] + 1):
            if (x[1] - 1) // stride + 1 == target[1] and (x[2] - 1) // stride + 1 == target[2]:
                return True, stride
            if (x[1] - 1) // stride + 1 < target[1]:
                break
        raise ShapeError(
            f"no 1×1 projection turns {fmt_shape(x)} into {fmt_shape(target)}: the body changes "
            "the spatial size by other than a stride"
        )

    def infer(self, attrs, inputs):
        project, stride = self._plan(inputs, attrs)
        if attrs.get("zeropad") and inputs[1][0] < inputs[0][0]:
            raise ShapeError(f"a zero-padding shortcut cannot take {inputs[0][0]} channels down to {inputs[1][0]}")
        if not project or stride == 1:
            return inputs[1], []
        what = f"{'zero-pad shortcut' if attrs.get('zeropad') else 'projection 1×1'} stride {axis_text(stride)}"
        axes = tuple((1, s, (0, 0)) for s in per_axis(stride))
        return inputs[1], window_output_axes(inputs[0][1], inputs[0][2], axes, what)[1]

    def symbolic_shape(self, attrs, inputs):
        return inputs[1]

    def batch_norm_inside(self, attrs):
        if not attrs["bn"] or attrs.get("zeropad"):
            return None
        return {**attrs, "bn": False}, 1e-5  # the conv then has a bias; nn.BatchNorm2d's default eps

    def native_cpu_columns(self, attrs, inputs, out, batch, half, threads=2, onednn=True):
        project, stride = self._plan(inputs, attrs)
        if not project or attrs.get("zeropad"):
            return None
        return native_conv_columns(tuple(inputs[0]), out, (1, 1), per_axis(stride), False, False, 1, batch, half, threads,
                                   onednn)

    def strided_pointwise(self, attrs, inputs):
        project, stride = self._plan(inputs, attrs)
        return project and not attrs.get("zeropad") and per_axis(stride) != (1, 1)

    def makes_new_tensor(self, attrs, inputs):
        return self._plan(inputs, attrs)[0]

    def passes_input(self, attrs, inputs):
        return not self._plan(inputs, attrs)[0]

    def saved(self, attrs, inputs, out):
        project, _ = self._plan(inputs, attrs)
        if not project or attrs.get("zeropad"):
            return NOTHING_SAVED
        # The 1×1 conv keeps the block input; its batch norm keeps the conv's output and statistics.
        if attrs.get("frozen"):  # x * scale keeps the per-channel scale, not the conv's output
            return Saved(per_batch=out[0])
        return Saved(hidden=numel(out), per_batch=2 * out[0]) if attrs["bn"] else Saved()

    def params(self, attrs, inputs, out):
        project, _ = self._plan(inputs, attrs)
        if not project or attrs.get("zeropad"):
            return 0, 0
        weights = inputs[0][0] * out[0]
        if attrs.get("frozen"):  # the conv has no bias, the frozen norm no parameters
            return weights, 0
        return weights + (out[0] if attrs["bn"] else 0), out[0]

    def macs(self, attrs, inputs, out):
        project, _ = self._plan(inputs, attrs)
        return numel(out) * inputs[0][0] if project and not attrs.get("zeropad") else 0

    def receptive(self, attrs, inputs):
        if not all(isinstance(d, int) for shape in inputs for d in shape):  # a block class: its body's step
            return 1, attrs["body_stride"]
        return 1, self._plan(inputs, attrs)[1]

    def label(self, attrs):
        return "zero-pad shortcut" if attrs.get("zeropad") else "projection 1×1"

    def constructor(self, attrs, inputs):
        if attrs.get("zeropad"):
            return None  # a plain expression in forward
        in_class = not all(isinstance(d, int) for shape in inputs for d in shape)
        if in_class:  # a generic block class: decided when the module is built, from its arguments
            stride = attrs["body_stride"]
        else:
            project, stride = self._plan(inputs, attrs)
            if not project:
                return None
        conv = Constructor(
            "Conv2d",
            (inputs[0][0], inputs[1][0]),
            (("kernel_size", 1),) + ((("stride", stride),) if stride != 1 else ())
            + ((("bias", False),) if attrs["bn"] or attrs.get("frozen") else ()),
        )
        module = Constructor("Sequential", (conv, Constructor("BatchNorm2d", (inputs[1][0],)))) if attrs["bn"] else conv
        if attrs.get("frozen"):
            module = Constructor("Sequential", (conv, Constructor("FrozenBatchNorm2d", (inputs[1][0],),
                                                                  source=FROZEN_BATCH_NORM)))
        if in_class:
            return Conditional(((inputs[0][0], inputs[1][0]), (stride, 1)), Constructor("Identity"), module)
        return module

    def forward(self, attrs, module, args, inputs):
        if attrs.get("zeropad"):
            # Needs the concrete shapes (a generic block class cannot know them, so the code
            # generator makes one class per shape for a block with this shortcut).
            if not all(isinstance(d, int) for shape in inputs for d in shape):
                raise NoSymbolicRule("a zero-padding shortcut needs the block input's height and width")
            project, stride = self._plan(inputs, attrs)
            if not project:
                return args[0]
            sh, sw = per_axis(stride)
            x = args[0] if stride == 1 else f"{args[0]}[:, :, ::{sh}, ::{sw}]"
            return f"torch.nn.functional.pad({x}, (0, 0, 0, 0, 0, {inputs[1][0] - inputs[0][0]}))"
        return f"{module}({args[0]})" if module else args[0]
