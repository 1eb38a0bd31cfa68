"""Estimated training memory: parameters, gradients, optimizer state and kept activations.

What a training step keeps for backward is worked out as PyTorch's autograd keeps it: each layer
kind declares what its backward saves (`LayerKind.saved`: inputs, output, hidden tensors), and a
tensor is counted once however many layers save it. Layers that hand on their input (flatten,
identity shortcuts) and activations that run in place (as the generated code runs them) share
their input's tensor. tests/test_table.py checks the figure against torch's saved-tensor hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

from .annotated import Analysis
from .ir import ScopeKind
from .layers import KINDS

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8}
# Extra values per parameter that each optimizer keeps: momentum 1 buffer, Adam 2 moments.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}
INDEX_BYTES = 8  # int64


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

    @property
    def total(self) -> int:
        return self.parameters + self.gradients + self.optimizer_state + self.activations


def kept_for_backward(analysis: Analysis) -> KeptForBackward:
    net, info = analysis.network, analysis.info
    readers: dict[str, int] = {}
    for node in net.nodes():
        for source in node.data_inputs:
            readers[source] = readers.get(source, 0) + 1
    pinned = {node_id for _, node_id in net.outputs}
    pinned |= {scope.entry for scope in net.scopes.values() if scope.kind == ScopeKind.HEAD and scope.entry}

    tensor: dict[str, str] = {}  # node id → id of the node that made the tensor it outputs
    in_place: set[str] = set()
    kept: set[str] = set()
    hidden = indices = per_batch = 0
    for node in net.nodes():
        kind = KINDS[node.kind]
        data = node.data_inputs
        if not info[node.id].new_tensor:  # a view of its input, or the input itself
            tensor[node.id] = tensor[node.inputs[0]]
        elif len(data) == 1 and kind.runs_in_place(node.attrs) and _overwritable(data[0], node, net, info, readers, pinned, in_place):
            tensor[node.id] = tensor[data[0]]
            in_place.add(node.id)
        else:
            tensor[node.id] = node.id
        layer = info[node.id]
        saved = kind.saved(node.attrs, list(layer.inputs), layer.shape)
        kept |= {tensor[node.inputs[i]] for i in saved.inputs}
        if saved.output:
            kept.add(tensor[node.id])
        hidden += saved.hidden
        indices += saved.indices
        per_batch += saved.per_batch
    return KeptForBackward(sum(info[t].activations for t in kept) + hidden, indices, per_batch)


def _overwritable(source: str, reader, net, info, readers, pinned, in_place) -> bool:
    """Whether an activation reading `source` may overwrite it, by the code generator's rule: the
    tensor's only reader is this layer, it is nobody's output, its kind's backward does not read
    it, and it was made in the same scope (a block class never overwrites its input)."""
    chain = [source]
    while not info[chain[-1]].new_tensor:
        chain.append(net.node(chain[-1]).inputs[0])
    owner = net.node(chain[-1])
    return (
        all(readers.get(n, 0) == 1 and n not in pinned for n in chain)
        and owner.inputs != () and owner.id not in in_place and owner.scope == reader.scope
        and KINDS[owner.kind].overwritable
    )


def estimate_memory(analysis: Analysis, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd") -> MemoryEstimate:
    size = DTYPE_BYTES[dtype]
    params = analysis.params * size
    kept = kept_for_backward(analysis)
    return MemoryEstimate(
        batch=batch, dtype=dtype, optimizer=optimizer,
        parameters=params, gradients=params, optimizer_state=params * OPTIMIZER_STATES[optimizer],
        activations=kept.bytes(batch, size), kept=kept,
    )


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} B"
