"""Layers that rearrange or select channels: ShuffleNet's channel shuffle, a channel slice, maxout."""

from __future__ import annotations

from dataclasses import dataclass

from .base import (
    NOTHING_SAVED,
    Attr,
    Constructor,
    LayerKind,
    Saved,
    ShapeError,
    divides_hint,
    numel,
    py,
    py_floordiv,
    py_sub,
)
from .conv import spatial_input


@dataclass(frozen=True)
class ChannelShuffle(LayerKind):
    """ShuffleNet's channel shuffle (nn.ChannelShuffle): the channels, seen as `groups` groups,
    are interleaved — the first of each group, then the second of each, … — so that every group
    of the next grouped conv reads from every group of the last. Backward keeps nothing."""

    name = "channelshuffle"
    category = "reshape"
    foldable = True
    attrs = (Attr("groups", "int", minimum=1),)
    words = {"channelshuffle": {}}
    torch_modules, torch_attrs = ("ChannelShuffle",), (("groups", "groups", 1),)

    def infer(self, attrs, inputs):
        c, _, _ = spatial_input(inputs, "channel shuffle")
        if c % attrs["groups"]:
            raise ShapeError(f"channelshuffle's {attrs['groups']} groups do not divide the {c} channels",
                             divides_hint("channelshuffle", c, attrs["groups"]))
        return inputs[0], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED  # a copy in the new order (even for one group): backward needs only the sizes

    def label(self, attrs):
        return f"channelshuffle {attrs['groups']}"

    def constructor(self, attrs, inputs):
        return Constructor("ChannelShuffle", (attrs["groups"],))


@dataclass(frozen=True)
class Slice(LayerKind):
    """Channels start … stop − 1 of a map, or features of a vector: `x[:, start:stop]`, a view, no
    module. Two parallel branches that each slice their half are ShuffleNet v2's channel split."""

    name = "slice"
    category = "reshape"
    foldable = True
    attrs = (Attr("start", "int", minimum=0), Attr("stop", "int", minimum=1))
    words = {"slice": {}}

    def infer(self, attrs, inputs):
        start, stop, channels = attrs["start"], attrs["stop"], inputs[0][0]
        if not start < stop <= channels:
            what = "channels" if len(inputs[0]) == 3 else "features"
            raise ShapeError(f"slice({start}, {stop}) of {channels} {what}: it needs start < stop ≤ {channels}",
                             f"slice(start, stop) keeps {what} start … stop − 1, counted from 0")
        return (stop - start,) + tuple(inputs[0][1:]), []

    def symbolic_shape(self, attrs, inputs):
        width = attrs["stop"] if attrs["start"] == 0 else py_sub(attrs["stop"], attrs["start"])
        return (width,) + tuple(inputs[0][1:])

    def makes_new_tensor(self, attrs, inputs):
        return False

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def contiguous_view(self, attrs, inputs, batch):
        # Some channels of each image: one block of memory only when there is one image (or all channels).
        return batch == 1 or (attrs["start"], attrs["stop"]) == (0, inputs[0][0])

    def label(self, attrs):
        return f"slice {attrs['start']}:{attrs['stop']}"

    def forward(self, attrs, module, args, inputs):
        start, stop = py(attrs["start"]), py(attrs["stop"])
        # As ruff and black write a slice: spaced colon when a bound is more than a name or a number.
        colon = ":" if all(v.isidentifier() or v.isdigit() for v in (start, stop)) else " : "
        return f"{args[0]}[:, {start}{colon}{stop}]"


@dataclass(frozen=True)
class Maxout(LayerKind):
    """Goodfellow et al.'s maxout: the maximum of each group of `pieces` consecutive channels (or
    features of a vector), so C / pieces outputs. A forward expression, no module; backward keeps
    where each maximum came from (int64)."""

    name = "maxout"
    category = "activation"
    attrs = (Attr("pieces", "int", 2, minimum=1),)
    words = {"maxout": {}}

    def infer(self, attrs, inputs):
        channels, pieces = inputs[0][0], attrs["pieces"]
        if channels % pieces:
            what = "channels" if len(inputs[0]) == 3 else "features"
            raise ShapeError(f"maxout over groups of {pieces} does not divide the {channels} {what}",
                             divides_hint("maxout", channels, pieces, "the pieces per unit"))
        return (channels // pieces,) + tuple(inputs[0][1:]), []

    def symbolic_shape(self, attrs, inputs):
        return (py_floordiv(inputs[0][0], attrs["pieces"]),) + tuple(inputs[0][1:])

    def saved(self, attrs, inputs, out):
        return Saved(inputs=(), indices=numel(out))

    def label(self, attrs):
        return f"maxout {attrs['pieces']}"

    def forward(self, attrs, module, args, inputs):
        return f"{args[0]}.unflatten(1, (-1, {py(attrs['pieces'])})).max(dim=2).values"
