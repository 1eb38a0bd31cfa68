"""Per-command times of the 100,000-layer chain and chain of blocks (issue 26, part 5), side by side.

    python benchmarks/chain_times.py [--runs 2] [--baseline DIR] [--sizes 10000 100000]

Each spec (benchmarks/scaling.py's `chain`, `network: (relu)*N-1`, and `blocks`, N − 1 calls of a
one-layer block) goes through `check`, `table`, `compile`, `compile --inference` and
`render -o x.dot` in fresh processes; with --baseline DIR (another checkout, e.g. main:
`git archive main | tar -x -C /tmp/before`) each run of this tree is followed by the same run of
that one, so that load from other jobs falls on both alike. Wall time and the child's CPU time
(user + system, the steadier figure on a busy machine), medians of --runs; the load average is
printed before and after. Prints a Markdown table; results are recorded by hand in
benchmarks/RESULTS-scaling.md. The goal (issue 26): every command under 3 s at 100,000 layers on a
quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from scaling import COMMANDS, spec  # the sweep's specs and command lines, not copies

SHAPES = ("chain", "blocks")
ORDER = ("check", "table", "compile", "inference", "render")


def timed(argv: list[str], root: Path) -> tuple[float, float, int]:
    """(wall seconds, child CPU seconds, exit code) of one fresh process run in `root`."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--baseline", type=Path, default=None)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--command", action="append", choices=ORDER, help="only these commands")
    args = parser.parse_args()
    trees = [("this tree", ROOT)] + ([("baseline", args.baseline.resolve())] if args.baseline else [])
    print(f"load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())}; runs: {args.runs}")
    print()
    print("| spec | n | command | tree | wall median | CPU median | exit |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="netc-chain-") as tmp:
        for shape in SHAPES:
            for n in args.sizes:
                path = Path(tmp) / f"{shape}_{n}.yaml"
                path.write_text(spec(shape, n), encoding="utf-8")
                for command in ORDER:
                    if args.command and command not in args.command:
                        continue
                    words = COMMANDS[command]
                    argv = [sys.executable, "-m", "netc", words[0], str(path),
                            *[a.format(out=str(Path(tmp) / f"{shape}_{n}")) for a in words[1:]], "-q"]
                    results: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in trees}
                    for _ in range(args.runs):
                        for label, root in trees:
                            results[label].append(timed(argv, root))
                    for label, _ in trees:
                        runs = results[label]
                        print(f"| {shape} | {n:,} | `{' '.join(words)}` | {label} | "
                              f"{statistics.median(r[0] for r in runs):.2f} s | {statistics.median(r[1] for r in runs):.2f} s "
                              f"| {runs[0][2]} |", flush=True)
    print()
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
