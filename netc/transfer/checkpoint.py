"""Reading a checkpoint: a `.pth`/`.pt` state_dict or a `.safetensors` file (parsed here, no
dependency), as ordered entries of name, role and shape; and writing safetensors."""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import NetcError, UsageError, printable

ROLES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")  # torch's order in a layer
COUNTER = "num_batches_tracked"
STATE_KEYS = ("state_dict", "model", "model_state_dict", "state_dict_ema", "module")  # where training scripts keep it
MAX_HEADER = 100_000_000  # the safetensors format's own limit on the JSON header
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
        return self.role, shape


@dataclass
class Checkpoint:
    """A checkpoint's tensors in their order; values are read on demand (`tensor`)."""

    path: str
    format: str  # "pth" | "safetensors"
    entries: list[Entry]
    sorted_by_name: bool = False  # a safetensors file in the library's sorted order: registration order is lost
    _tensors: dict[str, Any] = field(default_factory=dict, repr=False)  # pth: the loaded tensors
    _ranges: dict[str, tuple[int, int]] = field(default_factory=dict, repr=False)  # safetensors: absolute byte ranges
    ignored: list[str] = field(default_factory=list)  # entries that are not tensors (a step count, a config)

    def tensor(self, name: str):
        if self.format == "pth":
            return self._tensors[name]
        return _read_safetensor(self.path, self._ranges[name], self._by_name[name])

    def __post_init__(self) -> None:
        self._by_name = {e.name: e for e in self.entries}


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
        data = torch.load(path, map_location="cpu", weights_only=True)
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
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise _error(path, f"not a safetensors file: {size} bytes, shorter than its 8-byte header length")
        (length,) = struct.unpack("<Q", head)
        if length > min(MAX_HEADER, size - 8):
            raise _error(path, f"not a safetensors file: its header would be {length:,} bytes, and the file has {size - 8:,} after the length")
        raw = f.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _error(path, f"not a safetensors file: its header is not JSON ({exc})") from None
    if not isinstance(header, dict):
        raise _error(path, "not a safetensors file: its header is not a JSON object")
    data_start, data_size = 8 + length, size - 8 - length
    found: list[tuple[int, Entry, tuple[int, int]]] = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        where = f"tensor {name!r}"
        if not isinstance(info, dict) or not {"dtype", "shape", "data_offsets"} <= set(info):
            raise _error(path, f"{where}: the header needs dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in SAFETENSORS_DTYPES:
            raise _error(path, f"{where}: dtype {dtype!r} is not one netc reads", f"netc reads {', '.join(SAFETENSORS_DTYPES)}")
        if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
            raise _error(path, f"{where}: shape {shape!r} is not a list of sizes")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data_size):
            raise _error(path, f"{where}: data_offsets {offsets!r} lie outside the file's {data_size:,} bytes of data")
        torch_dtype, itemsize = SAFETENSORS_DTYPES[dtype]
        count = 1
        for d in shape:
            count *= d
        if offsets[1] - offsets[0] != count * itemsize:
            raise _error(path, f"{where}: {offsets[1] - offsets[0]:,} bytes for a {dtype} tensor of shape "
                               f"{shape} ({count * itemsize:,} bytes)")
        found.append((offsets[0], Entry(name, tuple(shape), torch_dtype), (data_start + offsets[0], data_start + offsets[1])))
    if not found:
        raise _error(path, "holds no tensors")
    found.sort(key=lambda t: t[0])  # the order the bytes were written in
    entries = [e for _, e, _ in found]
    return Checkpoint(path, "safetensors", entries, sorted_by_name=_sorted_by_name(entries),
                      _ranges={e.name: r for _, e, r in found})


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


def _read_safetensor(path: str, where: tuple[int, int], entry: Entry):
    import torch

    start, end = where
    with open(path, "rb") as f:
        f.seek(start)
        data = bytearray(f.read(end - start))
    if len(data) != end - start:
        raise _error(path, f"tensor {entry.name!r}: the file ends before its bytes do")
    dtype = getattr(torch, entry.dtype)
    if not data:
        return torch.empty(entry.shape, dtype=dtype)
    tensor = torch.frombuffer(data, dtype=dtype).reshape(entry.shape)
    if sys.byteorder == "big":  # the format is little-endian
        tensor = tensor.view(torch.uint8).reshape(-1, tensor.element_size()).flip(1).reshape(-1).view(dtype).reshape(entry.shape)
    return tensor


def save_safetensors(state: Mapping[str, Any], path: str) -> None:
    """Write a state_dict as a safetensors file, in its own order (atomically, as every -o)."""
    import torch

    from ..fileio import write_atomic

    names = {torch_name: code for code, (torch_name, _) in SAFETENSORS_DTYPES.items()}
    header: dict[str, Any] = {}
    blobs, offset = [], 0
    for name, tensor in state.items():
        dtype = names[str(tensor.dtype).removeprefix("torch.")]
        blob = tensor.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to a multiple of 8
    write_atomic(path, struct.pack("<Q", len(text)) + text + b"".join(blobs))
