"""Estimated training memory: parameters, gradients, optimizer state and kept activations."""

from __future__ import annotations

from dataclasses import dataclass

from .infer import Analysis

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
# Extra values per parameter that each optimizer keeps: momentum 1 buffer, Adam 2 moments.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}


@dataclass(frozen=True)
class MemoryEstimate:
    batch: int
    dtype: str
    optimizer: str
    parameters: int  # bytes
    gradients: int
    optimizer_state: int
    activations: int  # outputs kept for backward, for the whole batch

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations


def estimate_memory(analysis: Analysis, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd") -> MemoryEstimate:
    size = DTYPE_BYTES[dtype]
    params = analysis.params * size
    return MemoryEstimate(
        batch=batch, dtype=dtype, optimizer=optimizer,
        parameters=params, gradients=params, optimizer_state=params * OPTIMIZER_STATES[optimizer],
        activations=batch * analysis.activations_stored * size,
    )


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"
