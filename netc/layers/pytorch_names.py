"""PyTorch's layer names, and the other names people give layers, as plain data.

An unknown layer word is often not a typo but the name of a layer netc does not have
(`rmsnorm`, `rrelu`, `hardshrink`): the message should say so, rather than suggest the netc word it
happens to be spelt like (`norm`, which is LRN; `relu`). Or it is PyTorch's name for a layer
netc has under its own word (`conv2d` is `conv`). This module knows those names.

The analysis never imports torch, so torch.nn's classes are copied here as data;
tests/test_messages.py compares the copy with the installed torch.nn, so it cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import known_words, lookup_word  # the registry; it does not import this module

# Every nn.Module subclass in torch.nn.modules.__all__ of the torch this list was taken from.
TORCH_VERSION = "2.13.0"
NN_MODULES: tuple[str, ...] = (
    'AdaptiveAvgPool1d', 'AdaptiveAvgPool2d', 'AdaptiveAvgPool3d', 'AdaptiveLogSoftmaxWithLoss',
    'AdaptiveMaxPool1d', 'AdaptiveMaxPool2d', 'AdaptiveMaxPool3d', 'AlphaDropout', 'AvgPool1d', 'AvgPool2d',
    'AvgPool3d', 'BCELoss', 'BCEWithLogitsLoss', 'BatchNorm1d', 'BatchNorm2d', 'BatchNorm3d', 'Bilinear',
    'CELU', 'CTCLoss', 'ChannelShuffle', 'CircularPad1d', 'CircularPad2d', 'CircularPad3d', 'ConstantPad1d',
    'ConstantPad2d', 'ConstantPad3d', 'Container', 'Conv1d', 'Conv2d', 'Conv3d', 'ConvTranspose1d',
    'ConvTranspose2d', 'ConvTranspose3d', 'CosineEmbeddingLoss', 'CosineSimilarity', 'CrossEntropyLoss',
    'CrossMapLRN2d', 'Dropout', 'Dropout1d', 'Dropout2d', 'Dropout3d', 'ELU', 'Embedding', 'EmbeddingBag',
    'FeatureAlphaDropout', 'Flatten', 'Fold', 'FractionalMaxPool2d', 'FractionalMaxPool3d', 'GELU', 'GLU',
    'GRU', 'GRUCell', 'GaussianNLLLoss', 'GroupNorm', 'Hardshrink', 'Hardsigmoid', 'Hardswish', 'Hardtanh',
    'HingeEmbeddingLoss', 'HuberLoss', 'Identity', 'InstanceNorm1d', 'InstanceNorm2d', 'InstanceNorm3d',
    'KLDivLoss', 'L1Loss', 'LPPool1d', 'LPPool2d', 'LPPool3d', 'LSTM', 'LSTMCell', 'LayerNorm',
    'LazyBatchNorm1d', 'LazyBatchNorm2d', 'LazyBatchNorm3d', 'LazyConv1d', 'LazyConv2d', 'LazyConv3d',
    'LazyConvTranspose1d', 'LazyConvTranspose2d', 'LazyConvTranspose3d', 'LazyInstanceNorm1d',
    'LazyInstanceNorm2d', 'LazyInstanceNorm3d', 'LazyLinear', 'LeakyReLU', 'Linear', 'LinearCrossEntropyLoss',
    'LocalResponseNorm', 'LogSigmoid', 'LogSoftmax', 'MSELoss', 'MarginRankingLoss', 'MaxPool1d', 'MaxPool2d',
    'MaxPool3d', 'MaxUnpool1d', 'MaxUnpool2d', 'MaxUnpool3d', 'Mish', 'Module', 'ModuleDict', 'ModuleList',
    'MultiLabelMarginLoss', 'MultiLabelSoftMarginLoss', 'MultiMarginLoss', 'MultiheadAttention', 'NLLLoss',
    'NLLLoss2d', 'PReLU', 'PairwiseDistance', 'ParameterDict', 'ParameterList', 'PixelShuffle',
    'PixelUnshuffle', 'PoissonNLLLoss', 'RMSNorm', 'RNN', 'RNNBase', 'RNNCell', 'RNNCellBase', 'RReLU',
    'ReLU', 'ReLU6', 'ReflectionPad1d', 'ReflectionPad2d', 'ReflectionPad3d', 'ReplicationPad1d',
    'ReplicationPad2d', 'ReplicationPad3d', 'SELU', 'Sequential', 'SiLU', 'Sigmoid', 'SmoothL1Loss',
    'SoftMarginLoss', 'Softmax', 'Softmax2d', 'Softmin', 'Softplus', 'Softshrink', 'Softsign',
    'SyncBatchNorm', 'Tanh', 'Tanhshrink', 'Threshold', 'Transformer', 'TransformerDecoder',
    'TransformerDecoderLayer', 'TransformerEncoder', 'TransformerEncoderLayer', 'TripletMarginLoss',
    'TripletMarginWithDistanceLoss', 'Unflatten', 'Unfold', 'Upsample', 'UpsamplingBilinear2d',
    'UpsamplingNearest2d', 'ZeroPad1d', 'ZeroPad2d', 'ZeroPad3d',
)

# Modules that hold other modules: in netc a sequence is written with '-' and a named part under `blocks:`.
CONTAINERS: tuple[str, ...] = ("Container", "Module", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList",
                               "Sequential")

# PyTorch layers netc has under a word of its own whose lower-case class name is not that word
# (ReLU is `relu` already). A `Lazy…` class is the same layer with its input size left to be
# inferred, which netc always does: LazyConv2d is `conv` too.
NETC_WORD: dict[str, str] = {
    "Conv2d": "conv", "MaxPool2d": "maxpool", "AvgPool2d": "avgpool", "AdaptiveAvgPool2d": "adaptiveavgpool",
    "AdaptiveMaxPool2d": "adaptivemaxpool", "ZeroPad2d": "zeropad",
    "BatchNorm2d": "bn", "BatchNorm1d": "bn", "InstanceNorm2d": "instancenorm", "LocalResponseNorm": "lrn",
    "Softmax2d": "softmax",  # softmax over the channels at each position: netc's softmax is nn.Softmax(dim=1)
    "Unflatten": "reshape",
    "Upsample": "upsample",
    "ConvTranspose2d": "deconv",
}

# Layers netc lacks, and what it has that comes closest, where something honestly does. Say what
# differs: a hint that reads like "use this instead" for a layer that computes something else misleads.
_PADS = "netc pads with zeros only: inside a conv or pool (conv(C, 3, padding=1)), or zeropad(left, right, top, bottom)"
CLOSEST: dict[str, str] = {
    "RMSNorm": "layernorm comes closest: it too normalises each position over its channels, but subtracts their "
               "mean first and learns a shift besides the scale",
    "SyncBatchNorm": "netc's bn is nn.BatchNorm2d; SyncBatchNorm is that layer with its statistics shared across processes",
    "CrossMapLRN2d": "netc's lrn is nn.LocalResponseNorm, the same normalisation across channels",
    "RReLU": "leakyrelu(slope) has a fixed negative slope and prelu learns it; RReLU draws it at random while training",
    "CELU": "with alpha 1 it is elu",
    "SELU": "SELU is elu(1.6733) scaled by 1.0507; netc has elu, without the scale",
    "Hardtanh": "relu6 is Hardtanh(0, 6); tanh is its smooth form",
    "AlphaDropout": "netc's dropout is plain dropout",
    "FeatureAlphaDropout": "netc's dropout2d is plain dropout of whole channels",
    "LPPool2d": "netc's l2pool is nn.LPPool2d with norm 2",
    "ConstantPad2d": _PADS,
    "ReflectionPad2d": _PADS, "ReplicationPad2d": _PADS, "CircularPad2d": _PADS,
    "Bilinear": "for bilinear upsampling netc has upsample(2, mode=bilinear), nn.Upsample(mode='bilinear')",
    "UpsamplingNearest2d": "netc's upsample(S) is nn.Upsample(scale_factor=S), the same nearest upsampling",
    "UpsamplingBilinear2d": "netc's upsample(S, mode=bilinear) is nn.Upsample with align_corners=False; "
                            "UpsamplingBilinear2d aligns the corners",
}

# Layers people name that PyTorch has no module for: what the word means, and what netc has.
OTHER_LAYERS: dict[str, tuple[str, str | None]] = {
    "squeezeexcitation": ("squeeze-and-excitation (channels scaled by a gate computed from the map)",
                          "write it as a block: residual: globalavgpool-conv(c // r, 1)-relu-conv(c, 1)-sigmoid, "
                          "shortcut: identity, merge: mul"),
    "dropblock": ("DropBlock (dropout of square regions)", "netc's dropout zeroes single values"),
}

# What people write besides the lower-case class names, without '_' (group_norm is groupnorm):
# a class of NN_MODULES or a key of OTHER_LAYERS. A class name without its "2d" (instancenorm,
# convtranspose, zeropad) is understood without being listed. Words of two letters are left out:
# `gn`, `ln` or `se` is as likely a block the spec forgot to define.
SPELLINGS: dict[str, str] = {
    "deconvolution": "ConvTranspose2d",
    "transposedconv": "ConvTranspose2d", "transposeconv": "ConvTranspose2d", "convtrans": "ConvTranspose2d",
    "tconv": "ConvTranspose2d",
    "interpolate": "Upsample", "resize": "Upsample", "unpool": "MaxUnpool2d",
    "subpixel": "PixelShuffle", "depthtospace": "PixelShuffle", "spacetodepth": "PixelUnshuffle",
    "spatialdropout": "Dropout2d",
    "instnorm": "InstanceNorm2d", "inorm": "InstanceNorm2d",
    "hswish": "Hardswish", "hsigmoid": "Hardsigmoid",
    "pad": "ZeroPad2d", "padding": "ZeroPad2d",
    "attention": "MultiheadAttention", "selfattention": "MultiheadAttention",
    "seblock": "squeezeexcitation", "semodule": "squeezeexcitation", "squeezeexcite": "squeezeexcitation",
    "squeezeandexcitation": "squeezeexcitation", "squeezeexcitation": "squeezeexcitation",
    "dropblock": "dropblock",
}

# Depthwise and separable convolutions: netc has them, as convs with groups.
_DEPTHWISE = "a depthwise conv is conv(C, 3, groups=C) in netc, C being its input channels"
_SEPARABLE = "a depthwise separable conv is conv(C, 3, groups=C)-conv(N, 1) in netc, C being its input channels"
WRITTEN_AS: dict[str, str] = {
    "depthwise": _DEPTHWISE, "depthwiseconv": _DEPTHWISE, "dwconv": _DEPTHWISE,
    "separableconv": _SEPARABLE, "sepconv": _SEPARABLE,
}


@dataclass(frozen=True)
class ForeignName:
    """What an unknown word names outside netc."""

    name: str  # how a message names it: "PyTorch's nn.GroupNorm", "a maxout unit (…)"
    role: str = "layer"  # layer | loss | container
    netc_word: str | None = None  # netc's word for the same layer, where it has one
    hint: str | None = None  # what netc has that comes closest, or how netc writes it

    def message(self, written: str) -> str:
        """The error for a word naming a layer netc does not have: what it is, instead of 'unknown'."""
        if self.role == "loss":
            return f"'{written}' is {self.name}, a loss, which is not part of a network in netc"
        if self.role == "container":
            return f"'{written}' is {self.name}, a container of modules, not a layer"
        return f"'{written}' is {self.name}, which netc does not have yet"


_LOSS_HINT = "a spec describes the model; the loss belongs to the training code"
_CONTAINER_HINT = "in netc a sequence is written with '-', and a named, reusable part under `blocks:`"


def _key(word: str) -> str:
    return word.lower().replace("_", "")


def _by_key() -> dict[str, str]:
    """Normalised spelling → class: lower-case class names first, then SPELLINGS, then names without "2d"."""
    table = {_key(cls): cls for cls in NN_MODULES}
    for spelling, target in SPELLINGS.items():
        table.setdefault(spelling, target)
    for cls in NN_MODULES:
        if cls.endswith("2d"):
            table.setdefault(_key(cls[:-2]), cls)
    return table


_TABLE = _by_key()


def _describe(cls: str) -> ForeignName:
    if cls in OTHER_LAYERS:
        name, hint = OTHER_LAYERS[cls]
        return ForeignName(name, hint=hint)
    name = f"PyTorch's nn.{cls}"
    if "Loss" in cls:
        return ForeignName(name, "loss", hint=_LOSS_HINT)
    if cls in CONTAINERS:
        return ForeignName(name, "container", hint=_CONTAINER_HINT)
    base = cls.removeprefix("Lazy")
    if base in NETC_WORD or _key(base) in _netc_words():  # LazyLinear is linear; hswish is Hardswish, hardswish
        return ForeignName(name, netc_word=NETC_WORD.get(base, _key(base)))
    hint = CLOSEST.get(base)
    two_d = re.sub(r"[13]d$", "2d", base)
    if hint is None and two_d != base and (two_d in NETC_WORD or _key(two_d) in _netc_words()):
        hint = f"netc's layers are 2-d: it has nn.{two_d} as '{NETC_WORD.get(two_d, _key(two_d))}'"
    return ForeignName(name, hint=hint)


def _netc_words() -> set[str]:
    return set(known_words())


def foreign_name(word: str) -> ForeignName | None:
    """What an unknown layer word names outside netc, or None when it names nothing known (a typo,
    or a block the spec does not define). A word netc knows is never foreign, even when it is also
    a PyTorch class (relu, linear)."""
    key = _key(word)
    if lookup_word(key) is not None:
        return None  # netc's own word, written with '_': left to the typo rule (leaky_relu → leakyrelu)
    if key in WRITTEN_AS:
        return ForeignName("a convolution with groups", netc_word="conv", hint=WRITTEN_AS[key])
    cls = _TABLE.get(key)
    if cls is None:
        stem = key.rstrip("0123456789")  # a kernel size or count after the name: deconv3, lstm2
        if stem != key and lookup_word(stem) is None:
            cls = _TABLE.get(stem)
    return _describe(cls) if cls is not None else None
