"""Issue 15's prepared GPU check, for a lent CUDA machine (a few minutes; not run on a CPU-only one):

1. every zoo spec (specs/*.yaml, at 3×224×224 or its own input, batch 8): forward + backward on CUDA in
   float32 and under bf16 autocast with channels_last — it runs, and its outputs are finite;
2. the memory predictions (netc/analysis/liveness.py) against `torch.cuda.max_memory_allocated` for the
   training step (SGD) and the inference_mode forward, float32, batch 8; the allowance for cuDNN's
   workspace is whatever the difference shows, reported per spec;
3. images/s of the generated ResNet-50, MobileNet v2 and EfficientNet-B0 against torchvision's under
   the same loop: training step (bf16 autocast, channels_last) and inference (the ordinary module and
   the inference build, `netc.build(spec, inference=True)`), alternating, medians.

    python benchmarks/gpu_check.py            # writes benchmarks/RESULTS-gpu.md
    python benchmarks/gpu_check.py --quick    # three specs, fewer steps

Without CUDA it says so and exits 0, writing nothing. Needs torch with CUDA and torchvision.
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import torch

TWINS = (("resnet50", "resnet50"), ("mobilenet_v2", "mobilenet_v2"), ("efficientnet", "efficientnet_b0"))


def _outputs(out) -> list[torch.Tensor]:
    return list(out.values()) if isinstance(out, dict) else [out]


def zoo_runs(specs: list[Path], batch: int) -> list[str]:
    from netc import build

    rows = ["| spec | fp32 fwd+bwd | bf16 + channels_last | predicted train MB | measured train MB | "
            "predicted infer MB | measured infer MB |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    from netc.analysis.liveness import inference_peak, training_peak
    from netc.analysis.pipeline import analyze_file
    from netc.analysis.targets import resolve_target

    cuda = resolve_target("cuda")  # the caching allocator's model (netc/analysis/targets/cuda.py)
    for path in specs:
        analysis = analyze_file(str(path))
        if sum(1 for n in analysis.network.nodes() if not n.inputs) > 1:
            continue  # an image and its RoIs (Fast R-CNN): this check feeds one input
        model = build(str(path)).cuda().train()
        x = torch.randn(batch, *analysis.network.input_shape, device="cuda")
        cells = []
        for amp in (False, True):
            try:
                m = model.to(memory_format=torch.channels_last) if amp and x.dim() == 4 else model
                xi = x.to(memory_format=torch.channels_last) if amp and x.dim() == 4 else x
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                    outs = _outputs(m(xi))
                sum(o.float().sum() for o in outs).backward()
                cells.append("ok" if all(torch.isfinite(o).all() for o in outs) else "not finite")
            except RuntimeError as exc:  # out of memory on a small GPU, an unsupported kernel
                cells.append(f"failed: {str(exc)[:60]}")
            model.zero_grad(set_to_none=True)
        model = build(str(path)).cuda().train()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        sum(o.sum() for o in _outputs(model(x))).backward()
        optimizer.step()
        torch.cuda.synchronize()
        measured_train = torch.cuda.max_memory_allocated() - before + sum(
            p.numel() * p.element_size() for p in model.parameters())
        del optimizer
        model.zero_grad(set_to_none=True)
        model.eval()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        with torch.inference_mode():
            model(x)
        torch.cuda.synchronize()
        measured_infer = torch.cuda.max_memory_allocated() - before + x.numel() * x.element_size()
        predicted_train = training_peak(analysis, batch, target=cuda).peak.bytes
        predicted_infer = inference_peak(analysis, batch, target=cuda).bytes
        rows.append(f"| {path.stem} | {cells[0]} | {cells[1]} | {predicted_train / 2**20:.1f} | "
                    f"{measured_train / 2**20:.1f} | {predicted_infer / 2**20:.1f} | {measured_infer / 2**20:.1f} |")
        del model
        torch.cuda.empty_cache()
    return rows


def _timed(fn) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - start


def speed_runs(batch: int, warmup: int, iters: int) -> list[str]:
    import torchvision

    from netc import build

    rows = ["| network | train: netc / torchvision | inference: netc / torchvision | inference build / torchvision |",
            "| --- | ---: | ---: | ---: |"]
    x = torch.randn(batch, 3, 224, 224, device="cuda").to(memory_format=torch.channels_last)
    labels = torch.randint(0, 1000, (batch,), device="cuda")
    for spec, twin in TWINS:
        models = {"netc": build(str(ROOT / "specs" / f"{spec}.yaml")), "tv": getattr(torchvision.models, twin)(),
                  "inference": build(str(ROOT / "specs" / f"{spec}.yaml"), inference=True)}
        for m in models.values():
            m.cuda().to(memory_format=torch.channels_last)
        optimizers = {k: torch.optim.SGD(models[k].parameters(), lr=0.01, momentum=0.9) for k in ("netc", "tv")}

        def train_step(k):
            def run():
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    loss = torch.nn.functional.cross_entropy(models[k](x), labels)
                optimizers[k].zero_grad(set_to_none=True)
                loss.backward()
                optimizers[k].step()
            return run

        def infer(k):
            def run():
                with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                    models[k](x)
            return run

        ratios: dict[str, list[float]] = {"train": [], "infer": [], "build": []}
        for m in models.values():
            m.train()
        for k in range(warmup + iters):
            a, b = _timed(train_step("netc")), _timed(train_step("tv"))
            if k >= warmup:
                ratios["train"].append(b / a)
        for m in models.values():
            m.eval()
        for k in range(warmup + iters):
            a, b, c = _timed(infer("netc")), _timed(infer("tv")), _timed(infer("inference"))
            if k >= warmup:
                ratios["infer"].append(b / a)
                ratios["build"].append(b / c)
        rows.append(f"| {spec} | {statistics.median(ratios['train']):.3f} | {statistics.median(ratios['infer']):.3f} | "
                    f"{statistics.median(ratios['build']):.3f} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; skipped (nothing recorded)")
        return 0
    torch.backends.cudnn.benchmark = True
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    if args.quick:
        specs = [p for p in specs if p.stem in ("resnet18", "mobilenet_v2", "unet")]
    lines = [
        "# GPU check: the zoo on CUDA, memory predictions, speed against torchvision",
        "",
        f"Recorded {datetime.date.today()} by `python benchmarks/gpu_check.py{' --quick' if args.quick else ''}`; "
        f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}. Ratios ≥ 1.00: netc is not slower.",
        "",
        "## Every zoo spec, batch 8 (memory: training step with SGD, float32; inference_mode forward)",
        "",
        *zoo_runs(specs, 8),
        "",
        "## Speed, batch 64 at 224×224, bf16 autocast, channels_last (median of alternating ratios)",
        "",
        *speed_runs(64, 3 if args.quick else 5, 5 if args.quick else 20),
    ]
    print("\n".join(lines))
    if not args.no_record:
        (HERE / "RESULTS-gpu.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
