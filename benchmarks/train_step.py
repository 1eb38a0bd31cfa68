"""Training-step speed: the ResNet-50 netc generates against a hand-written one.

One training step is forward + cross-entropy + backward + SGD (momentum 0.9) step, on random
images. The reference is the usual hand-written ResNet-50 (torchvision's layout: bottleneck blocks
with the stride on the 3×3 conv, a 1×1 conv + BN projection where the shape changes, in-place
ReLUs), written out below with no netc involved. Both networks have the same parameter count
(checked). Steps of the two alternate (generated, reference, reference, generated, …) so that
drift in the machine's speed falls on both; after warm-up steps, the median of the timed steps
is reported and the ratio reference / generated (≥ 1.00: the generated module is not slower).

    python benchmarks/train_step.py                       # batch 8, 224×224, 3 warm-up + 5 timed
    python benchmarks/train_step.py --device cuda --iters 20
    python benchmarks/train_step.py --no-record          # print only

The result is recorded in benchmarks/RESULTS-train-step.md (the previous one is replaced).
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
warnings.filterwarnings("ignore")

import torch
from torch import nn

from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import generate, load_generated


# --- the hand-written reference ---------------------------------------------------------------------
class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        out_planes = planes * self.expansion
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_planes, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_planes != out_planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(out_planes),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ReferenceResNet50(nn.Module):
    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        layers, in_planes = [], 64
        for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
            stage = []
            for index in range(blocks):
                stage.append(Bottleneck(in_planes, planes, stride if index == 0 else 1))
                in_planes = planes * Bottleneck.expansion
            layers.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# --- timing -------------------------------------------------------------------------------------------
def make_step(model: nn.Module, batch: int, size: int, device: torch.device):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    images = torch.randn(batch, 3, size, size, device=device)
    labels = torch.randint(0, 1000, (batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default="specs/resnet50.yaml")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (CPU)")
    parser.add_argument("--no-record", action="store_true", help=f"do not write {HERE.name}/RESULTS-train-step.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    analysis = analyze_file(args.spec)
    generated = generate(analysis)
    torch.manual_seed(0)
    models = {
        "generated": getattr(load_generated(generated), generated.class_name)().to(device).train(),
        "hand-written": ReferenceResNet50().to(device).train(),
    }
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    assert counts["generated"] == counts["hand-written"] == analysis.params, counts

    steps = {name: make_step(m, args.batch, args.size, device) for name, m in models.items()}
    order = list(steps)
    times: dict[str, list[float]] = {name: [] for name in steps}
    for index in range(args.warmup + args.iters):
        for name in order if index % 2 == 0 else order[::-1]:  # alternate which goes first
            elapsed = steps[name]()
            if index >= args.warmup:
                times[name].append(elapsed)
    medians = {name: statistics.median(t) for name, t in times.items()}
    ratio = medians["hand-written"] / medians["generated"]
    # Steps taken side by side share the machine's load: the median of their ratios is steadier.
    paired = statistics.median(r / g for r, g in zip(times["hand-written"], times["generated"]))

    command = "python benchmarks/train_step.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines = [
        "| network | median step (s) | fastest step (s) | all timed steps (s) |",
        "| --- | ---: | ---: | --- |",
    ]
    for name in steps:
        lines.append(f"| {name} ({generated.class_name if name == 'generated' else 'ReferenceResNet50'}) | "
                     f"{medians[name]:.3f} | {min(times[name]):.3f} | {', '.join(f'{t:.3f}' for t in times[name])} |")
    verdict = "the generated module is not slower" if ratio >= 1.0 else "the generated module is slower"
    summary = (f"ratio hand-written / generated = {ratio:.3f} (medians; {verdict}); "
               f"median of the side-by-side ratios {paired:.3f}")
    print("\n".join(lines))
    print(summary)
    if not args.no_record:
        record(args, command.strip(), lines, summary, device)
    return 0


INTRO = (
    "Written by `benchmarks/train_step.py` (its docstring says what a step is): one training step is "
    "forward + cross-entropy + backward + SGD (momentum) step on random images. The generated module "
    "(`netc compile specs/resnet50.yaml`) and a hand-written torchvision-style ResNet-50 take turns, "
    "{warmup} warm-up steps each, then {iters} timed; the medians are compared. Goal: ratio >= 1.00."
)
OUTRO = (
    "Both networks are the same layers (same parameter count, checked); the generated forward is "
    "straight-line code with in-place ReLUs where the input is not read again, as in the hand-written "
    "one, so equal speed is expected. On a shared CPU single steps wander (other processes take the "
    "cores): the median of the side-by-side ratios, which compares steps taken under the same load, is "
    "the steadier figure; a ratio within a few percent of 1.00 is equal speed."
)


def record(args, command: str, lines: list[str], summary: str, device: torch.device) -> None:
    if device.type == "cuda":
        where = torch.cuda.get_device_name(device)
    else:
        cpu = platform.processor() or platform.machine()
        threads = torch.get_num_threads()
        where = f"CPU ({cpu}), {threads} thread{'s' if threads != 1 else ''}, {os.cpu_count()} cores"
    text = [
        "# Training step: generated ResNet-50 vs. hand-written",
        "",
        INTRO.format(warmup=args.warmup, iters=args.iters),
        "",
        f"- command: `{command}`",
        f"- date: {datetime.date.today().isoformat()}",
        f"- batch {args.batch}, {args.size}x{args.size}, float32, device: {where}",
        f"- torch {torch.__version__}, Python {platform.python_version()}",
        "",
        *lines,
        "",
        f"**{summary}**",
        "",
        OUTRO,
        "",
    ]
    (HERE / "RESULTS-train-step.md").write_text("\n".join(text), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
