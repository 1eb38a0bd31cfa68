"""A generated module runs at other input sizes than its spec's, as torchvision's do, wherever the
network allows it: every zoo spec whose parameters do not depend on the input size (a fully
convolutional one, or one that pools globally before its classifier) is built at its own input,
given the weights, and run at two other sizes; its outputs there equal those of the module built
for that size with the same weights. A size read from a point (`upsample(<c4>)`, DeepLabV3's and
LR-ASPP's `F.interpolate(x, size=input.shape[-2:])`) is read at run time, not baked in.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from example_inputs import example_inputs  # noqa: E402

from netc.analysis.pipeline import analyze_file
from netc.backends.codegen import build_module
from netc.errors import NetcError

warnings.filterwarnings("ignore", message=".*doesn't fit.*")

ROOT = Path(__file__).resolve().parent.parent

# A segmentation net as DeepLabV3 and LR-ASPP end: features at 1/8 and 1/16, the coarse map
# upsampled to the finer point's size, the sum upsampled to the input's (points, not factors).
SEGMENTATION = """\
name: Segmentation
input: [3, 64, 64]
params: {classes: 5}
network:
  - <image> - conv(8, 3, stride=2, padding=1)-bn-relu - conv(16, 3, stride=2, padding=1)-bn-relu
  - conv(16, 3, stride=2, padding=1)-bn-relu - <high> - conv(32, 3, stride=2, padding=1)-bn-relu
  - conv(16, 1) - upsample(<high>, mode=bilinear) - add(<high>) - conv(classes, 1) - upsample(<image>, mode=bilinear)
"""


def other_sizes(path: str) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """The spec's input and the two cheapest other inputs (one square, one not, where they
    check) at which it has the same parameters: none for a spec whose classifier reads a
    flattened map of the input's size."""
    own = analyze_file(path)
    c, h, w = own.network.input_shape
    found = []
    for size in [(h // 2, w // 2), (h * 3 // 4, w), (h + 32, w + 32), (h * 5 // 4, w * 5 // 4)]:
        try:
            if analyze_file(path, input_shape=(c, *size)).params == own.params:
                found.append((c, *size))
        except NetcError:
            continue
    return (c, h, w), found[:2]


def cases() -> list[tuple[str, str]]:
    return [(p.stem, str(p)) for p in sorted((ROOT / "specs").glob("*.yaml"))] + [("segmentation", "SEGMENTATION")]


@pytest.mark.parametrize("name,path", cases(), ids=[c[0] for c in cases()])
def test_a_module_built_at_one_size_runs_at_others(name, path, tmp_path):
    if path == "SEGMENTATION":
        path = str(tmp_path / "segmentation.yaml")
        Path(path).write_text(SEGMENTATION)
    _, sizes = other_sizes(path)
    if not sizes:  # its parameters depend on the input size: the module is for that size only
        assert name in {"alexnet", "generic", "googlenet", "lenet5", "localization", "vgg11", "vgg11_lrn", "vgg13",
                        "vgg16", "vgg16_conv1", "vgg19", "yolo_v1", "zfnet"}, name
        return
    assert len(sizes) == 2
    torch.manual_seed(0)
    module = build_module(analyze_file(path)).eval()
    state = module.state_dict()
    for size in sizes:
        analysis = analyze_file(path, input_shape=size)
        twin = build_module(analysis).eval()
        twin.load_state_dict(state)  # the same weights, the module built for that size
        x = example_inputs(analysis, rows=3, generator=torch.Generator().manual_seed(0))  # boxes: a few
        with torch.no_grad():
            got, want = module(*x), twin(*x)
        if isinstance(want, torch.Tensor):
            got, want = {"output": got}, {"output": want}
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].shape == want[key].shape, (name, size, key)
            assert torch.allclose(got[key], want[key], rtol=1e-5, atol=1e-6), (name, size, key)
