"""The run's record: metrics.csv (one row per epoch, rewritten whole from the checkpoint's history
so a resumed run never holds rows of epochs it redid) and curves.png (loss and accuracy, train and
val, per epoch), redrawn after each epoch."""

from __future__ import annotations

import csv
import io
import os

from ..backends.fileio import write_atomic

COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "images_per_s", "seconds")


def write_metrics(path: str, rows: list[dict]) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items() if k in COLUMNS})
    write_atomic(path, out.getvalue())


def read_metrics(path: str) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        return [{k: float(v) if k != "epoch" else int(v) for k, v in row.items()} for row in csv.DictReader(f)]


def plot_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def draw_curves(path: str, rows: list[dict], title: str) -> None:
    """Two panels, loss and accuracy, each with train and val lines; rendered off-screen (Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=True)  # no display needed, and never a window
    from matplotlib.figure import Figure  # a Figure without pyplot: no global state across epochs

    epochs = [r["epoch"] for r in rows]
    figure = Figure(figsize=(9, 3.6), dpi=100)
    for k, (metric, label) in enumerate((("loss", "cross-entropy loss"), ("acc", "accuracy"))):
        axes = figure.add_subplot(1, 2, k + 1)
        for split, style in (("train", "-o"), ("val", "-s")):
            axes.plot(epochs, [r[f"{split}_{metric}"] for r in rows], style, markersize=3, label=split)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend(loc="lower right" if metric == "acc" else "upper right")
        if metric == "acc":
            axes.set_ylim(0, 1.01)
    figure.suptitle(title)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    write_atomic(path, out.getvalue())


def remove_stale(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class EventLog:
    """`--log tensorboard`: the epoch's metrics as TensorBoard scalars (train/loss, train/acc,
    val/loss, val/acc, lr, images_per_s; step = the epoch), in event files in the run directory
    beside metrics.csv, written by torch's SummaryWriter (which needs the tensorboard package).
    `tensorboard --logdir runs` shows every run."""

    TAGS = (("train_loss", "train/loss"), ("train_acc", "train/acc"), ("val_loss", "val/loss"),
            ("val_acc", "val/acc"), ("lr", "lr"), ("images_per_s", "images_per_s"))

    @staticmethod
    def require() -> None:
        import importlib.util

        from ..errors import UsageError

        if importlib.util.find_spec("tensorboard") is None:
            raise UsageError("--log tensorboard needs the tensorboard package: pip install 'netc[tensorboard]' "
                             "(or give --log csv)")

    def __init__(self, run_dir: str):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=run_dir)

    def write(self, row: dict) -> None:
        for key, tag in self.TAGS:
            self.writer.add_scalar(tag, float(row[key]), int(row["epoch"]))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
