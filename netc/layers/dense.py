"""Fully connected layers and flattening. A dense layer after a feature map flattens implicitly."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Attr, Constructor, LayerKind, is_spatial, numel, py_prod


@dataclass(frozen=True)
class FullyConnected(LayerKind):
    name = "fc"
    category = "fc"
    attrs = (Attr("units", "int", minimum=1), Attr("bias", "bool", True))
    words = {"fc": {}, "dense": {}, "linear": {}}
    number_attr = "units"
    defaults_key = "fc"
    counts_flops = True

    def infer(self, attrs, inputs):
        return (attrs["units"],), []

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

    def forward(self, attrs, module, args, inputs):
        x = f"torch.flatten({args[0]}, 1)" if is_spatial(inputs[0]) else args[0]
        return f"{module}({x})"


@dataclass(frozen=True)
class Flatten(LayerKind):
    name = "flatten"
    category = "reshape"
    foldable = True
    words = {"flatten": {}}

    def stores_output(self, attrs, inputs):
        return False

    def receptive(self, attrs, inputs):
        extent = inputs[0][1] if is_spatial(inputs[0]) else 1
        return extent, extent

    def infer(self, attrs, inputs):
        return (numel(inputs[0]),), []

    def forward(self, attrs, module, args, inputs):
        return f"torch.flatten({args[0]}, 1)" if is_spatial(inputs[0]) else args[0]
