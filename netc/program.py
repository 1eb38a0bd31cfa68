"""YAML tree → Program: check the spec's keys and types, parse every DSL string."""

from __future__ import annotations

import keyword
import re

from . import ast
from .errors import NetcError, SourceSpan, UsageError, did_you_mean
from .layers import KINDS, lookup_word
from .parse import parse_dsl
from .source import DslText
from .spec import YNode, load_yaml, read_spec_text

TOP_KEYS = ("name", "input", "params", "defaults", "blocks", "network", "heads")
BLOCK_KEYS = ("args", "body", "parallel", "residual", "shortcut", "after")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_identifier(name: str, span: SourceSpan | None, what: str) -> str:
    """Names from a spec become Python identifiers in generated code: only safe ones pass."""
    if not isinstance(name, str) or not IDENTIFIER.match(name) or keyword.iskeyword(name) or name.startswith("__"):
        raise NetcError.at(
            span, f"{what} {name!r} is not a valid name (letters, digits and _, not starting with a digit, "
            "not a Python keyword, no leading __)"
        )
    return name


def _expect(node: YNode, kind: type | tuple[type, ...], what: str) -> None:
    if isinstance(node.value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise NetcError.at(node.span, f"{what} must be {_type_name(kind)}, got a boolean")
    if not isinstance(node.value, kind):
        raise NetcError.at(node.span, f"{what} must be {_type_name(kind)}, got {_describe(node.value)}")


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {dict: "a mapping", list: "a list", str: "a string", int: "an integer", float: "a number"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _describe(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


def _check_keys(node: YNode, allowed: tuple[str, ...], where: str) -> None:
    for key, value in node.value.items():
        if key not in allowed:
            span = node.source.span_at(_key_index(node, key), len(key))
            raise NetcError.at(span, f"unknown key '{key}' in {where}", did_you_mean(key, list(allowed)))


def _key_index(node: YNode, key: str) -> int:
    """File index of a mapping key (the value's start, searched back to its key)."""
    value = node.value[key]
    found = node.source.text.rfind(key, node.start, value.start + 1)
    return found if found >= 0 else value.start


def _dsl(node: YNode, what: str) -> ast.Seq:
    if isinstance(node.value, list):
        if not node.value:
            raise NetcError.at(node.span, f"{what} is an empty list")
        parts = [_dsl(item, what) for item in node.value]
        return ast.Seq(tuple(i for p in parts for i in p.items), parts[0].span)
    _expect(node, str, what)
    return parse_dsl(node.dsl())


def _input_shape(node: YNode) -> tuple[int, ...]:
    value = node.value
    if isinstance(value, str):
        parts = re.split(r"\s*[x×,]\s*", value.strip().lower())
        if not all(p.isdigit() for p in parts):
            raise NetcError.at(node.span, f"input must be a list like [3, 224, 224] or 3x224x224, got {value!r}")
        dims = [int(p) for p in parts]
    elif isinstance(value, list):
        for item in value:
            if isinstance(item.value, bool) or not isinstance(item.value, int):
                raise NetcError.at(item.span, f"input sizes must be whole numbers, got {_describe(item.value)}")
        dims = [item.value for item in value]
    else:
        raise NetcError.at(node.span, f"input must be a list [C, H, W] or [F], got {_describe(value)}")
    if len(dims) not in (1, 3):
        raise NetcError.at(node.span, f"input must have 3 sizes [C, H, W] or 1 [F], got {len(dims)}")
    for d in dims:
        if d <= 0 or d > 1_000_000:
            raise NetcError.at(node.span, f"input sizes must be between 1 and 1,000,000, got {d}")
    return tuple(dims)


def _scalar_value(node: YNode, what: str) -> int | float | str | bool:
    if isinstance(node.value, (dict, list)) or node.value is None:
        raise NetcError.at(node.span, f"{what} must be a number or a word, got {_describe(node.value)}")
    return node.value


def _params(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    _expect(node, dict, "params")
    values, spans = {}, {}
    for key, item in node.value.items():
        check_identifier(key, item.span, "param")
        if isinstance(item.value, bool) or not isinstance(item.value, (int, float)):
            raise NetcError.at(item.span, f"param '{key}' must be a number, got {_describe(item.value)}")
        values[key], spans[key] = item.value, item.span
    return values, spans


def _defaults(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    _expect(node, dict, "defaults")
    sections = sorted({k.defaults_key for k in KINDS.values() if k.defaults_key} | set(KINDS))
    values: dict[str, dict] = {}
    spans: dict[tuple[str, str], SourceSpan] = {}
    for section, body in node.value.items():
        key = section.lower()
        if key not in sections:
            span = node.source.span_at(_key_index(node, section), len(section))
            raise NetcError.at(span, f"unknown defaults section '{section}'", did_you_mean(key, sections))
        _expect(body, dict, f"defaults.{section}")
        kind = KINDS.get(key) or next(k for k in KINDS.values() if k.defaults_key == key)
        names = [a.name for a in kind.attrs]
        values[key] = {}
        for attr, item in body.value.items():
            if attr.lower() not in names:
                span = body.source.span_at(_key_index(body, attr), len(attr))
                raise NetcError.at(span, f"{key} has no attribute '{attr}'", did_you_mean(attr, names))
            values[key][attr.lower()] = _scalar_value(item, f"defaults.{section}.{attr}")
            spans[(key, attr.lower())] = item.span
    return values, spans


def _block(name: str, node: YNode, span: SourceSpan) -> ast.BlockDef:
    check_identifier(name, span, "block name")
    if lookup_word(name.lower()) is not None:
        raise NetcError.at(span, f"block name '{name}' is already a layer word; choose another name")
    if isinstance(node.value, (str, list)):  # a bare DSL string: a sequence block without arguments
        return ast.BlockDef(name.lower(), (), "sequence", _dsl(node, f"block '{name}'"), (), "identity", None, span)
    _expect(node, dict, f"block '{name}'")
    _check_keys(node, BLOCK_KEYS, f"block '{name}'")
    forms = [k for k in ("body", "parallel", "residual") if k in node.value]
    if len(forms) != 1:
        raise NetcError.at(span, f"block '{name}' needs exactly one of body, parallel, residual (got {len(forms) or 'none'})")
    form = forms[0]
    params: list[ast.BlockParam] = []
    args = node.value.get("args")
    if args is not None:
        if isinstance(args.value, list):
            entries = []
            for item in args.value:
                if isinstance(item.value, dict):
                    entries.extend((k, v) for k, v in item.value.items())
                else:
                    _expect(item, str, "a block argument")
                    entries.append((item.value, None))
        elif isinstance(args.value, dict):
            entries = list(args.value.items())
        else:
            raise NetcError.at(args.span, "args must be a list of names or a mapping of names to defaults")
        for arg_name, default in entries:
            where = default.span if default is not None else args.span
            check_identifier(arg_name, where, "block argument")
            value = None if default is None else default.value
            if isinstance(value, (dict, list)):
                raise NetcError.at(where, f"default of '{arg_name}' must be a number or a word")
            if any(p.name == arg_name for p in params):
                raise NetcError.at(where, f"block argument '{arg_name}' declared twice")
            params.append(ast.BlockParam(arg_name, value, where))
    after = _dsl(node.value["after"], "after") if "after" in node.value else None
    body: ast.Seq | None = None
    branches: tuple[ast.Seq, ...] = ()
    shortcut: str | ast.Seq = "identity"
    if form == "parallel":
        branch_node = node.value["parallel"]
        _expect(branch_node, list, "parallel")
        if len(branch_node.value) < 1:
            raise NetcError.at(branch_node.span, "parallel needs at least one branch")
        branches = tuple(_dsl(b, "a branch") for b in branch_node.value)
    else:
        body = _dsl(node.value[form], form)
    if form == "residual":
        shortcut = "auto"
        if "shortcut" in node.value:
            sc = node.value["shortcut"]
            _expect(sc, str, "shortcut")
            shortcut = sc.value.strip().lower() if sc.value.strip().lower() in ("auto", "identity") else _dsl(sc, "shortcut")
    elif "shortcut" in node.value:
        raise NetcError.at(node.value["shortcut"].span, "shortcut belongs to a residual block")
    return ast.BlockDef(name.lower(), tuple(params), form, body, branches, shortcut, after, span)


def _heads(node: YNode | None) -> tuple[ast.HeadDef, ...]:
    if node is None:
        return ()
    _expect(node, dict, "heads")
    heads = []
    for name, body in node.value.items():
        span = node.source.span_at(_key_index(node, name), len(name))
        check_identifier(name, span, "head name")
        origin, origin_span = None, None
        if isinstance(body.value, dict):
            _check_keys(body, ("from", "body"), f"head '{name}'")
            if "body" not in body.value:
                raise NetcError.at(body.span, f"head '{name}' needs a body")
            if "from" in body.value:
                _expect(body.value["from"], str, "from")
                origin, origin_span = body.value["from"].value, body.value["from"].span
            seq = _dsl(body.value["body"], f"head '{name}'")
        else:
            seq = _dsl(body, f"head '{name}'")
        heads.append(ast.HeadDef(name, origin, origin_span, seq, span))
    return tuple(heads)


def build_program(root: YNode, overrides: dict[str, int | float] | None = None, default_name: str = "net") -> ast.Program:
    if not isinstance(root.value, dict):
        raise NetcError.at(root.span, f"a spec is a mapping with keys {', '.join(TOP_KEYS)}; got {_describe(root.value)}")
    _check_keys(root, TOP_KEYS, "the spec")
    top = root.value
    for required in ("input", "network"):
        if required not in top:
            raise NetcError.at(root.source.span_at(0), f"the spec has no '{required}' key")
    name_node = top.get("name")
    if name_node is not None:
        _expect(name_node, str, "name")
        name, name_span = name_node.value, name_node.span
    else:
        name, name_span = default_name, root.span
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", name or ""):
        raise NetcError.at(name_span, f"name {name!r} must start with a letter and hold only letters, digits, _ and -")
    params, param_spans = _params(top.get("params"))
    for key, value in (overrides or {}).items():
        if key not in params:
            hint = did_you_mean(key, list(params))
            raise UsageError(f"-D {key}: the spec has no param '{key}'" + (f"; {hint}" if hint else "")
                             + (f" (params: {', '.join(params)})" if params else " (it declares no params)"))
        params[key] = value
    defaults, default_spans = _defaults(top.get("defaults"))
    blocks: dict[str, ast.BlockDef] = {}
    if "blocks" in top:
        blocks_node = top["blocks"]
        _expect(blocks_node, dict, "blocks")
        for block_name, body in blocks_node.value.items():
            span = blocks_node.source.span_at(_key_index(blocks_node, block_name), len(block_name))
            if block_name.lower() in blocks:
                raise NetcError.at(span, f"block '{block_name}' defined twice (names are case-insensitive)")
            blocks[block_name.lower()] = _block(block_name, body, span)
    return ast.Program(
        name=name, name_span=name_span,
        input_shape=_input_shape(top["input"]), input_span=top["input"].span,
        params=params, param_spans=param_spans,
        defaults=defaults, default_spans=default_spans,
        blocks=blocks, network=_dsl(top["network"], "network"), heads=_heads(top.get("heads")),
        path=root.source.path, overrides=dict(overrides or {}),
    )


def load_program(path: str, overrides: dict[str, int | float] | None = None) -> ast.Program:
    text = read_spec_text(path)
    stem = re.sub(r"\W", "_", path.rsplit("/", 1)[-1].rsplit(".", 1)[0]) or "net"
    return build_program(load_yaml(text, path), overrides, default_name=stem if stem[0].isalpha() else "net")


def program_from_expression(dsl: str, input_shape: tuple[int, ...], name: str = "net") -> ast.Program:
    """A one-line network from `netc table -e '...' --input 3x32x32`."""
    text = DslText.standalone(dsl)
    span = text.span(0)
    return ast.Program(name, span, input_shape, span, {}, {}, {}, {}, {}, parse_dsl(text), (), "<expr>")
