"""pixelshuffle(r) / pixelunshuffle(r): one kind file (netc/layers/pixelshuffle.py) and its registry line.

Its shapes, parameters, FLOPs, what backward keeps and its receptive field are compared with torch in
tests/test_against_torch.py; here: the misuses are errors at the word, a block with `r` as an
argument gets one generic class that computes torch's PixelShuffle, and `netc import` / `netc port`
learn both words from the declarations on the kind (torch_modules, torch_functions, torch_attrs):
a model of nn.PixelShuffle modules and F.pixel_unshuffle calls imports, and its weights port, to
the model's own output.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F
from torch import nn

from netc import NetcError, build, compile_source
from netc.analysis.pipeline import analyze_file
from netc.importer import import_module
from netc.transfer import load_weights


@pytest.mark.parametrize("network,message", [
    ("conv(8, 3)-pixelshuffle(2)-pixelshuffle(2)", "pixelshuffle(2) needs channels in groups of 4, and the map has 2"),
    ("conv(8, 3)-pixelunshuffle(3)", "pixelunshuffle(3) needs a map whose height and width are multiples of 3"),
    ("fc(8)-pixelshuffle(2)", "pixelshuffle"),
])
def test_misused_shuffles_are_errors_at_the_word(tmp_path, network, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: bad\ninput: [3, 8, 8]\nnetwork: {network}\n")
    with pytest.raises(NetcError) as caught:
        analyze_file(str(spec))
    (diagnostic,) = [d for d in caught.value.diagnostics if d.severity == "error"]
    assert message in diagnostic.message
    word = network.split("-")[-1]
    assert diagnostic.span.line == 3 and network[diagnostic.span.col - len("network: ") - 1:].startswith(word)


SUBPIXEL = """\
name: subpixel
input: [3, 6, 6]
blocks:
  up: {args: [c, r], body: "conv(c * r * r, 3)-pixelshuffle(r)"}
network: up(4, 2) - up(4, 3) - pixelunshuffle(6) - conv(2, 1)
"""


def test_a_block_with_the_factor_as_argument_is_one_generic_class_computing_torchs_shuffle(tmp_path):
    spec = tmp_path / "subpixel.yaml"
    spec.write_text(SUBPIXEL)
    source = compile_source(spec)
    assert source.count("class Up(nn.Module)") == 1
    assert "nn.PixelShuffle(r)" in source and "nn.PixelUnshuffle(6)" in source
    torch.manual_seed(0)
    model = build(spec).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    x = torch.randn(2, 3, 6, 6)
    y = F.pixel_shuffle(convs[0](x), 2)
    y = F.pixel_shuffle(convs[1](y), 3)
    y = convs[2](F.pixel_unshuffle(y, 6))
    with torch.no_grad():
        assert model(x).shape == (2, 2, 6, 6)
        assert torch.allclose(model(x), y)
    assert analyze_file(str(spec)).params == sum(p.numel() for p in model.parameters())


class SuperResolution(nn.Module):
    """ESPCN-like: modules and functional calls of both rearrangements."""

    def __init__(self):
        super().__init__()
        self.head = nn.Conv2d(3, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.body = nn.Conv2d(3, 8, 3, padding=1)
        self.tail = nn.Conv2d(32, 27, 1)

    def forward(self, x):
        x = self.body(self.shuffle(torch.relu(self.head(x))))
        x = self.tail(F.pixel_unshuffle(x, downscale_factor=2))
        return torch.pixel_shuffle(x, 3)


def test_import_and_port_learn_both_words_from_the_kind(tmp_path):
    torch.manual_seed(0)
    reference = SuperResolution().eval()
    text = import_module(reference, (3, 5, 7))
    assert "pixelshuffle(2)" in text and "pixelunshuffle(2)" in text and "pixelshuffle(3)" in text
    spec = tmp_path / "sr.yaml"
    spec.write_text(text)
    weights = tmp_path / "weights.pth"
    torch.save(reference.state_dict(), weights)
    ours = build(str(spec)).eval()
    assert load_weights(ours, weights, strict=True).complete
    x = torch.randn(2, 3, 5, 7)
    with torch.no_grad():
        assert ours(x).shape == reference(x).shape == (2, 3, 15, 21)
        assert (ours(x) - reference(x)).abs().max().item() <= 1e-6
