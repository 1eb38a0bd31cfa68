"""Reading a checkpoint: a `.pth`/`.pt` state_dict or a `.safetensors` file (read by the
safetensors library), as ordered entries of name, role and shape; and writing safetensors."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NetcError, UsageError, printable

ROLES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")  # torch's order in a layer
COUNTER = "num_batches_tracked"
STATE_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "module")  # where training scripts keep it
ORDER_KEY = "netc.order"  # safetensors metadata: the tensors' registration order, as netc wrote them
SHOWN = 12  # lines of each kind in a report before "… and N more"

# safetensors dtype → (torch dtype name, bytes per element)
SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8), "F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2),
    "I64": ("int64", 8), "I32": ("int32", 4), "I16": ("int16", 2), "I8": ("int8", 1), "U8": ("uint8", 1),
    "BOOL": ("bool", 1), "F8_E4M3": ("float8_e4m3fn", 1), "F8_E5M2": ("float8_e5m2", 1),
}


# --- the checkpoint -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One tensor as matching sees it: its name, shape and dtype (not its values)."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def role(self) -> str:
        last = self.name.rsplit(".", 1)[-1]
        return last if last in ROLES else "param"

    @property
    def layer(self) -> str:
        """The module holding it: the name without its last part."""
        return self.name.rsplit(".", 1)[0] if "." in self.name else ""

    @property
    def key(self) -> tuple[str, tuple[int, ...]]:
        # A 1×1 conv weight keys as the linear weight it equals (rule 3 of the module docstring).
        shape = self.shape[:2] if self.role == "weight" and len(self.shape) == 4 and self.shape[2:] == (1, 1) else self.shape
        # A per-channel scale (rule 5): netc's layer scale (C×1×1 weight), torchvision's layer_scale
        # (C×1×1), timm's gamma (C): one key, whatever its role's name and broadcasting shape.
        if self.role in ("weight", "param") and len(self.shape) == 3 and self.shape[1:] == (1, 1):
            return "scale", self.shape[:1]
        if self.role == "param" and len(self.shape) == 1:
            return "scale", self.shape
        return self.role, shape


@dataclass
class Checkpoint:
    """A checkpoint's tensors in their order; values are read on demand (`tensor`)."""

    path: str
    format: str  # "pth" | "safetensors"
    entries: list[Entry]
    sorted_by_name: bool = False  # a safetensors file in the library's sorted order: registration order is lost
    _tensors: dict[str, Any] = field(default_factory=dict, repr=False)  # pth: the loaded tensors
    ignored: list[str] = field(default_factory=list)  # entries that are not tensors (a step count, a config)

    def tensor(self, name: str):
        if self.format == "pth":
            return self._tensors[name]
        if self._opened is None:  # one handle for every tensor: the header parsed once, the file mapped once
            self._opened = _open_safetensors(self.path)
        return _read_safetensor(self._opened, self.path, self._by_name[name])

    def __post_init__(self) -> None:
        self._by_name = {e.name: e for e in self.entries}
        self._opened = None


def _error(path: str, message: str, hint: str | None = None) -> NetcError:
    return NetcError.at(None, f"{path}: {message}", hint)


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """The tensors of a `.pth`/`.pt` or `.safetensors` file (the format by its first bytes, not its
    name). A missing file is a UsageError; a file that is not a checkpoint a NetcError."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            start = f.read(16)
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    # A safetensors file: an 8-byte little-endian header length that fits the file, then its JSON
    # header's "{". Asked first: that length's first byte can be "P" or 0x80 (a 0x4B50 or 0x...80 byte
    # header), which a check for torch's zip ("PK") or pickle (0x80) first would take for a .pth.
    length = int.from_bytes(start[:8], "little") if len(start) >= 9 else -1
    if start[8:9] == b"{" and 0 < length <= os.path.getsize(path) - 8:
        return _read_safetensors(path)
    # A .pth file is a zip archive (torch ≥ 1.6) or an old pickle; anything else is read as safetensors.
    if start[:2] == b"PK" or start[:1] == b"\x80":
        return _read_pth(path)
    if path.endswith((".pth", ".pt", ".bin", ".ckpt")) and start[8:9] != b"{":  # no safetensors header either
        raise _error(path, "not a torch checkpoint (a zip archive or a pickle) nor a safetensors file")
    return _read_safetensors(path)


def _read_pth(path: str) -> Checkpoint:
    import pickle

    import torch

    try:
        with open(path, "rb") as f:  # a file object: torch.load would hand a *.safetensors name to that library
            data = torch.load(f, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refuses classes: a pickled nn.Module
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _error(path, f"torch.load(weights_only=True) refuses it ({first[:200]})",
                     "save the model's state_dict (torch.save(model.state_dict(), FILE)), not the model") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader's failure on foreign bytes (zip, pickle, and
        # the safetensors library torch.load now hands some files to: SafetensorError) is one message
        raise _error(path, f"not a readable torch checkpoint ({printable(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:200]})") from None
    state = data
    if isinstance(data, Mapping) and not any(isinstance(v, torch.Tensor) for v in data.values()):
        for key in STATE_KEYS:
            if isinstance(data.get(key), Mapping):
                state = data[key]
                break
    if not isinstance(state, Mapping):
        raise _error(path, f"holds a {type(state).__name__}, not a state_dict (a dict of tensors)")
    entries, tensors, ignored = [], {}, []
    for name, value in state.items():
        if isinstance(value, torch.Tensor) and isinstance(name, str):
            entries.append(Entry(name, tuple(value.shape), str(value.dtype).removeprefix("torch.")))
            tensors[name] = value
        else:
            ignored.append(str(name))
    if not entries:
        raise _error(path, "holds no tensors", f"its keys: {', '.join(map(str, list(state)[:10]))}" if state else None)
    return Checkpoint(path, "pth", entries, _tensors=tensors, ignored=ignored)


def _read_safetensors(path: str) -> Checkpoint:
    """The header read by the safetensors library (which checks the format: the header's length,
    JSON, dtypes, every tensor's byte range), the entries in the order their bytes lie in the file,
    or in the registration order netc recorded in the metadata when it wrote the file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            names = list(f.offset_keys())  # the order the bytes were written in
            metadata = f.metadata() or {}
            slices = {name: f.get_slice(name) for name in names}
            entries = [_entry(path, name, slices[name].get_dtype(), slices[name].get_shape()) for name in names]
    except SafetensorError as exc:
        raise _error(path, f"not a safetensors file: {_library_reason(exc)}") from None
    if not entries:
        raise _error(path, "holds no tensors")
    recorded = _recorded_order(metadata.get(ORDER_KEY), names)
    if recorded is not None:
        by_name = {e.name: e for e in entries}
        return Checkpoint(path, "safetensors", [by_name[n] for n in recorded])
    return Checkpoint(path, "safetensors", entries, sorted_by_name=_sorted_by_name(entries))


def _library_reason(exc: BaseException) -> str:
    """The library's words, on one line, without its generic lead-in (the message says it already)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.removeprefix("Error while deserializing header: ")
    return printable(text[:300] + ("…" if len(text) > 300 else ""))


def _entry(path: str, name: str, code: str, shape: list[int]) -> Entry:
    if code not in SAFETENSORS_DTYPES:
        raise _error(path, f"tensor {name!r}: dtype {code!r} is not one netc reads", f"netc reads {', '.join(SAFETENSORS_DTYPES)}")
    return Entry(name, tuple(shape), SAFETENSORS_DTYPES[code][0])


def _recorded_order(text: str | None, names: list[str]) -> list[str] | None:
    """The registration order netc wrote into the metadata, when it names exactly the file's tensors."""
    if not text:
        return None
    try:
        order = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(order, list) and all(isinstance(n, str) for n in order) and sorted(order) == sorted(names):
        return order
    return None


def _sorted_by_name(entries: list[Entry]) -> bool:
    """Whether the order is the safetensors library's (by dtype, then name) rather than a module's."""
    if len(entries) < 3:
        return False
    runs: list[list[str]] = []
    for k, e in enumerate(entries):
        if k == 0 or e.dtype != entries[k - 1].dtype:
            runs.append([])
        runs[-1].append(e.name)
    return all(run == sorted(run) for run in runs)


def _open_safetensors(path: str):
    from safetensors import SafetensorError, safe_open

    try:
        return safe_open(path, framework="pt")
    except (SafetensorError, OSError) as exc:  # the file changed since its header was read
        raise _error(path, f"not a safetensors file: {_library_reason(exc)}") from None


def _read_safetensor(opened, path: str, entry: Entry):
    from safetensors import SafetensorError

    try:
        return opened.get_tensor(entry.name)
    except (SafetensorError, OSError) as exc:  # the file changed or was cut short since its header was read
        raise _error(path, f"tensor {entry.name!r}: {_library_reason(exc)}") from None


def save_safetensors(state: Mapping[str, Any], path: str) -> None:
    """Write a state_dict as a safetensors file with the safetensors library (atomically, as every
    -o). The library lays tensors out sorted by dtype and name; the state's own order (registration
    order, which matching reads best) goes into the metadata under ORDER_KEY, and netc reads it back."""
    from safetensors.torch import save

    from ..backends.fileio import write_atomic

    tensors = {name: tensor.detach().cpu().contiguous() for name, tensor in state.items()}
    shared = {t.untyped_storage().data_ptr() for t in tensors.values() if t.numel()}
    if len(shared) < sum(1 for t in tensors.values() if t.numel()):  # the library refuses tensors sharing storage
        tensors = {name: tensor.clone() for name, tensor in tensors.items()}
    write_atomic(path, save(tensors, metadata={ORDER_KEY: json.dumps(list(tensors))}))
