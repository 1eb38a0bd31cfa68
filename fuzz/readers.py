"""Fuzz targets for the readers of outside bytes other than spec text (fuzz/run_fuzz.py has that):
checkpoints for `--weights` / `netc port` (.pth zip, .safetensors header and offsets), a run's
`last.pt` for `--resume`, a run directory's config.json, a spec's `train:` section. Each input is a
mutation of a real file (truncated, bytes flipped, a 100 MB or 2**63 header length, offsets out of
range or overlapping, random bytes); the reader must answer with a value or netc's own error
(NetcError, UsageError): no other exception, no hang over 10 s, and never run pickled code.

    .venv/bin/python fuzz/readers.py TARGET COUNT SEED DIR     → "TARGET: COUNT inputs, N refused"
"""

from __future__ import annotations

import json
import os
import random
import signal
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIME_LIMIT_S = 10


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def _mutate(rng: random.Random, data: bytes) -> bytes:
    choice = rng.randrange(6)
    if choice == 0 and data:
        return data[: rng.randrange(len(data))]  # truncated
    if choice == 1 and data:
        out = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    if choice == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 64)))
    if choice == 3 and len(data) > 8:  # a huge header length (safetensors) / a huge field
        return struct.pack("<Q", rng.choice([100 << 20, 2**63 - 1, len(data), len(data) - 7])) + data[8:]
    if choice == 4 and data:
        k = rng.randrange(len(data))
        return data[:k] + data[k:][: rng.randrange(1, 64)] * rng.randint(1, 4) + data[k:]
    return data


def _safetensors_header(rng: random.Random) -> bytes:
    """A safetensors file with hostile offsets: out of range, overlapping, reversed, wrong dtype."""
    names = ["a", "b"]
    start = rng.choice([0, 4, 8, 1 << 40])
    header = {n: {"dtype": rng.choice(["F32", "F16", "I64", "X9"]), "shape": [rng.choice([1, 2, 3, 1 << 31])],
                  "data_offsets": [start + 4 * k * rng.choice([0, 1]), start + rng.choice([4, 8, -4, 1 << 50])]}
              for k, n in enumerate(names)}
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + bytes(rng.randrange(256) for _ in range(16))


def seeds(where: Path) -> dict[str, bytes]:
    """One real file of each kind, written by netc and torch themselves."""
    import torch

    from netc.transfer.checkpoint import save_safetensors

    state = {"conv.weight": torch.randn(2, 1, 3, 3), "conv.bias": torch.zeros(2)}
    torch.save(state, where / "w.pth")
    save_safetensors(state, str(where / "w.safetensors"))
    last = {"model": state, "optimizer": {"state": {}, "param_groups": []}, "scheduler": {}, "scaler": None,
            "epoch": 1, "history": [{"epoch": 1, "val_acc": 0.5}], "best": 0.5,
            "rng": {"torch": torch.get_rng_state(), "python": {"version": 3, "words": torch.zeros(625, dtype=torch.int64),
                                                              "gauss": None}}}
    torch.save(last, where / "last.pt")
    return {"pth": (where / "w.pth").read_bytes(), "safetensors": (where / "w.safetensors").read_bytes(),
            "resume": (where / "last.pt").read_bytes(),
            "config": json.dumps({"spec": "net.yaml", "train": {"epochs": 2}, "data": "digits"}).encode(),
            "train": b"input: [1, 8, 8]\nnetwork: conv(4, 3)-fc(10)\ntrain: {epochs: 3, batch: 64, lr: 0.05, "
                     b"optimizer: adam, lr_mult: {conv1: 0.1}, freeze: [conv1], amp: off, workers: 0}\n"}


def run(target: str, count: int, seed: int, where: Path) -> tuple[int, int]:
    from netc.errors import NetcError, UsageError

    rng = random.Random(seed)
    originals = seeds(where)
    marker = where / "executed"
    refused = 0
    signal.signal(signal.SIGALRM, _alarm)
    for k in range(count):
        if target == "safetensors" and rng.random() < 0.3:
            data = _safetensors_header(rng)
        else:
            data = _mutate(rng, originals[target])
        path = where / f"input{k}.{ {'pth': 'pth', 'safetensors': 'safetensors', 'resume': 'pt'}.get(target, 'x')}"
        if target == "config":
            os.makedirs(where / f"run{k}", exist_ok=True)
            path = where / f"run{k}" / "config.json"
        elif target == "train":
            path = where / f"spec{k}.yaml"
        path.write_bytes(data)
        signal.alarm(TIME_LIMIT_S)
        try:
            _read(target, path)
        except (NetcError, UsageError):
            refused += 1
        except Hang:
            raise AssertionError(f"{target}: input {k} ({path}) took over {TIME_LIMIT_S} s") from None
        finally:
            signal.alarm(0)
        assert not marker.exists(), f"{target}: input {k} ran code"
    return count, refused


def _read(target: str, path: Path) -> None:
    if target in ("pth", "safetensors"):
        from netc.transfer.checkpoint import read_checkpoint

        read_checkpoint(path)
    elif target == "resume":
        from netc.training.checkpoint import load_checkpoint

        load_checkpoint(str(path))
    elif target == "config":
        from netc.training.rundir import read_config

        read_config(str(path.parent))
    elif target == "train":
        from netc.analysis.pipeline import analyze_file
        from netc.frontend.program.train_config import load_train_config

        analyze_file(str(path))  # the file checked whole first, as netc train does
        load_train_config(str(path))


TARGETS = ("pth", "safetensors", "resume", "config", "train")

if __name__ == "__main__":
    name, total, start, directory = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
    done, no = run(name, total, start, directory)
    print(f"{name}: {done} inputs, {no} refused")
