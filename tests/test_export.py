"""`netc export` (issue 14, part 1): every spec of the zoo, at the smallest input it accepts among a
few sizes, exported to ONNX; the file passes onnx.checker, and onnxruntime (CPU) computes the torch
module's eval-mode outputs (max abs diff ≤ 1e-4) at batch 2 through the dynamic batch axis. Heads are
outputs named after them; nodes are named after netc's layers; `--batch 1` fixes the axis; the
command line writes the file, and a bad spec, or no onnx, writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
np = pytest.importorskip("numpy")

import netc
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import build_module
from netc.backends.onnx_export import export_onnx
from netc.cli import main
from netc.errors import NetcError

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml"))
SIZES = (16, 32, 64, 96, 128, 192, 224, 256, 320)  # square inputs tried in order; the first that checks is used
TOLERANCE = 1e-4


def input_shape(analysis) -> tuple[int, ...]:
    net = analysis.network
    return tuple(analysis.info[next(n for n in net.order if not net.node(n).inputs)].shape)


def small(spec: Path):
    """The spec analysed at the smallest of SIZES it accepts (its own input when none does, or when
    it takes a plain feature vector)."""
    own = analyze_file(str(spec))
    shape = input_shape(own)
    if len(shape) == 3:
        for size in SIZES:
            if size * size >= shape[1] * shape[2]:
                break  # no smaller than the spec's own: nothing to gain
            try:
                return analyze_file(str(spec), input_shape=(shape[0], size, size))
            except NetcError:
                continue
    return own


def session(path: Path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def torch_outputs(module, x) -> dict[str, np.ndarray]:
    with torch.no_grad():
        out = module(x)
    return {k: v.numpy() for k, v in out.items()} if isinstance(out, dict) else {"output": out.numpy()}


def max_diff(got: list[np.ndarray], want: dict[str, np.ndarray], names: list[str]) -> float:
    assert [g.shape for g in got] == [want[n].shape for n in names]
    return max(float(np.abs(g - want[n]).max()) for g, n in zip(got, names))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_every_spec_exports_and_runs_as_in_torch(spec, tmp_path):
    analysis = small(spec)
    torch.manual_seed(0)
    module = build_module(analysis).eval()
    path = tmp_path / f"{spec.stem}.onnx"
    if any(node.kind == "roipool" for node in analysis.network.nodes()):  # Fast R-CNN: refused, nothing written
        with pytest.raises(NetcError, match="roipool1 cannot be exported to ONNX"):
            export_onnx(analysis, str(path), module=module)
        assert not path.exists()
        return
    result = export_onnx(analysis, str(path), module=module)
    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    names = list(analysis.output_shapes())
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == names == list(result.outputs)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    x = torch.randn(2, *input_shape(analysis))
    got = session(path).run(None, {"input": x.numpy()})
    assert max_diff(got, torch_outputs(module, x), names) <= TOLERANCE
    renamed = {n.name for n in model.graph.node if n.doc_string.startswith("netc")}
    assert renamed and result.renamed == len(renamed)


def test_heads_are_outputs_named_after_them(tmp_path):
    for spec, heads in (("yolov3_tiny", ["large", "small"]), ("yolov8", ["p3", "p4", "p5"])):
        result = netc.export(ROOT / "specs" / f"{spec}.yaml", tmp_path / f"{spec}.onnx", input_shape=(3, 64, 64))
        assert list(result.outputs) == heads
        assert [o.name for o in session(tmp_path / f"{spec}.onnx").get_outputs()] == heads
        assert all(shape[0] == "batch" for shape in result.outputs.values())


def test_nodes_are_named_after_netc_layers(tmp_path):
    analysis = analyze_file(str(ROOT / "specs" / "resnet18.yaml"), input_shape=(3, 32, 32))
    export_onnx(analysis, str(tmp_path / "r.onnx"))
    nodes = {n.name: n for n in onnx.load(str(tmp_path / "r.onnx")).graph.node}
    # a layer that became one node is named as the layer; the batch norm after it is folded in
    assert nodes["stage1.basic1.conv1"].op_type == "Conv"
    assert nodes["stage2.basic1.shortcut"].op_type == "Conv"  # the projection's conv, inside its module
    assert nodes["stage1.basic1.add1"].op_type == "Add"  # no module of its own: found in its block's forward
    assert "module stage1.0.conv1" in nodes["stage1.basic1.conv1"].doc_string
    assert set(analysis.info) >= {name for name, n in nodes.items() if n.doc_string.startswith("netc layer")}


def test_the_dynamo_exporter_names_and_computes_the_same(tmp_path):
    analysis = analyze_file(str(ROOT / "specs" / "yolov3_tiny.yaml"), input_shape=(3, 32, 32))
    torch.manual_seed(0)
    module = build_module(analysis).eval()
    result = export_onnx(analysis, str(tmp_path / "y.onnx"), exporter="dynamo", module=module)
    assert result.exporter == "dynamo" and list(result.outputs) == ["large", "small"]
    model = onnx.load(str(tmp_path / "y.onnx"))
    onnx.checker.check_model(model)
    names = {n.name for n in model.graph.node}
    assert {"stage1.cbl1.conv1", "small.concat1", "large.conv1"} <= names
    x = torch.randn(3, 3, 32, 32)
    assert max_diff(session(tmp_path / "y.onnx").run(None, {"input": x.numpy()}), torch_outputs(module, x),
                    ["large", "small"]) <= TOLERANCE


def test_a_fixed_batch_and_an_opset(tmp_path, capsys):
    out = tmp_path / "r1.onnx"
    assert main(["export", str(ROOT / "specs" / "resnet18.yaml"), "--input", "3x32x32", "--batch", "1",
                 "--opset", "17", "-o", str(out)]) == 0
    assert f"wrote {out}: opset 17" in capsys.readouterr().out
    model = onnx.load(str(out))
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 32, 32]
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    run = session(out)
    assert run.run(None, {"input": np.zeros((1, 3, 32, 32), np.float32)})[0].shape == (1, 1000)
    with pytest.raises(Exception):  # noqa: B017 - onnxruntime's own error type for a wrong input shape
        run.run(None, {"input": np.zeros((2, 3, 32, 32), np.float32)})


def test_the_command_line_writes_the_file_and_the_same_file_twice(tmp_path, capsys):
    spec = str(ROOT / "specs" / "lenet5.yaml")
    first, second = tmp_path / "a.onnx", tmp_path / "b.onnx"
    assert main(["export", spec, "-o", str(first)]) == 0
    assert main(["export", spec, "-o", str(second)]) == 0
    out = capsys.readouterr().out
    assert "input input batch×1×32×32, output output batch×10" in out
    assert first.read_bytes() == second.read_bytes()  # seeded weights: one spec, one file
    assert not list(tmp_path.glob(".netc-*"))


def test_a_bad_spec_exits_1_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 32, 32]\nnetwork: conv(8, 3)-bogus\n")
    out = tmp_path / "m.onnx"
    assert main(["export", str(bad), "-o", str(out)]) == 1
    assert "bad.yaml:2:" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".netc-*"))
    out.write_bytes(b"old")  # an old file stays as it was
    assert main(["export", str(bad), "-o", str(out)]) == 1
    assert out.read_bytes() == b"old"


def test_an_exporter_error_is_one_message_not_a_traceback(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    code = main(["export", str(ROOT / "specs" / "lenet5.yaml"), "-o", str(out), "--exporter", "torchscript",
                 "--opset", "99"])
    err = capsys.readouterr().err
    assert code == 1 and "could not export this network" in err and "Traceback" not in err
    assert "graph(" not in err  # the exporter's dump of the traced graph is not shown
    assert not out.exists()


def test_without_onnx_a_one_line_message_and_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # importlib.util.find_spec("onnx") is then None
    out = tmp_path / "m.onnx"
    assert main(["export", str(ROOT / "specs" / "lenet5.yaml"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'netc[onnx]'" in err
    assert not out.exists()
    with pytest.raises(netc.UsageError, match=r"pip install 'netc\[onnx\]'"):
        netc.export(ROOT / "specs" / "lenet5.yaml", out)


ROI_SPEC = """\
name: roi_export
params: {R: 3}
input: {image: [3, 24, 24], rois: [R, 5]}
network: conv3-8-relu-maxpool - roialign(<rois>, 3, scale=1/2, sampling=2, aligned=true) - fc(6)
heads: {scores: identity}
"""


@pytest.mark.parametrize("exporter", ["torchscript", "dynamo"])
def test_named_inputs_are_named_onnx_inputs_with_their_own_first_axis(tmp_path, exporter):
    spec = tmp_path / "roi.yaml"
    spec.write_text(ROI_SPEC, encoding="utf-8")
    analysis = analyze_file(str(spec))
    torch.manual_seed(0)
    module = build_module(analysis).eval()
    result = export_onnx(analysis, str(tmp_path / "roi.onnx"), exporter=exporter, module=module)
    model = onnx.load(str(tmp_path / "roi.onnx"))
    dims = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
            for v in [*model.graph.input, *model.graph.output]}
    assert dims == {"image": ["batch", 3, 24, 24], "rois": ["rois_rows", 5], "scores": ["rois_rows", 6]}
    assert result.inputs == {"image": ["batch", 3, 24, 24], "rois": ["rois_rows", 5]}
    # Another batch and another number of boxes than the export's example: the same as torch.
    image = torch.randn(3, 3, 24, 24)
    rois = torch.tensor([[0, 0.0, 0, 23, 23], [2, 3, 1, 10, 20], [1, 5, 5, 9, 9], [2, 0, 12, 12, 23], [0, 1, 1, 2, 2]])
    got = session(tmp_path / "roi.onnx").run(None, {"image": image.numpy(), "rois": rois.numpy()})
    with torch.no_grad():
        want = module(image, rois)["scores"].numpy()
    assert got[0].shape == (5, 6) and float(np.abs(got[0] - want).max()) <= TOLERANCE


def test_a_roi_operator_that_loops_over_boxes_is_refused_at_its_place(tmp_path):
    spec = tmp_path / "pool.yaml"
    spec.write_text(ROI_SPEC.replace("roialign(<rois>, 3, scale=1/2, sampling=2, aligned=true)",
                                     "roipool(<rois>, 3, scale=1/2)"), encoding="utf-8")
    with pytest.raises(NetcError) as caught:
        export_onnx(analyze_file(str(spec)), str(tmp_path / "pool.onnx"))
    message = str(caught.value)
    assert "pool.yaml:4:" in message and "roipool1 cannot be exported to ONNX" in message
    assert not (tmp_path / "pool.onnx").exists()
