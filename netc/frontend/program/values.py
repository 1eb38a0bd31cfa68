"""The spec's values: `input:` (the input shape), `params:` (named numbers) and `defaults:`
(attribute values per layer kind)."""

from __future__ import annotations

import re

from ...errors import Diagnostics, NetcError, SourceSpan, did_you_mean
from ...layers import KINDS, LayerKind
from .. import ast
from ..spec import YNode
from .checks import IDENTIFIER, check_identifier, describe, expect, finite, key_index

INPUT_RANKS = (1, 3)  # [F] or [C, H, W]
MAX_INPUT_SIZE = 1_000_000
SIZE_TEXT = r"[0-9]{1,12}"  # one size of an input written as text: 3x224x224
SIZE_SEPARATOR = r"\s*[xX×,]\s*"


def read_input_shape(node: YNode, params: dict[str, int | float] | None = None,
                     rows: bool = False) -> tuple[int, ...]:
    """[C, H, W] or [F], "3x224x224"; a list item may name a param (`input: [3, S, S]`). With
    `rows` (a named input after the first), [R, K] too: R rows of K values (RoIs, boxes)."""
    value = node.value
    if isinstance(value, list):
        value = [_input_param(item, params or {}) for item in value]
    if isinstance(value, str):
        parts = re.split(SIZE_SEPARATOR, value.strip())
        if not all(re.fullmatch(SIZE_TEXT, p) for p in parts):
            raise NetcError.at(node.span, f"input must be a list like [3, 224, 224] or 3x224x224, got {value!r}")
        dims = [int(p) for p in parts]
    elif isinstance(value, list):
        for item in value:
            if isinstance(item.value, bool) or not isinstance(item.value, int):
                hint = None
                if isinstance(item.value, str) and item.value.strip().isdecimal():
                    hint = f"remove the quotes: {item.value.strip()} is a number, '{item.value}' is text"
                elif isinstance(item.value, float) and item.value.is_integer():
                    hint = f"write {int(item.value)}, without the decimal point"
                raise NetcError.at(item.span, f"input sizes must be whole numbers, got {describe(item.value)}", hint)
        dims = [item.value for item in value]
    else:
        raise NetcError.at(node.span, f"input must be a list [C, H, W] or [F], got {describe(value)}")
    if rows and len(dims) == 2:
        pass  # R rows of K values
    elif len(dims) not in INPUT_RANKS:
        hint = (f"give the channels first: [3, {dims[0]}, {dims[1]}] for a colour image, [1, {dims[0]}, {dims[1]}] "
                "for a grey one" if len(dims) == 2 else None)
        if rows:
            raise NetcError.at(node.span, f"an input must have 3 sizes [C, H, W], 1 [F] or 2 [R, K] (R rows of K "
                               f"values: RoIs, boxes), got {len(dims)}")
        raise NetcError.at(node.span, f"input must have 3 sizes [C, H, W] or 1 [F], got {len(dims)}", hint)
    for d in dims:
        if d <= 0 or d > MAX_INPUT_SIZE:
            raise NetcError.at(node.span, f"input sizes must be between 1 and {MAX_INPUT_SIZE:,}, got {d}")
    return tuple(dims)


RESERVED_INPUT_NAMES = frozenset({"self", "torch", "nn", "x", "super", "range", "int", "float", "len", "input",
                                   "output", "from"})


def read_named_inputs(node: YNode, params: dict[str, int | float]) -> tuple[ast.InputDecl, ...]:
    """`input: {image: [3, H, W], rois: [R, 5]}`: each input a name (a point of the network and an
    argument of the generated forward) and a shape; the first is what `network:` starts from, so
    it is [C, H, W] or [F]; the others may also be [R, K], R rows of K values."""
    if not node.value:
        raise NetcError.at(node.span, "input: {} names no input", "write input: [3, 224, 224], or name each: "
                           "input: {image: [3, 224, 224], rois: [R, 5]}")
    found: list[ast.InputDecl] = []
    errors = Diagnostics()
    seen: dict[str, str] = {}
    for k, (name, item) in enumerate(node.value.items()):
        span = node.source.span_at(node.key_starts[name] if node.key_starts else node.start, len(name))
        try:
            check_identifier(name, span, "input name")
            if name.lower() in RESERVED_INPUT_NAMES:
                raise NetcError.at(span, f"input name '{name}' is taken: netc's generated code or DSL uses it",
                                   "name the input after what it holds: image, rois, boxes, …")
            if name.lower() in seen:
                raise NetcError.at(span, f"input '{name}' is named twice ('{seen[name.lower()]}')")
            seen[name.lower()] = name
            if k == 0 and isinstance(item.value, list) and len(item.value) == 2:
                raise NetcError.at(item.span, f"the first input, '{name}', is what network: starts from: it must be "
                                   f"[C, H, W] or [F], not {len(item.value)} sizes",
                                   "list the image first: input: {image: [3, H, W], rois: [R, 5]}")
            dims = read_input_shape(item, params, rows=k > 0)
        except NetcError as exc:
            errors.add(exc)
            continue
        if len(dims) == 2:
            found.append(ast.InputDecl(name, dims[1:], span, dims[0]))
        else:
            found.append(ast.InputDecl(name, dims, span))
    errors.check()
    return tuple(found)


def _input_param(item: YNode, params: dict[str, int | float]) -> YNode:
    """An input size written as a param's name, replaced by the param's value (its place kept)."""
    if not isinstance(item.value, str) or not IDENTIFIER.match(item.value.strip()):
        return item
    name = item.value.strip()
    if name not in params:
        if name.isdecimal():
            return item
        raise NetcError.at(item.span, f"input size '{name}' is not a param", did_you_mean(name, list(params))
                           or "declare it under params:, or write the number")
    return YNode(params[name], item.start, item.end, item.source)


def read_params(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    expect(node, dict, "params")
    values, spans = {}, {}
    errors = Diagnostics()
    for key, item in node.value.items():
        values[key], spans[key] = errors.run(_param, key, item, node, default=(None, item.span))
    errors.check()
    return values, spans


def _param(key: str, item: YNode, node: YNode) -> tuple[int | float, SourceSpan]:
    check_identifier(key, node.source.span_at(key_index(node, key), len(key)), "param")
    if isinstance(item.value, bool) or not isinstance(item.value, (int, float)):
        hint = None
        if isinstance(item.value, str) and re.fullmatch(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+", item.value.strip()):
            hint = f"YAML reads {item.value} as a string; write it with a dot: {_yaml_float(item.value)}"
        raise NetcError.at(item.span, f"param '{key}' must be a number, got {describe(item.value)}", hint)
    finite(item, f"param '{key}'")
    return item.value, item.span


def _yaml_float(text: str) -> str:
    mantissa, exponent = re.split(r"[eE]", text.strip(), maxsplit=1)
    return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"


def defaults_sections() -> dict[str, LayerKind]:
    """The sections `defaults:` may hold, sorted, each with the kind whose attributes it sets: a
    kind's own name, or a `defaults_key` (the first kind that declares it)."""
    names = sorted({k.defaults_key for k in KINDS.values() if k.defaults_key} | set(KINDS))
    return {name: KINDS.get(name) or next(k for k in KINDS.values() if k.defaults_key == name) for name in names}


def read_defaults(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    expect(node, dict, "defaults")
    sections = defaults_sections()
    values: dict[str, dict] = {}
    spans: dict[tuple[str, str], SourceSpan] = {}
    errors = Diagnostics()
    for section, body in node.value.items():
        errors.run(_defaults_section, node, section, body, sections, values, spans)
    errors.check()
    return values, spans


def _defaults_section(node: YNode, section: str, body: YNode, sections: dict[str, LayerKind], values: dict,
                      spans: dict) -> None:
    key = section.lower()
    if key not in sections:
        span = node.source.span_at(key_index(node, section), len(section))
        raise NetcError.at(span, f"unknown defaults section '{section}'", did_you_mean(key, list(sections)))
    expect(body, dict, f"defaults.{section}")
    kind = sections[key]
    names = [a.name for a in kind.attrs]
    values[key] = {}
    errors = Diagnostics()
    for attr, item in body.value.items():
        if attr.lower() not in names:
            span = body.source.span_at(key_index(body, attr), len(attr))
            listing = ", ".join(names) if names else "no attributes"
            errors.add(NetcError.at(span, f"{key} has no attribute '{attr}' (it takes {listing})",
                                    did_you_mean(attr, names)))
            continue
        if isinstance(item.value, list) and kind.attrs[names.index(attr.lower())].type == "floats":
            # a list of numbers (anchors' sizes: [32, 64]); an empty one has nothing to read
            parts = [errors.run(_scalar_value, part, f"defaults.{section}.{attr}") for part in item.value]
            value = tuple(parts) if parts and None not in parts else None
            if not parts:
                errors.add(NetcError.at(item.span, f"defaults.{section}.{attr} must hold at least one number"))
        else:
            value = errors.run(_scalar_value, item, f"defaults.{section}.{attr}")
        if value is not None:
            values[key][attr.lower()] = value
            spans[(key, attr.lower())] = item.span
    errors.check()


def _scalar_value(node: YNode, what: str) -> int | float | str | bool:
    if isinstance(node.value, (dict, list)) or node.value is None:
        raise NetcError.at(node.span, f"{what} must be a number or a word, got {describe(node.value)}")
    finite(node, what)
    return node.value
