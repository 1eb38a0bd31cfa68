"""Transfer learning: a published checkpoint loaded into a generated module by structure, and the
training loop's helpers for finetuning (frozen scopes, per-scope learning rates).

    load_weights(module, "resnet50.pth") -> TransferReport       copies in place; print(report)
    transfer(module, "model.safetensors") -> (state_dict, report)  the same, module untouched
    freeze(module, generated.paths, ["stem", "stage1"])
    param_groups(module, generated.paths, 0.01, {"stage1": 0.01, "stage2": 0.1})

Reading. A `.pth`/`.pt` file is read with `torch.load(weights_only=True)` (no pickled code runs):
a state_dict, or a dict holding one under "state_dict", "model", "model_state_dict" or
"state_dict_ema" (what training scripts and timm save). A `.safetensors` file is parsed here (no
dependency): an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape
and byte range, then the raw little-endian bytes; only the tensors that match are read.

Matching. A generated module and, say, torchvision's model of the same network name their tensors
differently (`stage1.0.conv1.weight` vs `layer1.0.conv1.weight`, `conv1.weight` vs
`features.0.weight`) but register them in the same order: the layers in forward order, each
layer's tensors in torch's order (weight, bias, running_mean, running_var, num_batches_tracked).
So names are not compared; each tensor becomes a key (role, shape) — the role is the name's last
part for those five, "param" for any other — and the two ordered lists of keys are aligned:

1. Longest matching run first (difflib's Ratcliff–Obershelp, without its junk heuristic): the
   longest run of equal keys is matched, then the same is done to the left and to the right of it.
   A missing or extra layer (a new head, a classifier the spec leaves out) therefore costs only
   its own tensors: the runs before and after it still line up, nothing shifts.
2. Whole layers or nothing: a layer (the tensors of one module) is loaded only when all of its
   tensors matched tensors of a single checkpoint layer, and all of that layer's tensors were used.
   A run that lines up a bias with some other layer's bias of the same size is undone.
3. A linear weight (out, in) may fill a 1×1 conv weight (out, in, 1, 1), and the other way round:
   the same function (torchvision's ConvNeXt applies its 1×1 layers as nn.Linear).
4. num_batches_tracked is a counter, not a weight: one the checkpoint lacks (older files) is left
   as it is and is no mismatch.

What is left over is reported: each of the module's tensors not loaded (left at its
initialisation) with the checkpoint tensor in its place and why (the shape differs: 10×512 against
1000×512, a new head), and each checkpoint tensor not used. Strict mode fails on any of them.

Order of a safetensors file. The safetensors library writes tensors sorted by dtype and name, not in
registration order (`layer1` after `fc`, `bias` before `weight`). When a file's order is that
sorted one, the registration order is rebuilt from the names before aligning: the dotted names form
a tree, a module's own tensors come in torch's role order, and at each level the child placed next
is the one whose tensors all match the module's next tensors; where several do, the one after which
its siblings match the most (a one-step lookahead), the first in natural order of names among
equals (`bn1` before `bn2`, `block2` before `block10`); when none matches whole, the one matching
the most. The alignment above then runs on both orders, the file's and the
rebuilt one, and keeps the one that matches more. A file written in registration order (torch's
bytes, `netc port`) is not sorted by name and is read in its own order.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import struct
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import NetcError, UsageError, printable

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
    import zipfile

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refuses classes: a pickled nn.Module
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _error(path, f"torch.load(weights_only=True) refuses it ({first[:200]})",
                     "save the model's state_dict (torch.save(model.state_dict(), FILE)), not the model") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, KeyError, AttributeError) as exc:
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

    from .fileio import write_atomic

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


# --- registration order rebuilt from names (sorted safetensors files) ----------------------------
def _natural(name: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


@dataclass
class _Tree:
    own: list[Entry] = field(default_factory=list)
    children: dict[str, _Tree] = field(default_factory=dict)

    def flat(self) -> list[Entry]:
        return self.own + [e for c in self.children.values() for e in c.flat()]


def _registration_order(entries: list[Entry], target: list[tuple]) -> list[Entry]:
    """The checkpoint's entries in the order a module would register them, guided by the target's
    keys (see the module docstring)."""
    root = _Tree()
    for e in entries:
        node = root
        for part in e.name.split(".")[:-1]:
            node = node.children.setdefault(part, _Tree())
        node.own.append(e)

    def arrange(node: _Tree) -> None:
        node.own.sort(key=lambda e: (ROLES.index(e.role) if e.role in ROLES else len(ROLES), _natural(e.name)))
        node.children = dict(sorted(node.children.items(), key=lambda kv: _natural(kv[0])))
        for child in node.children.values():
            arrange(child)

    arrange(root)
    memo: dict[tuple[int, int], tuple[list[Entry], int, bool]] = {}

    def place(node: _Tree, p: int) -> tuple[list[Entry], int, bool]:
        """(the node's entries ordered, how many match the target from p on, all of them?)"""
        hit = memo.get((id(node), p))
        if hit is not None:
            return hit
        out: list[Entry] = []
        matched, whole = 0, True
        for e in node.own:
            if whole and p + len(out) < len(target) and e.key == target[p + len(out)]:
                matched += 1
            else:
                whole = False
            out.append(e)
        rest = list(node.children.values())
        while rest:
            if not whole:  # past a mismatch the target says nothing more: natural order
                out += [e for c in rest for e in c.flat()]
                break
            child, seq, m, complete = choose(rest, p + len(out))
            rest.remove(child)
            out += seq
            matched += m
            whole = complete
        result = (out, matched, whole)
        memo[(id(node), p)] = result
        return result

    def choose(rest: list[_Tree], p: int) -> tuple[_Tree, list[Entry], int, bool]:
        """The child to place at p. Where several match whole (ResNet's conv3 and downsample, both
        256×64×1×1; DenseNet's transition3 and norm5 after block 3, both starting with a BN of
        1024), the one after which the siblings, placed first-whole-match, match the most; ties go
        to natural order (bn1 before bn2). Where none matches whole, the one matching the most."""
        tried = [(child, *place(child, p)) for child in rest]
        whole = [t for t in tried if t[3]]
        if len(whole) == 1:
            return whole[0]
        if not whole:
            return max(tried, key=lambda t: t[2])  # max keeps the first of equals
        return max(whole, key=lambda t: t[2] + follow([c for c in rest if c is not t[0]], p + len(t[1])))

    def follow(rest: list[_Tree], p: int) -> int:
        """How many tensors the siblings match from p, each step the first child matching whole."""
        matched = 0
        rest = list(rest)
        while rest:
            step = next(((c, *place(c, p)) for c in rest if place(c, p)[2]), None)
            if step is None:
                return matched + max(place(c, p)[1] for c in rest)
            rest.remove(step[0])
            matched += step[2]
            p += len(step[1])
        return matched

    return place(root, 0)[0]


# --- matching ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Matched:
    target: str  # the module's tensor
    source: str  # the checkpoint's
    shape: tuple[int, ...]
    source_shape: tuple[int, ...]  # differs from shape only for a linear ↔ 1×1 conv weight
    source_dtype: str
    target_index: int  # positions in the two ordered lists (the report joins consecutive ones)
    source_index: int


@dataclass(frozen=True)
class Left:
    """A tensor not transferred, and why."""

    name: str
    shape: tuple[int, ...]
    reason: str


@dataclass
class TransferReport:
    """What a transfer matched, skipped (the module's tensors left at their initialisation) and left
    unused (the checkpoint's). `str(report)` is the printed report."""

    source: str
    target: str
    matched: list[Matched]
    skipped: list[Left]
    unused: list[Left]
    counters: list[str] = field(default_factory=list)  # num_batches_tracked the checkpoint lacks: kept
    reordered: bool = False  # the checkpoint's order was rebuilt from its names
    ignored: list[str] = field(default_factory=list)  # checkpoint entries that are not tensors

    @property
    def complete(self) -> bool:
        """Every tensor of the module and of the checkpoint was matched (strict mode's condition)."""
        return not self.skipped and not self.unused

    def render(self, verbose: bool = False) -> str:
        total = len(self.matched) + len(self.skipped) + len(self.counters)
        lines = [f"{self.source} -> {self.target}: {len(self.matched)} of {total} tensors loaded by structure"
                 + (f", {len(self.skipped)} skipped" if self.skipped else "")
                 + (f", {len(self.unused)} of the checkpoint's unused" if self.unused else "")]
        if self.reordered:
            lines.append("  note: the file lists its tensors sorted by name (as the safetensors library writes them); "
                         "their registration order was rebuilt from the names")
        pairs = [f"  matched  {m.target} <- {m.source} ({_shape(m.shape)})" for m in self.matched] if verbose else [
            f"  matched  {run}" for run in _runs(self.matched)]
        lines += _cut(pairs, 10**9 if verbose else SHOWN)
        lines += _cut([f"  skipped  {s.name} ({_shape(s.shape)}): {s.reason}; left at its initialisation" for s in self.skipped], SHOWN)
        lines += _cut([f"  unused   {u.name} ({_shape(u.shape)}) in the checkpoint: {u.reason}" for u in self.unused], SHOWN)
        if self.counters:
            lines.append(f"  kept     {len(self.counters)} num_batches_tracked counter(s) the checkpoint lacks (not weights)")
        if self.ignored:
            lines.append(f"  ignored  {len(self.ignored)} non-tensor entr{'y' if len(self.ignored) == 1 else 'ies'} "
                         f"({', '.join(self.ignored[:5])}{', …' if len(self.ignored) > 5 else ''})")
        return "\n".join(printable(line) for line in lines)

    __str__ = render


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) if shape else "scalar"


def _cut(lines: list[str], limit: int) -> list[str]:
    return lines if len(lines) <= limit else lines[:limit] + [f"  … and {len(lines) - limit} more"]


def _runs(matched: list[Matched]) -> list[str]:
    """Each stretch matched contiguously on both sides as one line: 'conv1.weight … fc1.bias <-
    conv1.weight … fc.bias (320 tensors)'; a skipped layer ends a stretch."""
    stretches: list[list[Matched]] = []
    for m in matched:
        last = stretches[-1][-1] if stretches else None
        if last is not None and (m.target_index, m.source_index) == (last.target_index + 1, last.source_index + 1):
            stretches[-1].append(m)
        else:
            stretches.append([m])
    lines = []
    for run in stretches:
        first, last = run[0], run[-1]
        if len(run) == 1:
            lines.append(f"{first.target} <- {first.source} ({_shape(first.shape)})")
        else:
            lines.append(f"{first.target} … {last.target} <- {first.source} … {last.source} ({len(run)} tensors)")
    return lines


def match(target: list[Entry], checkpoint: Checkpoint, target_name: str = "the module"
          ) -> tuple[list[tuple[Entry, Entry]], TransferReport]:
    """Align the module's tensors with the checkpoint's (module docstring): the matched pairs, in
    the module's order, and the report."""
    report = _match(target, checkpoint.entries, checkpoint, target_name)
    if checkpoint.sorted_by_name:
        rebuilt = _registration_order(checkpoint.entries, [e.key for e in target])
        if [e.name for e in rebuilt] != [e.name for e in checkpoint.entries]:
            other = _match(target, rebuilt, checkpoint, target_name)
            if len(other[1].matched) > len(report[1].matched):
                other[1].reordered = True
                report = other
    return report


def _match(target: list[Entry], theirs: list[Entry], checkpoint: Checkpoint, target_name: str
           ) -> tuple[list[tuple[Entry, Entry]], TransferReport]:
    """match() for one order of the checkpoint's tensors."""
    # Rule 1: longest matching run first.
    pairs: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(None, [e.key for e in target], [e.key for e in theirs], autojunk=False)
    for i, j, n in matcher.get_matching_blocks():
        for k in range(n):
            pairs[i + k] = j + k
    partner = {j: i for i, j in pairs.items()}
    # Rule 2: whole layers or nothing, both ways; undoing one layer can break another: until stable.
    ours_layers: dict[str, list[int]] = {}
    theirs_layers: dict[str, list[int]] = {}
    for i, e in enumerate(target):
        ours_layers.setdefault(e.layer, []).append(i)
    for j, e in enumerate(theirs):
        theirs_layers.setdefault(e.layer, []).append(j)
    why: dict[int, str] = {}
    changed = True
    while changed:
        changed = False
        for members in ours_layers.values():
            if not any(i in pairs for i in members):
                continue
            weights = [i for i in members if target[i].role != COUNTER]
            sources = {theirs[pairs[i]].layer for i in members if i in pairs}
            reason = None
            if len(sources) > 1:
                reason = f"its tensors matched parts of several checkpoint layers ({', '.join(sorted(sources))})"
            elif any(i not in pairs for i in weights):
                missing = next(target[i] for i in weights if i not in pairs)
                reason = f"only part of the layer matched ({missing.name.rsplit('.', 1)[-1]} did not)"
            else:
                (source,) = sources
                own = theirs_layers[source]
                unused = [j for j in own if j not in partner and theirs[j].role != COUNTER]
                elsewhere = {target[partner[j]].layer for j in own if j in partner}
                if unused:
                    reason = f"the checkpoint's layer {source or '(top level)'} also holds {theirs[unused[0]].name}"
                elif len(elsewhere) > 1:
                    reason = f"the checkpoint's layer {source or '(top level)'} matched parts of several layers"
            if reason:
                for i in members:
                    if i in pairs:
                        why[i] = reason
                        del partner[pairs.pop(i)]
                changed = True
    # Rule 4 and the report: what is left over, and the tensor in its place for the reason.
    skipped, counters = [], []
    spare_counters = any(t.role == COUNTER and j not in partner for j, t in enumerate(theirs))
    for i, e in enumerate(target):
        if i in pairs:
            continue
        if e.role == COUNTER and not spare_counters:
            counters.append(e.name)
            continue
        other = _in_its_place(i, e, pairs, theirs, partner)
        skipped.append(Left(e.name, e.shape, why.get(i) or (
            "the checkpoint has no tensor in its place" if other is None else
            f"the shape differs: the checkpoint's {other.name} is {_shape(other.shape)}" if other.key != e.key else
            f"the checkpoint's {other.name} has its shape, but the rest of that layer did not match")))
    unused = []
    for j, e in enumerate(theirs):
        if j in partner:
            continue
        other = _in_its_place(j, e, partner, target, pairs)
        unused.append(Left(e.name, e.shape, "the module has no tensor in its place" if other is None else
                           f"the module's {other.name} in its place is {_shape(other.shape)}" if other.key != e.key else
                           f"the module's {other.name} has its shape, but the rest of that layer did not match"))
    matched_pairs = [(target[i], theirs[j]) for i, j in sorted(pairs.items())]
    report = TransferReport(checkpoint.path, target_name,
                            [Matched(target[i].name, theirs[j].name, target[i].shape, theirs[j].shape, theirs[j].dtype, i, j)
                             for i, j in sorted(pairs.items())],
                            skipped, unused, counters, False, list(checkpoint.ignored))
    return matched_pairs, report


def _in_its_place(i: int, e: Entry, pairs: dict[int, int], other: list[Entry], used: dict[int, int]) -> Entry | None:
    """The tensor of the other list in the place of unmatched tensor i: the gap between the nearest
    matched neighbours is the same stretch in both lists; the one at the same offset in it, or else
    its first one of the same role."""
    before = max((k for k in pairs if k < i), default=None)
    after = min((k for k in pairs if k > i), default=None)
    lo = pairs[before] + 1 if before is not None else 0
    hi = pairs[after] if after is not None else len(other)
    offset = i - (before + 1 if before is not None else 0)
    gap = [j for j in range(lo, hi) if j not in used]
    if offset < len(gap) and other[gap[offset]].role == e.role:
        return other[gap[offset]]
    return next((other[j] for j in gap if other[j].role == e.role), None)


def _entries(state: Mapping[str, Any]) -> list[Entry]:
    return [Entry(k, tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()]


def _plan(module, path: str | os.PathLike, strict: bool) -> tuple[dict, list[tuple[Entry, Entry]], TransferReport, Checkpoint]:
    """Read and match; raise for nothing matched, and in strict mode for anything unmatched."""
    checkpoint = read_checkpoint(path)
    state = module.state_dict()
    pairs, report = match(_entries(state), checkpoint, type(module).__name__)
    if not pairs:
        raise _error(checkpoint.path, f"no tensor of the checkpoint fits {report.target}: is it a checkpoint of this network?",
                     f"its first tensors: {', '.join(f'{e.name} {_shape(e.shape)}' for e in checkpoint.entries[:3])}; "
                     f"the module's: {', '.join(f'{k} {_shape(tuple(v.shape))}' for k, v in list(state.items())[:3])}")
    if strict and not report.complete:
        lines = [f"{len(report.skipped)} of the module's tensors and {len(report.unused)} of the checkpoint's did not match (strict)"]
        lines += [f"{s.name} ({_shape(s.shape)}): {s.reason}" for s in report.skipped[:5]]
        lines += [f"checkpoint {u.name} ({_shape(u.shape)}): {u.reason}" for u in report.unused[:5] if not report.skipped]
        raise _error(checkpoint.path, "; ".join(lines), "without --strict (strict=False) the matched tensors load and the rest keep "
                                                         "their initialisation; the report says which")
    return state, pairs, report, checkpoint


def transfer(module, path: str | os.PathLike, strict: bool = False) -> tuple[dict, TransferReport]:
    """The module's state_dict with the checkpoint's matched tensors in it (new tensors; the module
    is not changed), and the report. Strict: a NetcError unless every tensor matched."""
    import torch

    state, pairs, report, checkpoint = _plan(module, path, strict)
    out = {k: v.detach().clone() for k, v in state.items()}
    with torch.no_grad():
        for ours, theirs in pairs:
            out[ours.name] = checkpoint.tensor(theirs.name).reshape(ours.shape).to(dtype=state[ours.name].dtype).clone()
    return out, report


def load_weights(module, path: str | os.PathLike, strict: bool = False) -> TransferReport:
    """Load a checkpoint into `module` by structure, in place (what `netc train --weights` calls).
    Returns the report (print it); strict: a NetcError, and nothing loaded, unless all matched.
    The checkpoint is read and matched whole before the first tensor is copied."""
    import torch

    state, pairs, report, checkpoint = _plan(module, path, strict)
    values = [(state[ours.name], checkpoint.tensor(theirs.name).reshape(ours.shape)) for ours, theirs in pairs]
    with torch.no_grad():  # state_dict's tensors share their storage with the module's
        for tensor, value in values:
            tensor.copy_(value)
    return report


# --- finetuning: frozen scopes and per-scope learning rates ---------------------------------------
def scope_paths(generated_paths: Mapping[str, str] | Any) -> dict[str, list[str]]:
    """Every scope name of the spec (the table's names: `stage3`, `stage3.bottleneck2`, and each
    layer's own name, `fc1`) → the module paths of the layers under it. `stem` is the top-level
    layers before the first stage (`[ … ]*M` names stage1, stage2, …) when the spec has no scope of
    that name. Accepts Generated.paths (IR node id → module path) or the Generated itself."""
    paths = getattr(generated_paths, "paths", generated_paths)
    scopes: dict[str, list[str]] = {}
    for node, path in paths.items():
        parts = node.split(".")
        for k in range(1, len(parts) + 1):
            scopes.setdefault(".".join(parts[:k]), []).append(path)
    if "stem" not in scopes:  # the layers before the first stage, where there is a stage
        order = list(paths.items())
        first = next((k for k, (node, _) in enumerate(order) if re.fullmatch(r"stage\d+", node.split(".")[0])), 0)
        if first:
            scopes["stem"] = [path for _, path in order[:first]]
    return scopes


def _parameters_under(module, paths: Iterable[str]) -> list[tuple[str, Any]]:
    prefixes = tuple(f"{p}." for p in paths if p)
    return [(name, p) for name, p in module.named_parameters() if name.startswith(prefixes)]


def _unknown_scope(name: str, scopes: dict[str, list[str]]) -> NetcError:
    from .errors import closest

    top = [s for s in scopes if "." not in s]
    suggestion = closest(name, list(scopes))
    shown = ", ".join(top[:30]) + (", …" if len(top) > 30 else "")
    hint = (f"did you mean {suggestion!r}? " if suggestion else "") + f"the spec's scopes: {shown}; nested ones as in the table (e.g. " \
           f"{next((s for s in scopes if '.' in s), top[0] if top else 'stage1')})"
    return NetcError.at(None, f"unknown scope {name!r}", hint)


def freeze(module, generated_paths, scopes: Iterable[str]) -> list[str]:
    """requires_grad_(False) on every parameter under the named scopes; returns their names. An
    unknown scope is a NetcError listing the spec's scopes (nothing is frozen then)."""
    known = scope_paths(generated_paths)
    chosen = []
    for name in scopes:
        if name not in known:
            raise _unknown_scope(name, known)
        chosen += known[name]
    frozen = _parameters_under(module, chosen)
    for _, p in frozen:
        p.requires_grad_(False)
    return [name for name, _ in frozen]


def param_groups(module, generated_paths, base_lr: float, multipliers: Mapping[str, float] | None = None) -> list[dict]:
    """Optimizer parameter groups: the parameters under each scope of `multipliers` at base_lr ×
    its multiplier, all others at base_lr (a nested scope wins over the one around it). Each group
    has a "name" (the scope, or "rest"). The notes' tip for finetuning: about 1/10 of the original
    rate, 1/100 on the intermediate layers."""
    known = scope_paths(generated_paths)
    multipliers = dict(multipliers or {})
    for name in multipliers:
        if name not in known:
            raise _unknown_scope(name, known)
    owner: dict[str, str] = {}
    for name in sorted(multipliers, key=lambda s: s.count(".")):  # deeper scopes later, so they win
        for pname, _ in _parameters_under(module, known[name]):
            owner[pname] = name
    groups: dict[str, list] = {name: [] for name in multipliers}
    rest = []
    for pname, p in module.named_parameters():
        (groups[owner[pname]] if pname in owner else rest).append(p)
    out = [{"name": name, "params": params, "lr": base_lr * multipliers[name]} for name, params in groups.items() if params]
    if rest:
        out.append({"name": "rest", "params": rest, "lr": base_lr})
    return out




# --- netc port: the matched state_dict for a spec, once ----------------------------------------------
@dataclass
class Ported:
    state_dict: dict  # loads with plain module.load_state_dict
    report: TransferReport
    module: Any  # the generated module, the state loaded


PORT_SEED = 0  # tensors the checkpoint does not fill keep this seed's initialisation: the same file each time


def port(analysis, weights: str | os.PathLike, strict: bool = False, output: str | None = None) -> Ported:
    """Build the spec's generated module (seeded, so skipped tensors are the same each time), load
    `weights` into it by structure and, given `output`, write its whole state_dict there (torch.save,
    or safetensors for a .safetensors name), whole or not at all."""
    import io

    import torch

    from .codegen import build_module

    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(PORT_SEED)
        module = build_module(analysis)
    report = load_weights(module, weights, strict)
    state = module.state_dict()
    if output is not None:
        if str(output).endswith(".safetensors"):
            save_safetensors(state, output)
        else:
            from .fileio import write_atomic

            buffer = io.BytesIO()
            torch.save(state, buffer)
            write_atomic(output, buffer.getvalue())
    return Ported(state, report, module)


__all__ = ["Checkpoint", "Entry", "Left", "Matched", "Ported", "TransferReport", "freeze", "load_weights", "match", "param_groups",
           "port", "read_checkpoint", "save_safetensors", "scope_paths", "transfer"]
