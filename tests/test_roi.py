"""Several named inputs, and the RoI kinds (roipool, roialign) that read a named [R, 5] input.

The generated module's pure-torch operators are compared with torchvision's own pure-Python
RoIAlign (`torchvision.ops.roi_align._roi_align`, unwrapped from its lazy torch.compile) and with
naive loops written here from torchvision's C++ kernels (roi_pool_kernel.cpp, roi_align_kernel.cpp),
one bin and one sample at a time; a tiny roi_pool case is worked by hand. Where torchvision's
compiled operators load (a CUDA torch beside its CUDA torchvision), they are compared too.
The table's per-RoI numbers are checked against torch's own FlopCounterMode and parameters().
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import netc

SPEC = """\
name: roinet
params: {R: 6}
input: {image: [3, 40, 48], rois: [R, 5]}
network: conv3-8-relu-maxpool - conv3-16-relu - WORD - fc(32)-relu-fc(5)
"""


def spec_file(tmp_path: Path, word: str, text: str = SPEC) -> Path:
    path = tmp_path / "roinet.yaml"
    path.write_text(text.replace("WORD", word), encoding="utf-8")
    return path


def some_rois(count: int, height: int, width: int, images: int, seed: int = 0, margin: float = 0.0) -> torch.Tensor:
    """Boxes (image, x1, y1, x2, y2) in input pixels, inside the image widened by `margin` on each side."""
    g = torch.Generator().manual_seed(seed)
    corners = torch.rand(count, 4, generator=g)
    xs = (corners[:, [0, 2]] * (width + 2 * margin) - margin).sort(dim=1).values
    ys = (corners[:, [1, 3]] * (height + 2 * margin) - margin).sort(dim=1).values
    index = torch.randint(0, images, (count, 1), generator=g).float()
    return torch.cat([index, xs[:, :1], ys[:, :1], xs[:, 1:], ys[:, 1:]], dim=1)


# --- naive references, one bin / one sample at a time, from torchvision's CPU kernels --------------
def naive_roi_pool(x: torch.Tensor, rois: torch.Tensor, size: int, scale: float) -> torch.Tensor:
    _, channels, height, width = x.shape
    out = torch.zeros(rois.shape[0], channels, size, size, dtype=x.dtype)
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        def c_round(v: float) -> int:  # C's round(): halves away from zero
            return int(math.copysign(math.floor(abs(v) + 0.5), v))
        start_w, start_h, end_w, end_h = (c_round(v * scale) for v in (x1, y1, x2, y2))
        roi_w, roi_h = max(end_w - start_w + 1, 1), max(end_h - start_h + 1, 1)
        bin_h, bin_w = roi_h / size, roi_w / size
        for ph in range(size):
            for pw in range(size):
                hstart = min(max(math.floor(ph * bin_h) + start_h, 0), height)
                hend = min(max(math.ceil((ph + 1) * bin_h) + start_h, 0), height)
                wstart = min(max(math.floor(pw * bin_w) + start_w, 0), width)
                wend = min(max(math.ceil((pw + 1) * bin_w) + start_w, 0), width)
                if hend <= hstart or wend <= wstart:
                    continue  # an empty bin is 0
                out[k, :, ph, pw] = x[int(b), :, hstart:hend, wstart:wend].amax(dim=(1, 2))
    return out


def naive_roi_align(x: torch.Tensor, rois: torch.Tensor, size: int, scale: float, sampling: int,
                    aligned: bool) -> torch.Tensor:
    _, channels, height, width = x.shape
    out = torch.zeros(rois.shape[0], channels, size, size, dtype=torch.float64)
    xd = x.double()

    def bilinear(b: int, y: float, xx: float) -> torch.Tensor:
        if y < -1.0 or y > height or xx < -1.0 or xx > width:
            return torch.zeros(channels, dtype=torch.float64)
        y, xx = max(y, 0.0), max(xx, 0.0)
        y_low, x_low = int(y), int(xx)
        if y_low >= height - 1:
            y_high = y_low = height - 1
            y = float(y_low)
        else:
            y_high = y_low + 1
        if x_low >= width - 1:
            x_high = x_low = width - 1
            xx = float(x_low)
        else:
            x_high = x_low + 1
        ly, lx = y - y_low, xx - x_low
        hy, hx = 1 - ly, 1 - lx
        return (hy * hx * xd[b, :, y_low, x_low] + hy * lx * xd[b, :, y_low, x_high]
                + ly * hx * xd[b, :, y_high, x_low] + ly * lx * xd[b, :, y_high, x_high])

    offset = 0.5 if aligned else 0.0
    for k, (b, x1, y1, x2, y2) in enumerate(rois.tolist()):
        start_w, start_h = x1 * scale - offset, y1 * scale - offset
        roi_w, roi_h = x2 * scale - offset - start_w, y2 * scale - offset - start_h
        if not aligned:
            roi_w, roi_h = max(roi_w, 1.0), max(roi_h, 1.0)
        bin_h, bin_w = roi_h / size, roi_w / size
        grid_h = sampling if sampling > 0 else math.ceil(roi_h / size)
        grid_w = sampling if sampling > 0 else math.ceil(roi_w / size)
        count = max(grid_h * grid_w, 1)
        for ph in range(size):
            for pw in range(size):
                total = torch.zeros(channels, dtype=torch.float64)
                for iy in range(grid_h):
                    y = start_h + ph * bin_h + (iy + 0.5) * bin_h / grid_h
                    for ix in range(grid_w):
                        xx = start_w + pw * bin_w + (ix + 0.5) * bin_w / grid_w
                        total += bilinear(int(b), y, xx)
                out[k, :, ph, pw] = total / count
    return out.to(x.dtype)


def generated_ops(tmp_path: Path) -> dict:
    """The RoIPool and RoIAlign classes of a generated file, executed from its source."""
    source = netc.compile_source(_both_ops_spec(tmp_path))
    namespace: dict = {}
    exec(compile(source, "generated.py", "exec"), namespace)  # noqa: S102 - the generated file under test
    return namespace


def _both_ops_spec(tmp_path: Path) -> Path:
    path = tmp_path / "both.yaml"
    path.write_text("input: {image: [4, 12, 12], rois: [3, 5]}\n"
                    "network: roipool(<rois>, 2) - <pooled> - from(<image>) - roialign(<rois>, 2) - concat(<pooled>)\n",
                    encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ops(tmp_path_factory):
    return generated_ops(tmp_path_factory.mktemp("ops"))


def test_roi_pool_by_hand(ops):
    # A 1×4×4 map 0 … 15, one box over the whole map at scale 1, 2×2 bins: the maximum of each
    # quadrant is its bottom-right cell: 5, 7, 13, 15. A box of cells (1, 1)–(2, 3) (x1=1, y1=1,
    # x2=3, y2=2): 2 rows × 3 columns, bins rows {1} {2}, columns {1, 2} {2, 3}: 6 7 / 10 11.
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    rois = torch.tensor([[0.0, 0, 0, 3, 3], [0.0, 1, 1, 3, 2]])
    pool = ops["RoIPool"]((2, 2), 1.0)
    assert pool(x, rois)[0, 0].tolist() == [[5.0, 7.0], [13.0, 15.0]]
    assert pool(x, rois)[1, 0].tolist() == [[6.0, 7.0], [10.0, 11.0]]
    # A box wholly outside the map pools nothing: every bin is 0.
    assert pool(x, torch.tensor([[0.0, 10, 10, 12, 12]])).abs().sum().item() == 0.0


@pytest.mark.parametrize("scale", [1.0, 0.5, 1 / 16])
def test_roi_pool_equals_the_kernel(ops, scale):
    x = torch.randn(2, 3, 11, 13, generator=torch.Generator().manual_seed(1))
    rois = some_rois(20, 11 / scale, 13 / scale, images=2, seed=2, margin=3 / scale)
    got = ops["RoIPool"]((7, 7), scale)(x, rois)
    assert torch.equal(got, naive_roi_pool(x, rois, 7, scale))


def torchvision_roi_align():
    from torchvision_models import torchvision

    torchvision()  # importable beside the CPU torch
    import importlib

    module = importlib.import_module("torchvision.ops.roi_align")  # the module; the package exports the function
    return module._roi_align.__wrapped__  # torchvision's pure-Python reference, not torch.compile'd


@pytest.mark.parametrize(("sampling", "aligned"), [(2, True), (2, False), (-1, True), (-1, False), (1, False)])
def test_roi_align_equals_torchvision_reference(ops, sampling, aligned):
    x = torch.randn(2, 5, 14, 17, generator=torch.Generator().manual_seed(3))
    scale = 0.5
    # Inside the map (torchvision's Python reference leaves out the kernel's "more than a cell
    # outside the map reads 0" test: the naive kernel loop below checks boxes that reach past it).
    rois = some_rois(25, 14 / scale, 17 / scale, images=2, seed=4)
    got = ops["RoIAlign"]((7, 7), scale, sampling, aligned)(x, rois)
    reference = torchvision_roi_align()(x, rois, scale, 7, 7, sampling, aligned)
    torch.testing.assert_close(got, reference, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(got, naive_roi_align(x, rois, 7, scale, sampling, aligned), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("sampling", "aligned"), [(2, True), (-1, False)])
def test_roi_align_outside_the_map_equals_the_kernel(ops, sampling, aligned):
    x = torch.randn(1, 3, 9, 10, generator=torch.Generator().manual_seed(5))
    rois = some_rois(30, 9, 10, images=1, seed=6, margin=6)
    got = ops["RoIAlign"]((4, 4), 1.0, sampling, aligned)(x, rois)
    torch.testing.assert_close(got, naive_roi_align(x, rois, 4, 1.0, sampling, aligned), rtol=1e-5, atol=1e-5)


def test_compiled_operators_where_they_load(ops):
    """torchvision's compiled roi_pool / roi_align, where its C++ operators load (a CUDA torch with its
    torchvision, on a GPU machine): the generated operators equal them. Beside the CPU torch here
    they do not load (README), and then the check says so by returning before comparing."""
    from torchvision_models import torchvision

    torchvision()
    try:
        torch.ops.torchvision.roi_align.default  # noqa: B018 - present only where the C++ library loaded
        from torchvision.ops import roi_align, roi_pool

        probe = roi_pool(torch.zeros(1, 1, 2, 2), torch.zeros(1, 5), 1)
    except (AttributeError, RuntimeError, NotImplementedError):
        pytest.skip("torchvision's compiled operators do not load beside this torch (README: torchvision)")
    del probe
    device = "cuda" if torch.cuda.is_available() else "cpu"
    x = torch.randn(2, 4, 20, 24, device=device, generator=None)
    rois = some_rois(40, 20 * 8, 24 * 8, images=2, seed=7, margin=16).to(device)
    torch.testing.assert_close(ops["RoIPool"]((7, 7), 1 / 8)(x, rois), roi_pool(x, rois, 7, 1 / 8))
    for sampling, aligned in ((2, True), (-1, False), (0, True)):
        torch.testing.assert_close(ops["RoIAlign"]((7, 7), 1 / 8, sampling, aligned)(x, rois),
                                   roi_align(x, rois, 7, 1 / 8, sampling, aligned), rtol=1e-5, atol=1e-5)


# --- several named inputs ---------------------------------------------------------------------------
TWO_INPUTS = """\
name: two_inputs
params: {R: 4}
input: {image: [3, 16, 16], rois: [R, 5], extra: [6]}
network: conv3-8-relu - <map> - globalavgpool-flatten-concat(<extra>)-fc(3) - <scores>
  - from(<map>) - roialign(<rois>, 2, sampling=2) - fc(5)
heads: {scores: {from: scores, body: identity}, boxes: identity}
"""


def test_named_inputs_are_forward_arguments_and_points(tmp_path: Path):
    import inspect

    path = tmp_path / "two.yaml"
    path.write_text(TWO_INPUTS, encoding="utf-8")
    module = netc.build(path).eval()
    assert list(inspect.signature(module.forward).parameters) == ["image", "rois", "extra"]
    image, extra = torch.randn(2, 3, 16, 16), torch.randn(2, 6)
    rois = torch.tensor([[0, 0.0, 0, 8, 8], [1, 2, 2, 15, 15], [1, 0, 4, 4, 12]])
    with torch.no_grad():
        out = module(image=image, rois=rois, extra=extra)
    assert out["scores"].shape == (2, 3)  # per image
    assert out["boxes"].shape == (3, 5)  # per RoI: all the batch's boxes
    # the scores read `extra` (a per-image vector): a different `extra` changes them, not the boxes
    with torch.no_grad():
        other = module(image=image, rois=rois, extra=extra + 1)
    assert not torch.equal(other["scores"], out["scores"]) and torch.equal(other["boxes"], out["boxes"])


def test_the_table_shows_each_input_and_counts_rois(tmp_path: Path):
    import json

    from netc.analysis.memory import estimate_memory
    from netc.analysis.pipeline import analyze_file
    from netc.analysis.table import to_json, to_text

    path = tmp_path / "two.yaml"
    path.write_text(TWO_INPUTS, encoding="utf-8")
    analysis = analyze_file(path)
    doc = json.loads(to_json(analysis, estimate_memory(analysis)))
    assert doc["inputs"] == {"image": {"shape": [3, 16, 16], "rows": None}, "rois": {"shape": [5], "rows": 4},
                             "extra": {"shape": [6], "rows": None}}
    rows = {layer["name"]: layer for layer in doc["layers"]}
    assert rows["boxes.identity1"]["rows"] == 4 and "rows" not in rows["scores.identity1"]
    # fc(5) after a 8×2×2 RoIAlign: 32 × 5 multiply-adds per RoI, 4 RoIs per image
    assert rows["fc2"]["macs"] == 4 * 32 * 5
    text = to_text(analysis, estimate_memory(analysis))
    assert text.startswith("two_inputs: inputs image 3×16×16, rois 4×5, extra 6")
    roialign_row = next(line for line in text.split("\n") if line.startswith("roialign1 "))
    assert roialign_row.split()[-1] == "box" and " 4×8×2×2 " in roialign_row  # R× one RoI's map; no fixed RF
    twice = analyze_file(path, {"R": 8})
    assert twice["fc2"].macs == 2 * analysis["fc2"].macs and twice["fc1"].macs == analysis["fc1"].macs


def test_train_refuses_several_inputs_and_port_loads_them(tmp_path: Path, capsys):
    """netc train feeds one input and says so before anything starts (exit 2, one line, no run
    directory); netc port matches tensors by structure, which the inputs do not change: the ported
    state_dict gives the module the checkpoint's outputs."""
    from netc.cli import main

    path = tmp_path / "two.yaml"
    path.write_text(TWO_INPUTS, encoding="utf-8")
    assert main(["train", str(path), "--data", "digits", "--epochs", "1", "--runs", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "3 named inputs (image, rois, extra)" in err and "forward(image, rois, extra)" in err
    assert not (tmp_path / "runs").exists()
    torch.manual_seed(1)
    source = netc.build(path).eval()
    torch.save(source.state_dict(), tmp_path / "w.pth")
    ported = netc.port(path, tmp_path / "w.pth", strict=True)
    torch.manual_seed(2)
    target = netc.build(path).eval()
    target.load_state_dict(ported.state_dict)
    image, extra = torch.randn(1, 3, 16, 16), torch.randn(1, 6)
    rois = torch.tensor([[0, 1.0, 1, 9, 12]])
    with torch.no_grad():
        want, got = source(image, rois, extra), target(image, rois, extra)
    assert all(torch.equal(want[k], got[k]) for k in want)


# --- Fast R-CNN (VGG-16), the lecture notes' shapes ------------------------------------------------
def test_fast_rcnn_vgg16_is_vgg16_cut_at_conv5_with_roi_pooling(ops):
    """specs/fast_rcnn_vgg16.yaml against torchvision's VGG-16 (weights=None): its conv layers
    without pool5, RoI max pooling to 7×7 at 1/16, its fc6 and fc7, and the two sibling heads of
    21 scores and 84 box values. The notes' shapes: a 3×800×600 image, conv features 512×50×37,
    pooled 512×7×7. At a small input the module with torchvision's weights (loaded in order)
    computes the hand-built one's outputs."""
    from torchvision_models import load_by_structure, torchvision

    from netc.analysis.pipeline import analyze_file

    spec = Path(__file__).resolve().parent.parent / "specs" / "fast_rcnn_vgg16.yaml"
    analysis = analyze_file(spec)
    assert analysis.network.input_shape == (3, 800, 600)
    assert analysis["conv13"].shape == (512, 50, 37) and analysis["roipool1"].shape == (512, 7, 7)
    assert analysis["roipool1"].rows == "rois" and analysis["roipool1"].row_count == 2000
    assert analysis.output_shapes() == {"scores": (21,), "boxes": (84,)}

    vgg = torchvision().models.vgg16(weights=None).eval()
    head = torch.nn.ModuleDict({"fc": vgg.classifier[:-1], "scores": torch.nn.Linear(4096, 21),
                                "boxes": torch.nn.Linear(4096, 84)}).eval()
    trunk = vgg.features[:-1]  # conv5_3 and its relu, without pool5
    assert analysis.params == sum(p.numel() for p in [*trunk.parameters(), *head.parameters()]) == 134_690_729
    assert 138_357_544 - (4096 * 1000 + 1000) + (4096 * 21 + 21) + (4096 * 84 + 84) == 134_690_729
    # FLOPs as torch counts them: the trunk once per 3×800×600 image, the head once per RoI (2,000).
    from torch.utils.flop_counter import FlopCounterMode

    def flops(module, x):
        with FlopCounterMode(display=False) as counter:
            module(x)
        return counter.get_total_flops()

    with torch.device("meta"):
        meta_vgg = torchvision().models.vgg16(weights=None)
        meta_head = torch.nn.ModuleList([meta_vgg.classifier[:-1], torch.nn.Linear(4096, 21), torch.nn.Linear(4096, 84)])
        trunk_flops = flops(meta_vgg.features[:-1], torch.empty(1, 3, 800, 600))
        fc7 = torch.empty(1, 4096)
        head_flops = flops(meta_head[0], torch.empty(1, 512 * 7 * 7)) + flops(meta_head[1], fc7) + flops(meta_head[2], fc7)
    assert analysis.flops == trunk_flops + 2000 * head_flops == 773_138_841_600

    small = analyze_file(spec, {"R": 3}, input_shape=(3, 96, 80))
    from netc.backends.codegen import build_module

    built = build_module(small).eval()

    class Reference(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk, self.head = trunk, head

    load_by_structure(built, Reference())
    image = torch.randn(2, 3, 96, 80)
    rois = torch.tensor([[0, 0.0, 0, 79, 95], [1, 10, 20, 50, 60], [1, 30, 5, 70, 40],
                         [0, 4, 4, 40, 90], [1, 0, 0, 16, 16], [0, 60, 70, 79, 95]])
    with torch.no_grad():
        pooled = ops["RoIPool"]((7, 7), 1 / 16)(trunk(image), rois)
        fc7 = head["fc"](pooled.flatten(1))
        want = {"scores": torch.softmax(head["scores"](fc7), dim=1), "boxes": head["boxes"](fc7)}
        got = built(image, rois)
    for name, value in want.items():
        torch.testing.assert_close(got[name], value, rtol=1e-5, atol=1e-5)


# --- MultiScaleRoIAlign over FPN levels ----------------------------------------------------------------
MULTISCALE = """\
name: pyramid
params: {R: 6}
input: {image: [3, 128, 96], rois: [R, 5]}
network: conv(8, 3, stride=4) - <p2> - conv(8, 3, stride=2) - <p3> - conv(8, 3, stride=2) - <p4>
  - conv(8, 3, stride=2) - <p5> - from(<rois>) - multiscaleroialign(<p2>, <p3>, <p4>, <p5>, 7, sampling=2) - fc(10)
"""


def test_multiscale_roi_align_equals_torchvision_pooler(tmp_path: Path, monkeypatch):
    """The generated MultiScaleRoIAlign against torchvision.ops.MultiScaleRoIAlign itself (its level
    mapper and its scales, inferred from the image and map sizes), with torchvision's roi_align
    replaced by its pure-Python reference (its compiled operator does not load beside this torch).
    Boxes of every size reach every level (canonical 224 pixels at level 4)."""
    from torchvision_models import torchvision

    tv = torchvision()
    import importlib

    reference = importlib.import_module("torchvision.ops.roi_align")._roi_align.__wrapped__
    poolers = importlib.import_module("torchvision.ops.poolers")

    def roi_align(x, boxes, output_size, spatial_scale, sampling_ratio, aligned=False):
        return reference(x, boxes, spatial_scale, output_size[0], output_size[1], sampling_ratio, aligned)

    monkeypatch.setattr(poolers, "roi_align", roi_align)
    path = tmp_path / "pyramid.yaml"
    path.write_text(MULTISCALE, encoding="utf-8")
    from netc.analysis.pipeline import analyze_file

    analysis = analyze_file(path)
    assert analysis["multiscaleroialign1"].shape == (8, 7, 7) and analysis["multiscaleroialign1"].rows == "rois"
    namespace: dict = {}
    exec(compile(netc.compile_source(path), "pyramid.py", "exec"), namespace)  # noqa: S102 - the file under test
    pooler = namespace["MultiScaleRoIAlign"]((7, 7), (1 / 4, 1 / 8, 1 / 16, 1 / 32), 2)
    g = torch.Generator().manual_seed(8)
    # A 640×480 image's levels; boxes inside it of sizes sqrt(w·h) from 17 to 520 pixels.
    maps = [torch.randn(2, 8, 640 // s, 480 // s, generator=g) for s in (4, 8, 16, 32)]
    heights = torch.tensor([20.0, 60, 130, 150, 260, 300, 520, 600, 40, 140, 280, 560])
    corners = torch.rand(12, 2, generator=g) * 30
    boxes = torch.cat([corners, corners + torch.stack([heights * 0.75, heights], dim=1)], dim=1)
    images = torch.tensor([0] * 6 + [1] * 6)  # in image order, as torchvision's list of boxes per image
    rois = torch.cat([images[:, None].float(), boxes], dim=1)
    theirs = tv.ops.MultiScaleRoIAlign(["p2", "p3", "p4", "p5"], 7, 2)
    want = theirs(dict(zip(["p2", "p3", "p4", "p5"], maps)), [boxes[:6], boxes[6:]], [(640, 480), (640, 480)])
    got = pooler(rois, maps)
    levels = {int(k) for k in theirs.map_levels([boxes[:6], boxes[6:]]).tolist()}
    assert levels == {0, 1, 2, 3}  # every level is used
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_check_counts_layers_not_inputs_and_outputs_per_roi(capsys):
    # 13 convs and their ReLUs, 4 pools, the RoI pool, fc6 and fc7 with ReLU and dropout, the
    # scores' fc and softmax, the boxes' fc: 40 layers; the inputs image and rois are not layers.
    from netc.cli import main

    spec = Path(__file__).resolve().parent.parent / "specs" / "fast_rcnn_vgg16.yaml"
    assert main(["check", str(spec), "-q"]) == 0
    assert capsys.readouterr().out == ("fast_rcnn_vgg16: ok — 40 layers, 134,690,729 params, 773.14 GFLOPs, "
                                       "outputs scores 2000×21, boxes 2000×84\n")
