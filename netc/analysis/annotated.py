"""The annotated network that `infer` computes: each layer's facts (LayerInfo) and the network
with them (Analysis), which the table, the memory estimate, the picture and codegen read."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import TYPE_CHECKING

from ..errors import Diagnostic
from ..graph.ir import Network, Node
from ..graph.scopes import scope_members
from ..layers import KINDS, Shape

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class LayerInfo:
    shape: Shape
    inputs: tuple[Shape, ...]
    weights: int
    biases: int
    macs: int
    flops: int
    activations: int  # values in the output
    new_tensor: bool  # the output is a new tensor (False for a view of the input, or the input itself)
    # Per axis, (height, width): the span of input pixels one output reads, and the distance in
    # input pixels between neighbouring outputs (1/2 after a ×2 upsample; (2, 1) after a 3×1 pool
    # of stride (2, 1)). Fractions after upsampling.
    receptive_field: tuple[int | Fraction, int | Fraction]
    jump: tuple[int | Fraction, int | Fraction]
    label: str
    warnings: tuple[str, ...] = ()
    # "" for a per-image tensor; for one per row of a named [R, K] input (per RoI), that input's
    # name, and `shape` is one row's: `macs`, `flops` and `activations` then count all R rows.
    rows: str = ""
    row_count: int = 1

    @property
    def params(self) -> int:
        return self.weights + self.biases


@dataclass(frozen=True)
class Analysis:
    network: Network
    info: dict[str, LayerInfo]
    warnings: tuple[Diagnostic, ...] = field(default=())  # input really lost: the notes' "doesn't fit"
    remarks: tuple[Diagnostic, ...] = field(default=())  # windows that leave only padding unread (--pedantic)

    def __getitem__(self, node_id: str) -> LayerInfo:
        return self.info[node_id]

    def rows(self) -> list[tuple[Node, LayerInfo]]:
        return [(self.network.node(n), self.info[n]) for n in self.network.order]

    @property
    def params(self) -> int:
        return sum(i.params for i in self.info.values())

    @cached_property
    def frozen(self) -> frozenset[str]:
        """The layers whose parameters the spec's `freeze:` keeps from training."""
        names = self.network.source.freeze
        if not names:
            return frozenset()
        members = scope_members(n for n in self.network.order if self.network.node(n).inputs)
        return frozenset(node for name in names for node in members.get(name, ()))

    @property
    def frozen_params(self) -> int:
        return sum(self.info[n].params for n in self.frozen)

    @property
    def trainable_params(self) -> int:
        return self.params - self.frozen_params

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
                   if i.new_tensor and not KINDS[self.network.node(n).kind].foldable)

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The analysed network as a networkx DiGraph, for users' own graph work: one graph node per
        layer (keyed by its name) with `kind`, `attrs`, `scope`, `shape`, `params`, `weights`, `biases`,
        `macs`, `flops`, `label` and `span`; one edge per input with `index` (its position) and
        `shape_only` (read for its shape only, as the automatic projection reads its body). Built on
        first access, so only its users import networkx."""
        import networkx as nx

        graph = nx.DiGraph(name=self.network.name)
        for node_id in self.network.order:
            node, info = self.network.node(node_id), self.info[node_id]
            graph.add_node(node_id, kind=node.kind, attrs=dict(node.attrs), scope=node.scope, shape=info.shape,
                           params=info.params, weights=info.weights, biases=info.biases, macs=info.macs,
                           flops=info.flops, label=info.label, span=node.span)
            for index, source in enumerate(node.inputs):
                graph.add_edge(source, node_id, index=index, shape_only=index in node.shape_only)
        return graph

    def output_shapes(self) -> dict[str, Shape]:
        return {name: self.info[node_id].shape for name, node_id in self.network.outputs}

