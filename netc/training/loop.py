"""One epoch of training and one pass over the validation set: the inner loops, kept free of
bookkeeping (the run, its files and its checkpoints are run.py's)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .distributed import World, sum_across
from .progress import EpochBar


@dataclass(frozen=True)
class Step:
    """How a batch goes through the network: device, precision, memory layout, loss."""

    device: torch.device
    amp: str  # off | bf16 | fp16; used on CUDA only
    channels_last: bool
    label_smoothing: float
    probabilities: bool  # the network ends in a softmax: its outputs are probabilities, not logits
    clip_grad: float = 0.0  # the largest total gradient norm (L2 over every parameter); 0: not clipped

    def autocast(self):
        if self.device.type != "cuda" or self.amp == "off":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16 if self.amp == "bf16" else torch.float16)

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        images = images.to(self.device, non_blocking=True)
        if self.channels_last and images.dim() == 4:
            images = images.contiguous(memory_format=torch.channels_last)
        return images

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        outputs = outputs.flatten(1).float()  # N×K×1×1 from a conv head; float: a stable loss under AMP
        if not self.probabilities:
            return F.cross_entropy(outputs, labels, label_smoothing=self.label_smoothing)
        # log of a softmax's output is its log-softmax: the same loss as from logits, smoothing included
        log_p = outputs.clamp_min(1e-12).log()
        nll = F.nll_loss(log_p, labels)
        return nll if not self.label_smoothing else (1 - self.label_smoothing) * nll - self.label_smoothing * log_p.mean(1).mean()


class WeightAverage:
    """An exponential moving average of the weights (`--ema DECAY`, as Ultralytics and timm keep
    one): after every optimizer step each floating-point parameter and buffer of the copy moves
    (1 − decay) of the way to the model's; integer buffers (a batch norm's counter) are copied. It
    starts as the model's initial weights, and is what is validated and saved as best.pth."""

    def __init__(self, model, decay: float):
        import copy

        self.decay = decay
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model) -> None:
        ours = self.module.state_dict()
        for name, value in model.state_dict().items():
            mine = ours[name]
            if mine.is_floating_point():
                mine.lerp_(value.detach().to(mine.dtype), 1.0 - self.decay)
            else:
                mine.copy_(value)


def _bad_images_of(loader, bad):
    """The dataset that can name a bad sample (a Subset's own dataset), when the loader's can."""
    if bad is None:
        return None
    dataset = getattr(loader.dataset, "dataset", loader.dataset)
    return dataset if hasattr(dataset, "describe") else None


def train_epoch(model, loader, optimizer, scheduler, scaler, step: Step, world: World, bar: EpochBar,
                bad=None, average: WeightAverage | None = None) -> dict:
    """Sums over every process: loss × images, correct answers, images; and the wall time."""
    model.train()
    loss_sum = correct = count = 0.0
    started = time.perf_counter()
    named = _bad_images_of(loader, bad)
    for k, (images, labels) in enumerate(loader, 1):
        if named is not None:
            images, labels = bad.check(images, labels, named)
            if not labels.numel():
                scheduler.step()
                continue
        images, labels = step.inputs(images), labels.to(step.device, non_blocking=True)
        with step.autocast():
            outputs = model(images)
            loss = step.loss(outputs, labels)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            if step.clip_grad:
                scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
                torch.nn.utils.clip_grad_norm_(model.parameters(), step.clip_grad)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if step.clip_grad:
                torch.nn.utils.clip_grad_norm_(model.parameters(), step.clip_grad)
            optimizer.step()
        if average is not None:
            average.update(getattr(model, "module", model))  # DDP's wrapped module
        scheduler.step()  # the schedule is per step: smooth, and the same whatever the epoch length
        n = labels.numel()
        loss_sum += float(loss.detach()) * n
        correct += float((outputs.detach().flatten(1).argmax(1) == labels).sum())
        count += n
        bar.update(k, int(count) * world.size, loss_sum / count, correct / count)
    loss_sum, correct, count = sum_across([loss_sum, correct, count], world, step.device)
    seconds = time.perf_counter() - started
    return {"loss": loss_sum / max(1, count), "acc": correct / max(1, count), "images": count, "seconds": seconds}


@torch.no_grad()
def evaluate(model, loader, step: Step, world: World, bad=None) -> dict:
    model.eval()
    loss_sum = correct = count = 0.0
    named = _bad_images_of(loader, bad)
    for images, labels in loader:
        if named is not None:
            images, labels = bad.check(images, labels, named)
            if not labels.numel():
                continue
        images, labels = step.inputs(images), labels.to(step.device, non_blocking=True)
        with step.autocast():
            outputs = model(images)
        loss_sum += float(step.loss(outputs, labels)) * labels.numel()
        correct += float((outputs.flatten(1).argmax(1) == labels).sum())
        count += labels.numel()
    loss_sum, correct, count = sum_across([loss_sum, correct, count], world, step.device)
    return {"loss": loss_sum / max(1, count), "acc": correct / max(1, count)}
