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

Two further measurements (issue 26), each on its own, printed as a Markdown table:
  --startup     start-up: `python -c pass`, `netc --version` and `netc check -e relu --input 3x8x8`,
                fresh processes interleaved (A B C A B C …), with the ratio to bare Python and the
                modules each imports beyond bare Python's (`python -X importtime`);
  --torchinfo   `netc table SPEC` against torchinfo's summary of torchvision's resnet152, whole
                process, A B A B …: torchinfo is a benchmark-only tool, not in netc's requirements
                (`pip install torchinfo==1.8.0`; torch and torchvision as the tests have them).

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
    from netc.analysis.infer import infer
    from netc.analysis.memory import estimate_memory
    from netc.analysis.table import render_table
    from netc.frontend.program import load_program
    from netc.graph.expand import expand

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


def imported_modules(argv: list[str], pycache: str, root: Path = ROOT) -> set[str]:
    """The modules a fresh process imports (`python -X importtime`: every import, first time only)."""
    done = subprocess.run([sys.executable, "-X", "importtime", *argv], cwd=root, env=child_env(root, pycache),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
            if line.startswith("import time:") and "|" in line and "imported package" not in line}


def _load_line() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def startup(runs: int, baseline: Path | None) -> int:
    """`netc --version` and a one-layer check beside bare Python's start (goal: within 2×); with a
    baseline checkout, its two commands interleaved with these."""
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="netc-bench-") as tmp:
        cache = os.path.join(tmp, "pycache")
        commands = [("`netc --version`", [py, "-m", "netc", "--version"]),
                    ("`netc check -e relu --input 3x8x8`", [py, "-m", "netc", "check", "-e", "relu", "--input", "3x8x8"])]
        labelled = [("`python -c pass`", [py, "-c", "pass"], ROOT)] + [(label, argv, ROOT) for label, argv in commands]
        if baseline is not None:
            labelled += [(f"baseline {label}", argv, baseline.resolve()) for label, argv in commands]
        before = _load_line()
        measured = fresh_processes([(argv, root, os.path.join(cache, str(k))) for k, (_, argv, root) in enumerate(labelled)],
                                   runs)
        bare = imported_modules(["-c", "pass"], cache)
        extra = [sorted(imported_modules(argv[1:], cache, root) - bare) for _, argv, root in labelled]
    base_wall, base_cpu = statistics.median(measured[0][0]), statistics.median(measured[0][1])
    print(f"machine: {platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs; "
          f"runs: {runs}, interleaved; load average before: {before}, after: {_load_line()}")
    print()
    print("| fresh process | wall median | wall min | CPU median | wall / bare | CPU / bare | modules beyond bare |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (label, _, _), (wall, cpu), more in zip(labelled, measured, extra):
        print(f"| {label} | {ms(statistics.median(wall))} | {ms(min(wall))} | {ms(statistics.median(cpu))} "
              f"| {statistics.median(wall) / base_wall:.2f}× | {statistics.median(cpu) / base_cpu:.2f}× | {len(more)} |")
    print()
    for (label, _, _), more in zip(labelled[1:], extra[1:]):
        tops = sorted({name.split(".")[0] for name in more})
        print(f"{label} imports, beyond bare Python: {', '.join(tops)}")
    return 0


# torchinfo's side: torchvision's resnet152 summarised at one 224×224 image, as its README does.
# torchvision is imported beside the CPU torch as the tests do (netc/importer/torchvision_compat.py,
# loaded by path so that netc's package is not imported on this side).
TORCHINFO = """import importlib.util, sys
spec = importlib.util.spec_from_file_location("compat", sys.argv[1])
compat = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compat)
import torchinfo
torchinfo.summary(compat.torchvision().models.resnet152(), input_size=(1, 3, 224, 224))
"""


def against_torchinfo(spec: Path, runs: int) -> int:
    """`netc table SPEC` and torchinfo's summary of torchvision's resnet152, A B A B … (goal: ≥ 40×)."""
    import importlib.util

    if importlib.util.find_spec("torchinfo") is None:
        print("torchinfo is not installed: it is a benchmark-only tool, not one of netc's requirements.\n"
              "Install it beside torch and torchvision with `pip install torchinfo==1.8.0`, then run again.",
              file=sys.stderr)
        return 2
    py = sys.executable
    compat = str(ROOT / "netc" / "importer" / "torchvision_compat.py")
    with tempfile.TemporaryDirectory(prefix="netc-bench-") as tmp:
        cache = os.path.join(tmp, "pycache")
        labelled = [
            ("`netc table SPEC`", [py, "-m", "netc", "table", str(spec)]),
            ("torchinfo `summary(resnet152(), (1, 3, 224, 224))`", [py, "-c", TORCHINFO, compat]),
        ]
        before = _load_line()
        measured = fresh_processes([(argv, ROOT, cache) for _, argv in labelled], runs)
    shown = spec.relative_to(ROOT) if spec.is_relative_to(ROOT) else spec
    print(f"spec: {shown}; machine: {platform.python_implementation()} {platform.python_version()}, "
          f"{os.cpu_count()} CPUs; runs: {runs}, A B A B …; load average before: {before}, after: {_load_line()}")
    print()
    print("| fresh process | wall median | wall min | wall max | CPU median |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for (label, _), (wall, cpu) in zip(labelled, measured):
        print(f"| {label} | {ms(statistics.median(wall))} | {ms(min(wall))} | {ms(max(wall))} "
              f"| {ms(statistics.median(cpu))} |")
    (netc_wall, netc_cpu), (their_wall, their_cpu) = measured
    pairs = sorted(t / n for n, t in zip(netc_wall, their_wall))  # each A B pair ran side by side
    print()
    print(f"torchinfo / netc: wall medians {statistics.median(their_wall) / statistics.median(netc_wall):.1f}×, "
          f"CPU medians {statistics.median(their_cpu) / statistics.median(netc_cpu):.1f}×, "
          f"per pair {pairs[0]:.1f}×–{pairs[-1]:.1f}× (median {statistics.median(pairs):.1f}×)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--spec", type=Path, default=None)
    parser.add_argument("--baseline", type=Path, default=None, help="another netc checkout to compare with")
    parser.add_argument("--startup", action="store_true", help="only start-up: --version and a one-layer check")
    parser.add_argument("--torchinfo", action="store_true", help="only netc table against torchinfo's summary")
    args = parser.parse_args()
    spec = (args.spec or default_spec()).resolve()
    if args.startup:
        return startup(args.runs, args.baseline)
    if args.torchinfo:
        return against_torchinfo(spec, args.runs)
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
