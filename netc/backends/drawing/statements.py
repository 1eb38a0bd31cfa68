"""Node, edge, attribute and subgraph statements appended to a graphviz.Digraph's body as its own
`node()`, `edge()`, `attr()` and `subgraph()` write them (graphviz's quote function and line
formats; tests/test_render.py checks the bytes against theirs), without their per-call overhead: a
100,000-layer picture spent most of its time there, quoting the same attribute names and values 1.7
million times, and graphviz's `subgraph()` copies the parent's whole body on every call, which made
a chain of 33,333 clusters quadratic (34 s)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any

from graphviz.quoting import ID, NoHtml, quote, quote_edge

_quote = functools.lru_cache(maxsize=65_536)(quote)
_quote_edge = functools.lru_cache(maxsize=65_536)(quote_edge)


def _quote_value(value: str) -> str:
    """quote(value), faster for the two values that are new for every layer, which no cache helps
    with: its tooltip (a graphviz.nohtml text) and its label (HTML-like, kept as it is)."""
    if isinstance(value, NoHtml):
        if not ID.match(value) and '"' not in value and not value.endswith(("\\", "\\\n")):
            return f'"{value}"'  # quoted, with no quote to escape and no odd final backslash to warn of
        return quote(value)
    if value[:1] == "<" and value[-1:] == ">":
        return value  # an HTML-like label
    return _quote(value)  # colours, sizes, shapes: few values, each many times


def _a_list(label: str | None, attrs: dict[str, Any]) -> str:
    """`label=… k=v …`: the label first, then the attributes sorted by name (graphviz sorts a plain
    dict's), None left out."""
    items = [f"label={_quote_value(label)}"] if label is not None else []
    items += [f"{_quote(k)}={_quote_value(v)}" for k, v in sorted(attrs.items()) if v is not None]
    return " ".join(items)


def _attr_list(label: str | None, attrs: dict[str, Any]) -> str:
    """` [label=… k=v …]`, empty when there is nothing."""
    items = _a_list(label, attrs)
    return f" [{items}]" if items else ""


def add_node(graph: Any, name: str, label: str | None = None, **attrs: Any) -> None:
    """graph.node(name, label=label, **attrs)."""
    graph.body.append(f"\t{_quote(name)}{_attr_list(label, attrs)}\n")


def add_edge(graph: Any, tail: str, head: str, label: str | None = None, **attrs: Any) -> None:
    """graph.edge(tail, head, label=label, **attrs) of a Digraph."""
    graph.body.append(f"\t{_quote_edge(tail)} -> {_quote_edge(head)}{_attr_list(label, attrs)}\n")


class Subgraph:
    """A subgraph's statements, collected until `subgraph()` writes them into the parent."""

    def __init__(self) -> None:
        self.body: list[str] = []

    def attr(self, **attrs: Any) -> None:
        """sub.attr(**attrs): a graph attribute statement (nothing when every value is None)."""
        items = _a_list(None, attrs)
        if items:
            self.body.append(f"\t{items}\n")


@contextlib.contextmanager
def subgraph(parent: Any, name: str) -> Iterator[Subgraph]:
    """`with graph.subgraph(name=name) as sub:` — the subgraph's lines, indented one tab, added to
    the parent's body on leaving the block (not on an exception, like graphviz's)."""
    sub = Subgraph()
    yield sub
    parent.body.append(f"\tsubgraph {_quote(name)} {{\n")
    parent.body.extend(["\t" + line for line in sub.body])
    parent.body.append("\t}\n")
