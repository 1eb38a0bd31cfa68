"""Network → Analysis: shapes, parameters, MACs/FLOPs, activations and receptive fields per layer.

Shapes flow in graph order through each kind's shape rule. Every error found is reported, not
only the first: a layer whose input failed is skipped rather than reported again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Diagnostic, NetcError
from .ir import Network, Node
from .layers import KINDS, Shape, ShapeError, numel

MAX_ERRORS = 20


@dataclass(frozen=True)
class LayerInfo:
    shape: Shape
    inputs: tuple[Shape, ...]
    weights: int
    biases: int
    macs: int
    flops: int
    activations: int  # values in the output
    stored: bool  # a new tensor kept for backward (not a view)
    receptive_field: int
    jump: int  # distance in input pixels between neighbouring outputs
    label: str
    warnings: tuple[str, ...] = ()

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class Analysis:
    network: Network
    info: dict[str, LayerInfo]
    warnings: tuple[Diagnostic, ...] = field(default=())

    def __getitem__(self, node_id: str) -> LayerInfo:
        return self.info[node_id]

    def rows(self) -> list[tuple[Node, LayerInfo]]:
        return [(self.network.node(n), self.info[n]) for n in self.network.order]

    @property
    def params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def weights(self) -> int:
        return sum(i.weights for i in self.info.values())

    @property
    def biases(self) -> int:
        return sum(i.biases for i in self.info.values())

    @property
    def macs(self) -> int:
        return sum(i.macs for i in self.info.values())

    @property
    def flops(self) -> int:
        return sum(i.flops for i in self.info.values())

    @property
    def activations(self) -> int:
        """Values in the outputs, one volume per layer as the lecture notes count them: the input
        and every conv/pool/fc/merge output; activations, BN and dropout are folded into their layer,
        and a view (an identity shortcut, a reshape) is no new volume."""
        return sum(i.activations for n, i in self.info.items()
                   if i.stored and not KINDS[self.network.node(n).kind].foldable)

    def output_shapes(self) -> dict[str, Shape]:
        return {name: self.info[node_id].shape for name, node_id in self.network.outputs}

    def _repr_svg_(self) -> str | None:
        """Jupyter shows an analysed network as its picture (None, the plain repr, without Graphviz)."""
        from .rendering import svg_or_none

        return svg_or_none(self)


def _context(network: Network, node: Node) -> str:
    ancestors = network.ancestors(node.id)
    pools = sum(1 for a in ancestors if KINDS[network.node(a).kind].category == "pool")
    where = node.id
    return f" at {where}" + (f" after {pools} pool{'s' if pools != 1 else ''}" if pools else "")


def infer(network: Network) -> Analysis:
    """Annotate every layer. Raises NetcError listing all shape errors, with warnings attached."""
    info: dict[str, LayerInfo] = {}
    errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    for node_id in network.order:
        node = network.node(node_id)
        if any(i not in info for i in node.inputs):
            continue  # an input already failed and was reported
        kind = KINDS[node.kind]
        in_shapes = [info[i].shape for i in node.inputs]
        try:
            shape, notes = kind.infer(node.attrs, in_shapes)
            for d in shape:
                if d <= 0:
                    raise ShapeError(f"output size {d} is not positive")
            weights, biases = kind.params(node.attrs, in_shapes, shape)
            macs = kind.macs(node.attrs, in_shapes, shape)
            flops = kind.flops(node.attrs, in_shapes, shape)
            stored = kind.stores_output(node.attrs, in_shapes)
            if node.inputs:
                data = [i for k, i in enumerate(node.inputs) if k not in node.shape_only] or list(node.inputs)
                widest = max(data, key=lambda i: info[i].receptive_field)  # a shape-only input sees nothing
                extent, stride = kind.receptive(node.attrs, in_shapes)
                rf = info[widest].receptive_field + (extent - 1) * info[widest].jump
                jump = info[widest].jump * stride
            else:
                rf, jump = 1, 1
        except ShapeError as exc:
            errors.append(Diagnostic("error", f"{exc}{_context(network, node)}", node.span, exc.hint))
            if len(errors) >= MAX_ERRORS:
                break
            continue
        for note in notes:
            warnings.append(Diagnostic("warning", f"{note} (at {node.id})", node.span, node=node.id))
        info[node_id] = LayerInfo(
            shape=tuple(shape), inputs=tuple(in_shapes), weights=weights, biases=biases, macs=macs, flops=flops,
            activations=numel(shape), stored=stored, receptive_field=rf, jump=jump,
            label=kind.label(node.attrs), warnings=tuple(notes),
        )
    if errors:
        raise NetcError(errors + warnings)
    return Analysis(network, info, tuple(warnings))
