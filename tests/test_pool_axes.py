"""Pooling windows and receptive fields per axis, (height, width).

A pool's kernel, stride and padding may be pairs, as a conv's: `maxpool((3, 1), stride=(2, 1),
padding=(1, 0))`. Shapes, FLOPs and what backward keeps are torch's (forward hooks, FlopCounterMode,
saved-tensor hooks); the receptive field and its jump along each axis are what torch's gradient of
one output position reaches in the input, row by row and column by column.
"""

from __future__ import annotations

import csv
import io
import json
import math
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from test_against_torch import brute_force_receptive_field, compare_sequential
from test_table import table
from torch import nn
from torch_measures import saved_bytes

from netc.analysis.memory import estimate_memory
from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.backends.codegen import build_module, generate
from netc.errors import NetcError

POOLS = ("conv(4, 3) - maxpool((3, 1), stride=(2, 1), padding=(1, 0)) - avgpool((1, 3), stride=(1, 2))"
         " - l2pool((2, 1)) - maxpool((2, 3), stride=1, padding=same) - avgpool((3, 2), stride=(2, 1), padding=same)"
         " - maxpool((1, 3), stride=(1, 2), ceil=true) - avgpool((3, 2), stride=(2, 1), padding=(1, 0), ceil=true)"
         " - l2pool((1, 2), stride=(1, 2), ceil=true) - fc(5)")


def _padded(pool: nn.Module, left: int, right: int, top: int, bottom: int, value: float = 0.0) -> nn.Module:
    """A pool padded unevenly: the map padded (−∞ for max pooling), then the pool unpadded."""
    return nn.Sequential(nn.ConstantPad2d((left, right, top, bottom), value), pool)


def test_pools_per_axis_match_torch():
    analysis = analyze_expression(POOLS, (3, 19, 23))
    assert [analysis[n].label for n in ("pool1", "pool2", "pool3", "pool4", "pool5")] == [
        "maxpool 3×1/2×1", "avgpool 1×3/1×2", "l2pool2×1", "maxpool 2×3/1", "avgpool 3×2/2×1"]
    compare_sequential(analysis, [
        nn.Conv2d(3, 4, 3, padding=1),
        nn.MaxPool2d((3, 1), stride=(2, 1), padding=(1, 0)),                # 19×23 → 10×23
        nn.AvgPool2d((1, 3), stride=(1, 2)),                                # → 10×11
        nn.LPPool2d(2, (2, 1)),                                             # → 5×11
        _padded(nn.MaxPool2d((2, 3), stride=1), 1, 1, 0, 1, float("-inf")),  # same: 1 row after, a column each side
        _padded(nn.AvgPool2d((3, 2), stride=(2, 1)), 0, 1, 1, 1),           # same: → 3×11
        nn.MaxPool2d((1, 3), stride=(1, 2), ceil_mode=True),                # → 3×5
        nn.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True),  # → 2×4
        nn.LPPool2d(2, (1, 2), stride=(1, 2), ceil_mode=True),              # → 2×2
        nn.Sequential(nn.Flatten(), nn.Linear(16, 5)),
    ])


def test_generated_pools_per_axis_run_and_keep_what_torch_keeps():
    analysis = analyze_expression(POOLS, (3, 19, 23))
    source = generate(analysis).source
    for line in ("nn.MaxPool2d((3, 1), stride=(2, 1), padding=(1, 0))", "nn.AvgPool2d((1, 3), stride=(1, 2))",
                 "nn.LPPool2d(2, (2, 1))", "nn.MaxPool2d((2, 3), stride=1)", "nn.AvgPool2d((3, 2), stride=(2, 1))",
                 "nn.MaxPool2d((1, 3), stride=(1, 2), ceil_mode=True)",
                 "nn.AvgPool2d((3, 2), stride=(2, 1), padding=(1, 0), ceil_mode=True)",
                 "torch.nn.functional.pad(x, (1, 1, 0, 1), value=float(\"-inf\"))",
                 "torch.nn.functional.pad(x, (0, 1, 1, 1))"):
        assert line in source, line
    model = build_module(analysis).train()
    x = torch.randn(3, *analysis.network.input_shape)
    assert tuple(model(x).shape[1:]) == analysis.output_shapes()["output"]
    assert estimate_memory(analysis, batch=3).activations == saved_bytes(model, x)


# --- receptive fields per axis ----------------------------------------------------------------------
# Inception v3's 1×7 and 7×1 convs, then pools and convs whose windows and strides differ per axis.
# In torch, average pooling stands in for max pooling: the same window, but the gradient of a
# maximum reaches one pixel of it.
PER_AXIS_RF = [
    ("conv(2, (1, 7))", lambda: nn.Conv2d(1, 2, (1, 7), padding=(0, 3))),
    ("conv(2, (7, 1))", lambda: nn.Conv2d(2, 2, (7, 1), padding=(3, 0))),
    ("maxpool((3, 1), stride=(2, 1), padding=(1, 0))", lambda: nn.AvgPool2d((3, 1), stride=(2, 1), padding=(1, 0))),
    ("conv(2, (1, 3), stride=(1, 2))", lambda: nn.Conv2d(2, 2, (1, 3), stride=(1, 2), padding=(0, 1))),
    ("avgpool((2, 3), stride=(1, 2), padding=(0, 1))", lambda: nn.AvgPool2d((2, 3), stride=(1, 2), padding=(0, 1))),
    ("conv(2, (3, 1), dilation=(2, 1))", lambda: nn.Conv2d(2, 2, (3, 1), dilation=(2, 1), padding=(2, 0))),
    ("l2pool((1, 2))", lambda: nn.AvgPool2d((1, 2))),
    ("conv(1, 3)", lambda: nn.Conv2d(2, 1, 3, padding=1)),
]


@pytest.mark.parametrize("depth", range(1, len(PER_AXIS_RF) + 1))
def test_receptive_field_per_axis_is_what_the_gradient_reaches(depth):
    layers = PER_AXIS_RF[:depth]
    analysis = analyze_expression(" - ".join(dsl for dsl, _ in layers), (1, 72, 96))
    last = analysis[analysis.network.order[-1]]
    extent, jump = brute_force_receptive_field(nn.Sequential(*(build() for _, build in layers)), 1, (72, 96))
    assert (last.receptive_field, last.jump) == (extent, jump)


def test_the_network_above_sees_differently_per_axis():
    analysis = analyze_expression(" - ".join(dsl for dsl, _ in PER_AXIS_RF), (1, 72, 96))
    last = analysis[analysis.network.order[-1]]
    # 1 + 6 rows (7×1) + 2·1 (3×1 pool) + 1·1 (2×3 pool at jump 2) + 2·2·2 (dilated 3×1) + 2·2 (the 3×3): by hand
    assert last.receptive_field == (1 + 6 + 2 + 2 + 8 + 4, 1 + 6 + 2 + 2 * 2 + 4 * 1 + 8 * 2)
    assert last.jump == (2, 8)


def test_a_fractional_step_per_axis_after_upsampling():
    """After a 1×2 pool then a ×2 upsample, neighbouring outputs are half a row apart but one
    column: over 4 rows the window moves 2 rows (torch's gradients)."""
    model = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d((1, 2)), nn.Upsample(scale_factor=2),
                          nn.Conv2d(1, 1, 3, padding=1))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.01)

    def window(row: int, col: int, axis: int) -> tuple[int, int]:
        x = torch.zeros(1, 1, 24, 24, requires_grad=True)
        model(x + 1.0)[0, 0, row, col].backward()
        hit = torch.nonzero(x.grad[0, 0].abs().sum(dim=1 - axis) > 0).flatten()
        return int(hit.min()), int(hit.max())

    analysis = analyze_expression("conv(1, 3) - avgpool((1, 2)) - upsample - conv(1, 3)", (1, 24, 24))
    last = analysis[analysis.network.order[-1]]
    h, w = analysis.output_shapes()["output"][1:]
    for axis in (0, 1):
        windows = [window(h // 2 + k * (axis == 0), w // 2 + k * (axis == 1), axis) for k in range(5)]
        assert last.jump[axis] == Fraction(windows[-1][0] - windows[0][0], 4)
        field = last.receptive_field[axis]
        assert max(b - a + 1 for a, b in windows) in (math.floor(field), math.ceil(field))
    assert last.jump == (Fraction(1, 2), 1) and last.receptive_field == (4, 6)


# --- tables ---------------------------------------------------------------------------------------
RF_SPEC = " - ".join(dsl for dsl, _ in PER_AXIS_RF[:4])


def test_tables_show_both_axes_where_they_differ():
    analysis = analyze_expression(RF_SPEC, (1, 72, 96))
    want = {node.id: (info.receptive_field, info.jump) for node, info in analysis.rows()}
    assert want["conv1"] == ((1, 7), (1, 1)) and want["conv2"] == ((7, 7), (1, 1))
    assert want["pool1"] == ((9, 7), (2, 1)) and want["conv3"] == ((9, 9), (2, 2))
    text = table("-e", RF_SPEC, "--input", "1x72x96")
    rows = {line.split()[0]: line for line in text.splitlines()[3:8]}
    assert rows["conv1"].endswith(" 1×7") and rows["conv2"].endswith(" 7")
    assert rows["pool1"].endswith(" 9×7 /2×1") and rows["conv3"].endswith(" 9 /2")
    assert "| 9×7 /2×1 |" in table("-e", RF_SPEC, "--input", "1x72x96", "--format", "markdown")
    doc = json.loads(table("-e", RF_SPEC, "--input", "1x72x96", "--format", "json"))
    for layer in doc["layers"]:
        field, jump = want[layer["name"]]
        assert layer["receptive_field_hw"] == list(field) and layer["jump_hw"] == list(jump)
        assert (layer["receptive_field"], layer["jump"]) == (field[0], jump[0])  # the height's, as before
    rows = list(csv.DictReader(io.StringIO(table("-e", RF_SPEC, "--input", "1x72x96", "--format", "csv"))))
    assert [(r["receptive_field_hw"], r["jump_hw"]) for r in rows] == [
        ("x".join(map(str, f)), "x".join(map(str, j))) for f, j in want.values()]
    # --compact folds the relu into its conv: the row shows the relu's field, which is the conv's
    compact = json.loads(table("-e", "conv(2, (1, 7))-relu-maxpool((3, 1), stride=(2, 1))", "--input", "1x9x9",
                               "--format", "json", "--compact"))
    assert [(r["name"], r["receptive_field_hw"], r["jump_hw"]) for r in compact["layers"]] == [
        ("input", [1, 1], [1, 1]), ("conv1", [1, 7], [1, 1]), ("pool1", [3, 7], [2, 1])]


def test_a_fractional_step_per_axis_is_written_exactly():
    spec = "conv(1, 3) - avgpool((1, 2)) - upsample - conv(1, 2, padding=valid)"
    doc = json.loads(table("-e", spec, "--input", "1x24x24", "--format", "json"))
    assert doc["layers"][-1]["receptive_field_hw"] == ["7/2", 5] and doc["layers"][-1]["jump_hw"] == ["1/2", 1]
    assert doc["layers"][-1]["receptive_field"] == "7/2" and doc["layers"][-1]["jump"] == "1/2"
    assert table("-e", spec, "--input", "1x24x24").splitlines()[7].endswith(" 7/2×5 /(1/2)×1")


# --- block classes, shortcuts, errors ---------------------------------------------------------------
BLOCKS = """\
name: axes
input: [3, 32, 24]
blocks:
  tall:
    args: [c, k]
    body: conv(c, 3)-bn-relu-maxpool((k, 1), stride=(2, 1), padding=(k // 2, 0))
  down:
    args: [c]
    residual: conv(c, 3, stride=(2, 1))-bn-relu-maxpool((1, 3), stride=(1, 2), padding=(0, 1))-conv(c, 3)-bn
network: tall(8, 3) - tall(8, 5) - down(16) - down(32) - avgpool((2, 3), padding=same, stride=1) - globalavgpool - fc(10)
"""


def test_block_classes_take_per_axis_windows_from_their_arguments(tmp_path: Path):
    path = tmp_path / "axes.yaml"
    path.write_text(BLOCKS)
    analysis = analyze_file(str(path))
    source = generate(analysis).source
    assert source.count("class Tall") == 1  # one class for both uses: its window is an argument
    assert "nn.MaxPool2d((k, 1), stride=(2, 1), padding=(k // 2, 0))" in source
    # The automatic shortcut samples the block input as the body does: every 2 rows, 2 columns
    assert analysis["down1.shortcut"].jump == analysis["down1.add1"].jump == (8, 2)
    assert "nn.Conv2d(8, 16, kernel_size=1, stride=2, bias=False)" in source
    assert analysis["down1.shortcut"].shape == analysis["down1.add1"].shape == (16, 4, 12)
    model = build_module(analysis).train()
    x = torch.randn(2, 3, 32, 24)
    assert tuple(model(x).shape[1:]) == (10,)
    assert estimate_memory(analysis, batch=2).activations == saved_bytes(model, x)


def test_a_body_that_strides_per_axis_gets_a_projection_per_axis(tmp_path: Path):
    path = tmp_path / "down.yaml"
    path.write_text("input: [4, 16, 12]\nblocks:\n  down:\n    residual: conv(8, 3, stride=(2, 1))-relu-conv(8, 3)\n"
                    "network: down-fc(3)\n")
    analysis = analyze_file(str(path))
    assert analysis["down1.shortcut"].jump == (2, 1) and analysis["down1.shortcut"].receptive_field == (1, 1)
    assert "nn.Conv2d(4, 8, kernel_size=1, stride=(2, 1))" in generate(analysis).source
    model = build_module(analysis)
    assert tuple(model(torch.randn(2, 4, 16, 12)).shape[1:]) == (3,)


@pytest.mark.parametrize("dsl,message", [
    ("maxpool((1, 7))", "input 8×5 too small for maxpool 1×7 (needs at least 1×7)"),
    ("maxpool((1, 7), ceil=true)", "input 8×5 too small for maxpool 1×7 (needs at least 1×7)"),
    ("maxpool((3, 1), padding=(0, 1))", "pool padding 1 is more than half the window's width 1 (3×1)"),
    ("l2pool((2, 2), padding=(0, 1))", "L2 pooling (LPPool2d) takes no padding"),
    ("avgpool((2, 3), padding=same, ceil=true)", "cannot also keep a partial last window"),
])
def test_per_axis_pools_that_cannot_be(dsl, message):
    with pytest.raises(NetcError) as caught:
        analyze_expression(dsl, (3, 8, 5))
    assert message in str(caught.value)
    if "too small" in message and "ceil" not in dsl:  # and torch agrees (with ceil_mode it reads what there is)
        with pytest.raises(RuntimeError):
            nn.MaxPool2d((1, 7))(torch.randn(1, 3, 8, 5))


def test_the_picture_labels_a_pool_per_axis(tmp_path: Path):
    from test_table import netc

    out = tmp_path / "net.dot"
    done = netc("render", "-e", "conv(4, 3)-maxpool((3, 1), stride=(2, 1), padding=(1, 0))-avgpool((1, 2))",
                "--input", "3x8x8", "-o", str(out))
    assert done.returncode == 0, done.stderr
    dot = out.read_text(encoding="utf-8")
    assert "<b>maxpool 3×1/2×1</b>" in dot and "<b>avgpool1×2</b>" in dot and "output 4×4×8" in dot
