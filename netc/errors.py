"""Diagnostics: errors and warnings as values that carry a source span.

Every stage reports problems by raising `NetcError` (one or more diagnostics) or by returning
warnings; only the CLI turns them into text, in the compiler format
`path:line:col: error: message`, the source line, and a caret under the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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
        where = f"{self.span}: " if self.span else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        if self.span and self.span.source_line:
            width = 1
            if self.span.end_col and self.span.end_col > self.span.col:
                width = self.span.end_col - self.span.col
            shown, col, width = _excerpt(self.span.source_line, self.span.col, width)
            lines.append(f"  {shown}")
            lines.append("  " + " " * (col - 1) + "^" + "~" * (width - 1))
        if self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)


SHOWN_LINE = 120  # longest source line shown whole; longer ones are cut around the caret


def _excerpt(line: str, col: int, width: int) -> tuple[str, int, int]:
    """The source line as shown under a message: one character per column (tabs and control
    characters become spaces, so the caret lines up), cut to a window around the caret when long."""
    shown = "".join(" " if ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029" else ch for ch in line)
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


class UsageError(Exception):
    """A mistake on the command line rather than in the spec (exit 2)."""


def closest(word: str, choices: list[str]) -> str | None:
    """The choice most like `word`, for 'did you mean …?' hints."""
    import difflib

    found = difflib.get_close_matches(word.lower(), [c.lower() for c in choices], n=1, cutoff=0.6)
    if not found:
        return None
    for c in choices:
        if c.lower() == found[0]:
            return c
    return None


def did_you_mean(word: str, choices: list[str]) -> str | None:
    match = closest(word, choices)
    return f"did you mean '{match}'?" if match else None
