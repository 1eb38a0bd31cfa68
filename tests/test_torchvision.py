"""Specs with a torchvision twin: the generated module, given the torchvision model's weights (its
state_dict, entry for entry), computes the same eval-mode output (max abs diff ≤ 1e-5), and the
parameter counts are torchvision's. torchvision is imported as tests/torchvision_models.py says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torchvision_models import load_by_structure, torchvision

from netc import build

ROOT = Path(__file__).resolve().parents[1]

TWINS = [
    # spec, params (-D), torchvision constructor, input size
    ("efficientnet", {}, "efficientnet_b0", 224),
    ("efficientnet", {"depth": 1.1}, "efficientnet_b1", 64),
    ("efficientnet", {"width": 1.2, "depth": 1.4}, "efficientnet_b3", 96),
    ("resnet50", {}, "resnet50", 64),
    ("resnet18", {}, "resnet18", 64),
    ("shufflenet_v2", {}, "shufflenet_v2_x1_0", 96),
    ("mobilenet_v3", {}, "mobilenet_v3_large", 96),
    ("fcn_resnet50", {}, "segmentation.fcn_resnet50", 64),
    ("inception_v3", {}, "inception_v3", 107),
    ("shufflenet_v2", {"w2": 48, "w3": 96, "w4": 192}, "shufflenet_v2_x0_5", 64),
    ("convnext_tiny", {}, "convnext_tiny", 64),
]


@pytest.mark.parametrize("spec,params,model,size", TWINS, ids=[f"{t[0]}-{t[2]}" for t in TWINS])
def test_the_generated_module_computes_torchvisions_output(spec, params, model, size):
    torch.manual_seed(0)
    module = torchvision().models
    for part in model.split("."):
        module = getattr(module, part)
    options = {"segmentation.fcn_resnet50": {"weights_backbone": None, "aux_loss": False},
               "inception_v3": {"aux_logits": False, "init_weights": False}}.get(model, {})
    reference = module(**options).eval()
    ours = build(str(ROOT / "specs" / f"{spec}.yaml"), **params).eval()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())
    # A fresh model's norms have mean 0 and variance 1, where eps barely shows: give every norm
    # statistics of its own, and compare what state cannot carry (eps, momentum) directly.
    norm = torch.nn.modules.batchnorm._BatchNorm
    assert [(m.eps, m.momentum) for m in ours.modules() if isinstance(m, norm)] == [
        (m.eps, m.momentum) for m in reference.modules() if isinstance(m, norm)]
    with torch.no_grad():
        for m in reference.modules():
            if isinstance(m, norm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.7, 1.3)
    load_by_structure(ours, reference)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        got, want = ours(x), reference(x)
        if isinstance(want, dict):  # a segmentation model returns {"out": …}; the spec's head is named so
            got, want = got["out"], want["out"]
        assert (got - want).abs().max().item() <= 1e-5


@pytest.mark.parametrize("spec,model", [("convnext_tiny", "convnext_tiny"), ("efficientnet", "efficientnet_b0")])
def test_stochastic_depth_drops_the_blocks_torchvision_drops_while_training(spec, model):
    """Training mode: given the same seed, the generated module drops the same residual branches
    of the same images as torchvision's (the same draws in the same order, at torchvision's
    probabilities: ConvNeXt-T's rising to 0.1, EfficientNet-B0's block b of 16 at 0.2 × b / 16, then
    its classifier dropout), so the outputs agree; and the draws matter, for another seed gives
    other outputs. ConvNeXt's layer scales are set to 1 so that a dropped branch shows (at
    torchvision's 1e-6 it changes the output by less than the tolerance)."""
    reference = getattr(torchvision().models, model)()
    with torch.no_grad():
        for name, p in reference.named_parameters():
            if name.endswith("layer_scale"):
                p.fill_(1.0)
    ours = build(str(ROOT / "specs" / f"{spec}.yaml"))
    load_by_structure(ours, reference)
    x = torch.randn(8, 3, 32, 32)
    with torch.no_grad():
        torch.manual_seed(1)
        got = ours.train()(x)
        torch.manual_seed(1)
        want = reference.train()(x)
        assert (got - want).abs().max().item() <= 1e-4 * want.abs().max().item()
        torch.manual_seed(2)
        other = ours.train()(x)
        assert (other - want).abs().max().item() > 1e-3 * want.abs().max().item()
