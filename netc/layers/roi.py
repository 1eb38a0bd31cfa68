"""Region-of-interest pooling: Fast R-CNN's RoI max pooling and Mask R-CNN's RoIAlign.

Each reads a per-image feature map and a named [R, 5] input of boxes, one row per RoI as torchvision's
operators take them: (image index in the batch, x1, y1, x2, y2) in input pixels, `scale` mapping
them onto the map (1/16 after four stride-2 stages and a stride-16 conv stack). The output is one
C×size×size map per RoI: the layers after it are per RoI (netc/analysis/infer.py counts them R times).

The generated file stays standalone: it carries a pure-torch implementation of each operator,
written from torchvision's CPU/CUDA kernels (roi_pool_kernel.cpp, roi_align_kernel.cpp), and
tests/test_roi.py compares both with torchvision's pure-Python reference and a naive one, and with
the compiled operators where torchvision's C++ ops load. Neither has parameters; torch's FLOP
counter counts no work for them, and neither does netc.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from .base import Attr, Constructor, LayerKind, Saved, ShapeError, fmt_shape, numel, one_value
from .conv import per_axis

BOX_COLUMNS = 5  # the image's index in the batch, then x1, y1, x2, y2


def _roi_shapes(name: str, inputs) -> tuple[int, int, int]:
    if len(inputs) != 2:
        raise ShapeError(f"{name} reads a feature map and one point of boxes, {name}(<rois>, 7); "
                         f"got {len(inputs) - 1} point(s)")
    feature, boxes = inputs
    if len(feature) != 3:
        raise ShapeError(f"{name} pools a C×H×W feature map, got {fmt_shape(feature)}")
    if len(boxes) != 1 or boxes[0] != BOX_COLUMNS:
        columns = boxes[0] if len(boxes) == 1 else None
        hint = ("4 columns are one image's boxes; torchvision's operators take every image's boxes in one "
                "[R, 5] tensor, the image's index in the batch first" if columns == 4 else
                "declare the boxes as a named input of R rows: input: {image: [3, H, W], rois: [R, 5]}")
        raise ShapeError(f"{name} reads boxes of {BOX_COLUMNS} columns (batch index, x1, y1, x2, y2), got "
                         + (f"{columns} column(s)" if columns is not None else f"a tensor of {fmt_shape(boxes)}"),
                         hint)
    return feature


# Lines within ruff's 88 columns: the generated file is formatted.
ROI_POOL = """\
class RoIPool(nn.Module):
    # Fast R-CNN's RoI max pooling, as torchvision.ops.roi_pool computes it: each box
    # (batch index, x1, y1, x2, y2), scaled and rounded to map cells, split into
    # size bins; each bin the maximum of its cells (0 for a bin outside the map).
    def __init__(self, output_size: tuple[int, int], spatial_scale: float) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, x: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        # C's round(): halves away from zero, as the operator's kernel rounds.
        scaled = rois[:, 1:] * self.spatial_scale
        corners = (scaled.sign() * (scaled.abs() + 0.5).floor()).long().tolist()
        images = rois[:, 0].long().tolist()
        pooled = []
        for image, (x1, y1, x2, y2) in zip(images, corners):
            h, w = max(y2 - y1 + 1, 1), max(x2 - x1 + 1, 1)
            # The box's cells; those outside the map are -inf, so that a bin's maximum
            # is over its cells inside the map (adaptive pooling's bins are the
            # operator's: floor(i * h / size) to ceil((i + 1) * h / size)).
            top, left = min(max(y1, 0), height), min(max(x1, 0), width)
            bottom, right = min(max(y1 + h, 0), height), min(max(x1 + w, 0), width)
            if bottom <= top or right <= left:  # the box misses the map: every bin is 0
                pooled.append(x.new_zeros((x.shape[1], *self.output_size)))
                continue
            region = x[image, :, top:bottom, left:right]
            pad = (left - x1, x1 + w - right, top - y1, y1 + h - bottom)
            region = nn.functional.pad(region, pad, value=float("-inf"))
            binned = nn.functional.adaptive_max_pool2d(region, self.output_size)
            pooled.append(binned.masked_fill(binned == float("-inf"), 0.0))
        if not pooled:
            return x.new_zeros((0, x.shape[1], *self.output_size))
        return torch.stack(pooled)
"""

ROI_ALIGN = """\
class RoIAlign(nn.Module):
    # Mask R-CNN's RoIAlign, as torchvision.ops.roi_align computes it: each box
    # (batch index, x1, y1, x2, y2), scaled (and moved half a cell with aligned),
    # split into size bins; each bin the mean of sampling x sampling bilinear
    # samples (sampling <= 0: ceil(box / size) per axis, per box), a sample
    # farther than one cell outside the map counting 0.
    def __init__(
        self,
        output_size: tuple[int, int],
        spatial_scale: float,
        sampling_ratio: int,
        aligned: bool,
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, x: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
        offset = 0.5 if self.aligned else 0.0
        boxes = rois[:, 1:] * self.spatial_scale - offset
        size_h = boxes[:, 3] - boxes[:, 1]
        size_w = boxes[:, 2] - boxes[:, 0]
        if not self.aligned:
            size_h, size_w = size_h.clamp(min=1.0), size_w.clamp(min=1.0)
        (ph, pw), images = self.output_size, rois[:, 0].long()
        if self.sampling_ratio > 0:  # the same samples in every box: all boxes at once
            grid = self.sampling_ratio
            ys = self._samples(boxes[:, 1], size_h / ph, ph, grid, grid)
            xs = self._samples(boxes[:, 0], size_w / pw, pw, grid, grid)
            values = self._bilinear(x, images, ys, xs)
            return values.unflatten(2, (ph, grid)).unflatten(4, (pw, grid)).mean((3, 5))
        pooled = []
        for k in range(rois.shape[0]):
            gh = max(int(torch.ceil(size_h[k] / ph)), 0)
            gw = max(int(torch.ceil(size_w[k] / pw)), 0)
            ys = self._samples(boxes[k : k + 1, 1], size_h[k : k + 1] / ph, ph, gh, gh)
            xs = self._samples(boxes[k : k + 1, 0], size_w[k : k + 1] / pw, pw, gw, gw)
            values = self._bilinear(x, images[k : k + 1], ys, xs)
            values = values.unflatten(2, (ph, gh)).unflatten(4, (pw, gw))
            pooled.append(values.sum((3, 5)) / max(gh * gw, 1))
        if not pooled:
            return x.new_zeros((0, x.shape[1], ph, pw))
        return torch.cat(pooled)

    @staticmethod
    def _samples(start, step, bins: int, grid: int, count: int) -> torch.Tensor:
        # [K, bins * count]: bin b's samples at start + b * step + (i + 0.5) * step / grid.
        b = torch.arange(bins, device=start.device, dtype=start.dtype)
        i = torch.arange(count, device=start.device, dtype=start.dtype) + 0.5
        at = b[:, None] * step[:, None, None] + i * (step / max(grid, 1))[:, None, None]
        return (start[:, None, None] + at).flatten(1)

    @staticmethod
    def _bilinear(x, images, ys, xs) -> torch.Tensor:
        # [K, C, len(ys), len(xs)]: the map read bilinearly at every (y, x) pair of a box.
        height, width = x.shape[-2:]
        rows, cols = RoIAlign._axis(ys, height), RoIAlign._axis(xs, width)
        out = 0
        for y, wy in zip(*rows):
            for c, wx in zip(*cols):
                picked = x[images[:, None, None], :, y[:, :, None], c[:, None, :]]
                weight = wy[:, :, None] * wx[:, None, :]
                out = out + picked.permute(0, 3, 1, 2) * weight[:, None]
        return out

    @staticmethod
    def _axis(at: torch.Tensor, size: int):
        # The two cells each sample reads along one axis, and their weights (0 for a
        # sample farther than one cell outside the map).
        inside = ((at >= -1.0) & (at <= size)).to(at.dtype)
        at = at.clamp(min=0)
        low = at.long()
        edge = low >= size - 1
        low = torch.where(edge, size - 1, low)
        high = torch.where(edge, size - 1, low + 1)
        frac = torch.where(edge, 0.0, at - low)
        return (low, high), ((1 - frac) * inside, frac * inside)
"""


@dataclass(frozen=True)
class _RoiKind(LayerKind):
    category = "pool"
    inputs = (2, 2)  # the map, and the boxes read as a point
    rows_input = 1  # one output per box: the layers after it are per RoI

    def infer(self, attrs, inputs):
        channels = _roi_shapes(self.name, inputs)[0]
        height, width = per_axis(attrs["size"])
        return (channels, height, width), []

    def symbolic_shape(self, attrs, inputs):
        height, width = per_axis(attrs["size"])
        return (inputs[0][0], height, width)

    def receptive(self, attrs, inputs):
        return 1, 1  # a box's window is the data's, not the layer's: no fixed receptive field to state

    def saved(self, attrs, inputs, out):
        # The boxes and the position of each bin's maximum (roi_pool's argmax), not the map.
        return Saved(inputs=(1,), indices=numel(out))

    def forward(self, attrs, module, args, inputs):
        return f"{module}({args[0]}, {args[1]})"


def _size(attrs) -> str:
    return str(one_value(per_axis(attrs["size"]))).replace(", ", "×").strip("()")


@dataclass(frozen=True)
class RoIPool(_RoiKind):
    """Fast R-CNN's RoI pooling (torchvision.ops.roi_pool): each box's cells of the map, split into
    size × size bins, max-pooled."""

    name = "roipool"
    attrs = (Attr("size", "int", 7, minimum=1, pair=True), Attr("scale", "float", 1.0, minimum=0))
    words = {"roipool": {}}
    defaults_key = "roipool"

    def not_exportable(self, attrs):
        return "its pure-torch operator loops over the boxes, and a trace would fix their number"

    def label(self, attrs):
        return f"roipool {_size(attrs)} ×{attrs['scale']:g}"

    def constructor(self, attrs, inputs):
        return Constructor("RoIPool", (tuple(per_axis(attrs["size"])), float(attrs["scale"])), source=ROI_POOL)


@dataclass(frozen=True)
class RoIAlign(_RoiKind):
    """Mask R-CNN's RoIAlign (torchvision.ops.roi_align): each box split into size × size bins, each
    the mean of bilinear samples of the map; `sampling` samples per bin and axis (0 or less:
    ceil(box / size), per box), `aligned` moves the box half a cell (Detectron2's correction)."""

    name = "roialign"
    attrs = (Attr("size", "int", 7, minimum=1, pair=True), Attr("scale", "float", 1.0, minimum=0),
             Attr("sampling", "int", -1), Attr("aligned", "bool", False))
    words = {"roialign": {}}
    defaults_key = "roialign"

    def saved(self, attrs, inputs, out):
        return Saved(inputs=(1,))  # backward scatters into the map's shape: it keeps the boxes, not the map

    def not_exportable(self, attrs):
        if attrs["sampling"] > 0:
            return None
        return ("with sampling ≤ 0 (a number of samples per box) its pure-torch operator loops over the boxes, "
                "and a trace would fix their number")

    def label(self, attrs):
        sampling = f" s{attrs['sampling']}" if attrs["sampling"] > 0 else ""
        return f"roialign {_size(attrs)} ×{attrs['scale']:g}{sampling}" + (" aligned" if attrs["aligned"] else "")

    def constructor(self, attrs, inputs):
        return Constructor("RoIAlign", (tuple(per_axis(attrs["size"])), float(attrs["scale"]),
                                        int(attrs["sampling"]), bool(attrs["aligned"])), source=ROI_ALIGN)


MULTISCALE_ROI_ALIGN = """\
class MultiScaleRoIAlign(nn.Module):
    # RoIAlign over the levels of a feature pyramid, as torchvision.ops.MultiScaleRoIAlign:
    # each box from the level the FPN paper's heuristic gives its size, floor(4 +
    # log2(sqrt(area) / 224) + 1e-6), clamped to the levels there are. `scales` are the
    # levels' 1 / stride, finest first, fixed by netc from the spec's shapes.
    def __init__(
        self,
        output_size: tuple[int, int],
        scales: tuple[float, ...],
        sampling_ratio: int,
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.levels = nn.ModuleList(RoIAlign(output_size, scale, sampling_ratio, False) for scale in scales)
        # The levels' numbers, log2 of their strides (p2: 2): the first and the last.
        self.k_min = round(1 / scales[0]).bit_length() - 1
        self.k_max = round(1 / scales[-1]).bit_length() - 1

    def forward(self, rois: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        size = ((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2])).sqrt()
        level = torch.floor(4 + torch.log2(size / 224) + torch.tensor(1e-6, dtype=size.dtype))
        level = (level.clamp(min=self.k_min, max=self.k_max) - self.k_min).long()
        out = maps[0].new_zeros((rois.shape[0], maps[0].shape[1], *self.output_size))
        for k, (align, x) in enumerate(zip(self.levels, maps)):
            chosen = torch.where(level == k)[0]
            out[chosen] = align(x, rois[chosen]).to(out.dtype)
        return out
"""


@dataclass(frozen=True)
class MultiScaleRoIAlign(LayerKind):
    """RoIAlign over named FPN levels (torchvision.ops.MultiScaleRoIAlign, Faster and Mask R-CNN's
    box pooler): `from(<rois>) - multiscaleroialign(<p2>, <p3>, <p4>, <p5>, 7, sampling=2)` pools
    each box from one level, chosen by the FPN paper's heuristic (canonical size 224 at level 4).
    The running tensor is the boxes; the points are the levels, finest first, each half the last's
    size: their scales are 1 / their strides in the network (netc's receptive-field step), as
    torchvision infers them from the image and map sizes."""

    name = "multiscaleroialign"
    category = "pool"
    inputs = (2, None)
    rows_input = 0
    attrs = (Attr("size", "int", 7, minimum=1, pair=True), Attr("sampling", "int", -1))
    words = {"multiscaleroialign": {}}
    defaults_key = "multiscaleroialign"

    def resolve(self, attrs, inputs, jumps):
        strides = []
        for k, jump in enumerate(jumps[1:], start=1):
            if isinstance(jump, tuple) or int(jump) != jump or int(jump) & (int(jump) - 1):
                raise ShapeError(f"multiscaleroialign's level {k} is at a step of {jump} input pixels: each level "
                                 "must be a power-of-two stride of the input (an FPN level)")
            strides.append(int(jump))
        for finer, coarser in itertools.pairwise(strides):
            if coarser != 2 * finer:
                raise ShapeError(f"multiscaleroialign's levels are at strides {', '.join(map(str, strides))}: each "
                                 "must be twice the one before, finest first, as FPN's p2, p3, p4, p5",
                                 "read the levels in order: multiscaleroialign(<p2>, <p3>, <p4>, <p5>)")
        return {"scales": tuple(1.0 / stride for stride in strides)}

    def infer(self, attrs, inputs):
        boxes, levels = inputs[0], inputs[1:]
        if len(boxes) != 1 or boxes[0] != BOX_COLUMNS:
            raise ShapeError(f"multiscaleroialign pools the boxes of the running tensor, [R, {BOX_COLUMNS}], got "
                             f"{fmt_shape(boxes)}", "go on from the boxes first: from(<rois>) - "
                             "multiscaleroialign(<p2>, <p3>, <p4>, <p5>, 7)")
        for level in levels:
            if len(level) != 3 or level[0] != levels[0][0]:
                raise ShapeError("multiscaleroialign's levels must be C×H×W maps of the same channels, got "
                                 + ", ".join(fmt_shape(s) for s in levels))
        height, width = per_axis(attrs["size"])
        return (levels[0][0], height, width), []

    def receptive(self, attrs, inputs):
        return 1, 1

    def saved(self, attrs, inputs, out):
        return Saved(inputs=(0,))  # the boxes; backward scatters into the levels' shapes

    def label(self, attrs):
        return f"multiscaleroialign {_size(attrs)} ×{len(attrs.get('scales', ()))} levels"

    def constructor(self, attrs, inputs):
        return Constructor("MultiScaleRoIAlign", (tuple(per_axis(attrs["size"])), tuple(attrs["scales"]),
                                                  int(attrs["sampling"])), source=MULTISCALE_ROI_ALIGN,
                           needs=(("RoIAlign", ROI_ALIGN),))

    def forward(self, attrs, module, args, inputs):
        return f"{module}({args[0]}, [{', '.join(args[1:])}])"

    def not_exportable(self, attrs):
        return "it picks each box's level in Python (a mask per level), which a trace would fix"


__all__ = ["MultiScaleRoIAlign", "RoIAlign", "RoIPool"]
