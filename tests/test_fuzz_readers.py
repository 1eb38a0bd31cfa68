"""The readers of outside bytes besides spec text (fuzz/readers.py): checkpoints (.pth zip and
.safetensors with truncations, flipped bytes, 100 MB and 2**63 header lengths, offsets out of
range or overlapping), `--resume`'s last.pt, a run's config.json and a spec's train: section each
answer mutated input with a value or netc's own error, within 10 s per input, and run no code.
A bounded number of inputs per target, each target in a process of its own (a crash fails it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))
from readers import TARGETS


@pytest.mark.parametrize("target", TARGETS)
def test_each_reader_answers_mutated_bytes_with_a_value_or_netcs_error(tmp_path, target):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "fuzz" / "readers.py"), target, "150", "1", str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    count, refused = map(int, re.search(r"(\d+) inputs, (\d+) refused", done.stdout).groups())
    assert count == 150 and 0 < refused < count  # mutated and intact inputs both seen
