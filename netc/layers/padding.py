"""Padding as a layer of its own: zeros around a map (nn.ZeroPad2d)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import NOTHING_SAVED, Attr, Constructor, LayerKind
from .conv import spatial_input

SIDES = ("left", "right", "top", "bottom")  # ZeroPad2d's order


@dataclass(frozen=True)
class ZeroPad(LayerKind):
    """Columns and rows of zeros around a map (nn.ZeroPad2d): `zeropad(p)` pads every side by p,
    `zeropad(left, right, top, bottom)` each side as ZeroPad2d's 4-tuple does (a side not written
    is `left`'s). Darknet's zeropad(0, 1, 0, 1) before maxpool(2, stride=1) keeps the size. No
    window: the receptive field and its step are unchanged. Backward keeps nothing."""

    name = "zeropad"
    category = "reshape"
    attrs = (Attr("left", "int", minimum=0),) + tuple(Attr(side, "int", None, minimum=0) for side in SIDES[1:])
    words = {"zeropad": {}}

    @staticmethod
    def sides(attrs):
        return tuple(attrs["left"] if attrs[side] is None else attrs[side] for side in SIDES)

    def infer(self, attrs, inputs):
        c, h, w = spatial_input(inputs, "zeropad")
        left, right, top, bottom = self.sides(attrs)
        return (c, h + top + bottom, w + left + right), []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]  # the channels are kept; height and width are the instance's

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED  # backward crops the gradient: it needs only the sizes

    def label(self, attrs):
        sides = self.sides(attrs)
        return f"zeropad {sides[0]}" if len(set(sides)) == 1 else "zeropad " + ",".join(str(s) for s in sides)

    def constructor(self, attrs, inputs):
        sides = self.sides(attrs)
        return Constructor("ZeroPad2d", (sides[0],) if len(set(sides)) == 1 else (sides,))
