"""YAML syntax errors said the way a person fixes them: an unclosed bracket or quote, a key out of
column, `: ` inside a value, text after a closing quote. Recognised from the text and the parser's
marks, never from PyYAML's message wording (which is shown as it is only for unusual mistakes)."""

from __future__ import annotations

import re

import yaml

from ..errors import NetcError, SourceSpan
from .source import SourceFile


def _yaml_error_span(source: SourceFile, exc: yaml.MarkedYAMLError) -> SourceSpan:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return source.span_at(0)
    # By index, not YAML's line/column: YAML also breaks lines at U+0085 and U+2028, an editor does not.
    return source.span_at(mark.index)


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    """The parser's own words, for a mistake none of netc's checks recognises. They differ between
    libyaml and the pure-Python parser and between releases, so nothing may depend on them."""
    problem = (exc.problem or str(exc)).strip()
    problem = re.sub(r"\s*in \"<unicode string>\", (line \d+, column \d+|position \d+)", "", problem)
    problem = " ".join(problem.split())  # one line: the place is in the span
    if exc.context and exc.problem:
        return f"invalid YAML: {problem} ({' '.join(exc.context.split())})"
    return f"invalid YAML: {problem}"


def yaml_error(source: SourceFile, exc: yaml.MarkedYAMLError) -> NetcError:
    """A YAML syntax error said the way a person fixes it. The usual causes are recognised from the
    text itself and from where the parser stopped (its marks), never from the parser's message."""
    span = _yaml_error_span(source, exc)
    text = source.text
    line = source.line_text(span.line)
    line_start = source.line_starts[span.line - 1]
    indent = len(line) - len(line.lstrip(" \t"))
    if "\t" in line[:indent]:
        at = line_start + line.index("\t")
        return NetcError.at(source.span_at(at), "invalid YAML: a tab character in the indentation",
                            "YAML indents with spaces only; replace the tabs with spaces")
    opened = exc.context_mark.index if exc.context_mark is not None else -1
    opener = text[opened] if 0 <= opened < len(text) else ""
    if opener and opener in "[{" and _flow_end(text, opened) is None:
        closer = "]" if opener == "[" else "}"
        return NetcError.at(source.span_at(opened), f"invalid YAML: '{opener}' is never closed",
                            f"add the '{closer}' that ends it")
    if opener and opener in "'\"" and quote_end(text, opened) is None:
        return NetcError.at(source.span_at(opened), f"invalid YAML: the quote {opener} is never closed",
                            "end it with ' (and write '' for a ' inside it)" if opener == "'" else
                            'end it with " (and write \\" for a " inside it)')
    problem_at = exc.problem_mark.index if exc.problem_mark is not None else -1
    stopped = text[problem_at] if 0 <= problem_at < len(text) else ""
    quote = _quote_before(text, line_start, problem_at)
    if quote is not None:
        return NetcError.at(span, "invalid YAML: text after the closing quote",
                            "write '' for a ' inside '...'" if text[quote] == "'" else
                            "quote the whole value, or none of it")
    if stopped and stopped in "]}" and opener not in ("[", "{"):  # the parser was in no [...] or {...}
        return NetcError.at(span, f"invalid YAML: '{stopped}' closes nothing",
                            f"remove it, or add the '{'[' if stopped == ']' else '{'}' it is meant to close")
    if stopped and stopped in "@`":  # YAML keeps both for later use
        return NetcError.at(span, f"invalid YAML: a value cannot start with '{stopped}'",
                            f"quote it: \"{line[problem_at - line_start:].split(' #')[0].strip()}\"")
    if problem_at == line_start + indent and line[indent:indent + 2] in ("- ", "-") and span.line > 1:
        above = _line_above(source, span.line)
        if _key_column(above) == indent and not above.split(" #")[0].rstrip().endswith(":"):
            return NetcError.at(span, "invalid YAML: a list item among the keys of a mapping",
                                "a list belongs under a key that ends its line with ':'")
    indentation = _indentation_error(source, span.line, problem_at)
    if indentation is not None:
        return indentation
    colon = _second_colon(line, problem_at - line_start)
    if colon is not None:
        key, value = colon
        example = f'{key}: "{value}"' if '"' not in value and "\\" not in value else 'key: "a: b"'
        return NetcError.at(span, "invalid YAML: ': ' inside a value starts another key",
                            f"quote the value, e.g. {example}")
    return NetcError.at(span, _yaml_message(exc))


_KEY_LINE = re.compile(r"""(?P<lead>[ ]*(?:-[ ]+)*)(?:"[^"]*"|'[^']*'|[^\s#'"\[\]{}:,&*!|>%@`-][^#]*?|-[^\s#]+?):(?:[ ]|$)""")


def _key_at(line: str) -> tuple[int, int] | None:
    """Where `key:` starts on a block-mapping line (after any `- `) and where its ':' stands,
    0-based; None when the line holds no key."""
    match = _KEY_LINE.match(line)
    return (len(match.group("lead")), match.end() - (2 if match.group(0).endswith(" ") else 1)) if match else None


def _key_column(line: str) -> int | None:
    key = _key_at(line)
    return key[0] if key else None


def _indentation_error(source: SourceFile, line_no: int, problem_at: int) -> NetcError | None:
    """A `key:` line that the parser stopped on, whose key starts neither in the column of the key
    above nor under a line that opens a nested block (`key:` with nothing after it)."""
    line = source.line_text(line_no)
    key = _key_at(line)
    line_start = source.line_starts[line_no - 1]
    if key is None or line_no < 2 or problem_at > line_start + key[1]:
        return None
    column = key[0]
    above = _line_above(source, line_no)
    above_column = _key_column(above)
    if above_column is None or above_column == column or above.split(" #")[0].rstrip().endswith(":"):
        return None
    spaces = f"{column} space" + ("" if column == 1 else "s")
    return NetcError.at(source.span_at(line_start + column, key[1] - column),
                        f"invalid YAML: this line is indented {spaces}, the one above {above_column}",
                        "keys of one mapping must start in the same column")


def _line_above(source: SourceFile, line_no: int) -> str:
    """The nearest line above that holds more than a comment; '' if none."""
    return next((source.line_text(n) for n in range(line_no - 1, 0, -1)
                 if source.line_text(n).strip() and not source.line_text(n).lstrip().startswith("#")), "")


def _second_colon(line: str, col: int) -> tuple[str, str] | None:
    """(key, value) when the parser stopped at a ': ' that stands after the one of `key: value`
    on the same line: the value holds ': ', which YAML takes for another key."""
    if not (0 <= col < len(line)) or line[col] != ":" or line[col + 1 : col + 2] not in ("", " "):
        return None
    key = _key_at(line)
    if key is None:
        return None
    column, first = key
    if first >= col:
        return None
    return line[column:first].strip(), line[first + 1 :].split(" #")[0].strip()


def _quote_before(text: str, line_start: int, at: int) -> int | None:
    """Where the quoted value that ends just before `at` (spaces between) begins, when it begins on
    the same line as a value (after `key: `, `- ` or the line's indentation): 'it's' ends at it."""
    before = at
    while before > line_start and text[before - 1] == " ":
        before -= 1
    if before <= line_start or text[before - 1] not in "'\"":
        return None
    line = text[line_start:before]
    for match in re.finditer(r"(?:^|: |- |^ +)(['\"])", line):
        start = line_start + match.start(1)
        if quote_end(text, start) == before - 1:
            return start
    return None


def quote_end(text: str, start: int) -> int | None:
    """Index of the quote that closes the one at `start`, or None if the text ends first."""
    quote, i = text[start], start + 1
    while i < len(text):
        ch = text[i]
        if quote == '"' and ch == "\\":
            i += 2
            continue
        if ch == quote:
            if quote == "'" and text[i + 1 : i + 2] == "'":  # '' is a ' inside '...'
                i += 2
                continue
            return i
        i += 1
    return None


def _flow_end(text: str, start: int) -> int | None:
    """Index of the bracket that ends the flow collection opened at `start` ([...] or {...}), or
    None if the text ends first. Inside one, quotes start only where a value starts (it's is plain
    text) and # starts a comment only after a space."""
    depth, i, value_start = 0, start, True
    while i < len(text):
        ch = text[i]
        if ch in "[{":
            depth, value_start = depth + 1, True
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i
            value_start = False
        elif ch in "'\"" and value_start:
            end = quote_end(text, i)
            if end is None:
                return None
            i, value_start = end, False
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\r\n"):
            newline = text.find("\n", i)
            if newline < 0:
                return None
            i = newline
        elif ch in ", \t\r\n" or (ch in ":?" and text[i + 1 : i + 2] in (" ", "\t", "\r", "\n", "")):
            value_start = True
        else:
            value_start = False
        i += 1
    return None
