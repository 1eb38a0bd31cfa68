"""The liveness peaks (netc/analysis/liveness.py) against what the CPU allocator really holds.

Measured truth: torch.profiler's memory events during the generated module's inference_mode forward
and its training step (tests/torch_measures.py), in a process of its own per machine setting
(tests/memory_worker.py), each compared with the target netc predicts for that setting
(netc/analysis/targets). Small inputs, for the suite's time; the whole zoo at each spec's own input is in
benchmarks/RESULTS-memory-*.md."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from dataclasses import dataclass
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
EVERY = [(n, s, 2) for n, s in SMALL] + [(n, s, 1) for n, s in BATCH_ONE]
# What each backend rule is seen on: LeNet's 6 and 120 channels (block padding), ResNet-18's 2×2
# maps in its last stage (AVX2's partial weight gradients), MobileNet's depthwise convs (torch's
# group-by-group kernel without oneDNN), ResNet-20 at batch 1 (im2col), ResNet-50 at batch 1 (1×1
# convs run natively on one thread), ConvNeXt (channels-last depthwise 7×7).
RULES = [("lenet5", None, 2), ("resnet18", (3, 64, 64), 2), ("resnet_cifar", None, 1), ("resnet50", (3, 64, 64), 1),
         ("convnext_tiny", (3, 64, 64), 1)]
MKLDNN_OFF = [("lenet5", None, 2), ("resnet18", (3, 64, 64), 2), ("mobilenet_v2", (3, 32, 32), 2),
              ("resnet_cifar", None, 1), ("vgg11_lrn", (3, 64, 64), 2)]


@dataclass(frozen=True)
class Setting:
    """One way a machine runs torch: environment variables read when torch starts, its threads,
    and whether oneDNN is enabled; and the target netc predicts for it."""

    environ: tuple[tuple[str, str], ...]
    threads: int
    mkldnn: bool
    networks: tuple
    target_name: str = "cpu"  # cpu: detected under `environ`, as `netc table` would

    def target(self):
        from netc.analysis.targets import detect_cpu, resolve_target

        if self.target_name == "cpu":
            return detect_cpu(self.threads, environ={**os.environ, **dict(self.environ)})
        return resolve_target(self.target_name, self.threads)


# The settings this machine can reproduce: its own ISA, oneDNN capped at AVX2 and ATen's vector
# kernels at AVX2 and at none (default), oneDNN disabled, one thread.
SETTINGS = {
    "own": Setting((), 2, True, tuple(EVERY)),
    "avx2": Setting((("ONEDNN_MAX_CPU_ISA", "AVX2"), ("ATEN_CPU_CAPABILITY", "avx2")), 2, True, tuple(RULES)),
    "aten-default": Setting((("ATEN_CPU_CAPABILITY", "default"),), 2, True, tuple(RULES[:3])),
    "mkldnn-off": Setting((), 2, False, tuple(MKLDNN_OFF), "cpu-native"),
    "one-thread": Setting((), 1, True, tuple(RULES)),
}


def _item(name, shape, batch) -> str:
    return f"{name}:{'x'.join(map(str, shape)) if shape else ''}:{batch}"


@functools.cache
def _measured(setting_name: str) -> dict[str, dict]:
    """The allocator's peaks under one setting, measured in a process of its own."""
    setting = SETTINGS[setting_name]
    env = {**os.environ, **dict(setting.environ)}
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "memory_worker.py"), str(setting.threads),
                           "1" if setting.mkldnn else "0", *(_item(*n) for n in setting.networks)],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {row["item"]: row for row in rows}


@pytest.mark.parametrize("setting,name,shape,batch",
                         [(k, *n) for k, s in SETTINGS.items() for n in s.networks],
                         ids=lambda v: v if isinstance(v, str) else None)
def test_peaks_are_within_5_percent_of_the_allocator(setting, name, shape, batch):
    pytest.importorskip("torch")
    from netc.analysis.liveness import inference_peak as predicted_inference
    from netc.analysis.liveness import training_peak as predicted_training
    from netc.analysis.pipeline import analyze_file

    target = SETTINGS[setting].target()
    analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"), input_shape=shape)
    if target.note:  # an ISA netc has no model for: the table says what it assumed, and no figure is promised
        done = _table(str(ROOT / "specs" / f"{name}.yaml"))
        assert "assumed" in done.stdout
        return
    measured = _measured(setting)[_item(name, shape, batch)]
    predicted = predicted_inference(analysis, batch=batch, target=target).bytes
    assert abs(predicted - measured["inference"]) <= TOLERANCE * measured["inference"], \
        ("inference", target.name, predicted, measured["inference"])
    for optimizer in ("sgd", "adam"):
        predicted = predicted_training(analysis, batch=batch, optimizer=optimizer, target=target).peak.bytes
        assert abs(predicted - measured[optimizer]) <= TOLERANCE * measured[optimizer], \
            (optimizer, target.name, predicted, measured[optimizer])


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
    code = ("import sys; from netc.analysis.pipeline import analyze_file; from netc.analysis.memory import estimate_memory; "
            f"estimate_memory(analyze_file({str(ROOT / 'specs' / 'googlenet.yaml')!r}), 4, 'bfloat16', 'adam', amp=True); "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_the_target_is_read_off_the_cpu_and_its_environment():
    from netc.analysis.targets import detect_cpu

    avx512 = {"fpu", "avx", "avx2", "avx512f", "avx512bw", "avx512vl"}
    found = detect_cpu(2, flags=avx512, environ={})
    assert (found.name, found.detected, found.note) == ("cpu-avx512", True, "")
    assert detect_cpu(2, flags=avx512, environ={"ONEDNN_MAX_CPU_ISA": "AVX2"}).name == "cpu-avx2"  # oneDNN capped
    assert detect_cpu(2, flags=avx512, environ={"ONEDNN_MAX_CPU_ISA": "avx512_core_amx"}).name == "cpu-avx512"
    assert detect_cpu(1, flags={"avx", "avx2"}, environ={}).name == "cpu-avx2"
    unknown = detect_cpu(2, flags={"sse2", "sse4_1"}, environ={})
    assert not unknown.detected and "assumed" in unknown.note


def test_the_table_names_the_target_its_peaks_are_for():
    spec = str(ROOT / "specs" / "resnet18.yaml")
    docs = {t: json.loads(_table(spec, "--format", "json", "--target", t, "--threads", "2").stdout)["memory"]
            for t in ("cpu-avx512", "cpu-native", "cuda")}
    assert {t: d["target"]["name"] for t, d in docs.items()} == {t: t for t in docs}
    assert not any(d["target"]["detected"] for d in docs.values())
    assert "unverified" in docs["cuda"]["target"]["note"]
    # The figure follows the target: oneDNN's blocked copies are not torch's im2col buffers.
    assert docs["cpu-avx512"]["inference_peak"]["bytes"] != docs["cpu-native"]["inference_peak"]["bytes"]
    text = _table(spec, "--target", "cuda").stdout
    assert "peaks for target cuda (named; CUDA caching allocator" in text and "unverified" in text
    here = json.loads(_table(spec, "--format", "json").stdout)["memory"]["target"]
    assert here["name"].startswith("cpu-") and here["threads"] >= 1
    done = _table(spec, "--target", "tpu")
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_cuda_blocks_are_rounded_to_512_bytes():
    from netc.analysis.targets import resolve_target

    cuda = resolve_target("cuda")
    assert [cuda.allocation(n) for n in (1, 512, 513, 4 * 1000)] == [512, 512, 1024, 4096]
