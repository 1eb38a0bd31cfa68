"""Property (issue 24): what `netc check` accepts, torch builds and runs forward and backward, with
netc's output shapes, parameter count and FLOPs equal to torch's (parameters(), FlopCounterMode),
over random small specs with every map kind, per-axis windows, named points, concat/add/from of
them, `init:` (every method, shorthand and per-tensor, bias=false and affine=false layers) and
`freeze:`. Each batch runs in a process of its own (tests/property_worker.py), so that a crash in
torch fails the test and names its seed rather than ending the suite. 1,000 cases by default; the
`slow` run takes 50,000."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "property_worker.py"


def _batch(tmp_path: Path, first: int, count: int) -> tuple[int, int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(WORKER), str(first), str(count), str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=3000, check=False)
    seeds = re.findall(r"seed (\d+)", done.stderr)
    failing = tmp_path / f"spec{seeds[-1]}.yaml" if seeds else None
    assert done.returncode == 0, (f"exit {done.returncode} at seed {seeds[-1] if seeds else '?'}:\n"
                                  f"{failing.read_text() if failing and failing.exists() else ''}\n"
                                  f"{done.stderr[-3000:]}")
    accepted, refused = map(int, re.search(r"accepted (\d+) refused (\d+)", done.stdout).groups())
    return accepted, refused


@pytest.mark.parametrize("first", range(0, 1000, 250))
def test_random_specs_check_accepts_torch_runs_with_netcs_numbers(tmp_path, first):
    accepted, refused = _batch(tmp_path, first, 250)
    assert accepted + refused == 250 and accepted >= 50 and refused >= 25  # both sides are exercised


@pytest.mark.slow
@pytest.mark.parametrize("first", range(1000, 51000, 5000))
def test_fifty_thousand_random_specs(tmp_path, first):
    accepted, refused = _batch(tmp_path, first, 5000)
    assert accepted + refused == 5000
