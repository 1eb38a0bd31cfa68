"""The generated source of every zoo spec and every small spec of test_codegen.py, byte for byte as
recorded in tests/codegen_snapshots/. A guard for refactoring the code generator (issue 11: one
interpreter of the spec): a change of the generated text must be deliberate, never a side effect.

What the source *does* is proven elsewhere (test_codegen.py builds it and checks it against the
analysis and torch); these files only pin the text. After an intended change, rewrite them with
`NETC_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_codegen_snapshots.py`, read the
diff, and commit it with the change that caused it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_codegen import CASES, SMALL

from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import generate_source

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "codegen_snapshots"
UPDATE = os.environ.get("NETC_UPDATE_SNAPSHOTS") == "1"


def snapshot_name(case: str, params: dict) -> str:
    name = case.replace(":", "_")
    # .txt: recorded text, not code of the project (linters and duplicate finders pass it over)
    return name + "".join(f"-{k}={v}" for k, v in sorted(params.items())) + ".py.txt"


@pytest.mark.parametrize("case,params", CASES, ids=[snapshot_name(c, p) for c, p in CASES])
def test_generated_source_is_as_recorded(case, params, tmp_path, monkeypatch):
    where, name = case.split(":", 1)
    if where == "zoo":
        monkeypatch.chdir(ROOT)
        path = f"specs/{name}.yaml"
    else:  # written where test_codegen writes them: outside the working directory, named by file name
        path = str(tmp_path / f"{name}.yaml")
        Path(path).write_text(SMALL[name].lstrip(), encoding="utf-8")
    source = generate_source(analyze_file(path, params or None))
    recorded = SNAPSHOTS / snapshot_name(case, params)
    if UPDATE:
        recorded.write_text(source, encoding="utf-8")
    assert recorded.exists(), f"no snapshot {recorded.name}: run with NETC_UPDATE_SNAPSHOTS=1 once"
    assert source == recorded.read_text(encoding="utf-8"), f"generated source of {case} changed"
