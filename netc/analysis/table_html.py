"""Annotated network → the per-layer table as HTML: `netc table --format html` (a standalone
document) and what Jupyter shows for `netc.analyze(...).table()` (the same table as a fragment).

The columns and numbers are the text table's (netc/analysis/table.py: the same rows, the same folding with
`compact`, the same cells); what HTML adds is the nesting. Before the first row of each stage,
block, branch, shortcut or head comes a scope row (its name, its call, its output shape and the
params, weights, MACs and FLOPs of all its layers), and each row is indented by its depth, as the
hierarchical names (`stage3.bottleneck2.conv1`) nest in the text table. A totals row ends the table;
the summary (totals, training memory) follows it as the text table prints it.

Every piece of text is escaped: names, labels and warnings come from the spec, which is user input.
No torch here: this is the analysis path.
"""

from __future__ import annotations

from html import escape

from ..graph.ir import Scope
from .annotated import Analysis
from .memory import MemoryEstimate
from .table import HEADER, Row, _cells, _shape, _summary, inputs_text, table_rows, totals

NUMERIC = frozenset(range(3, 9))  # params … RF: right-aligned, as in the text table

CSS = """\
.netc-table { font-family: system-ui, sans-serif; font-size: 13px; }
.netc-table table { border-collapse: collapse; }
.netc-table caption { text-align: left; font-weight: 600; padding: 4px 0; }
.netc-table th, .netc-table td { padding: 2px 8px; border-bottom: 1px solid #e4e4e4; white-space: nowrap; }
.netc-table thead th { border-bottom: 2px solid #999; text-align: left; }
.netc-table .n { text-align: right; font-variant-numeric: tabular-nums; }
.netc-table tr.scope td, .netc-table tr.scope th { background: #f1f4f9; font-weight: 600; }
.netc-table tr.total td, .netc-table tr.total th { border-top: 2px solid #999; font-weight: 600; }
.netc-table tr.warn td.label { color: #b00020; }
.netc-table .prefix { color: #999; }
.netc-table pre { font-size: 12px; margin: 8px 0 0; }
"""


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _indent(depth: int) -> str:
    return f' style="padding-left: {0.5 + 1.25 * depth:g}em"'


def _name_cell(tag: str, name: str, depth: int) -> str:
    """The full hierarchical name, its scopes' part greyed: the text reads as the text table's."""
    prefix, dot, local = name.rpartition(".")
    shown = f'<span class="prefix">{_text(prefix + dot)}</span>{_text(local)}' if dot else _text(name)
    return f'<{tag} class="name"{_indent(depth)}>{shown}</{tag}>'


def _layer_row(row: Row, depth: int) -> str:
    cells = _cells(row)
    parts = [_name_cell("td", cells[0], depth)]
    for i, cell in enumerate(cells[1:], start=1):
        css = "n" if i in NUMERIC else ("label" if i == 1 else "shape")
        title = f' title="{_text("; ".join(row.warnings))}"' if i == 1 and row.warnings else ""
        parts.append(f'<td class="{css}"{title}>{_text(cell)}</td>')
    css = "layer warn" if row.warnings else "layer"
    return f'<tr class="{css}" data-depth="{depth}">{"".join(parts)}</tr>'


def _scope_row(analysis: Analysis, scope: Scope, depth: int) -> str:
    """A scope's heading: its name and call, its output shape, and the sums over all its layers."""
    network = analysis.network
    infos = [analysis.info[n] for n in network.nodes_in(scope.id)]
    shape = _shape(analysis.info[scope.exit].shape) if scope.exit in analysis.info else ""
    call = scope.label if scope.label != scope.id.rpartition(".")[2] else str(scope.kind)  # a head: "head"
    cells = [
        _name_cell("th", scope.id, depth),
        f'<td class="label">{_text(call)}</td>',
        f'<td class="shape">{_text(shape)}</td>',
        f'<td class="n">{sum(i.params for i in infos):,}</td>',
        f'<td class="n">{sum(i.weights for i in infos):,}</td>',
        '<td class="n"></td>',  # activations: the notes count volumes per layer, not per scope
        f'<td class="n">{sum(i.macs for i in infos):,}</td>',
        f'<td class="n">{sum(i.flops for i in infos):,}</td>',
        '<td class="n"></td>',
    ]
    return (f'<tr class="scope" data-kind="{_text(scope.kind)}" data-depth="{depth}">'
            f'{"".join(cells)}</tr>')


def _total_row(analysis: Analysis) -> str:
    t = totals(analysis)
    outputs = ", ".join(f"{name} " + (f"{analysis[node].row_count}×" if analysis[node].rows else "")
                        + _shape(analysis[node].shape) for name, node in analysis.network.outputs)
    cells = ['<th class="name">total</th>', '<td class="label"></td>', f'<td class="shape">{_text(outputs)}</td>']
    cells += [f'<td class="n">{t[key]:,}</td>' for key in ("params", "weights", "activations", "macs", "flops")]
    cells.append('<td class="n"></td>')
    return f'<tr class="total">{"".join(cells)}</tr>'


def _body(analysis: Analysis, compact: bool) -> list[str]:
    """Layer rows in the text table's order, a scope row where each scope starts."""
    network = analysis.network
    lines: list[str] = []
    open_scopes: list[str] = []  # the scopes the last row sits in, outermost first
    for row in table_rows(analysis, compact):
        chain = network.scope_chain(row.name) if row.name in network.node_map else []
        ids = [scope.id for scope in chain]
        keep = 0
        while keep < min(len(ids), len(open_scopes)) and ids[keep] == open_scopes[keep]:
            keep += 1
        del open_scopes[keep:]
        for scope in chain[keep:]:
            lines.append(_scope_row(analysis, scope, len(open_scopes)))
            open_scopes.append(scope.id)
        lines.append(_layer_row(row, len(open_scopes)))
    return lines


def html_table(analysis: Analysis, memory: MemoryEstimate, compact: bool = False, style: bool = True) -> str:
    """The table as an HTML fragment (what Jupyter shows): a <div class="netc-table"> holding the
    table and the summary; with `style`, its CSS inline in a <style> element."""
    head = "".join(f'<th class="n">{_text(h)}</th>' if i in NUMERIC else f"<th>{_text(h)}</th>"
                   for i, h in enumerate(HEADER))
    caption = f"{analysis.network.name}: {inputs_text(analysis)}"
    lines = ['<div class="netc-table">']
    if style:
        lines.append(f"<style>\n{CSS}</style>")
    lines += ["<table>", f"<caption>{_text(caption)}</caption>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    lines += _body(analysis, compact)
    lines += ["</tbody>", f"<tfoot>{_total_row(analysis)}</tfoot>", "</table>"]
    lines.append('<pre class="summary">' + _text("\n".join(_summary(analysis, memory))) + "</pre>")
    lines.append("</div>")
    return "\n".join(lines) + "\n"


def to_html(analysis: Analysis, memory: MemoryEstimate, compact: bool = False) -> str:
    """`netc table --format html`: a standalone HTML document, its CSS in its head."""
    title = f"{analysis.network.name} — netc table"
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_text(title)}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n"
            f"{html_table(analysis, memory, compact, style=False)}</body>\n</html>\n")
