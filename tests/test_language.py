"""The language of issue 27: expressions (log, negative exponents, comparisons, `a if c else b`),
scale names as users write them, training-only heads, `include:` of blocks from other specs, and
blocks with several named inputs and outputs.

Each number is checked against an independent truth: torchvision's own constructors (RegNet's
quantized widths, GoogLeNet's outputs in training and eval), Python's arithmetic, or a torch
module built by hand.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from netc.analysis.pipeline import analyze_file
from netc.errors import NetcError
from netc.frontend.exprs import evaluate
from netc.frontend.parse import parse_dsl
from netc.frontend.source import DslText

ROOT = Path(__file__).resolve().parent.parent


def value_of(text: str, **env):
    call = parse_dsl(DslText.standalone(f"x({text})")).items[0]
    return evaluate(call.args[0], env)


def write(tmp_path: Path, text: str, name: str = "net.yaml") -> str:
    path = tmp_path / name
    path.write_text(text.lstrip(), encoding="utf-8")
    return str(path)


# --- expressions -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text,env,python", [
    ("wm ** -1", {"wm": 2.09}, 2.09 ** -1),
    ("2 ** -3", {}, 2 ** -3),
    ("log(w / w0)", {"w": 104, "w0": 48}, math.log(104 / 48)),
    ("log(81, 3)", {}, math.log(81, 3)),
    ("2 if i == 0 else 1", {"i": 0}, 2),
    ("2 if i == 0 else 1", {"i": 3}, 1),
    ("c if c > 64 else 64", {"c": 32}, 64),
    ("a if a <= b else b", {"a": 5, "b": 4}, 4),
    ("1 if i != 0 else 2 if j >= 1 else 3", {"i": 0, "j": 0}, 3),  # right-nested, as Python's
    ("8 if k else 16", {"k": 0}, 16),  # a number as a test: true unless 0
    ("-2 ** 2", {}, -2 ** 2),
])
def test_expressions_evaluate_as_python_does(text, env, python):
    assert value_of(text, **env) == python


def test_a_conditional_evaluates_only_the_branch_it_picks():
    # The other branch divides by zero: it would be an error if it were evaluated.
    assert value_of("1 if n == 0 else 64 // n", n=0) == 1


@pytest.mark.parametrize("text,message", [
    ("log(0)", "log() of 0 has no value"),
    ("0 ** -1", "division by zero"),
    ("(i < 2) + 1", "expected a number, got the comparison's True"),
    ("3 if nope else 4", "undefined variable 'nope'"),
])
def test_expression_errors(text, message):
    with pytest.raises(NetcError) as info:
        value_of(text, i=0)
    assert info.value.diagnostics[0].message == message


REGNET = """
input: [3, 224, 224]
params: {w0: 48, wa: 27.89, wm: 2.09, depth: 16}
network: "[conv(round(w0 * wm ** round(log((j * wa + w0) / w0) / log(wm)) / 8) * 8, 1,
           stride=2 if round(log((j * wa + w0) / w0) / log(wm)) != round(log(((j - 1) * wa + w0) / w0) / log(wm))
           else 1)]*depth@j"
"""


def test_regnet_quantized_widths_in_closed_form_match_torchvision(tmp_path):
    """RegNetY-400MF's widths (torchvision's BlockParams.from_init_params, with its settings) in the
    DSL: the block capacity round(log(w_j / w_0) / log(w_m)), the width w_0 · w_m ** capacity
    quantized to 8, and stride 2 where the capacity steps (at j = 0 the capacity before is
    round(log((w0 - wa) / w0) / log(wm)) = -1: a negative exponent)."""
    from torchvision_models import torchvision

    torchvision()
    from torchvision.models.regnet import BlockParams

    reference = BlockParams.from_init_params(depth=16, w_0=48, w_a=27.89, w_m=2.09, group_width=8, se_ratio=0.25)
    analysis = analyze_file(write(tmp_path, REGNET))
    convs = [n for n in analysis.network.nodes() if n.kind == "conv"]
    widths = [n.attrs["filters"] for n in convs]
    strides = [n.attrs["stride"] for n in convs]
    expected_widths = [w for w, d in zip(reference.widths, reference.depths) for _ in range(d)]
    expected_strides = [s if k == 0 else 1 for s, d in zip(reference.strides, reference.depths) for k in range(d)]
    assert widths == expected_widths
    assert strides == expected_strides


# --- scale names --------------------------------------------------------------------------------------
SCALED = """
input: [3, 32, 32]
params: {width: 1.0}
scales:
  x0_5: {width: 0.5}
  "1.0": {width: 1.0}
  1_5: {width: 1.5}
network: conv(make_divisible(32 * width, 8), 3, bias=false) - globalavgpool - fc(10)
"""


@pytest.mark.parametrize("scale,width", [("x0_5", 0.5), ("1.0", 1.0), ("1_5", 1.5)])
def test_scale_names_as_users_write_them(tmp_path, scale, width):
    analysis = analyze_file(write(tmp_path, SCALED), scale=scale)
    filters = max(8, int(32 * width + 4) // 8 * 8)  # torchvision's _make_divisible, by hand: 16, 32, 48
    assert analysis.params == filters * 3 * 9 + filters * 10 + 10


def test_a_scale_name_with_a_space_is_refused_at_its_place(tmp_path):
    with pytest.raises(NetcError) as info:
        analyze_file(write(tmp_path, SCALED.replace("x0_5:", "x 0.5:")))
    found = info.value.diagnostics[0]
    assert (found.span.line, found.span.col) == (4, 3)
    assert "scale name 'x 0.5'" in found.message


# --- training-only heads ------------------------------------------------------------------------------
def googlenet_with_aux_heads() -> str:
    """specs/googlenet_torchvision.yaml with torchvision's two InceptionAux classifiers as heads
    that training mode returns (after inception 4a and 4d), and the logits as the head eval returns."""
    text = (ROOT / "specs" / "googlenet_torchvision.yaml").read_text(encoding="utf-8")
    text = text.replace("input: [3, 224, 224]", "input: [3, 112, 112]")
    text = text.replace("  - inception(192, 96, 208, 16, 48, 64) - ", "  - inception(192, 96, 208, 16, 48, 64) - <a4> - ")
    text = text.replace("  - inception(112, 144, 288, 32, 64, 64) - ", "  - inception(112, 144, 288, 32, 64, 64) - <d4> - ")
    text = text.replace("  - globalavgpool - dropout(0.2) - fc(classes)\n", "")
    aux = "adaptiveavgpool(4) - basic(128, 1) - fc(1024) - relu - dropout(0.7) - fc(classes)"
    text += ("heads:\n"
             f"  aux1: {{from: a4, train_only: true, body: \"{aux}\"}}\n"
             f"  aux2: {{from: d4, train_only: true, body: \"{aux}\"}}\n"
             "  logits: globalavgpool - dropout(0.2) - fc(classes)\n")
    assert text.count("<a4>") == 1 and text.count("<d4>") == 1
    return text


def test_train_only_heads_are_returned_as_torchvisions_googlenet_returns_them(tmp_path):
    import torch
    from torchvision_models import load_by_structure, torchvision

    import netc

    torchvision()
    from torchvision.models import googlenet

    ours = netc.build(write(tmp_path, googlenet_with_aux_heads()))
    theirs = googlenet(weights=None, aux_logits=True, init_weights=False, transform_input=False)
    # Module order is theirs too: the trunk, aux1, aux2, then the classifier.
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    load_by_structure(ours, theirs)
    x = torch.randn(2, 3, 112, 112, generator=torch.Generator().manual_seed(0))
    ours.eval(), theirs.eval()
    ran: list[str] = []
    for name, module in ours.named_children():
        if name.startswith("aux"):
            module.register_forward_hook(lambda m, i, o, name=name: ran.append(name))
    with torch.no_grad():
        logits = ours(x)
        assert isinstance(logits, torch.Tensor)  # eval: the logits alone, as torchvision's
        torch.testing.assert_close(logits, theirs(x))
    assert ran == []  # and the aux classifiers are not computed, as torchvision skips them
    ours.train(), theirs.train()
    for module in [*ours.modules(), *theirs.modules()]:  # dropout draws differ in order; batch norm trains
        if isinstance(module, torch.nn.Dropout):
            module.eval()
    with torch.no_grad():
        outputs, reference = ours(x), theirs(x)
    assert ran  # training runs them
    assert set(outputs) == {"logits", "aux1", "aux2"}
    for name, theirs_name in (("logits", "logits"), ("aux1", "aux_logits1"), ("aux2", "aux_logits2")):
        torch.testing.assert_close(outputs[name], getattr(reference, theirs_name))


def test_every_head_train_only_is_refused(tmp_path):
    spec = write(tmp_path, """
input: [3, 32, 32]
network: conv(8, 3) - relu
heads:
  aux: {train_only: true, body: "globalavgpool - fc(10)"}
""")
    with pytest.raises(NetcError) as info:
        analyze_file(spec)
    assert "every head is train_only" in info.value.diagnostics[0].message


# --- include: -------------------------------------------------------------------------------------------
RESNET50_BY_INCLUDE = """
input: [3, 224, 224]
params: {classes: 1000}
include: [zoo/resnet50.yaml#bottleneck]
network:
  - conv(64, 7, stride=2, padding=3, bias=false)-bn-relu - maxpool(3, stride=2, padding=1)
  - "[bottleneck(64)*3]"
  - "[bottleneck(128, stride=2)-bottleneck(128)*3]"
  - "[bottleneck(256, stride=2)-bottleneck(256)*5]"
  - "[bottleneck(512, stride=2)-bottleneck(512)*2]"
  - globalavgpool - fc(classes)
"""


def zoo_copy(tmp_path: Path, *names: str) -> None:
    (tmp_path / "zoo").mkdir(exist_ok=True)
    for name in names:
        (tmp_path / "zoo" / f"{name}.yaml").write_text((ROOT / "specs" / f"{name}.yaml").read_text(encoding="utf-8"))


def test_an_included_bottleneck_builds_resnet50(tmp_path):
    zoo_copy(tmp_path, "resnet50")
    analysis = analyze_file(write(tmp_path, RESNET50_BY_INCLUDE))
    assert analysis.params == 25_557_032  # torchvision.models.resnet50
    # The block's layers carry their place in the included file.
    conv = next(n for n in analysis.network.nodes() if n.id.endswith("bottleneck1.conv1"))
    assert conv.span.path == str(tmp_path / "zoo" / "resnet50.yaml") and conv.span.line == 16


def test_an_included_block_brings_the_blocks_it_calls(tmp_path):
    """mobilenet_v2.yaml's inverted_res calls its inverted: including the one brings the other.
    One inverted residual of MobileNet v2 at 32 channels, t = 6, counted by hand: the 1×1
    expansion 32·192, the depthwise 3×3 192·9, the 1×1 projection 192·32, and a batch norm's
    2·C after each."""
    zoo_copy(tmp_path, "mobilenet_v2")
    analysis = analyze_file(write(tmp_path, """
input: [32, 8, 8]
include: zoo/mobilenet_v2.yaml#inverted_res
network: inverted_res(32)
"""))
    assert analysis.params == 32 * 192 + 2 * 192 + 192 * 9 + 2 * 192 + 192 * 32 + 2 * 32
    assert "inverted" in {s.block for s in analysis.network.scopes.values()}


def test_an_include_cycle_is_an_error(tmp_path):
    (tmp_path / "a.yaml").write_text("include: [b.yaml]\nblocks: {x: relu}\n")
    (tmp_path / "b.yaml").write_text("include: [a.yaml]\nblocks: {y: relu}\n")
    with pytest.raises(NetcError) as info:
        analyze_file(write(tmp_path, "input: [3, 8, 8]\ninclude: [a.yaml#x]\nnetwork: x\n"))
    assert "includes itself (a.yaml → b.yaml → a.yaml)" in info.value.diagnostics[0].message


# --- blocks with several named inputs and outputs ---------------------------------------------------------
def hrnet_by_hand(c: int = 18, units: int = 3):
    """specs/hrnet_exchange.yaml written as HRNet's official code writes a stage (BasicBlock,
    HighResolutionModule's branches and fuse layers), with torch alone."""
    import torch
    from torch import nn

    def conv_bn(cin, cout, k, stride=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]

    class BasicBlock(nn.Module):
        def __init__(self, w):
            super().__init__()
            self.body = nn.Sequential(*conv_bn(w, w, 3), nn.ReLU(), *conv_bn(w, w, 3))

        def forward(self, x):
            return torch.relu(self.body(x) + x)

    class Unit(nn.Module):
        def __init__(self):
            super().__init__()
            self.branches = nn.ModuleList([nn.Sequential(*[BasicBlock(w) for _ in range(4)]) for w in (c, 2 * c)])
            self.fuse_low_to_high = nn.Sequential(*conv_bn(2 * c, c, 1), nn.Upsample(scale_factor=2, mode="nearest"))
            self.fuse_high_to_low = nn.Sequential(*conv_bn(c, 2 * c, 3, 2))

        def forward(self, x0, x1):
            h, lo = self.branches[0](x0), self.branches[1](x1)
            return torch.relu(h + self.fuse_low_to_high(lo)), torch.relu(self.fuse_high_to_low(h) + lo)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(*conv_bn(3, 64, 3, 2), nn.ReLU(), *conv_bn(64, 64, 3, 2), nn.ReLU())
            self.transition0 = nn.Sequential(*conv_bn(64, c, 3), nn.ReLU())
            self.transition1 = nn.Sequential(*conv_bn(64, 2 * c, 3, 2), nn.ReLU())
            self.units = nn.ModuleList([Unit() for _ in range(units)])

        def forward(self, x):
            s = self.stem(x)
            x0, x1 = self.transition0(s), self.transition1(s)
            for unit in self.units:
                x0, x1 = unit(x0, x1)
            return x0, x1

    return Net()


def test_hrnet_exchange_units_match_a_module_written_by_hand():
    import torch
    from torchvision_models import load_by_structure

    import netc

    ours, theirs = netc.build(ROOT / "specs" / "hrnet_exchange.yaml"), hrnet_by_hand()
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    load_by_structure(ours, theirs)  # the same tensors in the same order: branches, then the exchange
    for module in theirs.modules():  # batch norms with statistics of their own, so that each one counts
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    load_by_structure(ours, theirs)
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        outputs, (high, low) = ours(x), theirs(x)
    torch.testing.assert_close(outputs["high"], high)
    torch.testing.assert_close(outputs["low"], low)


POINT_ARGS = """
input: [3, 16, 16]
blocks:
  mix:
    args: [a, b, w]
    outputs: [sum, diff]
    body: from(<a>) - conv(w, 1) - add(<b>) - <sum> - from(<b>) - conv(w, 3) - <diff>
network: conv(8, 3) - <p> - conv(8, 3) - <q> - mix(w=8, b=<q>, a=<p>) - from(<mix.sum>) - add(<mix.diff>)
"""


def test_points_are_given_by_position_or_by_name(tmp_path):
    """mix(w=8, b=<q>, a=<p>): the body's <a> is the caller's <p>, its <b> the caller's <q>; the
    module computes conv(p) + q + conv3(q), written here with the module's own layers."""
    import torch

    import netc

    with_names = netc.build(write(tmp_path, POINT_ARGS, "named.yaml"))
    positional = netc.build(write(tmp_path, POINT_ARGS.replace("mix(w=8, b=<q>, a=<p>)", "mix(<p>, <q>, 8)"),
                                  "positional.yaml"))
    positional.load_state_dict(with_names.state_dict())
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        p = with_names.conv1(x)
        q = with_names.conv2(p)
        expected = with_names.mix1_conv1(p) + q + with_names.mix1_conv2(q)
        torch.testing.assert_close(with_names(x), expected)
        torch.testing.assert_close(positional(x), expected)


def test_an_output_the_body_does_not_place_is_an_error(tmp_path):
    spec = write(tmp_path, POINT_ARGS.replace("outputs: [sum, diff]", "outputs: [sum, dif]"))
    with pytest.raises(NetcError) as info:
        analyze_file(spec)
    found = info.value.diagnostics[0]
    assert found.message == "block 'mix' names the output <dif>, which its body does not place"
    assert (found.span.line, found.span.col) == (5, 20)
