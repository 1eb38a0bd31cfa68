"""Comments of generic block classes: a symbolic shape checked against every instance's numbers.

Each layer of a generic class gets `[B, width * 4, H/stride, W/stride]  path:line:col`: the channel
count as the class computes it, and the height and width in terms of the block input's H and W,
written only as far as every instance's actual sizes bear it out (else the number, or `?`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ...frontend.symbolic import ATOM, Bin, Sym, keys_of, substitute
from .elements import Note
from .pysrc import comment, where


@dataclass
class Slot:
    """A comment waiting for every instance's shapes."""

    note: Note
    shape: tuple[Any, ...]  # symbolic
    stride: Any  # symbolic stride product since the block input, None when unknown
    span: Any
    samples: list[tuple[tuple[int, ...], tuple[int, ...], int | Fraction | None]] = field(default_factory=list)


def last_value(value: Any, index: Sym | None, count: Any, channel_key: str) -> Any:
    """A loop body's channel count after the last repetition, for the comment: the index replaced
    by count - 1 (`c + 2 * i` → `c + 2 * (n - 1)`); "?" when it grows from itself."""
    if channel_key in keys_of(value):
        return "?"
    if index is None:
        return value
    return substitute(value, {index.key: Bin("-", count, 1)})


def _upsampled_by(stride: Any) -> Sym | None:
    """s for a step of 1 / s (after upsampling by an argument), else None."""
    if isinstance(stride, Bin) and stride.op == "/" and stride.left == 1 and isinstance(stride.right, Sym):
        return stride.right
    return None


def _source(value: Any) -> str:
    return value.source() if isinstance(value, Sym) else str(value)


def network_comment_text(slot: Slot) -> str:
    """The network class's comment: its one instance's height and width as numbers (the input's
    size is the spec's), the channels as the class computes them (`classes`)."""
    out = slot.samples[0][1] if slot.samples else ()
    dims = [_source(slot.shape[0])] + [str(d) for d in out][: max(0, len(slot.shape) - 1)]
    return comment(f"[B, {', '.join(dims)}]  {where(slot.span)}")


def comment_text(slot: Slot) -> str:
    """`[B, width * 4, H/stride, W/stride]  path:line:col` from the symbolic shape and every
    instance's sizes: H and W are the block input's; H/s is rounded up."""
    shape = slot.shape
    dims = [_source(shape[0])]
    for axis, letter in ((0, "H"), (1, "W")):
        if len(shape) < 3:
            break
        outs = [s[1][axis] for s in slot.samples]
        bases = [s[0][axis] if len(s[0]) > axis else None for s in slot.samples]
        if all(o == b for o, b in zip(outs, bases)):
            dims.append(letter)
        elif len(set(outs)) == 1 and isinstance(shape[1 + axis], int):
            dims.append(str(outs[0]))
        elif isinstance(slot.stride, Fraction) and slot.stride < 1 and (1 / slot.stride).denominator == 1 and all(
            b is not None and o == b * int(1 / slot.stride) for o, b in zip(outs, bases)
        ):
            dims.append(f"{letter}*{int(1 / slot.stride)}")  # upsampled: a step of 1/k is k outputs a pixel
        elif _upsampled_by(slot.stride) is not None and all(
            s[2] and b is not None and o == b / s[2] for s, o, b in zip(slot.samples, outs, bases)
        ):
            factor = _upsampled_by(slot.stride)
            dims.append(f"{letter}*{factor.source() if factor.prec == ATOM else f'({factor.source()})'}")
        elif slot.stride is not None and all(
            s[2] and b is not None and o == -(-b // s[2]) for s, o, b in zip(slot.samples, outs, bases)
        ):
            text = _source(slot.stride)
            dims.append(f"{letter}/{text}" if text.isidentifier() or text.isdigit() else f"{letter}/({text})")
        elif len(set(outs)) == 1:
            dims.append(str(outs[0]))
        else:
            dims.append("?")
    return comment(f"[B, {', '.join(dims)}]  {where(slot.span)}")
