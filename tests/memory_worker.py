"""Measures peaks in a process of its own, as torch is set up by the environment and arguments:
`python tests/memory_worker.py THREADS MKLDNN(0|1) SPEC:SHAPE:BATCH ...` prints one JSON line per
network: the CPU allocator's peaks (tests/torch_measures.py) for an inference_mode forward and for
an SGD and an Adam training step. tests/test_memory_peaks.py runs it under each machine setting it
can reproduce (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY, mkldnn off, 1 and 2 threads), so that a
crash or a setting stays in its own process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def main(argv: list[str]) -> None:
    import torch
    from torch_measures import inference_peak, training_peak

    from netc.analysis.pipeline import analyze_file
    from netc.backends.codegen import build_module

    threads, mkldnn, items = int(argv[0]), argv[1] == "1", argv[2:]
    torch.set_num_threads(threads)
    torch.backends.mkldnn.enabled = mkldnn
    for item in items:
        name, shape, batch = item.split(":")
        torch.manual_seed(0)
        analysis = analyze_file(str(ROOT / "specs" / f"{name}.yaml"),
                                input_shape=tuple(int(v) for v in shape.split("x")) if shape else None)
        model = build_module(analysis)
        x = torch.randn(int(batch), *analysis.network.input_shape)
        row = {"item": item, "inference": inference_peak(model, x)}
        for optimizer in ("sgd", "adam"):
            row[optimizer] = training_peak(model, x, optimizer)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
