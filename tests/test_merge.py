"""Merges chosen by a block (`merge:`): concat, add and mul, each checked against torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torch_measures import saved_bytes

from netc.analysis.memory import estimate_memory
from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import build_module, generate

ROOT = Path(__file__).resolve().parents[1]

SE = """\
name: se_net
input: [16, 8, 8]
blocks:
  se:
    args: [c, r]
    residual: globalavgpool-conv(c // r, 1)-relu-conv(c, 1)-sigmoid
    shortcut: identity
    merge: mul
network: conv(32, 3)-relu-se(32, 4)-conv(16, 3)-se(16, 4)-globalavgpool-flatten-fc(10)
"""


class SqueezeExcite(nn.Module):
    """Hu et al.'s squeeze-and-excitation, written by hand: x times a per-channel gate."""

    def __init__(self, c: int, r: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // r, 1), nn.ReLU(),
                                  nn.Conv2d(c // r, c, 1), nn.Sigmoid())

    def forward(self, x):
        return x * self.gate(x)


def reference() -> nn.Module:
    return nn.Sequential(nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), SqueezeExcite(32, 4), nn.Conv2d(32, 16, 3, padding=1),
                         SqueezeExcite(16, 4), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_squeeze_excitation_is_a_generic_class_equal_to_a_hand_written_one(tmp_path):
    analysis = analyze_file(str(write(tmp_path, SE)))
    generated = generate(analysis)
    assert "class Se(nn.Module)" in generated.source and "a residual block (generic)" in generated.source
    model, hand = build_module(analysis), reference()
    assert analysis.params == sum(p.numel() for p in hand.parameters()) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():  # the same weights, in the same order
        for mine, theirs in zip(model.parameters(), hand.parameters(), strict=True):
            mine.copy_(theirs)
    x = torch.randn(3, 16, 8, 8)
    torch.testing.assert_close(model(x), hand(x))
    with FlopCounterMode(display=False) as counter:
        hand(x[:1])
    assert analysis.flops == counter.get_total_flops()


def test_mul_keeps_for_backward_what_torch_keeps(tmp_path):
    analysis = analyze_file(str(write(tmp_path, SE)))
    model = build_module(analysis).train()
    x = torch.randn(2, 16, 8, 8)
    assert estimate_memory(analysis, batch=2, dtype="float32").activations == saved_bytes(model, x)


def test_add_merges_parallel_branches_as_a_sum(tmp_path):
    spec = """\
input: [4, 8, 8]
blocks:
  pair:
    parallel: ["conv(6, 1)", "conv(6, 3)"]
    merge: add
network: pair
"""
    analysis = analyze_file(str(write(tmp_path, spec)))
    model = build_module(analysis)
    one, three = (m for m in model.modules() if isinstance(m, nn.Conv2d))
    x = torch.randn(2, 4, 8, 8)
    torch.testing.assert_close(model(x), one(x) + three(x))
    assert analysis[analysis.network.order[-1]].shape == (6, 8, 8)


def check(path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "netc", "check", str(path)], env=env, capture_output=True, text=True,
                          check=False)


@pytest.mark.parametrize("block,message,line", [
    ("{parallel: ['conv(8, 1)', maxpool], merge: mul}", "mul of 8×4×4 and 3×2×2", 4),  # at the call, as shapes are
    ("{parallel: ['conv(8, 1)', 'conv(8, 1)'], merge: concta}", "unknown merge 'concta'", 3),
    ("{body: 'conv(8, 1)', merge: add}", "merge belongs to a parallel or residual block", 3),
])
def test_bad_merges_are_errors_at_their_place(tmp_path, block, message, line):
    with pytest.raises(RuntimeError):  # torch refuses the first one too
        torch.randn(1, 8, 4, 4) * torch.randn(1, 3, 2, 2)
    done = check(write(tmp_path, f"input: [3, 4, 4]\nblocks:\n  b: {block}\nnetwork: b\n"))
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert done.stderr.startswith(f"{tmp_path / 'spec.yaml'}:{line}:")
