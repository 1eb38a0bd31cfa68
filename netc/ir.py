"""The graph IR: a networkx DiGraph of layer nodes, plus the block scopes they were expanded from.

Nodes are keyed by their hierarchical name (`stage3.bottleneck2.conv1`); the `node` attribute of
each graph node holds the `Node`. Edges carry `index`, the position of the input; an edge with
`shape_only=True` feeds a shape, not data (the body output read by an automatic projection).
Scopes record the block structure (stages, block instances, branches, heads) for rendering and
code generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .ast import Program
from .errors import SourceSpan


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...]  # in order; what forward feeds in
    scope: str  # id of the innermost enclosing scope; "" at top level
    span: SourceSpan
    text: str  # the DSL text it came from, for messages and comments

    @property
    def local_name(self) -> str:
        return self.id.rsplit(".", 1)[-1]


@dataclass
class Scope:
    """A named group of nodes: a stage `[...]`, a block instance, a branch, a shortcut, a head."""

    id: str
    kind: str  # stage | block | branch | shortcut | head
    label: str  # e.g. "bottleneck(128, stride=2)"
    span: SourceSpan
    parent: str  # "" for top level
    block: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    entry: str | None = None  # node feeding the scope
    exit: str | None = None  # node whose output is the scope's output
    children: list[str] = field(default_factory=list)  # node ids and scope ids, in order


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: tuple[int, ...]
    graph: nx.DiGraph
    order: tuple[str, ...]  # node ids in creation order, which is topological
    outputs: tuple[tuple[str, str], ...]  # (output name, node id)
    scopes: dict[str, Scope]
    top: tuple[str, ...]  # top-level children: node ids and scope ids, in order
    program: Program

    def node(self, node_id: str) -> Node:
        return self.graph.nodes[node_id]["node"]

    def nodes(self) -> list[Node]:
        return [self.node(n) for n in self.order]

    def scope_chain(self, node_id: str) -> list[Scope]:
        """Enclosing scopes of a node, outermost first."""
        chain = []
        scope_id = self.node(node_id).scope
        while scope_id:
            scope = self.scopes[scope_id]
            chain.append(scope)
            scope_id = scope.parent
        return chain[::-1]
