"""What to draw, decided before anything is drawn: which scopes fold into one node (`depth`), which
runs of identical consecutive blocks are drawn once with a ×N badge (`roll`), and which identity
shortcuts are elided (drawn as a plain skip edge). The drawing then asks the plan which Graphviz
node stands for each layer."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...analysis.annotated import Analysis
from ...graph.ir import Network, Scope
from ...layers import KINDS


@dataclass
class Plan:
    """Which scopes are folded, which are rolled into a leader, which nodes are elided."""

    analysis: Analysis
    depth: int | None
    roll: bool
    members: dict[str, list[str]] = field(default_factory=dict)  # scope → node ids in its subtree, in order
    subscopes: dict[str, list[str]] = field(default_factory=dict)  # scope → scope ids in its subtree
    level: dict[str, int] = field(default_factory=dict)  # scope → nesting level, 1 at top
    folded: set[str] = field(default_factory=set)
    leader: dict[str, str] = field(default_factory=dict)  # hidden roll member → the scope drawn for it
    runs: dict[str, int] = field(default_factory=dict)  # drawn roll leader → run length
    elided: set[str] = field(default_factory=set)  # identity shortcuts: drawn as a plain edge

    def __post_init__(self) -> None:
        network = self.network
        self.members = {scope_id: [] for scope_id in network.scopes}
        self.subscopes = {scope_id: [] for scope_id in network.scopes}
        for scope_id, scope in network.scopes.items():
            parent, level = scope.parent, 1
            while parent:
                self.subscopes[parent].append(scope_id)
                parent, level = network.scopes[parent].parent, level + 1
            self.level[scope_id] = level
        for node_id in network.order:
            node = network.node(node_id)
            scope_id = node.scope
            while scope_id:
                self.members[scope_id].append(node_id)
                scope_id = network.scopes[scope_id].parent
            info = self.analysis.info[node_id]
            if KINDS[node.kind].passes_input(node.attrs, list(info.inputs)):
                self.elided.add(node_id)
        if self.depth is not None:
            self.folded = {s for s, level in self.level.items() if level == self.depth + 1}
        if self.roll:
            self._find_runs(list(network.top))
            for scope in network.scopes.values():
                self._find_runs(scope.children)

    @property
    def network(self) -> Network:
        return self.analysis.network

    def shape_only_inputs(self, node_id: str) -> set[int]:
        """Positions of inputs read for their shape only (the body output an automatic projection reads)."""
        return set(self.network.node(node_id).shape_only)

    # --- rolling identical blocks ------------------------------------------------------------------
    def _signature(self, scope: Scope) -> tuple:
        inside = set(self.members[scope.id])
        cut = len(scope.id)

        def ref(src: str) -> str:
            return src[cut:] if src in inside else ("^" if src == scope.entry else "=" + src)

        layers = []
        for node_id in self.members[scope.id]:
            node, info = self.network.node(node_id), self.analysis.info[node_id]
            layers.append((node_id[cut:], node.kind, info.label, info.shape, info.inputs, info.params,
                           info.warnings, tuple(ref(i) for i in node.inputs)))
        scopes = tuple((s[cut:], self.network.scopes[s].kind, self.network.scopes[s].label)
                       for s in self.subscopes[scope.id])
        return scope.kind, scope.label, tuple(layers), scopes

    def _find_runs(self, children: list[str]) -> None:
        """Runs of consecutive sibling scopes, each fed by the one before, with equal signatures."""
        scopes = self.network.scopes
        run: list[Scope] = []
        signature = None
        for child in children + [""]:
            scope = scopes.get(child)
            mine = self._signature(scope) if scope is not None else None
            if scope is not None and run and scope.entry == run[-1].exit and mine == signature:
                run.append(scope)
                continue
            if len(run) > 1:
                self.runs[run[0].id] = len(run)
                for member in run[1:]:
                    self.leader[member.id] = run[0].id
            run = [scope] if scope is not None else []
            signature = mine

    # --- what each layer is drawn as ----------------------------------------------------------------
    def hidden(self, node_id: str) -> bool:
        """Whether the node lies in a rolled-away repetition (its edges are the leader's)."""
        if not self.leader:  # nothing rolled (the default): no scope chain to walk, per layer
            return False
        return any(s.id in self.leader for s in self.network.scope_chain(node_id))

    def drawn(self, node_id: str) -> str:
        """The Graphviz node standing for a layer: itself, its folded scope, or (rolled or elided)
        the node drawn in its place."""
        if not self.leader and not self.folded:  # nothing rolled or folded (the default): per layer,
            if node_id in self.elided:  # no scope chain to walk
                return self.drawn(self.network.node(node_id).inputs[0])
            return node_id
        for scope in self.network.scope_chain(node_id):
            if scope.id in self.leader:
                return self.drawn(self.leader[scope.id] + node_id[len(scope.id):])
            if scope.id in self.folded:
                return scope.id
        if node_id in self.elided:
            return self.drawn(self.network.node(node_id).inputs[0])
        return node_id

    def scope_warnings(self, scope_id: str) -> list[str]:
        return [w for n in self.members[scope_id] for w in self.analysis.info[n].warnings]

    def scope_params(self, scope_id: str) -> int:
        return sum(self.analysis.info[n].params for n in self.members[scope_id])
