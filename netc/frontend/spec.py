"""Load a spec file: YAML text → `SpecDoc`, a tree of values that remember where they stand.

YAML is composed (never constructed) so no tag can build an object; scalars are converted by
their resolved standard tag only. Duplicate keys and alias bombs are errors, not surprises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import NetcError, SourceSpan, UsageError
from .source import DslText, SourceFile
from .yaml_errors import quote_end, yaml_error

MAX_SPEC_BYTES = 1_000_000
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 100  # collections inside collections; a real spec needs fewer than 10

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
        _check_events(text, source)  # first: composing never meets libyaml's limit, a cycle or a deep recursion
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        raise yaml_error(source, exc) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow anywhere
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        raise NetcError.at(source.span_at(exc.position), f"invalid YAML: character U+{ord(char):04X} is not allowed "
                           "in a YAML file", "delete it; write it as an escape (\\x..) inside a double-quoted string "
                           "if it is meant") from None
    except yaml.YAMLError as exc:
        raise NetcError.at(source.span_at(0), "invalid YAML: " + " ".join(str(exc).split())) from None
    if node is None:
        raise NetcError.at(source.span_at(0), "the spec is empty; it needs at least 'input' and 'network'")
    _check_expanded_size(node, source)
    return _convert(node, source, [MAX_YAML_NODES])


def _check_events(text: str, source: SourceFile) -> None:
    """Stream the parser's events, building nothing, and refuse what composing would choke on: YAML
    nested more than MAX_YAML_DEPTH collections deep (counting what an *alias brings in), an alias
    inside its own anchor (a cycle) or before any, and a second document. These checks are netc's
    own: libyaml has a depth limit of its own (1,000 in 0.2.5), the pure-Python loader none short
    of a RecursionError, and neither says so in words a test may rely on."""
    heights: dict[str, int] = {}  # anchor → how many collections deep its value is (0 for a scalar)
    open_: list[list[Any]] = []  # per open collection: its anchor, its depth, the deepest depth inside it
    seen = 0  # where the last event ended: the parser has read ahead of it, at most a simple key's length
    documents = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            seen = event.end_mark.index
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise NetcError.at(source.span_at(event.start_mark.index, 3), "a spec is one YAML document; "
                                       "this starts a second one", "remove the '---' line, or split the file in two")
            elif isinstance(event, yaml.CollectionStartEvent):
                depth = len(open_) + 1
                if depth > MAX_YAML_DEPTH:
                    raise _too_deep(source, source.span_at(event.start_mark.index))
                open_.append([event.anchor, depth, depth])
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, depth, deepest = open_.pop()
                if anchor is not None:
                    heights[anchor] = deepest - depth + 1
                if open_:
                    open_[-1][2] = max(open_[-1][2], deepest)
            elif isinstance(event, yaml.AliasEvent):
                alias = source.span_at(event.start_mark.index, len(event.anchor) + 1)
                if any(anchor == event.anchor for anchor, _, _ in open_):  # the parser would build a cycle
                    raise NetcError.at(alias, f"invalid YAML: *{event.anchor} stands inside the &{event.anchor} it "
                                       "repeats, so the value would contain itself")
                if event.anchor not in heights:
                    raise NetcError.at(alias, f"invalid YAML: *{event.anchor} repeats an anchor that is not defined "
                                       "before it", f"write &{event.anchor} on the value to repeat, above this line")
                height = heights[event.anchor]
                reach = len(open_) + height
                if reach > MAX_YAML_DEPTH:
                    raise _too_deep(source, alias,
                                    f"*{event.anchor} repeats &{event.anchor}, which is {height} levels deep itself")
                if open_:
                    open_[-1][2] = max(open_[-1][2], reach)
            elif isinstance(event, yaml.ScalarEvent) and event.anchor is not None:
                heights[event.anchor] = 0
    except yaml.MarkedYAMLError as exc:
        # The scanner reads ahead of the last event, and libyaml stops at its own depth limit there
        # (`[[[[…` a thousand deep on one line). Count the brackets of that stretch ourselves.
        if exc.problem_mark is not None:
            deeper = _bracket_past(text, seen, exc.problem_mark.index + 1, MAX_YAML_DEPTH - len(open_))
            if deeper is not None:
                raise _too_deep(source, source.span_at(deeper)) from None
        raise


def _too_deep(source: SourceFile, span: SourceSpan, hint: str | None = None) -> NetcError:
    return NetcError.at(span, f"YAML nested too deeply (more than {MAX_YAML_DEPTH} levels)", hint)


def _bracket_past(text: str, start: int, end: int, allowed: int) -> int | None:
    """Index of the first [ or { in text[start:end] that opens more than `allowed` levels beyond
    those open at `start`; quoted text and comments do not count."""
    depth, i, end = 0, start, min(end, len(text))
    while i < end:
        ch = text[i]
        if ch in "[{":
            depth += 1
            if depth > allowed:
                return i
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch in "'\"" and (i == 0 or text[i - 1] in " \t\r\n[{,:"):
            i = quote_end(text, i) or end
        elif ch == "#" and (i == 0 or text[i - 1] in " \t\r\n"):
            newline = text.find("\n", i, end)
            i = newline if newline >= 0 else end
        i += 1
    return None


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
