"""Pooling: max, average and L2 windows, global/adaptive average and max pooling, and upsampling."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .base import (
    NOTHING_SAVED,
    Attr,
    Constructor,
    LayerKind,
    NoSymbolicRule,
    Saved,
    ShapeError,
    exact,
    numel,
    py_reciprocal,
)
from .conv import pad_call, resolve_padding, spatial_input, window_output_hw

_MODULES = {"max": "MaxPool2d", "avg": "AvgPool2d"}


def ceil_output(size: int, kernel: int, stride: int, pads: tuple[int, int], what: str) -> int:
    """One axis with ceil_mode: ⌈(W − F + 2P)/S⌉ + 1, less one when the last window would start
    in the right padding (PyTorch's rule); a partial last window is kept, so nothing is dropped."""
    before, after = pads
    span = size - kernel + before + after
    if span < 0:
        raise ShapeError(f"input {size}×{size} too small for {what} (needs at least {kernel - before - after})")
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + before:
        out -= 1
    return out


@dataclass(frozen=True)
class Pool(LayerKind):
    name = "pool"
    category = "pool"
    attrs = (
        Attr("kernel", "int", 2, minimum=1),
        Attr("stride", "int", None, minimum=1),  # None: equal to the kernel, as in PyTorch
        Attr("padding", "padding", 0),
        Attr("type", "choice", "max", choices=("max", "avg", "l2")),
        Attr("ceil", "bool", False),  # PyTorch's ceil_mode (Caffe's rule): keep a last, partial window
    )
    words = {"pool": {}, "maxpool": {"type": "max"}, "avgpool": {"type": "avg"}, "l2pool": {"type": "l2"}}
    defaults_key = "pool"

    def _geometry(self, attrs):
        stride = attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]
        return stride, resolve_padding(attrs["padding"], attrs["kernel"])

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, f"{attrs['type']}pool")
        stride, pads = self._geometry(attrs)
        if any(pads) and attrs["type"] == "l2":
            raise ShapeError("L2 pooling (LPPool2d) takes no padding")
        if max(pads) * 2 > attrs["kernel"]:
            raise ShapeError(f"pool padding {max(pads)} is more than half the window {attrs['kernel']}")
        if pads[0] != pads[1] and attrs["ceil"]:
            raise ShapeError("a pool padded unevenly (padding=same with an even window) cannot also keep a partial "
                             "last window (ceil=true)", "drop ceil=true: with padding=same every input row is read")
        what = f"{attrs['type']}pool {attrs['kernel']}×{attrs['kernel']}" + (f" stride {stride}" if stride != attrs["kernel"] else "")
        if attrs["ceil"]:
            return (c, ceil_output(h, attrs["kernel"], stride, pads, what), ceil_output(w, attrs["kernel"], stride, pads, what)), []
        (oh, ow), warn = window_output_hw(h, w, attrs["kernel"], stride, pads, what)
        return (c, oh, ow), warn

    def receptive(self, attrs, inputs):
        return attrs["kernel"], self._geometry(attrs)[0]

    def saved(self, attrs, inputs, out):
        before, after = self._geometry(attrs)[1]
        if before != after:  # the pool keeps the padded copy forward makes, not its input
            c, h, w = inputs[0]
            padded = c * (h + before + after) * (w + before + after)
            return Saved(inputs=(), hidden=padded, indices=numel(out) if attrs["type"] == "max" else 0)
        if attrs["type"] == "max":
            return Saved(indices=numel(out))  # where each maximum came from
        if attrs["type"] == "l2":
            # LPPool2d is pow → avg_pool2d → sign·relu(abs) → pow: the squares and four outputs.
            return Saved(hidden=numel(inputs[0]) + 4 * numel(out))
        return Saved()

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def label(self, attrs):
        stride, _ = self._geometry(attrs)
        name = f"{attrs['type']}pool"
        return f"{name}{attrs['kernel']}" if stride == attrs["kernel"] else f"{name} {attrs['kernel']}/{stride}"

    def constructor(self, attrs, inputs):
        stride, (pad, after) = self._geometry(attrs)
        if pad != after:
            pad = 0  # padded in forward (see `forward`)
        ceil = (("ceil_mode", True),) if attrs["ceil"] else ()
        if attrs["type"] == "l2":
            kwargs = (("stride", stride),) if stride != attrs["kernel"] else ()
            return Constructor("LPPool2d", (2, attrs["kernel"]), kwargs + ceil)
        kwargs: list[tuple[str, Any]] = []
        if stride != attrs["kernel"]:
            kwargs.append(("stride", stride))
        if pad != 0:
            kwargs.append(("padding", pad))
        kwargs.extend(ceil)
        return Constructor(_MODULES[attrs["type"]], (attrs["kernel"],), tuple(kwargs))

    def forward(self, attrs, module, args, inputs):
        pads = self._geometry(attrs)[1]
        if pads[0] == pads[1]:
            return f"{module}({args[0]})"
        # Max pooling pads with −∞, as MaxPool2d's own padding behaves; average pooling with zeros,
        # counted in the mean as AvgPool2d's padding is (count_include_pad=True).
        fill = 'float("-inf")' if attrs["type"] == "max" else None
        return f"{module}({pad_call(args[0], pads, fill)})"


@dataclass(frozen=True)
class AdaptiveAvgPool(LayerKind):
    """Average over the whole map down to size×size; `globalavgpool` is size 1."""

    name = "adaptiveavgpool"
    category = "pool"
    attrs = (Attr("size", "int", 1, minimum=1),)
    words = {"adaptiveavgpool": {}, "globalavgpool": {"size": 1}, "gap": {"size": 1}, "globalpool": {"size": 1}}

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "global average pool")
        return (c, attrs["size"], attrs["size"]), []

    def symbolic_shape(self, attrs, inputs):
        return (inputs[0][0], attrs["size"], attrs["size"])

    def receptive(self, attrs, inputs):
        h = inputs[0][1]
        size = max(1, h // attrs["size"])
        return h - (attrs["size"] - 1) * size, size

    def label(self, attrs):
        return "global avgpool" if attrs["size"] == 1 else f"adaptive avgpool {attrs['size']}×{attrs['size']}"

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED if attrs["size"] == 1 else Saved()  # to 1×1 PyTorch takes a mean, which keeps nothing

    def constructor(self, attrs, inputs):
        return Constructor("AdaptiveAvgPool2d", (attrs["size"],))


@dataclass(frozen=True)
class AdaptiveMaxPool(AdaptiveAvgPool):
    """The maximum over the map's size×size windows (nn.AdaptiveMaxPool2d); `globalmaxpool` is
    size 1, each channel's largest value. Backward keeps the input and where each maximum came from."""

    name = "adaptivemaxpool"
    words = {"adaptivemaxpool": {}, "globalmaxpool": {"size": 1}}

    def infer(self, attrs, inputs):
        c, _, _ = spatial_input(inputs, "global max pool")
        return (c, attrs["size"], attrs["size"]), []

    def label(self, attrs):
        return "global maxpool" if attrs["size"] == 1 else f"adaptive maxpool {attrs['size']}×{attrs['size']}"

    def saved(self, attrs, inputs, out):
        return Saved(indices=numel(out))

    def constructor(self, attrs, inputs):
        return Constructor("AdaptiveMaxPool2d", (attrs["size"],))


@dataclass(frozen=True)
class Upsample(LayerKind):
    """A map made `scale` times larger, or as large as a point it reads (`upsample(<c4>)`: FPN's
    top-down path): nearest copies each value, bilinear interpolates (as nn.Upsample,
    align_corners=False). No parameters, no multiply-adds."""

    name = "upsample"
    category = "upsample"
    attrs = (Attr("scale", "int", 2, minimum=1), Attr("mode", "choice", "nearest", choices=("nearest", "bilinear")))
    words = {"upsample": {}, "upsampling": {}}
    inputs = (1, 2)  # the map, and the point whose size it takes
    points_for_shape = True

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "upsample")
        if len(inputs) == 1:
            return (c, h * attrs["scale"], w * attrs["scale"]), []
        target = inputs[1]
        if len(target) != 3:
            raise ShapeError(f"upsample to the size of a vector ({numel(target)} values): the point must be a map")
        if target[1] < h or target[2] < w:
            raise ShapeError(f"upsample of {h}×{w} to {target[1]}×{target[2]} would make the map smaller",
                             "pool or slice to shrink a map; upsample only enlarges")
        if Fraction(target[1], h) != Fraction(target[2], w):
            raise ShapeError(f"upsample of {h}×{w} to {target[1]}×{target[2]} stretches the axes differently",
                             "upsample to a point whose map has the same aspect ratio")
        return (c,) + tuple(target[1:]), []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0] if len(inputs) == 1 else (inputs[0][0],) + tuple(inputs[1][1:])

    def receptive(self, attrs, inputs):
        # Neighbouring outputs are 1/scale of a pixel apart; bilinear reads two input pixels per axis.
        extent = 2 if attrs["mode"] == "bilinear" else 1
        if len(inputs) == 2:
            h, target = inputs[0][1], inputs[1][1]
            if not isinstance(h, int) or not isinstance(target, int):
                raise NoSymbolicRule("upsampling to a point's size needs both heights")
            return extent, exact(Fraction(h, target))
        return extent, py_reciprocal(attrs["scale"])

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED  # backward needs only the sizes

    def resolve(self, attrs, inputs, jumps):
        return {"size": tuple(inputs[1][1:])} if len(inputs) == 2 else {}  # for the label: "to 24×24"

    def label(self, attrs):
        size = f"to {attrs['size'][0]}×{attrs['size'][1]}" if "size" in attrs else f"×{attrs['scale']}"
        return f"upsample {size}" + (" bilinear" if attrs["mode"] == "bilinear" else "")

    def constructor(self, attrs, inputs):
        kwargs = (("mode", f'"{attrs["mode"]}"'),) if attrs["mode"] != "nearest" else ()  # a choice: no quotes inside
        if len(inputs) == 2:  # the point's size, fixed when the module is built
            size = tuple(inputs[1][1:])
            if not all(isinstance(d, int) for d in size):
                raise NoSymbolicRule("upsampling to a point's size needs its height and width")
            return Constructor("Upsample", (), (("size", size),) + kwargs)
        return Constructor("Upsample", (), (("scale_factor", attrs["scale"]),) + kwargs)
