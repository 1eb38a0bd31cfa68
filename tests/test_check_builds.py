"""What `netc check` accepts, torch runs: regression tests for specs that used to pass every check
and then fail (or silently differ) in torch, and a property test over generated small networks.

Every expectation is torch's: the built module runs on a random batch of the declared input and
returns the declared shapes; strides, padding and parameters are read off the torch modules.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import netc
from netc.analysis.pipeline import analyze_expression, analyze_file
from netc.backends.codegen import build_module, generate, load_generated
from netc.errors import NetcError

ROOT = Path(__file__).resolve().parents[1]


def check(path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", "check", str(path), *args], env=env, capture_output=True,
                          text=True, check=False)


def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def runs_as_declared(analysis) -> nn.Module:
    """Build the module and run a batch of 2 through it: every output has its declared shape."""
    module = build_module(analysis).eval()
    with torch.no_grad():
        out = module(torch.randn(2, *analysis.network.input_shape))
    outputs = out if isinstance(out, dict) else {"output": out}
    assert {k: tuple(v.shape[1:]) for k, v in outputs.items()} == analysis.output_shapes()
    return module


# --- known breaks -----------------------------------------------------------------------------------
def test_lrn_on_a_flat_vector_is_an_error_before_torch_sees_it(tmp_path):
    with pytest.raises((RuntimeError, ValueError)):  # torch's LocalResponseNorm refuses a (N, C) batch
        nn.LocalResponseNorm(5)(torch.randn(2, 50))
    done = check(write(tmp_path, "input: [3, 8, 8]\nnetwork: fc(50)-lrn\n"))
    assert done.returncode == 1 and ":2:17: error:" in done.stderr and "feature map" in done.stderr
    runs_as_declared(analyze_expression("conv(8, 3)-lrn-fc(5)", (3, 8, 8)))  # on a map it is fine


@pytest.mark.parametrize("spec", [
    "input: [3, 8, 8]\ndefaults: {dropout: {p: .nan}}\nnetwork: dropout-fc(2)\n",
    "input: [3, 8, 8]\ndefaults: {leakyrelu: {slope: .inf}}\nnetwork: leakyrelu-fc(2)\n",
    "input: [3, 8, 8]\ndefaults: {bn: {eps: -.inf}}\nnetwork: bn-fc(2)\n",
    "input: [3, 8, 8]\nblocks: {b: {args: {p: .inf}, body: dropout(p)}}\nnetwork: b-fc(2)\n",
    "input: [3, 8, 8]\nblocks: {b: {args: {s: .NaN}, body: leakyrelu(s)}}\nnetwork: b-fc(2)\n",
])
def test_infinite_or_nan_values_are_errors(tmp_path, spec):
    done = check(write(tmp_path, spec))
    assert done.returncode == 1, done.stderr
    assert "must be a finite number" in done.stderr and done.stderr.count("error:") == 1


def test_nan_never_reaches_generated_source(tmp_path):
    """The generated file is Python: a bare `nan` or `inf` in it is a NameError when built."""
    path = write(tmp_path, "input: [3, 8, 8]\nblocks: {b: {args: {p: .inf}, body: dropout(p)}}\nnetwork: b(0.5)-fc(2)\n")
    with pytest.raises(NetcError):
        netc.compile_source(str(path))


def test_sizes_past_int64_are_errors_not_torch_failures():
    with pytest.raises(RuntimeError):  # torch cannot even describe such a weight (on the meta device: no memory)
        nn.Linear(2**40, 2**40, device="meta")
    with pytest.raises(NetcError) as caught:
        analyze_expression("fc(2**40)-fc(2**40)", (3, 8, 8))
    assert "more than torch can index" in str(caught.value) and "fc2" in str(caught.value)


def test_build_refuses_more_parameters_than_its_limit_and_allocates_nothing(tmp_path):
    path = write(tmp_path, "input: [3, 8, 8]\nnetwork: fc(100000)-fc(100000)\n")  # 10 G params: 40 GB
    with pytest.raises(NetcError) as caught:
        netc.build(str(path))
    assert "2,000,000,000" in str(caught.value) and "max_params" in str(caught.value)
    small = write(tmp_path, "input: [3, 8, 8]\nnetwork: fc(1000)-fc(10)\n", "small.yaml")
    with pytest.raises(NetcError):
        netc.build(str(small), max_params=1000)
    assert sum(p.numel() for p in netc.build(str(small), max_params=10**6).parameters()) == 192 * 1000 + 1000 + 10010


RESIDUAL = """\
input: [C, S, S]
params: {{C: 8, S: 8}}
blocks:
  res:
    residual: {body}
    shortcut: {shortcut}
network: res
"""


@pytest.mark.parametrize("shortcut", ["auto", "zeropad"])
def test_a_body_whose_windows_do_not_line_up_with_one_stride_is_an_error(tmp_path, shortcut):
    """8×8 through maxpool(3, stride=2) gives 3×3: the body samples every 2 pixels, but a 1×1
    projection with stride 2 gives 4×4 (the old rule silently took stride 3)."""
    assert nn.MaxPool2d(3, stride=2)(torch.randn(1, 8, 8, 8)).shape[-1] == 3
    assert nn.Conv2d(8, 16, 1, stride=2)(torch.randn(1, 8, 8, 8)).shape[-1] == 4
    done = check(write(tmp_path, RESIDUAL.format(body="maxpool(3, stride=2)-conv(16, 1)", shortcut=shortcut)))
    assert done.returncode == 1, done.stderr
    assert "every 2 pixel(s)" in done.stderr and "gives 4×4" in done.stderr


def test_the_projection_takes_the_bodys_stride_when_several_strides_give_its_size(tmp_path):
    """9×9 through two stride-2 convs is 3×3 (stride 4); a stride-3 1×1 conv also gives 3×3, and
    the old rule chose it. torch: the built shortcut's stride is the body's."""
    body = "conv(8, 3, stride=2)-conv(16, 3, stride=2)"
    path = write(tmp_path, RESIDUAL.format(body=body, shortcut="auto").replace("S: 8", "S: 9"))
    analysis = analyze_file(str(path))
    module = runs_as_declared(analysis)
    strides = [m.stride for m in module.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (1, 1)]
    assert strides == [(4, 4)]


def test_the_projection_gets_batch_norm_from_a_block_the_body_calls(tmp_path):
    spec = """\
input: [16, 8, 8]
blocks:
  cbr: {args: [c, s], body: "conv(c, 3, stride=s, bias=false)-bn-relu"}
  res:
    args: [c, s]
    residual: cbr(c, s)-conv(c, 3)
network: res(32, 2)
"""
    analysis = analyze_file(str(write(tmp_path, spec)))
    module = runs_as_declared(analysis)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in module.modules()) == 2  # cbr's and the projection's
    projection = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
    assert analysis["res1.shortcut"].params == sum(p.numel() for p in projection.parameters())


def test_the_automatic_projection_gets_the_doesnt_fit_check(tmp_path):
    """A 1×1 stride-2 body on 8×8 never reads row 7, and neither does its projection: torch's
    gradient of the block input is zero there, and both layers warn."""
    path = write(tmp_path, RESIDUAL.format(body="conv(16, 1, stride=2)", shortcut="auto"))
    analysis = analyze_file(str(path))
    assert {d.node for d in analysis.warnings} == {"res1.conv1", "res1.shortcut"}
    x = torch.randn(1, 8, 8, 8, requires_grad=True)
    build_module(analysis)(x).sum().backward()
    assert bool((x.grad[0, :, 7, :] == 0).all()) and bool((x.grad[0, :, 6, :] != 0).any())


# --- "doesn't fit" in the zoo: warnings exactly where torch reads nothing ---------------------------
def unread_trailing_rows(grad: torch.Tensor) -> int:
    """Rows at the bottom of a (N, C, H, W) gradient that no output depends on."""
    rows = (grad.abs().sum(dim=(0, 1, 3)) == 0).tolist()
    count = 0
    for zero in reversed(rows):
        if not zero:
            break
        count += 1
    return count


@pytest.mark.parametrize("name", ["squeezenet", "resnet18", "mobilenet_v2", "googlenet"])
def test_doesnt_fit_warns_where_torch_reads_nothing_and_is_a_remark_elsewhere(name):
    """For every layer with a doesn't-fit note, hook its input tensor and back-propagate: a warning
    says real rows are lost (the gradient of that tensor is zero there, whatever else reads it), a
    remark that none are."""
    analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"))
    generated = generate(analysis)
    module = getattr(load_generated(generated), generated.class_name)()
    noted = {d.node: True for d in analysis.warnings if d.node} | {d.node: False for d in analysis.remarks}
    assert noted, "each of these networks has windows that don't fit"
    seen: dict[str, torch.Tensor] = {}
    modules = dict(module.named_modules())
    for node in noted:
        def keep(_, inputs, node=node):
            inputs[0].retain_grad()
            seen[node] = inputs[0]
        modules[generated.paths[node]].register_forward_pre_hook(keep)
    torch.manual_seed(0)
    out = module(torch.randn(1, *analysis.network.input_shape, requires_grad=True))
    outputs = [out] if isinstance(out, torch.Tensor) else list(out.values())
    # Weighted at random: a softmax output sums to 1 whatever its input, so its plain sum has no gradient.
    sum((o * torch.randn_like(o)).sum() for o in outputs).backward()
    for node, lost in noted.items():
        assert (unread_trailing_rows(seen[node].grad) > 0) == lost, node


def test_no_spec_in_the_zoo_warns_unless_it_really_loses_input():
    warned = {}
    for path in sorted((ROOT / "specs").glob("*.yaml")):
        done = subprocess.run([sys.executable, "-m", "netc", "check", str(path.relative_to(ROOT))], cwd=ROOT,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        if "warning:" in done.stderr:
            warned[path.stem] = done.stderr.count("warning:")
    # SqueezeNet 1.0's conv1 (7×7/2, no padding, on 224) never reads the last row and column:
    # the test above shows torch's gradient is zero there.
    # Fast R-CNN at the notes' 3 × 800 × 600: pool4 halves conv10's 75 columns, and its last column is lost.
    assert warned == {"squeezenet": 1, "fast_rcnn_vgg16": 1}


# --- padding=same as PyTorch and Keras mean it ------------------------------------------------------
@pytest.mark.parametrize("kernel,dilation", [(2, 1), (4, 1), (3, 2), (5, 1)])
def test_same_padding_keeps_the_size_for_even_kernels_as_torch_does(kernel, dilation):
    analysis = analyze_expression(f"conv(4, {kernel}, dilation={dilation})", (3, 13, 13))
    module = build_module(analysis)
    reference = nn.Conv2d(3, 4, kernel, padding="same", dilation=dilation)
    conv = next(m for m in module.modules() if isinstance(m, nn.Conv2d))
    reference.load_state_dict(conv.state_dict())
    x = torch.randn(2, 3, 13, 13)
    assert analysis[analysis.network.order[-1]].shape == (4, 13, 13)
    torch.testing.assert_close(module(x), reference(x))


def test_same_padding_for_an_even_pool_window_keeps_the_size():
    """maxpool(2, stride=1, padding=same) on 13×13 gave 12×12; now 13×13, each output the maximum
    of its 2×2 window clipped to the map (worked out here by hand)."""
    analysis = analyze_expression("maxpool(2, stride=1, padding=same)", (1, 13, 13))
    assert analysis[analysis.network.order[-1]].shape == (1, 13, 13)
    x = torch.randn(1, 1, 13, 13)
    got = build_module(analysis)(x)
    want = torch.tensor([[max(x[0, 0, a, b] for a in (i, i + 1) if a < 13 for b in (j, j + 1) if b < 13)
                          for j in range(13)] for i in range(13)])
    torch.testing.assert_close(got[0, 0], want)
    avg = analyze_expression("avgpool(2, stride=1, padding=same)", (1, 13, 13))
    out = build_module(avg)(x)
    assert tuple(out.shape) == (1, 1, 13, 13)
    torch.testing.assert_close(out[0, 0, 12, 12], x[0, 0, 12, 12] / 4)  # the zero padding counts in the mean


@pytest.mark.parametrize("stride", [2, 3])
def test_same_padding_at_a_stride_gives_the_ceiling(stride):
    for kernel in (2, 3, 4):
        analysis = analyze_expression(f"conv(2, {kernel}, stride={stride})", (1, 13, 13))
        assert analysis[analysis.network.order[-1]].shape[1] == math.ceil(13 / stride)
        runs_as_declared(analysis)


# --- the differential property: what check accepts, build runs --------------------------------------
_EITHER = st.one_of(  # layers that take a feature map or a vector
    st.builds(lambda s: f"lrn({s})", st.integers(1, 5)),
    st.builds(lambda p: f"dropout({p})", st.sampled_from(["0", "0.5", "1"])),
    st.sampled_from(["relu", "relu6", "leakyrelu(0.1)", "elu", "sigmoid", "tanh", "softplus", "silu", "gelu",
                     "softmax", "logsoftmax", "bn", "identity", "hardswish", "hardsigmoid", "prelu", "prelu(1)"]),
    st.builds(lambda n: f"prelu({n})", st.integers(1, 4)),  # refused unless 1 or the channel count
    st.builds(lambda g, a: f"groupnorm({g}, affine={a})", st.integers(1, 4), st.sampled_from(["true", "false"])),
    st.builds(lambda k: f"maxout({k})", st.integers(1, 3)),
    st.builds(lambda a, n: f"slice({a}, {a + n})", st.integers(0, 3), st.integers(1, 3)),
    st.builds(lambda e, a: f"layernorm(eps={e}, affine={a})", st.sampled_from(["1e-6", "0.1"]),
              st.sampled_from(["true", "false"])),
    st.builds(lambda i: f"layerscale({i})", st.sampled_from(["1e-6", "0.5"])),
    st.builds(lambda w, p: f"{w}({p})", st.sampled_from(["stochasticdepth", "droppath"]), st.sampled_from(["0", "0.2", "1"])),
)
_MAP = st.one_of(  # layers of a feature map
    st.builds(lambda f, k, s, p, d: f"conv({f}, {k}, stride={s}, padding={p}, dilation={d})",
              st.integers(1, 6), st.integers(1, 5), st.integers(1, 3),
              st.sampled_from(["same", "valid", "full", "0", "1", "2"]), st.integers(1, 2)),
    st.builds(lambda g, f, k: f"conv({f * g}, {k}, groups={g})", st.sampled_from([1, 2]), st.integers(1, 3),
              st.integers(1, 3)),
    st.builds(lambda f, kh, kw, s, p: f"conv({f}, ({kh}, {kw}), stride={s}, padding={p})", st.integers(1, 4),
              st.integers(1, 4), st.integers(1, 4), st.sampled_from(["1", "(1, 2)", "(2, 1)"]),
              st.sampled_from(["same", "valid", "(0, 1)", "(1, 0)", "(same, 0)"])),
    st.builds(lambda t, k, s, p, c: f"{t}pool({k}, stride={s}, padding={p}, ceil={c})",
              st.sampled_from(["max", "avg"]), st.integers(1, 4), st.integers(1, 3),
              st.sampled_from(["0", "1", "same", "valid"]), st.sampled_from(["false", "true"])),
    st.builds(lambda k, s: f"l2pool({k}, stride={s})", st.integers(1, 3), st.integers(1, 3)),
    st.builds(lambda t, kh, kw, s, p, c: f"{t}pool(({kh}, {kw}), stride={s}, padding={p}, ceil={c})",
              st.sampled_from(["max", "avg", "l2"]), st.integers(1, 4), st.integers(1, 4),
              st.sampled_from(["1", "2", "(2, 1)", "(1, 3)"]),
              st.sampled_from(["0", "same", "(1, 0)", "(0, 1)", "(same, 0)", "(0, same)"]),
              st.sampled_from(["false", "true"])),
    st.builds(lambda n: f"adaptiveavgpool({n})", st.integers(1, 3)),
    st.builds(lambda f, k, s, p, o: f"deconv({f}, {k}, stride={s}, padding={p}, output_padding={o})",
              st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(0, 2), st.integers(0, 2)),
    st.builds(lambda n, m: f"upsample({n}, mode={m})", st.integers(1, 3), st.sampled_from(["nearest", "bilinear"])),
    st.sampled_from(["globalavgpool", "maxpool", "avgpool", "globalmaxpool", "instancenorm",
                     "instancenorm(affine=true)", "dropout2d"]),
    st.builds(lambda n: f"adaptivemaxpool({n})", st.integers(1, 3)),
    st.builds(lambda p: f"dropout2d({p})", st.sampled_from(["0", "0.3", "1"])),
    st.builds(lambda g: f"channelshuffle({g})", st.integers(1, 4)),
    st.builds(lambda sides: "zeropad(" + ", ".join(map(str, sides)) + ")",
              st.lists(st.integers(0, 2), min_size=1, max_size=4)),
    _EITHER,
)
_VECTOR = st.one_of(st.builds(lambda n: f"fc({n})", st.integers(1, 12)), st.just("flatten"), _EITHER)
_NETWORK = st.one_of(
    st.tuples(st.just(False), st.lists(_MAP, min_size=1, max_size=5), st.lists(_VECTOR, max_size=3)),
    st.tuples(st.just(True), st.just([]), st.lists(_VECTOR, min_size=1, max_size=5)),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(network=_NETWORK, channels=st.integers(1, 4), size=st.integers(3, 16))
def test_every_network_check_accepts_builds_and_runs(network, channels, size):
    flat, spatial, tail = network
    dsl = "-".join(spatial + tail)
    try:
        analysis = analyze_expression(dsl, (channels * size,) if flat else (channels, size, size))
    except NetcError:
        return  # refused with a message: nothing for torch to run
    runs_as_declared(analysis)


_BLOCKS = """\
input: [{c}, {s}, {s}]
blocks:
  res:
    residual: {body}
    shortcut: {shortcut}
  par:
    parallel:
      - {body}
      - {body}
network: {use}-flatten
"""


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.lists(_MAP, min_size=1, max_size=3),
       shortcut=st.sampled_from(["auto", "zeropad", "identity", "conv(4, 1)"]), use=st.sampled_from(["res", "par"]),
       channels=st.integers(1, 4), size=st.integers(2, 10))
def test_every_block_check_accepts_builds_and_runs(tmp_path, body, shortcut, use, channels, size):
    path = tmp_path / "blocks.yaml"
    path.write_text(_BLOCKS.format(c=channels, s=size, body="-".join(body), shortcut=shortcut, use=use))
    try:
        analysis = analyze_file(str(path))
    except NetcError:
        return
    runs_as_declared(analysis)


_READERS = st.sampled_from(["concat(<{p}>)", "add(<{p}>)", "mul(<{p}>)", "upsample(<{p}>)",
                            "concat(<{p}>, crop=true)", "upsample(<{p}>, mode=bilinear)-add(<{p}>)"])


@st.composite
def _networks_with_skips(draw) -> str:
    """A chain of map layers with marks placed at random and read, later, by a merge or an upsample."""
    layers = draw(st.lists(_MAP, min_size=2, max_size=6))
    items: list[str] = []
    placed: list[str] = []
    for index, layer in enumerate(layers):
        items.append(layer)
        if draw(st.booleans()):
            placed.append(f"p{index}")
            items.append(f"<p{index}>")
        if placed and draw(st.booleans()):
            items.append(draw(_READERS).format(p=draw(st.sampled_from(placed))))
    return "-".join(items)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dsl=_networks_with_skips(), channels=st.integers(1, 4), size=st.integers(3, 16))
def test_every_network_with_skips_check_accepts_builds_and_runs(dsl, channels, size):
    try:
        analysis = analyze_expression(dsl, (channels, size, size))
    except NetcError:
        return  # refused with a message (operands that do not combine, …): nothing for torch to run
    runs_as_declared(analysis)
