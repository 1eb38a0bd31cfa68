"""A generated section of README.md between two marker comments, written or checked.

Shared by the scripts that generate README tables from netc itself (zoo_table.py,
layer_table.py): each gives its markers and a function that makes the table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def updated_readme(text: str, generated: str, start: str, end: str) -> str:
    if start not in text or end not in text:
        raise SystemExit(f"README.md has no {start} … {end} section")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{generated}\n{end}{tail}"


def main(description: str, table: Callable[[], str], start: str, end: str, what: str, script: str,
         argv: list[str] | None = None) -> int:
    """Write the section (default), `--check` it (exit 1 when stale), or `--print` the table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md is out of date")
    parser.add_argument("--print", action="store_true", help="print the table, change nothing")
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    args = parser.parse_args(argv)
    generated = table()
    if args.print:
        print(generated)
        return 0
    readme = Path(args.readme)
    text = readme.read_text(encoding="utf-8")
    new = updated_readme(text, generated, start, end)
    if args.check:
        if new != text:
            print(f"{readme}: {what} is out of date; run python scripts/{script}", file=sys.stderr)
            return 1
        return 0
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return 0
