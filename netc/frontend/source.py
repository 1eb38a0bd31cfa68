"""Source text and the mapping from a DSL string back to its place in the spec file."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from ..errors import SourceSpan

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str
    line_starts: tuple[int, ...] = field(default=(), compare=False)

    _lines: dict = field(default_factory=dict, compare=False, repr=False)  # line → text, shared by spans

    @classmethod
    def from_text(cls, path: str, text: str) -> "SourceFile":
        # Lines end at \n, \r\n or a lone \r, as an editor shows them.
        starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]
        return cls(path, text, tuple(starts))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line break. One string per line, however many
        spans point into it: a 1 MB one-line spec must not be copied once per error or AST node."""
        if line < 1 or line > len(self.line_starts):
            return ""
        cached = self._lines.get(line)
        if cached is None:
            start = self.line_starts[line - 1]
            end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
            cached = self._lines[line] = self.text[start:end].rstrip("\r\n")
        return cached

    def span_at(self, index: int, length: int = 1) -> SourceSpan:
        index = max(0, min(index, len(self.text)))
        line = bisect.bisect_right(self.line_starts, index)
        text = self.line_text(line)
        col = min(index - self.line_starts[line - 1] + 1, len(text) + 1)  # the break itself: just past the end
        return SourceSpan(self.path, line, col, min(col + max(length, 1), len(text) + 2), text)


@dataclass(frozen=True)
class DslText:
    """A DSL string taken from a YAML scalar, with the way back to file positions.

    YAML quoting, escapes and line folding mean offset i of the value is not simply
    start + i in the file, so each value character is aligned with the raw scalar text.
    """

    text: str
    source: SourceFile
    offsets: tuple[int, ...]  # file index of each character of `text`, plus one past the end

    @classmethod
    def from_scalar(cls, value: str, source: SourceFile, start: int, end: int) -> "DslText":
        raw = source.text[start:end]
        offsets: list[int] = []
        j = 0
        for ch in value:
            # Quotes, escapes and folded line breaks sit between the characters: look a little
            # way ahead. A character not found there came from an escape (\x41): it maps to the
            # escape, and the search goes on from it.
            found = raw.find(ch, j, j + 80)
            if found < 0:
                offsets.append(start + min(j, max(len(raw) - 1, 0)))
                continue
            offsets.append(start + found)
            j = found + 1
        offsets.append(start + min(j, len(raw)))
        return cls(value, source, tuple(offsets))

    @classmethod
    def standalone(cls, text: str, path: str = "<expr>") -> "DslText":
        source = SourceFile.from_text(path, text)
        return cls(text, source, tuple(range(len(text) + 1)))

    def span(self, start: int, end: int | None = None) -> SourceSpan:
        start = max(0, min(start, len(self.text)))
        first = self.offsets[start]
        length = 1
        if end is not None and end > start:
            last = self.offsets[min(end, len(self.text))]
            length = max(1, last - first)
        span = self.source.span_at(first, length)
        # A caret never runs past the end of its line.
        if span.end_col and span.end_col > len(span.source_line) + 1:
            span = SourceSpan(span.path, span.line, span.col, len(span.source_line) + 1, span.source_line)
        return span
