"""torchvision imported beside the CPU build of torch.

The registry's torchvision wheel is built against the CUDA build of torch: beside the pinned CPU
wheel (torch==2.13.0+cpu) its C++ operators do not load, and `import torchvision` fails with
"operator torchvision::nms does not exist" (its Python code registers fake kernels for those
operators at import). `netc import torchvision:NAME` and the tests need only its pure-Python model
definitions, so where the plain import fails the two operator schemas it expects are declared
first; no torchvision operator is ever run. Only `netc import` (and the tests' references) import
torchvision; the rest of netc never does.
"""

from __future__ import annotations

import functools

_DECLARED: list = []  # the Library that declares the schemas must outlive the import


@functools.lru_cache(maxsize=1)
def torchvision():
    """The torchvision module; raises ImportError when it is not installed."""
    import torch

    try:
        import torchvision as tv

        return tv
    except RuntimeError:  # the operators of the CUDA build are missing
        pass
    library = torch.library.Library("torchvision", "DEF")  # kept alive by _DECLARED
    library.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    library.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
    _DECLARED.append(library)
    import torchvision as tv

    return tv
