"""`netc table`: the four formats, the JSON contract, --compact, the memory estimate, -e and -D.

Numbers are checked against arithmetic done here from first principles, against networks built
by hand in torch (parameter, gradient and optimizer-state bytes), or against each other across
formats (csv rows sum to the json totals); never against a stored netc output.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYER_KEYS = {"name", "kind", "output_shape", "params", "weights", "biases", "activations", "macs", "flops",
              "receptive_field"}
TOTAL_KEYS = {"params", "activations", "macs", "flops"}

# A small network with a merge, batch norm, a flatten-free dense layer and a doesn't-fit-free
# geometry, written for these tests.
SMALL = """\
name: small
input: [3, 32, 32]
blocks:
  res:
    args: [w]
    residual: conv(w, 3, bias=false)-bn-relu-conv(w, 3, bias=false)-bn
    after: relu
network: conv(16, 3)-relu - maxpool - res(16) - res(32) - maxpool - dropout(0.2) - fc(10) - softmax
"""


def netc(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def table(*args: str) -> str:
    done = netc("table", *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def small(tmp_path: Path) -> str:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL)
    return str(path)


# --- formats ----------------------------------------------------------------------------------------
def test_json_keys_are_the_contract(small):
    doc = json.loads(table(small, "--format", "json"))
    assert doc["name"] == "small"
    assert doc["input"] == [3, 32, 32]
    assert doc["layers"] and all(LAYER_KEYS <= set(layer) for layer in doc["layers"])
    assert TOTAL_KEYS <= set(doc["totals"])
    for layer in doc["layers"]:
        assert layer["params"] == layer["weights"] + layer["biases"]
        assert layer["activations"] == _numel(layer["output_shape"])
        assert isinstance(layer["receptive_field"], int) and layer["receptive_field"] >= 1
    assert doc["layers"][0]["kind"] == "input" and doc["layers"][0]["output_shape"] == [3, 32, 32]
    for key in ("params", "macs", "flops"):
        assert doc["totals"][key] == sum(layer[key] for layer in doc["layers"])


def _numel(shape) -> int:
    total = 1
    for d in shape:
        total *= d
    return total


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("compact", [False, True])
def test_csv_parses_and_sums_to_the_totals(small, compact):
    flags = ["--compact"] if compact else []
    rows = _csv(table(small, "--format", "csv", *flags))
    totals = json.loads(table(small, "--format", "json", *flags))["totals"]
    assert rows and LAYER_KEYS <= set(rows[0])
    for key in ("params", "macs", "flops"):
        assert sum(int(r[key]) for r in rows) == totals[key], key
    if compact:  # the notes' count: one volume per layer, activations and BN folded in
        assert sum(int(r["activations"]) for r in rows) == totals["activations"]
    for r in rows:
        assert int(r["params"]) == int(r["weights"]) + int(r["biases"])
        assert int(r["activations"]) == _numel(int(d) for d in r["output_shape"].split("x"))


def test_compact_folds_activation_bn_and_dropout_rows(small):
    full = json.loads(table(small, "--format", "json"))["layers"]
    compact = json.loads(table(small, "--format", "json", "--compact"))["layers"]
    folded = {"relu", "bn", "dropout", "softmax", "flatten", "identity"}
    assert [layer["name"] for layer in compact] == [
        layer["name"] for layer in full if layer["kind"] not in folded]
    by_name = {layer["name"]: layer for layer in compact}
    # res1's first conv absorbs its bn (16 scales + 16 shifts) and relu
    assert by_name["res1.conv1"]["params"] == 3 * 3 * 16 * 16 + 2 * 16
    assert by_name["res1.conv1"]["biases"] == 16


def test_an_identity_shortcut_has_no_row_and_a_projection_keeps_its_own(small):
    """res(16) keeps 16×16×16, so its shortcut is its input: no layer, no row. res(32) projects:
    a 1×1 conv with batch norm (the body has it), its row kept in every format."""
    for options in ((), ("--compact",)):
        names = [layer["name"] for layer in json.loads(table(small, "--format", "json", *options))["layers"]]
        assert "res1.shortcut" not in names and "res2.shortcut" in names
    text = table(small)
    assert "res1.shortcut" not in text and "res2.shortcut" in text
    rows = {layer["name"]: layer for layer in json.loads(table(small, "--format", "json"))["layers"]}
    assert rows["res2.shortcut"]["weights"] == 16 * 32 + 32  # the 1×1 conv and its batch norm's scales


def test_activation_total_counts_one_volume_per_layer(small):
    """The notes' count: the input and each conv/pool/fc/merge output, by hand for SMALL; ReLU, BN,
    dropout and softmax add no volume, and neither does res1's identity shortcut."""
    conv_pool = 16 * 32 * 32 + 16 * 16 * 16  # conv1, pool1
    res1 = 2 * 16 * 16 * 16 + 16 * 16 * 16  # two convs, add
    res2 = 2 * 32 * 16 * 16 + 32 * 16 * 16 + 32 * 16 * 16  # two convs, projection, add
    tail = 32 * 8 * 8 + 10  # pool2, fc1
    doc = json.loads(table(small, "--format", "json"))
    assert doc["totals"]["activations"] == 3 * 32 * 32 + conv_pool + res1 + res2 + tail


def test_text_table_has_one_row_per_layer(small):
    text = table(small)
    doc = json.loads(table(small, "--format", "json"))
    lines = text.splitlines()
    assert lines[0] == "small: input 3×32×32"
    header = re.split(r"\s{2,}", lines[1].strip())
    assert header == ["name", "layer", "output", "params", "weights", "activations", "MACs", "FLOPs", "RF"]
    rows = lines[3:3 + len(doc["layers"])]
    assert [r.split()[0] for r in rows] == [layer["name"] for layer in doc["layers"]]
    assert lines[3 + len(doc["layers"])] == ""
    assert f"params       {doc['totals']['params']:,}" in text
    assert f"FLOPs        {doc['totals']['flops']:,}" in text


def test_markdown_table(small):
    text = table(small, "--format", "markdown")
    doc = json.loads(table(small, "--format", "json"))
    lines = text.splitlines()
    assert lines[0] == "### small"
    rows = [line for line in lines if line.startswith("|")]
    assert rows[0] == "| name | layer | output | params | weights | activations | MACs | FLOPs | RF |"
    assert set(rows[1]) <= set("|-: ")
    body = rows[2:]
    assert len(body) == len(doc["layers"])
    for row, layer in zip(body, doc["layers"]):
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert cells[0] == layer["name"]
        assert cells[3] == f"{layer['params']:,}"
        assert cells[7] == f"{layer['flops']:,}"


def test_output_file(small, tmp_path):
    target = tmp_path / "out.csv"
    done = netc("table", small, "--format", "csv", "-o", str(target))
    assert done.returncode == 0 and done.stdout == ""
    assert target.read_text() == table(small, "--format", "csv")


# --- memory estimate --------------------------------------------------------------------------------
def test_memory_estimate_arithmetic(small):
    doc = json.loads(table(small, "--format", "json", "--batch", "32", "--dtype", "float16", "--optimizer", "adam"))
    params, memory = doc["totals"]["params"], doc["memory"]
    kept = memory["kept_for_backward"]
    assert (memory["batch"], memory["dtype"], memory["optimizer"]) == (32, "float16", "adam")
    assert memory["parameters"] == params * 2  # 2 bytes per float16
    assert memory["gradients"] == params * 2
    assert memory["optimizer_state"] == 2 * params * 2  # Adam: first and second moments
    assert memory["activations"] == (32 * (kept["values_per_image"] * 2 + kept["int64_indices_per_image"] * 8)
                                     + kept["values_per_batch"] * 2)
    assert memory["total"] == memory["parameters"] + memory["gradients"] + memory["optimizer_state"] + memory["activations"]
    text = table(small, "--batch", "32", "--dtype", "float16", "--optimizer", "adam")
    assert "training memory, batch 32, float16, adam" in text


@pytest.mark.parametrize("optimizer,states", [("sgd", 0), ("momentum", 1), ("adam", 2)])
def test_memory_defaults_and_optimizers(small, optimizer, states):
    doc = json.loads(table(small, "--format", "json", "--optimizer", optimizer))
    params = doc["totals"]["params"]
    assert doc["memory"]["batch"] == 1 and doc["memory"]["dtype"] == "float32"
    assert doc["memory"]["optimizer_state"] == states * params * 4


def test_parameter_gradient_and_optimizer_bytes_against_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    out = table("-e", "conv3-64-relu-maxpool-FC-10", "--input", "3x32x32", "--format", "json",
                "--dtype", "float16", "--optimizer", "adam", "--batch", "4")
    memory = json.loads(out)["memory"]
    model = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(64 * 16 * 16, 10)).to(torch.float16)
    assert memory["parameters"] == sum(p.numel() * p.element_size() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(4, 3, 32, 32, dtype=torch.float16)).sum().backward()
    assert memory["gradients"] == sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
    optimizer.step()
    state = [t for s in optimizer.state.values() for key, t in s.items() if key != "step"]  # step: one scalar
    assert memory["optimizer_state"] == sum(t.numel() * t.element_size() for t in state)

    momentum = json.loads(table("-e", "conv3-64-relu-maxpool-FC-10", "--input", "3x32x32", "--format", "json",
                                "--optimizer", "momentum"))["memory"]
    model = model.float()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    optimizer.step()
    buffers = [s["momentum_buffer"] for s in optimizer.state.values()]
    assert momentum["optimizer_state"] == sum(t.numel() * t.element_size() for t in buffers)


# --- activations kept for backward, against torch's autograd -----------------------------------------
# Every kind's backward, and the cases where tensors are shared: in-place activations after a
# conv/BN/add (not after a sigmoid, a block's input or a mark), flatten and reshape views, identity
# shortcuts, heads reading one tensor.
KINDS_TOUR = """\
name: tour
input: [3, 33, 33]
defaults:
  leakyrelu: {slope: 0.2}
blocks:
  two:
    parallel:
      - conv(4, 1)-elu
      - conv(4, 3)-leakyrelu(-0.1)
      - identity
  pre:
    residual: relu-conv(16, 3)-bn-sigmoid-conv(16, 1)
    shortcut: identity
network: conv(8, 3)-bn-relu - lrn(3) - maxpool(3, stride=2, ceil=true) - two-relu - l2pool(2) - upsample - pre
  - upsample(2, mode=bilinear) - deconv(16, 3, stride=2, padding=1)-relu - avgpool(2) - avgpool(2)
  - avgpool(2) - conv(12, 3, stride=2, padding=0)-softplus - <m> - adaptiveavgpool(2) - flatten - dropout(0.3)
  - fc(48)-lrelu - reshape(3, 4, 4) - flatten - fc(10)-tanh - fc(12)-relu6 - fc(12)-silu - fc(12)-gelu
heads:
  scores: fc(5)-softmax
  aux: {from: m, body: "globalavgpool-fc(6)-logsoftmax"}
"""
# The layers after the lecture notes': ShuffleNet v2's unit (a channel split by slices, group and
# instance norm, a channel shuffle), a max-pooled gate, darknet's padded pool, maxout, channel dropout.
MODERN_TOUR = """\
name: tour2
input: [3, 20, 20]
blocks:
  unit:
    args: [c]
    parallel:
      - slice(0, c // 2)
      - slice(c // 2, c)-conv(c // 2, 1)-groupnorm(2)-relu-conv(c // 2, 3, groups=c // 2)-instancenorm(affine=true)
        -conv(c // 2, 1)-prelu-relu
    after: channelshuffle(2)
  gate:
    args: [c]
    residual: globalmaxpool-conv(c, 1)-hardsigmoid
    shortcut: identity
    merge: mul
network: conv(8, 3)-hardswish-relu - unit(8) - unit(8) - gate(8) - zeropad(0, 1, 0, 1)-maxpool(2, stride=1)-relu
  - dropout2d(0.2) - conv(12, 3)-maxout(3)-relu - slice(1, 3)-relu - adaptivemaxpool(3)-relu - zeropad(1)-relu
  - instancenorm-relu - flatten - fc(6)-prelu(1)-hardsigmoid
"""
SAVED_SPECS = ["lenet5", "alexnet", "googlenet", "resnet18", "resnet_cifar", "squeezenet", "mobilenet_v1", "unet",
               "densenet121", "localization", "alphago_policy", "generic"]


@pytest.mark.parametrize("name", ["tour", "tour2", *SAVED_SPECS])
def test_activations_kept_for_backward_equal_what_torch_keeps(name, tmp_path):
    torch = pytest.importorskip("torch")
    from torch_measures import saved_bytes

    from netc.analysis.memory import estimate_memory
    from netc.analysis.pipeline import analyze_file
    from netc.backends.codegen import build_module

    path = ROOT / "specs" / f"{name}.yaml"
    if name in ("tour", "tour2"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(KINDS_TOUR if name == "tour" else MODERN_TOUR)
    analysis = analyze_file(str(path))
    model = build_module(analysis).train()
    batch = 1 if name in ("densenet121", "localization") else 3  # the big ones at batch 1, for time
    for dtype, torch_dtype in (("float32", torch.float32), ("float64", torch.float64))[: 2 if name.startswith("tour") else 1]:
        model = model.to(torch_dtype)
        x = torch.randn(batch, *analysis.network.input_shape, dtype=torch_dtype)
        estimate = estimate_memory(analysis, batch=batch, dtype=dtype)
        assert estimate.activations == saved_bytes(model, x), (name, dtype)


# --- -e and -D --------------------------------------------------------------------------------------
def test_a_fractional_step_after_upsampling_is_written_exactly():
    """A ×2 upsample halves the step: JSON writes "1/2" (JSON has no fractions), the text table ×2.
    The steps are torch's (tests/test_against_torch.py measures them by backpropagation)."""
    doc = json.loads(table("-e", "conv(4, 3)-upsample-conv(4, 2, padding=0)", "--input", "3x8x8", "--format", "json"))
    steps = [(layer["receptive_field"], layer["jump"]) for layer in doc["layers"]]
    assert steps == [(1, 1), (3, 1), (3, "1/2"), ("7/2", "1/2")]
    text = table("-e", "conv(4, 3)-upsample-conv(4, 2, padding=0)", "--input", "3x8x8")
    assert "3 ×2" in text and "7/2 ×2" in text


def test_expression_on_the_command_line():
    doc = json.loads(table("-e", "conv3-64-relu-maxpool-FC-10", "--input", "3x32x32", "--format", "json"))
    shapes = [layer["output_shape"] for layer in doc["layers"]]
    assert shapes == [[3, 32, 32], [64, 32, 32], [64, 32, 32], [64, 16, 16], [10]]
    conv = 3 * 3 * 3 * 64 + 64
    fc = 64 * 16 * 16 * 10 + 10
    assert doc["totals"]["params"] == conv + fc == 165_642
    assert doc["totals"]["flops"] == 2 * (64 * 32 * 32 * 27 + 64 * 16 * 16 * 10)
    text = table("-e", "conv3-64-relu-maxpool-FC-10", "--input", "3x32x32")
    assert "165,642" in text


GENERIC = """\
name: generic
input: [3, 32, 32]
params: {N: 2, M: 3, K: 1, classes: 10}
defaults:
  conv: {filters: 64, kernel: 3, stride: 1, padding: same}
  pool: {type: max, kernel: 2, stride: 2}
  fc: {units: 512}
network: "[(CONV-RELU)*N-POOL]*M-(FC-RELU)*K-FC(classes)-SOFTMAX"
"""


def _generic_params(n: int, m: int, k: int, size: int = 32) -> tuple[int, int, int]:
    """Parameters, conv layers and fc layers of the notes' template, counted by hand."""
    params, channels = 0, 3
    for _ in range(m):
        for _ in range(n):
            params += 3 * 3 * channels * 64 + 64
            channels = 64
        size //= 2
    features = channels * size * size
    for _ in range(k):
        params += features * 512 + 512
        features = 512
    return params + features * 10 + 10, n * m, k + 1


def test_defines_override_params(tmp_path):
    spec = tmp_path / "generic.yaml"
    spec.write_text(GENERIC)
    default = json.loads(table(str(spec), "--format", "json"))
    assert default["totals"]["params"] == _generic_params(2, 3, 1)[0]
    doc = json.loads(table(str(spec), "-D", "N=3", "-D", "M=4", "-D", "K=2", "--format", "json"))
    params, convs, fcs = _generic_params(3, 4, 2)
    assert doc["totals"]["params"] == params
    assert sum(layer["kind"] == "conv" for layer in doc["layers"]) == convs == 12
    assert sum(layer["kind"] == "fc" for layer in doc["layers"]) == fcs == 3
    assert doc["layers"][-1]["output_shape"] == [10]


def test_defines_on_the_zoo_generic_spec():
    spec = ROOT / "specs" / "generic.yaml"
    if not spec.exists():
        pytest.skip("specs/generic.yaml not written yet")
    doc = json.loads(table(str(spec), "-D", "N=3", "-D", "M=4", "-D", "K=2", "--format", "json"))
    assert sum(layer["kind"] == "conv" for layer in doc["layers"]) == 3 * 4
    assert sum(layer["kind"] == "pool" for layer in doc["layers"]) == 4
    assert sum(layer["kind"] == "fc" for layer in doc["layers"]) == 2 + 1


def test_generic_template_against_torch(tmp_path):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    spec = tmp_path / "generic.yaml"
    spec.write_text(GENERIC)
    doc = json.loads(table(str(spec), "-D", "N=3", "-D", "M=4", "-D", "K=2", "--format", "json"))
    layers: list = []
    channels = 3
    for _ in range(4):
        for _ in range(3):
            layers += [nn.Conv2d(channels, 64, 3, padding=1), nn.ReLU()]
            channels = 64
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(64 * 2 * 2, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
               nn.Linear(512, 10), nn.Softmax(dim=1)]
    model = nn.Sequential(*layers)
    assert doc["totals"]["params"] == sum(p.numel() for p in model.parameters())
    assert list(model(torch.zeros(1, 3, 32, 32)).shape[1:]) == doc["layers"][-1]["output_shape"]
