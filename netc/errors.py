"""Diagnostics: errors and warnings as values that carry a source span.

Every stage reports problems by raising `NetcError` (one or more diagnostics) or by returning
warnings; only the CLI turns them into text, in the compiler format
`path:line:col: error: message`, the source line, and a caret under the culprit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_ERRORS = 20  # errors reported in one run, by every stage; past that, the first ones are what matter


@dataclass(frozen=True)
class SourceSpan:
    """A place in a spec file. Lines and columns are 1-based, as compilers print them."""

    path: str
    line: int
    col: int
    end_col: int | None = None  # on the same line; None for a single caret
    source_line: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    severity: str  # "error" | "warning"
    message: str
    span: SourceSpan | None = None
    hint: str | None = None
    node: str | None = None  # the layer it is about, where there is one

    def render(self) -> str:
        # Spec text reaches the message (a key, a word, a file name): a terminal must see its control
        # characters as escapes, never obey them, so everything printed is passed through printable().
        where = printable(f"{self.span}: ") if self.span else ""
        lines = [f"{where}{self.severity}: {printable(self.message)}"]
        if self.span and self.span.source_line:
            width = 1
            if self.span.end_col and self.span.end_col > self.span.col:
                width = self.span.end_col - self.span.col
            shown, col, width = _excerpt(self.span.source_line, self.span.col, width)
            lines.append(f"  {shown}")
            lines.append("  " + " " * (col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"  hint: {printable(self.hint)}")
        return "\n".join(lines)


# Characters a terminal acts on rather than shows: C0 controls (ESC starts colour and cursor
# sequences), DEL, C1 controls (U+009B is a one-character CSI), the line and paragraph separators,
# and the bidirectional marks, embeddings, overrides and isolates, which reorder what follows them
# (the "Trojan Source" trick) so that a message could read otherwise than it is.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    if ch in _NAMED_ESCAPES:
        return _NAMED_ESCAPES[ch]
    return f"\\x{ord(ch):02x}" if ord(ch) <= 0xFF else f"\\u{ord(ch):04x}"


def printable(text: str) -> str:
    """`text` with every control, bidirectional or line-separator character written as a visible
    escape, as Python writes it (ESC → \\x1b, U+202E → \\u202e); all else, × and … included, as is.
    For any one-line message that may hold text from a spec or the command line."""
    return _UNSAFE.sub(_escape, text)


SHOWN_LINE = 120  # longest source line shown whole; longer ones are cut around the caret


def _excerpt(line: str, col: int, width: int) -> tuple[str, int, int]:
    """The source line as shown under a message: one character per column (tabs, control and
    bidirectional characters become spaces, so the caret lines up and nothing is reordered), cut
    to a window around the caret when long."""
    shown = _UNSAFE.sub(" ", line)
    if len(shown) <= SHOWN_LINE:
        return shown, col, width
    start = max(0, min(col - 1 - SHOWN_LINE // 3, len(shown) - SHOWN_LINE))
    end = start + SHOWN_LINE
    head, tail = ("…" if start > 0 else ""), ("…" if end < len(shown) else "")
    col = col - start + len(head)
    width = max(1, min(width, SHOWN_LINE + len(head) - col + 1))
    return head + shown[start:end] + tail, col, width


@dataclass
class NetcError(Exception):
    """One or more errors in a spec. Raised by any stage; rendered by the CLI (exit 1)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    @classmethod
    def at(cls, span: SourceSpan | None, message: str, hint: str | None = None) -> "NetcError":
        return cls([Diagnostic("error", message, span, hint)])

    def __str__(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class Diagnostics:
    """The one error accumulator: errors collected over the independent parts of a spec (each
    top-level key, network line and block; each expanded item; each layer's shape), so that one run
    reports them all, as a compiler does, each once. A stage stops collecting at MAX_ERRORS."""

    def __init__(self, parent: Diagnostics | None = None) -> None:
        self.found: list[Diagnostic] = []
        self._seen: set[Diagnostic] = set()  # so that adding stays linear in the errors found
        self.root = parent.root if parent is not None else self  # keeps the spec-wide DSL budget
        self.dsl_chars = 0

    def add(self, exc: NetcError | Diagnostic) -> None:
        for diagnostic in exc.diagnostics if isinstance(exc, NetcError) else [exc]:
            if diagnostic not in self._seen:
                self._seen.add(diagnostic)
                self.found.append(diagnostic)

    @property
    def full(self) -> bool:
        return len(self.found) >= MAX_ERRORS

    def __len__(self) -> int:
        return len(self.found)

    def run(self, fn, *args, default=None):
        """fn(*args), or `default` when it raises a NetcError (recorded)."""
        try:
            return fn(*args)
        except NetcError as exc:
            self.add(exc)
            return default

    def check(self) -> None:
        """Raise what was found, if anything."""
        if self.found:
            raise NetcError(self.found[:MAX_ERRORS])


class UsageError(Exception):
    """A mistake on the command line rather than in the spec (exit 2)."""


# --- 'did you mean …?' ------------------------------------------------------------------------------
# A suggestion is only worth printing when the word looks like a slip of the fingers on that name:
# `groupnorm` is not a misspelt `norm` (which is LRN), nor `deconv` a misspelt `conv`. So a choice is
# suggested when, ignoring case, the word is within a small Damerau–Levenshtein distance of it (a
# swapped, missing, extra or wrong letter: 1 for words of 3 to 7 letters, 2 from 8 on, none for
# shorter words, where one letter is half the word), unless the word is the choice with a meaningful
# part attached (group+norm, de+conv, dropout+2d: two or more characters, or one leading letter).
# Two other honest cases: the word is a whole `_`-separated part of the choice (classes →
# num_classes), or PyTorch's or Keras' name for the same argument (kernel_size → kernel).
LONGEST_TYPO = 64  # longer words are not compared: no one mistypes them, and comparing costs length²

# Argument names of PyTorch's layers (and Keras') for what netc names otherwise.
ARGUMENT_ALIASES: dict[str, str] = {
    "kernel_size": "kernel", "pool_size": "kernel", "out_channels": "filters", "out_features": "units",
    "ceil_mode": "ceil", "negative_slope": "slope", "output_size": "size", "use_bias": "bias", "epsilon": "eps",
}


def typo_limit(word: str) -> int:
    """How many edits still look like a typo of a word this long."""
    n = len(word)
    return 0 if n < 3 else 1 if n < 8 else 2


def typo_distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance between a and b (insertions, deletions, substitutions
    and swaps of neighbours), or limit + 1 when it is more than limit. Only cells within `limit` of
    the diagonal can stay under it, so only those are computed."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    over = limit + 1
    # Rows of the table as dicts over the band of columns j with |i − j| ≤ limit.
    before: dict[int, int] = {}
    prev = {j: j for j in range(min(len(b), limit) + 1)}
    for i in range(1, len(a) + 1):
        row: dict[int, int] = {0: i} if i <= limit else {}
        for j in range(max(1, i - limit), min(len(b), i + limit) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            best = min(prev.get(j, over) + 1, row.get(j - 1, over) + 1, prev.get(j - 1, over) + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                best = min(best, before.get(j - 2, over) + 1)
            row[j] = min(best, over)
        if min(row.values(), default=over) >= over:
            return over
        before, prev = prev, row
    return prev.get(len(b), over)


def _attached(word: str, choice: str) -> bool:
    """Whether `word` is `choice` with a meaningful part attached before or after it."""
    if len(word) <= len(choice) or not choice:
        return False
    if word.startswith(choice):
        extra = word[len(choice):]
        return len(extra) >= 2  # a plural s or a stray letter at the end is a slip: strides → stride
    if word.endswith(choice):
        extra = word[:-len(choice)]
        # One letter before a name is a prefix (p+relu, s+elu) unless it doubles the first (cconv).
        return len(extra) >= 2 or (extra.isalpha() and extra != choice[0])
    return False


def _part_of(word: str, choice: str) -> bool:
    """Whether `word` is a run of whole `_`-separated parts of `choice`: classes in num_classes."""
    return len(word) >= 3 and len(choice) > len(word) and f"_{word}_" in f"_{choice}_"


def closest(word: str, choices: list[str]) -> str | None:
    """The choice `word` is most likely a slip for, for 'did you mean …?' hints; None when no
    choice is close enough to be worth saying (the rule is above). Case is ignored; the choice is
    returned as written."""
    low = word.lower()
    lowered = [c.lower() for c in choices]
    alias = ARGUMENT_ALIASES.get(low)
    if alias in lowered:
        return choices[lowered.index(alias)]
    if len(low) <= LONGEST_TYPO:
        limit = typo_limit(low)
        best: tuple[int, int] | None = None  # (distance, index): the nearest, then the first listed
        for index, choice in enumerate(lowered):
            if _attached(low, choice):
                continue
            distance = typo_distance(low, choice, limit)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, index)
        if best is not None:
            return choices[best[1]]
    for index, choice in enumerate(lowered):
        if _part_of(low, choice):
            return choices[index]
    return None


def did_you_mean(word: str, choices: list[str]) -> str | None:
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None
