"""What torch itself keeps for backward: the independent truth for netc's memory figures."""

from __future__ import annotations


def saved_bytes(module, *inputs) -> int:
    """Bytes of every tensor autograd keeps for backward in one forward of `module` (each storage
    once), parameters and buffers (running statistics) aside: what a training step holds between
    forward and backward."""
    import torch

    state = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    kept: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(*inputs)
    return sum(kept.values())
