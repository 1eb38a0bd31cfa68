"""Normalisation: batch, group, instance and layer norm, and local response normalisation (AlexNet's NORM)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Attr, Constructor, LayerKind, Learned, Saved, ShapeError, divides_hint, is_spatial, numel
from .conv import spatial_input


@dataclass(frozen=True)
class BatchNorm(LayerKind):
    """Learned scale and shift per channel (weights, biases); running statistics are buffers."""

    name = "bn"
    category = "norm"
    foldable = True
    batch_norm = True
    attrs = (
        Attr("eps", "float", 1e-5, minimum=0.0),  # added to the variance; torchvision's GoogLeNet uses 0.001
        # The weight of each batch in the running statistics (training only): MobileNet v3's 0.01, YOLOv8's 0.03.
        Attr("momentum", "float", 0.1, minimum=0.0),
    )
    words = {"bn": {}, "batchnorm": {}}
    learned = (Learned("weight", 1, what="one scale per channel"), Learned("bias", 1, what="one shift per channel"))

    def params(self, attrs, inputs, out):
        return inputs[0][0], inputs[0][0]

    def saved(self, attrs, inputs, out):
        return Saved(per_batch=2 * inputs[0][0])  # and the batch's mean and inverse deviation per channel

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        kwargs += (("momentum", attrs["momentum"]),) if attrs["momentum"] != 0.1 else ()
        return Constructor("BatchNorm2d" if len(inputs[0]) == 3 else "BatchNorm1d", (inputs[0][0],), kwargs)


# Lines within ruff's 88 columns: the generated file is formatted.
FROZEN_BATCH_NORM = """\
class FrozenBatchNorm2d(nn.Module):
    # torchvision.ops.FrozenBatchNorm2d: batch norm with its scale, shift and
    # statistics fixed (buffers, not parameters), as detection backbones hold them;
    # the same arithmetic as torchvision's, so that the outputs agree bit for bit.
    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        # A BatchNorm2d's state loads too: its batch count has no place here.
        state_dict.pop(prefix + "num_batches_tracked", None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight.reshape(1, -1, 1, 1)
        b = self.bias.reshape(1, -1, 1, 1)
        rv = self.running_var.reshape(1, -1, 1, 1)
        rm = self.running_mean.reshape(1, -1, 1, 1)
        scale = w * (rv + self.eps).rsqrt()
        bias = b - rm * scale
        return x * scale + bias
"""


@dataclass(frozen=True)
class FrozenBatchNorm(LayerKind):
    """Batch norm frozen (torchvision.ops.FrozenBatchNorm2d, the norm of torchvision's detection
    backbones): scale, shift and statistics are buffers, so it has no parameters and learns nothing;
    the same in training as in evaluation."""

    name = "frozenbn"
    category = "norm"
    foldable = True
    frozen_norm = True
    attrs = (Attr("eps", "float", 1e-5, minimum=0.0),)
    words = {"frozenbn": {}}  # noqa: RUF012 - a ClassVar of LayerKind, as every kind sets it

    def infer(self, attrs, inputs):
        if len(inputs[0]) != 3:
            raise ShapeError(f"frozenbn normalises a C×H×W map (FrozenBatchNorm2d), got a tensor of "
                             f"{'×'.join(map(str, inputs[0]))}")
        return inputs[0], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def saved(self, attrs, inputs, out):
        # x * scale: autograd keeps the per-channel scale (the input needs no keeping, the buffers no gradient)
        return Saved(inputs=(), per_batch=inputs[0][0])

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        return Constructor("FrozenBatchNorm2d", (inputs[0][0],), kwargs, source=FROZEN_BATCH_NORM)


@dataclass(frozen=True)
class _PerImageNorm(LayerKind):
    """A norm over each image's own values (no batch statistics): the shape kept, and a learned
    scale and shift per channel when `affine`."""

    category = "norm"
    foldable = True
    learned = (Learned("weight", 1, "affine", "one scale per channel"),
               Learned("bias", 1, "affine", "one shift per channel"))

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def params(self, attrs, inputs, out):
        channels = inputs[0][0]
        return (channels, channels) if attrs["affine"] else (0, 0)


@dataclass(frozen=True)
class GroupNorm(_PerImageNorm):
    """Wu & He's group norm: each image's channels in `groups` groups, each group normalised over
    its channels and positions; independent of the batch. `groupnorm(1)` normalises each image as
    a whole (LayerNorm over C×H×W, with a scale and shift per channel); groups = C is instance
    norm with a scale and shift."""

    name = "groupnorm"
    attrs = (Attr("groups", "int", minimum=1), Attr("eps", "float", 1e-5, minimum=0.0), Attr("affine", "bool", True))
    words = {"groupnorm": {}}

    def infer(self, attrs, inputs):
        channels = inputs[0][0]
        if channels % attrs["groups"]:
            raise ShapeError(f"groupnorm's {attrs['groups']} groups do not divide the {channels} channels",
                             divides_hint("groupnorm", channels, attrs["groups"]))
        return inputs[0], []

    def saved(self, attrs, inputs, out):
        return Saved(hidden=2 * attrs["groups"])  # the input, and each image's mean and inverse deviation per group

    def label(self, attrs):
        return f"groupnorm {attrs['groups']}"

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        kwargs += (("affine", False),) if not attrs["affine"] else ()
        return Constructor("GroupNorm", (attrs["groups"], inputs[0][0]), kwargs)


@dataclass(frozen=True)
class InstanceNorm(_PerImageNorm):
    """Each channel of each image normalised over its positions (nn.InstanceNorm2d, style
    transfer's norm), with torch's defaults: no learned scale and shift (`affine=true` adds them)
    and no running statistics, so it normalises by the image's own statistics in eval mode too."""

    name = "instancenorm"
    attrs = (Attr("eps", "float", 1e-5, minimum=0.0), Attr("affine", "bool", False))
    words = {"instancenorm": {}}

    def infer(self, attrs, inputs):
        _, h, w = spatial_input(inputs, "instance norm (over the positions of each channel)")
        if h * w == 1:
            raise ShapeError("instance norm of a 1×1 map: each channel has one value, which it cannot normalise",
                             "normalise before the map is pooled to 1×1, or use bn")
        return inputs[0], []

    def saved(self, attrs, inputs, out):
        # torch runs it as batch norm over N·C channels: the input, a mean and an inverse deviation
        # per image and channel, and with affine the scale repeated for every image.
        return Saved(hidden=(3 if attrs["affine"] else 2) * inputs[0][0])

    def label(self, attrs):
        return "instancenorm"

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        kwargs += (("affine", True),) if attrs["affine"] else ()
        return Constructor("InstanceNorm2d", (inputs[0][0],), kwargs)


# torchvision's LayerNorm2d (ConvNeXt), written into the generated file: torch.nn normalises only
# trailing axes, so the map is seen channels-last by nn.LayerNorm's own forward (F.layer_norm) and
# turned back, as a plain NCHW tensor (torchvision's returns the permuted view). A subclass of
# nn.LayerNorm, so its state is nn.LayerNorm's (weight, bias) and takes torchvision's weights. Lines within ruff's 88 columns: the generated file is formatted.
LAYER_NORM_2D = """\
class LayerNorm2d(nn.LayerNorm):
    # nn.LayerNorm over the channels at each position of a map, as torchvision's
    # LayerNorm2d (ConvNeXt's).

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # A plain NCHW copy, not the permuted (channels-last-strided) view: oneDNN's
        # weight gradient of a strided 1x1 conv reading that view corrupts the heap
        # (netc issue 24). clone, since with one channel .contiguous() keeps the view.
        y = super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return y.clone(memory_format=torch.contiguous_format)
"""


@dataclass(frozen=True)
class LayerNorm(_PerImageNorm):
    """Ba et al.'s layer norm as ConvNeXt uses it on maps: each position of each image normalised
    over its channels (torchvision's LayerNorm2d), with a learned scale and shift per channel; on a
    vector, nn.LayerNorm over its features. Unlike groupnorm(1), the statistics are per position,
    not over the whole map. Backward keeps the input and a mean and an inverse deviation per position."""

    name = "layernorm"
    attrs = (Attr("eps", "float", 1e-5, minimum=0.0), Attr("affine", "bool", True))  # ConvNeXt writes eps=1e-6
    words = {"layernorm": {}}

    def saved(self, attrs, inputs, out):
        return Saved(hidden=2 * numel(tuple(inputs[0][1:])))

    def channels_last_output(self, attrs, inputs, channels_last):
        return False  # LayerNorm2d copies its permuted result back to NCHW (see LAYER_NORM_2D)

    def label(self, attrs):
        return "layernorm"

    def constructor(self, attrs, inputs):
        kwargs = (("eps", attrs["eps"]),) if attrs["eps"] != 1e-5 else ()
        kwargs += (("elementwise_affine", False),) if not attrs["affine"] else ()
        if is_spatial(tuple(inputs[0])):
            return Constructor("LayerNorm2d", (inputs[0][0],), kwargs, source=LAYER_NORM_2D)
        return Constructor("LayerNorm", (inputs[0][0],), kwargs)


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
