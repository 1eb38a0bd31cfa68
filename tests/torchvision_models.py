"""torchvision's model definitions, imported beside the CPU build of torch.

The registry's torchvision wheel is built against the CUDA build of torch: beside the pinned CPU
wheel (torch==2.13.0+cpu) its C++ operators do not load, and `import torchvision` fails with
"operator torchvision::nms does not exist" (its Python code registers fake kernels for those
operators at import). The tests need only its pure-Python models, so the two operator schemas it
expects are declared first; no torchvision operator is ever run. A workaround for test references
only: netc itself never imports torchvision.
"""

from __future__ import annotations

import functools

_DECLARED: list = []  # the Library that declares the schemas must outlive the import

@functools.lru_cache(maxsize=1)
def torchvision():
    import torch

    try:
        import torchvision as tv

        return tv
    except RuntimeError:  # the operators of the CUDA build are missing
        pass
    library = torch.library.Library("torchvision", "DEF")  # kept alive by the cache
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    _DECLARED.append(library)
    import torchvision as tv

    return tv


def load_by_structure(module, reference) -> None:
    """Copy `reference`'s state into `module`, entry for entry in registration order: the two
    must hold the same tensors (shapes) in the same order, whatever their names."""
    import torch

    ours, theirs = module.state_dict(), reference.state_dict()
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    with torch.no_grad():
        for (name, tensor), (other, value) in zip(ours.items(), theirs.items()):
            assert tensor.shape == value.shape, (name, other, tuple(tensor.shape), tuple(value.shape))
            tensor.copy_(value)
