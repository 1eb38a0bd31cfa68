"""Images to the spec's input: channels, size, normalisation, and the standard training augmentation
(a random crop from a padded image and a horizontal flip, as ResNet trained on CIFAR-10).

Every random choice is drawn from a generator seeded by (seed, epoch, sample index), not from a
shared stream: a sample is augmented the same way whichever process or DataLoader worker loads it,
so one process and two under torchrun see identical batches, and a resumed run sees what the
uninterrupted one saw.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import UsageError


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    # Distinct, reproducible streams per (seed, epoch, index); the large odd multipliers keep
    # neighbouring triples apart.
    return torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7_919 + index * 104_729) % (2**63 - 1))


@dataclass(frozen=True)
class Prepare:
    """Float images N×C×H×W in [0, 1] → the network's input: channels matched (grey repeated to
    RGB, RGB averaged to grey), resized (bilinear) and normalised per channel."""

    shape: tuple[int, ...]  # the spec's input: (C, H, W), or (F,) for a flat feature vector
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        images = (images - torch.tensor(self.mean).view(1, -1, 1, 1)) / torch.tensor(self.std).view(1, -1, 1, 1)
        if len(self.shape) == 1:  # a feature-vector input reads the image's values in order
            return images.flatten(1)
        channels, height, width = self.shape
        images = match_channels(images, channels)
        if images.shape[-2:] != (height, width):
            images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False)
        return images.contiguous()


def match_channels(images: torch.Tensor, channels: int) -> torch.Tensor:
    have = images.shape[1]
    if have == channels:
        return images
    if have == 1:
        return images.expand(-1, channels, -1, -1)
    if channels == 1:
        return images.mean(dim=1, keepdim=True)
    raise UsageError(f"the data has {have}-channel images but the spec's input has {channels} channels")


def check_input(shape: tuple[int, ...], image_shape: tuple[int, int, int], spec: str) -> None:
    """Data the network cannot take, said before anything trains."""
    channels = image_shape[0]
    if len(shape) == 1:
        flat = image_shape[0] * image_shape[1] * image_shape[2]
        if shape[0] != flat:
            raise UsageError(f"{spec}: the network reads a vector of {shape[0]} values, but the data's images "
                             f"are {'×'.join(map(str, image_shape))} = {flat} values; set input: [{flat}] or "
                             "give the spec an image input [C, H, W]")
        return
    if channels != shape[0] and 1 not in (channels, shape[0]):
        raise UsageError(f"{spec}: the data has {channels}-channel images but the spec's input has {shape[0]} "
                         "channels (netc converts only between 1 and the others)")


def random_crop_flip(image: torch.Tensor, generator: torch.Generator, flip: bool = True) -> torch.Tensor:
    """One C×H×W image: zero-padded by an eighth of its size (4 pixels at 32), cropped back at a
    random offset, and mirrored left-right half the time."""
    _, height, width = image.shape
    pad_h, pad_w = max(1, height // 8), max(1, width // 8)
    padded = F.pad(image, (pad_w, pad_w, pad_h, pad_h))
    top = int(torch.randint(0, 2 * pad_h + 1, (1,), generator=generator))
    left = int(torch.randint(0, 2 * pad_w + 1, (1,), generator=generator))
    image = padded[:, top:top + height, left:left + width]
    if flip and bool(torch.rand(1, generator=generator) < 0.5):
        image = image.flip(-1)
    return image


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of float images N×C×H×W (the training split's, never the val's)."""
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3)).clamp_min(1e-6)
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)
