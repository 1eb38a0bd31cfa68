"""`train:`: how `netc train` trains the network, read and checked like the other keys.

    train:
      optimizer: sgd        # sgd | adam | adamw
      lr: 0.1               # for the global batch (all processes together); see the README, "Training"
      momentum: 0.9
      weight_decay: 5.0e-4
      schedule: cosine      # cosine | step | constant
      epochs: 30
      batch: 128            # the global batch: split evenly over the processes under torchrun
      label_smoothing: 0.0
      amp: off              # off | bf16 | fp16 (CUDA only; ignored on CPU)
      seed: 0
      workers: 0            # DataLoader worker processes per training process
      val_split: 0.2        # the share held out when the data has no separate validation set
      freeze: [stem, stage1]            # scopes (the table's names) not trained: finetuning
      lr_mult: {stage2: 0.01, stage3: 0.1}  # per-scope learning-rate multipliers (the notes' 1/100, 1/10)
      patience: 0           # early stopping: stop after this many epochs without a better val acc; 0: never
      ema: 0                # decay of an exponential moving average of the weights (0.999); 0: none
      warmup_epochs: 0      # the learning rate rises linearly from lr/steps to lr over these epochs
      clip_grad: 0          # clip the total gradient norm to this; 0: not clipped

Only values are checked here (this is the analysis path: `netc check` reports a bad `train:` key at
its place without importing torch); the command line overrides each key (`--lr 0.05`) and
`effective_config` merges the three layers: netc's defaults, the spec, the command line.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ...errors import Diagnostics, NetcError, UsageError, did_you_mean
from ..spec import YNode
from .checks import describe, expect, key_index

CHOICES = {"optimizer": ("sgd", "adam", "adamw"), "schedule": ("cosine", "step", "constant"),
           "amp": ("off", "bf16", "fp16")}
BOOLEAN_CHOICES = {"amp": {False: "off", True: "bf16"}}  # YAML reads a bare `off` as false


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "sgd"
    lr: float | None = None  # None: the optimizer's usual rate (0.1 for sgd, 0.001 for adam/adamw)
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    epochs: int = 10
    batch: int = 128
    label_smoothing: float = 0.0
    amp: str = "off"
    seed: int = 0
    workers: int = 0
    val_split: float = 0.2
    freeze: tuple[str, ...] = ()  # scopes whose parameters are not trained
    lr_mult: tuple[tuple[str, float], ...] = ()  # (scope, multiplier of lr), in the order written
    patience: int = 0  # epochs without a better val acc before stopping early; 0: never
    ema: float = 0.0  # decay of the weights' moving average, validated and saved; 0: none
    warmup_epochs: float = 0.0  # a linear warm-up of the learning rate, per step, over these epochs
    clip_grad: float = 0.0  # the largest total gradient norm; 0: not clipped

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 0.1 if self.optimizer == "sgd" else 1e-3

    def as_dict(self) -> dict:
        values = asdict(self)
        values["lr"] = self.learning_rate  # what was used, not "unset"
        values["freeze"] = list(self.freeze)
        values["lr_mult"] = dict(self.lr_mult)
        return values


TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig))
INT_KEYS = {"epochs", "batch", "seed", "workers", "patience"}
_LARGEST = 2**31 - 1


@dataclass(frozen=True)
class Range:
    """Where a number key's value may lie; `says` is how the message puts it."""

    low: float
    high: float | None = None
    low_open: bool = False  # the low end itself is refused
    high_open: bool = False
    says: str = ""

    def holds(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


RANGES = {
    "lr": Range(0, low_open=True, says="above 0"),
    "momentum": Range(0, 1, high_open=True, says="at least 0 and below 1"),
    "weight_decay": Range(0, says="at least 0"),
    "label_smoothing": Range(0, 1, high_open=True, says="at least 0 and below 1"),
    "val_split": Range(0, 1, low_open=True, high_open=True, says="between 0 and 1 (a share of the data)"),
    "ema": Range(0, 1, high_open=True, says="at least 0 and below 1 (a decay such as 0.999; 0 for none)"),
    "warmup_epochs": Range(0, says="at least 0"),
    "clip_grad": Range(0, says="at least 0 (0 for no clipping)"),
    **{key: Range(low, _LARGEST, says=f"between {low} and {_LARGEST}")
       for key, low in (("epochs", 1), ("batch", 1), ("seed", 0), ("workers", 0), ("patience", 0))},
}


def check_value(key: str, value) -> object:
    """One key's value, checked; returns it normalised, or raises ValueError with the reason.
    Shared by the spec reader and the command line, so both accept exactly the same values."""
    if key == "freeze":
        return _scopes(value)
    if key == "lr_mult":
        return _multipliers(value)
    if key in CHOICES:
        if key in BOOLEAN_CHOICES and isinstance(value, bool):
            value = BOOLEAN_CHOICES[key][value]
        if not isinstance(value, str) or value.lower() not in CHOICES[key]:
            shown = repr(value) if isinstance(value, str) else describe(value)
            raise ValueError(f"must be one of {', '.join(CHOICES[key])}, got {shown}")
        return value.lower()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {describe(value)}")  # noqa: TRY004 - the callers report ValueError
    if key in INT_KEYS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"must be a whole number, got {value}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
    bounds = RANGES.get(key)
    if bounds is not None and not bounds.holds(value):
        raise ValueError(f"must be {bounds.says}, got {value}")
    return value


def _scopes(value) -> tuple[str, ...]:
    """`[stem, stage1]`, or `stem,stage1` as the command line writes it."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) and v.strip() for v in items):
        raise ValueError(f"must be a list of scope names such as [stem, stage1], got {describe(value)}")
    return tuple(v.strip() for v in items)


def _multipliers(value) -> tuple[tuple[str, float], ...]:
    """`{stage1: 0.01}`, or `stage1=0.01,stage2=0.1` as the command line writes it."""
    if isinstance(value, str):
        pairs = [part.split("=", 1) for part in value.split(",") if part.strip()]
        if not all(len(p) == 2 for p in pairs):
            raise ValueError(f"must be SCOPE=FACTOR pairs such as stage1=0.01,stage2=0.1, got {value!r}")
        try:
            value = {name.strip(): float(factor) for name, factor in pairs}
        except ValueError:
            raise ValueError(f"must be SCOPE=FACTOR pairs with numbers, got {value!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"must map scopes to multipliers such as {{stage1: 0.01}}, got {describe(value)}")
    out = []
    for name, factor in value.items():
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not math.isfinite(factor) or factor < 0:
            raise ValueError(f"multiplier of {name} must be a number at least 0, got {describe(factor)}")
        out.append((str(name), float(factor)))
    return tuple(out)


def read_train_config(node: YNode | None) -> dict[str, object]:
    """The keys the spec's `train:` sets (only those: the defaults are filled in later, so the
    saved config can say where each value came from)."""
    if node is None:
        return {}
    expect(node, dict, "train")
    values: dict[str, object] = {}
    errors = Diagnostics()
    for key, item in node.value.items():
        if key not in TRAIN_KEYS:
            span = node.source.span_at(key_index(node, key), len(key))
            errors.add(NetcError.at(span, f"unknown key '{key}' in train", did_you_mean(key, list(TRAIN_KEYS))
                                    or f"the keys here are {', '.join(TRAIN_KEYS)}"))
            continue
        try:
            values[key] = check_value(key, item.plain())
        except ValueError as exc:
            errors.add(NetcError.at(item.span, f"train.{key} {exc}"))
    errors.check()
    return values


def effective_config(spec_values: dict[str, object], overrides: dict[str, object]) -> TrainConfig:
    """netc's defaults, then the spec's `train:`, then the command line (already checked)."""
    merged = {**spec_values, **{k: v for k, v in overrides.items() if v is not None}}
    unknown = sorted(set(merged) - set(TRAIN_KEYS))
    if unknown:
        raise UsageError(f"unknown training setting {unknown[0]!r}")
    for key in ("freeze", "lr_mult"):  # as a run's config.json holds them: a list, a mapping
        if key in merged and not isinstance(merged[key], tuple):
            merged[key] = check_value(key, merged[key])
    return TrainConfig(**merged)


def load_train_config(path: str) -> dict[str, object]:
    """The `train:` values of a spec file (the file is checked whole by the analysis first)."""
    from ..spec import load_yaml, read_spec_text

    root = load_yaml(read_spec_text(path), path)
    node = root.value.get("train") if isinstance(root.value, dict) else None
    return read_train_config(node)
