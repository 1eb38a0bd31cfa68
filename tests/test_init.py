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
from netc.analysis.pipeline import analyze_file
from netc.frontend.program.init_config import learned_kinds
from netc.layers import KINDS

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


# --- init: against the tensors each kind declares (netc/layers/base.py: Learned) -------------------

# Each learned kind as a word, `{}` where its switch (bias=…, affine=…) goes.
LAYER_WORDS = {"conv": "conv(4, 3{})", "deconv": "deconv(4, 2{})", "fc": "fc(5{})", "prelu": "prelu",
               "bn": "bn", "groupnorm": "groupnorm(2{})", "instancenorm": "instancenorm({})",
               "layernorm": "layernorm({})", "layerscale": "layerscale"}


def _layer(kind: str, switch: bool | None) -> str:
    tensor = next((t for t in KINDS[kind].learned if t.switch), None)
    setting = "" if tensor is None or switch is None else f"{tensor.switch}={'true' if switch else 'false'}"
    word = LAYER_WORDS[kind]
    if "({})" in word:
        return word.replace("({})", f"({setting})" if setting else "")
    return word.replace("{}", f", {setting}" if setting else "")


def _layer_spec(kind: str, switch: bool | None, init: str = "") -> str:
    # The layer first, on a 4-channel map, so that its module is <kind>1 in the generated network.
    return f"input: [4, 6, 6]\n{init}network: {_layer(kind, switch)}-relu\n"


def test_every_kind_with_parameters_declares_them():
    from netc.layers import has_parameters

    assert set(learned_kinds()) == set(LAYER_WORDS)
    for name in learned_kinds():
        assert has_parameters(KINDS[name]) and KINDS[name].learned, name


@pytest.mark.parametrize("kind", sorted(LAYER_WORDS))
@pytest.mark.parametrize("switch", [True, False, None])
def test_the_declared_tensors_are_the_modules_own(tmp_path, kind, switch):
    """The declaration against torch's module: the same tensor names given the attributes, and the
    declared rank is the tensor's (so the fan-based methods are refused exactly where torch cannot
    compute a fan), less LayerScale's (C, 1, 1) map form, kept at one γ per channel on purpose."""
    module = getattr(build(_spec(tmp_path, _layer_spec(kind, switch))), f"{kind}1")
    attrs = {a.name: a.default for a in KINDS[kind].attrs if a.type == "bool"}  # instancenorm: affine=false
    attrs.update({t.switch: switch for t in KINDS[kind].learned if t.switch and switch is not None})
    declared = {t.name: t for t in KINDS[kind].learned if KINDS[kind].has_tensor(attrs, t.name)}
    own = dict(module.named_parameters(recurse=False))
    assert set(own) == set(declared)
    for name, tensor in own.items():
        if kind == "layerscale":
            assert tensor.squeeze().dim() == declared[name].rank
            continue
        assert tensor.dim() == declared[name].rank, name
        try:
            torch.nn.init.kaiming_normal_(tensor.detach().clone())
            fan = True
        except ValueError:
            fan = False
        assert fan == (declared[name].rank >= 2), name


GRID_METHODS = ["kaiming_normal(fan_out)", "xavier_uniform", "constant(0.5)", "ones", "normal(0.1)"]


def _written(module, part: str, method: str, default_module) -> bool:
    """Whether the tensor shows the method: constant and ones exactly, the random ones by leaving
    torch's own draw (the same seed builds the same default module)."""
    tensor, before = getattr(module, part), getattr(default_module, part)
    if method == "constant(0.5)":
        return bool(torch.all(tensor == 0.5))
    if method == "ones":
        return bool(torch.all(tensor == 1))
    return not torch.equal(tensor, before) or bool(torch.all(before == tensor.mean()))


@pytest.mark.parametrize("kind", sorted(LAYER_WORDS))
def test_init_check_accepts_exactly_what_torch_runs(tmp_path, kind):
    """Each method on each tensor of each kind, with and without its bias/affine: where `netc check`
    accepts, netc.build runs and the tensor starts as written (PReLU's slopes, a bias where there is
    one); where it refuses, torch's own init on the module's tensor fails or there is no tensor."""
    parts = [t.name for t in KINDS[kind].learned]
    switches = [True, False] if any(t.switch for t in KINDS[kind].learned) else [None]
    accepted = refused = 0
    for switch in switches:
        torch.manual_seed(0)
        plain = getattr(build(_spec(tmp_path, _layer_spec(kind, switch))), f"{kind}1")
        for method in GRID_METHODS:
            for part in ["weight", "bias"]:
                init = f"init:\n  {kind}: {{{part}: {method}}}\n"
                try:
                    analyze_file(_spec(tmp_path, _layer_spec(kind, switch, init)))
                except NetcError as exc:
                    refused += 1
                    tensor = getattr(plain, part, None) if part in parts else None
                    if tensor is not None and not (kind == "layerscale" and method.startswith(("kaiming", "xavier"))):
                        function = getattr(torch.nn.init, method.split("(")[0] + "_")
                        with pytest.raises(ValueError):
                            function(tensor.detach().clone())
                    assert "init:" in str(exc)
                    continue
                accepted += 1
                torch.manual_seed(0)
                module = getattr(build(_spec(tmp_path, _layer_spec(kind, switch, init))), f"{kind}1")
                assert _written(module, part, method, plain), (kind, switch, method, part)
    assert accepted and refused


def test_a_bias_method_skips_the_modules_without_one(tmp_path):
    """init: matches every Conv2d, also the automatic shortcut's (no bias beside its batch norm) and
    a conv written bias=false beside convs with one: those keep None, the others start as written."""
    text = ("input: [3, 8, 8]\ninit:\n  conv: {weight: kaiming_normal(fan_out), bias: constant(0.1)}\n"
            "  prelu: constant(0.2)\nblocks:\n  res: {args: [c], residual: \"conv(c, 3)-bn-relu-conv(c, 3)-bn\", "
            "after: relu}\nnetwork: conv(4, 3)-prelu-conv(4, 1, bias=false)-res(8)-globalavgpool-fc(10)\n")
    module = build(_spec(tmp_path, text))
    convs = {name: m for name, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)}
    without = sorted(name for name, m in convs.items() if m.bias is None)
    assert len(without) == 2 and any("shortcut" in name for name in without)
    assert all(torch.all(m.bias == 0.1) for m in convs.values() if m.bias is not None)
    (prelu,) = [m for m in module.modules() if isinstance(m, torch.nn.PReLU)]
    assert torch.all(prelu.weight == 0.2)
