"""How fast is `netc table` on a ResNet-152-sized spec?

    python benchmarks/table_speed.py [--runs 21] [--spec SPEC] [--baseline DIR]

Measures, on this machine:
  1. whole process: `python -m netc table SPEC` (and `check`) in a fresh interpreter, --runs
     times, interleaved, next to the bare interpreter start (`python -c pass`): wall time (median,
     min, max) and CPU time (user + system, the steadier number on a shared, busy machine).
     "bytecode cached" is the usual case (an installed package has its .pyc files; here they go to
     a private PYTHONPYCACHEPREFIX, warmed by one unmeasured run); "no bytecode" compiles netc's
     sources on every start, as under PYTHONDONTWRITEBYTECODE=1;
  2. in process, imports already paid: load + parse, expand, infer, render the text table (median
     of --runs repetitions each);
  3. which heavy packages the table path imports (`python -X importtime`): torch and networkx
     must not be among them.
With --baseline DIR (another checkout of netc, e.g. `git archive HEAD | tar -x -C /tmp/before`),
its `netc table` runs alternate with this one's, so that a busy machine slows both alike.

The spec is specs/resnet152.yaml when the zoo has it, else benchmarks/resnet152.yaml (the same
network: torchvision's ResNet-152, 556 layers, 60,192,808 parameters). Results are recorded by
hand in benchmarks/RESULTS-table-speed.md. No number here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "networkx", "numpy", "graphviz", "sympy")


def default_spec() -> Path:
    zoo = ROOT / "specs" / "resnet152.yaml"
    return zoo if zoo.exists() else ROOT / "benchmarks" / "resnet152.yaml"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env(root: Path, pycache: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    env["PYTHONPATH"] = str(root)
    if pycache:
        env["PYTHONPYCACHEPREFIX"] = pycache
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def fresh_processes(commands: list[tuple[list[str], Path, str | None]], runs: int):
    """(wall times, CPU times) per command (argv, package root, pycache prefix), interleaved."""
    for argv, root, pycache in commands:  # one unmeasured run each: bytecode and grammar caches
        subprocess.run(argv, cwd=root, env=child_env(root, pycache), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    times: list[tuple[list[float], list[float]]] = [([], []) for _ in commands]
    for _ in range(runs):
        for (argv, root, pycache), (wall, cpu) in zip(commands, times):
            cpu0, start = _children_cpu(), time.perf_counter()
            done = subprocess.run(argv, cwd=root, env=child_env(root, pycache), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, check=False)
            wall.append(time.perf_counter() - start)
            cpu.append(_children_cpu() - cpu0)
            if done.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} (in {root}) exited {done.returncode}")
    return times


def in_process(spec: Path, runs: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from netc.expand import expand
    from netc.infer import infer
    from netc.memory import estimate_memory
    from netc.program import load_program
    from netc.table import render_table

    stages: dict[str, list[float]] = {"load + parse": [], "expand": [], "infer": [], "render text table": []}
    for _ in range(runs):
        t0 = time.perf_counter()
        program = load_program(str(spec))
        t1 = time.perf_counter()
        network = expand(program)
        t2 = time.perf_counter()
        analysis = infer(network)
        t3 = time.perf_counter()
        render_table(analysis, estimate_memory(analysis), "text")
        t4 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            stages[name].append(dt)
    result = {name: statistics.median(values) for name, values in stages.items()}
    result["total"] = sum(result.values())
    result["layers"] = len(analysis.info) - 1
    result["params"] = analysis.params
    return result


def imported_packages(argv: list[str], pycache: str) -> tuple[dict[str, int], int]:
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=ROOT, env=child_env(ROOT, pycache),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    names = {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    heavy: dict[str, int] = {}
    for name in names:
        top = name.split(".")[0]
        if top in HEAVY:
            heavy[top] = heavy.get(top, 0) + 1
    return heavy, len(names)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--spec", type=Path, default=None)
    parser.add_argument("--baseline", type=Path, default=None, help="another netc checkout to compare with")
    args = parser.parse_args()
    spec = (args.spec or default_spec()).resolve()
    py = sys.executable

    with tempfile.TemporaryDirectory(prefix="netc-bench-") as tmp:
        here, there = os.path.join(tmp, "here"), os.path.join(tmp, "baseline")
        table = [py, "-m", "netc", "table", str(spec)]
        check = [py, "-m", "netc", "check", str(spec)]
        labelled = [
            ("`python -c pass`", ([py, "-c", "pass"], ROOT, here)),
            ("`netc table SPEC`, bytecode cached", (table, ROOT, here)),
            ("`netc check SPEC`, bytecode cached", (check, ROOT, here)),
            ("`netc table SPEC`, no bytecode", (table, ROOT, None)),
        ]
        if args.baseline:
            base = args.baseline.resolve()
            labelled += [(f"baseline `netc table SPEC`, bytecode cached ({base})", (table, base, there)),
                         (f"baseline `netc table SPEC`, no bytecode ({base})", (table, base, None))]
        measured = fresh_processes([command for _, command in labelled], args.runs)
        heavy, count = imported_packages(["-m", "netc", "table", str(spec)], here)
    inner = in_process(spec, args.runs)

    shown = spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else spec
    print(f"spec: {shown} ({inner['layers']} layers, {inner['params']:,} params)")
    print(f"machine: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}; runs: {args.runs}; load average before: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print("| fresh process | wall median | wall min | wall max | CPU median |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for (label, _), (wall, cpu) in zip(labelled, measured):
        print(f"| {label} | {ms(statistics.median(wall))} | {ms(min(wall))} | {ms(max(wall))} "
              f"| {ms(statistics.median(cpu))} |")
    print()
    print("| in process (imports already paid) | median |")
    print("| --- | ---: |")
    for name in ("load + parse", "expand", "infer", "render text table", "total"):
        print(f"| {name} | {inner[name] * 1000:.1f} ms |")
    print()
    listing = ", ".join(f"{name} ({n} modules)" for name, n in sorted(heavy.items()))
    print(f"heavy packages imported by `netc table`: {listing or 'none'} ({count} modules in all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
