"""Convolution: the output-size rule ⌊(W − F + 2P)/S⌋ + 1 and its "doesn't fit" case."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..frontend.exprs import Symbol
from ..frontend.symbolic import Bin
from .base import (
    Attr,
    Constructor,
    LayerKind,
    Learned,
    Misfit,
    NoSymbolicRule,
    Saved,
    Shape,
    ShapeError,
    exact,
    is_spatial,
    numel,
    one_value,
    py,
    py_add,
    py_mul,
    py_reciprocal,
    py_sub,
)

PADDING_KINDS = ("valid", "same", "full")


def effective_kernel(kernel: Any, dilation: Any) -> Any:
    """Extent covered by a dilated kernel: d·(F − 1) + 1."""
    if dilation == 1:
        return kernel
    return py_add(py_mul(dilation, py_sub(kernel, 1)), 1)


def resolve_padding(padding: Any, extent: Any) -> tuple[Any, Any]:
    """Rows of zeros (before, after) an axis gets: valid → 0; full → F − 1 on each side; an int on
    each side; same → F − 1 in all, the odd one after (bottom/right), as PyTorch's and Keras'
    padding='same' split it, so the size is kept at stride 1 for even kernels too (⌈W/S⌉ at stride S)."""
    name = padding.name if isinstance(padding, Symbol) else padding
    if name == "valid":
        return 0, 0
    if name == "same":
        if not isinstance(extent, int):
            raise NoSymbolicRule("padding=same splits F − 1 by the kernel's parity, which must be known", extent)
        return (extent - 1) // 2, extent - 1 - (extent - 1) // 2
    if name == "full":
        pad = py_sub(extent, 1)
        return pad, pad
    return padding, padding


def pad_call(x: str, pads: tuple[Any, Any], value: str | None = None, height: tuple[Any, Any] | None = None) -> str:
    """Forward code padding a map unevenly (PyTorch's modules pad both sides alike): `pads` for the
    width (left, right) and, when given, `height` (top, bottom); else the same for both."""
    before, after = pads
    top, bottom = height if height is not None else pads
    fill = f", value={value}" if value else ""
    return f"torch.nn.functional.pad({x}, ({py(before)}, {py(after)}, {py(top)}, {py(bottom)}){fill})"


def per_axis(value: Any) -> tuple[Any, Any]:
    """(height, width) of a window attribute given once for both axes or as a pair."""
    return value if isinstance(value, tuple) else (value, value)


def native_conv_columns(source: Shape, out: Shape, kernel: tuple[int, int], stride: tuple[int, int], padded: bool,
                        dilated: bool, groups: int, batch: int, half: bool, threads: int = 2,
                        onednn: bool = True) -> int | None:
    """Values of the im2col buffer of torch's own CPU convolution, or None where torch runs the
    conv with oneDNN instead (LayerKind.native_cpu_columns). torch's choice (aten/src/ATen/native/
    Convolution.cpp, ConvParams::use_mkldnn): oneDNN when it is enabled (`onednn`) and (a 1×1
    conv of stride 1, undilated, on fewer than 16 images runs natively on one thread) for a half
    dtype, a grouped conv, a kernel larger than 3 on both axes, a batch of more than one or an
    input of more than 20,480 values; else slow_conv2d, whose buffer holds C·kh·kw values per
    output pixel (none for a 1×1 conv of stride 1 without padding). Measured in
    tests/test_memory_peaks.py (ResNet-20 on CIFAR runs every 3×3 conv this way at batch 1)."""
    c, h, w = source
    kh, kw = kernel
    pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and not dilated
    if onednn:
        single_thread_native = threads == 1 and pointwise and batch < 16
        if half or (not single_thread_native and (groups > 1 or (kh > 3 and kw > 3) or batch > 1
                                                  or batch * c * h * w > 20_480)):
            return None
    if pointwise and not padded:
        return 0
    return batch * c * kh * kw * out[1] * out[2]


def axis_text(value: Any) -> str:
    return f"{value[0]}×{value[1]}" if isinstance(value, tuple) else str(value)


def _axis(size: int, extent: int, stride: int, pads: tuple[int, int]) -> tuple[int, str | None, int]:
    """One spatial axis through a sliding window: the output size, the seed's 'doesn't fit' case
    described (the formula, then what is left unread) when (W − F + 2P) is not divisible by S, and
    how many rows of real input no window reads.

    The remainder r is the number of rows of the padded input that no window reads, at its end; the
    message says how many of them are real input and how many padding (a 3×3 stride-2 conv with
    padding 1 on an even map, as in every ResNet, leaves out one padding row and loses no input)."""
    before, after = pads
    span = size - extent + before + after
    out = span // stride + 1
    remainder = span % stride
    if not remainder:
        return out, None, 0
    lost = max(0, remainder - after)
    consequence = (
        f"the last {lost} row(s)/column(s) are dropped" if lost > 0
        else f"the last {remainder} row(s)/column(s) of padding are never read (no input is lost)"
    )
    padding = f"2·{before}" if before == after else f"{before} + {after}"
    return out, f"(W − F + {'2P' if before == after else 'P'})/S = ({size} − {extent} + {padding})/{stride} is not a whole number; {consequence}", lost


def window_output_hw(h: int, w: int, extent: int, stride: int, pads: tuple[int, int], what: str
                     ) -> tuple[tuple[int, int], list[Misfit]]:
    """Both spatial axes of a square window, with at most one 'doesn't fit' note for the layer."""
    return window_output_axes(h, w, ((extent, stride, pads), (extent, stride, pads)), what)


def window_output_axes(h: int, w: int, axes, what: str) -> tuple[tuple[int, int], list[Misfit]]:
    """Both spatial axes, each with its (extent, stride, pads), with at most one 'doesn't fit' note
    for the layer. A map that is not square is named as it is (H×W), and each axis that does not
    fit is described."""
    (eh, sh, ph), (ew, sw, pw) = axes
    if h - eh + sum(ph) < 0 or w - ew + sum(pw) < 0:
        need = f"{eh - sum(ph)}" if (eh, ph) == (ew, pw) else f"{eh - sum(ph)}×{ew - sum(pw)}"
        raise ShapeError(f"input {h}×{w} too small for {what} (needs at least {need})")
    (oh, misfit_h, lost_h), (ow, misfit_w, lost_w) = _axis(h, eh, sh, ph), _axis(w, ew, sw, pw)
    head = f"{what} doesn't fit: "
    if misfit_h and misfit_w and misfit_h != misfit_w:
        return (oh, ow), [Misfit(f"{head}in height, {misfit_h}; in width, {misfit_w}", (lost_h, lost_w))]
    misfit = misfit_h or misfit_w
    return (oh, ow), [Misfit(head + misfit, (lost_h, lost_w))] if misfit else []


def spatial_input(inputs: list[Shape], what: str) -> Shape:
    shape = inputs[0]
    if not is_spatial(shape):
        raise ShapeError(f"{what} needs a C×H×W feature map, got a flat vector of {numel(shape)}")
    return shape


@dataclass(frozen=True)
class Conv(LayerKind):
    name = "conv"
    category = "conv"
    attrs = (
        Attr("filters", "int", minimum=1),
        Attr("kernel", "int", 3, minimum=1, pair=True),
        Attr("stride", "int", 1, minimum=1, pair=True),
        Attr("padding", "padding", Symbol("same"), pair=True),
        Attr("dilation", "int", 1, minimum=1, pair=True),
        Attr("groups", "int", 1, minimum=1),
        Attr("bias", "bool", True),
    )
    words = {"conv": {}, "convolution": {}}
    learned = (Learned("weight", 4, what="the kernels"), Learned("bias", 1, "bias", "one per filter"))
    number_attr = "filters"
    defaults_key = "conv"
    counts_flops = True

    def word_attrs(self, word: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"conv([0-9]+)", word)
        if match:
            return {"kernel": int(match.group(1))}
        return super().word_attrs(word)

    def _axes(self, attrs: dict[str, Any]) -> list[tuple[Any, Any, tuple[Any, Any]]]:
        """(extent, stride, (before, after)) for the height, then the width."""
        axes = []
        for k, s, p, d in zip(*(per_axis(attrs[a]) for a in ("kernel", "stride", "padding", "dilation"))):
            extent = effective_kernel(k, d)
            axes.append((extent, s, resolve_padding(p, extent)))
        return axes

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "conv")
        if c % attrs["groups"] or attrs["filters"] % attrs["groups"]:
            raise ShapeError(
                f"groups={attrs['groups']} must divide both input channels ({c}) and filters ({attrs['filters']})"
            )
        kh, kw = per_axis(attrs["kernel"])
        what = f"conv {kh}×{kw}" + (f" stride {axis_text(attrs['stride'])}" if attrs["stride"] != 1 else "")
        (oh, ow), warn = window_output_axes(h, w, self._axes(attrs), what)
        return (attrs["filters"], oh, ow), warn

    def params(self, attrs, inputs, out):
        kh, kw = per_axis(attrs["kernel"])
        weights = kh * kw * (inputs[0][0] // attrs["groups"]) * attrs["filters"]
        return weights, attrs["filters"] if attrs["bias"] else 0

    def macs(self, attrs, inputs, out):
        kh, kw = per_axis(attrs["kernel"])
        return numel(out) * kh * kw * (inputs[0][0] // attrs["groups"])

    def receptive(self, attrs, inputs):
        (eh, sh, _), (ew, sw, _) = self._axes(attrs)
        return one_value((eh, ew)), one_value((sh, sw))

    def saved(self, attrs, inputs, out):
        (_, _, (top, bottom)), (_, _, (left, right)) = self._axes(attrs)
        if top == bottom and left == right:
            return Saved()
        c, h, w = inputs[0]  # the conv keeps the padded copy forward makes, not its input
        return Saved(inputs=(), hidden=c * (h + top + bottom) * (w + left + right))

    def symbolic_shape(self, attrs, inputs):
        return (attrs["filters"],) + tuple(inputs[0][1:])

    def strided_pointwise(self, attrs, inputs):
        return per_axis(attrs["kernel"]) == (1, 1) and per_axis(attrs["stride"]) != (1, 1)

    def channels_last_weight_copies(self, attrs, inputs):
        # torch makes the out × in/groups × kh × kw weight channels-last before oneDNN blocks it: a
        # copy, unless one of in/groups or kh·kw is 1 (then both layouts are the same memory).
        kh, kw = per_axis(attrs["kernel"])
        return 2 if inputs[0][0] // attrs["groups"] > 1 and kh * kw > 1 else 1

    def channels_last_backward_values(self, attrs, inputs, out, weights, batch):
        # A depthwise conv: its weight and its gradient blocked; a dense one also the channels-last
        # copy (the partial gradients some ISAs add are the target's: netc/analysis/targets/onednn.py).
        if attrs["groups"] > 1 and attrs["groups"] == inputs[0][0]:
            return 2 * weights
        return (1 + self.channels_last_weight_copies(attrs, inputs)) * weights

    def conv_window(self, attrs, inputs):
        return per_axis(attrs["kernel"]), attrs["groups"]

    def native_cpu_columns(self, attrs, inputs, out, batch, half, threads=2, onednn=True):
        (_, stride_h, (top, bottom)), (_, stride_w, (left, right)) = self._axes(attrs)
        c, h, w = inputs[0]
        if top != bottom or left != right:  # forward pads first (pad_call): the conv reads the padded map
            h, w = h + top + bottom, w + left + right
        padded = (top, left, bottom, right) != (0, 0, 0, 0)
        return native_conv_columns((c, h, w), out, per_axis(attrs["kernel"]), (stride_h, stride_w), padded,
                                   per_axis(attrs["dilation"]) != (1, 1), attrs["groups"], batch, half, threads, onednn)

    def label(self, attrs):
        text = f"conv{axis_text(attrs['kernel'])}-{attrs['filters']}"
        return text + (f" /{axis_text(attrs['stride'])}" if attrs["stride"] != 1 else "")

    def constructor(self, attrs, inputs):
        kwargs: list[tuple[str, Any]] = [("kernel_size", attrs["kernel"])]
        if attrs["stride"] != 1:
            kwargs.append(("stride", attrs["stride"]))
        (_, _, (top, bottom)), (_, _, (left, right)) = self._axes(attrs)
        if top == bottom and left == right and (top, left) != (0, 0):
            kwargs.append(("padding", top if top == left else (top, left)))
        for name, default in (("dilation", 1), ("groups", 1), ("bias", True)):
            if attrs[name] != default:
                kwargs.append((name, attrs[name]))
        return Constructor("Conv2d", (inputs[0][0], attrs["filters"]), tuple(kwargs))

    def folds_batch_norm(self, attrs):
        return 0  # weight: out × in/groups × kh × kw

    def with_bias(self, attrs):
        return {**attrs, "bias": True}

    def forward(self, attrs, module, args, inputs):
        (_, _, height), (_, _, width) = self._axes(attrs)
        if height[0] == height[1] and width[0] == width[1]:
            return f"{module}({args[0]})"
        return f"{module}({pad_call(args[0], width, height=height)})"


@dataclass(frozen=True)
class TransposedConv(LayerKind):
    """The transposed convolution (nn.ConvTranspose2d, "deconvolution", "upconv"): a map made
    larger, (W − 1)·S − 2P + D·(F − 1) + output_padding + 1 on each axis. `deconv(64, 2, stride=2)`
    doubles the size, as in U-Net's decoder."""

    name = "deconv"
    category = "conv"
    attrs = (
        Attr("filters", "int", minimum=1),
        Attr("kernel", "int", 2, minimum=1),
        Attr("stride", "int", 2, minimum=1),
        Attr("padding", "int", 0, minimum=0),
        Attr("output_padding", "int", 0, minimum=0),
        Attr("dilation", "int", 1, minimum=1),
        Attr("groups", "int", 1, minimum=1),
        Attr("bias", "bool", True),
    )
    words = {"deconv": {}, "upconv": {}, "convtranspose": {}}
    learned = (Learned("weight", 4, what="the kernels"), Learned("bias", 1, "bias", "one per filter"))
    number_attr = "filters"
    defaults_key = "deconv"
    counts_flops = True

    def word_attrs(self, word: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"deconv([0-9]+)", word)  # deconv2-64, as conv3-64
        if match:
            return {"kernel": int(match.group(1))}
        return super().word_attrs(word)

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "deconv")
        if c % attrs["groups"] or attrs["filters"] % attrs["groups"]:
            raise ShapeError(
                f"groups={attrs['groups']} must divide both input channels ({c}) and filters ({attrs['filters']})")
        if attrs["output_padding"] >= max(attrs["stride"], attrs["dilation"]):
            raise ShapeError(f"output_padding {attrs['output_padding']} must be smaller than the stride or the "
                             f"dilation ({max(attrs['stride'], attrs['dilation'])})",
                             "output_padding picks among the sizes a stride can give: 0 … stride − 1")
        extent = effective_kernel(attrs["kernel"], attrs["dilation"])

        def axis(size: int) -> int:
            return (size - 1) * attrs["stride"] - 2 * attrs["padding"] + extent + attrs["output_padding"]

        return (attrs["filters"], axis(h), axis(w)), []

    def symbolic_shape(self, attrs, inputs):
        return (attrs["filters"],) + tuple(inputs[0][1:])

    def params(self, attrs, inputs, out):
        k = attrs["kernel"]
        return inputs[0][0] * (attrs["filters"] // attrs["groups"]) * k * k, attrs["filters"] if attrs["bias"] else 0

    def macs(self, attrs, inputs, out):
        # Each input value meets each weight of its group once (torch's flop counter counts it so).
        k = attrs["kernel"]
        return numel(inputs[0]) * (attrs["filters"] // attrs["groups"]) * k * k

    def receptive(self, attrs, inputs):
        # Outputs are 1/S of an input pixel apart, and one reads inputs over (D·(F − 1))/S pixels.
        extent, stride = effective_kernel(attrs["kernel"], attrs["dilation"]), attrs["stride"]
        if isinstance(extent, int) and isinstance(stride, int):
            return exact(Fraction(extent - 1, stride) + 1), py_reciprocal(stride)
        return py_add(Bin("/", py_sub(extent, 1), stride), 1), py_reciprocal(stride)

    def conv_window(self, attrs, inputs):
        return (attrs["kernel"], attrs["kernel"]), attrs["groups"]

    def label(self, attrs):
        return f"deconv{attrs['kernel']}-{attrs['filters']}" + (f" ×{attrs['stride']}" if attrs["stride"] != 1 else "")

    def constructor(self, attrs, inputs):
        kwargs: list[tuple[str, Any]] = [("kernel_size", attrs["kernel"])]
        for name, default in (("stride", 1), ("padding", 0), ("output_padding", 0), ("groups", 1), ("bias", True),
                              ("dilation", 1)):
            if attrs[name] != default:
                kwargs.append((name, attrs[name]))
        return Constructor("ConvTranspose2d", (inputs[0][0], attrs["filters"]), tuple(kwargs))

    def folds_batch_norm(self, attrs):
        return 1 if attrs["groups"] == 1 else None  # weight: in × out/groups × kh × kw

    def with_bias(self, attrs):
        return {**attrs, "bias": True}
