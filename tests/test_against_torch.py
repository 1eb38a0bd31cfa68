"""netc's per-layer numbers against PyTorch itself.

For each network below the test builds the same network by hand in torch — explicit nn.Conv2d,
nn.MaxPool2d, … with the padding worked out by hand, never through netc.backends.codegen — runs it, and
asserts that every layer's output shape, parameter count (weights and biases separately),
activation count, MACs and FLOPs (torch.utils.flop_counter.FlopCounterMode) equal netc's, and
that the totals do too; for chains, also the bytes each layer's backward keeps (saved-tensor
hooks in a training step). Between them the cases cover every layer kind, the padding modes valid,
same (odd and even kernels) and full, an explicit padding, dilation, groups, bias off, L2 and
average pooling with padding, adaptive and global pooling (average and max), a dense layer
straight after a feature map (implicit flatten) and on a plain vector, zero padding on each side,
group and instance norm, channel dropout, shuffle and slices, maxout, concat of parallel branches,
and residual add with an identity, an automatic projection (with and without batch norm) and an
explicit shortcut.

The receptive field column is checked against a brute-force one: backpropagate from one output
pixel and measure the extent of the input pixels that get a non-zero gradient.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torch_measures import saved_bytes as torch_saved_bytes

from netc.analysis.pipeline import analyze_expression, analyze_file

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")


# --- helpers ------------------------------------------------------------------------------------
def flops_of(module: nn.Module, *inputs: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops()


def param_split(module: nn.Module) -> tuple[int, int]:
    """(weights, biases): torch names every learned tensor of these layers `weight` or `bias`."""
    weights = sum(p.numel() for name, p in module.named_parameters() if name.rsplit(".", 1)[-1] == "weight")
    biases = sum(p.numel() for name, p in module.named_parameters() if name.rsplit(".", 1)[-1] == "bias")
    assert weights + biases == sum(p.numel() for p in module.parameters())
    return weights, biases


def check_layer(name: str, info, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
    shape = tuple(output.shape[1:])
    weights, biases = param_split(module)
    flops = flops_of(module, *inputs)
    got = {"shape": info.shape, "weights": info.weights, "biases": info.biases, "params": info.params,
           "activations": info.activations, "flops": info.flops, "macs": info.macs}
    want = {"shape": shape, "weights": weights, "biases": biases, "params": weights + biases,
            "activations": output[0].numel(), "flops": flops, "macs": flops // 2}
    assert got == want, f"layer {name}"


def saved_bytes(layer: nn.Module, x: torch.Tensor) -> int:
    """Bytes of the tensors autograd keeps for one layer's backward, in a training step."""
    return torch_saved_bytes(layer, x)


def netc_saved_bytes(node, info, batch: int, size: int = 4) -> int:
    """What netc says one layer's backward keeps (`LayerKind.saved`), for a batch at float32."""
    from netc.layers import KINDS, numel

    saved = KINDS[node.kind].saved(node.attrs, list(info.inputs), info.shape)
    values = sum(numel(info.inputs[i]) for i in saved.inputs) + (numel(info.shape) if saved.output else 0)
    return batch * ((values + saved.hidden) * size + saved.indices * 8) + saved.per_batch * size


def compare_sequential(analysis, layers: list[nn.Module], built_otherwise: tuple[str, ...] = ()) -> None:
    """A chain: the i-th torch module is the i-th layer netc lists after the input. Each layer's
    shape, parameters and FLOPs, and what its backward keeps in a training step (a batch of 2,
    its input a tensor of its own), are torch's; but for the layers in `built_otherwise`, where
    the torch module is not built as netc's code builds it, what backward keeps is left out."""
    rows = [(node, info) for node, info in analysis.rows() if node.kind != "input"]
    assert len(rows) == len(layers), [node.id for node, _ in rows]
    model = nn.Sequential(*layers).eval()
    x = torch.randn(1, *analysis.network.input_shape)
    with torch.no_grad():
        for (node, info), layer in zip(rows, model):
            y = layer(x)
            check_layer(node.id, info, layer, (x,), y)
            x = y
        assert analysis.params == sum(p.numel() for p in model.parameters())
        assert analysis.flops == flops_of(model, torch.randn(1, *analysis.network.input_shape))
    (output_shape,) = analysis.output_shapes().values()
    assert output_shape == tuple(x.shape[1:])
    model.train()
    x = torch.randn(2, *analysis.network.input_shape)
    for (node, info), layer in zip(rows, model):
        x = x.detach().clone().requires_grad_()
        if node.id not in built_otherwise:
            assert saved_bytes(layer, x) == netc_saved_bytes(node, info, batch=2), f"what {node.id} keeps for backward"
        x = layer(x)


class Cat(nn.Module):
    def forward(self, *xs):
        return torch.cat(xs, dim=1)


class Add(nn.Module):
    def forward(self, a, b):
        return a + b


class Mul(nn.Module):
    def forward(self, a, b):
        return a * b


class Graph(nn.Module):
    """A hand-written network whose layers are keyed by netc's layer names, so that each can be
    compared with its row. `forward` is written out by each case."""

    def __init__(self, layers: dict[str, nn.Module]):
        super().__init__()
        self.layers = nn.ModuleDict({k.replace(".", "/"): v for k, v in layers.items()})
        self.names = list(layers)

    def __getitem__(self, name: str) -> nn.Module:
        return self.layers[name.replace(".", "/")]


def compare_graph(analysis, model: Graph, forward) -> None:
    """Every layer netc lists (but the input) must be one of the model's named modules."""
    names = [node.id for node, _ in analysis.rows() if node.kind != "input"]
    assert sorted(names) == sorted(model.names)
    model.eval()
    seen: dict[str, tuple] = {}
    hooks = [model[n].register_forward_hook(lambda m, args, out, n=n: seen.__setitem__(n, (args, out)))
             for n in model.names]
    x = torch.randn(1, *analysis.network.input_shape)
    with torch.no_grad():
        out = forward(model, x)
        for h in hooks:
            h.remove()
        for name in names:
            args, y = seen[name]
            check_layer(name, analysis[name], model[name], args, y)
        assert analysis.params == sum(p.numel() for p in model.parameters())
        assert analysis.flops == flops_of(lambda t: forward(model, t), x)
    (output_shape,) = analysis.output_shapes().values()
    assert output_shape == tuple(out.shape[1:])


# --- chains -------------------------------------------------------------------------------------
CONVOLUTIONS = (
    "conv(8, 3, padding=valid)-relu - conv(8, 5, padding=same)-leakyrelu(0.1)"
    " - conv(6, 3, padding=full)-elu - conv(6, 4, padding=same) - conv(12, 3, padding=2, dilation=2)-sigmoid"
    " - conv(12, 3, groups=3, bias=false)-tanh - conv(12, 3, dilation=3, padding=same, groups=4)-softplus"
    " - conv(5, 1, stride=2, padding=0)"
)
POOLING = (
    "conv(8, 3) - maxpool - avgpool(3, stride=2, padding=1) - l2pool(3, stride=2) - conv(16, 1)-bn-lrn(5)"
    " - maxpool(3, stride=1, padding=1) - adaptiveavgpool(3) - flatten - fc(20)-dropout(0.3)"
    " - fc(10, bias=false) - softmax"
)
DENSE_AFTER_MAP = "conv(4, 3, stride=2, padding=0) - FC-16-bn-relu - identity - FC-5 - logsoftmax"
GLOBAL_POOL = "conv(10, 3)-relu - globalavgpool - fc(7)"
TRANSPOSED = ("conv(6, 3)-deconv(4) - deconv(4, 3, stride=2, padding=1, output_padding=1)"
              " - deconv(6, 3, stride=1, padding=1, groups=2, bias=false) - deconv(2, 4, stride=3, dilation=2)")
UPSAMPLING = "conv(4, 3)-upsample - conv(4, 3)-upsample(3, mode=bilinear)-conv(2, 1)"
MODERN_ACTIVATIONS = "conv(8, 3, groups=1)-relu6 - conv(8, 3, groups=8)-swish - conv(4, 1)-gelu - silu - fc(6)"
NON_SQUARE = ("conv(4, 3, stride=2, padding=0) - maxpool(3, stride=2) - conv(6, 5, padding=same, dilation=2)"
              " - avgpool(2, padding=1) - fc(3)")
CEIL_AND_RESHAPE = "maxpool(3, stride=2, ceil=true) - avgpool(2, ceil=true) - fc(98) - reshape(2, 7, 7) - conv(4, 3)"
VECTOR = "fc(8)-relu-dropout-fc(3)-sigmoid"
MOBILE_ACTIVATIONS = ("conv(8, 3)-hardswish - conv(8, 3, groups=8)-bn-hardsigmoid - conv(6, 1)-prelu"
                      " - prelu(1, init=0.1) - prelu(6) - fc(12)-prelu-hardswish - fc(5)-hardsigmoid")
GROUP_NORMS = ("conv(12, 3)-groupnorm(4) - groupnorm(1, eps=0.001) - groupnorm(12, affine=false) - instancenorm"
               " - instancenorm(affine=true, eps=0.01) - dropout2d(0.3) - dropout2d - dropout2d(0) - dropout2d(1)"
               " - fc(6)-groupnorm(3)")
PADS_AND_MAX_POOLS = ("conv(8, 3) - zeropad(0, 1, 0, 1)-maxpool(2, stride=1) - zeropad(2) - zeropad(1, 0, 2, 3)"
                      " - zeropad(1, 2) - adaptivemaxpool(3) - conv(8, 1) - globalmaxpool - fc(4)")
CHANNEL_OPS = ("conv(12, 3) - channelshuffle(3) - channelshuffle(1) - slice(2, 10) - maxout - conv(6, 1)"
               " - maxout(3) - channelshuffle(2) - slice(0, 1) - fc(8)-maxout(4) - slice(1, 2)")
# ConvNeXt's parts: layer norm over the channels of a map and of a vector, layer scale, stochastic depth.
CONVNEXT_PARTS = ("conv(8, 3)-layernorm(eps=1e-6) - layernorm(affine=false) - layerscale - layerscale(0.5)"
                  " - stochasticdepth(0.2) - droppath(0) - stochasticdepth(1) - fc(6)-layernorm-layerscale(2)-droppath(0.5)")
# Sub-pixel convolution: depth to space and back (nn.PixelShuffle, nn.PixelUnshuffle).
PIXEL_SHUFFLES = "conv(36, 3) - pixelshuffle(3) - conv(8, 3) - pixelunshuffle(2) - pixelshuffle(1) - conv(5, 1)"
# Centre crops (the odd row or column left over goes after) and crops at an offset (top, left).
CROPS = "conv(4, 3, padding=2) - crop(8, 7) - crop(6, offset=(2, 0)) - conv(4, 3, padding=valid) - crop(3)"


# The hand-built reference uses torch's own padding='same' with an even kernel, which warns about its copy.
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_convolutions_padding_dilation_groups_bias():
    analysis = analyze_expression(CONVOLUTIONS, (3, 20, 20))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3), nn.ReLU(),                       # valid: 20 → 18
        nn.Conv2d(8, 8, 5, padding=2), nn.LeakyReLU(0.1),    # same, odd kernel: (5 − 1)/2 = 2
        nn.Conv2d(8, 6, 3, padding=2), nn.ELU(),             # full: F − 1 = 2, 18 → 20
        nn.Conv2d(6, 6, 4, padding="same"),                  # same, even kernel: torch's own, 20 → 20
        nn.Conv2d(6, 12, 3, padding=2, dilation=2), nn.Sigmoid(),
        nn.Conv2d(12, 12, 3, padding=1, groups=3, bias=False), nn.Tanh(),
        nn.Conv2d(12, 12, 3, padding=3, dilation=3, groups=4), nn.Softplus(),  # extent 7, same: 3
        nn.Conv2d(12, 5, 1, stride=2),
    ], built_otherwise=("conv4",))  # netc pads the even kernel's copy in forward, 1 before and 2 after


def test_pooling_norm_dropout_and_dense_layers():
    analysis = analyze_expression(POOLING, (3, 42, 42))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3, padding=1),            # 42
        nn.MaxPool2d(2),                          # 21
        nn.AvgPool2d(3, stride=2, padding=1),     # 11
        nn.LPPool2d(2, 3, stride=2),              # 5
        nn.Conv2d(8, 16, 1), nn.BatchNorm2d(16), nn.LocalResponseNorm(5, k=2.0),
        nn.MaxPool2d(3, stride=1, padding=1),     # 5
        nn.AdaptiveAvgPool2d(3),                  # overlapping windows 5 → 3
        nn.Flatten(), nn.Linear(144, 20), nn.Dropout(0.3),
        nn.Linear(20, 10, bias=False), nn.Softmax(dim=1),
    ])


def test_dense_after_a_feature_map_flattens_implicitly():
    analysis = analyze_expression(DENSE_AFTER_MAP, (3, 9, 9))
    compare_sequential(analysis, [
        nn.Conv2d(3, 4, 3, stride=2),                    # 9 → 4
        nn.Sequential(nn.Flatten(), nn.Linear(64, 16)),  # 4·4·4 = 64 inputs
        nn.BatchNorm1d(16), nn.ReLU(), nn.Identity(), nn.Linear(16, 5), nn.LogSoftmax(dim=1),
    ])


def test_relu6_silu_gelu():
    analysis = analyze_expression(MODERN_ACTIVATIONS, (3, 10, 10))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU6(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.SiLU(),   # swish is SiLU
        nn.Conv2d(8, 4, 1), nn.GELU(), nn.SiLU(),
        nn.Sequential(nn.Flatten(), nn.Linear(400, 6)),
    ])


def test_global_average_pool_then_classifier():
    analysis = analyze_expression(GLOBAL_POOL, (3, 13, 11))
    compare_sequential(analysis, [
        nn.Conv2d(3, 10, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        nn.Sequential(nn.Flatten(), nn.Linear(10, 7)),
    ])


def test_non_square_maps():
    analysis = analyze_expression(NON_SQUARE, (3, 17, 30))
    compare_sequential(analysis, [
        nn.Conv2d(3, 4, 3, stride=2), nn.MaxPool2d(3, stride=2), nn.Conv2d(4, 6, 5, padding=4, dilation=2),
        nn.AvgPool2d(2, padding=1), nn.Sequential(nn.Flatten(), nn.Linear(6 * 2 * 4, 3)),
    ])


def test_ceil_mode_pooling_and_reshape():
    analysis = analyze_expression(CEIL_AND_RESHAPE, (3, 12, 12))
    compare_sequential(analysis, [
        nn.MaxPool2d(3, stride=2, ceil_mode=True),   # ⌈(12 − 3)/2⌉ + 1 = 6
        nn.AvgPool2d(2, ceil_mode=True),             # 3
        nn.Sequential(nn.Flatten(), nn.Linear(27, 98)),
        nn.Unflatten(1, (2, 7, 7)),
        nn.Conv2d(2, 4, 3, padding=1),
    ])


def test_plain_vector_input():
    analysis = analyze_expression(VECTOR, (20,))
    compare_sequential(analysis, [nn.Linear(20, 8), nn.ReLU(), nn.Dropout(), nn.Linear(8, 3), nn.Sigmoid()])


class Expression(nn.Module):
    """A layer netc writes as an expression in forward, written here by hand."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function(x)


def test_hardswish_hardsigmoid_and_prelu():
    analysis = analyze_expression(MOBILE_ACTIVATIONS, (3, 10, 10))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3, padding=1), nn.Hardswish(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.BatchNorm2d(8), nn.Hardsigmoid(),
        nn.Conv2d(8, 6, 1), nn.PReLU(6),       # one learned slope per channel
        nn.PReLU(init=0.1),                     # prelu(1): one slope for all
        nn.PReLU(6),                            # the count written out
        nn.Sequential(nn.Flatten(), nn.Linear(600, 12)), nn.PReLU(12), nn.Hardswish(),  # per feature of a vector
        nn.Linear(12, 5), nn.Hardsigmoid(),
    ])
    assert [analysis[n].params for n in ("prelu1", "prelu2", "prelu3", "prelu4")] == [6, 1, 6, 12]


def test_group_norm_instance_norm_and_channel_dropout():
    analysis = analyze_expression(GROUP_NORMS, (3, 9, 7))
    compare_sequential(analysis, [
        nn.Conv2d(3, 12, 3, padding=1), nn.GroupNorm(4, 12),
        nn.GroupNorm(1, 12, eps=0.001),         # one group: each image normalised as a whole
        nn.GroupNorm(12, 12, affine=False),     # a group per channel, no scale and shift
        nn.InstanceNorm2d(12),                  # torch's defaults: no scale and shift, no running statistics
        nn.InstanceNorm2d(12, eps=0.01, affine=True),
        nn.Dropout2d(0.3), nn.Dropout2d(), nn.Dropout2d(0.0), nn.Dropout2d(1.0),
        nn.Sequential(nn.Flatten(), nn.Linear(12 * 9 * 7, 6)), nn.GroupNorm(3, 6),
    ])


FROZEN_NORMS = "conv(6, 3)-frozenbn-relu-frozenbn(eps=0.001)-fc(4)"


def test_frozen_batch_norm():
    """torchvision.ops.FrozenBatchNorm2d (pure Python), with buffers set apart from their identity
    values: shapes, no parameters, FLOPs, what backward keeps (the per-channel scale)."""
    from torchvision_models import torchvision

    torchvision()
    from torchvision.ops.misc import FrozenBatchNorm2d

    analysis = analyze_expression(FROZEN_NORMS, (3, 7, 5))
    norms = [FrozenBatchNorm2d(6), FrozenBatchNorm2d(6, eps=0.001)]
    for k, norm in enumerate(norms):
        for name, buffer in norm.named_buffers():
            buffer.copy_(torch.linspace(0.5, 1.5, 6) * (k + 1) if "var" in name or name == "weight" else
                         torch.linspace(-0.2, 0.3, 6))
    compare_sequential(analysis, [nn.Conv2d(3, 6, 3, padding=1), norms[0], nn.ReLU(), norms[1],
                                  nn.Sequential(nn.Flatten(), nn.Linear(6 * 7 * 5, 4))])


def test_zero_padding_and_adaptive_max_pooling():
    analysis = analyze_expression(PADS_AND_MAX_POOLS, (3, 13, 11))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, stride=1),  # darknet's size-keeping 2×2 pool: 13×11
        nn.ZeroPad2d(2),                                         # 17×15
        nn.ZeroPad2d((1, 0, 2, 3)),                              # left 1, right 0, top 2, bottom 3: 22×16
        nn.ZeroPad2d((1, 2, 1, 1)),                              # zeropad(1, 2): top and bottom are left's
        nn.AdaptiveMaxPool2d(3), nn.Conv2d(8, 8, 1), nn.AdaptiveMaxPool2d(1),
        nn.Sequential(nn.Flatten(), nn.Linear(8, 4)),
    ])
    assert analysis["zeropad4"].shape == (8, 24, 19)


def test_channel_shuffle_slice_and_maxout():
    def maxout(k):
        return Expression(lambda t: torch.max(t.reshape(t.shape[0], t.shape[1] // k, k, *t.shape[2:]), dim=2)[0])

    analysis = analyze_expression(CHANNEL_OPS, (3, 8, 8))
    compare_sequential(analysis, [
        nn.Conv2d(3, 12, 3, padding=1), nn.ChannelShuffle(3), nn.ChannelShuffle(1),
        Expression(lambda t: t[:, 2:10]),          # 8 channels
        maxout(2), nn.Conv2d(4, 6, 1), maxout(3), nn.ChannelShuffle(2),
        Expression(lambda t: t[:, 0:1]),
        nn.Sequential(nn.Flatten(), nn.Linear(64, 8)), maxout(4),  # on a vector: 2 features
        Expression(lambda t: t[:, 1:2]),
    ])
    x = torch.arange(6.0).reshape(1, 6, 1, 1)
    assert nn.ChannelShuffle(3)(x).flatten().tolist() == [0, 2, 4, 1, 3, 5]  # what the table calls a shuffle


class Crop(nn.Module):
    """height×width of a map from (top, left), as slicing: the view netc's crop is. Points a crop
    reads for their size only come after the map, and are ignored."""

    def __init__(self, top: int, left: int, height: int, width: int):
        super().__init__()
        self.top, self.left, self.height, self.width = top, left, height, width

    def forward(self, x, *sized_like):
        return x[:, :, self.top:self.top + self.height, self.left:self.left + self.width]


def test_pixel_shuffle_and_unshuffle():
    analysis = analyze_expression(PIXEL_SHUFFLES, (3, 4, 6))
    compare_sequential(analysis, [
        nn.Conv2d(3, 36, 3, padding=1), nn.PixelShuffle(3),    # 36×4×6 → 4×12×18
        nn.Conv2d(4, 8, 3, padding=1), nn.PixelUnshuffle(2),   # 8×12×18 → 32×6×9
        nn.PixelShuffle(1), nn.Conv2d(32, 5, 1),
    ])


def test_receptive_field_of_pixel_unshuffle():
    """Each output of pixelunshuffle(r) gathers an r×r block, blocks r apart: the gradients of the
    centre output of conv-pixelunshuffle-conv show the extent and the step."""
    from netc.backends.codegen import build_module

    analysis = analyze_expression("conv(4, 3) - pixelunshuffle(2) - conv(1, 3)", (1, 24, 24))
    last = analysis[analysis.network.order[-1]]
    extent, jump = brute_force_receptive_field(build_module(analysis), 1, 24)
    assert (last.receptive_field, last.jump) == (extent, jump) == ((8, 8), (2, 2))


def test_crops_at_the_centre_and_at_an_offset():
    analysis = analyze_expression(CROPS, (3, 9, 8))
    compare_sequential(analysis, [
        nn.Conv2d(3, 4, 3, padding=2),   # 11×10
        Crop(1, 1, 8, 7),                # the centre: (11 − 8) // 2 = 1 row above, 2 below
        Crop(2, 0, 6, 6),                # offset=(2, 0)
        nn.Conv2d(4, 4, 3),              # 4×4
        Crop(0, 0, 3, 3),                # the centre of 4: the odd row and column go after
    ])
    assert [analysis[n].label for n in ("crop1", "crop2", "crop3")] == [
        "crop to 8×7", "crop to 6×6 at 2,0", "crop to 3×3"]


class Scale(nn.Module):
    """A learned scale per channel (C×1×1) or per feature, times the input: torchvision's
    CNBlock.layer_scale, as a module of its own."""

    def __init__(self, shape: tuple[int, ...], init: float):
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, init))

    def forward(self, x):
        return self.weight * x


def test_layer_norm_layer_scale_and_stochastic_depth():
    """torchvision's own LayerNorm2d (ConvNeXt's) and StochasticDepth(p, "row"): what backward keeps
    is the input and a mean and an inverse deviation per position; the per-image mask."""
    from torchvision_models import torchvision

    layer_norm_2d = torchvision().models.convnext.LayerNorm2d
    stochastic_depth = torchvision().ops.StochasticDepth
    analysis = analyze_expression(CONVNEXT_PARTS, (3, 7, 5))
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, 3, padding=1), layer_norm_2d(8, eps=1e-6), layer_norm_2d(8, elementwise_affine=False),
        Scale((8, 1, 1), 1e-6), Scale((8, 1, 1), 0.5),
        stochastic_depth(0.2, "row"), stochastic_depth(0.0, "row"), stochastic_depth(1.0, "row"),
        nn.Sequential(nn.Flatten(), nn.Linear(8 * 7 * 5, 6)), nn.LayerNorm(6), Scale((6,), 2.0),
        stochastic_depth(0.5, "row"),
    ])
    assert [analysis[n].params for n in ("layernorm1", "layernorm2", "layerscale1", "layernorm3")] == [16, 0, 8, 12]


# --- graphs: concat and residual add --------------------------------------------------------------
GRAPH_SPEC = """\
name: g
input: [8, 16, 16]
blocks:
  inc:
    args: [a, b]
    parallel:
      - conv(a, 1)-relu
      - conv(b, 1)-relu-conv(b, 3)-relu
      - maxpool(3, stride=1, padding=1)-conv(a, 1)
  down:
    args: {w: null, stride: 1}
    residual: conv(w, 3, stride=stride, bias=false)-bn-relu-conv(w, 3, bias=false)-bn
    after: relu
  plain:
    args: [w]
    residual: conv(w, 3)-relu-conv(w, 3)
  sc:
    args: [w]
    residual: conv(w, 3, stride=2)-relu
    shortcut: conv(w, 1, stride=2)
  wide:
    args: [w]
    residual: conv(w, 1)
  se:
    args: [w]
    residual: globalavgpool-conv(w // 4, 1)-relu-conv(w, 1)-sigmoid
    shortcut: identity
    merge: mul
network: inc(4, 6) - down(16, stride=2) - down(16) - plain(16) - sc(32) - wide(48) - se(48) - globalavgpool - fc(10)
"""


def test_concat_and_residual_add_with_automatic_projection(tmp_path: Path):
    spec = tmp_path / "g.yaml"
    spec.write_text(GRAPH_SPEC)
    analysis = analyze_file(str(spec))

    def down(cin, w, stride):
        return {
            "conv1": nn.Conv2d(cin, w, 3, stride=stride, padding=1, bias=False), "bn1": nn.BatchNorm2d(w),
            "relu1": nn.ReLU(), "conv2": nn.Conv2d(w, w, 3, padding=1, bias=False), "bn2": nn.BatchNorm2d(w),
            # the automatic shortcut: a 1×1 projection with batch norm (the body uses it) when the
            # shape changes, else nothing
            "shortcut": nn.Sequential(nn.Conv2d(cin, w, 1, stride=stride, bias=False), nn.BatchNorm2d(w))
            if (cin, stride) != (w, 1) else nn.Identity(),
            "add1": Add(), "relu2": nn.ReLU(),
        }

    layers = {
        "inc1.branch1.conv1": nn.Conv2d(8, 4, 1), "inc1.branch1.relu1": nn.ReLU(),
        "inc1.branch2.conv1": nn.Conv2d(8, 6, 1), "inc1.branch2.relu1": nn.ReLU(),
        "inc1.branch2.conv2": nn.Conv2d(6, 6, 3, padding=1), "inc1.branch2.relu2": nn.ReLU(),
        "inc1.branch3.pool1": nn.MaxPool2d(3, stride=1, padding=1), "inc1.branch3.conv1": nn.Conv2d(8, 4, 1),
        "inc1.concat1": Cat(),
        **{f"down1.{k}": v for k, v in down(14, 16, 2).items()},
        **{f"down2.{k}": v for k, v in down(16, 16, 1).items()},
        "plain1.conv1": nn.Conv2d(16, 16, 3, padding=1), "plain1.relu1": nn.ReLU(),
        "plain1.conv2": nn.Conv2d(16, 16, 3, padding=1), "plain1.shortcut": nn.Identity(), "plain1.add1": Add(),
        "sc1.conv1": nn.Conv2d(16, 32, 3, stride=2, padding=1), "sc1.relu1": nn.ReLU(),
        "sc1.shortcut1.conv1": nn.Conv2d(16, 32, 1, stride=2), "sc1.add1": Add(),
        # automatic projection without batch norm: a 1×1 conv with bias
        "wide1.conv1": nn.Conv2d(32, 48, 1), "wide1.shortcut": nn.Conv2d(32, 48, 1), "wide1.add1": Add(),
        # squeeze-and-excitation: a C×1×1 gate times the C×H×W map (merge: mul, broadcasting)
        "se1.adaptiveavgpool1": nn.AdaptiveAvgPool2d(1), "se1.conv1": nn.Conv2d(48, 12, 1), "se1.relu1": nn.ReLU(),
        "se1.conv2": nn.Conv2d(12, 48, 1), "se1.sigmoid1": nn.Sigmoid(), "se1.mul1": Mul(),
        "adaptiveavgpool1": nn.AdaptiveAvgPool2d(1),
        "fc1": nn.Sequential(nn.Flatten(), nn.Linear(48, 10)),
    }

    def run(m: Graph, x):
        b1 = m["inc1.branch1.relu1"](m["inc1.branch1.conv1"](x))
        b2 = m["inc1.branch2.relu1"](m["inc1.branch2.conv1"](x))
        b2 = m["inc1.branch2.relu2"](m["inc1.branch2.conv2"](b2))
        b3 = m["inc1.branch3.conv1"](m["inc1.branch3.pool1"](x))
        x = m["inc1.concat1"](b1, b2, b3)
        for block in ("down1", "down2"):
            y = m[f"{block}.bn1"](m[f"{block}.conv1"](x))
            y = m[f"{block}.bn2"](m[f"{block}.conv2"](m[f"{block}.relu1"](y)))
            x = m[f"{block}.relu2"](m[f"{block}.add1"](y, m[f"{block}.shortcut"](x)))
        y = m["plain1.conv2"](m["plain1.relu1"](m["plain1.conv1"](x)))
        x = m["plain1.add1"](y, m["plain1.shortcut"](x))
        y = m["sc1.relu1"](m["sc1.conv1"](x))
        x = m["sc1.add1"](y, m["sc1.shortcut1.conv1"](x))
        x = m["wide1.add1"](m["wide1.conv1"](x), m["wide1.shortcut"](x))
        gate = m["se1.relu1"](m["se1.conv1"](m["se1.adaptiveavgpool1"](x)))
        x = m["se1.mul1"](m["se1.sigmoid1"](m["se1.conv2"](gate)), x)
        return m["fc1"](m["adaptiveavgpool1"](x))

    compare_graph(analysis, Graph(layers), run)


def test_heads_branching_from_a_mark(tmp_path: Path):
    spec = tmp_path / "heads.yaml"
    spec.write_text(
        "name: two_heads\ninput: [3, 16, 16]\n"
        "network: conv(8, 3)-relu - maxpool - <features> - conv(8, 3)-relu\n"
        "heads:\n  scores: globalavgpool-fc(5)\n  boxes: {from: features, body: fc(4)}\n"
    )
    analysis = analyze_file(str(spec))
    layers = {
        "conv1": nn.Conv2d(3, 8, 3, padding=1), "relu1": nn.ReLU(), "pool1": nn.MaxPool2d(2),
        "conv2": nn.Conv2d(8, 8, 3, padding=1), "relu2": nn.ReLU(),
        "scores.adaptiveavgpool1": nn.AdaptiveAvgPool2d(1),
        "scores.fc1": nn.Sequential(nn.Flatten(), nn.Linear(8, 5)),
        "boxes.fc1": nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 8, 4)),
    }
    model = Graph(layers).eval()
    seen = {}
    hooks = [model[n].register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, (a, o))) for n in layers]
    with torch.no_grad():
        features = model["pool1"](model["relu1"](model["conv1"](torch.randn(1, 3, 16, 16))))
        trunk = model["relu2"](model["conv2"](features))
        scores = model["scores.fc1"](model["scores.adaptiveavgpool1"](trunk))
        boxes = model["boxes.fc1"](features)
    for h in hooks:
        h.remove()
    assert sorted(n.id for n, _ in analysis.rows() if n.kind != "input") == sorted(layers)
    for name in layers:
        check_layer(name, analysis[name], model[name], *seen[name])
    assert analysis.output_shapes() == {"scores": tuple(scores.shape[1:]), "boxes": tuple(boxes.shape[1:])}
    assert analysis.params == sum(p.numel() for p in model.parameters())


ROI_SPEC = """\
name: roi_heads
params: {R: 5}
input: {image: [3, 24, 20], rois: [R, 5]}
network: conv3-8-relu-maxpool-conv3-16-relu-maxpool - <map> - roipool(<rois>, 3, scale=1/4) - fc(12)-relu - <a>
  - from(<map>) - roialign(<rois>, (2, 3), scale=1/4, sampling=2, aligned=true) - flatten - concat(<a>) - fc(4)
"""


def test_roi_layers_count_per_roi_as_torch_does(tmp_path: Path):
    """A per-RoI head: each layer's shape is one RoI's, its FLOPs and activations R RoIs' (R = 5
    per image, one image), as torch's FlopCounterMode counts a batch of R rows; parameters as
    parameters(). The roi operators themselves are the generated file's (tests/test_roi.py checks
    them against torchvision's reference); torch counts no FLOPs for them, and neither does netc."""
    import netc

    spec = tmp_path / "roi.yaml"
    spec.write_text(ROI_SPEC)
    analysis = analyze_file(str(spec))
    built = netc.build(str(spec)).eval()
    namespace: dict = {}
    exec(compile(netc.compile_source(str(spec)), "roi.py", "exec"), namespace)  # noqa: S102 - its roi classes
    layers = {
        "conv1": nn.Conv2d(3, 8, 3, padding=1), "relu1": nn.ReLU(), "pool1": nn.MaxPool2d(2),
        "conv2": nn.Conv2d(8, 16, 3, padding=1), "relu2": nn.ReLU(), "pool2": nn.MaxPool2d(2),
        "roipool1": namespace["RoIPool"]((3, 3), 0.25), "fc1": nn.Sequential(nn.Flatten(), nn.Linear(16 * 9, 12)),
        "relu3": nn.ReLU(), "roialign1": namespace["RoIAlign"]((2, 3), 0.25, 2, True), "flatten1": nn.Flatten(),
        "concat1": Cat(), "fc2": nn.Linear(16 * 6 + 12, 4),
    }
    model = Graph(layers).eval()
    image = torch.randn(1, 3, 24, 20)
    rois = torch.tensor([[0, 0.0, 0, 19, 23], [0, 2, 3, 10, 9], [0, 5, 5, 6, 6], [0, 8, 1, 19, 12], [0, 1, 12, 7, 23]])
    seen: dict = {}
    for name in layers:
        model[name].register_forward_hook(lambda m, a, o, n=name: seen.__setitem__(n, (a, o)))
    with torch.no_grad():
        features = model["pool2"](model["relu2"](model["conv2"](model["pool1"](model["relu1"](model["conv1"](image))))))
        a = model["relu3"](model["fc1"](model["roipool1"](features, rois)))
        out = model["fc2"](model["concat1"](model["flatten1"](model["roialign1"](features, rois)), a))
        load_state(built, model)
        assert torch.equal(built(image, rois), out)  # the built module is this one
    assert analysis.params == sum(p.numel() for p in model.parameters())
    for name in layers:
        info, (inputs, output) = analysis[name], seen[name]
        per = 5 if info.rows else 1
        assert (info.rows == "rois") == (name in ROI_HEAD), name
        assert tuple(output.shape) == (per, *info.shape), name
        assert info.activations == output.numel(), name
        assert info.flops == flops_of(model[name], *inputs), name
        assert info.params == sum(p.numel() for p in model[name].parameters()), name
    assert analysis.flops == flops_of(built, image, rois)


PYRAMID_SPEC = """\
name: pyramid
params: {R: 4}
input: {image: [3, 64, 48], rois: [R, 5]}
network: conv(8, 3, stride=4) - <p2> - conv(8, 3, stride=2) - <p3> - conv(8, 3, stride=2) - <p4>
  - from(<rois>) - multiscaleroialign(<p2>, <p3>, <p4>, 3, sampling=2) - fc(5)
"""


def test_multiscale_roi_align_counts_per_roi_as_torch_does(tmp_path: Path):
    """Each layer's output shape (through forward hooks on the built module, R = 4 boxes of one
    image), the FLOPs (FlopCounterMode) and parameters; tests/test_roi.py compares the pooler's
    values with torchvision's MultiScaleRoIAlign."""
    import netc

    spec = tmp_path / "pyramid.yaml"
    spec.write_text(PYRAMID_SPEC)
    analysis = analyze_file(str(spec))
    generated = netc.backends.codegen.generate(analysis)
    module = netc.build(str(spec)).eval()
    seen: dict = {}
    named = dict(module.named_modules())
    for node, path in generated.paths.items():
        named[path].register_forward_hook(lambda m, a, o, node=node: seen.__setitem__(node, tuple(o.shape)))
    image = torch.randn(1, 3, 64, 48)
    rois = torch.tensor([[0, 0.0, 0, 47, 63], [0, 2, 3, 10, 9], [0, 5, 5, 30, 40], [0, 8, 1, 20, 12]])
    with torch.no_grad():
        out = module(image, rois)
    assert out.shape == (4, 5)
    for node, shape in seen.items():
        info = analysis[node]
        assert shape == ((4,) if info.rows else (1,)) + info.shape, node
    assert analysis["multiscaleroialign1"].rows == "rois" and analysis["fc1"].flops == 4 * 2 * 8 * 9 * 5
    assert analysis.flops == flops_of(module, image, rois)
    assert analysis.params == sum(p.numel() for p in module.parameters())


ANCHOR_SPEC = """\
name: anchored
input: {image: [3, 40, 36]}
network: conv(8, 3, stride=4) - <p2> - conv(8, 3, stride=2) - <p3> - from(<image>) - anchors(<p2>, <p3>, sizes=(16, 32))
"""


def test_anchors_count_as_torch_does(tmp_path: Path):
    """The anchors' output shape (one image's [A, 4], each image of the batch), the FLOPs torch's
    FlopCounterMode counts (the convs' only) and no parameters; tests/test_anchors.py compares the
    anchors' values with torchvision's AnchorGenerator."""
    import netc

    spec = tmp_path / "anchored.yaml"
    spec.write_text(ANCHOR_SPEC)
    analysis = analyze_file(str(spec))
    module = netc.build(str(spec)).eval()
    image = torch.randn(2, 3, 40, 36)
    with torch.no_grad():
        out = module(image)
    assert out.shape == (2, *analysis["anchors1"].shape) == (2, (10 * 9 + 5 * 5) * 3, 4)
    assert analysis["anchors1"].params == 0 and analysis["anchors1"].flops == 0
    assert 2 * analysis.flops == flops_of(module, image)  # netc's figures are per image
    assert analysis.params == sum(p.numel() for p in module.parameters())


ROI_HEAD = {"roipool1", "fc1", "relu3", "roialign1", "flatten1", "concat1", "fc2"}


def load_state(module: nn.Module, reference: nn.Module) -> None:
    """Copy `reference`'s tensors into `module` in registration order (the same layers, in order)."""
    ours, theirs = module.state_dict(), reference.state_dict()
    assert [v.shape for v in ours.values()] == [v.shape for v in theirs.values()]
    for tensor, value in zip(ours.values(), theirs.values()):
        tensor.copy_(value)


def test_every_layer_kind_is_compared_with_torch(tmp_path: Path):
    from netc.layers import KINDS

    covered = set()
    for dsl, shape in ((CONVOLUTIONS, (3, 20, 20)), (POOLING, (3, 42, 42)), (DENSE_AFTER_MAP, (3, 9, 9)),
                       (GLOBAL_POOL, (3, 13, 11)), (NON_SQUARE, (3, 17, 30)), (CEIL_AND_RESHAPE, (3, 12, 12)),
                       (VECTOR, (20,)), (MODERN_ACTIVATIONS, (3, 10, 10)), (UPSAMPLING, (3, 5, 7)),
                       (TRANSPOSED, (3, 5, 6)), (MOBILE_ACTIVATIONS, (3, 10, 10)), (GROUP_NORMS, (3, 9, 7)),
                       (PADS_AND_MAX_POOLS, (3, 13, 11)), (CHANNEL_OPS, (3, 8, 8)), (CONVNEXT_PARTS, (3, 7, 5)), (CROPS, (3, 9, 8)),
                       (PIXEL_SHUFFLES, (3, 4, 6)), (FROZEN_NORMS, (3, 7, 5))):
        covered |= {node.kind for node in analyze_expression(dsl, shape).network.nodes()}
    spec = tmp_path / "g.yaml"
    spec.write_text(GRAPH_SPEC)
    covered |= {node.kind for node in analyze_file(str(spec)).network.nodes()}
    for text in (ROI_SPEC, PYRAMID_SPEC, ANCHOR_SPEC):
        spec.write_text(text)
        covered |= {node.kind for node in analyze_file(str(spec)).network.nodes()}
    assert set(KINDS) <= covered, f"add a torch comparison for {sorted(set(KINDS) - covered)}"


# --- zoo specs against torch: whole-network totals ------------------------------------------------
def vgg16_torch() -> nn.Module:
    layers: list[nn.Module] = []
    cin = 3
    for widths in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)):
        for w in widths:
            layers += [nn.Conv2d(cin, w, 3, padding=1), nn.ReLU()]
            cin = w
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(512 * 7 * 7, 4096), nn.ReLU(), nn.Dropout(),
               nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 1000), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def test_vgg16_totals_match_torch():
    root = Path(__file__).resolve().parent.parent
    analysis = analyze_file(str(root / "specs" / "vgg16.yaml"))
    model = vgg16_torch().eval()
    assert analysis.params == sum(p.numel() for p in model.parameters()) == 138_357_544
    with torch.device("meta"):
        meta = vgg16_torch()
    x = torch.empty(1, 3, 224, 224, device="meta")
    assert analysis.flops == flops_of(meta, x)
    assert analysis.output_shapes() == {"output": (1000,)}


# --- receptive field, brute force -----------------------------------------------------------------
def brute_force_receptive_field(model: nn.Module, channels: int, size: int | tuple[int, int]
                                ) -> tuple[tuple[int, int], tuple[int, int]]:
    """((extent along H, along W), (jump along H, along W)) of the input pixels that reach the
    centre output pixel, found by backpropagation: the rows and the columns of the input its
    gradient reaches, and how far they move for the next output row (column); all weights positive
    so that no contribution cancels."""
    height, width = size if isinstance(size, tuple) else (size, size)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)

    def extent(row: int, col: int, axis: int) -> tuple[int, int]:
        x = torch.zeros(1, channels, height, width, requires_grad=True)
        y = model(x + 1.0)
        y[0, 0, row, col].backward()
        hit = torch.nonzero(x.grad[0].abs().sum(dim=(0, 2 - axis)) > 0).flatten()  # rows (axis 0) or columns
        return int(hit.min()), int(hit.max())

    with torch.no_grad():
        h, w = model(torch.zeros(1, channels, height, width)).shape[2:]
    extents, jumps = [], []
    for axis, limit in enumerate((height, width)):
        first, last = extent(h // 2, w // 2, axis)
        next_first, _ = extent(h // 2 + (axis == 0), w // 2 + (axis == 1), axis)
        assert first > 0 and last < limit - 1, "the receptive field reaches the border: make the input larger"
        extents.append(last - first + 1)
        jumps.append(next_first - first)
    return (extents[0], extents[1]), (jumps[0], jumps[1])


def test_upsampling_nearest_and_bilinear():
    analysis = analyze_expression(UPSAMPLING, (3, 5, 7))
    compare_sequential(analysis, [
        nn.Conv2d(3, 4, 3, padding=1), nn.Upsample(scale_factor=2),                 # 5×7 → 10×14
        nn.Conv2d(4, 4, 3, padding=1), nn.Upsample(scale_factor=3, mode="bilinear"),  # → 30×42
        nn.Conv2d(4, 2, 1),
    ])


def test_transposed_convolutions():
    analysis = analyze_expression(TRANSPOSED, (3, 5, 6))
    compare_sequential(analysis, [
        nn.Conv2d(3, 6, 3, padding=1), nn.ConvTranspose2d(6, 4, 2, stride=2),       # 5×6 → 10×12
        nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1),        # → 20×24
        nn.ConvTranspose2d(4, 6, 3, padding=1, groups=2, bias=False),              # keeps 20×24
        nn.ConvTranspose2d(6, 2, 4, stride=3, dilation=2),                         # → 64×76
    ])


@pytest.mark.parametrize("layer,scale", [("deconv(1, 2, stride=2)", 2), ("deconv(1, 3, stride=2, padding=1)", 2),
                                         ("deconv(1, 4, stride=3)", 3)])
def test_receptive_field_after_a_transposed_conv_has_a_fractional_step(layer, scale):
    """A stride-S transposed conv puts outputs 1/S of an input pixel apart, and an output reads
    inputs over (F − 1)/S pixels; torch's gradients of S + 1 neighbouring outputs show both."""
    import math
    from fractions import Fraction

    from netc.backends.codegen import build_module

    analysis = analyze_expression(f"conv(1, 3)-{layer}-conv(1, 3)", (1, 24, 24))
    model = build_module(analysis)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)
    size = analysis[analysis.network.order[-1]].shape[1]

    def rows(row: int) -> tuple[int, int]:
        x = torch.zeros(1, 1, 24, 24, requires_grad=True)
        model(x + 1.0)[0, 0, row, size // 2].backward()
        hit = torch.nonzero(x.grad[0, 0].abs().sum(dim=1) > 0).flatten()
        return int(hit.min()), int(hit.max())

    windows = [rows(size // 2 + k) for k in range(scale + 1)]
    last = analysis[analysis.network.order[-1]]
    assert last.jump == (Fraction(1, scale),) * 2 and last.jump[0] == Fraction(windows[-1][0] - windows[0][0], scale)
    # The field is a span of input pixels (the arithmetic of Araujo et al., "Computing receptive
    # fields", Distill 2019): an output reads that many pixels, rounded down or up by its phase.
    field = last.receptive_field[0]
    assert last.receptive_field[1] == field
    assert max(b - a + 1 for a, b in windows) in (math.floor(field), math.ceil(field))


@pytest.mark.parametrize("mode,scale", [("nearest", 2), ("bilinear", 2), ("nearest", 3), ("bilinear", 4)])
def test_receptive_field_after_upsampling_has_a_fractional_step(mode, scale):
    """After a ×s upsample neighbouring outputs are 1/s of an input pixel apart: over s outputs
    the window moves one pixel. torch: the input rows that reach each of s + 1 neighbouring outputs."""
    import math
    from fractions import Fraction

    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Upsample(scale_factor=scale, mode=mode),
                          nn.Conv2d(1, 1, 3, padding=1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)

    def rows(row: int) -> tuple[int, int]:
        x = torch.zeros(1, 1, 24, 24, requires_grad=True)
        model(x + 1.0)[0, 0, row, 24 * scale // 2].backward()
        hit = torch.nonzero(x.grad[0, 0].abs().sum(dim=1) > 0).flatten()
        return int(hit.min()), int(hit.max())

    centre = 24 * scale // 2
    windows = [rows(centre + k) for k in range(scale + 1)]
    extent = max(last - first + 1 for first, last in windows)
    step = Fraction(windows[-1][0] - windows[0][0], scale)
    analysis = analyze_expression(f"conv(1, 3)-upsample({scale}, mode={mode})-conv(1, 3)", (1, 24, 24))
    last = analysis[analysis.network.order[-1]]
    # The field is a span of input pixels, fractional after upsampling (3 + 2 · 1/3 = 11/3): the
    # most pixels one output reads is that span rounded (here, up).
    assert (math.ceil(last.receptive_field[0]), last.jump[0]) == (extent, step)
    assert last.jump == (Fraction(1, scale),) * 2 and last.receptive_field[0] == last.receptive_field[1]


RF_CASES = [
    # (netc DSL, torch layers); avg pooling stands in for max pooling in torch (the same window,
    # but the gradient of a max reaches only one pixel of it)
    ("conv(1, 3)-conv(1, 3)-conv(1, 3)", lambda: [nn.Conv2d(1, 1, 3, padding=1) for _ in range(3)]),
    ("conv(2, 5, stride=2)-maxpool-conv(2, 3, dilation=2, padding=same)-avgpool(3, stride=2, padding=1)-conv(1, 3)",
     lambda: [nn.Conv2d(1, 2, 5, stride=2, padding=2), nn.AvgPool2d(2), nn.Conv2d(2, 2, 3, dilation=2, padding=2),
              nn.AvgPool2d(3, stride=2, padding=1), nn.Conv2d(2, 1, 3, padding=1)]),
    ("conv(2, 7, stride=2, padding=3)-maxpool(3, stride=2, padding=1)-conv(2, 1)-conv(1, 3, stride=2)",
     lambda: [nn.Conv2d(1, 2, 7, stride=2, padding=3), nn.AvgPool2d(3, stride=2, padding=1), nn.Conv2d(2, 2, 1),
              nn.Conv2d(2, 1, 3, stride=2, padding=1)]),
    ("conv(2, 4, padding=valid)-l2pool(2)-conv(1, 2, stride=2, padding=valid)",
     lambda: [nn.Conv2d(1, 2, 4), nn.AvgPool2d(2), nn.Conv2d(2, 1, 2, stride=2)]),
    # padding is no window: darknet's zeropad before a 2×2 stride-1 pool, then an asymmetric pad and a stride
    ("zeropad(0, 1, 0, 1)-maxpool(2, stride=1)-conv(1, 3)-zeropad(2, 0, 1, 3)-conv(1, 3, stride=2, padding=0)",
     lambda: [nn.ZeroPad2d((0, 1, 0, 1)), nn.AvgPool2d(2, stride=1), nn.Conv2d(1, 1, 3, padding=1),
              nn.ZeroPad2d((2, 0, 1, 3)), nn.Conv2d(1, 1, 3, stride=2)]),
    # a crop is no window either: the field and the step stay, the offset only moves the grid
    ("conv(1, 5)-crop(80, offset=(3, 9))-conv(1, 3, stride=2)-crop(30)-conv(1, 3)",
     lambda: [nn.Conv2d(1, 1, 5, padding=2), Crop(3, 9, 80, 80), nn.Conv2d(1, 1, 3, stride=2, padding=1),
              Crop(5, 5, 30, 30), nn.Conv2d(1, 1, 3, padding=1)]),
]


@pytest.mark.parametrize("dsl,build", RF_CASES, ids=[c[0] for c in RF_CASES])
def test_receptive_field_matches_brute_force(dsl, build):
    analysis = analyze_expression(dsl, (1, 96, 96))
    last = analysis.network.order[-1]
    extent, jump = brute_force_receptive_field(nn.Sequential(*build()), 1, 96)
    assert (analysis[last].receptive_field, analysis[last].jump) == (extent, jump)
    assert extent[0] == extent[1] and jump[0] == jump[1]  # square windows: the axes agree


def test_receptive_field_through_parallel_branches_and_a_residual(tmp_path: Path):
    """A merge sees as far as its widest input: inception branches 1×1, 3×3, 5×5 → 5, then a
    residual 3×3-3×3 body beside an identity → 5 + 2 + 2 = 9, then a 3×3 → 11."""
    spec = tmp_path / "rf.yaml"
    spec.write_text(
        "input: [1, 48, 48]\nblocks:\n"
        "  inc:\n    parallel: ['conv(1, 1)', 'conv(1, 3)', 'conv(1, 5)']\n"
        "  res:\n    residual: conv(3, 3)-conv(3, 3)\n    shortcut: identity\n"
        "network: inc - res - conv(1, 3)\n"
    )
    analysis = analyze_file(str(spec))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = nn.ModuleList(nn.Conv2d(1, 1, k, padding=k // 2) for k in (1, 3, 5))
            self.r = nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.Conv2d(3, 3, 3, padding=1))
            self.out = nn.Conv2d(3, 1, 3, padding=1)

        def forward(self, x):
            x = torch.cat([b(x) for b in self.b], dim=1)
            return self.out(self.r(x) + x)

    extent, jump = brute_force_receptive_field(Net(), 1, 48)
    last = analysis.network.order[-1]
    assert (analysis[last].receptive_field, analysis[last].jump) == (extent, jump) == ((11, 11), (1, 1))


def test_receptive_field_of_a_projection_shortcut_is_its_own(tmp_path: Path):
    """The automatic projection reads the body's output for its shape only: its receptive field is
    that of a 1×1 conv on the block input, not the body's."""
    spec = tmp_path / "proj.yaml"
    spec.write_text(
        "input: [1, 64, 64]\nblocks:\n"
        "  down:\n    residual: conv(4, 3, stride=2)-conv(4, 3)\n"
        "network: conv(2, 3)-down\n"
    )
    analysis = analyze_file(str(spec))
    conv = nn.Conv2d(1, 2, 3, padding=1)
    projection = nn.Sequential(conv, nn.Conv2d(2, 4, 1, stride=2))
    extent, jump = brute_force_receptive_field(projection, 1, 64)
    assert (analysis["down1.shortcut"].receptive_field, analysis["down1.shortcut"].jump) == (extent, jump) == ((3, 3), (2, 2))
    body = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 4, 3, stride=2, padding=1),
                         nn.Conv2d(4, 4, 3, padding=1))
    extent, jump = brute_force_receptive_field(body, 1, 64)
    assert (analysis["down1.add1"].receptive_field, analysis["down1.add1"].jump) == (extent, jump) == ((9, 9), (2, 2))


# --- the "doesn't fit" warning: torch says which input rows a layer never reads ---------------------
@pytest.mark.parametrize("size,kernel,stride,pad", [
    (7, 3, 3, 0),     # notes 001: "cannot apply 3x3 filter on 7x7 input with stride 3"
    (7, 3, 2, 0),     # fits: 3x3 output
    (10, 3, 2, 0),    # the last row is never read
    (56, 3, 2, 1),    # ResNet's stride-2 3×3: only the padding row is left over
    (224, 7, 2, 3),   # ResNet's stem
    (9, 4, 2, 1),
    (11, 5, 3, 1),    # two rows left over, one of them real
])
def test_doesnt_fit_warning_when_stride_does_not_divide_and_torch_agrees_on_unread_rows(size, kernel, stride, pad):
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=pad, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.ones(1, 1, size, size, requires_grad=True)
    conv(x).sum().backward()
    unread_rows = int((x.grad[0, 0].abs().sum(dim=1) == 0).sum())
    analysis = analyze_expression(f"conv(1, {kernel}, stride={stride}, padding={pad})", (1, size, size))
    assert analysis[analysis.network.order[-1]].shape[1] == conv(x).shape[2]
    if unread_rows:
        (warning,) = analysis.warnings
        assert "doesn't fit" in warning.message
        assert f"the last {unread_rows} row(s)/column(s) are dropped" in warning.message
    elif (size - kernel + 2 * pad) % stride:  # only padding goes unread: a remark for --pedantic, no warning
        assert not analysis.warnings
        (remark,) = analysis.remarks
        assert "doesn't fit" in remark.message and "(no input is lost)" in remark.message
    else:
        assert not analysis.warnings and not analysis.remarks


PER_AXIS = ("conv(8, (1, 7), padding=(0, 3)) - conv(8, (7, 1)) - conv(6, (3, 5), stride=(1, 2), padding=(1, 2))"
            " - conv(4, (1, 3), stride=(2, 1), padding=valid, dilation=(1, 2)) - conv(4, (2, 4), stride=(1, 2))")


def test_windows_given_per_axis():
    analysis = analyze_expression(PER_AXIS, (3, 17, 20))
    assert analysis["conv1"].label == "conv1×7-8" and analysis["conv3"].label == "conv3×5-6 /1×2"
    compare_sequential(analysis, [
        nn.Conv2d(3, 8, (1, 7), padding=(0, 3)),                    # Inception v3's 1×7, size kept
        nn.Conv2d(8, 8, (7, 1), padding=(3, 0)),                    # same padding per axis: 3 rows, 0 columns
        nn.Conv2d(8, 6, (3, 5), stride=(1, 2), padding=(1, 2)),     # 17×20 → 17×10
        nn.Conv2d(6, 4, (1, 3), stride=(2, 1), dilation=(1, 2)),    # 17×10 → 9×6
        nn.Sequential(nn.ZeroPad2d((1, 2, 0, 1)), nn.Conv2d(4, 4, (2, 4), stride=(1, 2))),  # same, uneven: 9×3
    ], built_otherwise={"conv5"})


LAYER_NORM_STEPS = """\
import sys
import torch
from netc import build
torch.manual_seed(0)
channels, stride = int(sys.argv[2]), int(sys.argv[3])
model = build(sys.argv[1])
norm = model.layernorm1
out = norm(torch.randn(2, channels, 12, 12))
assert out.stride() == torch.empty(out.shape).stride(), out.stride()  # plain NCHW strides
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
for _ in range(30):
    model(torch.randn(8, channels, 12, 12)).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
print("trained")
"""


@pytest.mark.parametrize("channels,stride", [(1, 2), (2, 2), (3, 3), (4, 2)])
def test_layer_norm_before_a_strided_pointwise_conv_trains_in_its_own_process(tmp_path, channels, stride):
    """Issue 24: LayerNorm2d's permuted (channels-last-strided) output read by a 1×1 conv of stride
    > 1 crashed the interpreter in oneDNN's weight gradient (SIGSEGV/SIGABRT on this AMD AVX2
    machine, torch 2.13). The generated LayerNorm2d returns plain NCHW (a clone: with one channel
    .contiguous() keeps the view). A subprocess, so that a crash fails this test, not the suite."""
    import subprocess
    import sys

    spec = tmp_path / "net.yaml"
    spec.write_text(f"input: [{channels}, 12, 12]\n"
                    f"network: conv({channels}, 3)-layernorm-conv({channels}, 1, stride={stride})-relu-"
                    "globalavgpool-fc(10)\n")
    script = tmp_path / "steps.py"
    script.write_text(LAYER_NORM_STEPS)
    root = Path(__file__).resolve().parents[1]
    env = {"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, str(script), str(spec), str(channels), str(stride)], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0 and "trained" in done.stdout, (done.returncode, done.stderr[-2000:])
