"""Scaling families from one spec: the DSL's functions (ceil, floor, round, min, max,
make_divisible) and EfficientNet B0/B1/B3 from specs/efficientnet.yaml by -D, against
torchvision's published figures (parameters, and GFLOPS as torchvision counts them: multiply-adds).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from netc import NetcError
from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.frontend.exprs import make_divisible

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value,divisor,expected", [
    (12, 8, 16),   # 12 + 4 = 16: up to the next multiple
    (20, 8, 24),   # halfway rounds up
    (35, 8, 32),   # down, and 32 ≥ 0.9 · 35
    (11, 8, 16),   # down to 8 would lose more than 10%: one more step
    (3.2, 8, 8),   # never below the divisor
    (40.0, 8, 40),
])
def test_make_divisible_is_torchvisions_rounding(value, divisor, expected):
    # torchvision.models._utils._make_divisible: max(d, int(v + d/2) // d * d), + d if below 0.9 v
    assert make_divisible(value, divisor) == expected


def _first_conv_filters(dsl: str) -> int:
    return next(n for n in analyze_expression(dsl, (3, 8, 8)).network.nodes() if n.kind == "conv").attrs["filters"]


def test_functions_compute_in_layer_arguments_and_repeat_counts():
    assert _first_conv_filters("conv(make_divisible(32 * 1.4, 8), 1)") == 48
    assert _first_conv_filters("conv(max(16, 3 * 4), 1)") == 16 and _first_conv_filters("conv(min(16, 3 * 4), 1)") == 12
    assert _first_conv_filters("conv(ceil(2.1) + floor(2.9) + round(2.5), 1)") == 3 + 2 + 2  # Python's round
    convs = [n for n in analyze_expression("(conv(4, 1))*ceil(2 * 1.2)", (3, 8, 8)).network.nodes() if n.kind == "conv"]
    assert len(convs) == math.ceil(2 * 1.2) == 3


@pytest.mark.parametrize("dsl,message", [
    ("conv(cel(3))", "unknown function 'cel'"),
    ("conv(min(3))", "min() takes 2 or more argument(s), got 1"),
    ("conv(make_divisible(8, 0))", "make_divisible() of 8, 0 has no value"),
])
def test_a_misused_function_is_an_error_at_its_place(dsl, message):
    with pytest.raises(NetcError) as caught:
        analyze_expression(dsl, (3, 8, 8))
    assert message in str(caught.value)


# torchvision's model table (docs "Classification"): params, GFLOPS (multiply-adds, at its resolution)
EFFICIENTNETS = [
    ({}, 5_288_548, 0.39),                                # efficientnet_b0
    ({"depth": 1.1}, 7_794_184, None),                    # efficientnet_b1 (same widths, deeper)
    ({"width": 1.2, "depth": 1.4}, 12_233_232, None),     # efficientnet_b3
]


@pytest.mark.parametrize("params,total,gflops", EFFICIENTNETS)
def test_efficientnet_b0_b1_b3_from_one_spec(params, total, gflops):
    analysis = analyze_file(str(ROOT / "specs" / "efficientnet.yaml"), params or None)
    assert analysis.params == total
    if gflops is not None:
        assert round(analysis.macs / 1e9, 2) == gflops


def test_a_function_of_a_block_argument_makes_one_class_per_value_and_min_max_stay_symbolic(tmp_path):
    from netc.backends.codegen import generate

    spec = tmp_path / "b.yaml"
    spec.write_text("""\
name: b
input: [3, 8, 8]
blocks:
  gate: {args: [c], body: "conv(max(1, c // 4), 1)-conv(make_divisible(c, 8), 1)"}
network: gate(16)-gate(32)
""")
    source = generate(analyze_file(str(spec))).source
    assert "(for c=16)" in source and "(for c=32)" in source  # make_divisible needs c: one class per value
    spec.write_text(spec.read_text().replace("-conv(make_divisible(c, 8), 1)", ""))
    source = generate(analyze_file(str(spec))).source
    assert "nn.Conv2d(in_channels, max(1, c // 4), kernel_size=1)" in source  # generic: Python's max
