"""What every target shares: the interface the liveness pass asks, and the buffers that do not
depend on the backend (max pooling's argmax in inference, LRN's composed temporaries, the
contiguous copy a conv makes of a scattered view)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

from ...layers import KINDS
from ...layers.base import LayerKind
from ..annotated import Analysis

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
HALF = ("float16", "bfloat16")
INDEX_BYTES = 8  # int64: max pooling's argmax


def value_bytes(dtype: str) -> int:
    return DTYPE_BYTES[dtype]


def convolves(kind: LayerKind, weights: int) -> bool:
    """A layer that a backend runs as a convolution over a weight (conv, deconv, a projection
    shortcut): the layers whose kernels make copies and scratch buffers of their own."""
    return kind.convolution and weights > 0


def depthwise(groups: int, inputs) -> bool:
    return groups > 1 and groups == inputs[0][0]


@dataclass(frozen=True)
class Target(ABC):
    """A machine and backend the peaks are predicted for. `name` is what --target takes and the
    table prints; `threads` the CPU threads torch runs on (its kernel choices depend on them);
    `detected` whether it was read off this machine rather than named; `note` what the figure
    assumes, said in the table's header and the JSON."""

    name: str
    threads: int = 2
    detected: bool = False
    note: str = ""

    def describe(self) -> str:
        how = "detected" if self.detected else "named"
        return f"{self.name} ({how}; {self.summary()})" + (f"; {self.note}" if self.note else "")

    @abstractmethod
    def summary(self) -> str:
        """What this target's kernels are, in a few words (the table's header says it)."""

    def to_json(self) -> dict:
        return {"name": self.name, "threads": self.threads, "detected": self.detected, "summary": self.summary(),
                "note": self.note or None}

    # --- what the liveness pass asks (netc/analysis/liveness.py) -------------------------------------------
    def allocation(self, nbytes: int) -> int:
        """The bytes the allocator counts for a tensor of `nbytes` (CPU: exactly these)."""
        return nbytes

    def forward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, training: bool,
                          channels_last: bool = False) -> int:
        """Bytes a layer's kernel allocates and frees while it runs, beside its output."""
        return self.common_workspace(analysis, node_id, batch, dtype, training)

    def backward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, source_grads: bool,
                           channels_last: bool = False) -> int:
        """Bytes a layer's backward allocates and frees beside the gradients it keeps."""
        return 0

    def optimizer_temporaries(self, optimizer: str, largest_weight: int, trained: int) -> int:
        """Bytes optimizer.step makes and frees (of parameters' bytes: the largest weight, all trained)."""
        return 0

    def fixed_bytes(self, analysis: Analysis) -> int:
        """Bytes the backend holds once for the step (a library's workspace)."""
        return 0

    # --- shared by the targets -------------------------------------------------------------------
    def common_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, training: bool) -> int:
        node, layer = analysis.network.node(node_id), analysis.info[node_id]
        kind = KINDS[node.kind]
        size = value_bytes(dtype)
        extra = 0
        if convolves(kind, layer.weights) and node.data_inputs:
            extra += contiguous_copy(analysis, node.data_inputs[0], batch, size)
        if not training:
            saved = kind.saved(node.attrs, list(layer.inputs), layer.shape)
            extra += batch * saved.indices * INDEX_BYTES  # max pooling makes its argmax even when nothing keeps it
            if kind.composed_temporaries(saved):
                # LRN, composed of small ops: squares, padded, pooled, scaled, shifted, each a new
                # tensor; at most two beside the output at once.
                extra += 2 * batch * layer.activations * size
        return extra


def contiguous_copy(analysis: Analysis, source: str, batch: int, size: int) -> int:
    """Bytes of the contiguous copy a conv makes of its input when that is a view of scattered
    memory (some channels of each of several images)."""
    node, layer = analysis.network.node(source), analysis.info[source]
    if not node.inputs or layer.new_tensor:
        return 0
    if KINDS[node.kind].contiguous_view(node.attrs, list(layer.inputs), batch):
        return 0
    return batch * layer.activations * size
