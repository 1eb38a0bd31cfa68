"""How fast netc refuses hostile specs: each limit of issue 6 (alias bomb, a billion layers,
10,000 nested brackets, a 10 MB spec, huge numbers, recursive blocks, …) timed in a fresh process.

    python benchmarks/limits_speed.py            # prints a table; goal: every case well under 1 s

The hostile inputs are the ones tests/test_hostile.py checks for their messages; this script only
times them (tests carry no timing assertions).
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _limits() -> dict[str, tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("test_hostile", ROOT / "tests" / "test_hostile.py")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(ROOT))
    spec.loader.exec_module(module)
    cases = dict(module.LIMITS)
    cases["spec_10MB"] = ("input: [3, 8, 8]\nnetwork: relu\n" + "#" * 10_000_000 + "\n", "limit")
    return cases


def _time(path: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "netc", "check", path], cwd=ROOT, capture_output=True, timeout=120)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    baseline = _time_expression(runs)
    print(f"{'case':28} {'whole process (median of %d)' % runs:>30}")
    print(f"{'(a valid one-layer spec)':28} {baseline * 1000:>27.0f} ms")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (text, _) in sorted(_limits().items()):
            path = Path(tmp) / f"{name}.yaml"
            path.write_text(text, encoding="utf-8")
            spent = _time(str(path), runs)
            worst = max(worst, spent)
            print(f"{name:28} {spent * 1000:>27.0f} ms")
    print(f"slowest: {worst * 1000:.0f} ms")
    return 0


def _time_expression(runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ok.yaml"
        path.write_text("input: [3, 8, 8]\nnetwork: relu\n", encoding="utf-8")
        return _time(str(path), runs)


if __name__ == "__main__":
    sys.exit(main())
