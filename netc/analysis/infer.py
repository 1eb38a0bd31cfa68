"""Network → Analysis: shapes, parameters, MACs/FLOPs, activations and receptive fields per layer.

Shapes flow in graph order through each kind's shape rule. Every error found is reported, not
only the first: a layer whose input failed is skipped rather than reported again. The result
types, Analysis and LayerInfo, are in netc/analysis/annotated.py.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..errors import Diagnostic, Diagnostics, NetcError
from ..graph.ir import Network, Node
from ..layers import KINDS, ShapeError, numel
from ..layers.base import LayerKind, Misfit, exact, one_value
from ..layers.conv import per_axis
from .annotated import Analysis, LayerInfo


def _context(network: Network, node: Node) -> str:
    ancestors = network.ancestors(node.id)
    pools = sum(1 for a in ancestors if KINDS[network.node(a).kind].pools)
    where = node.id
    return f" at {where}" + (f" after {pools} pool{'s' if pools != 1 else ''}" if pools else "")


INT64_MAX = 2**63 - 1  # torch indexes tensors with int64: no tensor may hold more values


def infer(network: Network) -> Analysis:
    """Annotate every layer. Raises NetcError listing all shape errors, with warnings attached.

    Attributes a kind decides from its inputs (`LayerKind.resolve`, the automatic projection's
    stride) are added to the node: the analysis holds the network with them."""
    info: dict[str, LayerInfo] = {}
    errors = Diagnostics()
    misfits: dict[str, Misfit] = {}
    resolved: dict[str, Node] = {}
    for node_id in network.order:
        node = network.node(node_id)
        if any(i not in info for i in node.inputs):
            continue  # an input already failed and was reported
        kind = KINDS[node.kind]
        in_shapes = [info[i].shape for i in node.inputs]
        try:
            if type(kind).resolve is not LayerKind.resolve:  # most kinds decide nothing: no jumps to gather
                extra = kind.resolve(node.attrs, in_shapes, [one_value(info[i].jump) for i in node.inputs])
                if extra:
                    node = resolved[node_id] = replace(node, attrs={**node.attrs, **extra})
            shape, notes = kind.infer(node.attrs, in_shapes)
            for d in shape:
                if d <= 0:
                    raise ShapeError(f"output size {d} is not positive")
            weights, biases = kind.params(node.attrs, in_shapes, shape)
            size = numel(shape)
            for what, count in (("output", size), ("weights", weights)):
                if count > INT64_MAX:
                    raise ShapeError(f"the layer's {what} would hold {count:.3g} values, more than torch can index "
                                     "(2^63 − 1)", "make the layer smaller")
            rows, row_count = _rows(kind, node, info)
            macs = kind.macs(node.attrs, in_shapes, shape) * row_count
            flops = kind.flops(node.attrs, in_shapes, shape) * row_count
            size *= row_count
            new_tensor = kind.makes_new_tensor(node.attrs, in_shapes)
            if node.inputs:
                rf, jump = _receptive(kind.receptive(node.attrs, in_shapes), node.data_inputs or node.inputs,
                                      tuple(shape[1:]), info)
            else:
                rf, jump = (1, 1), (1, 1)
        except ShapeError as exc:
            errors.add(Diagnostic("error", f"{exc}{_context(network, node)}", node.span, exc.hint))
            if errors.full:
                break
            continue
        for note in notes:
            misfits[node_id] = note
        info[node_id] = LayerInfo(
            shape=tuple(shape), inputs=tuple(in_shapes), weights=weights, biases=biases, macs=macs, flops=flops,
            activations=size, new_tensor=new_tensor, receptive_field=rf, jump=jump,
            label=kind.label(node.attrs), rows=rows, row_count=row_count,
        )
    if resolved:
        network = replace(network, node_map={**network.node_map, **resolved})
    warnings, remarks = _misfit_diagnostics(network, misfits)
    for diagnostic in warnings:  # a layer's own warnings, for the table and the picture
        info[diagnostic.node] = replace(info[diagnostic.node], warnings=(misfits[diagnostic.node].message,))
    warnings = list(network.warnings) + warnings
    if errors:
        raise NetcError(errors.found + warnings)
    return Analysis(network, info, tuple(warnings), tuple(remarks))


def _rows(kind: LayerKind, node: Node, info: dict[str, LayerInfo]) -> tuple[str, int]:
    """Whether a layer's output is per image ("", 1) or per row of a named [R, K] input (its name,
    R): an input says so itself, a roi operator takes its boxes' rows, any other layer its data
    inputs', which must agree: a per-RoI tensor cannot meet a per-image one."""
    if not node.inputs:
        return (node.attrs["name"], node.attrs["rows"]) if "rows" in node.attrs else ("", 1)
    if kind.rows_input is not None:
        source = info[node.inputs[kind.rows_input]]
        if not source.rows:
            raise ShapeError(f"{node.kind} reads its boxes from a named input of R rows, and "
                             f"{node.inputs[kind.rows_input]} is per image",
                             "declare the boxes as input: {image: [3, H, W], rois: [R, 5]} and read <rois>")
        return source.rows, source.row_count
    data = node.data_inputs or node.inputs
    first = info[data[0]]
    for other in data[1:]:
        if info[other].rows != first.rows:
            def what(layer: LayerInfo) -> str:
                return f"per row of <{layer.rows}>" if layer.rows else "per image"
            raise ShapeError(f"{node.kind} reads a tensor {what(first)} ({data[0]}) and one {what(info[other])} "
                             f"({other}): they do not line up",
                             "a tensor per RoI comes out of roipool(<rois>, …) or roialign(<rois>, …); a per-image "
                             "map reaches it only through them")
    return first.rows, first.row_count


def _receptive(window: tuple[Any, Any], data: tuple[str, ...], grid_size: tuple[int, ...],
               info: dict[str, LayerInfo]) -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """The receptive field and the jump of a layer's output, per axis (height, width), from its
    window (extent, stride: each one number or a pair) and its data inputs (a shape-only input sees
    nothing). Each axis sees as far as its widest input; the output's grid is that of an input of
    its own size: a broadcast C×1×1 gate (squeeze-and-excitation) widens what an output sees, not
    the step between outputs."""
    if len(data) == 1:  # most layers: one input, nothing to choose between
        source = info[data[0]]
        (extent_h, extent_w), (stride_h, stride_w) = per_axis(window[0]), per_axis(window[1])
        (rf_h, rf_w), (jump_h, jump_w) = source.receptive_field, source.jump
        return ((exact(rf_h + (extent_h - 1) * jump_h), exact(rf_w + (extent_w - 1) * jump_w)),
                (exact(jump_h * stride_h), exact(jump_w * stride_w)))
    grid = [i for i in data if info[i].shape[1:] == grid_size] or list(data)
    rf, jump = [], []
    for axis, (extent, stride) in enumerate(zip(per_axis(window[0]), per_axis(window[1]))):
        widest = max(data, key=lambda i: info[i].receptive_field[axis])
        on_grid = max(grid, key=lambda i: info[i].receptive_field[axis])
        rf.append(exact(info[widest].receptive_field[axis] + (extent - 1) * info[widest].jump[axis]))
        jump.append(exact(info[on_grid].jump[axis] * stride))  # a Fraction after upsampling
    return (rf[0], rf[1]), (jump[0], jump[1])


def _lost(network: Network, node_id: str, misfits: dict[str, Misfit]) -> tuple[int, int]:
    """Rows and columns of its input that `node_id` leaves unread and that no other reader of the
    same tensor reads either: what the network really loses there."""
    misfit = misfits.get(node_id)
    if misfit is None or misfit.lost == (0, 0):
        return 0, 0
    source = network.node(node_id).inputs[0]
    lost = misfit.lost
    for reader in network.users(source):
        if reader == node_id or source not in network.node(reader).data_inputs:
            continue
        other = misfits.get(reader)
        other_lost = other.lost if other is not None else (0, 0)  # it reads every row
        lost = (min(lost[0], other_lost[0]), min(lost[1], other_lost[1]))
    return lost


def _misfit_diagnostics(network: Network, misfits: dict[str, Misfit]) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """The "doesn't fit" notes: warnings where input is really lost, remarks (shown with
    --pedantic) where only padding goes unread or another layer reads what this one leaves out."""
    warnings: list[Diagnostic] = []
    remarks: list[Diagnostic] = []
    for node_id, misfit in misfits.items():
        node = network.node(node_id)
        lost = _lost(network, node_id, misfits)
        message = f"{misfit.message} (at {node_id})"
        if lost != (0, 0):
            warnings.append(Diagnostic("warning", message, node.span, node=node_id))
            continue
        if misfit.lost != (0, 0):
            message += "; another layer reads them, so the network loses no input"
        remarks.append(Diagnostic("warning", message, node.span, node=node_id))
    return warnings, remarks


# Analysis and LayerInfo live in netc/analysis/annotated.py; netc/backends/codegen still imports Analysis from here.
__all__ = ["Analysis", "LayerInfo", "infer"]
