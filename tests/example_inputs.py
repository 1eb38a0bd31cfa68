"""Example inputs for a generated module: one tensor per input of the network, in forward's order.

A network of one input takes a batch of random maps (or vectors). Named inputs (README, "Several
inputs") take one tensor each: per-image ones a batch of random values; an [R, 5] input of boxes
`rows` boxes per image (the spec's R unless given), all the batch's in one [K, 5] tensor as
torchvision's roi operators take them, each row (image index, x1, y1, x2, y2) inside the image.
"""

from __future__ import annotations

import torch


def example_inputs(analysis, batch: int = 1, rows: int | None = None, device=None, dtype=None,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
    net = analysis.network
    nodes = [net.node(n) for n in net.order if not net.node(n).inputs]
    first = tuple(analysis[nodes[0].id].shape)
    height, width = (first[1], first[2]) if len(first) == 3 else (1, 1)
    found = []
    for node in nodes:
        shape = tuple(analysis[node.id].shape)
        if "rows" not in node.attrs:
            found.append(torch.randn((batch, *shape), generator=generator, dtype=dtype).to(device))
            continue
        count = batch * (node.attrs["rows"] if rows is None else rows)
        value = torch.rand((count, *shape), generator=generator)
        if shape == (5,):  # boxes inside the image: x1 < x2, y1 < y2
            scale = torch.tensor([width, height], dtype=torch.float32)
            low = value[:, 1:3] * scale / 2
            high = low + value[:, 3:5] * scale / 2
            value = torch.cat([(torch.arange(count) % batch).float()[:, None], low, high], dim=1)
        found.append(value.to(device=device, dtype=dtype))
    return tuple(found)
