"""Code generation (netc/backends/codegen) against the analysis and against torch.

For every spec in specs/ and a set of small specs written here (every layer kind; parallel
blocks; residual blocks with identity, automatic and explicit shortcuts; nested blocks; repeats
with @i and with counts that are block arguments; heads and marks; vectors; hostile names) the
generated module is built and checked against the analysis: parameter count, the output shape
of every layer (forward hooks on the module each layer became), the outputs, and the FLOPs
counted by torch.utils.flop_counter.FlopCounterMode. Then: backward reaches every parameter, in-place
activations change no value, torch.compile(fullgraph=True) and torch.export take the residual and
inception networks, the file runs in a fresh interpreter without netc, the output is formatted,
deterministic and safe against hostile names, and `netc compile -o` writes atomically.
"""

from __future__ import annotations

import ast as pyast
import importlib.util
import inspect
import linecache
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from example_inputs import example_inputs
from torch.utils.flop_counter import FlopCounterMode

from netc import NetcError
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import build_module, generate, generate_source, load_generated
from netc.backends.codegen.names import MODULE_ATTRIBUTES, pascal_case
from netc.frontend.initspec import WORD_CHOICES
from netc.graph.templates import TemplateMismatch as Mismatch
from netc.layers import KINDS

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
warnings.filterwarnings("ignore", message=".*doesn't fit.*")

ROOT = Path(__file__).resolve().parent.parent
ZOO = sorted(p.stem for p in (ROOT / "specs").glob("*.yaml"))

SMALL = {
    # Every layer kind, every padding mode, dilation, groups, bias off, all pool types, ceil mode,
    # adaptive pooling, a dense layer on a map and on a vector, batch norm on a vector, reshape.
    "every_kind": """
name: every_kind
input: [3, 32, 32]
network:
  - conv(8, 3, padding=valid)-bn-relu-conv(8, 3, dilation=2, padding=same)-leakyrelu(0.1)
  - conv(16, 2, padding=full, groups=8, bias=false)-elu
  - maxpool(2)-lrn(3)-conv(16, 3)-tanh-avgpool(3, stride=2, padding=1)-conv(16, 1)-sigmoid-l2pool(2)-softplus
  - identity-maxpool(3, stride=1, ceil=true)-adaptiveavgpool(2)-dropout(0.2)-flatten-fc(32)-relu-bn-fc(48)
  - reshape(3, 4, 4)-conv(4, 1)-flatten-fc(10)-logsoftmax
""",
    # Blocks of every form; a repeat whose count and index are block arguments (a loop in
    # __init__); a word argument (one class per value); a dense layer in a block (one class per
    # shape); nested blocks, a stage inside a block, a block in a branch.
    "blocks_mix": """
name: blocks-mix_v2
input: [3, 64, 64]
params: {W: 8}
blocks:
  unit:
    args: {c: null, n: 2}
    body: (conv(c + 2*i, 3)-relu)*n@i
  plain_res:
    args: [c]
    residual: conv(c, 3)-relu-conv(c, 3)
    shortcut: identity
    after: relu
  proj:
    args: {c: null, s: 1}
    residual: conv(c, 3, stride=s)-relu-conv(c, 3)
    after: relu
  explicit:
    args: {c: null, s: 1}
    residual: conv(c, 3, stride=s, bias=false)-bn-relu-conv(c, 3, bias=false)-bn
    shortcut: conv(c, 1, stride=s, bias=false)-bn
    after: relu
  nested:
    args: {c: null}
    body: unit(c, 1)-[plain_res(c + 2*0)]-proj(c * 2, s=2)
  pad_choice:
    args: {pad: same, k: 3}
    body: conv(8, k, padding=pad)-relu
  headish:
    args: [u]
    body: fc(u)-relu
  mixed:
    args: {a: null, b: null}
    parallel:
      - conv(a, 1)-relu
      - unit(b, 2)
      - maxpool(3, stride=1, padding=1)
network:
  - conv(W, 3)-relu
  - "[plain_res(W)*2]"
  - "[proj(2*W, s=2)-proj(2*W)]"
  - explicit(32, s=2)-explicit(32)
  - nested(16)
  - "[pad_choice-pad_choice(valid, 3)-pad_choice(1)]"
  - mixed(4, 6)-mixed(8, 4)
  - "[unit(8, 3)-unit(8)]"
  - "[conv(8*2**i, 3)-relu-maxpool]*2@i"
  - headish(16)-headish(10)
""",
    # Residual bodies made of blocks and of a repeat (the automatic shortcut's stride comes
    # through them), and a repeat count of 0.
    "nested_residual": """
name: nested_residual
input: [3, 16, 16]
blocks:
  cbr:
    args: {c: null, s: 1}
    body: conv(c, 3, stride=s, bias=false)-bn-relu
  res:
    args: {c: null, s: 1}
    residual: cbr(c, s)-conv(c, 3, bias=false)-bn
    after: relu
  loop_res:
    args: {c: null, n: 1}
    residual: (cbr(c))*n
    after: relu
network: cbr(8)-res(8)-res(16, s=2)-loop_res(16, 2)-loop_res(16, 0)-loop_res(32, 1)-globalavgpool-fc(10)
""",
    # Heads: from the end, from a mark in the trunk, from a mark inside a block (that block is
    # then written into the network class), and a head that is its origin unchanged.
    "marks_heads": """
name: marks_heads
input: [3, 16, 16]
blocks:
  trunk:
    args: [c]
    body: conv(c, 3)-relu-<mid>-conv(c, 3)-relu
network: trunk(8)-maxpool-<features>-conv(16, 3)-relu-globalavgpool-flatten
heads:
  cls: fc(10)
  aux: {from: mid, body: "conv(4, 1)-globalavgpool-fc(3)"}
  feat: {from: features, body: "identity"}
""",
    # A network on vectors: BatchNorm1d, a residual block of dense layers, a float argument.
    "vector": """
name: vector_mlp
input: [64]
blocks:
  mlp:
    args: {u: null, p: 0.1}
    residual: fc(u)-bn-relu-dropout(p)-fc(u)
    shortcut: identity
    after: relu
network: fc(32)-relu-mlp(32)-mlp(32, p=0.3)-fc(10)-softmax
""",
    # Names that Python or nn.Module already use, as block, argument, mark and head names.
    "hostile_names": """
name: Model
input: [3, 16, 16]
blocks:
  module:
    args: {self: null, super: 1, int: 3, in_channels: 4, torch: 1, layers: 2}
    body: (conv(self + in_channels, int, stride=torch)-relu)*layers
  sequential:
    args: [nn]
    residual: conv(nn, 3)-relu
network: module(4)-sequential(8)-<self>-conv(8, 1)
heads:
  forward: fc(10)
  training: {from: self, body: "globalavgpool-flatten-fc(2)"}
  x: {from: self, body: "maxpool"}
  torch: identity
""",
    # Edge cases: a head that is the input, an empty repeat, activations in a row (only some may
    # run in place), a negative leaky slope (never in place), a mark read by two.
    "edge_cases": """
name: odd
input: [3, 8, 8]
params: {K: 0}
network: <start>-identity-(fc(4)-relu)*K-conv3-4-relu-relu-leakyrelu(-0.2)-elu-<m>-relu
heads:
  same: {from: start, body: identity}
  pooled: {from: start, body: "maxpool-flatten"}
  main: identity
  m2: {from: m, body: "relu-relu"}
""",
    "tiny_resnet": """
name: TinyResNet
input: [3, 32, 32]
params: {classes: 10}
blocks:
  bottleneck:
    args: {width: null, stride: 1}
    residual: conv(width, 1, bias=false)-bn-relu - conv(width, 3, stride=stride, bias=false)-bn-relu - conv(width*4, 1, bias=false)-bn
    shortcut: auto
    after: relu
network:
  - conv(16, 3, bias=false)-bn-relu
  - "[bottleneck(8)*2]"
  - "[bottleneck(16, stride=2)-bottleneck(16)]"
  - globalavgpool-fc(classes)
""",
    "tiny_inception": """
name: TinyInception
input: [3, 32, 32]
blocks:
  inception:
    args: [c1, r3, c3, r5, c5, pp]
    parallel:
      - conv(c1, 1)-relu
      - conv(r3, 1)-relu-conv(c3, 3)-relu
      - conv(r5, 1)-relu-conv(c5, 5)-relu
      - maxpool(3, stride=1, padding=1)-conv(pp, 1)-relu
network:
  - conv(16, 3, stride=2)-relu-maxpool(3, stride=2, padding=1)
  - inception(8, 8, 12, 4, 4, 4)-inception(12, 8, 16, 4, 8, 8)-maxpool(3, stride=2, padding=1)
  - inception(16, 8, 16, 4, 8, 8)-globalavgpool-dropout(0.4)-fc(10)
""",
    # The layers after the lecture notes' in generic block classes, their arguments symbolic:
    # group norm, hardswish, ShuffleNet v2's unit (a channel split by slices, instance norm, PReLU,
    # channel dropout, a shuffle), a max-pooled gate with maxout, darknet's padded pool.
    "modern_layers": """
name: modern_layers
input: [3, 16, 16]
blocks:
  cgh: {args: {c: null, g: 2}, body: "conv(c, 3)-groupnorm(g)-hardswish"}
  unit:
    args: [c]
    parallel:
      - slice(0, c // 2)
      - slice(c // 2, c)-conv(c // 2, 1)-instancenorm(affine=true)-prelu-conv(c // 2, 3, groups=c // 2)-dropout2d(0.1)
    after: channelshuffle(2)
  gate:
    args: {c: null, k: 2}
    residual: adaptivemaxpool(1)-conv(c * k, 1)-maxout(k)-hardsigmoid
    shortcut: identity
    merge: mul
  padpool:
    args: {p: 1}
    body: zeropad(0, p, 0, p)-maxpool(2, stride=1)-prelu(1)
network: cgh(8) - cgh(12, g=4) - unit(12) - unit(12) - gate(12) - gate(12, k=3) - padpool - padpool(2) - globalmaxpool - fc(10)
""",
}

# (spec, -D overrides): the zoo at its defaults, the small specs, and a depth given on the command line.
# Fast R-CNN at 4 RoIs per image rather than its 2,000 (the per-RoI head is 400 GFLOPs at 2,000).
CASES = [(f"zoo:{n}", {"R": 4} if n == "fast_rcnn_vgg16" else {}) for n in ZOO] + [(f"small:{n}", {}) for n in SMALL]
if "resnet_cifar" in ZOO:
    CASES.append(("zoo:resnet_cifar", {"depth": 32}))


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("codegen_specs")
    for name, text in SMALL.items():
        (directory / f"{name}.yaml").write_text(text.lstrip(), encoding="utf-8")
    return directory


def spec_path(case: str, small_dir: Path) -> Path:
    where, name = case.split(":", 1)
    return ROOT / "specs" / f"{name}.yaml" if where == "zoo" else small_dir / f"{name}.yaml"


_ANALYSES: dict = {}


def analysis_of(case: str, small_dir: Path, params=None):
    key = (case, tuple(sorted((params or {}).items())))
    if key not in _ANALYSES:
        path = spec_path(case, small_dir)
        _ANALYSES[key] = analyze_file(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), params or None)
    return _ANALYSES[key]


def instantiate(analysis):
    generated = generate(analysis)
    module = load_generated(generated)
    return generated, getattr(module, generated.class_name)()


def outputs_of(result) -> dict:
    return result if isinstance(result, dict) else {"output": result}


# --- the generated module is the analysed network ----------------------------------------------------
@pytest.mark.parametrize("case,params", CASES, ids=[c + ("-" + str(p) if p else "") for c, p in CASES])
def test_module_matches_the_analysis(case, params, small_dir):
    analysis = analysis_of(case, small_dir, params)
    torch.manual_seed(0)
    generated, model = instantiate(analysis)
    assert not any(isinstance(why, Mismatch) for why in generated.fallbacks.values()), generated.fallbacks
    assert sum(p.numel() for p in model.parameters()) == analysis.params

    named = dict(model.named_modules())
    seen: dict[str, tuple[int, ...]] = {}
    hooks = []
    for node, path in generated.paths.items():
        assert path in named, f"{node} maps to {path}, which the module does not have"
        hook = named[path].register_forward_hook(lambda m, i, o, node=node: seen.__setitem__(node, tuple(o.shape[1:])))
        hooks.append(hook)
    layers_with_modules = [n for n in analysis.network.order if n in generated.paths]
    assert len(layers_with_modules) >= len(analysis.info) // 2  # most layers are checked one by one

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        result = model(*example_inputs(analysis, 1))
    for node in layers_with_modules:
        assert seen[node] == tuple(analysis[node].shape), f"{node}: torch {seen[node]}, analysis {analysis[node].shape}"
    assert {k: tuple(v.shape[1:]) for k, v in outputs_of(result).items()} == analysis.output_shapes()
    assert counter.get_total_flops() == analysis.flops


@pytest.mark.parametrize("case", [f"small:{n}" for n in SMALL] + ["zoo:resnet18"])
def test_backward_reaches_every_parameter(case, small_dir):
    analysis = analysis_of(case, small_dir)
    torch.manual_seed(0)
    _, model = instantiate(analysis)
    model.train()
    x = torch.randn(2, *analysis.network.input_shape)
    loss = sum((out * torch.randn_like(out)).sum() for out in outputs_of(model(x)).values())
    loss.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, f"{name} gets no gradient"
        assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("case", ["small:blocks_mix", "small:marks_heads", "small:hostile_names", "small:nested_residual",
                                  "small:every_kind", "small:tiny_resnet"])
def test_inplace_activations_change_no_value(case, small_dir):
    """The same weights with every inplace=True turned off give the same outputs and gradients."""
    analysis = analysis_of(case, small_dir)
    generated = generate(analysis)
    assert "inplace=True" in generated.source or case == "small:every_kind"
    plain_source = generated.source.replace("inplace=True", "inplace=False")
    torch.manual_seed(0)
    model = getattr(load_generated(generated), generated.class_name)().train()
    plain = getattr(load_generated(type(generated)(plain_source, generated.class_name, {})), generated.class_name)()
    plain.load_state_dict(model.state_dict())
    plain.train()
    x = torch.randn(2, *analysis.network.input_shape)
    results = []
    for net in (model, plain):
        torch.manual_seed(1)  # the same dropout masks
        out = outputs_of(net(x.clone()))
        torch.manual_seed(2)
        loss = sum((v * torch.randn_like(v)).sum() for v in out.values())
        loss.backward()
        results.append((out, {n: p.grad.clone() for n, p in net.named_parameters()}))
    (out_a, grads_a), (out_b, grads_b) = results
    for key in out_a:
        torch.testing.assert_close(out_a[key], out_b[key])
    for key in grads_a:
        torch.testing.assert_close(grads_a[key], grads_b[key])


# --- the shape of the code -----------------------------------------------------------------------------
def _sources(small_dir) -> dict[str, str]:
    return {case: generate_source(analysis_of(case, small_dir)) for case, params in CASES if not params}


def test_one_class_per_block_and_repetition_as_sequential(small_dir):
    source = generate_source(analysis_of("zoo:resnet50", small_dir))
    tree = pyast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, pyast.ClassDef)]
    assert classes.count("Bottleneck") == 1 and len(classes) == 2
    assert "= nn.Sequential(" in source and "Bottleneck(256, 128, stride=2)," in source
    bottleneck = next(n for n in tree.body if isinstance(n, pyast.ClassDef) and n.name == "Bottleneck")
    init = pyast.get_source_segment(source, bottleneck.body[0])
    assert "def __init__(self, in_channels: int, width: int, stride: int = 1)" in init
    assert "nn.Conv2d(width, width * 4, kernel_size=1, bias=False)" in init
    assert "if in_channels == width * 4 and stride == 1:" in init  # identity or projection, chosen in __init__
    forward = pyast.get_source_segment(source, bottleneck.body[1])
    assert "shortcut = self.shortcut(x)" in forward and "out += shortcut" in forward

    source = generate_source(analysis_of("zoo:googlenet", small_dir))
    tree = pyast.parse(source)
    inception = next(n for n in tree.body if isinstance(n, pyast.ClassDef) and n.name == "Inception")
    assert "torch.cat([branch1, branch2, branch3, branch4], dim=1)" in pyast.get_source_segment(source, inception)
    assert "self.out_channels = c1 + c3 + c5 + pp" in pyast.get_source_segment(source, inception)


def test_blocks_of_the_newer_layers_are_generic_classes(small_dir):
    """Each kind states its output in a block's arguments (`symbolic_shape`), so a block using
    them with symbolic arguments is one class for all its uses, not one per value."""
    source = generate_source(analysis_of("small:modern_layers", small_dir))
    headers = [line for line in source.splitlines() if line.startswith("# ") and "block (" in line]
    assert len(headers) == 4 and all("(generic)" in line for line in headers), headers
    assert "nn.GroupNorm(g, c)" in source and "nn.ZeroPad2d((0, p, 0, p))" in source
    assert "x[:, self.branch2_slice1_start : self.branch2_slice1_stop]" in source  # one value per branch


def test_forward_is_straight_line(small_dir):
    """forward holds assignments and one return: no loops, branches, comprehensions or look-ups.
    The classes a kind declares for a layer torch.nn has no module for (StochasticDepth, which
    branches on self.training as torchvision's does) are fixed text, not written from the spec."""
    from netc.backends.codegen.module_file import helper_classes

    for case, source in _sources(small_dir).items():
        helpers = set(helper_classes(analysis_of(case, small_dir)))
        for cls in pyast.parse(source).body:
            if not isinstance(cls, pyast.ClassDef) or cls.name in helpers:
                continue
            forward = next(f for f in cls.body if isinstance(f, pyast.FunctionDef) and f.name == "forward")
            for statement in forward.body[:-1]:
                assert isinstance(statement, (pyast.Assign, pyast.AugAssign)), f"{case} {cls.name}: {pyast.unparse(statement)}"
            assert isinstance(forward.body[-1], pyast.Return)
            for node in pyast.walk(forward):
                assert not isinstance(node, (pyast.For, pyast.While, pyast.If, pyast.IfExp, pyast.comprehension,
                                             pyast.Lambda)), f"{case} {cls.name}"
                if isinstance(node, pyast.Subscript):  # only tensor slicing, never a look-up
                    assert isinstance(node.slice, (pyast.Slice, pyast.Tuple)), f"{case}: {pyast.unparse(node)}"


def test_every_layer_line_carries_shape_and_location(small_dir):
    source = generate_source(analysis_of("zoo:resnet50", small_dir))
    assert "x = self.conv1(x)  # [B, 64, 112, 112]  specs/resnet50.yaml:" in source
    lines = source.splitlines()
    for number, line in enumerate(lines):
        code = line.strip()
        after_else = lines[number - 1].strip() == "else:"
        if code.startswith(("self.", "x = ", "out = ", "shortcut = ")) and "out_channels" not in code and not after_else:
            where = line if "  # " in line else lines[number - 1]
            assert "# [B, " in where and "specs/resnet50.yaml:" in where, line


def test_in_place_only_where_the_input_is_not_read_again(small_dir, tmp_path):
    source = generate_source(analysis_of("zoo:resnet50", small_dir))
    bottleneck = source.split("class Bottleneck")[1].split("class ")[0]
    assert bottleneck.count("nn.ReLU(inplace=True)") == 3  # after bn1, bn2 and after the add
    spec = tmp_path / "pre.yaml"
    spec.write_text("""name: prenet
input: [3, 8, 8]
blocks:
  pre:
    args: [c]
    residual: relu-conv(c, 3)-bn-relu-conv(c, 3)
    shortcut: identity
network: conv(8, 3)-pre(8)-<m>-relu-conv(8, 1)-sigmoid-relu-dropout-relu-fc(2)
heads:
  a: fc(3)
  b: {from: m, body: "fc(2)"}
""", encoding="utf-8")
    source = generate_source(analyze_file(str(spec)))
    pre = source.split("class Pre(")[1].split("class ")[0]
    assert pre.count("nn.ReLU()") == 1 and pre.count("nn.ReLU(inplace=True)") == 1  # the block input is x
    top = source.split("class Prenet(")[1]
    assert "nn.ReLU(inplace=True)" not in top  # after a mark, a sigmoid, a dropout: never in place
    model = build_module(analyze_file(str(spec)))
    x = torch.randn(2, 3, 8, 8, requires_grad=True)
    sum(v.sum() for v in model(x).values()).backward()


def test_formatted(small_dir, tmp_path):
    formatter = next((m for m in ("ruff", "black") if importlib.util.find_spec(m)), None)
    if formatter is None:
        pytest.skip("neither ruff nor black is installed")
    for case, source in _sources(small_dir).items():
        (tmp_path / f"{case.replace(':', '_').replace('-', '_')}.py").write_text(source, encoding="utf-8")
    if formatter == "ruff":
        command = [sys.executable, "-m", "ruff", "format", "--isolated", "--check", "--diff", str(tmp_path)]
    else:
        command = [sys.executable, "-m", "black", "--check", "--diff", "-q", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_deterministic(small_dir):
    first = _sources(small_dir)
    _ANALYSES.clear()
    assert _sources(small_dir) == first
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    for spec in ("specs/resnet50.yaml", "specs/googlenet.yaml"):
        if not (ROOT / spec).exists():
            continue
        done = subprocess.run([sys.executable, "-m", "netc", "compile", spec], cwd=ROOT, env=env,
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout == generate_source(analyze_file(spec))


def test_keyword_names_become_classes(tmp_path):
    spec = tmp_path / "none.yaml"
    spec.write_text("name: none\ninput: [3, 8, 8]\nblocks:\n  'true': conv3-8\nnetwork: true-true\n", encoding="utf-8")
    source = generate_source(analyze_file(str(spec)))
    assert "class None_(nn.Module)" in source and "class True_(nn.Module)" in source
    assert load_generated(generate(analyze_file(str(spec)))).Model()(torch.randn(1, 3, 8, 8)).shape == (1, 8, 8, 8)


def test_class_names():
    assert pascal_case("resnet50") == "Resnet50"
    assert pascal_case("ResNet50") == "ResNet50"
    assert pascal_case("yolo_v1") == "YoloV1"
    assert pascal_case("basic-block") == "BasicBlock"
    assert pascal_case("vgg16_conv1") == "Vgg16Conv1"


def test_module_attribute_list_covers_torch():
    public = {n for n in dir(torch.nn.Module) if not n.startswith("_")} | set(vars(torch.nn.Module()))
    assert {n for n in public if not n.startswith("_")} <= MODULE_ATTRIBUTES


def test_build_executes_exactly_the_generated_source(small_dir):
    import netc

    analysis = analysis_of("small:tiny_resnet", small_dir)
    source = generate_source(analysis)
    model = build_module(analysis)
    for cls in (type(model), type(model.stage1[0])):
        filename = cls.forward.__code__.co_filename
        assert filename.startswith("<netc:") and "".join(linecache.getlines(filename)) == source
    path = str(small_dir / "tiny_resnet.yaml")
    assert netc.compile_source(path) == generate_source(analyze_file(path))
    assert type(netc.build(path)).__name__ == "TinyResNet"


# --- torch.compile and torch.export ----------------------------------------------------------------------
@pytest.mark.parametrize("case", ["small:tiny_resnet", "small:tiny_inception", "small:marks_heads"])
def test_compile_fullgraph_and_export(case, small_dir):
    analysis = analysis_of(case, small_dir)
    _, model = instantiate(analysis)
    model.eval()
    x = torch.randn(2, *analysis.network.input_shape)
    with torch.no_grad():
        expected = outputs_of(model(x))
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend=os.environ.get("NETC_COMPILE_BACKEND", "aot_eager"))
        got = outputs_of(compiled(x))
        for key in expected:
            torch.testing.assert_close(got[key], expected[key])
        exported = torch.export.export(model, (x,))
        got = outputs_of(exported.module()(x))
    for key in expected:
        torch.testing.assert_close(got[key], expected[key])


@pytest.mark.skipif(not os.environ.get("NETC_SLOW_TESTS"), reason="inductor takes minutes on CPU; set NETC_SLOW_TESTS=1")
def test_compile_with_inductor(small_dir):
    analysis = analysis_of("small:tiny_resnet", small_dir)
    _, model = instantiate(analysis)
    model.eval()
    x = torch.randn(2, *analysis.network.input_shape)
    with torch.no_grad():
        torch.testing.assert_close(torch.compile(model, fullgraph=True)(x), model(x))


# --- the file on its own -----------------------------------------------------------------------------------
def test_generated_file_runs_in_a_fresh_interpreter_without_netc(tmp_path):
    spec = "specs/resnet50.yaml"
    target = tmp_path / "resnet50.py"
    done = subprocess.run([sys.executable, "-m", "netc", "compile", spec, "-o", str(target)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    name = generate(analyze_file(spec)).class_name
    script = f"""
import sys
sys.modules["netc"] = None  # importing netc now fails
sys.path.insert(0, {str(tmp_path)!r})
import importlib.util
assert importlib.util.find_spec("netc") is None or True
import torch
from resnet50 import {name}, Model
model = {name}().eval()
assert Model is {name}
with torch.no_grad():
    out = model(torch.randn(1, 3, 224, 224))
print(tuple(out.shape), sum(p.numel() for p in model.parameters()))
"""
    run = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split()[-1] == str(analyze_file(spec).params)
    tree = pyast.parse(target.read_text(encoding="utf-8"))
    imports = [pyast.unparse(n) for n in pyast.walk(tree) if isinstance(n, (pyast.Import, pyast.ImportFrom))]
    assert imports == ["import torch", "from torch import nn"]


def test_compile_writes_atomically(tmp_path):
    existing = tmp_path / "existing.py"
    existing.write_text("# precious\n", encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ninput: [3, 8, 8]\nnetwork: conv3-8-nosuchlayer\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "netc", "compile", str(bad), "-o", str(existing)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert "error" in done.stderr
    assert existing.read_text(encoding="utf-8") == "# precious\n"
    good = tmp_path / "good.yaml"
    good.write_text("name: good\ninput: [3, 8, 8]\nnetwork: conv3-8-relu-maxpool-fc(2)\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "netc", "compile", str(good), "-o", str(existing)], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "class Good(nn.Module)" in existing.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml", "existing.py", "good.yaml"]


# --- safety: spec text never becomes code ------------------------------------------------------------------
# min and max: sizes such as max(1, c // 4); isinstance: reset_parameters' test of each module's class
ALLOWED_CALLS = {"super", "range", "int", "min", "max", "isinstance"}
CHOICE_WORDS = frozenset(c for kind in KINDS.values() for attr in kind.attrs for c in attr.choices) | frozenset(
    word for words in WORD_CHOICES.values() for word in words)  # init: kaiming_normal_(…, mode="fan_out")


def assert_only_expected_code(source: str, heads: set[str]) -> None:
    tree = pyast.parse(source)
    for node in pyast.walk(tree):
        if isinstance(node, (pyast.Import, pyast.ImportFrom)):
            assert pyast.unparse(node) in ("import torch", "from torch import nn")
        if isinstance(node, pyast.Constant) and isinstance(node.value, str):
            # head names, and the fixed words of a kind's choices (mode="bilinear"): never free spec text
            assert node.value in heads | CHOICE_WORDS, f"string {node.value!r} in generated code"
        if isinstance(node, pyast.Call) and isinstance(node.func, pyast.Name):
            assert node.func.id in ALLOWED_CALLS or node.func.id[:1].isupper(), pyast.unparse(node)
        if isinstance(node, pyast.Attribute):
            assert not node.attr.startswith("__") or node.attr == "__init__", pyast.unparse(node)
        if isinstance(node, pyast.Name):
            assert not node.id.startswith("__"), node.id


def test_generated_code_holds_only_what_netc_writes(small_dir):
    for case, source in _sources(small_dir).items():
        heads = {name for name, _ in analysis_of(case, small_dir).network.source.heads}
        assert_only_expected_code(source, heads)


def test_hostile_names_keep_the_module_working(small_dir):
    analysis = analysis_of("small:hostile_names", small_dir)
    _, model = instantiate(analysis)
    assert isinstance(model.training, bool) and inspect.ismethod(model.forward)
    out = model.eval()(torch.randn(1, 3, 16, 16))
    assert set(out) == {"forward", "training", "x", "torch"}


@pytest.mark.parametrize("text", [
    "name: \"x'); __import__('os').system('true') #\"\ninput: [3, 8, 8]\nnetwork: conv3-8\n",
    "name: ok\ninput: [3, 8, 8]\nnetwork: conv3-8\nheads:\n  __import__: fc(2)\n",
    "name: ok\ninput: [3, 8, 8]\nblocks:\n  b:\n    args: [__class__]\n    body: conv(__class__, 3)\nnetwork: b(4)\n",
    "name: ok\ninput: [3, 8, 8]\nnetwork: \"conv3-8-fc(2)\\nimport os\"\n",
    "name: ok\ninput: [3, 8, 8]\nblocks:\n  \"a\\nimport os\": conv3-8\nnetwork: conv3-8\n",
])
def test_hostile_specs_are_refused(text, tmp_path):
    spec = tmp_path / "hostile.yaml"
    spec.write_text(text, encoding="utf-8")
    with pytest.raises(NetcError):
        generate_source(analyze_file(str(spec)))


def test_spec_text_in_comments_cannot_escape(tmp_path):
    """A spec path with a newline and code in it lands in comments, escaped."""
    evil = tmp_path / "evil\nimport os\nos.system('true')\n\u2028x.yaml"
    evil.write_text("name: ok\ninput: [3, 8, 8]\nnetwork: conv3-8-relu-fc(2)\n", encoding="utf-8")
    source = generate_source(analyze_file(str(evil)))
    assert_only_expected_code(source, set())
    assert "\\x0aimport os" in source
    for line in source.splitlines():
        assert line.isascii() and line.isprintable() or line == ""
    module = load_generated(generate(analyze_file(str(evil))))
    assert module.Ok()(torch.randn(1, 3, 8, 8)).shape == (1, 2)


def test_random_names_compile_or_are_refused(tmp_path):
    """Identifiers from a pool of Python's and torch's own names in every role: either the spec is
    refused with a NetcError, or the module builds, runs and has the analysed shapes."""
    pytest.importorskip("hypothesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    pool = ["self", "x", "out", "torch", "nn", "super", "int", "range", "in_channels", "channels", "layers",
            "forward", "training", "Model", "_x", "out_channels", "shortcut", "branch1", "conv1", "i", "Ok",
            "type", "match", "print", "float", "None_", "layer", "relu1", "stage1"]
    name = st.sampled_from(pool)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(block=name, arg=name, head=name, mark=name, index=name)
    def check(block, arg, head, mark, index):
        text = f"""name: ok
input: [3, 8, 8]
blocks:
  {block}:
    args: {{{arg}: 4}}
    residual: (conv({arg} + {index}, 3)-relu)*2@{index}-conv({arg}, 1)
network: {block}(6)-<{mark}>-conv(4, 1)
heads:
  {head}: {{from: {mark}, body: "globalavgpool-fc(3)"}}
  other_{head}: fc(2)
"""
        spec = tmp_path / "random.yaml"
        spec.write_text(text, encoding="utf-8")
        try:
            analysis = analyze_file(str(spec))
            source = generate_source(analysis)
        except NetcError:
            return
        heads = {name for name, _ in analysis.network.source.heads}
        assert_only_expected_code(source, heads)
        _, model = instantiate(analysis)
        out = model.eval()(torch.randn(1, 3, 8, 8))
        assert {k: tuple(v.shape[1:]) for k, v in out.items()} == analysis.output_shapes()

    check()


# --- GPU ------------------------------------------------------------------------------------------------------
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("spec", ["resnet50", "googlenet"])
def test_cuda_train_step_with_bf16_autocast(spec):
    analysis = analyze_file(f"specs/{spec}.yaml")
    model = build_module(analysis).cuda().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(8, *analysis.network.input_shape, device="cuda")
    target = torch.randint(0, 1000, (8,), device="cuda")
    for _ in range(2):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(x)
            loss = torch.nn.functional.cross_entropy(out.float(), target)
        loss.backward()
        optimizer.step()
    assert torch.isfinite(loss)
    assert all(p.grad is not None for p in model.parameters())
