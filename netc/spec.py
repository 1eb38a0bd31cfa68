"""Load a spec file: YAML text → `SpecDoc`, a tree of values that remember where they stand.

YAML is composed (never constructed) so no tag can build an object; scalars are converted by
their resolved standard tag only. Duplicate keys and alias bombs are errors, not surprises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .errors import NetcError, SourceSpan
from .source import DslText, SourceFile

MAX_SPEC_BYTES = 1_000_000
MAX_YAML_NODES = 200_000

_STANDARD_TAGS = {
    "tag:yaml.org,2002:str": str,
    "tag:yaml.org,2002:int": int,
    "tag:yaml.org,2002:float": float,
    "tag:yaml.org,2002:bool": bool,
    "tag:yaml.org,2002:null": type(None),
}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class YNode:
    """One YAML value with its place: dict[str, YNode], list[YNode], or a scalar."""

    value: Any
    start: int
    end: int
    source: SourceFile

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


def _yaml_error_span(source: SourceFile, exc: yaml.MarkedYAMLError) -> SourceSpan | None:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return None
    line = mark.line + 1
    return SourceSpan(source.path, line, mark.column + 1, None, source.line_text(line))


def _convert(node: yaml.Node, source: SourceFile, budget: list[int]) -> YNode:
    budget[0] -= 1
    if budget[0] < 0:
        raise NetcError.at(
            source.span_at(node.start_mark.index),
            f"the YAML expands to more than {MAX_YAML_NODES:,} values (an alias bomb?)",
        )
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, yaml.MappingNode):
        out: dict[str, YNode] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                raise NetcError.at(source.span_at(key_node.start_mark.index), "keys must be plain names")
            key = key_node.value
            if key in out:
                raise NetcError.at(
                    source.span_at(key_node.start_mark.index, len(key)),
                    f"duplicate key '{key}' (an earlier value would be silently overwritten)",
                )
            out[key] = _convert(value_node, source, budget)
        return YNode(out, start, end, source)
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(v, source, budget) for v in node.value], start, end, source)
    kind = _STANDARD_TAGS.get(node.tag)
    if kind is None:
        raise NetcError.at(source.span_at(start), f"YAML tag '{node.tag}' is not allowed in a spec")
    return YNode(_scalar(node.value, kind), start, end, source)


def _scalar(text: str, kind: type) -> Any:
    if kind is str:
        return text
    if kind is type(None):
        return None
    if kind is bool:
        return text.lower() in ("true", "yes", "on", "y")
    if kind is int:
        cleaned = text.replace("_", "")
        try:
            return int(cleaned, 0)
        except ValueError:
            return int(cleaned)
    try:
        return float(text.replace("_", ""))
    except ValueError:  # .inf / .nan spellings
        return float(text.lower().lstrip("+").replace(".inf", "inf").replace(".nan", "nan"))


def load_yaml(text: str, path: str) -> YNode:
    source = SourceFile.from_text(path, text)
    if len(text.encode("utf-8", "replace")) > MAX_SPEC_BYTES:
        raise NetcError.at(
            None, f"{path}: spec is {len(text):,} bytes; the limit is {MAX_SPEC_BYTES:,} bytes"
        )
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        message = exc.problem or str(exc)
        raise NetcError.at(_yaml_error_span(source, exc), f"invalid YAML: {message}") from None
    except yaml.YAMLError as exc:
        raise NetcError.at(source.span_at(0), f"invalid YAML: {exc}") from None
    except RecursionError:
        raise NetcError.at(source.span_at(0), "YAML nested too deeply") from None
    if node is None:
        raise NetcError.at(source.span_at(0), "the spec is empty; it needs at least 'input' and 'network'")
    try:
        return _convert(node, source, [MAX_YAML_NODES])
    except RecursionError:
        raise NetcError.at(source.span_at(0), "YAML nested too deeply") from None


def read_spec_text(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise NetcError.at(None, f"{path}: cannot read spec: {exc.strerror or exc}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise NetcError.at(None, f"{path}: spec is larger than the limit of {MAX_SPEC_BYTES:,} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NetcError.at(None, f"{path}: spec is not UTF-8 text (byte {exc.start})") from None
