"""frozenbn: torchvision.ops.FrozenBatchNorm2d (pure Python, run here on the CPU) — the same outputs
after loading its buffers by structure, in training mode as in evaluation; no parameters, so that a
ResNet-50 with it counts what torchvision's ResNet-50 with FrozenBatchNorm2d counts (the norm of its
detection backbones); a BatchNorm2d's state (with num_batches_tracked) loads into it."""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

import netc
from netc.analysis.pipeline import analyze_file

ROOT = Path(__file__).resolve().parent.parent

SPEC = """\
name: frozen
input: [3, 12, 10]
network: conv3-8-frozenbn-relu - conv(6, 3, bias=false)-frozenbn(eps=0.001)-relu-maxpool-fc(5)
"""


def frozen_batch_norm():
    from torchvision_models import torchvision

    torchvision()
    from torchvision.ops.misc import FrozenBatchNorm2d

    return FrozenBatchNorm2d


def random_buffers(module: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for name, buffer in module.named_buffers():
        values = torch.rand(buffer.shape, generator=generator) + 0.5
        buffer.copy_(values if "var" in name else values - 1.0)


def test_outputs_equal_torchvisions_in_training_and_evaluation(tmp_path: Path):
    from torchvision_models import load_by_structure

    frozen = frozen_batch_norm()
    reference = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), frozen(8), nn.ReLU(),
                              nn.Conv2d(8, 6, 3, padding=1, bias=False), frozen(6, eps=0.001), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 6 * 5, 5))
    random_buffers(reference, seed=0)
    path = tmp_path / "frozen.yaml"
    path.write_text(SPEC, encoding="utf-8")
    module = netc.build(path)
    load_by_structure(module, reference)
    x = torch.randn(2, 3, 12, 10)
    for mode in (True, False):
        module.train(mode)
        reference.train(mode)
        with torch.no_grad():
            assert torch.equal(module(x), reference(x)), mode
    assert sum(p.numel() for p in module.parameters()) == sum(p.numel() for p in reference.parameters())
    assert analyze_file(str(path)).params == sum(p.numel() for p in reference.parameters())


def test_a_batch_norm_state_loads(tmp_path: Path):
    path = tmp_path / "frozen.yaml"
    path.write_text(SPEC, encoding="utf-8")
    namespace: dict = {}
    exec(compile(netc.compile_source(path), "frozen.py", "exec"), namespace)  # noqa: S102 - its FrozenBatchNorm2d
    frozen = namespace["FrozenBatchNorm2d"](4)
    norm = nn.BatchNorm2d(4)
    random_buffers(norm, seed=1)
    frozen.load_state_dict(norm.state_dict())  # strict: every buffer matched, num_batches_tracked dropped
    norm.eval()
    x = torch.randn(1, 4, 5, 5)
    assert torch.allclose(frozen(x), norm(x), atol=1e-6)


def test_resnet50_with_frozen_norms_counts_torchvisions(tmp_path: Path):
    frozen = frozen_batch_norm()
    from torchvision.models import resnet50

    text = (ROOT / "specs" / "resnet50.yaml").read_text(encoding="utf-8")
    spec = re.sub(r"-bn\b", "-frozenbn", text)
    assert spec.count("frozenbn") >= 4
    path = tmp_path / "resnet50_frozen.yaml"
    want = sum(p.numel() for p in resnet50(weights=None, norm_layer=frozen).parameters())
    assert want == 25_557_032 - 2 * 26_560  # each of ResNet-50's BNs' scale and shift are buffers now
    path.write_text(spec, encoding="utf-8")
    assert analyze_file(str(path)).params == want


def test_resnet18_with_frozen_norms_equals_torchvisions_after_loading(tmp_path: Path):
    """Its projections too: a block whose body has frozenbn gets a 1×1 conv (no bias) + frozenbn
    shortcut, as torchvision's downsample with FrozenBatchNorm2d."""
    from torchvision_models import load_by_structure

    frozen = frozen_batch_norm()
    from torchvision.models import resnet18

    reference = resnet18(weights=None, norm_layer=frozen).eval()
    random_buffers(reference, seed=2)
    path = tmp_path / "resnet18_frozen.yaml"
    path.write_text(re.sub(r"-bn\b", "-frozenbn", (ROOT / "specs" / "resnet18.yaml").read_text(encoding="utf-8")),
                    encoding="utf-8")
    module = netc.build(path).eval()
    load_by_structure(module, reference)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(module(x), reference(x), atol=1e-5, rtol=1e-4)
    assert analyze_file(str(path)).params == sum(p.numel() for p in reference.parameters())
