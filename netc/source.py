"""Source text and the mapping from a DSL string back to its place in the spec file."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from .errors import SourceSpan


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str
    line_starts: tuple[int, ...] = field(default=(), compare=False)

    @classmethod
    def from_text(cls, path: str, text: str) -> "SourceFile":
        starts = [0]
        for i, ch in enumerate(text):
            if ch == "\n":
                starts.append(i + 1)
        return cls(path, text, tuple(starts))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self.line_starts):
            return ""
        start = self.line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : end if end >= 0 else len(self.text)].rstrip("\r")

    def span_at(self, index: int, length: int = 1) -> SourceSpan:
        index = max(0, min(index, len(self.text)))
        line = bisect.bisect_right(self.line_starts, index)
        col = index - self.line_starts[line - 1] + 1
        return SourceSpan(self.path, line, col, col + max(length, 1), self.line_text(line))


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
            while j < len(raw) and raw[j] != ch:
                j += 1
            offsets.append(start + min(j, max(len(raw) - 1, 0)))
            if j < len(raw):
                j += 1
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
