"""YAML tree → Program: check the spec's keys and types, parse every DSL string.

    build.py        the top level and the ways in: build_program, load_program, program_from_expression
    values.py       input:, params: and defaults:
    blocks.py       blocks: (sequence, parallel and residual blocks)
    heads.py        heads:
    scales.py       scales: (named presets of params)
    init_config.py  init: (how the learned tensors start)
    dsl.py          the DSL strings, wherever they stand
    checks.py       the shared checks: types, keys, identifiers (check_identifier), finite numbers
Errors are collected with netc.errors.Diagnostics, the accumulator every stage uses.
"""

from __future__ import annotations

from ...errors import Diagnostics
from .build import build_program, load_program, program_from_expression
from .checks import check_identifier

__all__ = ["Diagnostics", "build_program", "check_identifier", "load_program", "program_from_expression"]
