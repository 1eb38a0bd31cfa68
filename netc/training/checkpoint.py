"""Checkpoints: everything a run needs to continue exactly where it stopped, written atomically.

`last.pt` holds the model, optimizer, scheduler and AMP scaler states, the epoch finished, every
random generator's state and the metrics so far. It is written to a temporary file in the same
directory and renamed over the old one: a run killed mid-write leaves the previous checkpoint
whole. `best.pth` is the model alone, a plain state_dict that `torch.load` + `load_state_dict`
read without netc.
"""

from __future__ import annotations

import os
import random
import tempfile

import torch

from ..errors import UsageError


def save_atomic(obj, path: str) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        raise UsageError(f"--resume: {path} not found (a run directory holds last.pt once an epoch is done)")
    try:
        # weights_only=False: the checkpoint holds Python's RNG state and the metrics, and it is
        # netc's own file in the user's run directory.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line, not a traceback
        raise UsageError(f"--resume: {path} is not a netc checkpoint ({type(exc).__name__}: {exc})") from None
