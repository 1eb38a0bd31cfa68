"""YOLOv8 (specs/yolov8.yaml) against Ultralytics' published figures and a hand-written twin.

Ultralytics' yolov8.yaml states, per scale, "N parameters, M gradients": M counts what trains,
everything but the DFL's 16 fixed weights, which the spec leaves out as post-processing; so
netc's count must be M for each of n/s/m/l/x. Its docs table gives GFLOPs at 640×640 (8.7, 28.6,
78.9, 165.2, 257.8). The hand-written module below follows Ultralytics' modules (Conv, Bottleneck,
C2f, SPPF, Detect's convs) and its parse_model's scaling, written from the paper-free yaml, not
from netc: parameters, FLOPs (FlopCounterMode) and, given its weights, eval-mode outputs agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from test_against_torch import flops_of
from torch import nn
from torchvision_models import load_by_structure

from netc import NetcError, UsageError, build
from netc.analysis.pipeline import analyze_file

ROOT = Path(__file__).resolve().parents[1]
SPEC = str(ROOT / "specs" / "yolov8.yaml")

# scale: (depth, width, max_channels), parameters with gradients, GFLOPs at 640 (Ultralytics' figures)
PUBLISHED = {
    "n": ((0.33, 0.25, 1024), 3_157_184, 8.7),
    "s": ((0.33, 0.50, 1024), 11_166_544, 28.6),
    "m": ((0.67, 0.75, 768), 25_902_624, 78.9),
    "l": ((1.00, 1.00, 512), 43_691_504, 165.2),
    "x": ((1.00, 1.25, 512), 68_229_632, 257.8),
}


class Conv(nn.Sequential):
    def __init__(self, cin: int, c: int, k: int = 1, s: int = 1):
        super().__init__(nn.Conv2d(cin, c, k, s, k // 2, bias=False), nn.BatchNorm2d(c, eps=0.001, momentum=0.03),
                         nn.SiLU())


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.cv1, self.cv2, self.add = Conv(c, c, 3), Conv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, cin: int, c2: int, n: int, shortcut: bool):
        super().__init__()
        self.c = c2 // 2
        self.cv1 = Conv(cin, 2 * self.c)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))
        self.cv2 = Conv((2 + n) * self.c, c2)  # Ultralytics registers cv2 before m; the state is the same

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, cin: int, c2: int):
        super().__init__()
        self.cv1, self.cv2, self.m = Conv(cin, cin // 2), Conv(cin // 2 * 4, c2), nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class YOLOv8(nn.Module):
    """Ultralytics' yolov8.yaml rows, scaled as parse_model scales them; returns Detect's three maps."""

    def __init__(self, depth: float, width: float, max_channels: int, nc: int = 80):
        super().__init__()
        w = lambda c: math.ceil(min(c, max_channels) * width / 8) * 8
        d = lambda n: max(round(n * depth), 1)
        self.backbone = nn.ModuleList([
            Conv(3, w(64), 3, 2), Conv(w(64), w(128), 3, 2), C2f(w(128), w(128), d(3), True),
            Conv(w(128), w(256), 3, 2), C2f(w(256), w(256), d(6), True),
            Conv(w(256), w(512), 3, 2), C2f(w(512), w(512), d(6), True),
            Conv(w(512), w(1024), 3, 2), C2f(w(1024), w(1024), d(3), True), SPPF(w(1024), w(1024))])
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n4 = C2f(w(1024) + w(512), w(512), d(3), False)
        self.n3 = C2f(w(512) + w(256), w(256), d(3), False)
        self.down3 = Conv(w(256), w(256), 3, 2)
        self.o4 = C2f(w(256) + w(512), w(512), d(3), False)
        self.down4 = Conv(w(512), w(512), 3, 2)
        self.o5 = C2f(w(512) + w(1024), w(1024), d(3), False)
        ch = (w(256), w(512), w(1024))
        c2, c3 = max(16, ch[0] // 4, 16 * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * 16, 1)) for c in ch)
        self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, nc, 1)) for c in ch)

    def forward(self, x):
        saved = {}
        for i, layer in enumerate(self.backbone):
            x = layer(x)
            saved[i] = x
        p3, p4, p5 = saved[4], saved[6], saved[9]
        n4 = self.n4(torch.cat([self.up(p5), p4], 1))
        o3 = self.n3(torch.cat([self.up(n4), p3], 1))
        o4 = self.o4(torch.cat([self.down3(o3), n4], 1))
        o5 = self.o5(torch.cat([self.down4(o4), p5], 1))
        return {f"p{i + 3}": torch.cat([self.cv2[i](t), self.cv3[i](t)], 1) for i, t in enumerate((o3, o4, o5))}

    def ordered(self) -> nn.ModuleList:
        """The modules in the order the spec (and so the generated module) registers them."""
        parts = list(self.backbone) + [self.n4, self.n3, self.down3, self.o4, self.down4, self.o5]
        for i in range(3):
            parts += [self.cv2[i], self.cv3[i]]
        return nn.ModuleList(parts)


@pytest.mark.parametrize("scale", list(PUBLISHED))
def test_every_scale_has_ultralytics_published_parameters_and_flops(scale):
    (depth, width, max_channels), gradients, gflops = PUBLISHED[scale]
    analysis = analyze_file(SPEC, scale=scale)
    assert analysis.params == gradients
    # The docs round to 0.1 GFLOPs, and thop (which Ultralytics uses) counts a little beyond the convs.
    assert abs(analysis.flops / 1e9 - gflops) < 0.06
    assert analysis.output_shapes() == {"p3": (144, 80, 80), "p4": (144, 40, 40), "p5": (144, 20, 20)}
    assert sum(p.numel() for p in YOLOv8(depth, width, max_channels).parameters()) == gradients


def test_the_default_params_are_the_n_scale_and_d_refines_a_scale():
    assert analyze_file(SPEC).params == PUBLISHED["n"][1]
    # -D after --scale: s with 20 classes changes only the class convs (3 levels × 2 × 3×3 Conv widths stay)
    twenty = analyze_file(SPEC, {"classes": 20}, scale="s")
    reference = YOLOv8(*PUBLISHED["s"][0], nc=20)
    assert twenty.params == sum(p.numel() for p in reference.parameters())


@pytest.mark.parametrize("scale", ["n", "m"])
def test_the_generated_module_computes_the_hand_written_twins_output(scale):
    torch.manual_seed(0)
    reference = YOLOv8(*PUBLISHED[scale][0]).eval()
    ours = build(SPEC, scale=scale).eval()
    load_by_structure(ours, reference.ordered())
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        got, want = ours(x), reference(x)
        assert set(got) == set(want)
        for head in want:
            assert got[head].shape == want[head].shape
            assert (got[head] - want[head]).abs().max().item() <= 1e-4
    small = analyze_file(SPEC, scale=scale, input_shape=(3, 64, 96))
    assert small.flops == flops_of(reference, x)


def test_an_unknown_scale_is_a_usage_error_naming_the_scales(tmp_path):
    with pytest.raises(UsageError) as caught:
        analyze_file(SPEC, scale="xl")
    assert "n, s, m, l, x" in str(caught.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nparams: {width: 1}\nscales:\n  n: {widht: 0.5}\nnetwork: conv(8, 3)\n")
    with pytest.raises(NetcError) as caught:
        analyze_file(str(bad), scale="n")
    assert caught.value.diagnostics[0].span.line == 4
