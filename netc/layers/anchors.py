"""Anchors: the reference boxes of Faster R-CNN's region proposal network (and RetinaNet's heads).

A declared, non-learned part: `from(<image>) - anchors(<p2>, <p3>, <p4>, <p5>, <p6>, sizes=(32, 64,
128, 256, 512), ratios=(0.5, 1, 2))`. The running tensor is the image (only its size is read), the
points the feature levels, finest first; every location of a level gets one anchor per size of the
level and ratio, centred on the location's cell in input pixels, as torchvision's AnchorGenerator
(torchvision/models/detection/anchor_utils.py) makes them: a level's stride is the image size
floor-divided by the level's, a base anchor of size s and ratio r (height / width) is
round(±s·√(1/r)/2, ±s·√r/2), and the anchors run level by level, row by row, location by location,
base anchor by base anchor. `sizes` are shared out among the levels in order, the same number each
(FPN's one size per level; RetinaNet's three octave scales per level); one level takes them all.

The output is every anchor of one image, [A, 4] (x1, y1, x2, y2); the generated module gives them
for each image of the batch, [B, A, 4]. No parameters, no counted FLOPs (torch's counter counts
none for arange and broadcasting adds).
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Attr, Constructor, LayerKind, Saved, ShapeError, fmt_shape

# Lines within ruff's 88 columns: the generated file is formatted.
ANCHOR_GENERATOR = """\
class AnchorGenerator(nn.Module):
    # The anchors of torchvision's AnchorGenerator: for each level, one base anchor
    # per size and aspect ratio (height / width), centred on 0 and rounded, moved to
    # every location of the level at its stride (image size // level size).
    def __init__(
        self,
        sizes: tuple[tuple[float, ...], ...],
        aspect_ratios: tuple[float, ...],
    ) -> None:
        super().__init__()
        self.cell_anchors = [self._base(level, aspect_ratios) for level in sizes]

    @staticmethod
    def _base(sizes: tuple[float, ...], ratios: tuple[float, ...]) -> torch.Tensor:
        scales = torch.as_tensor(sizes, dtype=torch.float32)
        h_ratios = torch.sqrt(torch.as_tensor(ratios, dtype=torch.float32))
        w_ratios = 1 / h_ratios
        ws = (w_ratios[:, None] * scales[None, :]).view(-1)
        hs = (h_ratios[:, None] * scales[None, :]).view(-1)
        return (torch.stack([-ws, -hs, ws, hs], dim=1) / 2).round()

    def forward(self, image: torch.Tensor, maps: list[torch.Tensor]) -> torch.Tensor:
        height, width = image.shape[-2:]
        anchors = []
        for base, level in zip(self.cell_anchors, maps):
            rows, cols = level.shape[-2:]
            base = base.to(device=level.device, dtype=level.dtype)
            shift_x = torch.arange(cols, dtype=torch.int32, device=level.device)
            shift_y = torch.arange(rows, dtype=torch.int32, device=level.device)
            shift_y, shift_x = torch.meshgrid(
                shift_y * (height // rows), shift_x * (width // cols), indexing="ij"
            )
            shift_x, shift_y = shift_x.reshape(-1), shift_y.reshape(-1)
            shifts = torch.stack((shift_x, shift_y, shift_x, shift_y), dim=1)
            anchors.append((shifts.view(-1, 1, 4) + base.view(1, -1, 4)).reshape(-1, 4))
        return torch.cat(anchors).expand(image.shape[0], -1, -1)
"""


def level_sizes(sizes: tuple[float, ...], levels: int) -> tuple[tuple[float, ...], ...]:
    """`sizes` shared out among the levels in order, the same number each."""
    if len(sizes) % levels:
        raise ShapeError(f"anchors' {len(sizes)} sizes cannot be shared out evenly among {levels} levels",
                         "give one size per level (FPN), the same number per level (RetinaNet's 3), or read one level")
    each = len(sizes) // levels
    return tuple(tuple(sizes[k * each:(k + 1) * each]) for k in range(levels))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class Anchors(LayerKind):
    """torchvision's AnchorGenerator: every level's anchors, one per size and ratio at each location.
    The running tensor is the image (its size only), the points the levels, finest first."""

    name = "anchors"
    category = "pool"
    inputs = (2, None)
    attrs = (Attr("sizes", "floats", (32.0, 64.0, 128.0, 256.0, 512.0), minimum=0),
             Attr("ratios", "floats", (0.5, 1.0, 2.0), minimum=0))
    words = {"anchors": {}}  # noqa: RUF012 - a ClassVar of LayerKind, as every kind sets it
    defaults_key = "anchors"

    def resolve(self, attrs, inputs, jumps):
        image, levels = inputs[0], inputs[1:]
        if len(image) != 3 or jumps[0] != 1:  # a feature map is C×H×W too: only the image is at step 1
            raise ShapeError(f"anchors read the image's size from the running tensor, the C×H×W input image; got "
                             f"{fmt_shape(image)}" + (f" at a step of {jumps[0]} input pixels" if len(image) == 3 else ""), "go on from the input image: from(<image>) - anchors(<p3>, …)")
        for level in levels:
            if len(level) != 3:
                raise ShapeError(f"anchors' levels must be C×H×W feature maps, got {fmt_shape(level)}")
        if any(r <= 0 for r in attrs["ratios"]) or any(s <= 0 for s in attrs["sizes"]):
            raise ShapeError("anchors' sizes and ratios must be positive")
        per_level = level_sizes(attrs["sizes"], len(levels))
        per_location = len(per_level[0]) * len(attrs["ratios"])
        return {"level_anchors": tuple(level[1] * level[2] * per_location for level in levels),
                "per_location": per_location}

    def infer(self, attrs, inputs):
        return (sum(attrs["level_anchors"]), 4), []

    def receptive(self, attrs, inputs):
        return 1, 1  # boxes made from sizes, not a window of the data

    def saved(self, attrs, inputs, out):
        return Saved(inputs=())  # nothing learned, nothing to differentiate

    def label(self, attrs):
        counts = attrs.get("level_anchors", ())
        levels = "+".join(f"{c:,}" for c in counts) if len(counts) > 1 else ""
        total = f"{sum(counts):,}" + (f" = {levels}" if levels else "")
        return f"anchors {attrs.get('per_location', 0)}/location, {total}"

    def constructor(self, attrs, inputs):
        levels = len(attrs["level_anchors"])
        sizes = tuple(tuple(_number(s) for s in level) for level in level_sizes(attrs["sizes"], levels))
        return Constructor("AnchorGenerator", (sizes, tuple(_number(r) for r in attrs["ratios"])),
                           source=ANCHOR_GENERATOR)

    def forward(self, attrs, module, args, inputs):
        return f"{module}({args[0]}, [{', '.join(args[1:])}])"


__all__ = ["Anchors", "level_sizes"]
