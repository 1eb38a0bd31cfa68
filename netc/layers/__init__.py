"""The registry of layer kinds: every kind is declared once, in its module, and listed here."""

from __future__ import annotations

import functools

from .anchors import Anchors
from .base import CATEGORY_COLORS, Attr, Conditional, Constructor, LayerKind, Shape, ShapeError, fmt_shape, numel
from .channels import ChannelShuffle, Maxout, Slice
from .conv import Conv, TransposedConv
from .dense import Flatten, FullyConnected, Reshape
from .elementwise import (
    ELU,
    GELU,
    Dropout,
    Dropout2d,
    Hardsigmoid,
    Hardswish,
    Identity,
    Input,
    LayerScale,
    LeakyReLU,
    LogSoftmax,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    StochasticDepth,
    Tanh,
)
from .merge import Add, Concat, Mul, Projection
from .norm import BatchNorm, FrozenBatchNorm, GroupNorm, InstanceNorm, LayerNorm, LocalResponseNorm
from .padding import Crop, ZeroPad
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .pool import AdaptiveAvgPool, AdaptiveMaxPool, Pool, Upsample
from .roi import MultiScaleRoIAlign, RoIAlign, RoIPool

_ALL: tuple[LayerKind, ...] = (
    Conv(), TransposedConv(), Pool(), AdaptiveAvgPool(), AdaptiveMaxPool(), Upsample(), ZeroPad(), Crop(),
    RoIPool(), RoIAlign(), MultiScaleRoIAlign(), Anchors(),
    FullyConnected(), Flatten(), Reshape(), Slice(), ChannelShuffle(), PixelShuffle(), PixelUnshuffle(),
    ReLU(), LeakyReLU(), PReLU(), ELU(), Maxout(), ReLU6(), SiLU(), Hardswish(), Hardsigmoid(), GELU(), Sigmoid(),
    Tanh(), Softplus(), Softmax(), LogSoftmax(),
    BatchNorm(), FrozenBatchNorm(), GroupNorm(), InstanceNorm(), LayerNorm(), LocalResponseNorm(), LayerScale(), Dropout(), Dropout2d(),
    StochasticDepth(), Identity(),
    Concat(), Add(), Mul(), Projection(), Input(),
)

KINDS: dict[str, LayerKind] = {kind.name: kind for kind in _ALL}

# The two kinds the expander makes without a DSL word: the network's (or a template's) input, and
# the automatic shortcut of a residual block (`shortcut: auto | zeropad`).
INPUT_KIND = Input.name
SHORTCUT_KIND = Projection.name


def lookup_word(word: str) -> tuple[LayerKind, dict] | None:
    """The kind a DSL word names and the attributes the word fixes (conv3 → kernel 3)."""
    found = _lookup_word(word)
    return None if found is None else (found[0], dict(found[1]))


@functools.lru_cache(maxsize=4096)
def _lookup_word(word: str) -> tuple[LayerKind, dict] | None:
    """lookup_word's search, once per word: a repeat of 100,000 layers asks for the same word each
    time, and every kind is asked in turn."""
    for kind in _ALL:
        fixed = kind.word_attrs(word)
        if fixed is not None:
            return kind, fixed
    return None


def has_parameters(kind: LayerKind) -> bool:
    """Whether a kind learns tensors (declares a parameter count), so that `init:` may set them."""
    return type(kind).params is not LayerKind.params


def known_words() -> list[str]:
    words = [w for kind in _ALL for w in kind.words]
    return words + ["conv1", "conv3", "conv5", "conv7", "conv11"]


__all__ = [
    "CATEGORY_COLORS", "INPUT_KIND", "KINDS", "SHORTCUT_KIND", "Attr", "Conditional", "Constructor", "LayerKind",
    "Shape", "ShapeError", "fmt_shape", "has_parameters", "known_words", "lookup_word", "numel",
]
