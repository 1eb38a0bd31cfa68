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
    one_value,
    py_reciprocal,
)
from .conv import axis_text, pad_call, per_axis, resolve_padding, spatial_input, window_output_axes

_MODULES = {"max": "MaxPool2d", "avg": "AvgPool2d"}


def ceil_output(size: int, kernel: int, stride: int, pads: tuple[int, int]) -> int:
    """One axis with ceil_mode: ⌈(W − F + 2P)/S⌉ + 1, less one when the last window would start
    in the right padding (PyTorch's rule); a partial last window is kept, so nothing is dropped.
    The caller has checked that the window fits the padded axis."""
    before, after = pads
    out = -(-(size - kernel + before + after) // stride) + 1
    if (out - 1) * stride >= size + before:
        out -= 1
    return out


@dataclass(frozen=True)
class Pool(LayerKind):
    """Max, average and L2 pooling over a window that may differ per axis, (height, width), as a
    conv's: `maxpool((3, 1), stride=(2, 1), padding=(1, 0))`."""

    name = "pool"
    category = "pool"
    attrs = (
        Attr("kernel", "int", 2, minimum=1, pair=True),
        Attr("stride", "int", None, minimum=1, pair=True),  # None: equal to the kernel, as in PyTorch
        Attr("padding", "padding", 0, pair=True),
        Attr("type", "choice", "max", choices=("max", "avg", "l2")),
        Attr("ceil", "bool", False),  # PyTorch's ceil_mode (Caffe's rule): keep a last, partial window
    )
    words = {"pool": {}, "maxpool": {"type": "max"}, "avgpool": {"type": "avg"}, "l2pool": {"type": "l2"}}
    defaults_key = "pool"

    def _stride(self, attrs):
        return attrs["stride"] if attrs["stride"] is not None else attrs["kernel"]

    def _axes(self, attrs) -> list[tuple[Any, Any, tuple[Any, Any]]]:
        """(window, stride, (before, after)) for the height, then the width."""
        return [(k, s, resolve_padding(p, k))
                for k, s, p in zip(per_axis(attrs["kernel"]), per_axis(self._stride(attrs)), per_axis(attrs["padding"]))]

    def _uneven(self, attrs) -> bool:
        """Padded unevenly on some axis (padding=same with an even window): forward pads the map."""
        return any(before != after for _, _, (before, after) in self._axes(attrs))

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, f"{attrs['type']}pool")
        axes = self._axes(attrs)
        if attrs["type"] == "l2" and any(any(pads) for _, _, pads in axes):
            raise ShapeError("L2 pooling (LPPool2d) takes no padding")
        for axis, (k, _, pads) in zip(("height", "width"), axes):
            if max(pads) * 2 > k:
                if isinstance(attrs["kernel"], tuple) or isinstance(attrs["padding"], tuple):  # say which axis
                    whole = f" ({axis_text(attrs['kernel'])})" if isinstance(attrs["kernel"], tuple) else ""
                    raise ShapeError(f"pool padding {max(pads)} is more than half the window's {axis} {k}{whole}")
                raise ShapeError(f"pool padding {max(pads)} is more than half the window {k}")
        if self._uneven(attrs) and attrs["ceil"]:
            raise ShapeError("a pool padded unevenly (padding=same with an even window) cannot also keep a partial "
                             "last window (ceil=true)", "drop ceil=true: with padding=same every input row is read")
        kh, kw = per_axis(attrs["kernel"])
        stride = self._stride(attrs)
        what = f"{attrs['type']}pool {kh}×{kw}" + (f" stride {axis_text(stride)}" if stride != attrs["kernel"] else "")
        if attrs["ceil"]:
            (eh, _, ph), (ew, _, pw) = axes
            if h - eh + sum(ph) < 0 or w - ew + sum(pw) < 0:
                window_output_axes(h, w, axes, what)  # raises: the window is larger than the padded map
            return (c,) + tuple(ceil_output(size, k, s, pads) for size, (k, s, pads) in zip((h, w), axes)), []
        (oh, ow), warn = window_output_axes(h, w, axes, what)
        return (c, oh, ow), warn

    def receptive(self, attrs, inputs):
        return attrs["kernel"], self._stride(attrs)

    def saved(self, attrs, inputs, out):
        if self._uneven(attrs):  # the pool keeps the padded copy forward makes, not its input
            (_, _, (top, bottom)), (_, _, (left, right)) = self._axes(attrs)
            c, h, w = inputs[0]
            padded = c * (h + top + bottom) * (w + left + right)
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
        stride = self._stride(attrs)
        name = f"{attrs['type']}pool"
        kernel = axis_text(attrs["kernel"])
        return f"{name}{kernel}" if stride == attrs["kernel"] else f"{name} {kernel}/{axis_text(stride)}"

    def constructor(self, attrs, inputs):
        stride = self._stride(attrs)
        ceil = (("ceil_mode", True),) if attrs["ceil"] else ()
        if attrs["type"] == "l2":
            kwargs = (("stride", stride),) if stride != attrs["kernel"] else ()
            return Constructor("LPPool2d", (2, attrs["kernel"]), kwargs + ceil)
        kwargs: list[tuple[str, Any]] = []
        if stride != attrs["kernel"]:
            kwargs.append(("stride", stride))
        if not self._uneven(attrs):  # else padded in forward (see `forward`)
            (_, _, (top, _)), (_, _, (left, _)) = self._axes(attrs)
            if (top, left) != (0, 0):
                kwargs.append(("padding", one_value((top, left))))
        kwargs.extend(ceil)
        return Constructor(_MODULES[attrs["type"]], (attrs["kernel"],), tuple(kwargs))

    def forward(self, attrs, module, args, inputs):
        if not self._uneven(attrs):
            return f"{module}({args[0]})"
        (_, _, height), (_, _, width) = self._axes(attrs)
        # Max pooling pads with −∞, as MaxPool2d's own padding behaves; average pooling with zeros,
        # counted in the mean as AvgPool2d's padding is (count_include_pad=True).
        fill = 'float("-inf")' if attrs["type"] == "max" else None
        return f"{module}({pad_call(args[0], width, fill, height=height)})"


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
    shapes_at_run_time = True  # the point's size is read in forward: no input size is baked into the module

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
        if len(inputs) == 2:  # to a point's size: read in forward (see `forward`), no module
            return None
        kwargs = (("mode", f'"{attrs["mode"]}"'),) if attrs["mode"] != "nearest" else ()  # a choice: no quotes inside
        return Constructor("Upsample", (), (("scale_factor", attrs["scale"]),) + kwargs)

    def forward(self, attrs, module, args, inputs):
        if len(args) == 1:
            return f"{module}({args[0]})"
        # The point's size at run time, as torchvision's segmentation heads do (F.interpolate to the
        # input's shape[-2:]): the module built at one input size runs at any other. nn.Upsample's
        # own call, so the same numbers (bilinear: align_corners=False).
        mode = f', mode="{attrs["mode"]}"' if attrs["mode"] != "nearest" else ""
        return f"torch.nn.functional.interpolate({args[0]}, size={args[1]}.shape[-2:]{mode})"
