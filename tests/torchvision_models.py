"""torchvision's model definitions, imported beside the CPU build of torch.

The registry's torchvision wheel is built against the CUDA build of torch: beside the pinned CPU
wheel (torch==2.13.0+cpu) its C++ operators do not load, and `import torchvision` fails with
"operator torchvision::nms does not exist" (its Python code registers fake kernels for those
operators at import). The tests need only its pure-Python models, so the two operator schemas it
expects are declared first; no torchvision operator is ever run. The workaround lives in
netc/importer/torchvision_compat.py, for `netc import torchvision:NAME` needs it too; the rest of
netc never imports torchvision.
"""

from __future__ import annotations

from netc.importer.torchvision_compat import torchvision  # noqa: F401 - the tests' one way to torchvision


def children_first(state: dict) -> dict:
    """A state_dict with each module's own tensors after its submodules' (it lists them before).
    netc's generated modules keep every tensor in a leaf module, in forward order; torchvision's
    ConvNeXt block holds its layer scale itself, used after its `block` of layers. No other twin
    has a module with tensors of its own and submodules, so for them the order is unchanged."""

    def order(keys: list[str], prefix: str) -> list[str]:
        own = [k for k in keys if "." not in k[len(prefix):]]
        children: dict[str, list[str]] = {}
        for k in keys:
            if k not in own:
                children.setdefault(k[len(prefix):].split(".", 1)[0], []).append(k)
        return [k for child, inner in children.items() for k in order(inner, f"{prefix}{child}.")] + own

    return {k: state[k] for k in order(list(state), "")}


def load_by_structure(module, reference) -> None:
    """Copy `reference`'s state into `module`, entry for entry in registration order (each
    module's own tensors after its submodules', `children_first`): the two must hold the same
    tensors (shapes) in the same order, whatever their names. An nn.Linear weight (out, in) goes
    into a 1×1 conv's (out, in, 1, 1): torchvision's ConvNeXt applies its 1×1 layers as nn.Linear
    on a channels-last view, the same function as netc's 1×1 convs."""
    import torch

    ours, theirs = module.state_dict(), children_first(reference.state_dict())
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    with torch.no_grad():
        for (name, tensor), (other, value) in zip(ours.items(), theirs.items()):
            if value.dim() == 2 and tensor.shape == (*value.shape, 1, 1):
                value = value.reshape(tensor.shape)
            assert tensor.shape == value.shape, (name, other, tuple(tensor.shape), tuple(value.shape))
            tensor.copy_(value)
