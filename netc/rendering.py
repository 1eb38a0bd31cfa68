"""Analysis → Graphviz picture: one node per layer, output shapes on the edges, blocks as clusters.

Every layer is a node labelled in the lecture notes' notation (`conv3-64`, `maxpool 3/2`, `FC-4096`)
with its parameter count and coloured by its kind's drawing category; every edge carries the
producer's output shape (`64×56×56`). Scopes (stages, block instances, inception branches,
shortcuts, heads) are clusters. `depth` folds every scope nested deeper than `depth` levels into one
node showing its totals; `roll` draws a run of identical consecutive blocks once with a ×N badge.
An automatic residual shortcut that turned out to be the identity is drawn as a plain skip edge.

Nothing here looks at kind names: the drawing asks each kind (category, foldable) and the analysis
(label, params, shapes, warnings). The same analysis always gives the same .dot text.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

from .errors import Diagnostic, NetcError, UsageError
from .infer import Analysis
from .ir import Network, Scope, ScopeKind
from .layers import CATEGORY_COLORS, KINDS, fmt_shape

# Output formats by file extension: what `dot -T` is asked for (None: the DOT text itself).
FORMATS: dict[str, str | None] = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": None, "gv": None}
RANKDIRS = ("TB", "LR", "BT", "RL")
PNG_DPI = 144

FONT = "Helvetica"
WARNING_COLOR = "#d62728"
SKIP_COLOR = "#3b6ea5"
CATEGORY_SHAPES = {"merge": "oval"}  # everything else is a rounded box
SCOPE_FILLS = {ScopeKind.STAGE: "#f6f6f6", ScopeKind.HEAD: "#f6f6f6", ScopeKind.BLOCK: "#edf3fb",
               ScopeKind.SHORTCUT: "#ffffff", ScopeKind.BRANCH: "#ffffff"}

INSTALL_HINT = ("install Graphviz (https://graphviz.org/download/ — apt install graphviz, brew install graphviz "
                "or conda install graphviz), or write -o {stem}.dot, which needs no Graphviz")


def fmt_params(count: int) -> str:
    """A parameter count as labels and tests write it: `1,792 params`."""
    return f"{count:,} param{'s' if count != 1 else ''}"


def fmt_flops(count: int) -> str:
    if count >= 10**9:
        return f"{count / 1e9:.2f} GFLOPs"
    if count >= 10**6:
        return f"{count / 1e6:.1f} MFLOPs"
    return f"{count:,} FLOPs"


def _text(value: object) -> str:
    """Text for inside an HTML-like label: &, < and > escaped (quotes are literal there)."""
    return html.escape(str(value), quote=False)


def _plain(value: str) -> str:
    """A plain (escString) attribute value: backslashes kept literal, quotes escaped by graphviz."""
    import graphviz

    return graphviz.escape(value)


def _small(text: str, color: str = "#444444", size: int = 9) -> str:
    return f'<font point-size="{size}" color="{color}">{text}</font>'


@dataclass
class _Plan:
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
        return any(s.id in self.leader for s in self.network.scope_chain(node_id))

    def drawn(self, node_id: str) -> str:
        """The Graphviz node standing for a layer: itself, its folded scope, or (rolled or elided)
        the node drawn in its place."""
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


# --- labels -------------------------------------------------------------------------------------------
def _badge(count: int) -> str:
    return f' <font color="{SKIP_COLOR}"><b>×{count}</b></font>' if count > 1 else ""


def _warning_line(warnings: list[str] | tuple[str, ...]) -> str:
    first = warnings[0].split(":", 1)[0]
    more = f" (+{len(warnings) - 1})" if len(warnings) > 1 else ""
    return "<br/>" + _small(_text(f"⚠ {first}{more}"), WARNING_COLOR)


def _summary(plan: _Plan, scope: Scope, limit: int = 4) -> str:
    """A scope's content in the DSL notation, main layers only: `conv1-96 - conv3-128`."""
    words: list[str] = []
    for child in scope.children:
        if child in plan.network.scopes:
            sub = plan.network.scopes[child]
            words.append(sub.label if sub.kind == ScopeKind.BLOCK else _scope_title(plan, sub))
        elif not KINDS[plan.network.node(child).kind].foldable:
            words.append(plan.analysis.info[child].label)
    grouped: list[tuple[str, int]] = []
    for word in words:
        if grouped and grouped[-1][0] == word:
            grouped[-1] = (word, grouped[-1][1] + 1)
        else:
            grouped.append((word, 1))
    parts = [w + (f"×{n}" if n > 1 else "") for w, n in grouped]
    if len(parts) > limit:
        parts = parts[: limit - 1] + ["…"]
    return " - ".join(parts) or scope.label


def _scope_title(plan: _Plan, scope: Scope, folded: bool = True) -> str:
    if scope.kind == ScopeKind.SHORTCUT and not folded:
        return "shortcut"
    if scope.kind == ScopeKind.BLOCK:
        return scope.label
    if scope.kind == ScopeKind.HEAD:
        return f"head {scope.label}"
    if scope.kind == ScopeKind.STAGE:
        return scope.id.rsplit(".", 1)[-1]
    return _summary(plan, scope)  # branch, shortcut: what they hold


def _layer_label(plan: _Plan, node_id: str) -> str:
    node, info = plan.network.node(node_id), plan.analysis.info[node_id]
    kind = KINDS[node.kind]
    title = f"<b>{_text(info.label)}</b>"
    details = [fmt_params(info.params)] if info.params else []
    if not node.inputs:  # the input: its shape has no incoming edge to sit on
        details.append(fmt_shape(info.shape))
    name = node.local_name
    if not kind.foldable and name.rstrip("0123456789") != info.label:  # not `concat1` under `concat`
        details.insert(0, name)
    separator = " " if kind.foldable else "<br/>"  # activations, BN, dropout: one compact line
    line = title + (separator + _small(_text(" · ".join(details))) if details else "")
    return line + (_warning_line(info.warnings) if info.warnings else "")


def _folded_label(plan: _Plan, scope: Scope) -> str:
    count = plan.runs.get(scope.id, 1)
    title = f"<b>{_text(_scope_title(plan, scope))}</b>{_badge(count)}"
    layers = len(plan.members[scope.id])
    totals = [_layer_count(layers), fmt_params(plan.scope_params(scope.id))]
    if count > 1:
        totals[-1] += " each"
    lines = [title]
    if scope.kind in (ScopeKind.STAGE, ScopeKind.HEAD):
        lines.append(_small(_text(_summary(plan, scope))))
    lines.append(_small(_text(" · ".join(totals))))
    if scope.exit is not None:
        lines.append(_small(_text("→ " + fmt_shape(plan.analysis.info[scope.exit].shape))))
    warnings = plan.scope_warnings(scope.id)
    return "<br/>".join(lines) + (_warning_line(warnings) if warnings else "")


def _cluster_label(plan: _Plan, scope: Scope) -> str:
    count = plan.runs.get(scope.id, 1)
    params = plan.scope_params(scope.id)
    suffix = f" · {fmt_params(params)}" + (" each" if count > 1 else "") if params else ""
    return f"<<b>{_text(_scope_title(plan, scope, folded=False))}</b>{_badge(count)}{_small(_text(suffix))}>"


def _tooltip(lines: list[str]) -> str:
    """Hover text in SVG: the full name, shape, params and any warning, one per line (DOT `\\n`)."""
    import graphviz

    return graphviz.nohtml("\\n".join(_plain(line) for line in lines))


# --- the drawing --------------------------------------------------------------------------------------
def _dominant_color(plan: _Plan, scope_id: str) -> str:
    """A folded scope takes the colour of the category holding most of its parameters."""
    weight: dict[str, int] = {}
    for node_id in plan.members[scope_id]:
        category = KINDS[plan.network.node(node_id).kind].category
        weight[category] = weight.get(category, 0) + plan.analysis.info[node_id].params + 1
    best = max(sorted(weight), key=lambda c: weight[c]) if weight else "reshape"
    return CATEGORY_COLORS.get(best, "#ffffff")


def _draw_layer(graph, plan: _Plan, node_id: str) -> None:
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
    graph.node(node_id, label=f"<{_layer_label(plan, node_id)}>", tooltip=_tooltip(tip + list(info.warnings)),
               **attrs)


def _layer_count(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"


def _draw_folded(graph, plan: _Plan, scope: Scope) -> None:
    attrs = {"fillcolor": _dominant_color(plan, scope.id), "penwidth": "1.6", "class": "block"}
    warnings = plan.scope_warnings(scope.id)
    if warnings:
        attrs.update(color=WARNING_COLOR, penwidth="2.5")
    tip = [f"{scope.id}: {scope.label}",
           f"{_layer_count(len(plan.members[scope.id]))}, {fmt_params(plan.scope_params(scope.id))}"]
    graph.node(scope.id, label=f"<{_folded_label(plan, scope)}>", tooltip=_tooltip(tip + warnings), **attrs)


def _draw_children(graph, plan: _Plan, children) -> None:
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
        with graph.subgraph(name=f"cluster_{scope.id}") as sub:
            if scope.kind == ScopeKind.BRANCH:  # side by side, no frame: the block's frame says enough
                sub.attr(label="", peripheries="0", margin="4")
            else:
                style = "rounded,dashed" if scope.kind == ScopeKind.SHORTCUT else "rounded,filled"
                sub.attr(label=_cluster_label(plan, scope), style=style, fillcolor=SCOPE_FILLS.get(scope.kind, "#ffffff"),
                         color="#9a9a9a", fontname=FONT, fontsize="11", labeljust="l", margin="8")
            _draw_children(sub, plan, scope.children)


def _is_skip(plan: _Plan, src: str, node_id: str) -> bool:
    """Whether an edge lies on a residual shortcut: through an automatic shortcut (identity or
    projection), inside a written `shortcut:`, or an identity skip from the block's input to its merge."""
    network = plan.network
    if src in plan.elided or plan.shape_only_inputs(node_id) or plan.shape_only_inputs(src):
        return True
    for end in (src, node_id):
        scope = network.node(end).scope
        if scope and network.scopes[scope].kind == ScopeKind.SHORTCUT:
            return True
    node = network.node(node_id)
    if len(node.inputs) > 1 and node.scope:
        return src == network.scopes[node.scope].entry
    return False


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
    plan = _Plan(analysis, depth, roll)
    network = plan.network
    title = (f"<<b>{_text(network.name)}</b>  {_small(_text(fmt_params(analysis.params)), '#333333', 11)}"
             f"{_small(_text('  · ' + fmt_flops(analysis.flops)), '#333333', 11)}>")
    graph = graphviz.Digraph(
        name=network.name,
        graph_attr={"rankdir": rankdir, "newrank": "true", "nodesep": "0.22", "ranksep": "0.28",
                    "fontname": FONT, "label": title, "labelloc": "t", "fontsize": "14", "bgcolor": "white",
                    "pad": "0.2"},
        node_attr={"shape": "box", "style": "rounded,filled", "fontname": FONT, "fontsize": "11",
                   "height": "0.3", "margin": "0.1,0.03", "color": "#555555", "penwidth": "0.8"},
        edge_attr={"fontname": FONT, "fontsize": "8", "fontcolor": "#555555", "color": "#707070",
                   "arrowsize": "0.6", "penwidth": "0.9"},
    )
    _draw_children(graph, plan, network.top)

    seen: set[tuple[str, str]] = set()
    for node_id in network.order:
        if plan.hidden(node_id) or node_id in plan.elided:
            continue
        target = plan.drawn(node_id)
        shape_only = plan.shape_only_inputs(node_id)
        for position, src in enumerate(network.node(node_id).inputs):
            if position in shape_only:
                continue
            source = plan.drawn(src)
            if source == target or (source, target) in seen:
                continue
            seen.add((source, target))
            attrs = {}
            if _is_skip(plan, src, node_id):
                attrs = {"color": SKIP_COLOR, "penwidth": "1.4", "fontcolor": SKIP_COLOR, "weight": "0"}
            graph.edge(source, target, label=fmt_shape(analysis.info[src].shape), **attrs)

    for name, node_id in network.outputs:  # several heads: several named sinks
        sink = f"output {name}"
        graph.node(sink, label=f"<<b>{_text(name)}</b>>", shape="oval", fillcolor="#ffffff", fontsize="10",
                   height="0.25", margin="0.05,0.02", **{"class": "output"})
        graph.edge(plan.drawn(node_id), sink, label=fmt_shape(analysis.info[node_id].shape))
    return graph


def output_format(path: str) -> str | None:
    """The `dot -T` format a file name asks for (None: DOT text). UsageError for anything else."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise UsageError(f"cannot tell the picture format from {path!r}: name the file .svg, .png, .pdf or .dot")
    return FORMATS[ext]


def render_bytes(analysis: Analysis, fmt: str | None, path: str = "picture", **options) -> bytes:
    """The picture in a format (None: the DOT text), as bytes. A missing `dot` is a one-line NetcError."""
    graph = to_digraph(analysis, **options)
    if fmt is None:
        return graph.source.encode("utf-8")
    import graphviz

    stem = os.path.splitext(os.path.basename(path))[0] or "picture"
    if fmt == "png":  # sharper than dot's 96 dpi default; the DOT text itself is unchanged
        graph = graph.copy()
        graph.attr(dpi=str(PNG_DPI))
    try:
        return graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        message = f"cannot write {path}: Graphviz's `dot` program was not found; " + INSTALL_HINT.format(stem=stem)
        raise NetcError([Diagnostic("error", message)]) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {exc.returncode}"
        raise NetcError([Diagnostic("error", f"cannot write {path}: dot failed: {reason}")]) from None


def render_to_path(analysis: Analysis, path: str, depth: int | None = None, rankdir: str = "TB",
                   roll: bool = False) -> None:
    """Write the picture to `path`, the format following its extension; nothing half-written is
    left behind on failure."""
    from .fileio import write_atomic

    fmt = output_format(path)
    data = render_bytes(analysis, fmt, path, depth=depth, rankdir=rankdir, roll=roll)
    write_atomic(path, data)  # an OSError (no such folder, no permission) is the CLI's to report, as for tables




def svg_or_none(analysis: Analysis) -> str | None:
    """The SVG text, or None where Graphviz cannot draw (Jupyter then shows the plain repr)."""
    try:
        return render_bytes(analysis, "svg", "picture.svg").decode("utf-8")
    except NetcError:
        return None


__all__ = ["FORMATS", "fmt_flops", "fmt_params", "output_format", "render_bytes", "render_to_path", "svg_or_none",
           "to_digraph"]
