"""`freeze:` in the generated module: the frozen layers' parameters get `requires_grad_(False)`
at the end of __init__, so an optimizer over `p for p in model.parameters() if p.requires_grad`
trains the rest. Written by module, as few as cover them: a whole submodule whose every learned
layer is frozen (`self.stage1`) rather than each of its layers."""

from __future__ import annotations

from typing import Any

from ...analysis.infer import Analysis
from .pysrc import Block, Bracketed, Comment, Item, Raw, Stmt, comment, module_expression


def frozen_statements(analysis: Analysis, paths: dict[str, str]) -> list[Any]:
    if not analysis.frozen:
        return []
    learned = {node: path for node, path in paths.items() if analysis[node].params}
    frozen = {path for node, path in learned.items() if node in analysis.frozen}
    if not frozen:
        return []
    everything = set(learned.values())
    chosen: list[str] = []
    for path in sorted(frozen, key=lambda p: list(paths.values()).index(p)):
        parts = path.split(".")
        for k in range(1, len(parts) + 1):  # the shortest enclosing module frozen whole
            head = ".".join(parts[:k])
            if all(p in frozen for p in everything if p == head or p.startswith(head + ".")):
                break
        if not any(head == c or head.startswith(c + ".") for c in chosen):
            chosen.append(head)
    names = ", ".join(analysis.network.source.freeze)
    items = [Item(Raw(module_expression(p))) for p in chosen] + ([Item(Raw(""))] if len(chosen) == 1 else [])
    return [
        Comment(comment(f"freeze: {names}: these parameters are not trained ({analysis.frozen_params:,} of them)")),
        Block(("for module in ", Bracketed("(", ")", items)), [Stmt(Raw("module.requires_grad_(False)"))]),
    ]
