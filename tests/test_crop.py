"""Crop to a point's size (netc/layers/padding.py): FCN-32s against a hand-written torch FCN-32s,
and the crop's misuses as errors.

specs/fcn32s.yaml is Long, Shelhamer & Darrell's FCN-32s as the Caffe model fcn32s-heavy-pascal
writes it (voc-fcn32s/net.py): VGG-16's convs with conv1_1 padded by 100, fc6 and fc7 as convs,
score_fr, a 64×64 stride-32 deconvolution without bias, and a crop to the input's size at offset
19. The hand-written twin below follows net.py layer by layer; netc's parameters, per-layer
shapes, FLOPs (FlopCounterMode), the output's size for several inputs and, given the twin's
weights, the generated module's eval-mode output must be the twin's. The parameter count is also
worked out by hand from the layout, and the offset 19 from Caffe's coordinate mapping.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from test_against_torch import Graph, compare_graph, flops_of
from torch import nn

from netc import NetcError
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import generate, load_generated

ROOT = Path(__file__).resolve().parents[1]
SPEC = str(ROOT / "specs" / "fcn32s.yaml")

VGG16 = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))  # conv1_1 … conv5_3


class CaffeCrop(nn.Module):
    """Caffe's Crop layer on the spatial axes: `x` cut to the size of `like` from (offset, offset)."""

    def __init__(self, offset: int):
        super().__init__()
        self.offset = offset

    def forward(self, x, like):
        o, h, w = self.offset, like.shape[2], like.shape[3]
        return x[:, :, o:o + h, o:o + w]


def fcn32s_reference(classes: int = 21) -> tuple[Graph, object]:
    """voc-fcn32s/net.py written out in torch (Caffe's pools round up: ceil_mode), keyed by netc's
    layer names: conv1 … conv13 are VGG's, conv14 fc6, conv15 fc7, conv16 score_fr, deconv1 upscore."""
    layers: dict[str, nn.Module] = {}
    cin, n, relu = 3, 0, 0
    for stage, widths in enumerate(VGG16):
        for width in widths:
            n += 1
            relu += 1
            layers[f"conv{n}"] = nn.Conv2d(cin, width, 3, padding=100 if n == 1 else 1)
            layers[f"relu{relu}"] = nn.ReLU()
            cin = width
        layers[f"pool{stage + 1}"] = nn.MaxPool2d(2, stride=2, ceil_mode=True)
    layers["conv14"], layers["relu14"], layers["dropout1"] = nn.Conv2d(512, 4096, 7), nn.ReLU(), nn.Dropout(0.5)
    layers["conv15"], layers["relu15"], layers["dropout2"] = nn.Conv2d(4096, 4096, 1), nn.ReLU(), nn.Dropout(0.5)
    layers["conv16"] = nn.Conv2d(4096, classes, 1)
    layers["deconv1"] = nn.ConvTranspose2d(classes, classes, 64, stride=32, bias=False)
    layers["crop1"] = CaffeCrop(19)
    model = Graph(layers)

    def forward(m, data):
        x, n, relu = data, 0, 0
        for stage, widths in enumerate(VGG16):
            for _ in widths:
                n += 1
                relu += 1
                x = m[f"relu{relu}"](m[f"conv{n}"](x))
            x = m[f"pool{stage + 1}"](x)
        x = m["dropout1"](m["relu14"](m["conv14"](x)))   # fc6
        x = m["dropout2"](m["relu15"](m["conv15"](x)))   # fc7
        x = m["deconv1"](m["conv16"](x))                  # score_fr, upscore
        return m["crop1"](x, data)                        # score = crop(upscore, data)

    return model, forward


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return fcn32s_reference()


def fcn32s_params_by_hand(classes: int = 21) -> int:
    convs, cin = 0, 3
    for widths in VGG16:
        for width in widths:
            convs += cin * width * 9 + width
            cin = width
    assert convs == 14_714_688  # VGG-16's conv layers (torchvision's vgg16().features)
    fc6 = 512 * 7 * 7 * 4096 + 4096
    fc7 = 4096 * 4096 + 4096
    score_fr = 4096 * classes + classes
    upscore = classes * classes * 64 * 64  # bias_term: false
    return convs + fc6 + fc7 + score_fr + upscore


def test_the_parameter_count_worked_out_by_hand():
    analysis = analyze_file(SPEC)
    assert analysis.params == fcn32s_params_by_hand() == 136_152_917
    # Caffe keeps upscore at bilinear interpolation (lr_mult 0): the rest are the paper's "134M" (Table 1).
    upscore = analysis["deconv1"].params
    assert upscore == 21 * 21 * 64 * 64 and round((analysis.params - upscore) / 1e6) == 134
    assert analyze_file(SPEC, {"classes": 60}).params == fcn32s_params_by_hand(60)


@pytest.mark.parametrize("size", [64, 100])
def test_fcn32s_equals_a_hand_written_fcn32s_layer_by_layer(reference, size):
    model, forward = reference
    analysis = analyze_file(SPEC, input_shape=(3, size, size))
    assert analysis.params == sum(p.numel() for p in model.parameters())
    compare_graph(analysis, model, forward)  # shapes, weights, biases, FLOPs of every layer, and the totals
    assert analysis.output_shapes() == {"output": (21, size, size)}


@pytest.mark.parametrize("shape", [(3, 1, 1), (3, 64, 64), (3, 100, 100), (3, 224, 224), (3, 500, 500),
                                   (3, 375, 500), (3, 33, 97)])
def test_the_output_is_the_input_size_and_torch_agrees(shape):
    analysis = analyze_file(SPEC, input_shape=shape)
    assert analysis.output_shapes() == {"output": (21,) + shape[1:]}
    with torch.device("meta"):
        model, forward = fcn32s_reference()
    x = torch.empty(1, *shape, device="meta")
    assert tuple(forward(model, x).shape[1:]) == (21,) + shape[1:]
    assert analysis.flops == flops_of(lambda t: forward(model, t), x)
    # The crop changes neither the receptive field nor the step: each output is an upscore pixel.
    crop, upscore = analysis["crop1"], analysis["deconv1"]
    assert (crop.receptive_field, crop.jump) == (upscore.receptive_field, upscore.jump)


def test_the_generated_fcn32s_computes_the_hand_written_output(reference):
    model, forward = reference
    analysis = analyze_file(SPEC, input_shape=(3, 64, 64))
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)()
    named = dict(module.named_modules())
    for node, path in generated.paths.items():  # every layer's weights from the hand-written twin
        named[path].load_state_dict(model[node].state_dict())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        got, want = module.eval()(x), forward(model.eval(), x)
    assert got.shape == want.shape == (2, 21, 64, 64)
    assert (got - want).abs().max() <= 1e-5
    assert "out.narrow(2, 19, x.size(2)).narrow(3, 19, x.size(3))" in generated.source  # a view, the size read at run time


def test_offset_19_is_where_the_input_lands_in_the_upsampled_map():
    """Caffe's coord_map: through a window (kernel k, stride s, padding p) an output coordinate y
    is the input coordinate s·y + (k − 1)/2 − p; through a deconvolution the inverse. Composed from
    upscore back to the data, u ↦ u − 19: the crop at offset 19 puts every score over its pixel."""
    windows = []
    for stage, widths in enumerate(VGG16):
        windows += [(3, 1, 100 if stage == 0 and i == 0 else 1) for i in range(len(widths))] + [(2, 2, 0)]
    windows += [(7, 1, 0), (1, 1, 0), (1, 1, 0)]  # fc6, fc7, score_fr
    scale, shift = Fraction(1, 32), -Fraction(63, 2) / 32  # upscore (64, 32, 0): score = (u − 31.5)/32
    for k, s, p in reversed(windows):  # data = s·(…) + (k − 1)/2 − p, outermost last
        scale, shift = s * scale, s * shift + Fraction(k - 1, 2) - p
    assert (scale, shift) == (1, -19)


@pytest.mark.parametrize("network,message,hint", [
    ("<data>-maxpool-crop(<data>)", "crop to 8×8 is larger than the 4×4 map", "a crop only makes a map smaller"),
    ("<data>-conv(4, 3, padding=2)-crop(<data>, offset=3)",
     "crop to 8×8 at offset 3 runs past the bottom edge of the 10×10 map", "at most 2 from the top and 2 from the left"),
    ("conv(4, 3)-crop(6, offset=(0, 3))", "crop to 6×6 at offset 0,3 runs past the right edge of the 8×8 map", None),
    ("crop(9, 4)", "crop to 9×4 is taller than the 8×8 map", None),
    ("crop(4, 9)", "crop to 4×9 is wider than the 8×8 map", None),
    ("conv(4, 3)-crop", "crop needs a size", "crop(<point>)"),
    ("<data>-conv(4, 3)-crop(<data>, 4)", "takes no height or width beside it", None),
    ("<data>-fc(4)-crop(<data>)", "crop needs a C×H×W feature map", None),
    ("<v>-fc(8)-reshape(2, 2, 2)-<w>-conv(2, 1)-crop(<v>, <w>)", "crop takes", None),
])
def test_misused_crops_are_errors_at_the_crop(tmp_path, network, message, hint):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: bad\ninput: [3, 8, 8]\nnetwork: {network}\n")
    with pytest.raises(NetcError) as caught:
        analyze_file(str(spec))
    (diagnostic,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert message in diagnostic.message
    if hint is not None:
        assert hint in (diagnostic.hint or "")
    assert diagnostic.span.line == 3 and network[diagnostic.span.col - len("network: ") - 1:].startswith("crop")


def test_a_crop_inside_a_block_is_generated_per_shape_and_computes_the_slice(tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text("""\
name: blocks
input: [3, 8, 8]
blocks:
  trim: {args: [c], body: "conv(c, 3, padding=2)-crop(8)"}
  keep: {args: [c], body: "<inp>-conv(c, 3, padding=3)-relu-crop(<inp>, offset=1)"}
network: trim(4)-trim(4)-keep(5)-keep(5)
""")
    analysis = analyze_file(str(spec))
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)().eval()
    x = torch.randn(2, 3, 8, 8)
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        y = x
        for conv, relu in zip(convs, (False, False, True, True)):  # trim: 10×10 at the centre; keep: 14×14 at 1
            y = conv(y)
            y = (torch.relu(y) if relu else y)[:, :, 1:9, 1:9]
        assert torch.equal(module(x), y)
    assert analysis.output_shapes() == {"output": (5, 8, 8)}
