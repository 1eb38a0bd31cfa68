"""torch's CPU convolutions through oneDNN (torch.backends.mkldnn enabled, its default).

oneDNN computes on blocked layouts whose channels are padded to the ISA's vector width: 16 floats
on AVX-512, 8 on AVX2. On NCHW tensors it reorders the input (unless it has 4 channels or fewer)
and the weight into blocked copies on each call, makes its output blocked and reorders it back; on
channels-last tensors it reads and writes the memory as it is and copies only the weight. Where
torch picks its own im2col kernel instead (LayerKind.native_cpu_columns: small convs at batch 1, a
pointwise conv on one thread) there are no reorders, only the column buffer.

Fitted with the CPU allocator's profiler events (tests/test_memory_peaks.py,
benchmarks/RESULTS-memory.md): AVX-512 on an Intel machine, AVX2 on an AMD EPYC one (also what
ONEDNN_MAX_CPU_ISA=AVX2 gives an AVX-512 machine).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...layers import KINDS
from ...layers.base import numel
from ..annotated import Analysis
from .base import HALF, Target, convolves, depthwise, value_bytes


@dataclass(frozen=True)
class OneDnnCpu(Target):
    """`block`: the channels of oneDNN's blocked layouts (16 on AVX-512, 8 on AVX2)."""

    block: int = 16

    def summary(self) -> str:
        return f"oneDNN, {self.block}-channel blocks, {self.threads} thread{'s' if self.threads != 1 else ''}"

    def blocked(self, channels: int) -> int:
        return -(-channels // self.block) * self.block

    def _grow(self, c_in: int, c_out: int) -> tuple[float, float]:
        """How much larger the blocked input and output are than the tensors (an input of 4
        channels or fewer is read as it is)."""
        return (self.blocked(c_in) / c_in if c_in > 4 else 1), self.blocked(c_out) / c_out

    def forward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, training: bool,
                          channels_last: bool = False) -> int:
        node, layer = analysis.network.node(node_id), analysis.info[node_id]
        kind = KINDS[node.kind]
        size = value_bytes(dtype)
        extra = self.common_workspace(analysis, node_id, batch, dtype, training)
        columns = kind.native_cpu_columns(node.attrs, list(layer.inputs), layer.shape, batch, dtype in HALF,
                                          self.threads)
        if columns is not None:  # torch's own im2col kernel, not oneDNN: no reorders
            extra += columns * size
            if channels_last:  # but the weight made channels-last first, as for oneDNN
                extra += layer.weights * size * (kind.channels_last_weight_copies(node.attrs, list(layer.inputs)) - 1)
            return extra
        if not convolves(kind, layer.weights):
            return extra
        c_in, c_out = layer.inputs[0][0], layer.shape[0]
        grow_in, grow_out = self._grow(c_in, c_out)
        if channels_last:  # oneDNN reads and writes NHWC memory as it is: only the weight is copied
            return extra + int(layer.weights * size * grow_in * grow_out) * kind.channels_last_weight_copies(
                node.attrs, list(layer.inputs))
        # On NCHW tensors: the input's and the weight's blocked copies, the blocked output made and
        # then reordered into the NCHW output: the larger of the two moments, beside the output.
        copied = batch * numel(layer.inputs[0]) * size * grow_in if c_in > 4 else 0
        out = batch * layer.activations * size
        blocked = out * grow_out
        weight = layer.weights * size * grow_in * grow_out
        if kind.strided_pointwise(node.attrs, list(layer.inputs)):
            # A 1×1 conv of stride > 1: the blocked output is made while the input's copy is alive.
            return extra + int(copied + weight + blocked)
        return extra + int(max(copied + weight + blocked - out, blocked))

    def backward_workspace(self, analysis: Analysis, node_id: str, batch: int, dtype: str, source_grads: bool,
                           channels_last: bool = False) -> int:
        """For the input's gradient, blocked copies of the output's gradient and of the weight and a
        blocked gradient; for the weight's, a blocked weight gradient reordered into `.grad`. On a
        channels-last input, what the kind says (LayerKind.channels_last_backward_values)."""
        node, layer = analysis.network.node(node_id), analysis.info[node_id]
        kind = KINDS[node.kind]
        size = value_bytes(dtype)
        columns = kind.native_cpu_columns(node.attrs, list(layer.inputs), layer.shape, batch, dtype in HALF,
                                          self.threads)
        if columns is not None:  # torch's own kernel: the im2col buffer again, one gradient at a time
            return columns * size
        if not convolves(kind, layer.weights):
            return 0
        reduction = self.weight_reduction(kind, node.attrs, list(layer.inputs), batch, channels_last)
        if channels_last:
            values = kind.channels_last_backward_values(node.attrs, list(layer.inputs), layer.shape, layer.weights, batch)
            return (values if reduction is None else reduction * layer.weights) * size
        c_in, c_out = layer.inputs[0][0], layer.shape[0]
        grow_in, grow_out = self._grow(c_in, c_out)
        weight = layer.weights * size * (grow_in * grow_out if reduction is None else reduction)
        if not source_grads:  # the first conv: no input gradient
            return int(weight)
        out = batch * layer.activations * size * grow_out
        inp = batch * numel(layer.inputs[0]) * size
        return int(max(out + weight + inp * grow_in - inp, weight))

    def weight_reduction(self, kind, attrs, inputs, batch: int, channels_last: bool) -> int | None:
        """Where oneDNN's backward-weights kernel reduces partial weight gradients: the copies of the
        weight it holds then (in place of the blocked weight and gradient), else None. AVX-512
        (fitted on ConvNeXt): a depthwise conv larger than 3×3 on a channels-last input keeps 256
        partial gradients beside its blocked weight, whatever the map's size or the batch."""
        (kh, kw), groups = kind.conv_window(attrs, inputs)
        if channels_last and depthwise(groups, inputs) and kh * kw > 9:
            return 257
        return None

    def optimizer_temporaries(self, optimizer: str, largest_weight: int, trained: int) -> int:
        # On CPU torch's optimizers run one parameter at a time (foreach is CUDA's default): Adam's
        # denominator sqrt(v) / c then its quotient; SGD and momentum update in place.
        return 2 * largest_weight if optimizer == "adam" else 0


@dataclass(frozen=True)
class OneDnnAvx2(OneDnnCpu):
    """AVX2: 8-channel blocks, and its backward-weights kernels' own partial gradients (measured,
    torch 2.13's oneDNN on an AMD EPYC, 1 and 2 threads, single convs and the zoo):
    - an input map smaller than the kernel on an axis (a 3×3 conv on 2×2 maps, a 7×7 on 6×6): 4
      per thread, for a dense conv on more than one image and a depthwise one at any batch;
    - else a depthwise conv larger than 3×3 on a channels-last input: 64 beside its blocked weight,
      whatever the map's size (256 on AVX-512)."""

    block: int = 8

    def weight_reduction(self, kind, attrs, inputs, batch: int, channels_last: bool) -> int | None:
        (kh, kw), groups = kind.conv_window(attrs, inputs)
        source = inputs[0]
        if len(source) == 3 and (source[1] < kh or source[2] < kw) and (depthwise(groups, inputs) or batch > 1):
            return 4 * self.threads
        if channels_last and depthwise(groups, inputs) and kh * kw > 9:
            return 65
        return None
