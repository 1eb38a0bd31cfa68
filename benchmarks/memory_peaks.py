"""Predicted vs measured peak memory for every zoo spec: inference and one training step.

Predicted: netc/analysis/liveness.py (the analysis path, no torch). Measured: the CPU allocator's events
recorded by torch.profiler (profile_memory=True) during the generated module's real
`torch.inference_mode()` forward and its training step (forward, backward from a gradient of ones per
output, optimizer.step; zero_grad(set_to_none=True) before it): tests/torch_measures.py.
Each spec at its own input, batch 1, float32. Writes benchmarks/RESULTS-memory-TARGET.md (the target
the prediction is for: this machine detected, or cpu-native with --no-mkldnn).

    .venv/bin/python benchmarks/memory_peaks.py [--optimizer sgd] [SPEC ...]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    import torch
    from torch_measures import inference_peak, training_peak

    from netc.analysis.liveness import inference_peak as predict_inference
    from netc.analysis.liveness import training_peak as predict_training
    from netc.analysis.pipeline import analyze_file
    from netc.backends.codegen import build_module

    parser = argparse.ArgumentParser()
    parser.add_argument("specs", nargs="*")
    parser.add_argument("--optimizer", default="sgd", choices=("sgd", "momentum", "adam"))
    parser.add_argument("--threads", type=int, default=2, help="torch's CPU threads (the prediction's too)")
    parser.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn.enabled = False (target cpu-native)")
    parser.add_argument("-o", "--output", help="default: benchmarks/RESULTS-memory-TARGET.md")
    args = parser.parse_args()
    from netc.analysis.targets import detect_cpu, resolve_target

    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    target = resolve_target("cpu-native", args.threads) if args.no_mkldnn else detect_cpu(args.threads)
    args.target = target
    args.output = args.output or str(ROOT / "benchmarks" / f"RESULTS-memory-{target.name}.md")
    names = args.specs or sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
    torch.manual_seed(0)
    rows = []
    for name in names:
        start = time.perf_counter()
        analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"))
        if sum(1 for n in analysis.network.nodes() if not n.inputs) > 1:
            # An image and its RoIs: the estimate scales per-image terms by R (README, "Several inputs").
            print(f"{name}: several inputs, left out (the memory model of per-RoI layers is approximate)", flush=True)
            continue
        model = build_module(analysis)
        x = torch.randn(1, *analysis.network.input_shape)
        inf_measured = inference_peak(model, x)
        inf = predict_inference(analysis, target=target)
        train_measured = training_peak(model, x, args.optimizer)
        train = predict_training(analysis, optimizer=args.optimizer, target=target)
        rows.append((name, "×".join(map(str, analysis.network.input_shape)), inf.bytes, inf_measured, inf.layer,
                     train.peak.bytes, train_measured, f"{train.peak.phase} {train.peak.layer}".strip()))
        print(f"{name}: inference {inf.bytes / 1e6:.2f} vs {inf_measured / 1e6:.2f} MB, training "
              f"{train.peak.bytes / 1e6:.2f} vs {train_measured / 1e6:.2f} MB ({time.perf_counter() - start:.0f} s)",
              flush=True)
        write(rows, args, torch.__version__)
    return 0


def write(rows, args, torch_version: str) -> None:
    def err(predicted: int, measured: int) -> str:
        return f"{(predicted - measured) / measured * 100:+.1f}%"

    lines = [
        "# Peak memory: predicted (netc/analysis/liveness.py) vs measured (CPU allocator)", "",
        f"`.venv/bin/python benchmarks/memory_peaks.py --optimizer {args.optimizer} --threads {args.threads}"
        f"{' --no-mkldnn' if args.no_mkldnn else ''}` — batch 1, float32, "
        f"{args.optimizer}, each spec at its own input; torch {torch_version}, {platform.machine()} CPU; "
        f"predicted for target {args.target.describe()}. Measured: the running sum of torch.profiler's `[memory]` events "
        "(every allocation and free of the CPU allocator) during one `inference_mode()` forward, and during "
        "one training step (forward, backward from a ones gradient per output, optimizer.step) after a "
        "first step; plus what was there before (the input batch; for training also parameters and "
        "optimizer state). Buffers (BN running statistics) are left out of both.", "",
        "| spec | input | inference predicted | measured | error | at | training predicted | measured | error | at |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    worst_inf = worst_train = 0.0
    for name, shape, inf, inf_m, inf_at, train, train_m, train_at in rows:
        lines.append(f"| {name} | {shape} | {inf / 1e6:.2f} MB | {inf_m / 1e6:.2f} MB | {err(inf, inf_m)} | {inf_at} "
                     f"| {train / 1e6:.2f} MB | {train_m / 1e6:.2f} MB | {err(train, train_m)} | {train_at} |")
        worst_inf = max(worst_inf, abs(inf - inf_m) / inf_m * 100)
        worst_train = max(worst_train, abs(train - train_m) / train_m * 100)
    lines += ["", f"Largest error: inference {worst_inf:.1f}%, training {worst_train:.1f}% ({len(rows)} specs).", ""]
    Path(args.output).write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
