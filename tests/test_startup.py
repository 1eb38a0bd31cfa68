"""What a command imports (issue 26): `netc --version` answers from argparse alone, and the analysis
path never imports the code generator, the drawing or torch. Checked in a fresh interpreter's
sys.modules, not timed (benchmarks/table_speed.py --startup times them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the installed entry point (pyproject's `netc = "netc.__main__:run"`) and lists what it loaded.
_PROBE = """\
import json, sys
sys.argv = ["netc", *json.loads(sys.argv[1])]
from netc.__main__ import run
try:
    code = run()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _imported(*args: str) -> tuple[int, set[str], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(args))], cwd=ROOT, capture_output=True,
                          text=True, check=False, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    last = json.loads(done.stdout.strip().splitlines()[-1])
    return last["code"], set(last["modules"]), done.stdout


def _packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules} | {name for name in modules if name.startswith("netc.")}


def test_version_imports_only_the_version():
    code, modules, out = _imported("--version")
    assert code == 0 and out.startswith("netc 0.1.0\n")
    loaded = _packages(modules)
    for unneeded in ("lark", "yaml", "logging", "torch", "netc.graph.expand", "netc.graph.expander", "netc.layers", "netc.frontend.parse",
                     "netc.frontend.program", "netc.training", "netc.backends.codegen", "netc.analysis.infer", "netc.backends.fileio"):
        assert unneeded not in loaded, unneeded
    assert {name for name in modules if name.startswith("netc")} == {"netc", "netc.__main__", "netc.version"}


def test_the_command_line_itself_imports_no_front_end_for_version():
    # `netc.cli.main(["--version"])` (in-process callers, and `netc -q --version` forms) goes through
    # argparse: building the whole command line must not import the front end either.
    code, modules, out = _imported("-h")
    assert code == 0 and "check" in out and "netc.cli" in modules
    loaded = _packages(modules)
    for unneeded in ("lark", "yaml", "torch", "netc.graph.expand", "netc.layers", "netc.frontend.program", "netc.training",
                     "netc.backends.codegen", "netc.backends.fileio"):
        assert unneeded not in loaded, unneeded


def test_check_of_an_expression_imports_the_analysis_path_only():
    code, modules, out = _imported("check", "-e", "relu", "--input", "3x8x8")
    assert code == 0 and "1 layer, 0 params" in out
    loaded = _packages(modules)
    assert {"lark", "netc.frontend.parse", "netc.graph.expand", "netc.analysis.infer"} <= loaded  # it did check the expression
    for unneeded in ("torch", "networkx", "graphviz", "netc.backends.codegen", "netc.backends.drawing", "netc.analysis.table", "netc.analysis.memory",
                     "netc.training.options", "netc.training.run", "netc.backends.onnx_export", "netc.importer", "netc.transfer"):
        assert unneeded not in loaded, unneeded


def test_train_options_are_still_parsed_when_asked_for():
    code, modules, out = _imported("train", "--help")
    assert code == 0 and "--epochs" in out and "netc.training.options" in modules
