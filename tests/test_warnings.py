"""Warnings a user wants to read: what is shown by default, with --pedantic, with -q; unused
blocks; --input and params in `input:`. Numbers are checked against torch where there are any."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from torch import nn

import netc

ROOT = Path(__file__).resolve().parents[1]


def netc_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_padding_only_remainder_is_silent_by_default_and_shown_with_pedantic():
    """ResNet-50's stem conv, stem pool and stride-2 3×3 convs leave one padding row unread; the
    1×1 stride-2 projections skip a real row that their block's body reads. None loses input."""
    quiet = netc_cli("check", "specs/resnet50.yaml")
    assert quiet.returncode == 0 and quiet.stderr == ""
    loud = netc_cli("check", "specs/resnet50.yaml", "--pedantic")
    assert loud.returncode == 0
    assert loud.stderr.count("warning:") == 6  # conv1, pool1, stage 2's 3×3 (its words serve stages 3, 4), 3 projections
    assert "(no input is lost)" in loud.stderr and "another layer reads them" in loud.stderr
    strict = netc_cli("check", "specs/resnet50.yaml", "--pedantic", "--strict")
    assert strict.returncode == 1 and "error: conv 7×7 stride 2 doesn't fit" in strict.stderr


def test_quiet_silences_warnings_and_strict_still_fails_on_them(tmp_path):
    spec = write(tmp_path, "input: [3, 10, 10]\nnetwork: conv(8, 3, stride=2, padding=0)-fc(4)\n")
    loud = netc_cli("check", str(spec))
    assert loud.returncode == 0 and "warning: conv 3×3 stride 2 doesn't fit" in loud.stderr
    quiet = netc_cli("check", str(spec), "-q")
    assert quiet.returncode == 0 and quiet.stderr == "" and "ok" in quiet.stdout
    assert netc_cli("check", str(spec), "--quiet", "--strict").returncode == 1


def test_an_unused_block_is_checked_and_warned_about(tmp_path):
    used = "input: [3, 8, 8]\nblocks:\n  spare: conv3-8-rleu\nnetwork: fc(10)\n"
    done = netc_cli("check", str(write(tmp_path, used)))
    assert done.returncode == 1 and f"{tmp_path / 'spec.yaml'}:3:18: error: unknown layer or block 'rleu'" in done.stderr
    fine = "input: [3, 8, 8]\nblocks:\n  spare: {args: [c], body: 'conv(c, 3, strid=2)'}\nnetwork: fc(10)\n"
    done = netc_cli("check", str(write(tmp_path, fine)))
    assert done.returncode == 1 and "has no argument 'strid'" in done.stderr
    unused = "input: [3, 8, 8]\nblocks:\n  spare: {args: [c], body: 'conv(c, 3)-relu'}\nnetwork: fc(10)\n"
    done = netc_cli("check", str(write(tmp_path, unused)))
    assert done.returncode == 0 and ":3:3: warning: block 'spare' is defined but never used" in done.stderr


def test_input_on_the_command_line_replaces_the_specs_input(tmp_path):
    """One spec at several resolutions: the same convs, a larger map (torch agrees on the shape)."""
    spec = write(tmp_path, "input: [3, 32, 32]\nnetwork: conv(8, 3)-relu-maxpool-conv(4, 1)\n")
    done = netc_cli("check", str(spec), "--input", "3x64x48")
    assert done.returncode == 0, done.stderr
    torch_net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 4, 1))
    assert "output 4×32×24" in done.stdout
    assert tuple(torch_net(torch.randn(1, 3, 64, 48)).shape[1:]) == (4, 32, 24)


def test_input_may_name_params_and_follows_overrides(tmp_path):
    spec = write(tmp_path, "input: [3, S, S]\nparams: {S: 32}\nnetwork: conv(8, 3)-maxpool-fc(10)\n")
    for size in (32, 64):
        model = netc.build(str(spec), S=size)
        assert tuple(model(torch.randn(2, 3, size, size)).shape) == (2, 10)
        fc = [m for m in model.modules() if isinstance(m, nn.Linear)][0]
        assert fc.in_features == 8 * (size // 2) ** 2
    done = netc_cli("check", str(write(tmp_path, "input: [3, T, 8]\nnetwork: relu\n")))
    assert done.returncode == 1 and ":1:12: error: input size 'T' is not a param" in done.stderr


def test_a_pathlib_path_is_a_spec_path_too(tmp_path):
    spec = write(tmp_path, "input: [3, 8, 8]\nnetwork: conv(4, 3)-fc(5)\n")
    model = netc.build(spec)
    assert sum(p.numel() for p in model.parameters()) == sum(
        p.numel() for p in nn.Sequential(nn.Conv2d(3, 4, 3), nn.Linear(4 * 8 * 8, 5)).parameters())
