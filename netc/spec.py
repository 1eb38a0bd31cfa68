"""Load a spec file: YAML text → `SpecDoc`, a tree of values that remember where they stand.

YAML is composed (never constructed) so no tag can build an object; scalars are converted by
their resolved standard tag only. Duplicate keys and alias bombs are errors, not surprises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import NetcError, SourceSpan, UsageError
from .source import DslText, SourceFile

MAX_SPEC_BYTES = 1_000_000
MAX_YAML_NODES = 100_000

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:bool": bool,
    "tag:yaml.org,2002:null": type(None),
    "tag:yaml.org,2002:timestamp": str,  # 2024-01-01 is only text to a spec
}
_COLLECTION_TAGS = {yaml.MappingNode: "tag:yaml.org,2002:map", yaml.SequenceNode: "tag:yaml.org,2002:seq"}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YNode:
    """One YAML value with its place: dict[str, YNode], list[YNode], or a scalar."""

    value: Any
    start: int
    end: int
    source: SourceFile
    key_starts: dict[str, int] | None = None  # a mapping's keys: where each is written

    @property
    def span(self) -> SourceSpan:
        length = self.end - self.start if self.end > self.start else 1
        line_end = self.source.text.find("\n", self.start)
        if line_end >= 0:
            length = min(length, max(1, line_end - self.start))
        return self.source.span_at(self.start, length)

    def plain(self) -> Any:
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value

    def dsl(self) -> DslText:
        """This scalar as DSL text that maps back to the file."""
        text = self.value if isinstance(self.value, str) else str(self.value)
        return DslText.from_scalar(text, self.source, self.start, self.end)

    def key_span(self, key: str) -> SourceSpan:
        return self.value[key].span if isinstance(self.value, dict) and key in self.value else self.span


def _yaml_error_span(source: SourceFile, exc: yaml.MarkedYAMLError) -> SourceSpan:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return source.span_at(0)
    # By index, not YAML's line/column: YAML also breaks lines at U+0085 and U+2028, an editor does not.
    return source.span_at(mark.index)


def _convert(node: yaml.Node, source: SourceFile, budget: list[int]) -> YNode:
    budget[0] -= 1
    if budget[0] < 0:
        raise NetcError.at(
            source.span_at(node.start_mark.index),
            f"the YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)",
        )
    start, end = node.start_mark.index, node.end_mark.index
    if type(node) in _COLLECTION_TAGS and node.tag != _COLLECTION_TAGS[type(node)]:
        raise _tag_error(source, node)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, YNode] = {}
        key_starts: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                raise NetcError.at(source.span_at(key_node.start_mark.index, 2), "YAML merge keys (<<) are not "
                                   "supported in a spec", "write the keys out, or use a block for a shared part")
            if not isinstance(key_node, yaml.ScalarNode):
                raise NetcError.at(source.span_at(key_node.start_mark.index), "keys must be plain names, "
                                   "not lists or mappings")
            key = key_node.value
            if key in out:
                first = source.span_at(key_starts[key]).line
                raise NetcError.at(
                    source.span_at(key_node.start_mark.index, len(key)),
                    f"duplicate key '{key}': it is already set on line {first}",
                    "YAML would silently keep only the last value; remove or rename one of them",
                )
            out[key] = _convert(value_node, source, budget)
            quoted = key_node.style in ("'", '"')
            key_starts[key] = key_node.start_mark.index + (1 if quoted else 0)
        return YNode(out, start, end, source, key_starts)
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(v, source, budget) for v in node.value], start, end, source)
    kind = _STANDARD_TAGS.get(node.tag)
    if kind is None:
        raise _tag_error(source, node)
    return YNode(_scalar(node, kind, source), start, end, source)


def _tag_error(source: SourceFile, node: yaml.Node) -> NetcError:
    tag = node.tag.replace("tag:yaml.org,2002:", "!!")
    return NetcError.at(source.span_at(node.start_mark.index, len(tag)), f"YAML tag '{tag}' is not allowed in a spec",
                        "a spec holds plain YAML only: mappings, lists, strings, numbers and booleans")


_NUMBERS = yaml.constructor.SafeConstructor()  # YAML 1.1 number spellings: 0x1F, 0o17 / 017, 1_000, 1:30, .inf


def _scalar(node: yaml.ScalarNode, kind: type, source: SourceFile) -> Any:
    text = node.value
    if kind is str:
        return text
    if kind is type(None):
        return None
    if kind is bool:
        return text.lower() in ("true", "yes", "on", "y")
    span = source.span_at(node.start_mark.index, len(text))
    if len(text) > 100:  # int() refuses 4,300+ digits; no size in a spec needs a tenth of that
        raise NetcError.at(span, f"number too long ({len(text):,} characters)")
    try:
        return _NUMBERS.construct_yaml_int(node) if kind is int else _NUMBERS.construct_yaml_float(node)
    except (ValueError, OverflowError, ArithmeticError):
        raise NetcError.at(span, f"cannot read {text!r} as a number") from None


def load_yaml(text: str, path: str) -> YNode:
    # A byte-order mark is invisible in an editor, and libyaml does not count it in its positions.
    text = text.removeprefix("\ufeff")
    if len(text) > MAX_SPEC_BYTES or len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise NetcError.at(
            SourceSpan(path, 1, 1), f"the spec is {len(text.encode('utf-8', 'replace')):,} bytes; the limit is {MAX_SPEC_BYTES:,}"
        )
    source = SourceFile.from_text(path, text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(source, exc) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow anywhere
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise NetcError.at(source.span_at(exc.position), f"invalid YAML: character U+{ord(char):04X} is not allowed "
                           "in a YAML file", "delete it; write it as an escape (\\x..) inside a double-quoted string "
                           "if it is meant") from None
    except yaml.YAMLError as exc:
        raise NetcError.at(source.span_at(0), "invalid YAML: " + " ".join(str(exc).split())) from None
    except RecursionError:
        raise NetcError.at(source.span_at(0), "YAML nested too deeply") from None
    if node is None:
        raise NetcError.at(source.span_at(0), "the spec is empty; it needs at least 'input' and 'network'")
    try:
        _check_expanded_size(node, source)
        return _convert(node, source, [MAX_YAML_NODES])
    except RecursionError:
        raise NetcError.at(source.span_at(0), "YAML nested too deeply") from None


def _check_expanded_size(root: yaml.Node, source: SourceFile) -> None:
    """Refuse a document whose aliases expand it past MAX_YAML_NODES values ("billion laughs"),
    before expanding anything: an alias is the same node object again, so sizes are memoized."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(v) for v in node.value)
        else:
            total = 1
        sizes[id(node)] = total = min(total, 2 * MAX_YAML_NODES)
        return total

    if size(root) <= MAX_YAML_NODES:
        return
    culprit, running = root, 1  # the first top-level entry that takes the count past the limit
    children = [v for _, v in root.value] if isinstance(root, yaml.MappingNode) else (
        root.value if isinstance(root, yaml.SequenceNode) else [])
    for child in children:
        running += size(child)
        if running > MAX_YAML_NODES:
            culprit = child
            break
    raise NetcError.at(source.span_at(culprit.start_mark.index),
                       f"the YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)",
                       "each *alias repeats everything its &anchor holds")


def _yaml_message(exc: yaml.MarkedYAMLError) -> str:
    problem = (exc.problem or str(exc)).strip()
    problem = re.sub(r"\s*in \"<unicode string>\", (line \d+, column \d+|position \d+)", "", problem)
    problem = " ".join(problem.split())  # one line: the place is in the span
    if exc.context and "while" in exc.context and exc.problem:
        return f"invalid YAML: {problem} ({exc.context.strip()})"
    return f"invalid YAML: {problem}"


def _yaml_error(source: SourceFile, exc: yaml.MarkedYAMLError) -> NetcError:
    """YAML's complaint, said the way a person fixes it when the cause is a usual one."""
    span = _yaml_error_span(source, exc)
    line = source.line_text(span.line)
    indent = len(line) - len(line.lstrip(" \t"))
    if "\t" in line[:indent]:
        at = source.line_starts[span.line - 1] + line.index("\t")
        return NetcError.at(source.span_at(at), "invalid YAML: a tab character in the indentation",
                            "YAML indents with spaces only; replace the tabs with spaces")
    if "mapping values are not allowed" in (exc.problem or "") and span.line > 1:
        above = next((source.line_text(n) for n in range(span.line - 1, 0, -1)
                      if source.line_text(n).strip() and not source.line_text(n).lstrip().startswith("#")), "")
        above_indent = len(above) - len(above.lstrip(" "))
        if above and above_indent != indent and not above.rstrip().endswith(":"):
            at = source.line_starts[span.line - 1] + indent
            return NetcError.at(source.span_at(at, len(line.strip().split(":")[0])),
                                f"invalid YAML: this line is indented {indent} spaces, the one above {above_indent}",
                                "keys of one mapping must start in the same column")
    return NetcError.at(span, _yaml_message(exc), _yaml_hint(source, exc))


def _yaml_hint(source: SourceFile, exc: yaml.MarkedYAMLError) -> str | None:
    problem = exc.problem or ""
    if "mapping values are not allowed" in problem:
        return "a value holding ': ' must be quoted, and keys of one mapping must line up"
    if "could not find expected ':'" in problem or "did not find expected key" in problem:
        return "check the indentation: keys of one mapping must start in the same column"
    if "found unexpected end of stream" in problem or "found unexpected end" in problem:
        return "a quote or bracket opened here is never closed"
    return None


def read_spec_text(path: str) -> str:
    """The spec file as text. A file that cannot be read is a usage error (exit 2), like a
    mistyped option; a file that is read but is not a spec is a spec error (exit 1)."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise NetcError.at(SourceSpan(path, 1, 1), f"the spec is larger than the limit of {MAX_SPEC_BYTES:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw.decode("utf-8", "replace")  # the same lines and columns, with U+FFFD for bad bytes
        start = raw.rfind(b"\n", 0, exc.start) + 1
        col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
        span = SourceFile.from_text(path, text).span_at(len(raw[: start].decode("utf-8", "replace")) + col - 1)
        raise NetcError.at(span, f"the spec is not UTF-8 text: byte 0x{raw[exc.start]:02x} "
                           "cannot start or continue a character here", "save the file as UTF-8") from None
