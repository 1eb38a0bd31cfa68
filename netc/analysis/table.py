"""Annotated network → per-layer table as text, markdown, csv or json."""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from ..graph.ir import Node
from ..layers import KINDS
from ..layers.base import exact, fmt_step, json_number
from .annotated import Analysis, LayerInfo
from .memory import MemoryEstimate, human_bytes

FORMATS = ("text", "markdown", "csv", "json")


class Row(NamedTuple):
    """One row of the table (a NamedTuple, not a frozen dataclass: one per layer, made fast)."""

    name: str
    kind: str
    label: str
    shape: tuple[int, ...]
    params: int
    weights: int
    biases: int
    activations: int
    macs: int
    flops: int
    receptive_field: tuple[int | Fraction, int | Fraction]  # per axis, (height, width)
    jump: tuple[int | Fraction, int | Fraction]
    warnings: tuple[str, ...]
    rows: int = 0  # per row of a named [R, K] input (per RoI): R, the rows its numbers count; 0 per image


def _row(node: Node, info: LayerInfo) -> Row:
    return Row(node.id, node.kind, info.label, info.shape, info.params, info.weights, info.biases,
               info.activations, info.macs, info.flops, info.receptive_field, info.jump, info.warnings,
               info.row_count if info.rows else 0)


def table_rows(analysis: Analysis, compact: bool = False) -> list[Row]:
    """One row per layer; with compact, foldable layers (activations, BN, dropout, flatten) and
    views (reshape) add their numbers to the row of the layer they follow, as the lecture notes'
    VGG table does, and an identity shortcut (no tensor, no numbers) has no row."""
    rows: list[Row] = []
    last = ""  # the node whose output the last row shows
    for node, info in analysis.rows():
        if KINDS[node.kind].passes_input(node.attrs, list(info.inputs)):
            continue  # an identity shortcut: no layer, no tensor, no numbers
        row = _row(node, info)
        if compact and node.inputs and (KINDS[node.kind].foldable or not info.new_tensor):
            if rows and node.inputs and node.inputs[0] == last:  # it continues the last row's layer
                prev = rows[-1]
                rows[-1] = Row(prev.name, prev.kind, prev.label, prev.shape if info.shape == prev.shape else info.shape,
                               prev.params + row.params, prev.weights + row.weights, prev.biases + row.biases,
                               prev.activations, prev.macs + row.macs, prev.flops + row.flops,
                               row.receptive_field, row.jump, prev.warnings + row.warnings, prev.rows)
                last = node.id
                continue
            if not info.new_tensor and not info.params and not info.macs:
                continue  # a view off to the side: an identity shortcut
        rows.append(row)
        last = node.id
    return rows


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def _row_shape(r: Row) -> str:
    """A row's output: per image, or R× one row's (per RoI: R pooled maps per image)."""
    return f"{r.rows}×{_shape(r.shape)}" if r.rows else _shape(r.shape)


def inputs_text(analysis: Analysis) -> str:
    """`input 3×224×224`, or each named input: `inputs image 3×224×224, rois 128×5`."""
    net = analysis.network
    named = [net.node(n) for n in net.order if not net.node(n).inputs and "name" in net.node(n).attrs]
    if not named:
        return f"input {_shape(net.input_shape)}"
    parts = [f"{node.attrs['name']} " + (f"{node.attrs['rows']}×" if "rows" in node.attrs else "")
             + _shape(analysis[node.id].shape) for node in named]
    text = f"input{'s' if len(parts) > 1 else ''} " + ", ".join(parts)
    if any("rows" in node.attrs for node in named):
        text += " (an R×K input is R rows per image; a layer per row shows R× its output, and its numbers count all R)"
    return text


def named_inputs(analysis: Analysis) -> dict[str, dict]:
    """JSON's `inputs`: each named input's shape, and its rows per image for an [R, K] one."""
    net = analysis.network
    found: dict[str, dict] = {}
    for node_id in net.order:
        node = net.node(node_id)
        if not node.inputs and "name" in node.attrs:
            found[node.attrs["name"]] = {"shape": list(analysis[node_id].shape), "rows": node.attrs.get("rows")}
    return found


def totals(analysis: Analysis) -> dict[str, int]:
    return {
        "params": analysis.params, "weights": analysis.weights, "biases": analysis.biases,
        "trainable": analysis.trainable_params, "frozen": analysis.frozen_params,
        "activations": analysis.activations,
        "macs": analysis.macs, "flops": analysis.flops,
    }


def to_json(analysis: Analysis, memory: MemoryEstimate, compact: bool = False) -> str:
    doc = {
        "name": analysis.network.name,
        "input": list(analysis.network.input_shape),
        **({"inputs": named_inputs(analysis)} if named_inputs(analysis) else {}),
        "outputs": {name: list(shape) for name, shape in analysis.output_shapes().items()},
        "layers": [
            {"name": r.name, "kind": r.kind, "label": r.label, "output_shape": list(r.shape), "params": r.params,
             "weights": r.weights, "biases": r.biases, "activations": r.activations, "macs": r.macs,
             "flops": r.flops, "receptive_field": json_number(r.receptive_field[0]), "jump": json_number(r.jump[0]),
             "receptive_field_hw": [json_number(v) for v in r.receptive_field],
             "jump_hw": [json_number(v) for v in r.jump], "frozen": r.name in analysis.frozen,
             "warnings": list(r.warnings), **({"rows": r.rows} if r.rows else {})}
            for r in table_rows(analysis, compact)
        ],
        "totals": totals(analysis),
        "memory": {
            "batch": memory.batch, "dtype": memory.dtype, "optimizer": memory.optimizer,
            "parameters": memory.parameters, "gradients": memory.gradients,
            "optimizer_state": memory.optimizer_state, "activations": memory.activations, "total": memory.total,
            "kept_for_backward": {"values_per_image": memory.kept.values, "int64_indices_per_image": memory.kept.indices,
                                  "values_per_batch": memory.kept.per_batch},
            "amp": memory.amp,
            "target": memory.target.to_json() if memory.target is not None else None,
            **_peak_json(memory),
        },
        "warnings": [d.message for d in analysis.warnings],
    }
    import json  # only this format needs it

    return json.dumps(doc, indent=2) + "\n"


def _peak_json(memory: MemoryEstimate) -> dict:
    doc: dict = {}
    if memory.training is not None:
        t = memory.training
        doc["training_peak"] = {"bytes": t.peak.bytes, "phase": t.peak.phase, "layer": t.peak.layer or None,
                                "weight_copies": t.weight_copies}
    if memory.inference is not None:
        doc["inference_peak"] = {"bytes": memory.inference.bytes, "layer": memory.inference.layer}
    return doc


HEADER = ("name", "layer", "output", "params", "weights", "activations", "MACs", "FLOPs", "RF")
_RIGHT = frozenset({3, 4, 5, 6, 7, 8})  # the text table's right-aligned columns: the numbers


def _axes(pair: tuple[int | Fraction, int | Fraction]) -> str:
    """`7` when both axes agree, `7×3` (height × width) when they differ."""
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}×{pair[1]}"


def _rf(r: Row) -> str:
    """The RF cell: the field and its step, one number when both axes agree (`7 /2`), else per axis
    (`7×3 /2×1`, `/2×(1/2)` after upsampling). A layer per RoI sees its box: no fixed field."""
    if r.rows:
        return "box"
    if r.jump[0] == r.jump[1]:
        step = fmt_step(r.jump[0])
    else:  # a fraction in parentheses: /2×(1/2)
        step = " /" + "×".join(str(j) if isinstance(exact(j), int) else f"({j})" for j in r.jump)
    return f"{_axes(r.receptive_field)}{step}"


def _cells(r: Row) -> tuple[str, ...]:
    rf = _rf(r)
    mark = " !" if r.warnings else ""
    return (r.name, r.label + mark, _row_shape(r), f"{r.params:,}", f"{r.weights:,}", f"{r.activations:,}",
            f"{r.macs:,}", f"{r.flops:,}", rf)


def _summary(analysis: Analysis, memory: MemoryEstimate) -> list[str]:
    t = totals(analysis)
    size = memory.parameters // max(analysis.params, 1) if analysis.params else 4
    outputs = ", ".join(f"{name} " + (f"{analysis[node].row_count}×" if analysis[node].rows else "")
                        + _shape(analysis[node].shape) for name, node in analysis.network.outputs)
    return [
        f"params       {t['params']:,}  (weights {t['weights']:,} + biases {t['biases']:,})"
        + (f"; trainable {t['trainable']:,}, frozen {t['frozen']:,} (freeze: {', '.join(analysis.network.source.freeze)})"
           if t["frozen"] else ""),
        f"activations  {t['activations']:,} values/image ≈ {human_bytes(t['activations'] * size)} at {memory.dtype} (forward only)",
        f"MACs         {t['macs']:,}",
        f"FLOPs        {t['flops']:,}  ({t['flops'] / 1e9:.2f} GFLOPs, 2 × MACs of conv and fc)",
        f"outputs      {outputs}",
        f"training memory, batch {memory.batch}, {memory.dtype}, {memory.optimizer} (estimate):",
        f"  parameters       {human_bytes(memory.parameters):>10}",
        f"  gradients        {human_bytes(memory.gradients):>10}",
        f"  optimizer state  {human_bytes(memory.optimizer_state):>10}",
        f"  activations      {human_bytes(memory.activations):>10}  ({_kept(memory)} kept for backward)",
        f"  total            {human_bytes(memory.total):>10}",
    ] + _peaks(memory)


def _peaks(memory: MemoryEstimate) -> list[str]:
    """The liveness peaks (netc/analysis/liveness.py): what one training step and one inference_mode
    forward hold at their highest, and the layer running then."""
    lines: list[str] = []
    if memory.target is not None:
        lines.append(f"peaks for target {memory.target.describe()}")
    if memory.training is not None:
        peak = memory.training.peak
        where = f"in {peak.phase} at {peak.layer}" if peak.layer else "in optimizer.step"
        copies = f", autocast's half weights {human_bytes(memory.training.weight_copies)}" if memory.amp else ""
        lines.append(f"  training peak    {human_bytes(peak.bytes):>10}  ({where}; parameters, state and input batch included{copies})")
    if memory.inference is not None:
        peak = memory.inference
        lines.append(f"inference peak, batch {memory.batch}, {memory.dtype}: {human_bytes(peak.bytes)} of activations "
                     f"at {peak.layer} (inference_mode, input batch included)")
    return lines


def _kept(memory: MemoryEstimate) -> str:
    kept = memory.kept
    text = f"{kept.values:,} values/image"
    if kept.indices:
        text += f" + {kept.indices:,} int64 pool indices/image"
    if kept.per_batch:
        text += f" + {kept.per_batch:,} BN statistics/batch"
    return text


def to_text(analysis: Analysis, memory: MemoryEstimate, compact: bool = False) -> str:
    rows = [_cells(r) for r in table_rows(analysis, compact)]
    widths = [max(map(len, column)) for column in zip(HEADER, *rows)]
    # One format for every line, the numbers right-aligned (rjust), the rest left-aligned (ljust):
    # one str.format a row rather than nine calls.
    line = "  ".join(f"{{:{'>' if i in _RIGHT else '<'}{w}}}" for i, w in enumerate(widths)).format
    lines = [f"{analysis.network.name}: {inputs_text(analysis)}",
             line(*HEADER).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [line(*r).rstrip() for r in rows]
    lines.append("")
    lines.extend(_summary(analysis, memory))
    return "\n".join(lines) + "\n"


def to_markdown(analysis: Analysis, memory: MemoryEstimate, compact: bool = False) -> str:
    lines = [f"### {analysis.network.name}", "", "| " + " | ".join(HEADER) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * 6) + "|"]
    for r in table_rows(analysis, compact):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(r)) + " |")
    lines.append("")
    lines.extend(f"    {line}" for line in _summary(analysis, memory))
    return "\n".join(lines) + "\n"


def to_csv(analysis: Analysis, memory: MemoryEstimate, compact: bool = False) -> str:
    import csv  # only this format needs them
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "kind", "label", "output_shape", "params", "weights", "biases", "activations",
                     "macs", "flops", "receptive_field", "jump", "receptive_field_hw", "jump_hw"])
    for r in table_rows(analysis, compact):
        writer.writerow([r.name, r.kind, r.label, _row_shape(r).replace("×", "x"), r.params, r.weights, r.biases,
                         r.activations, r.macs, r.flops, r.receptive_field[0], r.jump[0],
                         "x".join(map(str, r.receptive_field)), "x".join(map(str, r.jump))])
    return out.getvalue()


def render_table(analysis: Analysis, memory: MemoryEstimate, fmt: str = "text", compact: bool = False) -> str:
    render = {"text": to_text, "markdown": to_markdown, "csv": to_csv, "json": to_json}[fmt]
    return render(analysis, memory, compact)
