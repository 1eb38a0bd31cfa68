"""Inference and training-step speed of netc's generated modules against torchvision's models.

Two parts, both on CPU, generated and torchvision models timed alternately in one process
(generated, torchvision, torchvision, generated, …) so that drift in the machine's speed falls on
both; after warm-up, each pair of neighbouring runs gives a ratio torchvision / generated and the
median of those ratios is reported (≥ 1.00: netc is not slower; ≥ 1.2: 20 % faster).

1. The inference build (`netc compile --inference`: batch norms folded, dropout gone, in place)
   against torchvision's eval-mode model of the same layout, under torch.inference_mode(): ResNet-50,
   MobileNet v2, ResNet-18; batch 1 and 16; 1 thread and all threads.
2. The ordinary generated module (eval mode, inference_mode) and a training step (forward,
   cross-entropy, backward, SGD with momentum) against torchvision over the zoo specs with a
   torchvision twin.

    python benchmarks/inference_speed.py                 # both parts, records benchmarks/RESULTS-inference.md
    python benchmarks/inference_speed.py --part build    # only the inference build
    python benchmarks/inference_speed.py --no-record
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
warnings.filterwarnings("ignore")

import torch  # noqa: E402

from netc.analysis.pipeline import analyze_file  # noqa: E402
from netc.backends.codegen import generate, load_generated  # noqa: E402

# spec, torchvision constructor, its keyword arguments
TWINS = {
    "resnet18": ("resnet18", {}),
    "resnet50": ("resnet50", {}),
    "mobilenet_v2": ("mobilenet_v2", {}),
    "mobilenet_v3": ("mobilenet_v3_large", {}),
    "efficientnet": ("efficientnet_b0", {}),
    "densenet121": ("densenet121", {}),
    "googlenet_torchvision": ("googlenet", {"aux_logits": False, "init_weights": False}),
    "shufflenet_v2": ("shufflenet_v2_x1_0", {}),
}


def torchvision_model(spec: str) -> torch.nn.Module:
    from torchvision_models import torchvision

    name, options = TWINS[spec]
    return getattr(torchvision().models, name)(**options)


def netc_module(spec: str, inference: bool, size: int, channels_last: bool = False) -> torch.nn.Module:
    analysis = analyze_file(str(ROOT / "specs" / f"{spec}.yaml"), None, input_shape=(3, size, size))
    generated = generate(analysis, inference=inference, channels_last=channels_last)
    cls = getattr(load_generated(generated), generated.class_name)
    if not inference:
        return cls()
    training = getattr(load_generated(generate(analysis)), generated.class_name)().eval()
    return cls.from_training_state_dict(training.state_dict())


def paired(run_a, run_b, warmup: int, iters: int) -> tuple[float, float, float]:
    """(median ratio b/a over neighbouring pairs, median seconds of a, of b)."""
    for _ in range(warmup):
        run_a()
        run_b()
    times_a, times_b, ratios = [], [], []
    for k in range(iters):
        order = (run_a, run_b) if k % 2 == 0 else (run_b, run_a)
        got = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            got[fn] = time.perf_counter() - start
        times_a.append(got[run_a])
        times_b.append(got[run_b])
        ratios.append(got[run_b] / got[run_a])
    return statistics.median(ratios), statistics.median(times_a), statistics.median(times_b)


def inference_runner(model, x):
    model.eval()

    def run():
        with torch.inference_mode():
            model(x)
    return run


def training_runner(model, x, y):
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()

    def run():
        optimizer.zero_grad(set_to_none=True)
        out = model(x)
        out = out.logits if hasattr(out, "logits") else out
        loss_fn(out, y).backward()
        optimizer.step()
    return run


def part_build(threads_all: int, warmup: int, iters: int, rows: list[str], networks: list[str],
               batches: list[int], thread_counts: list[int]) -> None:
    for spec in networks:
        for batch, size in ((b, 224 if b == 1 else 112) for b in batches):
            for threads in thread_counts:
                for layout in ("NCHW", "channels-last"):  # `netc compile --inference [--channels-last]`
                    torch.set_num_threads(threads)
                    torch.manual_seed(0)
                    ours = netc_module(spec, True, size, channels_last=layout != "NCHW")
                    theirs = torchvision_model(spec).eval()
                    x = torch.randn(batch, 3, size, size)  # the same NCHW input to both
                    ratio, t_ours, t_theirs = paired(inference_runner(ours, x), inference_runner(theirs, x), warmup,
                                                     iters)
                    line = (f"| {spec} | {layout} | {batch} | {size}×{size} | {threads} | {t_ours * 1e3:.1f} "
                            f"| {t_theirs * 1e3:.1f} | **{ratio:.2f}** |")
                    print(line, flush=True)
                    rows.append(line)


def part_zoo(threads_all: int, warmup: int, iters: int, rows: list[str], specs: list[str]) -> None:
    torch.set_num_threads(threads_all)
    for spec in specs:
        size = 96 if spec != "googlenet_torchvision" else 96
        for mode, batch in (("inference", 1), ("inference", 16), ("training", 1), ("training", 16)):
            torch.manual_seed(0)
            ours = netc_module(spec, False, size)
            theirs = torchvision_model(spec)
            x = torch.randn(batch, 3, size, size)
            if mode == "inference":
                a, b = inference_runner(ours, x), inference_runner(theirs, x)
            else:
                y = torch.randint(0, 1000, (batch,))
                a, b = training_runner(ours, x, y), training_runner(theirs, x, y)
            ratio, t_ours, t_theirs = paired(a, b, warmup, iters)
            line = (f"| {spec} | {mode} | {batch} | {size}×{size} | {t_ours * 1e3:.1f} | {t_theirs * 1e3:.1f} "
                    f"| **{ratio:.2f}** |")
            print(line, flush=True)
            rows.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", choices=("all", "build", "zoo"), default="all")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=8)
    parser.add_argument("--specs", default=",".join(TWINS))
    parser.add_argument("--networks", default="resnet50,mobilenet_v2,resnet18", help="for the inference build")
    parser.add_argument("--batches", default="1,16", help="batch 1 runs at 224x224, larger ones at 112x112")
    parser.add_argument("--threads", default="", help="thread counts (default: 1 and all)")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    threads_all = os.cpu_count() or 1
    build_rows: list[str] = []
    zoo_rows: list[str] = []
    if args.part in ("all", "build"):
        print("| network | weights | batch | input | threads | netc inference build ms | torchvision ms | torchvision / netc |")
        threads = [int(t) for t in args.threads.split(",")] if args.threads else sorted({1, threads_all})
        part_build(threads_all, args.warmup, args.iters, build_rows, args.networks.split(","),
                   [int(b) for b in args.batches.split(",")], threads)
    if args.part in ("all", "zoo"):
        print("| spec | mode | batch | input | netc ms | torchvision ms | torchvision / netc |")
        part_zoo(threads_all, args.warmup, args.iters, zoo_rows, args.specs.split(","))
    if args.no_record:
        return
    machine = f"{platform.processor() or platform.machine()}, {threads_all} threads, torch {torch.__version__}"
    text = [
        "# Inference build and generated modules against torchvision (CPU)",
        "",
        f"Recorded {datetime.date.today().isoformat()} by `python benchmarks/inference_speed.py --part {args.part}` "
        f"on {machine}; {args.warmup} warm-up and {args.iters} timed pairs per row, alternating in one process; "
        "ms are medians, the ratio is the median of paired ratios torchvision / netc (≥ 1.00: netc not slower). "
        "The machine is shared: expect a few per cent of noise.",
        "",
    ]
    if build_rows:
        text += ["## The inference build (`netc compile --inference`) vs torchvision eval mode",
                 "", "| network | weights | batch | input | threads | netc inference build ms | torchvision ms | torchvision / netc |",
                 "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"] + build_rows + [""]
    if zoo_rows:
        text += ["## The ordinary generated module vs torchvision (all threads)",
                 "", "| spec | mode | batch | input | netc ms | torchvision ms | torchvision / netc |",
                 "| --- | --- | ---: | --- | ---: | ---: | ---: |"] + zoo_rows + [""]
    out = HERE / ("RESULTS-inference.md" if args.part != "zoo" else "RESULTS-zoo-speed.md")
    out.write_text("\n".join(text))
    print(f"recorded in {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
