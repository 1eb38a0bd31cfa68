"""The Python API (issue 14, part 3): the README's "Python and notebooks" section lists it, and
`netc.__all__` is exactly that list; each name has a docstring and type hints, and each does briefly
what the README says. Only the documented names are imported."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
from test_train import TINY  # the same tiny classifier the training tests use

import netc
from netc import (
    NetcError,
    UsageError,
    __version__,
    analyze,
    build,
    compile_source,
    export,
    import_module,
    port,
    render,
    train,
)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def documented() -> dict[str, tuple[str, str]]:
    """The API table of the README's "Python and notebooks": name → (what it does, example)."""
    section = re.search(r"^## Python and notebooks\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert section, "README has no 'Python and notebooks' section"
    rows = re.findall(r"^\| `([A-Za-z_]\w*)[^`]*` \| (.+?) \| (.+?) \|$", section.group(1), re.MULTILINE)
    return {name: (what, example) for name, what, example in rows}


FUNCTIONS = (analyze, build, compile_source, render, train, port, export, import_module)


def test_all_is_exactly_the_readmes_list():
    names = documented()
    assert len(names) >= 9
    assert sorted(netc.__all__) == sorted(names)
    assert len(set(netc.__all__)) == len(netc.__all__)
    assert {f.__name__ for f in FUNCTIONS} | {"NetcError", "UsageError", "__version__"} == set(names)


def test_each_has_a_docstring_type_hints_and_an_example():
    for name, (what, example) in documented().items():
        assert what.strip() and example.strip().startswith("`"), name
        value = getattr(netc, name)
        if name == "__version__":
            assert value is __version__ and isinstance(value, str) and re.fullmatch(r"\d+\.\d+(\.\d+)?\S*", value)
            continue
        assert inspect.getdoc(value) and len(inspect.getdoc(value)) > 40, name
        if isinstance(value, type):
            assert issubclass(value, Exception), name
            continue
        signature = inspect.signature(value)
        assert signature.return_annotation is not inspect.Signature.empty, f"{name}: no return type"
        for parameter in signature.parameters.values():
            assert parameter.annotation is not inspect.Parameter.empty, f"{name}({parameter.name}): no type hint"
        doc = inspect.getdoc(value)
        assert "NetcError" in doc or "UsageError" in doc, f"{name}'s docstring does not say what it raises"


def test_the_analyze_example_holds():
    _, example = documented()["analyze"]
    code, expected = re.fullmatch(r"`(.*?)\s*# (\S+)`", example).groups()
    assert str(eval(code.replace("specs/", str(ROOT / "specs") + "/"), {"netc": netc})) == expected


def test_names_are_stable_after_the_training_package_loads():
    import netc.cli
    import netc.training.options  # the package is netc.training: nothing is set over the function netc.train

    netc.cli.build_parser()
    assert netc.train is train and callable(netc.train) and inspect.isfunction(netc.train)


# --- each does what it says -----------------------------------------------------------------------------
@pytest.fixture
def tiny(tmp_path: Path) -> str:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_analyze_and_its_errors(tiny, tmp_path):
    analysis = analyze(tiny)
    assert analysis.params == (8 * 9 + 8) + (8 * 4 * 4 * 32 + 32) + (32 * 10 + 10)
    assert analysis.output_shapes() == {"output": (10,)}
    assert analyze(tiny, classes=5).output_shapes() == {"output": (5,)}
    assert analyze(Path(tiny))["fc1"].shape == (32,)
    with pytest.raises(UsageError, match="no param"):
        analyze(tiny, width=3)
    with pytest.raises(UsageError, match="cannot read"):
        analyze(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("input: [1, 8, 8]\nnetwork: conv(8, 3)-bogus\n")
    with pytest.raises(NetcError) as info:
        analyze(broken)
    assert "broken.yaml:2:" in str(info.value) and info.value.diagnostics


def test_compile_source_is_python_with_the_network_class(tiny):
    source = compile_source(tiny)
    tree = ast.parse(source)
    assert any(isinstance(node, ast.ClassDef) for node in tree.body)
    assert compile_source(tiny) == source


def test_render_is_a_digraph_and_checks_its_options(tiny):
    graph = render(tiny, depth=0, rankdir="LR")
    assert graph.source.startswith("digraph") and "rankdir=LR" in graph.source
    for bad in ({"rankdir": "up"}, {"depth": -1}, {"depth": "1"}):
        with pytest.raises(UsageError):
            render(tiny, **bad)


def test_build_and_port(tiny, tmp_path):
    torch = pytest.importorskip("torch")
    module = build(tiny)
    assert isinstance(module, torch.nn.Module)
    assert sum(p.numel() for p in module.parameters()) == analyze(tiny).params
    with pytest.raises(NetcError):
        build(tiny, max_params=10)
    checkpoint = tmp_path / "tiny.pth"
    torch.save(module.state_dict(), checkpoint)
    ported = port(tiny, checkpoint)
    assert ported.state_dict.keys() == module.state_dict().keys()
    assert all(torch.equal(ported.state_dict[k], v) for k, v in module.state_dict().items())


def test_train_checks_its_arguments(tiny, tmp_path):
    runs = str(tmp_path / "runs")
    with pytest.raises(UsageError, match="needs data"):
        train(tiny, runs=runs)
    with pytest.raises(UsageError, match="unknown option 'learning_rate'.*lr"):
        train(tiny, data="digits", learning_rate=0.1, runs=runs)
    with pytest.raises(UsageError, match="epochs"):
        train(tiny, data="digits", epochs=0, runs=runs)
    with pytest.raises(UsageError, match="optimizer"):
        train(tiny, data="digits", optimizer="lion", runs=runs)
    with pytest.raises(UsageError, match="device"):
        train(tiny, data="digits", device="tpu", runs=runs)
    assert not (tmp_path / "runs").exists()


def test_train_one_epoch_on_digits(tiny, tmp_path, capsys):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared machine: one thread is faster here than two contending
    try:
        run = train(tiny, data="digits", epochs=1, runs=str(tmp_path / "runs"), optimizer="adam", lr=0.01)
        again = train(tiny, data="digits", epochs=1, runs=str(tmp_path / "runs"), batch=128)
    finally:
        torch.set_num_threads(before)
    assert Path(run) == tmp_path / "runs" / "Tiny" and Path(again) == tmp_path / "runs" / "Tiny-2"
    for directory in (run, again):
        written = {p.name for p in Path(directory).iterdir()}
        assert {"config.json", "model.py", "best.pth", "last.pt", "metrics.csv"} <= written
    assert "epoch 1/1" in capsys.readouterr().out
