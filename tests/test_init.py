"""`init:`: the generated `reset_parameters` starts every tensor as the spec says, by statistics.

Each rule is checked against its formula on the module netc builds (He et al.'s std sqrt(2 / fan)
with fan the fan-in or fan-out of the weight; a normal's std; zeros and ones exactly), and
specs/resnet50.yaml's init against torchvision's own resnet50 initialisation, layer by layer in
state_dict order (torchvision's `_init` code is the independent truth: zero_init_residual included).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from netc import NetcError, build, compile_source
from netc.analysis import analyze_file

ROOT = Path(__file__).resolve().parents[1]

SPEC = """\
input: [3, 16, 16]
init:
  conv: kaiming_normal(fan_out)
  fc: {weight: normal(0.02), bias: constant(0.5)}
  bn: {weight: ones, bias: zeros}
  zero_init_residual: true
blocks:
  res:
    args: [c]
    residual: conv(c, 3, bias=false)-bn-relu-conv(c, 3, bias=false)-bn
    after: relu
network: conv(64, 3)-bn-relu-res(64)*2-res(128)-globalavgpool-fc(1000)
"""


def _spec(tmp_path, text: str) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return str(path)


def _close(sample_std: float, expected: float, count: int) -> bool:
    # The sample std of n normal values is within ~1/sqrt(2n) of the true one; 6 of those is a test
    # that a wrong formula (a factor sqrt(2), fan_in for fan_out) fails and chance does not.
    return abs(sample_std / expected - 1) < 6 / math.sqrt(2 * count)


def test_each_rule_gives_its_formulas_statistics(tmp_path):
    torch.manual_seed(0)
    module = build(_spec(tmp_path, SPEC))
    convs = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for conv in convs:
        out_channels, _, kh, kw = conv.weight.shape
        assert _close(conv.weight.std().item(), math.sqrt(2 / (out_channels * kh * kw)), conv.weight.numel())
        assert conv.bias is None or torch.all(conv.bias == 0)
    (fc,) = [m for m in module.modules() if isinstance(m, torch.nn.Linear)]
    assert _close(fc.weight.std().item(), 0.02, fc.weight.numel())
    assert torch.all(fc.bias == 0.5)
    norms = {name: m for name, m in module.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    zeroed = sorted(name for name, m in norms.items() if torch.all(m.weight == 0))
    assert zeroed == ["res1.bn2", "res2.bn2", "res3.bn2"]  # each residual body's last BN, not the stem's or a projection's
    assert all(torch.all(m.weight == 1) for name, m in norms.items() if name not in zeroed)
    assert all(torch.all(m.bias == 0) for m in norms.values())


def test_without_init_pytorchs_own_initialisation_is_kept(tmp_path):
    source = compile_source(_spec(tmp_path, "input: [3, 8, 8]\nnetwork: conv(8, 3)-fc(10)\n"))
    assert "reset_parameters" not in source
    torch.manual_seed(0)
    module = build(_spec(tmp_path, "input: [3, 8, 8]\nnetwork: conv(8, 3)-fc(10)\n"))
    torch.manual_seed(0)
    reference = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert torch.equal(module.conv1.weight, reference.weight)  # the same draws as torch's own layer


def test_resnet50s_init_is_torchvisions_layer_by_layer():
    from torchvision_models import torchvision

    torch.manual_seed(0)
    reference = torchvision().models.resnet50()
    ours = build(str(ROOT / "specs" / "resnet50.yaml"))
    theirs, mine = reference.state_dict(), ours.state_dict()
    assert [tuple(t.shape) for t in theirs.values()] == [tuple(t.shape) for t in mine.values()]
    for (name, want), got in zip(theirs.items(), mine.values()):
        if name.endswith("num_batches_tracked") or name.endswith("running_mean") or name.endswith("running_var"):
            continue
        if want.dim() == 4:  # a conv: the same distribution, N(0, 2 / fan_out)
            assert _close(got.std().item(), want.std().item(), want.numel()), name
        elif name.startswith("fc."):  # PyTorch's own: uniform within ±1/sqrt(fan_in), both
            bound = 1 / math.sqrt(reference.fc.in_features)
            assert got.abs().max().item() <= bound and want.abs().max().item() <= bound
        else:  # BN weight 1 and bias 0
            assert torch.equal(got, want), name


def test_init_mistakes_are_errors_at_their_place(tmp_path):
    bad = SPEC.replace("normal(0.02)", "gaussian(0.02)")
    with pytest.raises(NetcError) as caught:
        analyze_file(_spec(tmp_path, bad))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.span.line == 4 and "gaussian" in diagnostic.message
    with pytest.raises(NetcError) as caught:
        analyze_file(_spec(tmp_path, SPEC.replace("  bn: {", "  relu: {")))
    assert "relu has no parameters" in caught.value.diagnostics[0].message


def test_zero_init_residual_zeroes_the_norms_torchvision_zeroes(tmp_path):
    from torchvision_models import torchvision

    text = (ROOT / "specs" / "resnet50.yaml").read_text()
    text = text.replace("  bn: {weight: ones, bias: zeros}\n", "  bn: {weight: ones, bias: zeros}\n  zero_init_residual: true\n")
    reference = torchvision().models.resnet50(zero_init_residual=True)
    ours = build(_spec(tmp_path, text))
    zeroed = [i for i, (name, t) in enumerate(reference.state_dict().items())
              if name.endswith(".weight") and t.dim() == 1 and torch.all(t == 0)]
    mine = [i for i, (name, t) in enumerate(ours.state_dict().items())
            if name.endswith(".weight") and t.dim() == 1 and torch.all(t == 0)]
    assert len(zeroed) == 16 and mine == zeroed  # bn3 of each of the 16 bottlenecks, at the same places
