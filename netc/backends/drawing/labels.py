"""The text on the picture: node and cluster labels (Graphviz's HTML-like labels), hover tooltips,
and the parameter and FLOP counts as they are written there."""

from __future__ import annotations

import html

from ...graph.ir import Scope, ScopeKind
from ...layers import KINDS, fmt_shape
from .plan import Plan
from .style import SKIP_COLOR, WARNING_COLOR


def fmt_params(count: int) -> str:
    """A parameter count as labels and tests write it: `1,792 params`."""
    return f"{count:,} param{'s' if count != 1 else ''}"


def fmt_flops(count: int) -> str:
    if count >= 10**9:
        return f"{count / 1e9:.2f} GFLOPs"
    if count >= 10**6:
        return f"{count / 1e6:.1f} MFLOPs"
    return f"{count:,} FLOPs"


def layer_count(n: int) -> str:
    return f"{n} layer{'s' if n != 1 else ''}"


def text(value: object) -> str:
    """Text for inside an HTML-like label: &, < and > escaped (quotes are literal there)."""
    return html.escape(str(value), quote=False)


def small(content: str, color: str = "#444444", size: int = 9) -> str:
    return f'<font point-size="{size}" color="{color}">{content}</font>'


def tooltip(lines: list[str]) -> str:
    """Hover text in SVG: the full name, shape, params and any warning, one per line (DOT `\\n`).
    A plain (escString) value: each line's backslashes kept literal, as graphviz.escape keeps them
    (here with one nohtml for the whole text rather than one per line), quotes escaped by graphviz."""
    import graphviz

    return graphviz.nohtml("\\n".join([line.replace("\\", "\\\\") for line in lines]))


def _badge(count: int) -> str:
    return f' <font color="{SKIP_COLOR}"><b>×{count}</b></font>' if count > 1 else ""


def _warning_line(warnings: list[str] | tuple[str, ...]) -> str:
    first = warnings[0].split(":", 1)[0]
    more = f" (+{len(warnings) - 1})" if len(warnings) > 1 else ""
    return "<br/>" + small(text(f"⚠ {first}{more}"), WARNING_COLOR)


def _summary(plan: Plan, scope: Scope, limit: int = 4) -> str:
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


def _scope_title(plan: Plan, scope: Scope, folded: bool = True) -> str:
    if scope.kind == ScopeKind.SHORTCUT and not folded:
        return "shortcut"
    if scope.kind == ScopeKind.BLOCK:
        return scope.label
    if scope.kind == ScopeKind.HEAD:
        return f"head {scope.label}"
    if scope.kind == ScopeKind.STAGE:
        return scope.id.rsplit(".", 1)[-1]
    return _summary(plan, scope)  # branch, shortcut: what they hold


def layer_label(plan: Plan, node_id: str) -> str:
    node, info = plan.network.node(node_id), plan.analysis.info[node_id]
    kind = KINDS[node.kind]
    title = f"<b>{text(info.label)}</b>"
    details = [fmt_params(info.params)] if info.params else []
    if not node.inputs:  # the input: its shape has no incoming edge to sit on
        details.append(fmt_shape(info.shape))
    name = node.local_name
    if not kind.foldable and name.rstrip("0123456789") != info.label:  # not `concat1` under `concat`
        details.insert(0, name)
    separator = " " if kind.foldable else "<br/>"  # activations, BN, dropout: one compact line
    line = title + (separator + small(text(" · ".join(details))) if details else "")
    return line + (_warning_line(info.warnings) if info.warnings else "")


def folded_label(plan: Plan, scope: Scope) -> str:
    count = plan.runs.get(scope.id, 1)
    title = f"<b>{text(_scope_title(plan, scope))}</b>{_badge(count)}"
    layers = len(plan.members[scope.id])
    totals = [layer_count(layers), fmt_params(plan.scope_params(scope.id))]
    if count > 1:
        totals[-1] += " each"
    lines = [title]
    if scope.kind in (ScopeKind.STAGE, ScopeKind.HEAD):
        lines.append(small(text(_summary(plan, scope))))
    lines.append(small(text(" · ".join(totals))))
    if scope.exit is not None:
        lines.append(small(text("→ " + fmt_shape(plan.analysis.info[scope.exit].shape))))
    warnings = plan.scope_warnings(scope.id)
    return "<br/>".join(lines) + (_warning_line(warnings) if warnings else "")


def cluster_label(plan: Plan, scope: Scope) -> str:
    count = plan.runs.get(scope.id, 1)
    params = plan.scope_params(scope.id)
    # No parameters, no counts line: an empty <font></font> is a syntax error to Graphviz 2.43.
    suffix = small(text(f" · {fmt_params(params)}" + (" each" if count > 1 else ""))) if params else ""
    return f"<<b>{text(_scope_title(plan, scope, folded=False))}</b>{_badge(count)}{suffix}>"


def graph_title(plan: Plan) -> str:
    """The picture's heading: the network's name, its parameters and FLOPs."""
    analysis = plan.analysis
    return (f"<<b>{text(plan.network.name)}</b>  {small(text(fmt_params(analysis.params)), '#333333', 11)}"
            f"{small(text('  · ' + fmt_flops(analysis.flops)), '#333333', 11)}>")
