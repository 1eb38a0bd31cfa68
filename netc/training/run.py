"""`netc train`: one run from the checked network to trained weights, on one process or many.

Order matters for what a user sees: everything that can be wrong with the command (the data, the
class count, the batch against the number of processes) is found before a single step is taken.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from ..backends.codegen import generate, load_generated
from ..errors import UsageError
from ..frontend.program.train_config import TrainConfig, effective_config, load_train_config
from ..transfer import freeze, load_weights, param_groups
from ..version import __version__
from . import distributed
from .checkpoint import load_checkpoint, plain_rows, restore_rng, rng_states, save_atomic
from .data import BadImages, Data, load_data
from .loop import Step, WeightAverage, evaluate, train_epoch
from .metrics import EventLog, draw_curves, plot_available, write_metrics
from .options import train_overrides
from .progress import EpochBar, is_terminal, summary
from .rundir import choose_run_dir, make_run_dir, read_config, write_config


@dataclass
class Plan:
    """The run, decided before it starts."""

    config: TrainConfig
    data: Data
    classes: int
    run_dir: str
    world: distributed.World
    device: torch.device


def class_count(analysis, spec: str) -> int:
    """The network's output size: a classifier ends in K values (or K×1×1 from a 1×1 conv head)."""
    shapes = analysis.output_shapes()
    if len(shapes) != 1:
        raise UsageError(f"{spec}: netc train trains a classifier with one output; this network has "
                         f"{len(shapes)} ({', '.join(shapes)})")
    (shape,) = shapes.values()
    if len(shape) == 1 or (len(shape) == 3 and shape[1:] == (1, 1)):
        return shape[0]
    raise UsageError(f"{spec}: the network's output is {'×'.join(map(str, shape))}; netc train trains a classifier, "
                     "whose output is one score per class (end the network in fc(classes) or a global pool)")


def _check_classes(data: Data, classes: int, spec: str, analysis) -> None:
    if len(data.classes) == classes:
        return
    names = [k for k, v in analysis.network.source.params.items() if v == classes]  # the param that sets it, if one does
    hint = f"-D {names[0]}={len(data.classes)}" if names else f"a final fc({len(data.classes)})"
    raise UsageError(f"{spec}: the data has {len(data.classes)} classes but the network outputs {classes} scores; "
                     f"give the network {len(data.classes)} outputs ({hint})")


def _schedule(config: TrainConfig, total_steps: int, steps_per_epoch: int = 1):
    """The learning rate's factor at each step: the schedule, times a linear warm-up from 1/W to 1
    over the first W = warmup_epochs × steps_per_epoch steps (rounded, at least 1 when asked)."""
    warm = max(1, round(config.warmup_epochs * steps_per_epoch)) if config.warmup_epochs else 0

    def factor(step: int) -> float:
        ramp = min(1.0, (step + 1) / warm) if warm else 1.0
        if config.schedule == "cosine":
            return ramp * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        if config.schedule == "step":  # ×0.1 at half and at three quarters of the run
            return ramp * 0.1 ** sum(step >= total_steps * m for m in (0.5, 0.75))
        return ramp

    return factor


def _optimizer(config: TrainConfig, parameters):
    lr = config.learning_rate
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=lr, momentum=config.momentum, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(parameters, lr=lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(parameters, lr=lr, weight_decay=config.weight_decay)


def _outputs_probabilities(model, data: Data) -> bool:
    """A spec that ends in SOFTMAX (the lecture notes' style) gives probabilities: the loss then
    takes their log instead of applying a second softmax. Judged from the network's answers on a
    few training images: non-negative rows summing to 1."""
    images = torch.stack([data.train[k][0] for k in range(min(4, len(data.train)))])
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(images).flatten(1).double()
    model.train(was_training)
    return bool((out >= 0).all() and torch.allclose(out.sum(1), torch.ones(len(out), dtype=out.dtype), atol=1e-4))


def _say(world: distributed.World, text: str) -> None:
    if world.main:
        print(text, flush=True)


def check_one_input(analysis, spec: str) -> None:
    """netc train feeds one batch of images (or vectors) and their labels: a network of several
    named inputs (an image and its RoIs) needs its own data and loop, and is refused before anything
    starts. Its generated module trains in a plain torch loop that passes each input by name."""
    net = analysis.network
    named = [net.node(n).attrs["name"] for n in net.order if not net.node(n).inputs and "name" in net.node(n).attrs]
    if len(named) > 1:
        raise UsageError(f"{spec}: netc train feeds one input (an image and its label); this network has "
                         f"{len(named)} named inputs ({', '.join(named)}): train its generated module in your own "
                         f"loop, forward({', '.join(named)})")


def train(args, analysis) -> int:
    check_one_input(analysis, args.spec)
    world = distributed.world_from_env()
    device = distributed.choose_device(args.device, world)
    distributed.start(world, device)
    try:
        return _train(args, analysis, world, device)
    finally:
        distributed.stop(world)


def _train(args, analysis, world: distributed.World, device: torch.device) -> int:
    spec = args.spec
    resumed = read_config(args.resume) if args.resume else None
    base = resumed["train"] if resumed else load_train_config(spec)
    config = effective_config(base, train_overrides(args))
    if config.batch % world.size:
        raise UsageError(f"--batch {config.batch} is the global batch; it must divide evenly over the {world.size} "
                         "processes")
    shape = analysis.network.input_shape
    classes = class_count(analysis, spec)
    skip_bad = getattr(args, "skip_bad_images", False)
    log = getattr(args, "log", "csv")
    if log == "tensorboard":
        EventLog.require()  # before any work: the pip line, exit 2
    data = load_data(args.data, shape, config.val_split, spec, skip_bad)
    _check_classes(data, classes, spec, analysis)
    local_batch = config.batch // world.size
    steps = len(data.train) // config.batch
    if steps == 0:
        raise UsageError(f"--batch {config.batch} is more than the {len(data.train)} training images")

    # Seeded before the network is made: the initial weights are part of what the seed fixes.
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    try:
        import numpy

        numpy.random.seed(config.seed)  # for user code in the loop's reach (netc's own draws are torch's)
    except ImportError:
        pass
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
    else:
        torch.backends.cudnn.benchmark = True  # fastest kernels; CUDA runs are not bit-reproducible
    generated = generate(analysis)
    model = getattr(load_generated(generated, analysis.network.name), generated.class_name)()
    if args.weights and not resumed:  # a resumed run's weights are its checkpoint's
        report = load_weights(model, args.weights, strict=args.strict_weights)
        _say(world, str(report))
    frozen = freeze(model, generated.paths, config.freeze) if config.freeze else []
    probabilities = _outputs_probabilities(model, data)
    channels_last = device.type == "cuda" and len(shape) == 3
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    net = model
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    trainable = [p for p in model.parameters() if p.requires_grad]
    if not trainable:
        raise UsageError(f"{spec}: every parameter is frozen (freeze: {', '.join(config.freeze)}); nothing to train")
    groups = param_groups(model, generated.paths, config.learning_rate, dict(config.lr_mult))
    groups = [{**g, "params": [p for p in g["params"] if p.requires_grad]} for g in groups]
    optimizer = _optimizer(config, [g for g in groups if g["params"]])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, steps * config.epochs, steps))
    amp = config.amp if device.type == "cuda" else "off"
    scaler = torch.amp.GradScaler("cuda") if amp == "fp16" else None
    step = Step(device, amp, channels_last, config.label_smoothing, probabilities, config.clip_grad)
    average = WeightAverage(model, config.ema) if config.ema else None

    if resumed:
        run_dir = args.resume
        saved = os.path.join(run_dir, "model.py")
        if not os.path.isfile(saved) or Path(saved).read_text(encoding="utf-8") != generated.source:
            raise UsageError(f"--resume {run_dir}: the spec now generates another network than the run's model.py "
                             "(was the spec or netc changed?)")
    else:
        run_dir = distributed.broadcast(
            choose_run_dir(args.runs, args.name, analysis.network.name) if world.main else None, world)
    start, history, best = 0, [], -1.0
    if resumed:
        state = load_checkpoint(os.path.join(run_dir, "last.pt"))
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            if scaler is not None and state.get("scaler"):
                scaler.load_state_dict(state["scaler"])
            start, history, best = int(state["epoch"]), list(state["history"]), float(state["best"])
            if average is not None and state.get("ema") is not None:
                average.module.load_state_dict(state["ema"])
            restore_rng(state["rng"])
        except (RuntimeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # a checkpoint of another network, or one edited by hand: one line, not a traceback
            raise UsageError(f"--resume {run_dir}: the checkpoint does not fit this run ({str(exc)[:200]})") from None

    record = {
        "spec": os.path.abspath(spec), "defines": dict(args.defines), "scale": args.scale,
        "input": list(args.input) if args.input else None, "data": args.data, "data_description": data.description,
        "classes": data.classes, "train": config.as_dict(), "world_size": world.size, "per_process_batch": local_batch,
        "device": device.type, "amp": amp, "channels_last": channels_last, "netc": __version__,
        "torch": torch.__version__,
    }
    if world.main:
        make_run_dir(run_dir)
        with open(os.path.join(run_dir, "model.py"), "w", encoding="utf-8") as f:
            f.write(generated.source)
        write_config(run_dir, record)
        print(f"netc train: {analysis.network.name} ({analysis.params:,} params) on {data.description}", flush=True)
        print(f"  config: {json.dumps(config.as_dict(), sort_keys=True)}", flush=True)
        if frozen or config.lr_mult:
            count = sum(p.numel() for p in model.parameters() if not p.requires_grad)
            rates = ", ".join(f"{g['name']} {g['lr']:g}" for g in optimizer.param_groups)
            print(f"  frozen: {count:,} parameters ({', '.join(config.freeze) or 'none'}); learning rates: {rates}",
                  flush=True)
        print(f"  {world.size} process{'es' if world.distributed else ''} on {device.type}, batch {config.batch} "
              f"({local_batch} per process), {steps} steps per epoch, amp {amp}; run directory {run_dir}"
              + (f"; resuming after epoch {start}" if resumed else ""), flush=True)
        if not plot_available():
            print("  note: matplotlib is not installed, so no curves.png (pip install 'netc[train]')", flush=True)

    from torch.utils.data import DataLoader, DistributedSampler

    # One sampler for every world size: rank r takes every world-th index of the same seeded
    # permutation, so one process with batch B sees the union of what W processes see with B/W.
    sampler = DistributedSampler(data.train, num_replicas=world.size, rank=world.rank, shuffle=True,
                                 seed=config.seed, drop_last=True)
    loader = DataLoader(data.train, batch_size=local_batch, sampler=sampler, drop_last=True,
                        num_workers=config.workers, pin_memory=device.type == "cuda")
    val_part = torch.utils.data.Subset(data.val, range(world.rank, len(data.val), world.size))
    val_loader = DataLoader(val_part, batch_size=max(local_batch, 256), num_workers=config.workers)
    last = min(config.epochs, args.stop_after) if args.stop_after else config.epochs
    bar_on = world.main and is_terminal()
    bad = BadImages(skip_bad)
    events = EventLog(run_dir) if log == "tensorboard" and world.main else None
    try:
        for epoch in range(start + 1, last + 1):
            sampler.set_epoch(epoch)
            data.train.set_epoch(config.seed, epoch)
            bar = EpochBar(epoch, config.epochs, steps, bar_on)
            lr = next((g["lr"] for g in optimizer.param_groups if g.get("name") == "rest"),
                      optimizer.param_groups[0]["lr"])  # the base rate, beside any scope's multiplied one
            fit = train_epoch(net, loader, optimizer, scheduler, scaler, step, world, bar, bad, average)
            bar.close()
            check = evaluate(average.module if average is not None else model, val_loader, step, world, bad)
            row = {"epoch": epoch, "epochs": config.epochs, "train_loss": fit["loss"], "train_acc": fit["acc"],
                   "val_loss": check["loss"], "val_acc": check["acc"], "lr": lr,
                   "images_per_s": fit["images"] / fit["seconds"], "seconds": fit["seconds"]}
            history.append(row)
            if world.main:
                _save(run_dir, model, optimizer, scheduler, scaler, epoch, history, best, check["acc"], analysis, average)
                best = max(best, check["acc"])
                print(summary(row), flush=True)
                if events is not None:
                    events.write(row)
            if config.patience:
                top = max(history, key=lambda r: r["val_acc"])  # the first epoch with the best accuracy
                if epoch - top["epoch"] >= config.patience and epoch < last:
                    _say(world, f"netc train: early stop after epoch {epoch}: val acc has not improved for "
                                f"{epoch - top['epoch']} epochs (patience {config.patience})")
                    break
    except KeyboardInterrupt:
        if world.main:
            sys.stdout.write("\n")
            print(f"netc train: interrupted; continue with: netc train --resume {run_dir}", file=sys.stderr)
        raise
    finally:
        if events is not None:
            events.close()
    if bad.skipped and world.main:
        print(f"netc train: {bad.skipped} samples of images that could not be read were left out (--skip-bad-images)",
              flush=True)
    distributed.barrier(world)
    if world.main and history:
        top = max(history, key=lambda r: r["val_acc"])
        print(f"netc train: done — best val acc {top['val_acc']:.2%} (epoch {top['epoch']}); {run_dir}/best.pth "
              f"loads into {run_dir}/model.py's Model with plain torch", flush=True)
    return 0


def _save(run_dir, model, optimizer, scheduler, scaler, epoch, history, best, accuracy, analysis, average=None) -> None:
    """best.pth first, then last.pt, then the record: a run killed between any two still resumes
    (the metrics are rewritten from the checkpoint's history). With an EMA, best.pth holds the
    averaged weights (the ones validated); last.pt both."""
    weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    averaged = {k: v.detach().cpu() for k, v in average.module.state_dict().items()} if average is not None else None
    if accuracy > best:
        save_atomic(averaged if averaged is not None else weights, os.path.join(run_dir, "best.pth"))
    save_atomic({"model": weights, "ema": averaged, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                 "scaler": scaler.state_dict() if scaler is not None else None, "epoch": epoch,
                 "history": plain_rows(history), "best": float(max(best, accuracy)), "rng": rng_states()},
                os.path.join(run_dir, "last.pt"))
    write_metrics(os.path.join(run_dir, "metrics.csv"), history)
    if plot_available():
        draw_curves(os.path.join(run_dir, "curves.png"), history, f"{analysis.network.name}: {run_dir}")
