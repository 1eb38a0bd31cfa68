"""anchors(...): the generated anchors equal torchvision's AnchorGenerator (pure Python, run here on the
CPU), for one level with several sizes, for the five levels of an FPN with one size each (an image
size the levels do not divide, so that torchvision's floor-divided strides differ from the levels'
steps), and for RetinaNet's three sizes per level; the table's anchors per location and in all are
torchvision's `num_anchors_per_location()` and the length of its anchors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import netc

ROOT = Path(__file__).resolve().parent.parent

# Each maxpool floors: 100 → 50 → 25 → 12 → 6 → 3 rows, 76 → 38 → 19 → 9 → 4 → 2 columns.
FIVE_LEVELS = """\
name: fpn_anchors
input: {{image: [3, 100, 76]}}
network: >-
  conv3-4-relu-maxpool-<p1> - maxpool-<p2> - maxpool-<p3> - maxpool-<p4> - maxpool-<p5>
  - from(<image>) - anchors(<p1>, <p2>, <p3>, <p4>, <p5>, sizes={sizes}, ratios={ratios})
"""
FIVE_SHAPES = [(50, 38), (25, 19), (12, 9), (6, 4), (3, 2)]

ONE_LEVEL = """\
name: rpn_anchors
input: {image: [3, 64, 48]}
network: conv3-4-relu-maxpool-maxpool-maxpool-maxpool - from(<image>) - anchors(<>, sizes=(128, 256, 512), ratios=(0.5, 1, 2))
"""


def torchvision_anchors(sizes, ratios, image: tuple[int, int], levels: list[tuple[int, int]]) -> torch.Tensor:
    from torchvision_models import torchvision

    torchvision()
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList

    generator = AnchorGenerator(sizes=sizes, aspect_ratios=ratios)
    images = ImageList(torch.zeros(1, 3, *image), [image])
    maps = [torch.zeros(1, 4, h, w) for h, w in levels]
    (anchors,) = generator(images, maps)
    assert generator.num_anchors_per_location() == [len(sizes[0]) * len(ratios[0])] * len(levels)
    return anchors


def netc_anchors(tmp_path: Path, text: str, image: tuple[int, int]) -> torch.Tensor:
    path = tmp_path / "anchors.yaml"
    path.write_text(text, encoding="utf-8")
    module = netc.build(path).eval()
    with torch.no_grad():
        out = module(image=torch.randn(2, 3, *image))
    assert out.shape[0] == 2 and torch.equal(out[0], out[1])  # the same anchors for each image of the batch
    return out[0]


def table_json(tmp_path: Path, text: str) -> dict:
    path = tmp_path / "anchors.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "netc", "table", str(path), "--format", "json"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def test_one_level_several_sizes(tmp_path: Path):
    # 64×48 after four stride-2 pools: a 4×3 map at stride 16.
    want = torchvision_anchors(((128, 256, 512),), ((0.5, 1.0, 2.0),), (64, 48), [(4, 3)])
    got = netc_anchors(tmp_path, ONE_LEVEL.replace("<>", "<p>").replace("maxpool - from", "maxpool-<p> - from"),
                       (64, 48))
    assert got.shape == want.shape == (4 * 3 * 9, 4)
    assert torch.equal(got, want)


@pytest.mark.parametrize(("sizes", "tv_sizes"), [
    ("(32, 64, 128, 256, 512)", ((32,), (64,), (128,), (256,), (512,))),  # Faster R-CNN's FPN: one per level
    ("(32, 40, 50, 64, 80, 101, 128, 161, 203, 256, 322, 406, 512, 645, 812)",  # RetinaNet's: 3 per level
     tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128, 256, 512))),
])
def test_five_fpn_levels(tmp_path: Path, sizes: str, tv_sizes):
    ratios = (0.5, 1.0, 2.0)
    want = torchvision_anchors(tv_sizes, (ratios,) * 5, (100, 76), FIVE_SHAPES)
    got = netc_anchors(tmp_path, FIVE_LEVELS.format(sizes=sizes, ratios="(0.5, 1, 2)"), (100, 76))
    assert got.shape == want.shape
    assert torch.equal(got, want)


def test_the_table_counts_anchors_per_location_and_in_all(tmp_path: Path):
    tv_sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128, 256, 512))
    want = torchvision_anchors(tv_sizes, ((0.5, 1.0, 2.0),) * 5, (100, 76), FIVE_SHAPES)
    sizes = "(" + ", ".join(str(s) for level in tv_sizes for s in level) + ")"
    table = table_json(tmp_path, FIVE_LEVELS.format(sizes=sizes, ratios="(0.5, 1, 2)"))
    (row,) = [r for r in table["layers"] if r["kind"] == "anchors"]
    per_level = [h * w * 9 for h, w in FIVE_SHAPES]  # torchvision: 9 per location, location by location
    assert row["output_shape"] == [len(want), 4]
    assert row["label"] == f"anchors 9/location, {len(want):,} = " + "+".join(f"{n:,}" for n in per_level)
    assert row["params"] == 0


def test_sizes_and_ratios_from_defaults(tmp_path: Path):
    text = """\
name: d
input: {image: [3, 64, 64]}
defaults: {anchors: {sizes: [32, 64], ratios: [1]}}
network: conv3-8-relu-maxpool-<p3>-maxpool-<p4> - from(<image>) - anchors(<p3>, <p4>)
"""
    want = torchvision_anchors(((32,), (64,)), ((1.0,), (1.0,)), (64, 64), [(32, 32), (16, 16)])
    assert torch.equal(netc_anchors(tmp_path, text, (64, 64)), want)
