"""The network class takes the spec's params as keyword arguments (netc/backends/codegen/network_class.py).

The truth is netc's own analysis at `-D NAME=VALUE`, which the suite checks against torch
elsewhere, and torch itself: the class built with another value (on the meta device: no memory,
no time) must have the parameter count and output shape netc computes for that value, and a
checked build at that value must give bit-identical outputs from the same weights.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from netc import NetcError, build
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import generate, load_generated

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.yaml"))


def _other_value(value):
    return value + 3 if isinstance(value, int) else round(value * 0.5, 4)


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_each_argument_builds_what_netc_computes_for_that_value(path):
    analysis = analyze_file(str(path))
    generated = generate(analysis)
    cls = getattr(load_generated(generated), generated.class_name)
    assert set(generated.arguments) | set(generated.fixed) == set(analysis.network.source.params)
    for name in generated.arguments:
        value = _other_value(analysis.network.source.params[name])
        try:
            expected = analyze_file(str(path), {name: value})
        except NetcError:
            continue  # netc refuses that value: nothing to compare
        with torch.device("meta"):
            module = cls(**{generated.arguments[name]: value}).eval()
            out = module(torch.empty(1, *analysis.network.input_shape))
        assert sum(p.numel() for p in module.parameters()) == expected.params, name
        shapes = {k: tuple(v.shape[1:]) for k, v in out.items()} if isinstance(out, dict) else {"output": tuple(out.shape[1:])}
        assert shapes == expected.output_shapes(), name


def test_a_class_count_given_to_the_constructor_equals_regenerating_with_d():
    spec = str(ROOT / "specs" / "resnet18.yaml")
    generated = generate(analyze_file(spec))
    assert "def __init__(self, classes: int = 1000) -> None:" in generated.source
    torch.manual_seed(0)
    ten = getattr(load_generated(generated), generated.class_name)(classes=10).eval()
    torch.manual_seed(0)
    regenerated = build(spec, classes=10).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ten(x), regenerated(x))  # the same layers in the same order: the same draws


def test_params_that_cannot_be_arguments_are_fixed_and_the_header_says_why():
    source = generate(analyze_file(str(ROOT / "specs" / "unet.yaml"))).source
    header = [line for line in source.splitlines() if line.startswith("#")][:12]
    assert any("UNet(classes=2) takes these params" in line for line in header)
    assert any(line.startswith("#   base=64: block 'double' uses base") for line in header)
    generated = generate(analyze_file(str(ROOT / "specs" / "vgg16.yaml")))
    assert generated.arguments == {} and "def __init__(self) -> None:" in generated.source
