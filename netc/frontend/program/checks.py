"""Checks every part of the spec shares: a YAML node's type, a mapping's keys, a name that becomes
a Python identifier, a finite number; and where in the file a mapping key is."""

from __future__ import annotations

import keyword
import math
import re

from ...errors import Diagnostic, NetcError, SourceSpan, did_you_mean
from ..spec import YNode

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
SPEC_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_\-]*\Z")  # `name:`, which names the generated class
# A scale's name is only ever typed (--scale) and compared, never a Python name: as users write
# them, x0_5 (ShuffleNet), 1.0 (MnasNet), 1_0, n.
SCALE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*\Z")

FLOW_COMMA_HINT = ("inside { } or [ ], YAML splits a plain string at every comma: "
                   "put the network description in quotes")


def check_identifier(name: str, span: SourceSpan | None, what: str) -> str:
    """Names from a spec become Python identifiers in generated code: only safe ones pass."""
    if not isinstance(name, str) or not IDENTIFIER.match(name) or keyword.iskeyword(name) or name.startswith("__"):
        raise NetcError.at(
            span, f"{what} {name!r} is not a valid name (letters, digits and _, not starting with a digit, "
            "not a Python keyword, no leading __)"
        )
    return name


def expect(node: YNode, kind: type | tuple[type, ...], what: str) -> None:
    if isinstance(node.value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise NetcError.at(node.span, f"{what} must be {_type_name(kind)}, got a boolean")
    if not isinstance(node.value, kind):
        raise NetcError.at(node.span, f"{what} must be {_type_name(kind)}, got {describe(node.value)}")


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number",
             bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def describe(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def finite(node: YNode, what: str) -> None:
    """No size or rate in a network is infinite or not a number: YAML's .inf and .nan are refused."""
    if isinstance(node.value, float) and not math.isfinite(node.value):
        raise NetcError.at(node.span, f"{what} must be a finite number, got {node.value}")


def check_keys(node: YNode, allowed: tuple[str, ...], where: str) -> None:
    found = []
    for key in node.value:
        if key not in allowed:
            span = node.source.span_at(key_index(node, key), len(key))
            hint = did_you_mean(key, list(allowed))
            if hint is None and re.search(r"[()=]", key):
                hint = FLOW_COMMA_HINT
            elif hint is None:
                hint = f"the keys here are {', '.join(allowed)}"
            found.append(Diagnostic("error", f"unknown key '{key}' in {where}", span, hint))
    if found:
        raise NetcError(found)


def split_at_comma(node: YNode) -> bool:
    """Whether YAML cut this plain scalar at a comma of a flow collection: `{body: conv(8, 3)}`."""
    text = node.source.text
    if node.start >= len(text) or text[node.start] in "'\"|>":
        return False
    rest = text[node.end : node.end + 200].lstrip(" \t")
    return rest.startswith(",")


def key_index(node: YNode, key: str) -> int:
    """File index of a mapping key (the value's start, searched back to its key)."""
    if node.key_starts and key in node.key_starts:
        return node.key_starts[key]
    value = node.value[key]
    found = node.source.text.rfind(key, node.start, value.start + 1)
    return found if found >= 0 else value.start

