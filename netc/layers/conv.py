"""Convolution: the output-size rule ⌊(W − F + 2P)/S⌋ + 1 and its "doesn't fit" case."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..exprs import Symbol
from .base import Attr, Constructor, LayerKind, Shape, ShapeError, is_spatial, numel, py_add, py_floordiv, py_mul, py_sub

PADDING_KINDS = ("valid", "same", "full")


def effective_kernel(kernel: Any, dilation: Any) -> Any:
    """Extent covered by a dilated kernel: d·(F − 1) + 1."""
    if dilation == 1:
        return kernel
    return py_add(py_mul(dilation, py_sub(kernel, 1)), 1)


def resolve_padding(padding: Any, extent: Any) -> Any:
    """valid → 0; same → (F − 1)/2 (size kept at stride 1 for odd F); full → F − 1; or an int."""
    name = padding.name if isinstance(padding, Symbol) else padding
    if name == "valid":
        return 0
    if name == "same":
        return py_floordiv(py_sub(extent, 1), 2)
    if name == "full":
        return py_sub(extent, 1)
    return padding


def _axis(size: int, extent: int, stride: int, pad: int) -> tuple[int, str | None]:
    """One spatial axis through a sliding window: the output size, and the seed's 'doesn't fit'
    case described (the formula, then what is left unread) when (W − F + 2P) is not divisible by S.

    The remainder r is the number of rows of the padded input that no window reads; the message
    says how many of them are real input and how many padding (a 3×3 stride-2 conv with padding 1
    on an even map, as in every ResNet, leaves out one padding row and loses no input)."""
    span = size - extent + 2 * pad
    out = span // stride + 1
    remainder = span % stride
    if not remainder:
        return out, None
    dropped = remainder - pad
    consequence = (
        f"the last {dropped} row(s)/column(s) are dropped" if dropped > 0
        else f"the last {remainder} row(s)/column(s) of padding are never read (no input is lost)"
    )
    return out, f"(W − F + 2P)/S = ({size} − {extent} + 2·{pad})/{stride} is not a whole number; {consequence}"


def window_output_hw(h: int, w: int, extent: int, stride: int, pad: int, what: str) -> tuple[tuple[int, int], list[str]]:
    """Both spatial axes, with at most one 'doesn't fit' warning for the layer. A map that is not
    square is named as it is (H×W), and each axis that does not fit is described."""
    if min(h, w) - extent + 2 * pad < 0:
        raise ShapeError(f"input {h}×{w} too small for {what} (needs at least {extent - 2 * pad})")
    (oh, misfit_h), (ow, misfit_w) = _axis(h, extent, stride, pad), _axis(w, extent, stride, pad)
    head = f"{what} doesn't fit: "
    if misfit_h and misfit_w and misfit_h != misfit_w:
        return (oh, ow), [f"{head}in height, {misfit_h}; in width, {misfit_w}"]
    misfit = misfit_h or misfit_w
    return (oh, ow), [head + misfit] if misfit else []


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
        Attr("kernel", "int", 3, minimum=1),
        Attr("stride", "int", 1, minimum=1),
        Attr("padding", "padding", Symbol("same")),
        Attr("dilation", "int", 1, minimum=1),
        Attr("groups", "int", 1, minimum=1),
        Attr("bias", "bool", True),
    )
    words = {"conv": {}, "convolution": {}}
    number_attr = "filters"
    defaults_key = "conv"
    counts_flops = True

    def word_attrs(self, word: str) -> dict[str, Any] | None:
        match = re.fullmatch(r"conv([0-9]+)", word)
        if match:
            return {"kernel": int(match.group(1))}
        return super().word_attrs(word)

    def _geometry(self, attrs: dict[str, Any]) -> tuple[int, int]:
        extent = effective_kernel(attrs["kernel"], attrs["dilation"])
        return extent, resolve_padding(attrs["padding"], extent)

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "conv")
        if c % attrs["groups"] or attrs["filters"] % attrs["groups"]:
            raise ShapeError(
                f"groups={attrs['groups']} must divide both input channels ({c}) and filters ({attrs['filters']})"
            )
        extent, pad = self._geometry(attrs)
        what = f"conv {attrs['kernel']}×{attrs['kernel']}" + (f" stride {attrs['stride']}" if attrs["stride"] > 1 else "")
        (oh, ow), warn = window_output_hw(h, w, extent, attrs["stride"], pad, what)
        return (attrs["filters"], oh, ow), warn

    def params(self, attrs, inputs, out):
        k = attrs["kernel"]
        weights = k * k * (inputs[0][0] // attrs["groups"]) * attrs["filters"]
        return weights, attrs["filters"] if attrs["bias"] else 0

    def macs(self, attrs, inputs, out):
        k = attrs["kernel"]
        return numel(out) * k * k * (inputs[0][0] // attrs["groups"])

    def receptive(self, attrs, inputs):
        return self._geometry(attrs)[0], attrs["stride"]

    def symbolic_shape(self, attrs, inputs):
        return (attrs["filters"],) + tuple(inputs[0][1:])

    def label(self, attrs):
        text = f"conv{attrs['kernel']}-{attrs['filters']}"
        return text + (f" /{attrs['stride']}" if attrs["stride"] != 1 else "")

    def constructor(self, attrs, inputs):
        kwargs: list[tuple[str, Any]] = [("kernel_size", attrs["kernel"])]
        if attrs["stride"] != 1:
            kwargs.append(("stride", attrs["stride"]))
        pad = self._geometry(attrs)[1]
        if pad != 0:
            kwargs.append(("padding", pad))
        for name, default in (("dilation", 1), ("groups", 1), ("bias", True)):
            if attrs[name] != default:
                kwargs.append((name, attrs[name]))
        return Constructor("Conv2d", (inputs[0][0], attrs["filters"]), tuple(kwargs))
