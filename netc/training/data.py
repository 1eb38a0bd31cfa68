"""The training data `--data` names, as two datasets of (image at the spec's input, label):

- `digits`: scikit-learn's 8×8 handwritten digits (1,797 images, 10 classes), shipped inside the
  sklearn package: nothing is downloaded. No augmentation (a mirrored digit is another glyph).
- a CIFAR-10 python batches directory (`data_batch_1` … `data_batch_5`, `test_batch`, as the
  cifar-10-python.tar.gz archive unpacks): 50,000 train and 10,000 test images.
- an ImageFolder directory: `DIR/train/CLASS/*.png` and `DIR/val/CLASS/*.png` (or `test/`), or
  just `DIR/CLASS/*.png`, from which a stratified `val_split` is held out.

Images are converted to the spec's input (augment.Prepare) and, for CIFAR and folders, randomly
cropped and flipped while training.

Bad images in a folder. Before training, every file's header is read (Pillow's `Image.open`, which
decodes no pixels: cheap), so a file that is no image, or one past Pillow's decompression-bomb limit
(`PIL.Image.MAX_IMAGE_PIXELS`, kept as Pillow sets it), is one error naming the file and its class
folder, exit 1, before the first step; `--skip-bad-images` leaves them out and says how many. A
file whose header reads but whose pixels do not (cut short) is found when it is loaded, possibly in
a DataLoader worker: the worker gives back a zero image and the label `-(index + 1)`, and the main
process (`BadImages.check`) turns that into the same one-line error, or drops it from the batch
with `--skip-bad-images` — never a worker's traceback.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from ..errors import NetcError, UsageError, printable
from .augment import Prepare, channel_stats, check_input, random_crop_flip, sample_generator

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
SPLIT_SEED = 0  # the held-out split does not move with --seed: runs with different seeds compare


@dataclass
class Data:
    train: Dataset
    val: Dataset
    classes: list[str]
    description: str


class _Augmented(Dataset):
    """Knows the epoch, so its random choices are a function of (seed, epoch, index)."""

    seed = 0
    epoch = 0

    def set_epoch(self, seed: int, epoch: int) -> None:
        self.seed, self.epoch = seed, epoch


class TensorImages(_Augmented):
    """Images held in memory (uint8 or float in [0, 1]), N×C×H×W, prepared per sample."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, prepare: Prepare, augment: bool):
        self.images, self.labels, self.prepare, self.augment = images, labels, prepare, augment
        if not augment:  # the same every epoch: converted once, up front
            self.images = torch.cat([prepare(_as_float(images[i:i + 1024])) for i in range(0, len(images), 1024)])

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.labels[index])
        if not self.augment:
            return self.images[index], label
        image = random_crop_flip(_as_float(self.images[index]), sample_generator(self.seed, self.epoch, index))
        return self.prepare(image.unsqueeze(0))[0], label


class FolderImages(_Augmented):
    """Image files, read with Pillow when a sample is asked for. A file that cannot be read gives a
    zero image and the label -(index + 1): the main process names it (BadImages)."""

    def __init__(self, files: list[tuple[str, int]], prepare: Prepare, augment: bool, classes: list[str] | None = None):
        self.files, self.prepare, self.augment = files, prepare, augment
        self.classes = classes or []

    def __len__(self) -> int:
        return len(self.files)

    def describe(self, index: int) -> str:
        """The file at `index`, its class folder and why it cannot be read, in one line."""
        path, label = self.files[index]
        return _bad_image_line(path, self.classes[label] if label < len(self.classes) else str(label),
                               image_problem(path, self.prepare.shape) or "cannot read the image")

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.files[index]
        try:
            image = _load_image(path, self.prepare.shape)
        except UsageError:
            return torch.zeros(self.prepare.shape), -(index + 1)
        if self.augment:
            image = random_crop_flip(image, sample_generator(self.seed, self.epoch, index))
        return self.prepare(image.unsqueeze(0))[0], label


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


def load_data(source: str, shape: tuple[int, ...], val_split: float, spec: str, skip_bad: bool = False) -> Data:
    if source == "digits":
        return _digits(shape, val_split, spec)
    if not os.path.isdir(source):
        raise UsageError(f"--data {source}: no such directory (give digits, an ImageFolder directory or a "
                         "CIFAR-10 batches directory)")
    if os.path.isfile(os.path.join(source, "data_batch_1")):
        return _cifar10(source, shape, spec)
    return _folder(source, shape, val_split, spec, skip_bad)


# --- bad images ----------------------------------------------------------------------------------
def _bad_image_line(path: str, folder: str, problem: str) -> str:
    return f"{printable(path)} (class folder {printable(folder)}): {problem}"


def image_problem(path: str, shape: tuple[int, ...] | None = None) -> str | None:
    """Why Pillow cannot read `path` as an image, from its header (and, given `shape`, its pixels
    too), or None. Pillow's decompression-bomb limit is applied as Pillow sets it, and named."""
    import warnings

    from PIL import Image

    limit = Image.MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)  # past the limit: refused, not a warning
            with Image.open(path) as image:
                width, height = image.size
                if shape is not None:
                    image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return (f"over Pillow's decompression-bomb limit of {limit:,} pixels (PIL.Image.MAX_IMAGE_PIXELS); "
                "raise that limit in Python only for files you trust")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # UnidentifiedImageError is an OSError
        return f"not an image Pillow reads ({printable(' '.join(str(exc).split())[:200]) or type(exc).__name__})"
    if limit is not None and width * height > limit:
        return f"{width}×{height} pixels, over Pillow's decompression-bomb limit of {limit:,} (PIL.Image.MAX_IMAGE_PIXELS)"
    return None


def scan_images(files: list[tuple[str, int]], classes: list[str], skip_bad: bool) -> tuple[list[tuple[str, int]], list[str]]:
    """Every file's header read (no pixels decoded); a bad one is an error naming it and its class
    folder (exit 1), or with `skip_bad` left out: (the good files, a line per bad one)."""
    good, bad = [], []
    for path, label in files:
        problem = image_problem(path)
        if problem is None:
            good.append((path, label))
        else:
            bad.append(_bad_image_line(path, classes[label], problem))
    if bad and not skip_bad:
        more = f"; {len(bad) - 1} more bad image{'s' if len(bad) > 2 else ''}" if len(bad) > 1 else ""
        raise NetcError.at(None, f"{bad[0]}{more}; --skip-bad-images leaves them out and counts them")
    return good, bad


@dataclass
class BadImages:
    """Bad samples a folder dataset gave back while training (label < 0), in the main process."""

    skip: bool
    skipped: int = 0

    def check(self, images: torch.Tensor, labels: torch.Tensor, dataset) -> tuple[torch.Tensor, torch.Tensor]:
        bad = labels < 0
        if not bool(bad.any()):
            return images, labels
        if not self.skip:
            index = -int(labels[bad][0]) - 1
            raise NetcError.at(None, f"{dataset.describe(index)}; --skip-bad-images leaves such images out and counts them")
        self.skipped += int(bad.sum())
        return images[~bad], labels[~bad]


def stratified_split(labels: list[int], share: float) -> tuple[list[int], list[int]]:
    """Indices (train, val): `share` of each class held out, chosen by a fixed seed."""
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    by_class: dict[int, list[int]] = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label, []).append(index)
    train, val = [], []
    for label in sorted(by_class):
        members = by_class[label]
        order = torch.randperm(len(members), generator=generator).tolist()
        held = round(len(members) * share) if len(members) > 1 else 0
        val += [members[k] for k in order[:held]]
        train += [members[k] for k in order[held:]]
    return sorted(train), sorted(val)


def _digits(shape: tuple[int, ...], val_split: float, spec: str) -> Data:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise UsageError("--data digits needs scikit-learn: pip install 'netc[train]' (or scikit-learn)") from None
    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16  # pixel values are 0..16
    labels = torch.tensor(digits.target, dtype=torch.int64)
    check_input(shape, tuple(images.shape[1:]), spec)
    train, val = stratified_split(labels.tolist(), val_split)
    mean, std = channel_stats(images[train])
    prepare = Prepare(shape, mean, std)
    return Data(TensorImages(images[train], labels[train], prepare, augment=False),
                TensorImages(images[val], labels[val], prepare, augment=False),
                [str(k) for k in range(10)], f"digits (scikit-learn, 8×8 grey: {len(train)} train, {len(val)} val)")


class _ArraysOnly(pickle.Unpickler):
    """CIFAR's batches are pickles; this unpickler builds only numpy arrays and plain values, so a
    file that is not what it claims cannot run code."""

    ALLOWED = frozenset({("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")})

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _cifar_batch(path: str) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        with open(path, "rb") as f:
            batch = _ArraysOnly(f, encoding="bytes").load()
        data, labels = batch[b"data"], batch[b"labels"]
        images = torch.as_tensor(data, dtype=torch.uint8).reshape(-1, 3, 32, 32)
        return images, torch.tensor(list(labels), dtype=torch.int64)
    except FileNotFoundError:
        raise UsageError(f"{path}: missing (a CIFAR-10 directory holds data_batch_1 … 5 and test_batch)") from None
    except (OSError, pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UsageError(f"{path}: not a CIFAR-10 python batch ({type(exc).__name__}: {exc})") from None


def _cifar10(root: str, shape: tuple[int, ...], spec: str) -> Data:
    parts = [_cifar_batch(os.path.join(root, f"data_batch_{k}")) for k in range(1, 6)]
    images, labels = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
    test_images, test_labels = _cifar_batch(os.path.join(root, "test_batch"))
    check_input(shape, (3, 32, 32), spec)
    mean, std = channel_stats(images[:10_000].float() / 255)
    prepare = Prepare(shape, mean, std)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    return Data(TensorImages(images, labels, prepare, augment=True),
                TensorImages(test_images, test_labels, prepare, augment=False),
                classes, f"CIFAR-10 ({root}: {len(labels)} train, {len(test_labels)} test)")


def _class_folders(root: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError as exc:
        raise UsageError(f"--data {root}: {exc.strerror}") from None


def _files(root: str, classes: list[str]) -> list[tuple[str, int]]:
    found = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        for dirpath, _, names in sorted(os.walk(folder)):
            found += [(os.path.join(dirpath, n), label) for n in sorted(names) if n.lower().endswith(IMAGE_SUFFIXES)]
    return found


def _folder(root: str, shape: tuple[int, ...], val_split: float, spec: str, skip_bad: bool = False) -> Data:
    if len(shape) != 3:
        raise UsageError(f"{spec}: an image folder needs an image input [C, H, W]; the spec's input is {list(shape)}")
    val_name = next((n for n in ("val", "test") if os.path.isdir(os.path.join(root, n))), None)
    if os.path.isdir(os.path.join(root, "train")) and val_name:
        classes = _class_folders(os.path.join(root, "train"))
        train = _files(os.path.join(root, "train"), classes)
        extra = sorted(set(_class_folders(os.path.join(root, val_name))) - set(classes))
        if extra:
            raise UsageError(f"--data {root}: {val_name}/ has classes that train/ lacks: {', '.join(extra[:5])}")
        val = _files(os.path.join(root, val_name), classes)
        how = f"{root}: train/ and {val_name}/"
    else:
        classes = _class_folders(root)
        files = _files(root, classes)
        train_idx, val_idx = stratified_split([label for _, label in files], val_split)
        train, val = [files[k] for k in train_idx], [files[k] for k in val_idx]
        how = f"{root}: {val_split:.0%} of each class held out"
    if len(classes) < 2 or not train or not val:
        raise UsageError(f"--data {root}: expected class folders of images (DIR/CLASS/*.png, or DIR/train/CLASS "
                         f"and DIR/val/CLASS); found {len(classes)} classes, {len(train)} train and {len(val)} val "
                         "images")
    channels = shape[0]
    check_input(shape, (3, shape[1], shape[2]), spec)
    _require_pillow()
    train, bad_train = scan_images(train, classes, skip_bad)
    val, bad_val = scan_images(val, classes, skip_bad)
    skipped = len(bad_train) + len(bad_val)
    if skipped:
        how += f"; {skipped} bad image{'s' if skipped > 1 else ''} left out (first: {(bad_train + bad_val)[0]})"
    if not train or not val:
        raise UsageError(f"--data {root}: no readable {'train' if not train else 'val'} images are left")
    mean = (0.485, 0.456, 0.406) if channels == 3 else (0.449,) * channels  # ImageNet's statistics
    std = (0.229, 0.224, 0.225) if channels == 3 else (0.226,) * channels
    prepare = Prepare(shape, mean, std)
    return Data(FolderImages(train, prepare, augment=True, classes=classes),
                FolderImages(val, prepare, augment=False, classes=classes), classes, f"image folder ({how}; {len(classes)} classes, {len(train)} train, {len(val)} val)")


def _require_pillow() -> None:
    try:
        import PIL  # noqa: F401
    except ImportError:
        raise UsageError("image folders need Pillow: pip install 'netc[train]' (or pillow)") from None


def _load_image(path: str, shape: tuple[int, ...]) -> torch.Tensor:
    """One file as a float C×H×W tensor in [0, 1] at the spec's size and channels."""
    _require_pillow()
    from PIL import Image
    channels, height, width = shape
    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if channels != 1 else "L").resize((width, height), Image.BILINEAR)
            data = torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise UsageError(f"{path}: cannot read the image ({exc})") from None
    return data.view(height, width, -1).permute(2, 0, 1).float() / 255
