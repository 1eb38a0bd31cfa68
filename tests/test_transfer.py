"""Transfer learning (netc/transfer/, `netc port`): checkpoints of randomly initialised torchvision
models, written here as .pth and .safetensors files, load into the generated modules of the zoo
specs by structure and give torchvision's eval-mode outputs; a new head is skipped and reported;
strict mode fails; frozen scopes stay put under an optimizer step; per-scope learning rates; a
corrupt file is one clear error. torchvision is imported as tests/torchvision_models.py says.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torchvision_models import torchvision

import netc
from netc.backends.codegen import generate, load_generated
from netc.errors import NetcError
from netc.transfer import freeze, load_weights, param_groups, read_checkpoint, scope_paths

ROOT = Path(__file__).resolve().parents[1]
CODES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64"}


def write_safetensors(state: dict, path: Path, library_order: bool = False) -> None:
    """A safetensors writer of the test's own, independent of netc's: in the state's order, or
    sorted by dtype and then name as the safetensors library writes (registration order lost)."""
    items = list(state.items())
    if library_order:
        items.sort(key=lambda kv: (kv[1].dtype != torch.float32, kv[0]))
    header, blobs, offset = {}, [], 0
    for name, tensor in items:
        blob = tensor.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": CODES[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps({"__metadata__": {"format": "pt"}, **header}).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def reference(name: str, **options):
    torch.manual_seed(0)
    return getattr(torchvision().models, name)(weights=None, **options).eval()


def spec(name: str) -> str:
    return str(ROOT / "specs" / f"{name}.yaml")


def keep(store: dict, key: str):
    """A forward hook that keeps a module's output (and returns None: a value would replace it)."""

    def hook(_module, _inputs, output) -> None:
        store[key] = output

    return hook


def netc_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=ROOT, capture_output=True, text=True, check=False)


# --- the five networks: a checkpoint on disk → the generated module → torchvision's outputs -------
GOOGLENET = {"aux_logits": False, "init_weights": False}
CASES = [
    # spec, torchvision model and options, the checkpoints written, input size (the smallest that is cheap)
    ("resnet50", "resnet50", {}, ("pth", "safetensors-sorted"), 64),
    ("mobilenet_v2", "mobilenet_v2", {}, ("safetensors",), 32),
    ("densenet121", "densenet121", {}, ("pth-in-dict", "safetensors-sorted"), 32),
    ("googlenet_torchvision", "googlenet", GOOGLENET, ("pth-in-dict",), 32),
]


def write_checkpoint(state: dict, kind: str, tmp_path: Path) -> Path:
    if kind == "pth":
        torch.save(state, tmp_path / "model.pth")
        return tmp_path / "model.pth"
    if kind == "pth-in-dict":  # as training scripts save it: the weights beside an epoch count
        torch.save({"epoch": 90, "model": state}, tmp_path / "checkpoint.pt")
        return tmp_path / "checkpoint.pt"
    path = tmp_path / "model.safetensors"
    write_safetensors(state, path, library_order=kind == "safetensors-sorted")
    return path


@pytest.mark.parametrize("name,model,options,kinds,size", CASES, ids=[c[0] for c in CASES])
def test_a_torchvision_checkpoint_loads_by_structure_and_gives_its_outputs(tmp_path, name, model, options, kinds, size):
    ref = reference(model, **options)
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        want = ref(x)
    for kind in kinds:
        path = write_checkpoint(ref.state_dict(), kind, tmp_path)
        ours = netc.build(spec(name)).eval()
        report = load_weights(ours, path, strict=True)
        assert report.complete and len(report.matched) == len(ref.state_dict())
        assert report.reordered == (kind == "safetensors-sorted")  # the library's order is not a module's
        with torch.no_grad():
            assert (ours(x) - want).abs().max().item() <= 1e-5, kind
        path.unlink()


def test_vgg16_the_lectures_layout_holds_torchvisions_tensors(tmp_path):
    """specs/vgg16.yaml is the lecture's VGG-16: no adaptive pool before the classifier (at 224 the
    map is 7×7 already, where torchvision's AdaptiveAvgPool2d(7) is the identity) and a softmax at
    the end. Its 32 tensors are torchvision's, in order; so the logits (the last fc's output) are
    torchvision's outputs, and the network's output their softmax."""
    ref = reference("vgg16")
    path = tmp_path / "vgg16.pth"
    torch.save({"state_dict": ref.state_dict()}, path)
    analysis = netc.analyze(spec("vgg16"))
    generated = generate(analysis)
    ours = getattr(load_generated(generated), generated.class_name)().eval()
    assert load_weights(ours, path, strict=True).complete
    logits = {}
    last_fc = generated.paths[[n for n in analysis.network.order if n.startswith("fc")][-1]]
    dict(ours.named_modules())[last_fc].register_forward_hook(keep(logits, "fc"))
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        want, got = ref(x), ours(x)
    assert (logits["fc"] - want).abs().max().item() <= 1e-5
    assert (got - torch.softmax(want, dim=1)).abs().max().item() <= 1e-6


# --- a checkpoint that registers a block's shortcut before its body ---------------------------------
# RegNetY-400MF written from the paper the natural way: the residual body, then a projection shortcut
# where the shape changes. torchvision's ResBottleneckBlock registers that projection (`proj`) before
# the body (`f`), and its first 1×1 conv + BN has the projection's shapes.
REGNET_Y_400MF = """\
name: RegNetY400MF
input: [3, 224, 224]
params: {classes: 1000}
blocks:
  se:
    args: [c, squeeze]
    residual: globalavgpool-conv(squeeze, 1)-relu-conv(c, 1)-sigmoid
    shortcut: identity
    merge: mul
  yblock:                    # group width 8, bottleneck ratio 1, SE ratio 1/4 of the block's input
    args: {cin: null, width: null, stride: 1}
    residual: >-
      conv(width, 1, bias=false)-bn-relu - conv(width, 3, stride=stride, padding=1, groups=width // 8, bias=false)-bn-relu
      - se(width, round(cin / 4)) - conv(width, 1, bias=false)-bn
    shortcut: auto
    after: relu
network:
  - conv(32, 3, stride=2, padding=1, bias=false)-bn-relu
  - "[yblock(32, 48, stride=2)]"
  - "[yblock(48, 104, stride=2)-yblock(104, 104)*2]"
  - "[yblock(104, 208, stride=2)-yblock(208, 208)*5]"
  - "[yblock(208, 440, stride=2)-yblock(440, 440)*5]"
  - globalavgpool - fc(classes)
"""


@pytest.mark.parametrize("kind", ["pth", "safetensors-sorted"])
def test_regnet_y_ports_whole_though_torchvision_registers_the_shortcut_first(tmp_path, kind):
    ref = reference("regnet_y_400mf")
    yaml = tmp_path / "regnet_y_400mf.yaml"
    yaml.write_text(REGNET_Y_400MF)
    path = write_checkpoint(ref.state_dict(), kind, tmp_path)
    ported = netc.port(yaml, path)  # refused if anything were left over
    report = ported.report
    assert report.complete and len(report.matched) == len(ref.state_dict()) == 384
    # In the file's order the shortcuts come first; a name-sorted file's order is rebuilt guided by the module's.
    assert report.shortcuts_first == (["stage1", "stage2.0", "stage3.0", "stage4.0"] if kind == "pth" else [])
    assert report.reordered == (kind == "safetensors-sorted")
    pairs = {m.target: m.source for m in report.matched}
    assert pairs["stage2.0.shortcut.1.running_var"] == "trunk_output.block2.block2-0.proj.1.running_var"
    assert pairs["stage2.0.bn1.running_var"] == "trunk_output.block2.block2-0.f.a.1.running_var"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ported.module.eval()(x) - ref(x)).abs().max().item() <= 1e-5


# --- a new head, a missing layer, strict mode ------------------------------------------------------
@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    ref = reference("resnet18")
    path = tmp_path_factory.mktemp("resnet18") / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    return ref, path


def test_a_new_head_is_skipped_and_everything_else_loads(resnet18_checkpoint):
    ref, path = resnet18_checkpoint
    torch.manual_seed(1)
    head = {k: v.clone() for k, v in netc.build(spec("resnet18"), classes=10).state_dict().items() if k.startswith("fc1.")}
    torch.manual_seed(1)
    ours = netc.build(spec("resnet18"), classes=10).eval()
    report = load_weights(ours, path)
    assert [s.name for s in report.skipped] == ["fc1.weight", "fc1.bias"]
    assert [u.name for u in report.unused] == ["fc.weight", "fc.bias"]
    assert "the shape differs: the checkpoint's fc.weight is 1000×512" in report.skipped[0].reason
    assert len(report.matched) == len(ref.state_dict()) - 2
    text = str(report)
    assert "skipped  fc1.weight (10×512): the shape differs: the checkpoint's fc.weight is 1000×512; left at its initialisation" in text
    assert text.startswith(f"{path} -> ResNet18: 120 of 122 tensors loaded by structure, 2 skipped")
    for k, v in head.items():  # the head keeps its initialisation
        assert torch.equal(ours.state_dict()[k], v)
    # The features before the head are torchvision's.
    feats = {}
    hooks = [module.register_forward_hook(keep(feats, key)) for key, module in (("ours", ours.adaptiveavgpool1), ("ref", ref.avgpool))]
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours(x), ref(x)
    for hook in hooks:  # the reference is shared with other tests
        hook.remove()
    assert (feats["ours"].flatten(1) - feats["ref"].flatten(1)).abs().max().item() <= 1e-5


def test_strict_mode_fails_on_the_new_head_and_loads_nothing(resnet18_checkpoint):
    _, path = resnet18_checkpoint
    ours = netc.build(spec("resnet18"), classes=10)
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    with pytest.raises(NetcError) as caught:
        load_weights(ours, path, strict=True)
    message = str(caught.value)
    assert message.startswith("error: ") and "fc1.weight (10×512): the shape differs" in message and "strict" in message
    assert all(torch.equal(before[k], v) for k, v in ours.state_dict().items())


def test_a_layer_missing_in_the_middle_costs_only_that_layer(resnet18_checkpoint, tmp_path):
    """Tensors paired one for one in order would be shifted by a missing layer from there on; the
    alignment skips it and matches everything after it."""
    ref, _ = resnet18_checkpoint
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith("layer2.0.bn1.")}
    path = tmp_path / "no_bn.pth"
    torch.save(state, path)
    ours = netc.build(spec("resnet18"))
    report = load_weights(ours, path)
    assert [s.name for s in report.skipped] == [f"stage2.0.bn1.{r}" for r in ("weight", "bias", "running_mean", "running_var")]
    assert report.counters == ["stage2.0.bn1.num_batches_tracked"] and not report.unused
    assert len(report.matched) == len(state)
    assert "matched  stage2.0.bn2.weight" not in str(report)  # runs, not one line per tensor
    with pytest.raises(NetcError):
        load_weights(netc.build(spec("resnet18")), path, strict=True)


def test_a_checkpoint_of_another_network_matches_nothing_and_says_so(tmp_path):
    path = tmp_path / "lin.pth"
    torch.save({"w": torch.zeros(3, 5, 7), "b": torch.zeros(11)}, path)
    with pytest.raises(NetcError, match="no tensor of the checkpoint fits"):
        load_weights(netc.build(spec("resnet18")), path)


# --- dtypes and corrupt files ---------------------------------------------------------------------
def test_safetensors_dtypes_are_read_exactly(tmp_path):
    state = {"a.weight": torch.randn(4, 3), "a.bias": torch.randn(4).half(), "b.weight": torch.randn(2, 4).bfloat16(),
             "b.num_batches_tracked": torch.tensor(7), "c.running_mean": torch.empty(0)}
    path = tmp_path / "x.safetensors"
    write_safetensors(state, path)
    checkpoint = read_checkpoint(path)
    assert [e.name for e in checkpoint.entries] == list(state)
    for name, value in state.items():
        got = checkpoint.tensor(name)
        assert got.dtype == value.dtype and got.shape == value.shape and torch.equal(got, value)


def test_half_precision_weights_load_into_a_float32_module(tmp_path):
    ref = reference("resnet18")
    path = tmp_path / "r18.safetensors"
    write_safetensors({k: v.half() if v.is_floating_point() else v for k, v in ref.state_dict().items()}, path)
    ours = netc.build(spec("resnet18"))
    assert load_weights(ours, path, strict=True).complete
    assert ours.conv1.weight.dtype == torch.float32
    assert torch.equal(ours.conv1.weight, ref.conv1.weight.half().float())


def _valid_safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    return struct.pack("<Q", len(header)) + header + b"\0" * 8


CORRUPT = {
    "empty": b"",
    "shorter than its length": b"\x05\x00\x00",
    "length past the end": struct.pack("<Q", 10**12) + b"{}",
    "not json": struct.pack("<Q", 4) + b"{no}",
    "not an object": struct.pack("<Q", 2) + b"[]",
    "offsets past the data": _valid_safetensors()[:-4],
    "bytes for the shape": _valid_safetensors().replace(b"[2]", b"[3]"),
    "unknown dtype": _valid_safetensors().replace(b"F32", b"Q7 "),
    "a pth that is not": b"PK\x03\x04" + b"garbage" * 10,
}


@pytest.mark.parametrize("payload", list(CORRUPT.values()), ids=list(CORRUPT))
def test_a_corrupt_checkpoint_is_one_clear_error(tmp_path, payload):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(payload)
    with pytest.raises(NetcError) as caught:
        load_weights(torch.nn.Linear(2, 2), path)
    assert str(caught.value).startswith(f"error: {path}: ")


def test_a_pickled_module_is_refused_with_the_fix(tmp_path):
    path = tmp_path / "whole.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(NetcError, match="weights_only") as caught:
        load_weights(torch.nn.Linear(2, 2), path)
    assert "state_dict" in str(caught.value)


def test_the_cli_reports_a_corrupt_file_in_one_line_without_a_traceback(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(CORRUPT["length past the end"])
    done = netc_cli("port", "specs/resnet18.yaml", "--weights", str(bad), "-o", str(tmp_path / "out.pth"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {bad}: not a safetensors file")
    assert not (tmp_path / "out.pth").exists()
    done = netc_cli("port", "specs/resnet18.yaml", "--weights", str(tmp_path / "missing.pth"), "-o", str(tmp_path / "out.pth"))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "missing.pth" in done.stderr


# --- netc port ----------------------------------------------------------------------------------
def test_netc_port_writes_a_state_dict_plain_torch_loads(resnet18_checkpoint, tmp_path):
    ref, path = resnet18_checkpoint
    out = tmp_path / "ported.pth"
    done = netc_cli("port", "specs/resnet18.yaml", "--weights", str(path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert "122 of 122 tensors loaded by structure" in done.stdout and "wrote" in done.stdout
    module = netc.build(spec("resnet18")).eval()
    module.load_state_dict(torch.load(out, weights_only=True))  # plain torch, every key
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (module(x) - ref(x)).abs().max().item() <= 1e-5


def test_a_partial_port_is_refused_unless_asked_for(resnet18_checkpoint, tmp_path):
    """A new head leaves two tensors on each side over: without --partial that is exit 1, the
    report of what did not match on stdout, the error and the way to accept it on stderr, no file."""
    _, path = resnet18_checkpoint
    out = tmp_path / "ten.pth"
    done = netc_cli("port", "specs/resnet18.yaml", "-D", "classes=10", "--weights", str(path), "-o", str(out))
    assert done.returncode == 1 and "Traceback" not in done.stderr and not out.exists()
    assert "skipped  fc1.weight (10×512): the shape differs" in done.stdout
    assert done.stderr.startswith(f"error: {path}: a partial port, refused: 2 of the module's tensors")
    assert "--partial" in done.stderr
    with pytest.raises(NetcError, match="partial port") as caught:
        netc.port(spec("resnet18"), str(path), classes=10, output=str(out))
    assert [s.name for s in caught.value.report.skipped] == ["fc1.weight", "fc1.bias"] and not out.exists()


def test_netc_port_with_a_new_class_count_and_strict(resnet18_checkpoint, tmp_path):
    _, path = resnet18_checkpoint
    out = tmp_path / "ten.pth"
    done = netc_cli("port", "specs/resnet18.yaml", "-D", "classes=10", "--weights", str(path), "-o", str(out), "--partial")
    assert done.returncode == 0, done.stderr
    assert "skipped  fc1.weight (10×512): the shape differs" in done.stdout
    state = torch.load(out, weights_only=True)
    assert state["fc1.weight"].shape == (10, 512)
    # Seeded: the head is the same in every file written.
    again = netc.port(spec("resnet18"), str(path), classes=10, partial=True)
    assert all(torch.equal(again.state_dict[k], v) for k, v in state.items())
    strict = netc_cli("port", "specs/resnet18.yaml", "-D", "classes=10", "--weights", str(path), "-o", str(tmp_path / "s.pth"),
                      "--strict", "--partial")
    assert strict.returncode == 1 and "Traceback" not in strict.stderr and "fc1.weight" in strict.stderr
    assert not (tmp_path / "s.pth").exists()


def test_netc_port_writes_safetensors_netc_reads_back(resnet18_checkpoint, tmp_path):
    _, path = resnet18_checkpoint
    out = tmp_path / "r18.safetensors"
    ported = netc.port(spec("resnet18"), str(path), output=str(out))
    checkpoint = read_checkpoint(out)
    assert not checkpoint.sorted_by_name and [e.name for e in checkpoint.entries] == list(ported.state_dict)
    assert all(torch.equal(checkpoint.tensor(k), v) for k, v in ported.state_dict.items())


# --- freezing and learning rates per scope --------------------------------------------------------
def generated_resnet18(**params):
    generated = generate(netc.analyze(spec("resnet18"), **params))
    return getattr(load_generated(generated), generated.class_name)(), generated


def test_frozen_scopes_stay_put_under_an_optimizer_step_and_the_rest_moves():
    module, generated = generated_resnet18(classes=10)
    frozen = set(freeze(module, generated.paths, ["stem", "stage1"]))
    names = [n for n, _ in module.named_parameters()]
    assert frozen == {n for n in names if n.startswith(("conv1.", "bn1.", "stage1."))} and frozen
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.1)
    module.train()
    loss = torch.nn.functional.cross_entropy(module(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    for name, p in module.named_parameters():
        if name in frozen:
            assert torch.equal(p, before[name]) and p.grad is None, name
        elif name.endswith("weight") and "stage" in name:
            assert not torch.equal(p, before[name]), name


def test_an_unknown_scope_is_an_error_listing_the_scopes():
    module, generated = generated_resnet18()
    with pytest.raises(NetcError) as caught:
        freeze(module, generated.paths, ["stage9"])
    text = str(caught.value)
    assert "unknown scope 'stage9'" in text and "stem, " not in text.split("hint:")[0]
    assert all(s in text for s in ("conv1", "stage1", "stage4", "fc1", "stem"))
    assert all(p.requires_grad for p in module.parameters())
    with pytest.raises(NetcError, match="unknown scope 'stage5'"):
        param_groups(module, generated.paths, 0.1, {"stage5": 0.1})


def test_param_groups_scale_the_learning_rate_per_scope_nested_ones_winning():
    module, generated = generated_resnet18()
    groups = param_groups(module, generated.paths, 0.1, {"stage1": 0.01, "stage2": 0.1, "stage2.basic2": 0.5})
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == pytest.approx({"stage1": 0.001, "stage2": 0.01, "stage2.basic2": 0.05, "rest": 0.1})
    owner = {id(p): g["name"] for g in groups for p in g["params"]}
    assert len(owner) == len(list(module.parameters())) == sum(len(g["params"]) for g in groups)  # each once
    named = dict(module.named_parameters())
    assert owner[id(named["stage1.0.conv1.weight"])] == "stage1"
    assert owner[id(named["stage2.0.conv1.weight"])] == "stage2"
    assert owner[id(named["stage2.1.conv1.weight"])] == "stage2.basic2"
    assert owner[id(named["fc1.weight"])] == owner[id(named["conv1.weight"])] == "rest"
    optimizer = torch.optim.SGD(groups, lr=0.1)  # torch keeps the "name" key of each group
    assert [g["lr"] for g in optimizer.param_groups] == [g["lr"] for g in groups]


def test_scope_names_are_the_tables():
    _, generated = generated_resnet18()
    scopes = scope_paths(generated)
    assert scopes["stage3.basic2"] == [p for n, p in generated.paths.items() if n.startswith("stage3.basic2.")]
    assert scopes["stem"] == ["conv1", "bn1", "relu1", "pool1"]
    assert "stem" not in scope_paths(generate(netc.analyze(spec("googlenet_torchvision"))))  # no stage, no stem


# --- the safetensors library's own files (issue 25) -----------------------------------------------
def test_a_file_the_safetensors_library_wrote_ports_to_torchvisions_outputs(tmp_path):
    from safetensors.torch import save_file

    ref = reference("resnet18")
    path = tmp_path / "r18.safetensors"
    save_file(ref.state_dict(), str(path), metadata={"format": "pt"})  # sorted by dtype and name: order lost
    checkpoint = read_checkpoint(path)
    assert checkpoint.sorted_by_name
    ours = netc.build(spec("resnet18")).eval()
    assert load_weights(ours, path, strict=True).complete
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert (ours(x) - ref(x)).abs().max().item() <= 1e-5


def test_netcs_safetensors_file_is_the_librarys_format_and_keeps_registration_order(resnet18_checkpoint, tmp_path):
    from safetensors.torch import load_file

    _, path = resnet18_checkpoint
    out = tmp_path / "r18.safetensors"
    ported = netc.port(spec("resnet18"), str(path), output=str(out))
    loaded = load_file(str(out))  # the library reads every tensor back, bit for bit
    assert loaded.keys() == ported.state_dict.keys()
    assert all(torch.equal(loaded[k], v) for k, v in ported.state_dict.items())
    # The library lays the bytes out by name; the order netc recorded is the module's.
    assert [e.name for e in read_checkpoint(out).entries] == list(ported.state_dict)


@pytest.mark.parametrize("length", [0x180, 0x4B50], ids=["first byte 0x80", "first bytes PK"])
def test_a_safetensors_header_length_that_looks_like_a_pth_is_still_safetensors(tmp_path, length):
    """The header length's first bytes can be 0x80 (a pickle's opening) or "PK" (a zip's): the
    reader must not take the file for a .pth (timm's regnety_002 written by the library was one)."""
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}).encode()
    header += b" " * (length - len(header))
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", length) + header + struct.pack("<2f", 1.5, -2.0))
    assert path.read_bytes()[:2] in (b"\x80\x01", b"PK")
    checkpoint = read_checkpoint(path)
    assert checkpoint.format == "safetensors" and torch.equal(checkpoint.tensor("w"), torch.tensor([1.5, -2.0]))
