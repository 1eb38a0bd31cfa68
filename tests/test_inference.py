"""The inference build (`netc compile --inference`, README "Generated code"): batch norms folded
into their conv/fc layers, dropout left out, in place; its loader folds a training module's state.

For every zoo spec at a small input: the inference module, loaded from a training module with random
batch-norm statistics and affine parameters, gives that module's eval-mode output (≤ 1e-4, float32).
torch.compile(fullgraph=True) and torch.export succeed on a few representative ones."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from example_inputs import example_inputs

from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import generate, load_generated
from netc.layers import KINDS

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))
# The smallest square input each spec takes (None: its own, which a dense layer on a map fixes).
SMALL = {"alexnet": 80, "alexnet_torchvision": 64, "zfnet": 64, "inception_v3": 80, "alphago_policy": None,
         "generic": None, "googlenet": None, "lenet5": None, "resnet_cifar": None, "unet": None}


def analysed(spec: str):
    path = str(ROOT / "specs" / f"{spec}.yaml")
    size = SMALL.get(spec, 32)
    if size is None:
        return analyze_file(path, None)
    channels = analyze_file(path, None).network.input_shape[0]
    return analyze_file(path, None, input_shape=(channels, size, size))


def randomize_norms(module: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.2)


def pair(spec: str):
    analysis = analysed(spec)
    training = generate(analysis)
    inference = generate(analysis, inference=True)
    torch.manual_seed(0)
    model = getattr(load_generated(training), training.class_name)()
    randomize_norms(model)
    model.eval()
    folded = getattr(load_generated(inference), inference.class_name).from_training_state_dict(model.state_dict())
    return analysis, inference, model, folded


def max_diff(a, b) -> float:
    """Max abs difference, in units of 1e-4 × the output's scale where outputs exceed 1 (a random
    ResNet-50's logits reach ±50, where float32 rounding alone is ~1e-5)."""
    if isinstance(a, dict):
        assert list(a) == list(b)
        return max(max_diff(a[k], b[k]) for k in a)
    return (a - b).abs().max().item() / max(1.0, a.abs().max().item())


@pytest.mark.parametrize("spec", SPECS)
def test_the_inference_build_gives_the_training_modules_eval_output(spec):
    analysis, inference, model, folded = pair(spec)
    assert not folded.training
    x = example_inputs(analysis, 2, rows=3)  # a per-RoI head on 3 RoIs per image
    with torch.no_grad():
        assert max_diff(model(*x), folded(*x)) <= 1e-4
    norms = [n for n in analysis.network.nodes() if KINDS[n.kind].batch_norm]
    kept = sum(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in folded.modules())
    assert kept <= len(norms)
    assert not any(isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)) for m in folded.modules())
    assert "import netc" not in inference.source and "from netc" not in inference.source


def test_resnet_folds_every_norm_and_adds_in_place():
    analysis, inference, _, folded = pair("resnet50")
    source = inference.source
    assert "out += shortcut" in source and "self.bn1" not in source and "self.bn3" not in source
    # The projection shortcuts' batch norms too (inside the kind's own nn.Sequential): none is left.
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) == 0
    assert sum(isinstance(m, torch.nn.Conv2d) and m.bias is not None for m in folded.modules()) == 53
    assert generate(analysis, inference=True).source == source  # deterministic


def test_channels_last_build_matches():
    analysis, _, model, _ = pair("mobilenet_v2")
    generated = generate(analysis, inference=True, channels_last=True)
    assert "self.to(memory_format=torch.channels_last)" in generated.source
    folded = getattr(load_generated(generated), generated.class_name).from_training_state_dict(model.state_dict())
    conv = next(m for m in folded.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, *analysis.network.input_shape)
    with torch.no_grad():
        assert max_diff(model(x), folded(x)) <= 1e-4


def test_the_inference_file_is_formatted():
    ruff = shutil.which("ruff") or (shutil.which("ruff", path=str(Path(__import__("sys").executable).parent)))
    if ruff is None:
        pytest.skip("ruff is not installed")
    import subprocess

    source = generate(analysed("efficientnet"), inference=True).source
    done = subprocess.run([ruff, "format", "--diff", "-"], input=source, text=True, capture_output=True)
    assert done.returncode == 0, done.stdout[:2000]


EXPORTED = ["resnet18", "mobilenet_v2", "efficientnet"]


@pytest.mark.parametrize("spec", EXPORTED)
def test_torch_export_takes_the_inference_build(spec):
    analysis, _, model, folded = pair(spec)
    x = torch.randn(2, *analysis.network.input_shape)
    exported = torch.export.export(folded, (x,))
    with torch.no_grad():
        assert max_diff(model(x), exported.module()(x)) <= 1e-4


def test_torch_compile_fullgraph_takes_the_inference_build():
    """One network (torch.compile on CPU takes tens of seconds per network): ResNet-18."""
    analysis, _, model, folded = pair("resnet18")
    x = torch.randn(2, *analysis.network.input_shape)
    try:
        compiled = torch.compile(folded, fullgraph=True)
        with torch.no_grad():
            got = compiled(x)
    except Exception as exc:  # noqa: BLE001 - only a missing compiler backend skips
        text = f"{type(exc).__name__}: {exc}"
        if any(word in text for word in ("InvalidCxxCompiler", "No working C compiler", "CppCompileError",
                                         "gcc", "g++", "cl.exe")):
            pytest.skip(f"torch.compile's inductor backend has no working C++ compiler here: {text[:200]}")
        raise
    with torch.no_grad():
        assert max_diff(model(x), got) <= 1e-4
