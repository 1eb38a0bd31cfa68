"""Fully connected layers and flattening. A dense layer after a feature map flattens implicitly."""

from __future__ import annotations

from dataclasses import dataclass

from .base import NOTHING_SAVED, Attr, Constructor, LayerKind, Learned, ShapeError, is_spatial, numel, py, py_prod


@dataclass(frozen=True)
class FullyConnected(LayerKind):
    name = "fc"
    category = "fc"
    attrs = (Attr("units", "int", minimum=1), Attr("bias", "bool", True))
    words = {"fc": {}, "dense": {}, "linear": {}}
    learned = (Learned("weight", 2, what="units × inputs"), Learned("bias", 1, "bias", "one per unit"))
    number_attr = "units"
    defaults_key = "fc"
    counts_flops = True

    def infer(self, attrs, inputs):
        return (attrs["units"],), []

    def symbolic_shape(self, attrs, inputs):
        return (attrs["units"],)

    def params(self, attrs, inputs, out):
        return numel(inputs[0]) * attrs["units"], attrs["units"] if attrs["bias"] else 0

    def macs(self, attrs, inputs, out):
        return numel(inputs[0]) * attrs["units"]

    def receptive(self, attrs, inputs):
        # A dense layer sees its whole input: a window as large as the map.
        extent = inputs[0][1] if is_spatial(inputs[0]) else 1
        return extent, extent

    def label(self, attrs):
        return f"FC-{attrs['units']}"

    def constructor(self, attrs, inputs):
        kwargs = () if attrs["bias"] else (("bias", False),)
        return Constructor("Linear", (py_prod(inputs[0]), attrs["units"]), kwargs)

    def folds_batch_norm(self, attrs):
        return 0  # weight: out × in

    def with_bias(self, attrs):
        return {**attrs, "bias": True}

    def forward(self, attrs, module, args, inputs):
        x = f"torch.flatten({args[0]}, 1)" if is_spatial(inputs[0]) else args[0]
        return f"{module}({x})"


@dataclass(frozen=True)
class Flatten(LayerKind):
    name = "flatten"
    category = "reshape"
    foldable = True
    words = {"flatten": {}}

    def makes_new_tensor(self, attrs, inputs):
        return False

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def receptive(self, attrs, inputs):
        extent = inputs[0][1] if is_spatial(inputs[0]) else 1
        return extent, extent

    def infer(self, attrs, inputs):
        return (numel(inputs[0]),), []

    def symbolic_shape(self, attrs, inputs):
        return (py_prod(tuple(inputs[0])),)

    def forward(self, attrs, module, args, inputs):
        return f"torch.flatten({args[0]}, 1)" if is_spatial(inputs[0]) else args[0]


@dataclass(frozen=True)
class Reshape(LayerKind):
    """A vector (or map) viewed as a C×H×W map of the same size: YOLO's 7×7×(5B+C) output."""

    name = "reshape"
    category = "reshape"
    attrs = (Attr("channels", "int", minimum=1), Attr("height", "int", minimum=1), Attr("width", "int", minimum=1))
    words = {"reshape": {}}

    def infer(self, attrs, inputs):
        shape = (attrs["channels"], attrs["height"], attrs["width"])
        if numel(shape) != numel(inputs[0]):
            raise ShapeError(f"cannot reshape {numel(inputs[0]):,} values into {'×'.join(map(str, shape))} "
                             f"({numel(shape):,} values)")
        return shape, []

    def makes_new_tensor(self, attrs, inputs):
        return False

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def symbolic_shape(self, attrs, inputs):
        return (attrs["channels"], attrs["height"], attrs["width"])

    def label(self, attrs):
        return f"reshape {attrs['channels']}×{attrs['height']}×{attrs['width']}"

    def forward(self, attrs, module, args, inputs):
        return f"torch.reshape({args[0]}, (-1, {py(attrs['channels'])}, {py(attrs['height'])}, {py(attrs['width'])}))"
