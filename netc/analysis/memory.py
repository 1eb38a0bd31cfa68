"""Estimated training memory: parameters, gradients, optimizer state and kept activations.

What a training step keeps for backward is worked out as PyTorch's autograd keeps it: each layer
kind declares what its backward saves (`LayerKind.saved`: inputs, output, hidden tensors), and a
tensor is counted once however many layers save it. Layers that hand on their input (flatten,
identity shortcuts) and activations that run in place (as the generated code runs them) share
their input's tensor. tests/test_table.py checks the figure against torch's saved-tensor hooks. The peaks of a training
step and of an inference forward, by liveness, are netc/analysis/liveness.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..layers import KINDS
from .annotated import Analysis
from .liveness import (
    DTYPE_BYTES,
    HALF,
    INDEX_BYTES,
    OPTIMIZER_STATES,
    Peak,
    StoragePlan,
    TrainingPeak,
    copies_input,
    inference_peak,
    storage_plan,
    training_peak,
)
from .targets import Target, resolve_target

__all__ = ["DTYPE_BYTES", "HALF", "INDEX_BYTES", "OPTIMIZER_STATES", "KeptForBackward", "MemoryEstimate",
           "estimate_memory", "human_bytes", "kept_for_backward"]


@dataclass(frozen=True)
class KeptForBackward:
    values: int  # per image, in the model's dtype
    indices: int  # per image, int64 (max pooling's argmax)
    per_batch: int  # values kept once per batch, in the model's dtype (BN's statistics)

    def bytes(self, batch: int, dtype_bytes: int) -> int:
        return batch * (self.values * dtype_bytes + self.indices * INDEX_BYTES) + self.per_batch * dtype_bytes


@dataclass(frozen=True)
class MemoryEstimate:
    batch: int
    dtype: str
    optimizer: str
    parameters: int  # bytes
    gradients: int
    optimizer_state: int
    activations: int  # tensors kept for backward, for the whole batch
    kept: KeptForBackward
    # Peaks by liveness (netc/analysis/liveness.py): what one training step and one inference_mode forward
    # hold at their highest, and where.
    training: TrainingPeak | None = None
    inference: Peak | None = None
    amp: bool = False  # autocast: float32 parameters, gradients and state beside half activations
    target: Target | None = None  # what the peaks are for (netc/analysis/targets)

    @property
    def total(self) -> int:
        """Everything a step keeps at once if nothing were freed during backward: an upper bound
        (the training peak is the liveness figure)."""
        copies = self.training.weight_copies if self.training is not None else 0
        return self.parameters + self.gradients + self.optimizer_state + self.activations + copies


def kept_for_backward(analysis: Analysis, plan: StoragePlan | None = None) -> KeptForBackward:
    net, info = analysis.network, analysis.info
    plan = plan or storage_plan(analysis)  # views and in-place activations share their input's storage
    kept: set[str] = set()
    hidden = indices = per_batch = 0
    for node in net.nodes():
        kind = KINDS[node.kind]
        layer = info[node.id]
        saved = kind.saved(node.attrs, list(layer.inputs), layer.shape)
        if copies_input(kind, node.id, plan):  # the overwritten input is kept as a copy of its own
            saved = replace(saved, inputs=(), hidden=saved.hidden + sum(info[node.inputs[i]].activations for i in saved.inputs))
        kept |= {plan.owner[node.inputs[i]] for i in saved.inputs}
        if saved.output:
            kept.add(plan.owner[node.id])
        hidden += saved.hidden
        indices += saved.indices
        per_batch += saved.per_batch
    return KeptForBackward(sum(info[t].activations for t in kept) + hidden, indices, per_batch)


def estimate_memory(analysis: Analysis, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd",
                    amp: bool = False, target: Target | str = "cpu") -> MemoryEstimate:
    """`dtype` is the whole model's (model.to(dtype)) unless `amp`: then it is autocast's half dtype
    for activations, and parameters, gradients and optimizer state stay float32. `target`: what
    the peaks are for, a Target or its name (netc/analysis/targets; `cpu` is this machine)."""
    target = resolve_target(target) if isinstance(target, str) else target
    amp = amp and dtype in HALF
    size = DTYPE_BYTES[dtype]
    master = 4 if amp else size
    params = analysis.params * master
    trained = analysis.trainable_params * master  # frozen parameters get no gradient and no optimizer state
    plan = storage_plan(analysis)  # worked out once for the three figures
    kept = kept_for_backward(analysis, plan)
    return MemoryEstimate(
        batch=batch, dtype=dtype, optimizer=optimizer,
        parameters=params, gradients=trained, optimizer_state=trained * OPTIMIZER_STATES[optimizer],
        activations=kept.bytes(batch, size), kept=kept,
        training=training_peak(analysis, batch, dtype, optimizer, amp, plan, target),
        inference=inference_peak(analysis, batch, dtype, plan, target),
        amp=amp, target=target,
    )


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"
