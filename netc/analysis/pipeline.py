"""The analysis path in one call: spec file → checked, annotated network. Never imports torch."""

from __future__ import annotations

from ..frontend.ast import Program
from ..frontend.program import load_program, program_from_expression
from ..graph.expand import DEFAULT_MAX_LAYERS, expand
from .annotated import Analysis
from .infer import infer


def analyze_program(program: Program, max_layers: int = DEFAULT_MAX_LAYERS) -> Analysis:
    return infer(expand(program, max_layers))


def analyze_file(path: str, overrides: dict[str, int | float] | None = None,
                 max_layers: int = DEFAULT_MAX_LAYERS, input_shape: tuple[int, ...] | None = None,
                 scale: str | None = None) -> Analysis:
    """`input_shape` evaluates the spec at another input (one spec at several resolutions); `scale`
    picks a preset of the spec's `scales:` (its params), which `overrides` (-D) then refine."""
    return analyze_program(load_program(path, overrides, input_shape, scale), max_layers)


def analyze_expression(dsl: str, input_shape: tuple[int, ...], max_layers: int = DEFAULT_MAX_LAYERS) -> Analysis:
    return analyze_program(program_from_expression(dsl, input_shape), max_layers)
