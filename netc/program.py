"""YAML tree → Program: check the spec's keys and types, parse every DSL string."""

from __future__ import annotations

import keyword
import math
import os
import re
from dataclasses import replace

from . import ast
from .errors import MAX_ERRORS, Diagnostic, NetcError, SourceSpan, UsageError, did_you_mean
from .layers import KINDS, lookup_word
from .parse import parse_dsl
from .source import DslText
from .spec import YNode, load_yaml, read_spec_text

TOP_KEYS = ("name", "input", "params", "defaults", "blocks", "network", "heads")
BLOCK_KEYS = ("args", "body", "parallel", "residual", "shortcut", "merge", "after")
DEFAULT_MERGE = {"parallel": "concat", "residual": "add"}  # what `merge:` is when a block does not say
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


MAX_DSL_CHARS = 200_000  # of DSL text in one spec: parsing costs ≈7 µs a character


class Diagnostics:
    """Errors collected over the independent parts of a spec (each top-level key, params entry,
    defaults entry, block, network line and head), so one run reports them all, as a compiler
    does. A part that fails is left out of the program; the program is not built if any did."""

    def __init__(self, parent: Diagnostics | None = None) -> None:
        self.found: list[Diagnostic] = []
        self.root = parent.root if parent is not None else self  # keeps the spec-wide DSL budget
        self.dsl_chars = 0

    def add(self, exc: NetcError) -> None:
        for diagnostic in exc.diagnostics:
            if diagnostic not in self.found:
                self.found.append(diagnostic)

    def run(self, fn, *args, default=None):
        """fn(*args), or `default` when it raises a NetcError (recorded)."""
        try:
            return fn(*args)
        except NetcError as exc:
            self.add(exc)
            return default

    def check(self) -> None:
        if self.found:
            raise NetcError(self.found[:MAX_ERRORS])


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
    found = []
    for key in node.value:
        if key not in allowed:
            span = node.source.span_at(_key_index(node, key), len(key))
            hint = did_you_mean(key, list(allowed))
            if hint is None and re.search(r"[()=]", key):
                hint = _FLOW_COMMA_HINT
            elif hint is None:
                hint = f"the keys here are {', '.join(allowed)}"
            found.append(Diagnostic("error", f"unknown key '{key}' in {where}", span, hint))
    if found:
        raise NetcError(found)


_FLOW_COMMA_HINT = ("inside { } or [ ], YAML splits a plain string at every comma: "
                    "put the network description in quotes")


def _split_at_comma(node: YNode) -> bool:
    """Whether YAML cut this plain scalar at a comma of a flow collection: `{body: conv(8, 3)}`."""
    text = node.source.text
    if node.start >= len(text) or text[node.start] in "'\"|>":
        return False
    rest = text[node.end : node.end + 200].lstrip(" \t")
    return rest.startswith(",")


def _key_index(node: YNode, key: str) -> int:
    """File index of a mapping key (the value's start, searched back to its key)."""
    if node.key_starts and key in node.key_starts:
        return node.key_starts[key]
    value = node.value[key]
    found = node.source.text.rfind(key, node.start, value.start + 1)
    return found if found >= 0 else value.start


def _dsl(node: YNode, what: str, errors: Diagnostics | None = None) -> ast.Seq:
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
        parts = _dsl_items(node.value, what, local)
        if len(local.found) > before:
            raise NetcError(local.found[before:])
        return ast.Seq(tuple(i for p in parts for i in p.items), parts[0].span)
    _expect(node, str, what)
    text = node.dsl()
    if errors is not None:
        errors.root.dsl_chars += len(text.text)
        if errors.root.dsl_chars > MAX_DSL_CHARS:
            raise NetcError.at(node.span, f"the spec holds more than {MAX_DSL_CHARS:,} characters of network "
                               "description", "write repeated parts once with (A-B)*N or a block")
    try:
        return parse_dsl(text)
    except NetcError as exc:
        if _split_at_comma(node):
            exc = NetcError([Diagnostic(d.severity, d.message, d.span, d.hint or _FLOW_COMMA_HINT)
                             for d in exc.diagnostics])
        raise exc from None


def _dsl_items(nodes: list[YNode], what: str, errors: Diagnostics) -> list[ast.Seq | None]:
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
        parts.append(errors.run(_dsl, item, what, errors))
        if len(errors.found) > before and _split_at_comma(item):
            open_brackets = depth
    return parts


def _input_shape(node: YNode, params: dict[str, int | float] | None = None) -> tuple[int, ...]:
    """[C, H, W] or [F], "3x224x224"; a list item may name a param (`input: [3, S, S]`)."""
    value = node.value
    if isinstance(value, list):
        value = [_input_param(item, params or {}) for item in value]
    if isinstance(value, str):
        parts = re.split(r"\s*[x×,]\s*", value.strip().lower())
        if not all(re.fullmatch(r"[0-9]{1,12}", p) for p in parts):
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
                raise NetcError.at(item.span, f"input sizes must be whole numbers, got {_describe(item.value)}", hint)
        dims = [item.value for item in value]
    else:
        raise NetcError.at(node.span, f"input must be a list [C, H, W] or [F], got {_describe(value)}")
    if len(dims) not in (1, 3):
        hint = (f"give the channels first: [3, {dims[0]}, {dims[1]}] for a colour image, [1, {dims[0]}, {dims[1]}] "
                "for a grey one" if len(dims) == 2 else None)
        raise NetcError.at(node.span, f"input must have 3 sizes [C, H, W] or 1 [F], got {len(dims)}", hint)
    for d in dims:
        if d <= 0 or d > 1_000_000:
            raise NetcError.at(node.span, f"input sizes must be between 1 and 1,000,000, got {d}")
    return tuple(dims)


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


def _scalar_value(node: YNode, what: str) -> int | float | str | bool:
    if isinstance(node.value, (dict, list)) or node.value is None:
        raise NetcError.at(node.span, f"{what} must be a number or a word, got {_describe(node.value)}")
    _finite(node, what)
    return node.value


def _finite(node: YNode, what: str) -> None:
    """No size or rate in a network is infinite or not a number: YAML's .inf and .nan are refused."""
    if isinstance(node.value, float) and not math.isfinite(node.value):
        raise NetcError.at(node.span, f"{what} must be a finite number, got {node.value}")


def _params(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    _expect(node, dict, "params")
    values, spans = {}, {}
    errors = Diagnostics()
    for key, item in node.value.items():
        values[key], spans[key] = errors.run(_param, key, item, node, default=(None, item.span))
    errors.check()
    return values, spans


def _param(key: str, item: YNode, node: YNode) -> tuple[int | float, SourceSpan]:
    check_identifier(key, node.source.span_at(_key_index(node, key), len(key)), "param")
    if isinstance(item.value, bool) or not isinstance(item.value, (int, float)):
        hint = None
        if isinstance(item.value, str) and re.fullmatch(r"[-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+", item.value.strip()):
            hint = f"YAML reads {item.value} as a string; write it with a dot: {_yaml_float(item.value)}"
        raise NetcError.at(item.span, f"param '{key}' must be a number, got {_describe(item.value)}", hint)
    _finite(item, f"param '{key}'")
    return item.value, item.span


def _yaml_float(text: str) -> str:
    mantissa, exponent = re.split(r"[eE]", text.strip(), maxsplit=1)
    return f"{mantissa if '.' in mantissa else mantissa + '.0'}e{exponent}"


def _defaults(node: YNode | None) -> tuple[dict, dict]:
    if node is None:
        return {}, {}
    _expect(node, dict, "defaults")
    sections = sorted({k.defaults_key for k in KINDS.values() if k.defaults_key} | set(KINDS))
    values: dict[str, dict] = {}
    spans: dict[tuple[str, str], SourceSpan] = {}
    errors = Diagnostics()
    for section, body in node.value.items():
        errors.run(_defaults_section, node, section, body, sections, values, spans)
    errors.check()
    return values, spans


def _defaults_section(node: YNode, section: str, body: YNode, sections: list[str], values: dict, spans: dict) -> None:
    key = section.lower()
    if key not in sections:
        span = node.source.span_at(_key_index(node, section), len(section))
        raise NetcError.at(span, f"unknown defaults section '{section}'", did_you_mean(key, sections))
    _expect(body, dict, f"defaults.{section}")
    kind = KINDS.get(key) or next(k for k in KINDS.values() if k.defaults_key == key)
    names = [a.name for a in kind.attrs]
    values[key] = {}
    errors = Diagnostics()
    for attr, item in body.value.items():
        if attr.lower() not in names:
            span = body.source.span_at(_key_index(body, attr), len(attr))
            listing = ", ".join(names) if names else "no attributes"
            errors.add(NetcError.at(span, f"{key} has no attribute '{attr}' (it takes {listing})",
                                    did_you_mean(attr, names)))
            continue
        value = errors.run(_scalar_value, item, f"defaults.{section}.{attr}")
        if value is not None:
            values[key][attr.lower()] = value
            spans[(key, attr.lower())] = item.span
    errors.check()


SHORTCUT_WORDS = ("auto", "identity", "zeropad")


def _shortcut_hint(word: str) -> str:
    return did_you_mean(word, list(SHORTCUT_WORDS)) or (
        "`auto` is the identity, or a 1×1 projection where the body changes the shape; "
        "or write the projection yourself, e.g. conv(C, 1, stride=S)-bn")


def _block(name: str, node: YNode, span: SourceSpan, errors: Diagnostics | None = None) -> ast.BlockDef:
    check_identifier(name, span, "block name")
    if lookup_word(name.lower()) is not None:
        raise NetcError.at(span, f"block name '{name}' is already a layer word; choose another name")
    if isinstance(node.value, (str, list)):  # a bare DSL string: a sequence block without arguments
        return ast.BlockDef(name.lower(), (), "sequence", _dsl(node, f"block '{name}'", errors), (), "identity", None, span)
    _expect(node, dict, f"block '{name}'")
    local = Diagnostics(errors)  # the block's parts are checked independently, like the spec's
    local.run(_check_keys, node, BLOCK_KEYS, f"block '{name}'")
    forms = [k for k in ("body", "parallel", "residual") if k in node.value]
    if len(forms) != 1:
        local.add(NetcError.at(span, f"block '{name}' needs exactly one of body, parallel, residual "
                               f"(got {' and '.join(forms) if forms else 'none'})"))
        local.check()
    form = forms[0]
    params = local.run(_block_args, node.value.get("args"), default=[])
    after = local.run(_dsl, node.value["after"], "after", errors) if "after" in node.value else None
    body: ast.Seq | None = None
    branches: tuple[ast.Seq, ...] = ()
    shortcut: str | ast.Seq = "identity"
    if form == "parallel":
        branch_node = node.value["parallel"]
        _expect(branch_node, list, "parallel")
        if len(branch_node.value) < 1:
            raise NetcError.at(branch_node.span, "parallel needs at least one branch")
        branches = tuple(_dsl_items(branch_node.value, "a branch", local))
    else:
        body = local.run(_dsl, node.value[form], form, errors)
    if form == "residual":
        shortcut = "auto"
        if "shortcut" in node.value:
            sc = node.value["shortcut"]
            if local.run(_expect, sc, str, "shortcut", default=False) is None:
                word = sc.value.strip().lower()
                if word in SHORTCUT_WORDS:
                    shortcut = word
                elif re.fullmatch(r"[a-z_][a-z0-9_]*", word) and lookup_word(word) is None and (
                        word in ("projection", "project") or did_you_mean(word, list(SHORTCUT_WORDS))):
                    local.add(NetcError.at(sc.span, f"unknown shortcut '{sc.value.strip()}'", _shortcut_hint(word)))
                else:
                    shortcut = local.run(_dsl, sc, "shortcut", errors)
    elif "shortcut" in node.value:
        local.add(NetcError.at(node.value["shortcut"].span, "shortcut belongs to a residual block",
                               "only a block with `residual:` has a shortcut"))
    merge = local.run(_merge, node.value.get("merge"), form, default="")
    local.check()
    kind = "sequence" if form == "body" else form  # the AST's name for a `body:` block
    return ast.BlockDef(name.lower(), tuple(params), kind, body, branches, shortcut, after, span, merge)


def _merge(node: YNode | None, form: str) -> str:
    """The kind that merges a parallel or residual block: a registry kind that takes several inputs."""
    if node is None:
        return DEFAULT_MERGE.get(form, "")
    if form not in DEFAULT_MERGE:
        raise NetcError.at(node.span, "merge belongs to a parallel or residual block",
                           "a `body:` block is one chain: nothing to merge")
    _expect(node, str, "merge")
    merges = sorted(name for name, kind in KINDS.items() if kind.merges)
    word = node.value.strip().lower()
    if word not in merges:
        raise NetcError.at(node.span, f"unknown merge '{node.value.strip()}' (the merges are {', '.join(merges)})",
                           did_you_mean(word, merges))
    return word


def _block_args(args: YNode | None) -> list[ast.BlockParam]:
    params: list[ast.BlockParam] = []
    if args is not None:
        if isinstance(args.value, list):
            entries = []
            for item in args.value:
                if isinstance(item.value, dict):
                    entries.extend((k, v, item.source.span_at(_key_index(item, k), len(k))) for k, v in item.value.items())
                else:
                    _expect(item, str, "a block argument")
                    entries.append((item.value, None, item.span))
        elif isinstance(args.value, dict):
            entries = [(k, v, args.source.span_at(_key_index(args, k), len(k))) for k, v in args.value.items()]
        else:
            raise NetcError.at(args.span, "args must be a list of names or a mapping of names to defaults")
        for arg_name, default, name_span in entries:
            where = default.span if default is not None and default.value is not None else name_span
            check_identifier(arg_name, name_span, "block argument")
            value = None if default is None else default.value
            if isinstance(value, (dict, list)):
                raise NetcError.at(where, f"default of '{arg_name}' must be a number or a word")
            if default is not None:
                _finite(default, f"default of '{arg_name}'")
            if any(p.name == arg_name for p in params):
                raise NetcError.at(where, f"block argument '{arg_name}' declared twice")
            params.append(ast.BlockParam(arg_name, value, where))
    return params


def _heads(node: YNode | None, errors: Diagnostics | None = None) -> tuple[ast.HeadDef, ...]:
    if node is None:
        return ()
    _expect(node, dict, "heads")
    errors = errors or Diagnostics()
    heads = [errors.run(_head, node, name, body, errors) for name, body in node.value.items()]
    errors.check()
    return tuple(heads)


def _head(node: YNode, name: str, body: YNode, errors: Diagnostics) -> ast.HeadDef:
    span = node.source.span_at(_key_index(node, name), len(name))
    check_identifier(name, span, "head name")
    origin, origin_span = None, None
    if isinstance(body.value, dict):
        _check_keys(body, ("from", "body"), f"head '{name}'")
        if "body" not in body.value:
            raise NetcError.at(body.span, f"head '{name}' needs a body")
        if "from" in body.value:
            _expect(body.value["from"], str, "from")
            origin, origin_span = body.value["from"].value.strip(), body.value["from"].span
            if origin.startswith("<") and origin.endswith(">"):
                origin = origin[1:-1].strip()
        seq = _dsl(body.value["body"], f"head '{name}'", errors)
    else:
        seq = _dsl(body, f"head '{name}'", errors)
    return ast.HeadDef(name, origin, origin_span, seq, span)


def build_program(root: YNode, overrides: dict[str, int | float] | None = None, default_name: str = "net") -> ast.Program:
    if not isinstance(root.value, dict):
        raise NetcError.at(root.span, f"a spec is a mapping with keys {', '.join(TOP_KEYS)}; got {_describe(root.value)}")
    errors = Diagnostics()  # every independent part is checked; all their errors are reported together
    errors.run(_check_keys, root, TOP_KEYS, "the spec")
    top = root.value
    for required in ("input", "network"):
        if required not in top:
            example = "input: [3, 224, 224]" if required == "input" else "network: conv3-64-relu-maxpool-fc(10)"
            hint = f"add a line like `{example}`"
            misspelt = [k for k in top if k not in TOP_KEYS and did_you_mean(k, [required])]
            if misspelt:
                line = root.source.span_at(_key_index(root, misspelt[0])).line
                hint = f"is '{misspelt[0]}' on line {line} meant to be '{required}'?"
            errors.add(NetcError.at(root.source.span_at(0), f"the spec has no '{required}' key", hint))
    name, name_span = errors.run(_name, top.get("name"), default_name, root.span, default=(default_name, root.span))
    param_node = top.get("params")
    params, param_spans = errors.run(_params, param_node, default=({}, {}))
    declared = list(param_node.value) if param_node is not None and isinstance(param_node.value, dict) else []
    for key, value in (overrides or {}).items():
        if key not in declared:
            hint = did_you_mean(key, declared)
            raise UsageError(f"-D {key}: the spec has no param '{key}'" + (f"; {hint}" if hint else "")
                             + (f" (params: {', '.join(declared)})" if declared else " (it declares no params)"))
        params[key] = value
    defaults, default_spans = errors.run(_defaults, top.get("defaults"), default=({}, {}))
    blocks: dict[str, ast.BlockDef] = {}
    if "blocks" in top:
        blocks_node = top["blocks"]
        if errors.run(_expect, blocks_node, dict, "blocks", default=False) is None:
            seen: set[str] = set()
            for block_name, body in blocks_node.value.items():
                span = blocks_node.source.span_at(_key_index(blocks_node, block_name), len(block_name))
                if block_name.lower() in seen:
                    errors.add(NetcError.at(span, f"block '{block_name}' defined twice (names are case-insensitive)"))
                    continue
                seen.add(block_name.lower())
                block = errors.run(_block, block_name, body, span, errors)
                if block is not None:
                    blocks[block_name.lower()] = block
    input_shape = errors.run(_input_shape, top["input"], params) if "input" in top else None
    network = errors.run(_dsl, top["network"], "network", errors) if "network" in top else None
    heads = errors.run(_heads, top.get("heads"), errors)
    errors.check()
    return ast.Program(
        name=name, name_span=name_span,
        input_shape=input_shape, input_span=top["input"].span,
        params=params, param_spans=param_spans,
        defaults=defaults, default_spans=default_spans,
        blocks=blocks, network=network, heads=heads,
        path=root.source.path, overrides=dict(overrides or {}),
    )


def _name(node: YNode | None, default_name: str, default_span: SourceSpan) -> tuple[str, SourceSpan]:
    if node is None:
        return default_name, default_span
    _expect(node, str, "name")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_\-]*", node.value):
        raise NetcError.at(node.span, f"name {node.value!r} must start with a letter and hold only letters, digits, _ and -")
    return node.value, node.span


def load_program(path: str, overrides: dict[str, int | float] | None = None,
                 input_shape: tuple[int, ...] | None = None) -> ast.Program:
    """The checked program of a spec file; `input_shape` (netc's --input) replaces the spec's input."""
    path = os.fspath(path)  # a pathlib.Path from Python callers
    text = read_spec_text(path)
    stem = re.sub(r"[^A-Za-z0-9_]", "_", path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
    program = build_program(load_yaml(text, path), overrides,
                            default_name=stem if re.match(r"[A-Za-z]", stem) else "net")
    return replace(program, input_shape=input_shape) if input_shape is not None else program


def program_from_expression(dsl: str, input_shape: tuple[int, ...], name: str = "net") -> ast.Program:
    """A one-line network from `netc table -e '...' --input 3x32x32`."""
    text = DslText.standalone(dsl)
    span = text.span(0)
    return ast.Program(name, span, input_shape, span, {}, {}, {}, {}, {}, parse_dsl(text), (), "<expr>")
