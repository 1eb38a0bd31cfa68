"""timm (issue 25): `netc import timm:NAME` and `netc port` of checkpoints in timm's naming. The
tests write each checkpoint from a timm model (random batch-norm statistics and affine parameters,
random layer scales, so that every tensor matters), port it by structure into a netc spec — a zoo
spec where netc has that network, else the spec `netc import timm:NAME` writes — and compare the
eval-mode outputs with timm's own model. timm is imported after tests/torchvision_models.py has made
torchvision importable beside the CPU torch (timm imports torchvision)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torchvision_models import torchvision

torchvision()
timm = pytest.importorskip("timm")

import netc
from netc.importer import import_source
from netc.transfer import load_weights

ROOT = Path(__file__).resolve().parent.parent
SIZE = 64


def timm_model(name: str):
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for n, p in model.named_parameters():
            if n.endswith("gamma"):  # ConvNeXt's layer scale starts at 1e-6: make it count
                p.uniform_(0.5, 1.5)
    return model.eval()


def write_checkpoint(model, kind: str, where: Path) -> Path:
    if kind == "safetensors":  # the safetensors library's own file: sorted by name, registration order lost
        from safetensors.torch import save_file

        save_file(model.state_dict(), str(where / "model.safetensors"))
        return where / "model.safetensors"
    torch.save({"epoch": 300, "state_dict": model.state_dict()}, where / "checkpoint.pth")  # timm's train.py layout
    return where / "checkpoint.pth"


def imported_spec(name: str, where: Path) -> Path:
    path = where / f"{name}.yaml"
    path.write_text(import_source(f"timm:{name}", (3, SIZE, SIZE)))
    return path


CASES = [
    # timm model, the netc spec (None: the one netc import writes), checkpoint kind
    ("resnet50", "resnet50", "safetensors"),
    ("efficientnet_b0", "efficientnet", "pth"),
    ("convnext_tiny", "convnext_tiny", "pth"),
    ("mobilenetv3_large_100", None, "pth"),
    ("regnetx_002", None, "pth"),
    ("regnety_002", None, "safetensors"),
]


@pytest.mark.parametrize("name,spec,kind", CASES, ids=[c[0] for c in CASES])
def test_a_timm_checkpoint_ports_by_structure_to_timms_outputs(tmp_path, name, spec, kind):
    torch.set_num_threads(1)
    reference = timm_model(name)
    path = write_checkpoint(reference, kind, tmp_path)
    spec_path = imported_spec(name, tmp_path) if spec is None else ROOT / "specs" / f"{spec}.yaml"
    ours = netc.build(str(spec_path)).eval()
    report = load_weights(ours, path, strict=True)
    assert report.complete and len(report.matched) == len(reference.state_dict())
    x = torch.randn(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() <= 1e-4


def test_netc_import_timm_writes_a_spec_with_timms_parameters(tmp_path):
    done = subprocess.run([sys.executable, "-m", "netc", "import", "timm:regnetx_002", "--input", "3x64x64",
                           "-o", str(tmp_path / "r.yaml")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    analysis = netc.analyze(str(tmp_path / "r.yaml"))
    assert analysis.params == sum(p.numel() for p in timm_model("regnetx_002").parameters())


@pytest.mark.parametrize("source,words", [("timm:resnet5O", "timm has no model 'resnet5O'"),
                                          ("timm:resnet18?pretrained=true", "never downloads weights")])
def test_timm_sources_that_cannot_be_had_are_one_usage_line(source, words):
    done = subprocess.run([sys.executable, "-m", "netc", "import", source], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
