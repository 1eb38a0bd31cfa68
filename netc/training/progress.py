"""What a person watching sees: a progress bar per epoch on a terminal, and one line per epoch.

The bar is tqdm's (loss, accuracy and images/s as its postfix; its own rate limiting, ETA and
terminal width), drawn only when standard output is a terminal and tqdm is installed (the `train`
extra); it is left off the screen when the epoch ends, and the one-line summary takes its place.
CI logs and redirected output get the one-line epoch summaries alone, as before.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any


def tqdm_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("tqdm") is not None


@dataclass
class EpochBar:
    epoch: int
    epochs: int
    steps: int
    enabled: bool
    stream: Any = None  # default: standard output, where the summaries go
    _bar: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.enabled and tqdm_available():
            from tqdm import tqdm

            self._bar = tqdm(total=self.steps, desc=f"epoch {self.epoch}/{self.epochs}", unit="step", leave=False,
                             file=self.stream if self.stream is not None else sys.stdout, dynamic_ncols=True,
                             mininterval=0.1)

    def update(self, step: int, images: int, loss: float, accuracy: float) -> None:
        if self._bar is None:
            return
        elapsed = self._bar.format_dict.get("elapsed") or 0.0
        rate = images / elapsed if elapsed > 0 else 0.0
        self._bar.set_postfix_str(f"loss {loss:.4f} acc {accuracy:6.2%} {rate:,.0f} img/s", refresh=False)
        self._bar.update(step - self._bar.n)
        if step >= self.steps:
            self._bar.refresh()  # the last step drawn whatever the rate limit: the epoch's final figures

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()  # leave=False: the bar's line is cleared for the summary


def is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def summary(row: dict) -> str:
    return (f"epoch {row['epoch']}/{row['epochs']}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%} | "
            f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.2%} | lr {row['lr']:.3g} | "
            f"{row['images_per_s']:,.0f} img/s, {row['seconds']:.1f} s")
