"""The plan drawn as a graphviz.Digraph: one node per drawn layer or folded scope, one cluster per
open scope, edges labelled with the producer's output shape, residual skips in their own colour.

Nothing here looks at kind names: the drawing asks each kind (category, foldable) and the analysis
(label, params, shapes, warnings). The same analysis always gives the same DOT text."""

from __future__ import annotations

from ...analysis.annotated import Analysis
from ...errors import Diagnostic, NetcError, UsageError
from ...graph.ir import Scope, ScopeKind
from ...layers import CATEGORY_COLORS, KINDS, fmt_shape
from .labels import cluster_label, fmt_params, folded_label, graph_title, layer_count, layer_label, text, tooltip
from .plan import Plan
from .statements import add_edge, add_node, subgraph
from .style import CATEGORY_SHAPES, FONT, SCOPE_FILLS, SKIP_COLOR, WARNING_COLOR

RANKDIRS = ("TB", "LR", "BT", "RL")


def to_digraph(analysis: Analysis, depth: int | None = None, rankdir: str = "TB", roll: bool = False):
    """The network as a graphviz.Digraph (nothing is run: `.source` is the DOT text)."""
    try:
        import graphviz
    except ImportError:  # pragma: no cover - graphviz is a dependency
        raise NetcError([Diagnostic("error", "the graphviz Python package is missing: pip install graphviz")]) from None
    if depth is not None and depth < 0:
        raise UsageError(f"--depth must be 0 or more, got {depth}")
    if rankdir not in RANKDIRS:
        raise UsageError(f"--rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    plan = Plan(analysis, depth, roll)
    network = plan.network
    graph = graphviz.Digraph(
        name=network.name,
        graph_attr={"rankdir": rankdir, "newrank": "true", "nodesep": "0.22", "ranksep": "0.28",
                    "fontname": FONT, "label": graph_title(plan), "labelloc": "t", "fontsize": "14",
                    "bgcolor": "white", "pad": "0.2"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11",
                   "height": "0.3", "margin": "0.1,0.03", "color": "#555555", "penwidth": "0.8"},
        edge_attr={"fontname": FONT, "fontsize": "8", "fontcolor": "#555555", "color": "#707070",
                   "arrowsize": "0.6", "penwidth": "0.9"},
    )
    _draw_children(graph, plan, network.top)
    _draw_edges(graph, plan)
    for name, node_id in network.outputs:  # several heads: several named sinks
        sink = f"output {name}"
        add_node(graph, sink, label=f"<<b>{text(name)}</b>>", shape="oval", fillcolor="#ffffff", fontsize="10",
                 height="0.25", margin="0.05,0.02", **{"class": "output"})
        add_edge(graph, plan.drawn(node_id), sink, label=fmt_shape(analysis.info[node_id].shape))
    return graph


def _draw_children(graph, plan: Plan, children) -> None:
    scopes = plan.network.scopes
    for child in children:
        scope = scopes.get(child)
        if scope is None:
            if child not in plan.elided:
                _draw_layer(graph, plan, child)
            continue
        if scope.id in plan.leader or not plan.members[scope.id]:  # rolled away, or holds no layer
            continue
        if scope.id in plan.folded:
            _draw_folded(graph, plan, scope)
            continue
        with subgraph(graph, f"cluster_{scope.id}") as sub:
            if scope.kind == ScopeKind.BRANCH:  # side by side, no frame: the block's frame says enough
                sub.attr(label="", peripheries="0", margin="4")
            else:
                style = "rounded,dashed" if scope.kind == ScopeKind.SHORTCUT else "rounded,filled"
                sub.attr(label=cluster_label(plan, scope), style=style,
                         fillcolor=SCOPE_FILLS.get(scope.kind, "#ffffff"), color="#9a9a9a", fontname=FONT,
                         fontsize="11", labeljust="l", margin="8")
            _draw_children(sub, plan, scope.children)


def _draw_layer(graph, plan: Plan, node_id: str) -> None:
    node, info = plan.network.node(node_id), plan.analysis.info[node_id]
    kind = KINDS[node.kind]
    attrs = {"fillcolor": CATEGORY_COLORS.get(kind.category, "#ffffff"), "class": kind.category}
    if kind.category in CATEGORY_SHAPES:
        attrs["shape"] = CATEGORY_SHAPES[kind.category]
        attrs["margin"] = "0.02,0.02"
    if kind.foldable:
        attrs.update(fontsize="9", height="0.22", margin="0.08,0.02")
    if info.warnings:
        attrs.update(color=WARNING_COLOR, penwidth="2.5")
    tip = [f"{node.id}: {info.label}", f"output {fmt_shape(info.shape)}, {fmt_params(info.params)}"]
    add_node(graph, node_id, label=f"<{layer_label(plan, node_id)}>", tooltip=tooltip(tip + list(info.warnings)),
             **attrs)


def _draw_folded(graph, plan: Plan, scope: Scope) -> None:
    attrs = {"fillcolor": _dominant_color(plan, scope.id), "penwidth": "1.6", "class": "block"}
    warnings = plan.scope_warnings(scope.id)
    if warnings:
        attrs.update(color=WARNING_COLOR, penwidth="2.5")
    tip = [f"{scope.id}: {scope.label}",
           f"{layer_count(len(plan.members[scope.id]))}, {fmt_params(plan.scope_params(scope.id))}"]
    add_node(graph, scope.id, label=f"<{folded_label(plan, scope)}>", tooltip=tooltip(tip + warnings), **attrs)


def _dominant_color(plan: Plan, scope_id: str) -> str:
    """A folded scope takes the colour of the category holding most of its parameters."""
    weight: dict[str, int] = {}
    for node_id in plan.members[scope_id]:
        category = KINDS[plan.network.node(node_id).kind].category
        weight[category] = weight.get(category, 0) + plan.analysis.info[node_id].params + 1
    best = max(sorted(weight), key=lambda c: weight[c]) if weight else "reshape"
    return CATEGORY_COLORS.get(best, "#ffffff")


def _draw_edges(graph, plan: Plan) -> None:
    """One edge per drawn producer → consumer pair, labelled with the producer's output shape."""
    network, info = plan.network, plan.analysis.info
    seen: set[tuple[str, str]] = set()
    labels: dict[tuple[int, ...], str] = {}  # shape → its text: most edges of a deep network repeat a few
    for node_id in network.order:
        if plan.hidden(node_id) or node_id in plan.elided:
            continue
        target = plan.drawn(node_id)
        node = network.node(node_id)
        for position, src in enumerate(node.inputs):
            if position in node.shape_only:
                continue
            source = plan.drawn(src)
            if source == target or (source, target) in seen:
                continue
            seen.add((source, target))
            attrs = {}
            if _is_skip(plan, src, node_id):
                attrs = {"color": SKIP_COLOR, "penwidth": "1.4", "fontcolor": SKIP_COLOR, "weight": "0"}
            shape = info[src].shape
            label = labels.get(shape)
            if label is None:
                label = labels[shape] = fmt_shape(shape)
            add_edge(graph, source, target, label=label, **attrs)


def _is_skip(plan: Plan, src: str, node_id: str) -> bool:
    """Whether an edge lies on a residual shortcut: through an automatic shortcut (identity or
    projection), inside a written `shortcut:`, or an identity skip from the block's input to its merge."""
    network = plan.network
    node, source = network.node(node_id), network.node(src)
    if src in plan.elided or node.shape_only or source.shape_only:
        return True
    for end in (source, node):
        if end.scope and network.scopes[end.scope].kind == ScopeKind.SHORTCUT:
            return True
    if len(node.inputs) > 1 and node.scope:
        return src == network.scopes[node.scope].entry
    return False
