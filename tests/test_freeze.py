"""`freeze:`: the frozen scopes' parameters are not trained, in the generated module (torch's
requires_grad), in the table (trainable and frozen counts) and in the memory estimate (no
gradients and no optimizer state for them, as torch allocates none after a backward pass)."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from netc import NetcError, build
from netc.analysis.memory import estimate_memory
from netc.analysis.pipeline import analyze_file
from netc.cli import main

SPEC = """\
input: [3, 16, 16]
params: {classes: 10}
freeze: [stem, stage1.res2]
blocks:
  res:
    args: [c]
    residual: conv(c, 3, bias=false)-bn-relu-conv(c, 3, bias=false)-bn
    after: relu
network: conv(8, 3)-bn-relu - [res(8)*2] - [res(16)*2] - globalavgpool-fc(classes)
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "frozen.yaml"
    path.write_text(SPEC)
    return str(path)


def test_the_frozen_scopes_parameters_do_not_train_and_the_counts_are_torchs(spec):
    analysis = analyze_file(spec)
    module = build(spec)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    assert frozen == analysis.frozen_params > 0
    assert analysis.trainable_params == sum(p.numel() for p in module.parameters() if p.requires_grad)
    # exactly the stem (conv1, bn1) and the second block of stage 1
    names = {n.rsplit(".", 1)[0] for n, p in module.named_parameters() if not p.requires_grad}
    assert names == {"conv1", "bn1", "stage1.1.conv1", "stage1.1.bn1", "stage1.1.conv2", "stage1.1.bn2"}
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    optimizer = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
    module(torch.randn(4, 3, 16, 16)).sum().backward()
    optimizer.step()
    for name, p in module.named_parameters():
        assert torch.equal(p, before[name]) == (not p.requires_grad), name
    grads = sum(p.grad.numel() for p in module.parameters() if p.grad is not None)
    memory = estimate_memory(analysis, optimizer="momentum")
    assert memory.gradients == 4 * grads  # torch keeps no gradient for a frozen parameter
    assert memory.optimizer_state == 4 * sum(s["momentum_buffer"].numel() for s in optimizer.state.values())


def test_the_table_shows_trainable_and_frozen(spec, capsys):
    assert main(["table", spec]) == 0
    analysis = analyze_file(spec)
    out = capsys.readouterr().out
    assert f"trainable {analysis.trainable_params:,}, frozen {analysis.frozen_params:,}" in out
    assert main(["table", spec, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["totals"]["frozen"] == analysis.frozen_params
    assert {r["name"] for r in doc["layers"] if r["frozen"]} >= {"conv1", "stage1.res2.conv1"}


def test_an_unknown_scope_is_an_error_at_its_place(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(SPEC.replace("stage1.res2", "stage1.res3"))
    with pytest.raises(NetcError) as caught:
        analyze_file(str(path))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.span.line == 3 and "stage1.res3" in diagnostic.message
