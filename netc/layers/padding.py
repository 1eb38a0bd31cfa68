"""Padding and cropping as layers of their own: zeros around a map (nn.ZeroPad2d), and a map cut
down to a point's size or a given one (Caffe's Crop)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .base import NOTHING_SAVED, Attr, Constructor, LayerKind, NoSymbolicRule, ShapeError, numel
from .conv import per_axis, spatial_input

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


@dataclass(frozen=True)
class Crop(LayerKind):
    """The map cut down to a point's size (`crop(<data>)`, which reads the point for its size
    only), or to `crop(height, width)`: at the centre (the odd row or column left over goes after,
    as concat(…, crop=true) cuts U-Net's skips), or `offset` rows and columns from the top-left
    corner, per axis as (top, left). Caffe's Crop layer, which FCN uses to cut its upsampled scores
    to the input's size at offset 19. A view, x[:, :, top:top + H, left:left + W]: no parameters, no
    multiply-adds, nothing kept for backward. No window: each output pixel is an input pixel, so the
    receptive field and the step between outputs stay; the offset only moves where the grid starts."""

    name = "crop"
    category = "reshape"
    attrs = (Attr("height", "int", None, minimum=1), Attr("width", "int", None, minimum=1),
             Attr("offset", "int", None, minimum=0, pair=True))
    words = {"crop": {}}
    inputs = (1, 2)  # the map, and the point whose size it takes
    points_for_shape = True
    shapes_at_run_time = True  # crop(<point>) reads the point's size in forward: no input size is baked in

    @staticmethod
    def _target(attrs, inputs) -> tuple[Any, Any]:
        if len(inputs) == 2:
            if attrs["height"] is not None or attrs["width"] is not None:
                raise ShapeError("crop(<point>) takes the point's size; it takes no height or width beside it",
                                 "write crop(<point>) or crop(height, width)")
            target = inputs[1]
            if len(target) != 3:
                raise ShapeError(f"crop to the size of a vector ({numel(target)} values): the point must be a map")
            return target[1], target[2]
        if attrs["height"] is None:
            raise ShapeError("crop needs a size to crop to",
                             "crop(<point>) takes the size of a point marked earlier (… - <name> - …), "
                             "crop(height, width) a given one")
        return attrs["height"], attrs["width"] if attrs["width"] is not None else attrs["height"]

    def _window(self, attrs, inputs) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the part kept."""
        _, h, w = inputs[0]
        th, tw = self._target(attrs, inputs)
        if th > h or tw > w:
            larger = "taller than" if tw <= w else "wider than" if th <= h else "larger than"
            raise ShapeError(f"crop to {th}×{tw} is {larger} the {h}×{w} map",
                             "a crop only makes a map smaller: pad or enlarge the map before it (FCN-32s pads "
                             "its first conv by 100), or crop the larger map to this one's size")
        if attrs["offset"] is None:
            return (h - th) // 2, (w - tw) // 2, th, tw
        top, left = per_axis(attrs["offset"])
        if top + th > h or left + tw > w:
            raise ShapeError(f"crop to {th}×{tw} at offset {offset_text(attrs['offset'])} runs past the "
                             f"{'bottom' if top + th > h else 'right'} edge of the {h}×{w} map",
                             f"the offset may be at most {h - th} from the top and {w - tw} from the left here")
        return top, left, th, tw

    def infer(self, attrs, inputs):
        c, _, _ = spatial_input(inputs, "crop")
        _, _, th, tw = self._window(attrs, inputs)
        return (c, th, tw), []

    def symbolic_shape(self, attrs, inputs):
        # Where the slice starts depends on the map's height and width, which a generic class (a
        # block's, or the network's over its params) does not know: such a class is written per use.
        raise NoSymbolicRule("a crop needs the maps' heights and widths")

    def resolve(self, attrs, inputs, jumps):
        if len(inputs) != 2:
            return {}
        if not all(isinstance(d, int) for d in inputs[1][1:]):
            raise NoSymbolicRule("a crop to a point's size needs its height and width")
        return {"size": tuple(inputs[1][1:])}  # for the label: "crop to 500×500"

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED  # backward pads the gradient back: it needs only the sizes

    def makes_new_tensor(self, attrs, inputs):
        return False  # a view of its input

    def label(self, attrs):
        if "size" in attrs:
            size = attrs["size"]
        else:
            size = (attrs["height"], attrs["width"] if attrs["width"] is not None else attrs["height"])
        at = f" at {offset_text(attrs['offset'])}" if attrs["offset"] is not None else ""
        return f"crop to {size[0]}×{size[1]}{at}"

    def forward(self, attrs, module, args, inputs):
        if not all(isinstance(d, int) for shape in inputs for d in shape[1:]):
            raise NoSymbolicRule("a crop needs the maps' heights and widths")
        _, h, w = inputs[0]
        top, left, th, tw = self._window(attrs, inputs)  # checks the spec's own sizes
        if len(args) == 2:  # to the point's size, read at run time (FCN's score cut to the input's size)
            x, point = args
            if attrs["offset"] is None:
                top_at = f"({x}.size(2) - {point}.size(2)) // 2"
                left_at = f"({x}.size(3) - {point}.size(3)) // 2"
            else:
                top_at, left_at = map(str, per_axis(attrs["offset"]))
            return f"{x}.narrow(2, {top_at}, {point}.size(2)).narrow(3, {left_at}, {point}.size(3))"
        if (top, left, th, tw) == (0, 0, h, w):
            return args[0]  # nothing to cut
        rows = f"{top}:{top + th}" if th != h else ":"
        columns = f"{left}:{left + tw}" if tw != w else ":"
        return f"{args[0]}[:, :, {rows}, {columns}]"


def offset_text(offset: Any) -> str:
    """An offset as written: 19, or top,left."""
    return f"{offset[0]},{offset[1]}" if isinstance(offset, tuple) else str(offset)
