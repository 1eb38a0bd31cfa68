"""The liveness peaks (netc/liveness.py) against what the CPU allocator really holds.

Measured truth: torch.profiler's memory events during the generated module's inference_mode forward
and its training step (tests/torch_measures.py). Small inputs, for the suite's time; the whole zoo
at each spec's own input is in benchmarks/RESULTS-memory.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 0.05

# (spec, input) small enough for the suite: a few seconds each on two cores.
SMALL = [("lenet5", None), ("resnet18", (3, 64, 64)), ("googlenet_torchvision", (3, 96, 96)), ("vgg11_lrn", (3, 64, 64)),
         ("mobilenet_v2", (3, 64, 64)), ("squeezenet", (3, 96, 96)), ("densenet121", (3, 64, 64)),
         ("shufflenet_v2", (3, 64, 64)), ("resnet_cifar", None), ("alphago_policy", None), ("inception_v3", (3, 96, 96))]


# At batch 1 torch runs small convs with its own im2col kernel instead of oneDNN (ResNet-20's
# 16×32×32 maps), and ConvNeXt's layer norms leave channels-last tensors that oneDNN reads as they
# are; ResNet-50's strided 1×1 projections keep an input copy and a blocked output at once; YOLOv8's
# C2f blocks hold their branches in forward's variables until they return.
BATCH_ONE = [("resnet_cifar", None), ("convnext_tiny", (3, 64, 64)), ("resnet50", (3, 64, 64)), ("yolov8", None)]


@pytest.mark.parametrize("name,shape,batch", [(n, s, 2) for n, s in SMALL] + [(n, s, 1) for n, s in BATCH_ONE])
def test_peaks_are_within_5_percent_of_the_allocator(name, shape, batch):
    torch = pytest.importorskip("torch")
    from torch_measures import inference_peak, training_peak

    from netc.analysis import analyze_file
    from netc.codegen import build_module
    from netc.liveness import inference_peak as predicted_inference
    from netc.liveness import training_peak as predicted_training

    threads = torch.get_num_threads()
    torch.set_num_threads(max(2, threads))  # the model's assumption: torch on more than one thread
    try:
        torch.manual_seed(0)
        analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"), input_shape=shape)
        model = build_module(analysis)
        x = torch.randn(batch, *analysis.network.input_shape)
        measured, predicted = inference_peak(model, x), predicted_inference(analysis, batch=batch).bytes
        assert abs(predicted - measured) <= TOLERANCE * measured, ("inference", predicted, measured)
        for optimizer in ("sgd", "adam"):
            measured = training_peak(model, x, optimizer)
            predicted = predicted_training(analysis, batch=batch, optimizer=optimizer).peak.bytes
            assert abs(predicted - measured) <= TOLERANCE * measured, (optimizer, predicted, measured)
    finally:
        torch.set_num_threads(threads)


def _table(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netc", "table", *args], capture_output=True, text=True, cwd=ROOT)


def test_the_table_shows_both_peaks_and_json_carries_them():
    done = _table(str(ROOT / "specs" / "resnet18.yaml"))
    assert done.returncode == 0, done.stderr
    assert "  training peak " in done.stdout and "inference peak, batch 1, float32:" in done.stdout
    doc = json.loads(_table(str(ROOT / "specs" / "resnet18.yaml"), "--format", "json").stdout)["memory"]
    assert doc["inference_peak"]["layer"] and doc["inference_peak"]["bytes"] > 0
    assert doc["training_peak"]["phase"] in ("forward", "backward", "step")
    # The peak frees activations during backward: below the keep-everything total.
    assert doc["parameters"] + doc["gradients"] < doc["training_peak"]["bytes"] < doc["total"]


def test_amp_keeps_float32_weights_gradients_and_state():
    spec = str(ROOT / "specs" / "lenet5.yaml")
    pure = json.loads(_table(spec, "--format", "json", "--dtype", "float16", "--optimizer", "adam").stdout)
    amp = json.loads(_table(spec, "--format", "json", "--dtype", "float16", "--optimizer", "adam", "--amp").stdout)
    params = pure["totals"]["params"]
    assert pure["memory"]["parameters"] == 2 * params and not pure["memory"]["amp"]
    assert amp["memory"]["amp"] and amp["memory"]["parameters"] == amp["memory"]["gradients"] == 4 * params
    assert amp["memory"]["optimizer_state"] == 2 * 4 * params
    assert amp["memory"]["activations"] == pure["memory"]["activations"]  # half activations either way
    assert amp["memory"]["training_peak"]["weight_copies"] > 0
    done = _table(spec, "--amp")
    assert done.returncode == 2 and "--amp needs a half --dtype" in done.stderr and "Traceback" not in done.stderr


def test_the_analysis_path_does_not_import_torch():
    code = ("import sys; from netc.analysis import analyze_file; from netc.memory import estimate_memory; "
            f"estimate_memory(analyze_file({str(ROOT / 'specs' / 'googlenet.yaml')!r}), 4, 'bfloat16', 'adam', amp=True); "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
