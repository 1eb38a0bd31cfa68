"""torch's own CPU kernels: oneDNN disabled (`torch.backends.mkldnn.enabled = False`, or a torch
built without it). Every convolution is slow_conv2d: an im2col buffer of C·kh·kw values per output
pixel for the whole batch (none for a 1×1 conv of stride 1 without padding), alive beside the
output in forward and made again in backward; no blocked copies. The ISA (ATEN_CPU_CAPABILITY)
changes how fast these kernels run, not what they allocate."""

from __future__ import annotations

from dataclasses import dataclass

from ...layers import KINDS
from ...layers.base import numel
from ..annotated import Analysis
from .base import HALF, Target, value_bytes


@dataclass(frozen=True)
class NativeCpu(Target):
    def summary(self) -> str:
        return f"torch's own kernels (mkldnn off), {self.threads} thread{'s' if self.threads != 1 else ''}"

    def _columns(self, analysis: Analysis, node_id: str, batch: int, dtype: str) -> int:
        node, layer = analysis.network.node(node_id), analysis.info[node_id]
        columns = KINDS[node.kind].native_cpu_columns(node.attrs, list(layer.inputs), layer.shape, batch,
                                                      dtype in HALF, self.threads, onednn=False)
        return (columns or 0) * value_bytes(dtype)

    def forward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, training: bool,
                          channels_last: bool = False) -> int:
        extra = self.common_workspace(analysis, node_id, batch, dtype, training)
        node, layer = analysis.network.node(node_id), analysis.info[node_id]
        kind = KINDS[node.kind]
        columns = self._columns(analysis, node_id, batch, dtype)
        if not kind.convolution:
            return extra + columns
        _, groups = kind.conv_window(node.attrs, list(layer.inputs))
        if groups == 1:
            return extra + columns
        # A grouped conv runs group by group: a contiguous copy of the group's input channels, its
        # columns and output, the groups' outputs kept until torch.cat joins them into the output.
        size = value_bytes(dtype)
        group_input = batch * numel(layer.inputs[0]) // groups * size
        return extra + batch * layer.activations * size + columns // groups + group_input

    def backward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, source_grads: bool,
                           channels_last: bool = False) -> int:
        return self._columns(analysis, node_id, batch, dtype)

    def optimizer_temporaries(self, optimizer: str, largest_weight: int, trained: int) -> int:
        return 2 * largest_weight if optimizer == "adam" else 0  # one parameter at a time, as with oneDNN
