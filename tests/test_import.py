"""`netc import`: torchvision's models (and the user's own) traced with torch.fx into specs.

For each of the eight torchvision models the imported spec, analysed by netc, has the model's
parameter count, and the spec's generated module, given the model's state_dict through
netc.transfer.load_weights (strict: every tensor matched), computes the model's eval-mode output
(max abs diff ≤ 1e-5). The norms get statistics of their own first, as in tests/test_torchvision.py.
Inputs are small (2 CPU cores): 64×64, inception_v3 80×80 (it needs at least 75).
"""

from __future__ import annotations

import math
import re
import struct
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torchvision_models import torchvision

from netc import build
from netc.analysis.pipeline import analyze_file
from netc.cli import main
from netc.errors import NetcError, UsageError
from netc.importer import import_module, import_source
from netc.transfer import load_weights

ROOT = Path(__file__).resolve().parents[1]
NO_AUX = {"aux_logits": False, "init_weights": False}

MODELS = [  # torchvision builder, its options, input size
    ("resnet18", {}, 64),
    ("resnet50", {}, 64),
    ("vgg16_bn", {}, 64),
    ("mobilenet_v2", {}, 64),
    ("densenet121", {}, 64),
    ("googlenet", NO_AUX, 64),
    ("efficientnet_b0", {}, 64),
    ("inception_v3", NO_AUX, 80),
]


@pytest.mark.parametrize("name,options,size", MODELS, ids=[m[0] for m in MODELS])
def test_an_imported_torchvision_model_computes_the_models_output(name, options, size, tmp_path):
    torch.manual_seed(0)
    reference = getattr(torchvision().models, name)(**options).eval()
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(import_module(reference, (3, size, size), source=f"torchvision:{name}"))
    params = sum(p.numel() for p in reference.parameters())
    assert analyze_file(str(spec)).params == params
    norm = torch.nn.modules.batchnorm._BatchNorm
    with torch.no_grad():
        for m in reference.modules():
            if isinstance(m, norm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.7, 1.3)
    weights = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), weights)
    ours = build(str(spec)).eval()
    assert sum(p.numel() for p in ours.parameters()) == params
    assert [(m.eps, m.momentum) for m in ours.modules() if isinstance(m, norm)] == [
        (m.eps, m.momentum) for m in reference.modules() if isinstance(m, norm)]
    report = load_weights(ours, weights, strict=True)
    assert report.complete
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        assert (ours(x) - reference(x)).abs().max().item() <= 1e-5


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_imported_resnet50_is_blocks_and_repetitions_as_short_as_the_hand_written_spec():
    text = import_source("torchvision:resnet50", (3, 224, 224))
    hand_written = _lines((ROOT / "specs" / "resnet50.yaml").read_text())
    assert len(_lines(text)) <= 2 * len(hand_written), text
    assert "residual:" in text and "shortcut: auto" in text and "after: relu" in text
    assert "[bottleneck(64)*3]" in text
    assert "[bottleneck(256, stride=2) - bottleneck(256)*5]" in text
    assert "residual: conv(c, 1, bias=false) - bn - relu - conv(c, 3, stride=stride, bias=false) - bn - relu" \
           " - conv(c*4, 1, bias=false) - bn" in text


def test_blocks_parallel_branches_and_dense_layers_are_recovered():
    googlenet = import_source("torchvision:googlenet?aux_logits=false&init_weights=false", (3, 64, 64))
    assert "inception(64, 96, 128, 16, 32, 32)" in googlenet and "parallel:" in googlenet
    assert "defaults: {bn: {eps: 0.001}}" in googlenet
    densenet = import_source("torchvision:densenet121", (3, 64, 64))
    assert "[dense_layer*24]" in densenet and "- identity" in densenet
    mobilenet = import_source("torchvision:mobilenet_v2", (3, 64, 64))
    assert "shortcut: auto" in mobilenet and "groups=c" in mobilenet


class Odd(torch.nn.Module):
    """A conv, then things netc has no word for."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)
        self.head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LSTM(8 * 14 * 14, 16))

    def forward(self, x):
        return self.head(self.conv(x).cumsum(1))[0]


def test_what_netc_cannot_express_is_an_error_naming_the_module_and_op():
    with pytest.raises(NetcError) as caught:
        import_module(Odd(), (3, 16, 16))
    text = str(caught.value)
    assert "the model's forward: Tensor.cumsum(): netc has no layer for cumsum" in text
    assert "head.1 (LSTM): netc has no layer for torch.nn.modules.rnn.LSTM" in text
    assert "recurrent" in text and "Traceback" not in text


class Branchy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return self.conv(x) if x.sum() > 0 else x


class Shared(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return self.conv(self.conv(x))


def test_untraceable_and_weight_sharing_models_are_explained():
    with pytest.raises(NetcError, match="torch.fx cannot trace it: its forward branches on a tensor's value"):
        import_module(Branchy(), (3, 16, 16))
    with pytest.raises(NetcError, match=r"conv \(Conv2d\): a module called twice with the same weights"):
        import_module(Shared(), (3, 16, 16))


FACTORY = '''
import torch.nn as nn


def small(width=8, classes=10):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2), nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * width, classes))


def lstm():
    return nn.LSTM(4, 4)
'''


def test_the_command_imports_a_factory_of_the_users_and_a_torchvision_model(tmp_path, monkeypatch, capsys):
    (tmp_path / "my_models.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "small.yaml"
    assert main(["import", "module:my_models:small?width=16&classes=5", "--input", "3x32x32", "-o", str(out)]) == 0
    text = out.read_text()
    assert "conv(16, 3) - bn - relu - maxpool(2) - conv(32, 3) - relu - globalavgpool - fc(classes)" in text
    assert "params: {classes: 5}" in text and "input: [3, 32, 32]" in text
    assert analyze_file(str(out)).params == 16 * 27 + 16 + 32 + 32 * 16 * 9 + 32 + 32 * 5 + 5
    capsys.readouterr()
    assert main(["import", "module:my_models:lstm", "--input", "4"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot import module:my_models:lstm:") and "LSTM" in err and "Traceback" not in err
    for source, message in (("torchvision:resnet5", "did you mean 'resnet50'?"), ("nothing", "give torchvision:NAME"),
                            ("module:no_such_module_here:f", "cannot import 'no_such_module_here'"),
                            ("torchvision:resnet18?depth", "give key=value")):
        assert main(["import", source]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    out = tmp_path / "googlenet.yaml"
    assert main(["import", "torchvision:googlenet?aux_logits=false&init_weights=false", "--input", "3x64x64",
                 "-o", str(out)]) == 0
    assert analyze_file(str(out)).params == 6_624_904
    assert "torchvision" in sys.modules  # through netc/importer/torchvision_compat.py, beside the CPU torch


# --- literals as the constructor meant them ----------------------------------------------------------
@pytest.mark.parametrize("value,text", [
    (0.2 * 3 / 40, "0.015"),          # EfficientNet's stochastic depth of block 3 of 40: 0.015000000000000003
    (0.2 * 11 / 40, "0.055"),         # 0.05500000000000001
    (0.1 + 0.2, "0.3"),               # 0.30000000000000004, one step off
    (struct.unpack("<f", struct.pack("<f", 0.001))[0], "0.001"),  # a float32 eps widened: 0.0010000000474974513
    (1e-5, "1e-05"), (0.25, "0.25"), (1.0, "1.0"), (0.0, "0.0"),
    (1 / 3, "0.3333333333333333"),    # no shorter decimal is within a few steps: kept
    (0.0123456789012345, "0.0123456789012345"),
])
def test_an_imported_float_is_the_shortest_decimal_it_was_meant_as(value, text):
    from netc.importer.writing import shortest

    assert shortest(value) == text
    assert abs(float(text) - value) <= 4 * math.ulp(value) or struct.pack("<f", float(text)) == struct.pack("<f", value)


def test_an_imported_spec_carries_no_float_noise():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Dropout(0.2 * 3 / 40),
                                torch.nn.Conv2d(8, 8, 3), torch.nn.BatchNorm2d(8, eps=0.1 + 0.2))
    text = import_module(model, (3, 16, 16))
    assert "0.015" in text and "0.015000000000000003" not in text
    assert "eps: 0.3" in text and "0.30000000000000004" not in text


# --- segmentation models, several outputs, training-only heads (issue 27) -------------------------------
def test_a_registered_name_needs_no_module_prefix_and_nothing_is_downloaded(tmp_path, monkeypatch):
    from netc.importer.sources import load_source

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))  # where a download would go
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    for source in ("torchvision:deeplabv3_resnet50", "torchvision:segmentation.deeplabv3_resnet50"):
        model, _ = load_source(source)  # its backbone's weights default to ImageNet's: set to None
        assert type(model).__name__ == "DeepLabV3"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UsageError, match="never downloads weights"):
        load_source("torchvision:resnet18?weights=DEFAULT")


def test_a_segmentation_model_is_refused_naming_what_the_importer_cannot_write(capsys):
    assert main(["import", "torchvision:deeplabv3_resnet50", "--input", "3x64x64"]) == 1
    err = capsys.readouterr().err
    assert "classifier.0.convs.4 (ASPPPooling): torch.nn.functional.interpolate()" in err
    assert "upsample(<point>, mode=bilinear)" in err and "Traceback" not in err


class OneInADict(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        return {"out": self.conv(x)}


def test_a_dict_of_one_tensor_is_the_one_output():
    text = import_module(OneInADict(), (3, 8, 8))
    assert "conv(4, 3)" in text


def test_googlenet_with_its_aux_heads_is_refused_with_the_way_out(capsys):
    assert main(["import", "torchvision:googlenet", "--input", "3x64x64"]) == 1
    err = capsys.readouterr().err
    reference = torchvision().models.googlenet(init_weights=False)
    unused = sum(p.numel() for name in ("aux1", "aux2") for p in getattr(reference, name).parameters())
    assert f"aux1, aux2 hold {unused:,} parameters that its eval-mode forward never uses" in err
    assert "aux_logits=false" in err and "Traceback" not in err and "please report" not in err


def test_efficientnet_v2_stages_are_torchvisions_with_the_constructors_literals():
    """Each of torchvision's stages (features.1 … features.6, a first block without a residual, then
    residual ones) is one bracketed stage of the imported spec, with its block count; the stochastic
    depth probabilities are 0.2 × block index / 40 as the constructor meant them, written shortest."""
    torch.manual_seed(0)
    model = torchvision().models.efficientnet_v2_s().eval()
    text = import_module(model, (3, 64, 64), source="torchvision:efficientnet_v2_s")
    stages = [line.strip()[3:-2] for line in text.splitlines() if line.startswith('  - "[')]
    assert [len(stage.split(" - ")) for stage in stages] == [len(model.features[i]) for i in range(1, 7)]
    written = re.findall(r", (0\.\d+)\)", text)
    blocks = sum(len(model.features[i]) for i in range(1, 7))
    meant = [0.2 * k / blocks for k in range(blocks)]  # torchvision's: 0.015000000000000003 for k = 3
    assert len(written) > 20 and all(len(w) <= 5 for w in written)  # 0.015, 0.055, 0.105: no noise digits
    assert all(any(abs(float(w) - v) <= 4 * math.ulp(v) for v in meant) for w in written)
    assert analyze_file_text(text).params == sum(p.numel() for p in model.parameters())


def analyze_file_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spec.yaml"
        path.write_text(text)
        return analyze_file(str(path))
