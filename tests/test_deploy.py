"""Trained weights out of netc (issue 25, part 1): `netc export SPEC --weights FILE` and
`netc compile SPEC [--inference] --weights FILE -o model.py` (model.pth beside it). The weights are
a `netc train` run's best.pth or a checkpoint from elsewhere (torchvision's names), matched by
structure as `netc port` matches them. The truth each file is held to is the torch module the
weights came from: the trained network loaded with plain torch, or torchvision's own model; the
ONNX file is run by onnxruntime, the compiled module without netc."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import netc
from netc.cli import main

ROOT = Path(__file__).resolve().parent.parent
TINY = """\
name: Tiny
input: [1, 8, 8]
params: {classes: 10}
network: conv(8, 3, padding=same)-bn-relu-maxpool(2)-fc(32)-relu-dropout(0.5)-fc(classes)
train: {epochs: 2, batch: 64, lr: 0.05}
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A spec and the best.pth of a short `netc train` run on the digits."""
    torch.set_num_threads(1)
    where = tmp_path_factory.mktemp("trained")
    spec = where / "tiny.yaml"
    spec.write_text(TINY)
    assert main(["train", str(spec), "--data", "digits", "--runs", str(where / "runs"), "--name", "r"]) == 0
    return spec, where / "runs" / "r" / "best.pth"


def trained_torch_module(spec: Path, best: Path):
    """The truth: the generated module with best.pth loaded by name with plain load_state_dict."""
    module = netc.build(str(spec))
    module.load_state_dict(torch.load(best, weights_only=True))
    return module.eval()


def probe() -> torch.Tensor:
    return torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))


def test_export_with_a_runs_best_weights_runs_in_onnxruntime_as_the_trained_module(trained, tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    spec, best = trained
    out, seeded = tmp_path / "t.onnx", tmp_path / "seeded.onnx"
    assert main(["export", str(spec), "--weights", str(best), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "11 of 11 tensors loaded by structure" in printed and f"wrote {out}" in printed
    assert main(["export", str(spec), "-o", str(seeded)]) == 0
    x = probe()
    with torch.no_grad():
        want = trained_torch_module(spec, best)(x).numpy()
    run = lambda path: ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert abs(run(out) - want).max() <= 1e-5
    assert abs(run(seeded) - want).max() > 1e-2  # the file holds the trained weights, not the seeded ones


def test_export_takes_a_torchvision_checkpoint_by_structure(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    from torchvision_models import torchvision

    torch.manual_seed(0)
    reference = torchvision().models.resnet18(weights=None)
    with torch.no_grad():  # statistics that are not 0 and 1, so that folding them is tested
        for m in reference.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    reference.eval()
    checkpoint = tmp_path / "resnet18.pth"
    torch.save({"epoch": 3, "state_dict": reference.state_dict()}, checkpoint)
    out = tmp_path / "r18.onnx"
    assert main(["export", str(ROOT / "specs" / "resnet18.yaml"), "--input", "3x64x64", "--weights", str(checkpoint),
                 "-o", str(out)]) == 0
    assert "122 of 122 tensors loaded by structure" in capsys.readouterr().out
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = reference(x).numpy()
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert abs(got - want).max() <= 1e-4


def test_compile_inference_writes_folded_weights_that_load_without_netc(trained, tmp_path, capsys):
    spec, best = trained
    module_file = tmp_path / "deploy.py"
    assert main(["compile", str(spec), "--inference", "--weights", str(best), "-o", str(module_file)]) == 0
    assert f"wrote {module_file} and {tmp_path / 'deploy.pth'}" in capsys.readouterr().out
    torch.save(probe(), tmp_path / "probe.pt")
    code = f"""
import sys
sys.modules["netc"] = None  # any `import netc` now fails
sys.path.insert(0, {str(tmp_path)!r})
import torch, deploy
net = deploy.Model()
net.load_state_dict(torch.load({str(tmp_path / "deploy.pth")!r}, weights_only=True))
net.eval()
print(sorted(type(m).__name__ for m in net.modules()))
torch.save(net(torch.load({str(tmp_path / "probe.pt")!r})), {str(tmp_path / "out.pt")!r})
"""
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "BatchNorm2d" not in done.stdout and "Dropout" not in done.stdout  # the inference build: folded, left out
    with torch.no_grad():
        want = trained_torch_module(spec, best)(probe())
    assert torch.allclose(torch.load(tmp_path / "out.pt"), want, atol=1e-5)


def test_compile_without_inference_writes_the_trained_state_dict(trained, tmp_path, capsys):
    spec, best = trained
    assert main(["compile", str(spec), "--weights", str(best), "-o", str(tmp_path / "m.py")]) == 0
    state = torch.load(tmp_path / "m.pth", weights_only=True)
    expected = torch.load(best, weights_only=True)
    assert state.keys() == expected.keys() and all(torch.equal(state[k], expected[k]) for k in state)


def test_weights_that_leave_a_layer_unfilled_are_refused_and_nothing_is_written(trained, tmp_path, capsys):
    spec, best = trained
    for command in (["export", "-o", str(tmp_path / "x.onnx")], ["compile", "--inference", "-o", str(tmp_path / "x.py")]):
        assert main([command[0], str(spec), "-D", "classes=5", "--weights", str(best), *command[1:]]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: {best}: 2 of the module's tensors are not in the checkpoint")
        assert "fc2.weight (5×32)" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_compile_weights_needs_an_output_file_and_a_missing_file_is_a_usage_error(trained, tmp_path, capsys):
    spec, best = trained
    assert main(["compile", str(spec), "--weights", str(best)]) == 2
    assert "give -o FILE.py" in capsys.readouterr().err
    assert main(["export", str(spec), "--weights", str(tmp_path / "none.pth"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "none.pth" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# --- external data (--external-data; automatic past protobuf's 2 GB) --------------------------------
def _check_external_pair(path: Path, module, x) -> None:
    import onnx
    ort = pytest.importorskip("onnxruntime")

    data = path.with_name(path.name + ".data")
    assert data.is_file() and data.stat().st_size > 0
    onnx.checker.check_model(str(path))  # by path: the checker reads the data file beside it
    model = onnx.load(str(path), load_external_data=False)
    large = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL or len(t.raw_data) >= 1024]
    assert large and all(t.data_location == onnx.TensorProto.EXTERNAL for t in large)  # under 1 KB may stay inline
    assert {e.value for t in large for e in t.external_data if e.key == "location"} == {data.name}
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert abs(got - module(x).numpy()).max() <= 1e-4


def test_external_data_writes_one_data_file_that_onnx_checks_and_onnxruntime_runs(trained, tmp_path, capsys):
    pytest.importorskip("onnx")
    spec, best = trained
    out = tmp_path / "t.onnx"
    assert main(["export", str(spec), "--weights", str(best), "--external-data", "-o", str(out)]) == 0
    assert "t.onnx.data beside it" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.onnx", "t.onnx.data"]  # the private directory is gone
    _check_external_pair(out, trained_torch_module(spec, best), probe())


def test_external_data_is_automatic_past_the_protobuf_limit(tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    from netc.analysis.pipeline import analyze_file
    from netc.backends import onnx_export

    analysis = analyze_file(str(ROOT / "specs" / "resnet18.yaml"), input_shape=(3, 32, 32))
    monkeypatch.setattr(onnx_export, "MAX_PROTO_BYTES", 4 * analysis.params - 1)  # as if ResNet-18 passed 2 GB
    torch.manual_seed(0)
    module = netc.build(str(ROOT / "specs" / "resnet18.yaml")).eval()
    out = tmp_path / "r18.onnx"
    result = onnx_export.export_onnx(analysis, str(out), module=module)
    assert any("over protobuf's 2 GB" in note for note in result.notes)
    _check_external_pair(out, module, torch.randn(2, 3, 32, 32))
    with pytest.raises(netc.errors.NetcError, match="over 2 GB"):
        onnx_export.export_onnx(analysis, str(tmp_path / "no.onnx"), module=module, external_data=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r18.onnx", "r18.onnx.data"]


def test_the_dynamo_exporter_writes_external_data_too(tmp_path):
    pytest.importorskip("onnxscript")
    from netc.analysis.pipeline import analyze_file
    from netc.backends.onnx_export import export_onnx

    analysis = analyze_file(str(ROOT / "specs" / "lenet5.yaml"))
    torch.manual_seed(0)
    module = netc.build(str(ROOT / "specs" / "lenet5.yaml")).eval()
    out = tmp_path / "l.onnx"
    assert export_onnx(analysis, str(out), module=module, exporter="dynamo", external_data=True).exporter == "dynamo"
    _check_external_pair(out, module, torch.randn(2, *analysis.network.input_shape))


def test_the_python_api_exports_trained_weights_too(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    spec, best = trained
    result = netc.export(spec, tmp_path / "api.onnx", weights=best)
    x = probe()
    got = ort.InferenceSession(result.path, providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    with torch.no_grad():
        assert abs(got - trained_torch_module(spec, best)(x).numpy()).max() <= 1e-5
