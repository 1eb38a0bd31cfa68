"""Every worked example of the lecture notes, and the published figures of the classic networks.

The expected numbers are literals copied from the notes (the "seeds", cited by notes number and
the line they stand near) or from the papers; none was produced by running netc. The VGG16 table
is checked row by row through the command line, `netc table specs/vgg16.yaml --compact`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.errors import NetcError

ROOT = Path(__file__).resolve().parent.parent


def netc(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


def last(analysis):
    return analysis[analysis.network.order[-1]]


# --- notes 001, "Examples time" (near line 1216) -------------------------------------------------
def test_ten_5x5_filters_on_32x32x3():
    """Input volume 32x32x3, 10 5x5 filters with stride 1, pad 2: "(32+2*2-5)/1+1 = 32 spatially,
    so 32x32x10"; "each filter has 5*5*3 + 1 = 76 params ⇒ 76*10 = 760"."""
    analysis = analyze_expression("conv(10, 5, stride=1, padding=2)", (3, 32, 32))
    conv = last(analysis)
    assert conv.shape == (10, 32, 32)
    assert conv.params == 760
    assert (conv.weights, conv.biases) == (5 * 5 * 3 * 10, 10)
    assert not analysis.warnings


# --- notes 001, "A closer look at spatial dimensions" (near lines 1020-1150) ------------------------
@pytest.mark.parametrize("stride,size", [(1, 5), (2, 3)])
def test_7x7_input_3x3_filter(stride, size):
    """"7x7 input (spatially), assume 3x3 filter => 5x5 output"; "applied with stride 2 => 3x3 output!"."""
    analysis = analyze_expression(f"conv(1, 3, stride={stride}, padding=0)", (1, 7, 7))
    assert last(analysis).shape == (1, size, size)
    assert not analysis.warnings


def test_7x7_input_3x3_filter_stride_3_does_not_fit():
    """"applied with stride 3? doesn't fit! cannot apply 3x3 filter on 7x7 input with stride 3";
    "stride 3 ⇒ (7 - 3)/3 + 1 = 2.33". netc warns, and (as PyTorch does) keeps the whole windows."""
    analysis = analyze_expression("conv(1, 3, stride=3, padding=0)", (1, 7, 7))
    (warning,) = analysis.warnings
    assert "doesn't fit" in warning.message
    assert "(7 − 3 + 2·0)/3" in warning.message
    assert last(analysis).shape == (1, 2, 2)  # ⌊2.33⌋
    assert last(analysis).warnings


def test_zero_padding_keeps_7x7():
    """"e.g. input 7x7, 3x3 filter, applied with stride 1, pad with 1 pixel border => 7x7 output!";
    "common to see CONV layers with stride 1, filters of size FxF, and zero-padding with (F-1)/2
    (will preserve size spatially)": F = 3 ⇒ pad 1, F = 5 ⇒ pad 2, F = 7 ⇒ pad 3."""
    assert last(analyze_expression("conv(1, 3, stride=1, padding=1)", (1, 7, 7))).shape == (1, 7, 7)
    for f, pad in ((3, 1), (5, 2), (7, 3)):
        explicit = analyze_expression(f"conv(4, {f}, padding={pad})", (3, 32, 32))
        same = analyze_expression(f"conv(4, {f}, padding=same)", (3, 32, 32))
        assert last(explicit).shape == last(same).shape == (4, 32, 32)


def test_repeated_5x5_convolutions_shrink():
    """"32x32 input convolved repeatedly with 5x5 filters shrinks volumes spatially! (32 -> 28 -> 24 ...)"."""
    analysis = analyze_expression("conv(6, 5, padding=valid)-conv(6, 5, padding=valid)", (3, 32, 32))
    assert [info.shape[1] for _, info in analysis.rows()] == [32, 28, 24]


def test_six_5x5_filters_make_a_28x28x6_image():
    """Notes 001 near line 963: "if we had 6 5x5 filters … a “new image” of size 28x28x6!"."""
    assert last(analyze_expression("conv(6, 5, padding=valid)", (3, 32, 32))).shape == (6, 28, 28)


# --- LeNet-5 (notes 001 near line 1408; LeCun et al. 1998) ------------------------------------------
def test_lenet5_32_to_28():
    """Notes 001: "Conv filters were 5x5, applied at stride 1; Subsampling (Pooling) layers were 2x2
    applied at stride 2; i.e. [CONV-POOL-CONV-POOL-CONV-FC]". The paper: C1 6@28x28 with 156
    trainable parameters, S2 6@14x14, C3 16@10x10, S4 16@5x5, C5 120 maps of 1x1 with 48,120
    trainable connections, F6 84 units with 10,164 trainable parameters."""
    analysis = analyze_expression(
        "conv(6, 5, padding=valid)-tanh-avgpool - conv(16, 5, padding=valid)-tanh-avgpool"
        " - conv(120, 5, padding=valid)-tanh - fc(84)-tanh - fc(10)",
        (1, 32, 32),
    )
    rows = {node.id: info for node, info in analysis.rows()}
    assert rows["conv1"].shape == (6, 28, 28) and rows["conv1"].params == 156
    assert rows["pool1"].shape == (6, 14, 14)
    assert rows["conv2"].shape == (16, 10, 10)
    assert rows["pool2"].shape == (16, 5, 5)
    assert rows["conv3"].shape == (120, 1, 1) and rows["conv3"].params == 48_120
    assert rows["fc1"].shape == (84,) and rows["fc1"].params == 10_164
    assert rows["fc2"].shape == (10,)


def test_lenet5_zoo_spec_shapes():
    spec = ROOT / "specs" / "lenet5.yaml"
    shapes = [info.shape for node, info in analyze_file(str(spec)).rows() if node.kind in ("conv", "pool")]
    assert shapes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]


# --- AlexNet (notes 001 near line 1514) ------------------------------------------------------------
ALEXNET = (
    "conv(96, 11, stride=4, padding=0)-relu - maxpool(3, stride=2) - norm"
    " - conv(256, 5, stride=1, padding=2)-relu - maxpool(3, stride=2) - norm"
    " - conv(384, 3, padding=1)-relu - conv(384, 3, padding=1)-relu - conv(256, 3, padding=1)-relu"
    " - maxpool(3, stride=2) - FC-4096-relu - FC-4096-relu - FC-1000"
)
# "Full (simplified) AlexNet architecture", as [HxWxC] in the notes.
ALEXNET_SEED = [
    ("INPUT", (227, 227, 3)),
    ("CONV1", (55, 55, 96)),    # 96 11x11 filters at stride 4, pad 0; "(227-11)/4+1 = 55"
    ("POOL1", (27, 27, 96)),    # 3x3 filters at stride 2
    ("NORM1", (27, 27, 96)),
    ("CONV2", (27, 27, 256)),   # 256 5x5 filters at stride 1, pad 2
    ("POOL2", (13, 13, 256)),
    ("NORM2", (13, 13, 256)),
    ("CONV3", (13, 13, 384)),
    ("CONV4", (13, 13, 384)),
    ("CONV5", (13, 13, 256)),
    ("POOL3", (6, 6, 256)),
    ("FC6", (4096,)), ("FC7", (4096,)), ("FC8", (1000,)),
]


def _hwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape


def test_alexnet_227_55_27_13_6():
    analysis = analyze_expression(ALEXNET, (3, 227, 227))
    shapes = [_hwc(info.shape) for node, info in analysis.rows() if node.kind != "relu"]
    assert shapes == [shape for _, shape in ALEXNET_SEED]
    conv1 = analysis["conv1"]
    assert conv1.weights == 11 * 11 * 3 * 96 == 34_848  # "(11*11*3)*96 = 35K"
    assert analysis["pool1"].params == 0  # "Parameters: 0!"
    assert not analysis.warnings  # every window fits exactly: 227 → 55 → 27 → 13 → 6


def test_alexnet_zoo_spec_shapes():
    spec = ROOT / "specs" / "alexnet.yaml"
    if not spec.exists():
        pytest.skip("specs/alexnet.yaml not written yet")
    analysis = analyze_file(str(spec))
    shapes = [_hwc(info.shape) for node, info in analysis.rows() if node.kind in ("input", "conv", "pool", "lrn", "fc")]
    assert shapes == [shape for _, shape in ALEXNET_SEED]


# --- VGG16 (notes 001 near line 1763) --------------------------------------------------------------
# The notes' table, row for row: name, [HxWxC], memory (values; the notes write the product and
# round it), params ("not counting biases").
VGG16_SEED = [
    ("INPUT", (224, 224, 3), 224 * 224 * 3, "150K", 0),
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, "3.2M", 1_728),            # (3*3*3)*64
    ("CONV3-64", (224, 224, 64), 224 * 224 * 64, "3.2M", 36_864),           # (3*3*64)*64
    ("POOL2", (112, 112, 64), 112 * 112 * 64, "800K", 0),
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, "1.6M", 73_728),        # (3*3*64)*128
    ("CONV3-128", (112, 112, 128), 112 * 112 * 128, "1.6M", 147_456),       # (3*3*128)*128
    ("POOL2", (56, 56, 128), 56 * 56 * 128, "400K", 0),
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, "800K", 294_912),           # (3*3*128)*256
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, "800K", 589_824),           # (3*3*256)*256
    ("CONV3-256", (56, 56, 256), 56 * 56 * 256, "800K", 589_824),
    ("POOL2", (28, 28, 256), 28 * 28 * 256, "200K", 0),
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, "400K", 1_179_648),         # (3*3*256)*512
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, "400K", 2_359_296),         # (3*3*512)*512
    ("CONV3-512", (28, 28, 512), 28 * 28 * 512, "400K", 2_359_296),
    ("POOL2", (14, 14, 512), 14 * 14 * 512, "100K", 0),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, "100K", 2_359_296),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, "100K", 2_359_296),
    ("CONV3-512", (14, 14, 512), 14 * 14 * 512, "100K", 2_359_296),
    ("POOL2", (7, 7, 512), 7 * 7 * 512, "25K", 0),
    ("FC", (1, 1, 4096), 4096, "4096", 102_760_448),                       # 7*7*512*4096
    ("FC", (1, 1, 4096), 4096, "4096", 16_777_216),                        # 4096*4096
    ("FC", (1, 1, 1000), 1000, "1000", 4_096_000),                         # 4096*1000
]
VGG16_PARAMS = 138_357_544  # notes: "TOTAL params: 138M parameters"; torchvision's vgg16, exactly
VGG16_ACTIVATIONS = 15_237_608  # the sum of the notes' memory column (the notes' total says "24M")


def _rounded(value: int, text: str) -> bool:
    scale = {"K": 1e3, "M": 1e6}.get(text[-1], 1)
    return abs(value - float(text.rstrip("KM")) * scale) <= 0.05 * value


def test_vgg16_seed_table_is_self_consistent():
    """The literals above are the notes' own: the products round to the notes' figures, the rows
    sum to the totals (biases: one per filter or unit of the 13 conv and 3 FC layers)."""
    for name, _, memory, shown, _ in VGG16_SEED:
        assert _rounded(memory, shown), name
    biases = 2 * 64 + 2 * 128 + 3 * 256 + 6 * 512 + 4096 + 4096 + 1000
    assert sum(row[4] for row in VGG16_SEED) + biases == VGG16_PARAMS
    assert sum(row[2] for row in VGG16_SEED) == VGG16_ACTIVATIONS


def _seed_matches(shape, activations, weights, row) -> None:
    name, hwc, memory, _, params = row
    if name == "FC":
        assert shape == (hwc[2],), name
    else:
        assert _hwc(tuple(shape)) == hwc, name
    assert (activations, weights) == (memory, params), name


def test_vgg16_compact_table_json_reproduces_the_notes_row_by_row():
    done = netc("table", "specs/vgg16.yaml", "--compact", "--format", "json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert len(doc["layers"]) == len(VGG16_SEED)
    for layer, row in zip(doc["layers"], VGG16_SEED):
        _seed_matches(tuple(layer["output_shape"]), layer["activations"], layer["weights"], row)
    assert doc["totals"]["params"] == VGG16_PARAMS
    assert doc["totals"]["activations"] == VGG16_ACTIVATIONS


def test_vgg16_compact_text_table_reproduces_the_notes_row_by_row():
    done = netc("table", "specs/vgg16.yaml", "--compact")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    header = lines.index(next(line for line in lines if line.startswith("name")))
    assert set(lines[header + 1]) <= {"-", " "}
    rows = []
    for line in lines[header + 2:]:
        if not line.strip():
            break
        rows.append(re.split(r"\s{2,}", line.strip()))
    columns = re.split(r"\s{2,}", lines[header].strip())
    assert len(rows) == len(VGG16_SEED)
    for cells, row in zip(rows, VGG16_SEED):
        cell = dict(zip(columns, cells))
        shape = tuple(int(d) for d in cell["output"].split("×"))
        _seed_matches(shape, int(cell["activations"].replace(",", "")), int(cell["weights"].replace(",", "")), row)
    assert re.search(r"^params\s+138,357,544\b", done.stdout, re.MULTILINE)
    assert re.search(r"^activations\s+15,237,608\b", done.stdout, re.MULTILINE)


def test_vgg16_row_labels_in_the_notes_notation():
    analysis = analyze_file(str(ROOT / "specs" / "vgg16.yaml"))
    labels = [info.label for node, info in analysis.rows() if node.kind in ("conv", "pool", "fc")]
    assert labels[:4] == ["conv3-64", "conv3-64", "maxpool2", "conv3-128"]
    assert labels[-3:] == ["FC-4096", "FC-4096", "FC-1000"]


# --- receptive field -----------------------------------------------------------------------------
def test_three_stacked_3x3_convs_see_7x7():
    """Simonyan & Zisserman 2014, section 2.3: "a stack of three 3×3 conv. layers has an effective
    receptive field of 7×7" (two: 5×5). Read from the table's RF column."""
    done = netc("table", "-e", "conv3-64-relu-conv3-64-relu-conv3-64-relu", "--input", "3x32x32",
                "--format", "json", "--compact")
    assert done.returncode == 0, done.stderr
    fields = [layer["receptive_field"] for layer in json.loads(done.stdout)["layers"]]
    assert fields == [1, 3, 5, 7]


def test_a_shape_error_names_the_layer_and_the_pools_before_it():
    """The shape rule run backwards: 7×7 after three 2×2 pools of 56×56 cannot take an 11×11 conv."""
    with pytest.raises(NetcError) as caught:
        analyze_expression("conv3-64-maxpool-conv3-64-maxpool-maxpool-conv(64, 11, padding=0)", (3, 56, 56))
    message = caught.value.diagnostics[0].message
    assert "input 7×7 too small for conv 11×11" in message
    assert "after 3 pools" in message
