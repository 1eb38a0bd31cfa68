"""Node and edge statements appended to a graphviz.Digraph's body as its own `node()` and `edge()`
write them (graphviz's quote function and line formats; tests/test_render.py checks the bytes
against theirs), without their per-call overhead: a 100,000-layer picture spent most of its time
there, quoting the same attribute names and values 1.7 million times."""

from __future__ import annotations

import functools
from typing import Any

from graphviz.quoting import quote, quote_edge

_quote = functools.lru_cache(maxsize=65_536)(quote)
_quote_edge = functools.lru_cache(maxsize=65_536)(quote_edge)


def _attr_list(label: str | None, attrs: dict[str, Any]) -> str:
    """` [label=… k=v …]`: the label first, then the attributes sorted by name (graphviz sorts a
    plain dict's), None left out; empty when there is nothing."""
    items = [f"label={_quote(label)}"] if label is not None else []
    items += [f"{_quote(k)}={_quote(v)}" for k, v in sorted(attrs.items()) if v is not None]
    return f" [{' '.join(items)}]" if items else ""


def add_node(graph: Any, name: str, label: str | None = None, **attrs: Any) -> None:
    """graph.node(name, label=label, **attrs)."""
    graph.body.append(f"\t{_quote(name)}{_attr_list(label, attrs)}\n")


def add_edge(graph: Any, tail: str, head: str, label: str | None = None, **attrs: Any) -> None:
    """graph.edge(tail, head, label=label, **attrs) of a Digraph."""
    graph.body.append(f"\t{_quote_edge(tail)} -> {_quote_edge(head)}{_attr_list(label, attrs)}\n")
