"""Property-based fuzzing of the analysis path, in the normal suite (a modest number of
examples; fuzz/run_fuzz.py runs the long campaign, recorded in fuzz/RESULTS.md).

For any spec text — generated from the grammar, mutated, or structureless — netc answers with an
Analysis or a NetcError whose every span lies inside the file; nothing else escapes. For small
valid networks, the module built from the generated source has exactly the parameters the
analysis counts, and its outputs have the shapes the analysis infers.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "fuzz"))

from strategies import (
    analyze_text,
    any_spec,
    dsl_spec,
    raw_text,
    seeded,
    small_network,
    spec_text,
    strategy,
)

from netc.errors import NetcError

# A deadline catches a hang, not a busy machine: other work may share the CPU.
FAST = settings(deadline=10_000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(FAST, max_examples=300)
@given(strategy(spec_text))
def test_generated_spec_trees(text):
    analyze_text(text)


@settings(FAST, max_examples=300)
@given(strategy(dsl_spec))
def test_generated_and_mutated_dsl(text):
    analyze_text(text)


@settings(FAST, max_examples=200)
@given(strategy(raw_text))
def test_structureless_text(text):
    analyze_text(text)


@settings(FAST, max_examples=1200)
@given(seeded(any_spec))
def test_many_random_specs(text):
    analyze_text(text)


def _codegen():
    from netc.backends import codegen  # imported lazily: torch loads only for the build half

    return codegen


@settings(FAST, max_examples=100, deadline=None)
@given(seeded(small_network))
def test_small_valid_networks_build_as_analysed(text):
    result = analyze_text(text)
    if isinstance(result, NetcError):
        return
    codegen = _codegen()
    import torch
    module = codegen.build_module(result)
    assert sum(p.numel() for p in module.parameters()) == result.params
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(2, *result.network.input_shape))
    shapes = result.output_shapes()
    outputs = out if isinstance(out, dict) else {next(iter(shapes)): out}
    assert {name: tuple(t.shape[1:]) for name, t in outputs.items()} == shapes


def test_small_networks_are_mostly_valid():
    """The build property above is only as good as the share of valid networks it sees."""
    import random

    from strategies import RandomChooser

    chooser = RandomChooser(random.Random(0))
    results = [analyze_text(small_network(chooser)) for _ in range(200)]
    assert sum(not isinstance(r, NetcError) for r in results) >= 120
