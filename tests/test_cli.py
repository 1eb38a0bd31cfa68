"""The command line: `python -m netc`, exit codes 0/1/2, --strict, and no torch on the analysis path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOES_NOT_FIT = "conv(1, 3, stride=3, padding=0)"  # notes 001: 3x3 on 7x7 at stride 3, "doesn't fit!"


def netc(*args: str, python: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *python, "-m", "netc", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)


def test_no_arguments_is_a_usage_error():
    done = netc()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: netc")
    assert done.stdout == ""


def test_help_exits_0():
    done = netc("--help")
    assert done.returncode == 0
    for command in ("check", "table", "compile", "render"):
        assert command in done.stdout


def test_version_is_the_package_version():
    """What pip recorded when it installed netc (setuptools reads netc/version.py for pyproject.toml)."""
    from importlib.metadata import version

    done = netc("--version")
    assert done.returncode == 0 and done.stdout == f"netc {version('netc')}\n"


def test_check_a_valid_spec_exits_0_with_one_summary_line():
    done = netc("check", "specs/vgg16.yaml")
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    assert line.startswith("VGG16: ok")
    assert "138,357,544 params" in line
    assert done.stderr == ""


def test_spec_error_exits_1(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3, 32, 32]\nnetwork: conv3-64-frob\n")
    for command in ("check", "table"):
        done = netc(command, str(spec))
        assert done.returncode == 1
        assert done.stderr.startswith(f"{spec}:2:19: error: unknown layer or block 'frob'")
        assert done.stdout == ""


@pytest.mark.parametrize("args", [
    ("frob",),
    ("table", "specs/vgg16.yaml", "--format", "xml"),
    ("table", "specs/vgg16.yaml", "--batch", "0"),
    ("table", "specs/vgg16.yaml", "--dtype", "int7"),
    ("check", "specs/vgg16.yaml", "-D", "no-equals-sign"),
    ("check", "specs/vgg16.yaml", "-D", "X=1"),  # the spec declares no param X
    ("check", "-e", "conv3-8"),  # -e needs --input
    ("check", "-e", "conv3-8", "--input", "3by32"),
    ("check", "specs/vgg16.yaml", "-e", "conv3-8", "--input", "3x8x8"),  # both
    ("check",),  # neither
], ids=lambda a: " ".join(a))
def test_usage_errors_exit_2(args):
    done = netc(*args)
    assert done.returncode == 2, done.stderr
    assert "error" in done.stderr
    assert done.stdout == ""


def test_doesnt_fit_is_a_warning_and_exit_0():
    done = netc("check", "-e", DOES_NOT_FIT, "--input", "1x7x7")
    assert done.returncode == 0
    assert "warning: conv 3×3 stride 3 doesn't fit" in done.stderr
    assert done.stdout.startswith("net: ok")


def test_strict_turns_the_warning_into_exit_1():
    for command in ("check", "table"):
        done = netc(command, "-e", DOES_NOT_FIT, "--input", "1x7x7", "--strict")
        assert done.returncode == 1
        assert "error: conv 3×3 stride 3 doesn't fit" in done.stderr
        assert done.stdout == ""


def test_strict_passes_a_clean_spec():
    assert netc("check", "specs/vgg16.yaml", "--strict").returncode == 0


def test_warnings_carry_the_spec_position(tmp_path):
    spec = tmp_path / "w.yaml"
    spec.write_text("input: [1, 7, 7]\nnetwork: relu - conv(1, 3, stride=3, padding=0)\n")
    done = netc("check", str(spec))
    assert done.returncode == 0
    assert done.stderr.startswith(f"{spec}:2:17: warning: ")


def test_a_block_used_many_times_warns_once_and_names_the_other_layers(tmp_path):
    spec = tmp_path / "w.yaml"
    spec.write_text("input: [1, 46, 46]\nblocks:\n  down: conv(1, 3, stride=3, padding=0)-relu\n"
                    "network: down - conv(1, 1) - down - down\n")  # 46 → 15 → 5 → 1: 46 and 5 do not fit
    done = netc("check", str(spec))
    assert done.returncode == 0
    assert done.stderr.count("warning:") == 1 and f"{spec}:3:9: warning: conv 3×3 stride 3 doesn't fit" in done.stderr
    assert "(46 − 3 + 2·0)/3" in done.stderr and "(at down1.conv1)" in done.stderr
    assert done.stderr.rstrip().endswith("note: the same words warn again at down3.conv1")
    strict = netc("check", str(spec), "--strict")  # as errors, each is its own
    assert strict.returncode == 1 and strict.stderr.count("error:") == 2
    doc = json.loads(netc("table", str(spec), "--format", "json").stdout)
    assert [m.rsplit("(at ", 1)[1] for m in doc["warnings"]] == ["down1.conv1)", "down3.conv1)"]


def _imported(stderr: str) -> set[str]:
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.mark.parametrize("command", ["table", "check"])
def test_analysis_never_imports_torch(command):
    done = netc(command, "specs/resnet50.yaml", python=("-X", "importtime"))
    assert done.returncode == 0
    modules = _imported(done.stderr)
    assert "netc.analysis" in modules  # the list is real
    assert "torch" not in modules
    assert not any(m.startswith("torch.") for m in modules)
    assert "networkx" not in modules  # built lazily, for rendering only


def test_module_and_console_entry_point_agree():
    from netc.cli import main

    assert callable(main)
    done = netc("table", "-e", "conv3-8-relu", "--input", "3x8x8", "--format", "csv")
    assert done.returncode == 0
    assert done.stdout.splitlines()[0].startswith("name,kind,")


def test_a_wheel_carries_the_grammar_where_an_installed_netc_reads_it(tmp_path):
    """`pip install .` (not editable) has no checkout beside the package: the grammar travels as
    data-files to <prefix>/share/netc, where netc.frontend.parse looks when grammar/ is not beside it."""
    import shutil
    import zipfile

    source = tmp_path / "src"  # a copy, so the build leaves nothing in the checkout
    shutil.copytree(ROOT / "netc", source / "netc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "grammar", source / "grammar")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(tmp_path), str(source)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("netc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    (grammar,) = [n for n in names if n.endswith("/data/share/netc/netc.lark")]
    assert zipfile.ZipFile(wheel).read(grammar) == (ROOT / "grammar" / "netc.lark").read_bytes()
    probe = ("import sys, pathlib; pathlib.Path.is_file = lambda self: False; import netc.frontend.parse as p; "
             "print(p.GRAMMAR_PATH == pathlib.Path(sys.prefix) / 'share' / 'netc' / 'netc.lark')")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shown = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert shown.stdout.strip() == "True", shown.stderr
