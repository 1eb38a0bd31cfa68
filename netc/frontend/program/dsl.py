"""The spec's DSL strings, parsed where they stand: a string or a list of them, every item's syntax
error reported, the spec-wide budget of DSL text enforced."""

from __future__ import annotations

from ...errors import Diagnostic, Diagnostics, NetcError
from .. import ast
from ..parse import parse_dsl
from ..spec import YNode
from .checks import FLOW_COMMA_HINT, expect, split_at_comma

MAX_DSL_CHARS = 200_000  # of DSL text in one spec: parsing costs ≈7 µs a character


def parse_dsl_node(node: YNode, what: str, errors: Diagnostics | None = None) -> ast.Seq:
    """A DSL string, or a list of them joined in order. With `errors`, each list item is parsed
    on its own and every item's syntax error is reported."""
    if isinstance(node.value, list):
        if not node.value:
            raise NetcError.at(node.span, f"{what} is an empty list")
        if isinstance(node.value[0].value, list) or any(isinstance(i.value, list) for i in node.value):
            inner = next(i for i in node.value if isinstance(i.value, list))
            raise NetcError.at(inner.span, f"{what}: a list item must be a DSL string, not another list")
        local = errors or Diagnostics()
        before = len(local.found)
        parts = parse_dsl_items(node.value, what, local)
        if len(local.found) > before:
            raise NetcError(local.found[before:])
        return ast.Seq(tuple(i for p in parts for i in p.items), parts[0].span)
    expect(node, str, what)
    text = node.dsl()
    if errors is not None:
        errors.root.dsl_chars += len(text.text)
        if errors.root.dsl_chars > MAX_DSL_CHARS:
            raise NetcError.at(node.span, f"the spec holds more than {MAX_DSL_CHARS:,} characters of network "
                               "description", "write repeated parts once with (A-B)*N or a block")
    try:
        return parse_dsl(text)
    except NetcError as exc:
        if split_at_comma(node):
            exc = NetcError([Diagnostic(d.severity, d.message, d.span, d.hint or FLOW_COMMA_HINT)
                             for d in exc.diagnostics])
        raise exc from None


def parse_dsl_items(nodes: list[YNode], what: str, errors: Diagnostics) -> list[ast.Seq | None]:
    """Each item of a DSL list, its errors recorded. When YAML cut an item at a comma
    (`[conv(16, 1)-relu, …]`), the text after that comma is the rest of the same item: only
    the first half is reported."""
    parts: list[ast.Seq | None] = []
    open_brackets = 0  # of an item cut at a comma: the items that close them are its rest
    for item in nodes:
        text = item.value if isinstance(item.value, str) else ""
        depth = text.count("(") + text.count("[") - text.count(")") - text.count("]")
        if open_brackets > 0:
            parts.append(None)
            open_brackets += depth
            continue
        before = len(errors.found)
        parts.append(errors.run(parse_dsl_node, item, what, errors))
        if len(errors.found) > before and split_at_comma(item):
            open_brackets = depth
    return parts
