"""The spec's scope names as a user writes them (`freeze: [stem, stage1]`, `--lr-mult stage3=0.1`):
every prefix of the table's hierarchical names (`stage3`, `stage3.bottleneck2`, a layer's own
`fc1`), and `stem`, the top-level layers before the first stage of `[ … ]*M`, when the spec has no
scope of that name. One definition for the analysis (frozen parameters in the table), the code
generator (`requires_grad_(False)`) and the training loop (netc/transfer/)."""

from __future__ import annotations

import re
from collections.abc import Iterable

STEM = "stem"
_STAGE = re.compile(r"stage\d+")


def scope_members(node_ids: Iterable[str]) -> dict[str, list[str]]:
    """Scope name → the node ids under it, in the order given (the network's)."""
    order = list(node_ids)
    scopes: dict[str, list[str]] = {}
    for node in order:
        parts = node.split(".")
        for k in range(1, len(parts) + 1):
            scopes.setdefault(".".join(parts[:k]), []).append(node)
    if STEM not in scopes:
        first = next((k for k, node in enumerate(order) if _STAGE.fullmatch(node.split(".")[0])), 0)
        if first:
            scopes[STEM] = order[:first]
    return scopes
