"""`freeze:`: scopes whose parameters are not trained, as the table names them.

    freeze: [stem, stage1]       # or "stem, stage1"

The generated module sets `requires_grad_(False)` on them, and the table counts them apart
(trainable and frozen parameters). Which names exist is known only once the network is expanded:
netc/graph/expand.py checks them there (netc/graph/scopes.py says what a scope name is).
"""

from __future__ import annotations

from ...errors import NetcError, SourceSpan
from ..spec import YNode
from .checks import describe

Frozen = tuple[tuple[str, SourceSpan], ...]


def read_freeze(node: YNode | None) -> Frozen:
    if node is None:
        return ()
    if isinstance(node.value, str):
        return tuple((name.strip(), node.span) for name in node.value.split(",") if name.strip())
    if not isinstance(node.value, list):
        raise NetcError.at(node.span, f"freeze must be a list of scope names such as [stem, stage1], "
                           f"got {describe(node.value)}")
    names = []
    for item in node.value:
        if not isinstance(item.value, str) or not item.value.strip():
            raise NetcError.at(item.span, f"freeze: a scope name such as stage1, got {describe(item.value)}")
        names.append((item.value.strip(), item.span))
    return tuple(names)
