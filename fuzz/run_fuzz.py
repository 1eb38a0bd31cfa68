"""The long fuzz campaign over netc's analysis path (no torch): see fuzz/RESULTS.md.

    .venv/bin/python fuzz/run_fuzz.py --inputs 100000          # all engines: 10% hypothesis, 30% each other
    .venv/bin/python fuzz/run_fuzz.py --inputs 20000 --engine mutate --seed 7

Four engines feed the property in fuzz/strategies.py (a result, or a NetcError whose spans lie
inside the file):
  hypothesis  spec trees, DSL strings and raw text from the grammar in fuzz/strategies.py, drawn
              by hypothesis (≈40/s: its bookkeeping costs more than netc's answer);
  generate    the same grammar driven by a plain random.Random (≈300/s);
  small       small networks that mostly pass every check (shapes, blocks, heads run to the end),
              half of them mutated;
  mutate      random character, line and splice mutations of real specs (specs/*.yaml and the
              error corpus tests/errors/*.yaml), with random bytes decoded as the CLI does.
Every input runs under a time limit (a hang is a failure) and the process under a memory limit
(a blow-up is a MemoryError, recorded, not an OOM kill). Failures are grouped by exception type
and the netc line that raised; the first input of each group is saved under fuzz/crashes/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import resource
import signal
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fuzz"))

from strategies import RandomChooser, analyze_text, any_spec, small_network
from strategies import mutate as mutate_text

TIME_LIMIT_S = 5
SLOW_S = 1.0
MEMORY_LIMIT = 4 << 30


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang(f"no answer within {TIME_LIMIT_S} s")


class Campaign:
    def __init__(self, out: Path):
        self.out = out
        self.inputs = 0
        self.results = {"ok": 0, "error": 0}
        self.failures: dict[str, dict] = {}
        self.start = time.time()
        self.slowest = (0.0, "")
        self.slow: list[tuple[float, str]] = []

    def run(self, text: str, engine: str) -> None:
        self.inputs += 1
        signal.alarm(TIME_LIMIT_S)
        began = time.perf_counter()
        try:
            result = analyze_text(text)
            self.results["error" if hasattr(result, "diagnostics") else "ok"] += 1
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            self.record(exc, text, engine)
        finally:
            signal.alarm(0)
        spent = time.perf_counter() - began
        if spent > self.slowest[0]:
            self.slowest = (spent, text[:200])
        if spent > SLOW_S:  # kept, to be run again alone: a slow answer is a finding unless the machine was busy
            self.slow.append((round(spent, 2), self.save(text, "slow")))

    def save(self, text: str, kind: str) -> str:
        name = f"{kind}-{hashlib.sha1(text.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}.yaml"
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / name).write_text(text, encoding="utf-8", errors="surrogatepass")
        return f"fuzz/crashes/{name}"

    def record(self, exc: BaseException, text: str, engine: str) -> None:
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/netc/" in f.filename]
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "fuzz"
        kind = "AssertionError (property)" if isinstance(exc, AssertionError) else type(exc).__name__
        key = f"{kind} at {where}"
        entry = self.failures.get(key)
        if entry is None:
            entry = self.failures[key] = {"count": 0, "example": self.save(text, "crash"), "engine": engine,
                                          "message": str(exc)[:300]}
            print(f"  new failure: {key}: {str(exc)[:200]}", flush=True)
        entry["count"] += 1

    def progress(self) -> None:
        elapsed = time.time() - self.start
        print(f"{self.inputs:>8,} inputs  {elapsed:7.1f} s  {self.inputs / max(elapsed, 1e-9):6.0f}/s  "
              f"ok {self.results['ok']:,}  errors {self.results['error']:,}  failures {len(self.failures)}", flush=True)


def hypothesis_engine(campaign: Campaign, count: int, seed: int) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from strategies import strategy

    @hseed(seed)
    @settings(max_examples=count, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy(any_spec))
    def one(text):
        campaign.run(text, "hypothesis")
        if campaign.inputs % 5000 == 0:
            campaign.progress()

    one()


def generate_engine(campaign: Campaign, count: int, seed: int) -> None:
    chooser = RandomChooser(random.Random(seed))
    for _ in range(count):
        campaign.run(any_spec(chooser), "generate")
        if campaign.inputs % 5000 == 0:
            campaign.progress()


def small_engine(campaign: Campaign, count: int, seed: int) -> None:
    """Small networks that mostly pass every check (so shapes, blocks and heads are exercised to
    the end), half of them with a few characters mutated."""
    chooser = RandomChooser(random.Random(seed + 1))
    for i in range(count):
        text = small_network(chooser)
        campaign.run(mutate_text(chooser, text) if i % 2 else text, "small")
        if campaign.inputs % 5000 == 0:
            campaign.progress()


def _seeds() -> list[str]:
    files = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "tests" / "errors").glob("*.yaml"))
    return [f.read_text(encoding="utf-8", errors="replace") for f in files]


JUNK = list("()[]<>-*@,=+/%.:#{}'\"\\ \t\n|&!?~`$^;0123456789xN_") + ["\r\n", "\r", "\x00", "\ufeff", "é", "日",
                                                                    "\u2028", "**", "&a", "*a", "<<: ", "!!", "- "]


def mutate(rng: random.Random, seeds: list[str]) -> str:
    text = rng.choice(seeds)
    for _ in range(rng.randint(1, 6)):
        action = rng.randint(0, 9)
        pos = rng.randint(0, len(text))
        if action <= 2:  # insert
            text = text[:pos] + rng.choice(JUNK) + text[pos:]
        elif action <= 4:  # delete a short run
            text = text[:pos] + text[pos + rng.randint(1, 8):]
        elif action == 5:  # replace a character with a digit-run or a word
            text = text[:pos] + rng.choice(["9" * rng.randint(1, 40), "conv", "relu", "covn3", "N", "0", "-1"]) + text[pos + 1:]
        elif action == 6:  # splice a line from another seed
            other = rng.choice(seeds).split("\n")
            lines = text.split("\n")
            lines.insert(rng.randint(0, len(lines)), rng.choice(other))
            text = "\n".join(lines)
        elif action == 7:  # duplicate or drop a line
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(i, lines[i])
            else:
                del lines[i]
            text = "\n".join(lines)
        elif action == 8:  # random bytes, decoded as the CLI decodes a file (invalid UTF-8 is an error there)
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 6)))
            text = text[:pos] + raw.decode("utf-8", "replace") + text[pos:]
        else:  # re-indent a line
            lines = text.split("\n")
            i = rng.randrange(len(lines))
            lines[i] = rng.choice(["", " ", "  ", "\t", "    "]) + lines[i].lstrip()
            text = "\n".join(lines)
    return text


def mutation_engine(campaign: Campaign, count: int, seed: int) -> None:
    rng = random.Random(seed)
    seeds = _seeds()
    for _ in range(count):
        campaign.run(mutate(rng, seeds), "mutate")
        if campaign.inputs % 5000 == 0:
            campaign.progress()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--engine", choices=("all", "hypothesis", "generate", "mutate", "small"), default="all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the summary here")
    args = parser.parse_args()

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    campaign = Campaign(ROOT / "fuzz" / "crashes")
    shares = ({"hypothesis": 0.1, "generate": 0.3, "small": 0.3, "mutate": 0.3} if args.engine == "all"
              else {args.engine: 1.0})
    engines = {"hypothesis": hypothesis_engine, "generate": generate_engine, "mutate": mutation_engine,
               "small": small_engine}
    per_engine = {}
    for name, share in shares.items():
        before, began = campaign.inputs, time.time()
        engines[name](campaign, int(args.inputs * share), args.seed)
        per_engine[name] = {"inputs": campaign.inputs - before, "seconds": round(time.time() - began, 1)}
        print(f"engine {name}: {per_engine[name]}", flush=True)
    campaign.progress()
    summary = {
        "inputs": campaign.inputs, "seconds": round(time.time() - campaign.start, 1), "engines": per_engine,
        "results": campaign.results,
        "failures": campaign.failures, "slowest_s": round(campaign.slowest[0], 3), "slowest_input": campaign.slowest[1],
        "slow_inputs": campaign.slow,
        "python": sys.version.split()[0], "pid": os.getpid(),
    }
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 1 if campaign.failures else 0


if __name__ == "__main__":
    sys.exit(main())
