"""Checkpoints: everything a run needs to continue exactly where it stopped, written atomically.

`last.pt` holds the model, optimizer, scheduler and AMP scaler states, the epoch finished, every
random generator's state and the metrics so far. It is written to a temporary file in the same
directory and renamed over the old one: a run killed mid-write leaves the previous checkpoint
whole. `best.pth` is the model alone, a plain state_dict that `torch.load` + `load_state_dict`
read without netc.

Everything in it is a tensor or a plain value (dict, list, tuple, str, int, float, bool, None), so
`--resume` reads it with `torch.load(weights_only=True)`: a run directory from anyone else (a shared
disk, a download) cannot make netc run the code a pickle may carry.
"""

from __future__ import annotations

import numbers
import os
import pickle
import random
import re
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
    """Every generator's state as tensors and plain values: Python's as its version, its 625 words
    as an int64 tensor and the cached Gaussian (None or a float)."""
    version, words, gauss = random.getstate()
    states = {"torch": torch.get_rng_state(),
              "python": {"version": version, "words": torch.tensor(words, dtype=torch.int64), "gauss": gauss}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    python = states["python"]
    if isinstance(python, dict):
        random.setstate((python["version"], tuple(int(w) for w in python["words"].tolist()), python["gauss"]))
    else:  # a checkpoint written before the words were a tensor: random.getstate()'s own tuple
        random.setstate(python)
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def plain_rows(history: list[dict]) -> list[dict]:
    """The metrics as Python numbers (a row may hold numpy or tensor scalars), loadable with weights_only."""
    def plain(value):
        if isinstance(value, bool) or value is None or isinstance(value, str):
            return value
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) or hasattr(value, "item"):
            return float(value)
        return value
    return [{str(k): plain(v) for k, v in row.items()} for row in history]


CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "epoch", "history", "best", "rng")


def load_checkpoint(path: str) -> dict:
    if not os.path.isfile(path):
        raise UsageError(f"--resume: {path} not found (a run directory holds last.pt once an epoch is done)")
    try:
        # weights_only: tensors and plain values only; a pickled object (a class, a function to
        # call) is refused before anything of it runs.
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # Name what it would have called (torch's message says "GLOBAL posix.system"), not torch's prose.
        named = re.search(r"GLOBAL\s+([\w.]+)", str(exc))
        what = f" (it calls {named.group(1)})" if named else ""
        raise UsageError(f"--resume: {path} holds a pickled Python object{what}, not only tensors and plain "
                         "values: netc does not load it, since loading it could run code") from None
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file: one line, not a traceback
        raise UsageError(f"--resume: {path} is not a netc checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from None
    if not isinstance(state, dict) or any(key not in state for key in CHECKPOINT_KEYS):
        raise UsageError(f"--resume: {path} is not a netc checkpoint (it lacks "
                         f"{', '.join(k for k in CHECKPOINT_KEYS if not isinstance(state, dict) or k not in state)})")
    return state
