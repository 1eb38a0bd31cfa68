"""`heads:` entries → ast.HeadDef: named extra outputs, each a DSL body, where it branches off, and
whether it is returned in training mode only (`train_only: true`, GoogLeNet's auxiliary classifiers)."""

from __future__ import annotations

import re

from ...errors import Diagnostics, NetcError
from .. import ast
from ..spec import YNode
from .checks import check_identifier, check_keys, expect, key_index
from .dsl import parse_dsl_node

HEAD_KEYS = ("from", "body", "train_only")  # a head written as a mapping; a bare DSL string is its body
# `from:` names a mark as a layer reads it, with or without the angle brackets: y, <y>, y[2], <y[2]>,
# <stage2.y> (an index is a whole number: a head is outside every repetition).
_ORIGIN = re.compile(r"(<\s*)?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(?:\[\s*([0-9]+)\s*\])?(\s*>)?")

def read_heads(node: YNode | None, errors: Diagnostics | None = None) -> tuple[ast.HeadDef, ...]:
    if node is None:
        return ()
    expect(node, dict, "heads")
    errors = errors or Diagnostics()
    heads = [errors.run(_head, node, name, body, errors) for name, body in node.value.items()]
    errors.check()
    if heads and all(head.train_only for head in heads):
        last = heads[-1].name
        raise NetcError.at(node.value[last].value["train_only"].span, "every head is train_only: in eval mode "
                           "the network would return nothing", f"remove `train_only: true` from the head eval is "
                           f"to return (e.g. '{last}')")
    return tuple(heads)


def _head(node: YNode, name: str, body: YNode, errors: Diagnostics) -> ast.HeadDef:
    span = node.source.span_at(key_index(node, name), len(name))
    check_identifier(name, span, "head name")
    origin, origin_span, train_only, index = None, None, False, None
    if isinstance(body.value, dict):
        check_keys(body, HEAD_KEYS, f"head '{name}'")
        if "train_only" in body.value:
            expect(body.value["train_only"], bool, "train_only")
            train_only = body.value["train_only"].value
        if "body" not in body.value:
            raise NetcError.at(body.span, f"head '{name}' needs a body")
        if "from" in body.value:
            expect(body.value["from"], str, "from")
            written, origin_span = body.value["from"].value.strip(), body.value["from"].span
            found = _ORIGIN.fullmatch(written)
            if found is None or bool(found.group(1)) != bool(found.group(4)):
                raise NetcError.at(origin_span, f"head '{name}': from: {written!r} is not a point",
                                   "name a mark as a layer reads it: from: y, <y>, or y[2] / <y[2]> for a mark "
                                   "placed in a repetition")
            origin = found.group(2)
            index = int(found.group(3)) if found.group(3) is not None else None
        seq = parse_dsl_node(body.value["body"], f"head '{name}'", errors)
    else:
        seq = parse_dsl_node(body, f"head '{name}'", errors)
    return ast.HeadDef(name, origin, origin_span, seq, span, train_only, index if origin is not None else None)
