"""The graph IR: layer nodes keyed by name, plus the block scopes they were expanded from.

Nodes are keyed by their hierarchical name (`stage3.bottleneck2.conv1`) in `Network.node_map`;
each `Node` lists its inputs in order, so the edges are implicit; `Network.users` answers who
reads a node and `Node.data_inputs` which inputs are read for their values. The IR knows nothing
of networkx (the public graph view is `Analysis.graph`, netc/analysis/annotated.py, built only when asked
for) and keeps no AST: what the back ends need of the spec is `NetworkSource`. Scopes record the
block structure (stages, block instances, branches, heads, and in block templates the loops of
repeats counted by an argument) for rendering and code generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from ..errors import Diagnostic, SourceSpan
from ..frontend.initspec import InitSpec


def numbered(base: str, n: int) -> str:
    """The n-th layer or block of a kind in a scope: conv1, conv2, but relu6_1 (not relu61)."""
    return f"{base}_{n}" if base[-1:].isdigit() else f"{base}{n}"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...]  # in order; what forward feeds in
    scope: str  # id of the innermost enclosing scope; "" at top level
    span: SourceSpan
    text: str  # the DSL text it came from, for messages and comments
    shape_only: tuple[int, ...] = ()  # input positions read for their shape only (projection's body)

    @property
    def data_inputs(self) -> tuple[str, ...]:
        """The inputs whose values it reads (not those read for their shape only)."""
        if not self.shape_only:
            return self.inputs
        return tuple(i for k, i in enumerate(self.inputs) if k not in self.shape_only)

    @property
    def local_name(self) -> str:
        return self.id.rsplit(".", 1)[-1]


class ScopeKind(StrEnum):
    """What a scope is. A StrEnum: it prints as its word, and the JSON and pictures use the word."""

    STAGE = "stage"  # a repetition written [ … ]*M
    BLOCK = "block"  # one call of a block
    BRANCH = "branch"  # one branch of a parallel block
    SHORTCUT = "shortcut"  # a written shortcut of a residual block
    HEAD = "head"  # a named output
    LOOP = "loop"  # in a block template only: a repeat counted by an argument, its body expanded once


@dataclass
class Scope:
    """A named group of nodes: a stage `[...]`, a block instance, a branch, a shortcut, a head."""

    id: str
    kind: ScopeKind
    label: str  # e.g. "bottleneck(128, stride=2)"
    span: SourceSpan
    parent: str  # "" for top level
    block: str | None = None
    args: dict[str, Any] = field(default_factory=dict)
    entry: str | None = None  # node feeding the scope
    exit: str | None = None  # node whose output is the scope's output
    children: list[str] = field(default_factory=list)  # node ids and scope ids, in order
    count: Any = None  # a loop's repeat count: an expression over the block's arguments
    index: Any = None  # a loop's index variable (netc.frontend.symbolic.Var), None when the repeat has no @index


@dataclass(frozen=True)
class BlockSignature:
    """A block as its users see it: name, parameters with their defaults, form, and place."""

    name: str
    params: tuple[tuple[str, Any], ...]  # (name, default) in order; default None: required
    form: str  # sequence | parallel | residual
    span: SourceSpan


@dataclass(frozen=True)
class NetworkSource:
    """What the back ends need of the spec a network came from (the IR keeps no AST)."""

    path: str
    name_span: SourceSpan
    body_span: SourceSpan | None  # the `network:` body, where whole-network messages point
    params: dict[str, Any]  # the spec's params, after -D
    blocks: dict[str, BlockSignature]
    heads: tuple[tuple[str, str | None], ...] = ()  # (head, the mark it starts from or None)
    init: InitSpec | None = None  # the spec's `init:`; None: PyTorch's own initialisation
    freeze: tuple[str, ...] = ()  # scopes not trained (netc/graph/scopes.py), checked to exist
    train_only: tuple[str, ...] = ()  # heads returned in training mode only; eval returns the others


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: tuple[int, ...]
    node_map: dict[str, Node]  # node id → Node
    order: tuple[str, ...]  # node ids in creation order, which is topological
    outputs: tuple[tuple[str, str], ...]  # (output name, node id)
    scopes: dict[str, Scope]
    top: tuple[str, ...]  # top-level children: node ids and scope ids, in order
    source: NetworkSource
    warnings: tuple[Diagnostic, ...] = ()  # found while expanding (a block never used)
    points: dict[str, str] = field(default_factory=dict)  # node id → the mark placed after it (skip2 for <skip[2]>)
    # The expander's templates of this network's blocks (netc/graph/templates.py), for generic classes;
    # None for a template itself.
    templates: Any = field(default=None, compare=False, repr=False)

    def node(self, node_id: str) -> Node:
        return self.node_map[node_id]

    def nodes(self) -> list[Node]:
        return [self.node_map[n] for n in self.order]

    @cached_property
    def _users(self) -> dict[str, tuple[str, ...]]:
        readers: dict[str, list[str]] = {}
        for node_id in self.order:
            for source in dict.fromkeys(self.node_map[node_id].inputs):
                readers.setdefault(source, []).append(node_id)
        return {source: tuple(found) for source, found in readers.items()}

    @cached_property
    def readers(self) -> dict[str, set[str]]:
        """Node → the nodes that read its output for its values (not for its shape only), for the
        code generator; worked out once per network, however many classes are written from it."""
        found: dict[str, set[str]] = {}
        for node_id in self.order:
            for source in self.node_map[node_id].data_inputs:
                found.setdefault(source, set()).add(node_id)
        return found

    def users(self, node_id: str) -> tuple[str, ...]:
        """The nodes that take `node_id`'s output as an input (for its values or its shape), in order."""
        return self._users.get(node_id, ())

    def ancestors(self, node_id: str) -> set[str]:
        """Every node whose output reaches `node_id` (what networkx.ancestors returns)."""
        seen: set[str] = set()
        stack = list(self.node_map[node_id].inputs)
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.node_map[current].inputs)
        return seen

    def is_scope(self, child: str) -> bool:
        """Whether a scope's child (or a top-level one) is a scope; otherwise it is a node."""
        return child in self.scopes

    def nodes_in(self, scope_id: str) -> list[str]:
        """Every node inside a scope, nested scopes included, in order."""
        found: list[str] = []
        for child in self.scopes[scope_id].children:
            found.extend(self.nodes_in(child) if child in self.scopes else [child])
        return found

    def output_of(self, child: str) -> str | None:
        """The node whose output a child hands on: a scope's exit, or the node itself."""
        return self.scopes[child].exit if child in self.scopes else child

    def scope_chain(self, node_id: str) -> list[Scope]:
        """Enclosing scopes of a node, outermost first."""
        chain = []
        scope_id = self.node(node_id).scope
        while scope_id:
            scope = self.scopes[scope_id]
            chain.append(scope)
            scope_id = scope.parent
        return chain[::-1]
