"""A CUDA GPU through PyTorch's caching allocator, as `torch.cuda.max_memory_allocated` counts it.

- Every tensor takes a block rounded up to 512 bytes (the allocator's smallest unit).
- Convolutions run in cuDNN on the tensors as they are: no blocked copies, no im2col buffer.
  cuDNN's and cuBLAS's workspaces are not counted (assumed 0): with cudnn.benchmark off torch
  takes the heuristic's algorithm, whose workspace varies by GPU and library version.
- Optimizers run as foreach kernels (CUDA's default): Adam's sqrt(v) is one temporary as large as
  all the trained parameters; SGD and momentum update in place.
- Not modelled: the segments the allocator reserves from the driver (2 MB for allocations up to
  1 MB, 20 MB for those up to 10 MB, larger ones rounded to 2 MB), which make
  `max_memory_reserved` larger than this figure, and the CUDA context itself.

Unverified until benchmarks/gpu_check.py has been run on a GPU (see its RESULTS file)."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Target

BLOCK = 512  # bytes: the caching allocator's rounding (kMinBlockSize)


@dataclass(frozen=True)
class Cuda(Target):
    note: str = "unverified on a GPU; cuDNN/cuBLAS workspaces not counted"

    def summary(self) -> str:
        return "CUDA caching allocator, 512 B blocks, cuDNN"

    def allocation(self, nbytes: int) -> int:
        return -(-nbytes // BLOCK) * BLOCK

    def optimizer_temporaries(self, optimizer: str, largest_weight: int, trained: int) -> int:
        return trained if optimizer == "adam" else 0
