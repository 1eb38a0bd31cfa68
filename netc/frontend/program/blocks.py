"""`blocks:` entries → ast.BlockDef: a sequence (`body:`), parallel or residual block, its
arguments, shortcut, merge and `after:` tail."""

from __future__ import annotations

import re

from ...errors import Diagnostics, NetcError, SourceSpan, did_you_mean
from ...layers import KINDS, lookup_word
from .. import ast
from ..spec import YNode
from .checks import check_identifier, check_keys, expect, finite, key_index
from .dsl import parse_dsl_items, parse_dsl_node

BLOCK_KEYS = ("args", "body", "parallel", "residual", "shortcut", "merge", "after", "outputs")
BLOCK_FORMS = ("body", "parallel", "residual")  # a block has exactly one
DEFAULT_MERGE = {"parallel": "concat", "residual": "add"}  # what `merge:` is when a block does not say
SHORTCUT_WORDS = ("auto", "identity", "zeropad")


def _shortcut_hint(word: str) -> str:
    return did_you_mean(word, list(SHORTCUT_WORDS)) or (
        "`auto` is the identity, or a 1×1 projection where the body changes the shape; "
        "or write the projection yourself, e.g. conv(C, 1, stride=S)-bn")


def read_block(name: str, node: YNode, span: SourceSpan, errors: Diagnostics | None = None) -> ast.BlockDef:
    check_identifier(name, span, "block name")
    if lookup_word(name.lower()) is not None or name.lower() == ast.GO_ON_FROM:
        raise NetcError.at(span, f"block name '{name}' is already a layer word; choose another name")
    if isinstance(node.value, (str, list)):  # a bare DSL string: a sequence block without arguments
        body = parse_dsl_node(node, f"block '{name}'", errors)
        return ast.BlockDef(name.lower(), (), "sequence", body, (), "identity", None, span)
    expect(node, dict, f"block '{name}'")
    local = Diagnostics(errors)  # the block's parts are checked independently, like the spec's
    local.run(check_keys, node, BLOCK_KEYS, f"block '{name}'")
    forms = [k for k in BLOCK_FORMS if k in node.value]
    if len(forms) != 1:
        local.add(NetcError.at(span, f"block '{name}' needs exactly one of body, parallel, residual "
                               f"(got {' and '.join(forms) if forms else 'none'})"))
        local.check()
    form = forms[0]
    params = local.run(_block_args, node.value.get("args"), default=[])
    after = local.run(parse_dsl_node, node.value["after"], "after", errors) if "after" in node.value else None
    body: ast.Seq | None = None
    branches: tuple[ast.Seq, ...] = ()
    shortcut: str | ast.Seq = "identity"
    if form == "parallel":
        branch_node = node.value["parallel"]
        expect(branch_node, list, "parallel")
        if len(branch_node.value) < 1:
            raise NetcError.at(branch_node.span, "parallel needs at least one branch")
        branches = tuple(parse_dsl_items(branch_node.value, "a branch", local))
    else:
        body = local.run(parse_dsl_node, node.value[form], form, errors)
    if form == "residual":
        shortcut = "auto"
        if "shortcut" in node.value:
            sc = node.value["shortcut"]
            if local.run(expect, sc, str, "shortcut", default=False) is None:
                word = sc.value.strip().lower()
                if word in SHORTCUT_WORDS:
                    shortcut = word
                elif re.fullmatch(r"[a-z_][a-z0-9_]*", word) and lookup_word(word) is None and (
                        word in ("projection", "project") or did_you_mean(word, list(SHORTCUT_WORDS))):
                    local.add(NetcError.at(sc.span, f"unknown shortcut '{sc.value.strip()}'", _shortcut_hint(word)))
                else:
                    shortcut = local.run(parse_dsl_node, sc, "shortcut", errors)
    elif "shortcut" in node.value:
        local.add(NetcError.at(node.value["shortcut"].span, "shortcut belongs to a residual block",
                               "only a block with `residual:` has a shortcut"))
    merge = local.run(_merge, node.value.get("merge"), form, default="")
    outputs = local.run(_outputs, node.value.get("outputs"), default=())
    local.check()
    kind = "sequence" if form == "body" else form  # the AST's name for a `body:` block
    return ast.BlockDef(name.lower(), tuple(params), kind, body, branches, shortcut, after, span, merge, outputs)


def _outputs(node: YNode | None) -> tuple[tuple[str, SourceSpan], ...]:
    """`outputs: [high, low]`: the marks of the body a caller reads as <unit.high> (checked to be
    placed by every use), written bare or as <high>."""
    if node is None:
        return ()
    items = node.value if isinstance(node.value, list) else [node]
    found: list[tuple[str, SourceSpan]] = []
    for item in items:
        expect(item, str, "an output")
        name = item.value.strip().removeprefix("<").removesuffix(">").strip()
        check_identifier(name, item.span, "output")
        if any(name == other for other, _ in found):
            raise NetcError.at(item.span, f"output <{name}> named twice")
        found.append((name, item.span))
    return tuple(found)


def merge_kinds() -> list[str]:
    """The words `merge:` takes: the registry's kinds that merge several inputs."""
    return sorted(name for name, kind in KINDS.items() if kind.merges)


def _merge(node: YNode | None, form: str) -> str:
    """The kind that merges a parallel or residual block: a registry kind that takes several inputs."""
    if node is None:
        return DEFAULT_MERGE.get(form, "")
    if form not in DEFAULT_MERGE:
        raise NetcError.at(node.span, "merge belongs to a parallel or residual block",
                           "a `body:` block is one chain: nothing to merge")
    expect(node, str, "merge")
    merges = merge_kinds()
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
                    entries.extend((k, v, item.source.span_at(key_index(item, k), len(k)))
                                   for k, v in item.value.items())
                else:
                    expect(item, str, "a block argument")
                    entries.append((item.value, None, item.span))
        elif isinstance(args.value, dict):
            entries = [(k, v, args.source.span_at(key_index(args, k), len(k))) for k, v in args.value.items()]
        else:
            raise NetcError.at(args.span, "args must be a list of names or a mapping of names to defaults")
        for arg_name, default, name_span in entries:
            where = default.span if default is not None and default.value is not None else name_span
            check_identifier(arg_name, name_span, "block argument")
            value = None if default is None else default.value
            if isinstance(value, (dict, list)):
                raise NetcError.at(where, f"default of '{arg_name}' must be a number or a word")
            if default is not None:
                finite(default, f"default of '{arg_name}'")
            if any(p.name == arg_name for p in params):
                raise NetcError.at(where, f"block argument '{arg_name}' declared twice")
            params.append(ast.BlockParam(arg_name, value, where))
    return params
