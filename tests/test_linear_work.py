"""The work a command does grows linearly in what a spec holds (issue 26). Counted, not timed:
every read of the spec's params (an environment copied per block call reads all of them), and
every Python function call netc makes, between a spec and one twice its size in each axis."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from generated_specs import params_and_calls

from netc.analysis.pipeline import analyze_program
from netc.backends.codegen import generate
from netc.frontend.program import load_program


class CountedParams(dict):
    """The spec's params, counting every entry read. Overriding keys and iteration takes a dict
    copy (`{**params}`, `dict(params)`) off CPython's fast path, so a copy is counted entry by entry."""

    reads = 0

    def __getitem__(self, key: str):
        CountedParams.reads += 1
        return super().__getitem__(key)

    def get(self, key: str, default=None):
        CountedParams.reads += 1
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        CountedParams.reads += 1
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        for key in super().__iter__():
            CountedParams.reads += 1
            yield key

    def keys(self):  # the slow path of a dict merge asks for keys(), then each value
        return list(iter(self))

    def items(self):
        return [(key, self[key]) for key in self]

    def values(self):
        return [self[key] for key in self]

    def copy(self) -> dict:
        return {key: self[key] for key in self}


def _work(tmp_path: Path, params: int, calls: int) -> tuple[int, int, str]:
    """(params read, Python calls made, the source) for `netc compile` of the spec, in-process."""
    spec = tmp_path / f"p{params}_c{calls}.yaml"
    spec.write_text(params_and_calls(params, calls), encoding="utf-8")
    program = load_program(str(spec))
    assert len(program.params) == params
    program = dataclasses.replace(program, params=CountedParams(program.params))
    calls_made = [0]

    def count(frame, event, arg) -> None:
        if event == "call":
            calls_made[0] += 1

    CountedParams.reads = 0
    sys.setprofile(count)
    try:
        source = generate(analyze_program(program)).source
    finally:
        sys.setprofile(None)
    return CountedParams.reads, calls_made[0], source


# Each axis from above 64 params: an environment of at most 64 names is copied at each call, by
# design (netc/frontend/exprs.py, `layered`), which is linear in the calls.
@pytest.mark.parametrize("params,calls", [(500, 500), (100, 1_000), (1_000, 10)])
def test_compile_work_is_linear_in_params_and_block_calls(tmp_path, params, calls):
    small_reads, small_calls, _ = _work(tmp_path, params, calls)
    big_reads, big_calls, big_source = _work(tmp_path, 2 * params, 2 * calls)
    # Doubling both axes of params × calls quadruples the work where each call copies the params
    # (what main did: 20,000 × 100,000 never finished); linear work at most doubles, plus a little
    # for names that grow a digit.
    assert big_reads <= 2.2 * small_reads + 100, (small_reads, big_reads)
    assert big_calls <= 2.2 * small_calls, (small_calls, big_calls)
    # The work is the compile's: the class takes the params as constructor arguments.
    assert f"p{2 * params - 1}: int = {2 * params - 1}" in big_source
    assert big_source.count(" = Nop(3, 1)") == 2 * calls
