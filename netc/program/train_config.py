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

Only values are checked here (this is the analysis path: `netc check` reports a bad `train:` key at
its place without importing torch); the command line overrides each key (`--lr 0.05`) and
`effective_config` merges the three layers: netc's defaults, the spec, the command line.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..errors import Diagnostics, NetcError, UsageError, did_you_mean
from ..spec import YNode
from .checks import describe, expect, key_index

CHOICES = {"optimizer": ("sgd", "adam", "adamw"), "schedule": ("cosine", "step", "constant"),
           "amp": ("off", "bf16", "fp16")}


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

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return self.lr
        return 0.1 if self.optimizer == "sgd" else 1e-3

    def as_dict(self) -> dict:
        values = asdict(self)
        values["lr"] = self.learning_rate  # what was used, not "unset"
        return values


TRAIN_KEYS = tuple(f.name for f in fields(TrainConfig))
_INTS = {"epochs", "batch", "seed", "workers"}


def check_value(key: str, value) -> object:
    """One key's value, checked; returns it normalised, or raises ValueError with the reason.
    Shared by the spec reader and the command line, so both accept exactly the same values."""
    if key in CHOICES:
        if key == "amp" and isinstance(value, bool):  # YAML reads a bare `off` as false
            value = "bf16" if value else "off"
        if not isinstance(value, str) or value.lower() not in CHOICES[key]:
            shown = repr(value) if isinstance(value, str) else describe(value)
            raise ValueError(f"must be one of {', '.join(CHOICES[key])}, got {shown}")
        return value.lower()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"must be a number, got {describe(value)}")  # noqa: TRY004 - the callers report ValueError
    if key in _INTS:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"must be a whole number, got {value}")
        value = int(value)
        low = 0 if key in ("seed", "workers") else 1
        if value < low or value > 2**31 - 1:
            raise ValueError(f"must be between {low} and {2**31 - 1}, got {value}")
        return value
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value}")
    if key == "lr" and value <= 0:
        raise ValueError(f"must be above 0, got {value}")
    if key in ("momentum", "label_smoothing") and not 0 <= value < 1:
        raise ValueError(f"must be at least 0 and below 1, got {value}")
    if key == "val_split" and not 0 < value < 1:
        raise ValueError(f"must be between 0 and 1 (a share of the data), got {value}")
    if key == "weight_decay" and value < 0:
        raise ValueError(f"must be at least 0, got {value}")
    return value


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
            values[key] = check_value(key, item.value)
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
    return TrainConfig(**merged)


def load_train_config(path: str) -> dict[str, object]:
    """The `train:` values of a spec file (the file is checked whole by the analysis first)."""
    from ..spec import load_yaml, read_spec_text

    root = load_yaml(read_spec_text(path), path)
    node = root.value.get("train") if isinstance(root.value, dict) else None
    return read_train_config(node)
