"""Compare what two netc checkouts print for every spec in specs/, byte for byte.

    python scripts/compare_outputs.py BEFORE AFTER [--python PY]

checks that a change of layout (scripts/restructure.py) changed no behaviour: for each specs/*.yaml,
`netc check`, `netc table` (text and json), `netc compile` and `netc render -o x.dot` are run in
each tree (its root as the working directory, so its own netc is the one imported: the script
checks `netc.__file__`), and their exit status, stdout, stderr and written file are compared.
One Python process per tree runs every command through netc.cli.main, so the two trees' outputs
are gathered in a few seconds rather than hundreds of process starts. Exit 0 if all agree, 1 with
the differing (spec, command) pairs listed otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "check": ["check", "{spec}"],
    "table": ["table", "{spec}"],
    "table-json": ["table", "{spec}", "--format", "json"],
    "compile": ["compile", "{spec}"],
    "render-dot": ["render", "{spec}", "-o", "{out}/x.dot"],
}


def emit(out_dir: Path) -> None:
    """Worker: run every command on every spec of the tree in the working directory."""
    sys.path.insert(0, str(Path.cwd()))  # this tree's netc, before any installed (editable) one
    import netc
    import netc.cli

    root = Path.cwd().resolve()
    where = Path(netc.__file__).resolve()
    if root not in where.parents:
        sys.exit(f"compare_outputs: netc imported from {where}, not from {root}")
    results = {"netc": str(where.relative_to(root))}
    for spec in sorted(Path("specs").glob("*.yaml")):
        for name, template in COMMANDS.items():
            with tempfile.TemporaryDirectory() as scratch:
                argv = [a.format(spec=spec.as_posix(), out=scratch) for a in template]
                stdout, stderr = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                    try:
                        code = netc.cli.main(argv)
                    except SystemExit as stop:
                        code = stop.code
                written = Path(scratch, "x.dot")
                results[f"{spec.name} {name}"] = {
                    "rc": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
                    "file": written.read_text(encoding="utf-8") if written.is_file() else None,
                }
    (out_dir / "results.json").write_text(json.dumps(results, sort_keys=True), encoding="utf-8")


def gather(tree: Path, python: str) -> dict:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([python, str(Path(__file__).resolve()), "--emit", out], cwd=tree, check=True,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
        return json.loads(Path(out, "results.json").read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, help="BEFORE AFTER: two checkouts' roots")
    parser.add_argument("--python", default=sys.executable, help="the interpreter (default: this one)")
    parser.add_argument("--emit", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.emit:
        emit(args.emit)
        return 0
    if len(args.trees) != 2:
        parser.error("give two trees: BEFORE AFTER")
    before, after = (gather(t.resolve(), args.python) for t in args.trees)
    print(f"netc from {before.pop('netc')} and {after.pop('netc')}")
    differ = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    for key in differ:
        parts = [p for p in ("rc", "stdout", "stderr", "file")
                 if (before.get(key) or {}).get(p) != (after.get(key) or {}).get(p)]
        print(f"differs  {key}: {', '.join(parts)}")
    specs = len({k.split(' ')[0] for k in before})
    print(f"{len(before) - len(differ)} of {len(before)} outputs identical ({specs} specs × {len(COMMANDS)} commands)")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
