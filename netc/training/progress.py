"""What a person watching sees: a progress bar per epoch on a terminal, and one line per epoch.

The bar (loss, accuracy, images/s, ETA) is redrawn in place with a carriage return, at most ten
times a second, and only when standard output is a terminal: CI logs and redirected output get
the one-line epoch summaries alone.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


@dataclass
class EpochBar:
    epoch: int
    epochs: int
    steps: int
    enabled: bool
    width: int = 24
    started: float = field(default_factory=time.perf_counter)
    _drawn: float = 0.0

    def update(self, step: int, images: int, loss: float, accuracy: float) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if step < self.steps and now - self._drawn < 0.1:
            return
        self._drawn = now
        elapsed = now - self.started
        done = int(self.width * step / max(1, self.steps))
        rate = images / elapsed if elapsed > 0 else 0.0
        eta = elapsed / step * (self.steps - step) if step else 0.0
        line = (f"\repoch {self.epoch}/{self.epochs} [{'█' * done}{'·' * (self.width - done)}] {step}/{self.steps} "
                f"loss {loss:.4f} acc {accuracy:6.2%} {rate:,.0f} img/s ETA {_clock(eta)}")
        sys.stdout.write(line)
        sys.stdout.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stdout.write("\r\033[K")  # the summary line takes the bar's place
            sys.stdout.flush()


def is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def summary(row: dict) -> str:
    return (f"epoch {row['epoch']}/{row['epochs']}: train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%} | "
            f"val loss {row['val_loss']:.4f} acc {row['val_acc']:.2%} | lr {row['lr']:.3g} | "
            f"{row['images_per_s']:,.0f} img/s, {row['seconds']:.1f} s")
