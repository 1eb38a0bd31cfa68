"""Shape-preserving layers: activations (PReLU's slopes are its only parameters), dropout, stochastic
depth, a learned per-channel scale (ConvNeXt's layer scale), identity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import NOTHING_SAVED, Attr, Constructor, LayerKind, Learned, Saved, ShapeError, is_spatial, numel
from .conv import spatial_input

KEEPS_OUTPUT = Saved(inputs=(), output=True)


@dataclass(frozen=True)
class Activation(LayerKind):
    category = "activation"
    foldable = True
    module: ClassVar[str] = ""
    in_place: ClassVar[bool] = False  # may run in place when its input is not needed again

    def constructor(self, attrs, inputs):
        return Constructor(self.module, tuple(attrs[a.name] for a in self.attrs))

    def runs_in_place(self, attrs):
        # In place, backward reads the output: PyTorch refuses that for a negative slope or alpha.
        return self.in_place and all(isinstance(attrs[a.name], (int, float)) and attrs[a.name] >= 0 for a in self.attrs)


@dataclass(frozen=True)
class ReLU(Activation):
    name, module, in_place = "relu", "ReLU", True
    torch_modules, torch_functions = ("ReLU",), ("relu", "relu_")
    overwritable = False  # backward reads the output
    words = {"relu": {}}

    def saved(self, attrs, inputs, out):
        return KEEPS_OUTPUT


@dataclass(frozen=True)
class LeakyReLU(Activation):
    name, module, in_place = "leakyrelu", "LeakyReLU", True
    attrs = (Attr("slope", "float", 0.01),)
    words = {"leakyrelu": {}, "lrelu": {}}

    def label(self, attrs):
        return f"leakyrelu {attrs['slope']}"


@dataclass(frozen=True)
class PReLU(Activation):
    """Leaky ReLU with learned negative slopes (He et al., 2015): one per channel of a map (or per
    feature of a vector), or `prelu(1)` one shared by all. The slopes are weights; backward keeps
    the input (and the slopes, which are parameters)."""

    name, module = "prelu", "PReLU"
    attrs = (Attr("slopes", "int", None, minimum=1), Attr("init", "float", 0.25))  # slopes None: one per channel
    words = {"prelu": {}}
    learned = (Learned("weight", 1, what="the slopes, one per channel or one shared"),)

    def _slopes(self, attrs, inputs):
        return attrs["slopes"] if attrs["slopes"] is not None else inputs[0][0]

    def infer(self, attrs, inputs):
        channels = inputs[0][0]
        if attrs["slopes"] not in (None, 1, channels):
            raise ShapeError(f"prelu learns 1 slope or one per channel ({channels}), not {attrs['slopes']}",
                             "write prelu for one slope per channel, prelu(1) for a single shared slope")
        return inputs[0], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def params(self, attrs, inputs, out):
        return self._slopes(attrs, inputs), 0

    def label(self, attrs):
        return "prelu" if attrs["slopes"] != 1 else "prelu shared"

    def constructor(self, attrs, inputs):
        slopes = self._slopes(attrs, inputs)
        kwargs = ((("num_parameters", slopes),) if slopes != 1 else ()) + ((("init", attrs["init"]),) if attrs["init"] != 0.25 else ())
        return Constructor(self.module, (), kwargs)


@dataclass(frozen=True)
class ELU(Activation):
    name, module, in_place = "elu", "ELU", True
    attrs = (Attr("alpha", "float", 1.0),)
    words = {"elu": {}}


@dataclass(frozen=True)
class ReLU6(Activation):
    """min(max(x, 0), 6): MobileNet's activation."""

    # In place as torchvision builds it: autograd then keeps a copy of the input (hardtanh_), so
    # training keeps the same bytes; inference saves the allocation.
    name, module, in_place = "relu6", "ReLU6", True
    torch_modules, torch_functions = ("ReLU6",), ("relu6",)
    in_place_copies_input = True
    words = {"relu6": {}}


@dataclass(frozen=True)
class SiLU(Activation):
    """x · sigmoid(x), also called swish (EfficientNet)."""

    name, module, in_place = "silu", "SiLU", True
    torch_modules, torch_functions = ("SiLU",), ("silu",)
    in_place_copies_input = True  # backward reads the input: autograd keeps a copy of it
    words = {"silu": {}, "swish": {}}


@dataclass(frozen=True)
class Hardswish(Activation):
    """x · relu6(x + 3) / 6: MobileNet v3's cheap swish. Backward keeps the input."""

    # In place, backward needs the input it overwrote: autograd keeps a copy of it.
    name, module, in_place = "hardswish", "Hardswish", True
    torch_modules, torch_functions = ("Hardswish",), ("hardswish",)
    in_place_copies_input = True
    words = {"hardswish": {}}


@dataclass(frozen=True)
class Hardsigmoid(Activation):
    """relu6(x + 3) / 6: MobileNet v3's cheap sigmoid, its squeeze-and-excitation gate. Backward
    keeps the input."""

    name, module, in_place = "hardsigmoid", "Hardsigmoid", True
    torch_modules, torch_functions = ("Hardsigmoid",), ("hardsigmoid",)
    in_place_copies_input = True  # backward reads the input: autograd keeps a copy of it
    words = {"hardsigmoid": {}}


@dataclass(frozen=True)
class GELU(Activation):
    name, module = "gelu", "GELU"
    words = {"gelu": {}}


@dataclass(frozen=True)
class Sigmoid(Activation):
    name, module = "sigmoid", "Sigmoid"
    torch_modules, torch_functions = ("Sigmoid",), ("sigmoid", "sigmoid_")
    overwritable = False  # backward reads the output
    words = {"sigmoid": {}}

    def saved(self, attrs, inputs, out):
        return KEEPS_OUTPUT


@dataclass(frozen=True)
class Tanh(Activation):
    name, module = "tanh", "Tanh"
    torch_modules, torch_functions = ("Tanh",), ("tanh", "tanh_")
    overwritable = False  # backward reads the output
    words = {"tanh": {}}

    def saved(self, attrs, inputs, out):
        return KEEPS_OUTPUT


@dataclass(frozen=True)
class Softplus(Activation):
    name, module = "softplus", "Softplus"
    words = {"softplus": {}}


@dataclass(frozen=True)
class Softmax(Activation):
    """Over the channel axis (dim 1), as nn.Softmax(dim=1); flatten first for a softmax over a map."""

    name, module = "softmax", "Softmax"
    overwritable = False  # backward reads the output
    words = {"softmax": {}}

    def constructor(self, attrs, inputs):
        return Constructor(self.module, (), (("dim", 1),))

    def saved(self, attrs, inputs, out):
        return KEEPS_OUTPUT


@dataclass(frozen=True)
class LogSoftmax(Softmax):
    name, module = "logsoftmax", "LogSoftmax"
    words = {"logsoftmax": {}}


@dataclass(frozen=True)
class Dropout(LayerKind):
    name = "dropout"
    category = "dropout"
    foldable = True
    attrs = (Attr("p", "float", 0.5, minimum=0.0),)
    words = {"dropout": {}}
    overwritable = False  # in eval mode the output is the input itself
    eval_identity = True

    def infer(self, attrs, inputs):
        if not 0 <= attrs["p"] <= 1:  # NaN too
            raise ShapeError(f"dropout probability must be between 0 and 1, got {attrs['p']}")
        return inputs[0], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def label(self, attrs):
        return f"dropout {attrs['p']:g}" if isinstance(attrs["p"], (int, float)) else "dropout"

    def constructor(self, attrs, inputs):
        return Constructor("Dropout", (attrs["p"],) if attrs["p"] != 0.5 else ())

    def saved(self, attrs, inputs, out):
        # The scaled mask, in the model's dtype on the CPU (CUDA keeps a 1-byte boolean mask).
        return Saved(inputs=(), hidden=numel(out))


@dataclass(frozen=True)
class Dropout2d(Dropout):
    """Whole channels of a map zeroed at random ("spatial dropout", nn.Dropout2d): one draw per
    image and channel, the survivors scaled by 1 / (1 − p)."""

    name = "dropout2d"
    words = {"dropout2d": {}}

    def infer(self, attrs, inputs):
        spatial_input(inputs, "dropout2d (which zeroes whole channels)")
        return super().infer(attrs, inputs)

    def label(self, attrs):
        return f"dropout2d {attrs['p']:g}" if isinstance(attrs["p"], (int, float)) else "dropout2d"

    def constructor(self, attrs, inputs):
        return Constructor("Dropout2d", (attrs["p"],) if attrs["p"] != 0.5 else ())

    def saved(self, attrs, inputs, out):
        # torch multiplies the map by a mask of one value per image and channel (N×C×1×1) and keeps
        # the mask; at p = 0 it hands the input on, at p = 1 it multiplies by a scalar zero, kept once.
        if attrs["p"] == 0:
            return NOTHING_SAVED
        if attrs["p"] == 1:
            return Saved(inputs=(), per_batch=1)
        return Saved(inputs=(), hidden=inputs[0][0])


# torchvision.ops.StochasticDepth(p, mode="row"), written into the generated file (torchvision is
# not a dependency of generated code): the same draws in the same order, so a seed gives its masks.
# Lines within ruff's 88 columns: the generated file is formatted.
STOCHASTIC_DEPTH = """\
class StochasticDepth(nn.Module):
    # While training, each sample's whole input is zeroed with probability p and the
    # survivors scaled by 1 / (1 - p); the identity in eval mode. As
    # torchvision.ops.StochasticDepth in mode "row".

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1)  # one value per sample
        noise = torch.empty(size, dtype=x.dtype, device=x.device)
        noise = noise.bernoulli_(survival)
        if survival > 0.0:
            noise.div_(survival)
        return x * noise
"""


@dataclass(frozen=True)
class StochasticDepth(Dropout):
    """Huang et al.'s stochastic depth, as torchvision.ops.StochasticDepth(p, "row"): while
    training, the whole input of each image (a residual branch, placed before the add) is dropped
    with probability p and the survivors scaled by 1 / (1 − p); nothing in eval mode. No
    parameters; backward keeps the mask, one value per image (nothing at p = 0)."""

    name = "stochasticdepth"
    attrs = (Attr("p", "float", minimum=0.0),)
    words = {"stochasticdepth": {}, "droppath": {}}

    def infer(self, attrs, inputs):
        p = attrs["p"]
        if not 0 <= p <= 1:  # NaN too
            # Papers give ConvNeXt's and EfficientNet's rates as 0.1 and 0.2, code sometimes as percentages.
            hint = f"p is a probability, not a percentage: stochasticdepth({p / 100:g}) for {p:g}%" if 1 < p <= 100 else None
            raise ShapeError(f"stochastic depth's probability of dropping an image's branch must be between 0 and 1, "
                             f"got {p:g}", hint)
        return inputs[0], []

    def label(self, attrs):
        return f"stochasticdepth {attrs['p']:g}" if isinstance(attrs["p"], (int, float)) else "stochasticdepth"

    def constructor(self, attrs, inputs):
        return Constructor("StochasticDepth", (attrs["p"],), source=STOCHASTIC_DEPTH)

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED if attrs["p"] == 0 else Saved(inputs=(), hidden=1)


# ConvNeXt's layer scale, written into the generated file: torch.nn has no module for a learned
# scale. The scale is named `weight` (torch's name for what a layer multiplies by) and is C×1×1 on
# a map, as torchvision's CNBlock.layer_scale.
LAYER_SCALE = """\
class LayerScale(nn.Module):
    # A learned scale per channel of a map (or per feature of a vector), times the
    # input: ConvNeXt's layer scale, torchvision's CNBlock.layer_scale.

    def __init__(self, channels: int, init: float, spatial: bool = True) -> None:
        super().__init__()
        shape = (channels, 1, 1) if spatial else (channels,)
        self.weight = nn.Parameter(torch.full(shape, init))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x
"""


@dataclass(frozen=True)
class LayerScale(LayerKind):
    """Touvron et al.'s layer scale as ConvNeXt uses it: each channel of a map (feature of a vector)
    times a learned γ, initialised to `init`; C weights. Backward keeps the input (for γ's gradient)."""

    name = "layerscale"
    category = "norm"
    foldable = True
    attrs = (Attr("init", "float", 1e-6),)
    words = {"layerscale": {}}
    # (C, 1, 1) on a map, (C,) on a vector: one γ per channel either way, no fan to compute.
    learned = (Learned("weight", 1, what="one γ per channel"),)

    def params(self, attrs, inputs, out):
        return inputs[0][0], 0

    def constructor(self, attrs, inputs):
        kwargs = (("spatial", False),) if not is_spatial(tuple(inputs[0])) else ()
        return Constructor("LayerScale", (inputs[0][0], attrs["init"]), kwargs, source=LAYER_SCALE)


@dataclass(frozen=True)
class Identity(LayerKind):
    name = "identity"
    category = "reshape"
    foldable = True
    words = {"identity": {}}

    def makes_new_tensor(self, attrs, inputs):
        return False

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def forward(self, attrs, module, args, inputs):
        return args[0]


@dataclass(frozen=True)
class Input(LayerKind):
    """The network's input: no layer word names it; its shape comes from the spec's `input`."""

    name = "input"
    category = "input"
    inputs = (0, 0)

    def infer(self, attrs, inputs):
        return tuple(attrs["shape"]), []

    def symbolic_shape(self, attrs, inputs):
        return tuple(attrs["shape"])

    def label(self, attrs):
        if "rows" in attrs:
            return f"input {attrs['name']}, {attrs['rows']} rows"
        return f"input {attrs['name']}" if "name" in attrs else "input"

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED

    def forward(self, attrs, module, args, inputs):
        return args[0]
