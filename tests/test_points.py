"""Named points read later (netc/graph/points.py): skips to any earlier point, against torch and as errors.

A U-Net (specs/unet.yaml) is compared layer by layer with a hand-written torch U-Net (shapes,
params, FLOPs by FlopCounterMode), and the module netc generates, given the hand-written model's
weights, computes the same output. An FPN-style lateral add and a gate read points too. Then the
scoping rules: each use of a block has its own point, an outside reader names the use, an index
pairs the levels of two repetitions; and every misuse is an error at the read with a hint.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from test_against_torch import Graph, Mul, compare_graph
from torch import nn

from netc import NetcError
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import build_module, generate, load_generated

ROOT = Path(__file__).resolve().parents[1]


class CropCat(nn.Module):
    """Ronneberger's skip: the encoder map cropped at its centre to the decoder's, concatenated."""

    def forward(self, x, skip):
        top, left = (skip.shape[2] - x.shape[2]) // 2, (skip.shape[3] - x.shape[3]) // 2
        return torch.cat([x, skip[:, :, top:top + x.shape[2], left:left + x.shape[3]]], dim=1)


def unet_reference(base: int = 64, classes: int = 2, channels: int = 1, pad: int = 0) -> tuple[Graph, object]:
    """Ronneberger's U-Net, written by hand (unpadded convs and cropped skips, or padding 1), keyed
    by netc's layer names."""
    layers: dict[str, nn.Module] = {}

    def double(prefix: str, cin: int, c: int) -> None:
        layers[f"{prefix}.conv1"] = nn.Conv2d(cin, c, 3, padding=pad)
        layers[f"{prefix}.relu1"] = nn.ReLU()
        layers[f"{prefix}.conv2"] = nn.Conv2d(c, c, 3, padding=pad)
        layers[f"{prefix}.relu2"] = nn.ReLU()

    cin = channels
    for i in range(4):
        double(f"stage{i + 1}.double1", cin, base * 2**i)
        layers[f"stage{i + 1}.pool1"] = nn.MaxPool2d(2)
        cin = base * 2**i
    double("double1", cin, base * 16)
    cin = base * 16
    for j in range(4):
        c = base * 8 // 2**j
        layers[f"stage{j + 5}.deconv1"] = nn.ConvTranspose2d(cin, c, 2, stride=2)
        layers[f"stage{j + 5}.concat1"] = CropCat()
        double(f"stage{j + 5}.double1", 2 * c, c)
        cin = c
    layers["conv1"] = nn.Conv2d(cin, classes, 1)
    model = Graph(layers)

    def run(block: str, x):
        for name in ("conv1", "relu1", "conv2", "relu2"):
            x = model[f"{block}.{name}"](x)
        return x

    def forward(m, x):
        skips = []
        for i in range(4):
            x = run(f"stage{i + 1}.double1", x)
            skips.append(x)
            x = m[f"stage{i + 1}.pool1"](x)
        x = run("double1", x)
        for j in range(4):
            x = m[f"stage{j + 5}.deconv1"](x)
            x = m[f"stage{j + 5}.concat1"](x, skips[3 - j])
            x = run(f"stage{j + 5}.double1", x)
        return m["conv1"](x)

    return model, forward


class Sum(nn.Module):
    def forward(self, *xs):
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total


def test_unet_equals_a_hand_written_unet_layer_by_layer():
    analysis = analyze_file(str(ROOT / "specs" / "unet.yaml"))
    model, forward = unet_reference()
    assert analysis.params == sum(p.numel() for p in model.parameters()) == 31_030_658
    compare_graph(analysis, model, forward)
    paper = analyze_file(str(ROOT / "specs" / "unet.yaml"), input_shape=(1, 572, 572))
    assert paper.output_shapes() == {"output": (2, 388, 388)}  # Fig. 1: 572×572 in, 388×388 out


@pytest.mark.parametrize("pad,size", [(0, 188), (1, 64)])
def test_the_generated_unet_computes_the_hand_written_output(pad, size):
    analysis = analyze_file(str(ROOT / "specs" / "unet.yaml"), {"base": 8, "pad": pad}, input_shape=(1, size, size))
    reference, forward = unet_reference(base=8, pad=pad)
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)()
    named = dict(module.named_modules())
    for node, path in generated.paths.items():  # every layer's weights from the hand-written twin
        named[path].load_state_dict(reference[node].state_dict())
    x = torch.randn(2, 1, size, size)
    with torch.no_grad():
        assert torch.allclose(module.eval()(x), forward(reference.eval(), x), atol=1e-5)
    # The skip is forward's named variable, cut at its centre to the upsampled map's size read at run
    # time (the same module runs at other input sizes: tests/test_input_sizes.py).
    assert "skip3.narrow(2, (skip3.size(2) - out.size(2)) // 2, out.size(2))" in generated.source


FPN = """\
name: fpn
input: [3, 32, 32]
blocks:
  gate:
    args: [c]
    residual: globalavgpool-conv(c, 1)-sigmoid
    shortcut: identity
    merge: mul
network: conv(8, 3)-<c3>-conv(16, 3, stride=2)-<c4>-conv(16, 3, stride=2)-upsample(2)-add(<c4>)-gate(16)-mul(<c4>)
  - upsample(2)-conv(8, 1)-add(<c3>, <c3>)
"""


def test_lateral_adds_and_gates_read_earlier_points_as_torch_does(tmp_path):
    spec = tmp_path / "fpn.yaml"
    spec.write_text(FPN)
    analysis = analyze_file(str(spec))
    layers = {
        "conv1": nn.Conv2d(3, 8, 3, padding=1), "conv2": nn.Conv2d(8, 16, 3, stride=2, padding=1),
        "conv3": nn.Conv2d(16, 16, 3, stride=2, padding=1), "upsample1": nn.Upsample(scale_factor=2),
        "add1": Sum(), "gate1.adaptiveavgpool1": nn.AdaptiveAvgPool2d(1),
        "gate1.conv1": nn.Conv2d(16, 16, 1), "gate1.sigmoid1": nn.Sigmoid(), "gate1.mul1": Mul(),
        "mul1": Mul(), "upsample2": nn.Upsample(scale_factor=2), "conv4": nn.Conv2d(16, 8, 1),
        "add2": Sum(),
    }
    model = Graph(layers)

    def forward(m, x):
        c3 = m["conv1"](x)
        c4 = m["conv2"](c3)
        y = m["add1"](m["upsample1"](m["conv3"](c4)), c4)
        y = m["gate1.mul1"](m["gate1.sigmoid1"](m["gate1.conv1"](m["gate1.adaptiveavgpool1"](y))), y)
        y = m["mul1"](y, c4)
        return m["add2"](m["conv4"](m["upsample2"](y)), c3, c3)

    compare_graph(analysis, model, forward)
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)()
    named = dict(module.named_modules())
    for node, path in generated.paths.items():
        named[path].load_state_dict(model[node].state_dict())
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(module.eval()(x), forward(model.eval(), x), atol=1e-6)


def _analyze(tmp_path, text: str):
    spec = tmp_path / "s.yaml"
    spec.write_text(text)
    return analyze_file(str(spec))


SCOPED = """\
name: scoped
input: [3, 16, 16]
blocks:
  down:
    args: [c]
    body: conv(c, 3)-<skip>-relu-conv(c, 3)-add(<skip>)
network: down(4)-down(8)-conv(8, 1)-add(<down2.skip>)
"""


def test_each_use_of_a_block_has_its_own_point_and_an_outside_reader_names_the_use(tmp_path):
    net = _analyze(tmp_path, SCOPED).network
    assert net.node("down1.add1").inputs == ("down1.conv2", "down1.conv1")
    assert net.node("down2.add1").inputs == ("down2.conv2", "down2.conv1")
    assert net.node("add1").inputs == ("conv1", "down2.conv1")


def test_an_index_pairs_the_levels_of_two_repetitions(tmp_path):
    net = _analyze(tmp_path, """\
name: levels
input: [3, 16, 16]
network: "[conv(4 * (i + 1), 3)-<f[i]>-maxpool]*3@i - [upsample(2)-conv(4 * (3 - j), 1)-add(<f[2 - j]>)]*3@j"
""").network
    reads = [node.inputs[1] for node in net.nodes() if node.kind == "add"]
    assert reads == ["stage3.conv1", "stage2.conv1", "stage1.conv1"]


@pytest.mark.parametrize("network,message,hint", [
    ("conv(4)-add(<later>)-<later>-relu", "'add' reads <later>, which no mark before it names", "is placed later"),
    ("conv(4)-<feat>-relu-add(<faet>)", "'add' reads <faet>, which no mark before it names", "did you mean 'feat'?"),
    ("conv(4)-<a>-relu-add(<b>)", "'add' reads <b>, which no mark before it names", "the points are <a>"),
    ("'[conv(4)-<f[i]>]*2@i - add(<f[5]>)'", "'add' reads <f[5]>", "<f> is placed with index 0, 1"),
    ("'[conv(4)-<f>]*2'", "mark <f> is placed twice", "index it, <f[i]>"),
    ("blk(4)-blk(4)-add(<skip>)", "<skip>, which is ambiguous: it is placed 2 times (blk1, blk2)", "<blk1.skip>"),
    ("conv(4)-<a>-conv(4, <a>)", "conv takes 1 input(s), got 2", None),
    ("conv(4)-<a>-blk(4, <a>)", "block 'blk' takes 1 argument(s) (c); got 2", "blk(…)-concat(<a>)"),
    ("conv(4)-<a>-maxpool-concat(<a>)", "concat needs the same spatial size", None),
])
def test_misread_points_are_errors_at_the_read_with_a_hint(tmp_path, network, message, hint):
    text = f"name: bad\ninput: [3, 8, 8]\nblocks:\n  blk: {{args: [c], body: 'conv(c, 3)-<skip>-relu'}}\nnetwork: {network}\n"
    with pytest.raises(NetcError) as caught:
        _analyze(tmp_path, text)
    (diagnostic,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert message in diagnostic.message
    if hint is not None:
        assert hint in (diagnostic.hint or "")
    assert diagnostic.span.line == 5


def yolov3_tiny_reference(classes: int = 80) -> nn.Module:
    """darknet's yolov3-tiny.cfg written by hand, layer by layer, in the spec's order."""

    def cbl(cin: int, c: int, k: int) -> nn.Sequential:
        return nn.Sequential(nn.Conv2d(cin, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.1))

    out = 3 * (classes + 5)

    class Tiny(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                cbl(3, 16, 3), nn.MaxPool2d(2), cbl(16, 32, 3), nn.MaxPool2d(2), cbl(32, 64, 3), nn.MaxPool2d(2),
                cbl(64, 128, 3), nn.MaxPool2d(2), cbl(128, 256, 3))  # layer 8: 26×26×256
            self.deeper = nn.Sequential(
                nn.MaxPool2d(2), cbl(256, 512, 3), nn.ZeroPad2d((0, 1, 0, 1)), nn.MaxPool2d(2, stride=1),
                cbl(512, 1024, 3), cbl(1024, 256, 1))  # layer 13
            self.large = nn.Sequential(cbl(256, 512, 3), nn.Conv2d(512, out, 1))
            self.lateral = nn.Sequential(cbl(256, 128, 1), nn.Upsample(scale_factor=2))
            self.small = nn.Sequential(cbl(384, 256, 3), nn.Conv2d(256, out, 1))

        def forward(self, x):
            route8 = self.features(x)
            route13 = self.deeper(route8)
            up = self.lateral(route13)
            return {"large": self.large(route13), "small": self.small(torch.cat([up, route8], dim=1))}

    return Tiny()


def test_yolov3_tiny_two_heads_and_a_route_equal_darknets_layout():
    from torchvision_models import load_by_structure

    analysis = analyze_file(str(ROOT / "specs" / "yolov3_tiny.yaml"))
    reference = yolov3_tiny_reference().eval()
    assert analysis.params == sum(p.numel() for p in reference.parameters())
    assert analysis.output_shapes() == {"large": (255, 13, 13), "small": (255, 26, 26)}
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)().eval()
    load_by_structure(module, reference)
    x = torch.randn(1, 3, 416, 416)
    with torch.no_grad():
        got, want = module(x), reference(x)
    assert set(got) == {"large", "small"}
    for head in got:
        assert (got[head] - want[head]).abs().max().item() <= 1e-5


def test_upsample_to_the_size_of_a_point_as_torch_interpolates(tmp_path):
    spec = tmp_path / "top_down.yaml"
    spec.write_text('name: top_down\ninput: [3, 48, 48]\nnetwork: "conv(16, 3)-<c3>-conv(16, 3, stride=2)-<c4>'
                    '-conv(16, 3, stride=3)-upsample(<c4>, mode=bilinear)-add(<c4>)-upsample(<c3>)-add(<c3>)"\n')
    analysis = analyze_file(str(spec))
    assert [analysis[n].shape for n in ("upsample1", "upsample2")] == [(16, 24, 24), (16, 48, 48)]
    assert analysis.network.node("upsample1").shape_only == (1,)  # the point gives its size, not its values
    assert analysis["upsample1"].label == "upsample to 24×24 bilinear"
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)().eval()
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        c3 = convs[0](x)
        c4 = convs[1](c3)
        y = nn.functional.interpolate(convs[2](c4), size=c4.shape[2:], mode="bilinear") + c4
        y = nn.functional.interpolate(y, size=c3.shape[2:]) + c3
        assert torch.allclose(module(x), y, atol=1e-6)


def test_upsample_to_a_smaller_point_is_an_error(tmp_path):
    with pytest.raises(NetcError) as caught:
        _analyze(tmp_path, "name: s\ninput: [3, 16, 16]\nnetwork: conv(4, 3)-maxpool-<a>-upsample-upsample(<a>)\n")
    assert "upsample of 16×16 to 8×8 would make the map smaller" in str(caught.value)


# --- a head's from: names an indexed mark as a layer reads it ------------------------------------------
HEADS_FROM = """\
name: heads_from
input: [3, 16, 16]
network:
  - (conv(4 * (i + 1), 3)-relu - <y[i]>)*3@i
  - globalavgpool - fc(10)
heads:
  main: fc(5)
  aux: {{from: "{origin}", body: "globalavgpool"}}
"""


@pytest.mark.parametrize("origin,channels", [("y[1]", 8), ("<y[1]>", 8), ("y[2]", 12), ("< y[0] >", 4)])
def test_a_head_starts_from_an_indexed_mark(tmp_path, origin, channels):
    analysis = _analyze(tmp_path, HEADS_FROM.format(origin=origin))
    assert analysis.output_shapes()["aux"] == (channels, 1, 1)  # the conv of repetition i has 4 (i + 1) filters
    model = build_module(analysis).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 16, 16))["aux"].shape) == (1, channels, 1, 1)


@pytest.mark.parametrize("origin,message,hint", [
    ("y", "head 'aux' starts from <y>, which no mark names", "<y> is placed with index 0, 1, 2: read one as <y[0]>"),
    ("z", "head 'aux' starts from <z>, which no mark names", "the points are <y[0]>, <y[1]>, <y[2]>"),
    ("y[7]", "head 'aux' starts from <y[7]>, which no mark names", "<y> is placed with index 0, 1, 2"),
    ("<y[1]", "head 'aux': from: '<y[1]' is not a point", "from: y, <y>, or y[2] / <y[2]>"),
    ("y[i]", "head 'aux': from: 'y[i]' is not a point", "from: y, <y>, or y[2] / <y[2]>"),
])
def test_a_head_from_that_names_no_point_says_which_there_are(tmp_path, origin, message, hint):
    with pytest.raises(NetcError) as caught:
        _analyze(tmp_path, HEADS_FROM.format(origin=origin))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.message == message and hint in diagnostic.hint
    assert diagnostic.span.line == 8 and diagnostic.span.col == 15


MARK_AFTER_BLOCKS = """\
input: [4, 17, 17]
defaults: {conv: {padding: same, bias: false}, pool: {kernel: 2, stride: 2, ceil: true}}
blocks: {blk1: {args: {c: null, s: 1}, residual: "conv(c, 3, stride=s)-bn-relu-conv(c, 3)-bn", shortcut: zeropad,
                after: relu}}
network: "deconv(3, 4, stride=1) - [blk1(3, 1)*3] - <p1> - logsoftmax - concat(<p1>) - <p2> - from(<p1>) - concat(<p2>)"
"""


def test_a_mark_after_repeated_blocks_names_the_last_use_in_forward_not_in_the_class(tmp_path):
    """Issue 24: the mark lands on the last use's exit; the three uses are still one class (the mark
    names that use's output in the network's forward), and torch runs it with netc's numbers."""
    path = tmp_path / "net.yaml"
    path.write_text(MARK_AFTER_BLOCKS)
    analysis = analyze_file(str(path))
    generated = generate(analysis)
    assert generated.source.count("class Blk1(") == 1
    assert re.search(r"^        p1 = self\.\w+\(x\)", generated.source, re.MULTILINE)  # the uses' output, in forward
    model = getattr(load_generated(generated), generated.class_name)()
    x = torch.randn(2, 4, 17, 17, requires_grad=True)
    y = model(x)
    y.sum().backward()
    assert [tuple(y.shape[1:])] == [tuple(s) for s in analysis.output_shapes().values()] == [(9, 20, 20)]
    assert sum(p.numel() for p in model.parameters()) == analysis.params
