"""Targets: the machine and backend a memory peak is predicted for (`netc table --target`).

Takes a target's name (or `cpu`, read off this machine) and gives a `Target`, which the liveness
pass (netc/analysis/liveness.py) asks what its kernels allocate beside the tensors: oneDNN's blocked copies
and reduction buffers, torch's im2col buffers, the CUDA allocator's rounding. The pass itself is the
same for every target; a new target is one module here and one line in TARGETS.

    cpu          this machine, detected: its ISA (ONEDNN_MAX_CPU_ISA lowers it, as for oneDNN), the
                 threads torch will use (OMP_NUM_THREADS, else the CPUs this process may run on)
    cpu-avx512   oneDNN on AVX-512 (16-channel blocks)
    cpu-avx2     oneDNN on AVX2 (8-channel blocks)
    cpu-native   torch's own kernels, oneDNN disabled (torch.backends.mkldnn.enabled = False)
    cuda         a GPU through PyTorch's caching allocator (unverified)

Never imports torch: detection reads /proc/cpuinfo and the environment.
"""

from __future__ import annotations

import os

from .base import Target
from .cuda import Cuda
from .native import NativeCpu
from .onednn import OneDnnAvx2, OneDnnCpu

__all__ = ["NAMES", "Target", "UnknownTarget", "detect_cpu", "resolve_target"]

NAMES = ("cpu", "cpu-avx512", "cpu-avx2", "cpu-native", "cuda")


class UnknownTarget(ValueError):
    pass


def resolve_target(name: str = "cpu", threads: int | None = None) -> Target:
    """The target called `name`; `threads` overrides the detected or default thread count."""
    count = threads or detect_threads()
    if name == "cpu":
        return detect_cpu(threads)
    if name == "cpu-avx512":
        return OneDnnCpu("cpu-avx512", count, block=16)
    if name == "cpu-avx2":
        return OneDnnAvx2("cpu-avx2", count)
    if name == "cpu-native":
        return NativeCpu("cpu-native", count)
    if name == "cuda":
        return Cuda("cuda", 1)
    raise UnknownTarget(f"unknown target {name!r}; choose one of {', '.join(NAMES)}")


def detect_threads() -> int:
    """The intra-op threads torch starts with: OMP_NUM_THREADS when set, else the CPUs this process
    may run on (torch takes the physical cores; on a machine with SMT siblings this counts both)."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return None


# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA), lowest first; netc models two of them.
_ISA_ORDER = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
              "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16", "AVX10_1_512_AMX", "AVX512_CORE_AMX",
              "AVX10_1_512_AMX_FP16", "AVX512_CORE_AMX_FP16", "ALL", "DEFAULT")


def detect_cpu(threads: int | None = None, flags: set[str] | None = None, environ=os.environ) -> Target:
    """This machine's target: oneDNN's widest ISA here, capped by ONEDNN_MAX_CPU_ISA. An ISA netc
    has no model for is named: the nearest model is used and the table says it is assumed."""
    count = threads or detect_threads()
    flags = cpu_flags() if flags is None else flags
    cap = environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    capped_below_avx512 = cap in _ISA_ORDER and _ISA_ORDER.index(cap) < _ISA_ORDER.index("AVX512_CORE")
    capped_below_avx2 = cap in _ISA_ORDER and _ISA_ORDER.index(cap) < _ISA_ORDER.index("AVX2")
    if flags is None:
        return OneDnnAvx2("cpu-avx2", count, detected=False,
                          note="this CPU's features could not be read: cpu-avx2 assumed")
    if {"avx512f", "avx512bw", "avx512vl"} <= flags and not capped_below_avx512:
        return OneDnnCpu("cpu-avx512", count, detected=True, block=16)
    if "avx2" in flags and not capped_below_avx2:
        return OneDnnAvx2("cpu-avx2", count, detected=True)
    return OneDnnAvx2("cpu-avx2", count, detected=False,
                      note="no model for this CPU's ISA (below AVX2, or not x86): cpu-avx2 assumed")
