"""Sub-pixel convolution's rearrangements (Shi et al., 2016): depth to space and back.

`pixelshuffle(r)` (nn.PixelShuffle) makes a C×H×W map a C/r²×rH×rW one: each group of r² channels
becomes an r×r block of pixels. `pixelunshuffle(r)` (nn.PixelUnshuffle) is its inverse. No
parameters, no multiply-adds; the output is a copy in the new order and backward keeps nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..frontend.symbolic import SPATIAL
from .base import NOTHING_SAVED, Attr, Constructor, LayerKind, ShapeError, py_floordiv, py_mul, py_reciprocal
from .conv import spatial_input


def _spatial(size, op, r):
    """A height or width scaled by r; in a block class, where it is not known (SPATIAL), unknown."""
    return size if size is SPATIAL else op(size, r)


@dataclass(frozen=True)
class PixelShuffle(LayerKind):
    """Depth to space: r² channels → an r×r block of pixels."""

    name = "pixelshuffle"
    category = "upsample"
    attrs = (Attr("r", "int", minimum=1),)
    words = {"pixelshuffle": {}}
    torch_modules = ("PixelShuffle",)
    torch_functions = ("pixel_shuffle",)
    torch_attrs = (("r", "upscale_factor", 1),)

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "pixelshuffle")
        r = attrs["r"]
        if c % (r * r):
            raise ShapeError(f"pixelshuffle({r}) needs channels in groups of {r * r}, and the map has {c}",
                             f"a conv with a multiple of {r * r} filters before it")
        return (c // (r * r), h * r, w * r), []

    def symbolic_shape(self, attrs, inputs):
        c, h, w = inputs[0]
        r = attrs["r"]
        return (py_floordiv(c, py_mul(r, r)), _spatial(h, py_mul, r), _spatial(w, py_mul, r))

    def receptive(self, attrs, inputs):
        return 1, py_reciprocal(attrs["r"])  # each output pixel is one input value; neighbours 1/r apart

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED  # a reordered copy: backward needs only the sizes

    def label(self, attrs):
        return f"pixelshuffle ×{attrs['r']}"

    def constructor(self, attrs, inputs):
        return Constructor("PixelShuffle", (attrs["r"],))


@dataclass(frozen=True)
class PixelUnshuffle(LayerKind):
    """Space to depth: each r×r block of pixels → r² channels."""

    name = "pixelunshuffle"
    category = "reshape"
    attrs = (Attr("r", "int", minimum=1),)
    words = {"pixelunshuffle": {}}
    torch_modules = ("PixelUnshuffle",)
    torch_functions = ("pixel_unshuffle",)
    torch_attrs = (("r", "downscale_factor", 1),)

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "pixelunshuffle")
        r = attrs["r"]
        if h % r or w % r:
            raise ShapeError(f"pixelunshuffle({r}) needs a map whose height and width are multiples of {r}, "
                             f"and it is {h}×{w}", "crop or pad the map first")
        return (c * r * r, h // r, w // r), []

    def symbolic_shape(self, attrs, inputs):
        c, h, w = inputs[0]
        r = attrs["r"]
        return (py_mul(c, py_mul(r, r)), _spatial(h, py_floordiv, r), _spatial(w, py_floordiv, r))

    def receptive(self, attrs, inputs):
        return attrs["r"], attrs["r"]  # an output position gathers an r×r block, blocks r apart

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def label(self, attrs):
        return f"pixelunshuffle ÷{attrs['r']}"

    def constructor(self, attrs, inputs):
        return Constructor("PixelUnshuffle", (attrs["r"],))
