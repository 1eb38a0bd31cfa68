"""Normalisation: batch norm and local response normalisation (AlexNet's NORM)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Attr, Constructor, LayerKind, Saved, numel
from .conv import spatial_input


@dataclass(frozen=True)
class BatchNorm(LayerKind):
    """Learned scale and shift per channel (weights, biases); running statistics are buffers."""

    name = "bn"
    category = "norm"
    foldable = True
    batch_norm = True
    attrs = (Attr("eps", "float", 1e-5, minimum=0.0),)  # added to the variance; torchvision's GoogLeNet uses 0.001
    words = {"bn": {}, "batchnorm": {}}

    def params(self, attrs, inputs, out):
        return inputs[0][0], inputs[0][0]

    def saved(self, attrs, inputs, out):
        return Saved(per_batch=2 * inputs[0][0])  # and the batch's mean and inverse deviation per channel

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        return Constructor("BatchNorm2d" if len(inputs[0]) == 3 else "BatchNorm1d", (inputs[0][0],), kwargs)


@dataclass(frozen=True)
class LocalResponseNorm(LayerKind):
    name = "lrn"
    category = "norm"
    attrs = (
        Attr("size", "int", 5, minimum=1),
        Attr("alpha", "float", 1e-4),
        Attr("beta", "float", 0.75),
        Attr("k", "float", 2.0),
    )
    words = {"lrn": {}, "norm": {}}

    def infer(self, attrs, inputs):
        spatial_input(inputs, "local response norm (across the channels of a map)")
        return inputs[0], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def label(self, attrs):
        return f"LRN {attrs['size']}"

    def saved(self, attrs, inputs, out):
        # PyTorch composes LRN from small ops; backward keeps the input, the squares padded by
        # size − 1 channels, and two more tensors of the output's size.
        c, *spatial = inputs[0]
        return Saved(hidden=(c + attrs["size"] - 1) * numel(tuple(spatial)) + 2 * numel(out))

    def constructor(self, attrs, inputs):
        kwargs = tuple((n, attrs[n]) for n, d in (("alpha", 1e-4), ("beta", 0.75), ("k", 2.0)) if attrs[n] != d)
        # torch's own default k is 1.0; AlexNet's is 2, so k is always written out.
        if not any(n == "k" for n, _ in kwargs):
            kwargs += (("k", attrs["k"]),)
        return Constructor("LocalResponseNorm", (attrs["size"],), kwargs)
