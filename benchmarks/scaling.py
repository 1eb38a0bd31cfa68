"""How netc's time and memory grow with the size of a spec (issue 15, part 1): each hostile-but-valid
shape of spec, generated at sizes 100 → 100,000, run through `check`, `table`, `compile` and
`render -o x.dot` in a fresh process; wall time and the child's peak RSS (os.wait4) recorded, and the growth
exponent fitted (the slope of log time against log size: 1 is linear, 2 quadratic).

    python benchmarks/scaling.py              # the full sweep, writes benchmarks/RESULTS-scaling.md
    python benchmarks/scaling.py --quick      # a smoke run: small sizes, one run each, nothing written
    python benchmarks/scaling.py --runs 3 --shape chain --command check

The shapes:
  errors    N independent errors: N unused blocks, each calling an unknown word (exit 1, 20 shown)
  shapes    N independent shape errors in one network line: pool(9) on an 8×8 input (exit 1)
  repeats   N argument-counted repeats `(relu)*n` inside one block's body
  parallel  one block of N parallel branches
  params    N params and a block called N times (0 layers)
  chain     the three-line spec `input: [3, 8, 8]` / `network: (relu)*N`
  render    a chain of N (conv-bn-relu) blocks, `render -o x.dot` (the DOT text: no Graphviz layout)
issue 26's shapes:
  paramcalls  N params and a block with an argument called N − 1 times, making no layer: the network
              class takes the params as constructor arguments (compile's extra expansion)
  points      N/3 marks `<m[i]>`, each read twice by an add: `(add(<m[j % h]>))*(2h)@j`
  allmarks    one concat reading `<m[*]>` over N − 2 marks
  fromchain   a chain of N/2 steps `<y[i]> - relu - <z[i]> - from(<y[i]>) - add(<z[i]>)`
  heads       N heads, each a relu from the one mark <f>
  blocks      a chain of N − 1 calls of a one-layer block (the chain, as blocks)

Tests carry no timing assertions; this script is where the timings live.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS-scaling.md"
COMMANDS = {"check": ["check"], "table": ["table"], "compile": ["compile"], "render": ["render", "-o", "{out}.dot"],
            "inference": ["compile", "--inference"]}
FULL = [100, 316, 1_000, 3_162, 10_000, 31_623, 100_000]
QUICK = [100, 1_000]
TIMEOUT = 300  # seconds per run: past it the point is recorded as a timeout
_LIMIT = [TIMEOUT]


def spec(shape: str, n: int) -> str:
    """The spec of a shape at size n: n layers in all (the input counted, so that 100,000 is the
    default --max-layers), n errors, n branches, n params and n calls, or n repeats."""
    head = "input: [3, 8, 8]\n"
    if shape == "errors":
        return head + "network: relu\nblocks:\n" + "".join(f"  b{i}: covn\n" for i in range(n))
    if shape == "shapes":
        return head + 'network: "' + "-".join(["pool(9)"] * n) + '"\n'
    if shape == "repeats":  # n repeats of 1 layer and the input: n + 1 layers
        return head + 'network: b(1)\nblocks:\n  b: {args: [n], body: "' + "-".join(["(relu)*n"] * (n - 1)) + '"}\n'
    if shape == "parallel":  # the input, n - 2 branches and their concat
        return head + "network: b\nblocks:\n  b: {parallel: [" + ", ".join(["relu"] * (n - 2)) + "]}\n"
    if shape == "params":
        return head + "params: {" + ", ".join(f"p{i}: {i}" for i in range(n)) + f"}}\nnetwork: (b)*{n}\nblocks:\n  b: (relu)*0\n"
    if shape == "chain":
        return head + f"network: (relu)*{n - 1}\n"
    if shape == "render":  # blocks of three layers, each a cluster in the picture
        return head + f"network: (cbr)*{max(1, (n - 1) // 3)}\nblocks:\n  cbr: conv(4, 3)-bn-relu\n"
    if shape == "paramcalls":  # tests/generated_specs.py's params_and_calls(n, n - 1)
        return (head + "params: {" + ", ".join(f"p{i}: {i}" for i in range(n)) + f"}}\nnetwork: (nop(1))*{n - 1}\n"
                "blocks:\n  nop: {args: [a], body: identity}\n")
    if shape == "points":  # h relus and marks, 2h adds: 3h + 1 layers
        h = max(1, (n - 1) // 3)
        return head + f'network: "(relu - <m[i]>)*{h}@i - (add(<m[j % {h}]>))*{2 * h}@j"\n'
    if shape == "allmarks":
        return head + f'network: "(relu - <m[i]>)*{n - 2}@i - concat(<m[*]>)"\n'
    if shape == "fromchain":
        return head + f'network: "(<y[i]> - relu - <z[i]> - from(<y[i]>) - add(<z[i]>))*{max(1, (n - 1) // 2)}@i"\n'
    if shape == "heads":  # the input, one relu, n heads of one relu
        return (head + "network: relu - <f>\nheads:\n"
                + "".join(f"  h{i}: {{from: f, body: relu}}\n" for i in range(n)))
    if shape == "blocks":
        return head + f"network: (b)*{n - 1}\nblocks:\n  b: relu\n"
    raise ValueError(shape)


SPEC_LIMIT = 1_000_000  # netc refuses a larger spec: a size whose spec is larger is left out
LARGE = [100, 316, 1_000, 3_162, 10_000, 31_623, 60_000]  # where the spec takes ~15 bytes per unit
SHAPES = {  # shape → the commands it is run through, and its sizes
    # netc's own limits bound two shapes: a spec holds at most 100,000 YAML values (3 per block)
    # and 200,000 characters of DSL (9 per repeat); past them it is refused in well under a second.
    "errors": (["check"], [100, 316, 1_000, 3_162, 10_000, 31_623]),
    "shapes": (["check"], FULL),
    "repeats": (["check", "compile"], [100, 316, 1_000, 3_162, 10_000, 22_000]),
    "parallel": (["check", "table", "compile", "render"], LARGE),  # YAML holds at most 100,000 values
    "params": (["check"], LARGE),
    "chain": (["check", "table", "compile", "inference", "render"], FULL),
    "render": (["render"], FULL),
    # issue 26
    "paramcalls": (["check", "table", "compile"], LARGE),  # 15 bytes per param: 100,000 is over 1 MB
    "points": (["check", "table", "compile"], FULL),
    "allmarks": (["check", "compile"], FULL),
    "fromchain": (["check", "table", "compile"], FULL),
    "heads": (["check", "table", "compile"], [100, 316, 1_000, 3_162, 10_000, 20_000]),  # YAML: 100,000 values
    "blocks": (["check", "table", "compile", "inference", "render"], FULL),
}


def run_once(path: Path, command: str, out: str) -> tuple[float, int, int]:
    """(wall seconds, peak RSS of the child in bytes, exit code)."""
    words = COMMANDS[command]
    argv = [sys.executable, "-m", "netc", words[0], str(path), *[a.format(out=out) for a in words[1:]], "-q"]
    began = time.perf_counter()
    with open(os.devnull, "wb") as null:
        child = subprocess.Popen(argv, cwd=ROOT, stdout=null, stderr=null)
        try:
            _, status, usage = _wait4(child, _LIMIT[0])
        except TimeoutError:
            child.kill()
            child.wait()
            return math.inf, 0, -9
    spent = time.perf_counter() - began
    return spent, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status)


def _wait4(child: subprocess.Popen, timeout: float):
    """The child's exit status and its own resource usage (peak RSS), polled up to `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            child.returncode = os.waitstatus_to_exitcode(status)
            return pid, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.005)


def slope(points: list[tuple[int, float]]) -> float | None:
    """The least-squares slope of log(time) on log(n), over the points from 1,000 up (below that,
    Python's start-up dominates); None with fewer than two such points."""
    usable = [(n, t) for n, t in points if math.isfinite(t) and n >= 1_000]
    if len(usable) < 2:
        usable = [(n, t) for n, t in points if math.isfinite(t)]
    if len(usable) < 2:
        return None
    xs = [math.log(n) for n, _ in usable]
    ys = [math.log(max(t, 1e-6)) for _, t in usable]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else None


def last_slope(points: list[tuple[int, float]]) -> float | None:
    """The slope between the two largest sizes: where start-up no longer hides the growth (the fit
    over n ≥ 1,000 still counts points that start-up dominates, and reads lower)."""
    usable = [(n, t) for n, t in points if math.isfinite(t)]
    if len(usable) < 2:
        return None
    (n0, t0), (n1, t1) = usable[-2], usable[-1]
    return math.log(max(t1, 1e-6) / max(t0, 1e-6)) / math.log(n1 / n0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="sizes 100 and 1,000, one run, no results file")
    parser.add_argument("--runs", type=int, default=None, help="runs per point, the median kept (default 3; 1 when --quick)")
    parser.add_argument("--shape", action="append", choices=sorted(SHAPES), help="only these shapes")
    parser.add_argument("--command", action="append", choices=sorted(COMMANDS), help="only these commands")
    parser.add_argument("--max", type=int, default=None, help="largest size")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds per run (default {TIMEOUT})")
    parser.add_argument("-o", "--output", default=None, help="results file (default benchmarks/RESULTS-scaling.md)")
    args = parser.parse_args()
    runs = args.runs or (1 if args.quick else 3)
    _LIMIT[0] = args.timeout
    baseline = None
    sections: list[str] = []
    summary: list[tuple[str, str, float | None, float | None, float, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        ok = Path(tmp) / "ok.yaml"
        ok.write_text("input: [3, 8, 8]\nnetwork: relu\n", encoding="utf-8")
        baseline = statistics.median(run_once(ok, "check", str(Path(tmp) / "ok"))[0] for _ in range(runs))
        print(f"python start-up + a one-layer check: {baseline * 1000:.0f} ms", flush=True)
        for shape, (commands, sizes) in SHAPES.items():
            if args.shape and shape not in args.shape:
                continue
            sizes = QUICK if args.quick else [n for n in sizes if args.max is None or n <= args.max]
            for command in commands:
                if args.command and command not in args.command:
                    continue
                rows, points = [], []
                for n in sizes:
                    path = Path(tmp) / f"{shape}_{n}.yaml"
                    text = spec(shape, n)
                    if len(text.encode()) > SPEC_LIMIT:
                        print(f"{shape:9} {command:8} n={n:>7,} left out: the spec is over 1 MB", flush=True)
                        continue
                    path.write_text(text, encoding="utf-8")
                    results = [run_once(path, command, str(Path(tmp) / f"{shape}_{n}")) for _ in range(runs)]
                    spent = statistics.median(r[0] for r in results)
                    rss = max(r[1] for r in results)
                    code = results[0][2]
                    if rows and code != rows[0][4]:
                        print(f"  exit {code} where n = {rows[0][0]:,} gave {rows[0][4]}: not fitted", flush=True)
                    else:
                        points.append((n, spent))
                    rows.append((n, len(text.encode()), spent, rss, code))
                    shown = "timeout" if not math.isfinite(spent) else f"{spent:8.2f} s"
                    print(f"{shape:9} {command:8} n={n:>7,} {shown} {rss / 2**20:7.1f} MiB exit {code}", flush=True)
                    if not math.isfinite(spent):
                        break
                exponent = slope(points)
                fitted = {n for n, _ in points}
                big = [r for r in rows if r[0] in fitted][-1]  # the largest n that ran as the smallest did
                per = (big[3] - rows[0][3]) / max(1, big[0] - rows[0][0])
                summary.append((shape, command, exponent, last_slope(points), big[2], big[0], per))
                sections.append(_section(shape, command, rows, exponent, per))
                print(f"{shape:9} {command:8} exponent {_fmt(exponent)} (largest two sizes {_fmt(last_slope(points))}), "
                      f"{per:,.0f} bytes per unit", flush=True)
    if args.quick:
        return 0
    _write(Path(args.output) if args.output else RESULTS, baseline, runs, summary, sections)
    return 0


def _fmt(exponent: float | None) -> str:
    return "—" if exponent is None else f"{exponent:.2f}"


def _section(shape: str, command: str, rows, exponent, per) -> str:
    lines = [f"### {shape} · `{command}`", "", "| n | spec bytes | wall (s) | peak RSS (MiB) | exit |", "| ---: | ---: | ---: | ---: | ---: |"]
    for n, size, spent, rss, code in rows:
        shown = "timeout" if not math.isfinite(spent) else f"{spent:.2f}"
        lines.append(f"| {n:,} | {size:,} | {shown} | {rss / 2**20:.1f} | {code} |")
    lines += ["", (f"growth exponent (log-log slope, n ≥ 1,000): **{_fmt(exponent)}**; "
                   f"memory {per:,.0f} bytes per unit of n"), ""]
    return "\n".join(lines)


def _write(path: Path, baseline: float, runs: int, summary, sections) -> None:
    head = [
        "# Scaling: time and memory against the size of a spec",
        "",
        (f"Command: `python benchmarks/scaling.py --runs {runs}` — every point a fresh `python -m netc …` process "
         f"(Python start-up included: {baseline * 1000:.0f} ms for a one-layer `check`), median of {runs} runs, peak RSS "
         "from the child's `wait4` rusage. Machine: the shared 2-core development machine (timings are noisy; "
         "the exponent is the figure to read). The exponent is the least-squares slope of log time on log n over "
         "n ≥ 1,000 (below that start-up dominates): 1 is linear, 2 quadratic. Bytes per unit: "
         "(peak RSS at the largest n − at the smallest) / (difference in n)."),
        "",
        ("Goal (issue 15): no stage super-linear; `check`, `table`, `compile` and `render -o x.dot` of a "
         "100,000-layer spec each under 3 s whole-process."),
        "",
        "| shape | command | exponent | largest two sizes | wall at largest n | bytes per unit |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for shape, command, exponent, last, spent, n, per in summary:
        shown = "timeout" if not math.isfinite(spent) else f"{spent:.2f} s"
        head.append(f"| {shape} | `{command}` | {_fmt(exponent)} | {_fmt(last)} | {shown} (n = {n:,}) | {per:,.0f} |")
    head.append("")
    path.write_text("\n".join(head + ["## Per shape", ""] + sections), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
