"""Aligning a module's tensors with a checkpoint's by role and shape, and the report of what
matched (see the package docstring, "Matching")."""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import printable
from .checkpoint import COUNTER, SHOWN, Checkpoint, Entry, _error, read_checkpoint
from .order import _registration_order


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
    shortcuts_first: list[str] = field(default_factory=list)  # blocks matched with their shortcut before the body
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
        if self.shortcuts_first:
            blocks = self.shortcuts_first
            lines.append(f"  note: the checkpoint registers a projection shortcut before its block's body; matched so in "
                         f"{len(blocks)} block(s) ({', '.join(blocks[:3])}{', …' if len(blocks) > 3 else ''})")
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
    # A checkpoint may register a residual block's projection shortcut before its body (torchvision's
    # RegNet: `proj` before `f`), where netc's module registers it after. Aligned as they come, a
    # body's 1×1 conv and BN of the shortcut's shapes take the shortcut's tensors and the whole block
    # shifts: a port that loads most tensors, into the wrong layers. So the module's order is also
    # tried with every shortcut before its body, and the alignment that matches more is kept (on a
    # tie the first: the module's own order, the file's).
    orders = [(target, [])]
    swapped, moved = _shortcuts_first(target)
    if moved:
        orders.append((swapped, moved))
    best: tuple[list[tuple[Entry, Entry]], TransferReport] | None = None
    for ours, shortcuts in orders:
        theirs = [(checkpoint.entries, False)]
        late = _children_first(checkpoint.entries)
        if late is not None:  # rule 6: a module's own tensors after its submodules', as a forward uses them
            theirs.append((late, False))
        if checkpoint.sorted_by_name:
            rebuilt = _registration_order(checkpoint.entries, [e.key for e in ours])
            if [e.name for e in rebuilt] != [e.name for e in checkpoint.entries]:
                theirs.append((rebuilt, True))
        for order, reordered in theirs:
            found = _match(ours, order, checkpoint, target_name)
            if best is None or len(found[1].matched) > len(best[1].matched):
                found[1].reordered, found[1].shortcuts_first = reordered, shortcuts
                best = found
    assert best is not None
    return best


SHORTCUT = re.compile(r"shortcut\d*")  # the module netc's code generator gives a projection shortcut


def _shortcuts_first(target: list[Entry]) -> tuple[list[Entry], list[str]]:
    """The module's tensors with each projection shortcut (`<block>.shortcut.*`) placed before its
    block's body (the tensors of <block> just before it), and the blocks so changed. A shortcut at
    the top level has no block around it to name its body: it stays."""
    out: list[Entry] = []
    moved: list[str] = []
    k = 0
    while k < len(target):
        parts = target[k].name.split(".")[:-1]
        depth = next((d for d in range(len(parts) - 1, 0, -1) if SHORTCUT.fullmatch(parts[d])), None)
        if depth is None:
            out.append(target[k])
            k += 1
            continue
        block, branch = ".".join(parts[:depth]) + ".", ".".join(parts[:depth + 1]) + "."
        end = k
        while end < len(target) and target[end].name.startswith(branch):
            end += 1
        start = len(out)
        while start > 0 and out[start - 1].name.startswith(block):
            start -= 1
        if start < len(out):
            out[start:] = [*target[k:end], *out[start:]]
            moved.append(block[:-1])
        else:
            out += target[k:end]
        k = end
    return out, moved


def _children_first(entries: list[Entry]) -> list[Entry] | None:
    """The entries with each module's own tensors moved after its submodules' tensors, or None when
    no module holds both. torch's state_dict lists a module's own parameters first, but a block
    that holds a layer scale (timm's and torchvision's ConvNeXt: `gamma`, `layer_scale`) applies it
    after its layers, where netc's generated module registers it, in a leaf of its own."""
    layers = {e.layer for e in entries}
    parents = {e.layer for e in entries if any(other.startswith(e.layer + ".") for other in layers if e.layer)}
    if not parents:
        return None
    out: list[Entry] = []
    held: dict[str, list[Entry]] = {}  # a parent's own tensors, waiting for its last descendant

    def release(before: str) -> None:
        for parent in sorted(held, key=len, reverse=True):  # the innermost first
            if not (before == parent or before.startswith(parent + ".")):
                out.extend(held.pop(parent))

    for e in entries:
        release(e.layer)
        if e.layer in parents:
            held.setdefault(e.layer, []).append(e)
        else:
            out.append(e)
    release("\0")
    return out


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
                            skipped, unused, counters, ignored=list(checkpoint.ignored))
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
