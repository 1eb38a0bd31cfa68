"""The spec's top level → ast.Program: its keys checked, each part read by its own module, every
part's errors reported together; and the two ways in, a spec file and a one-line expression."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from ...errors import Diagnostics, NetcError, SourceSpan, UsageError, did_you_mean
from .. import ast
from ..parse import parse_dsl
from ..source import DslText
from ..spec import YNode, load_yaml, read_spec_text
from .blocks import read_block
from .checks import SPEC_NAME, check_keys, describe, expect, key_index
from .dsl import parse_dsl_node
from .freeze import read_freeze
from .heads import read_heads
from .includes import Includer
from .init_config import read_init
from .scales import chosen_scale, read_scales
from .train_config import read_train_config
from .values import read_defaults, read_input_shape, read_named_inputs, read_params

TOP_KEYS = ("name", "input", "params", "scales", "defaults", "include", "blocks", "network", "heads", "init", "freeze",
            "train")
REQUIRED_KEYS = ("input", "network")


def build_program(root: YNode, overrides: dict[str, int | float] | None = None,
                  default_name: str = "net", scale: str | None = None) -> ast.Program:
    if not isinstance(root.value, dict):
        raise NetcError.at(root.span, f"a spec is a mapping with keys {', '.join(TOP_KEYS)}; "
                           f"got {describe(root.value)}")
    errors = Diagnostics()  # every independent part is checked; all their errors are reported together
    errors.run(check_keys, root, TOP_KEYS, "the spec")
    top = root.value
    for required in REQUIRED_KEYS:
        if required not in top:
            example = "input: [3, 224, 224]" if required == "input" else "network: conv3-64-relu-maxpool-fc(10)"
            hint = f"add a line like `{example}`"
            misspelt = [k for k in top if k not in TOP_KEYS and did_you_mean(k, [required])]
            if misspelt:
                line = root.source.span_at(key_index(root, misspelt[0])).line
                hint = f"is '{misspelt[0]}' on line {line} meant to be '{required}'?"
            errors.add(NetcError.at(root.source.span_at(0), f"the spec has no '{required}' key", hint))
    name, name_span = errors.run(_name, top.get("name"), default_name, root.span, default=(default_name, root.span))
    param_node = top.get("params")
    params, param_spans = errors.run(read_params, param_node, default=({}, {}))
    declared = list(param_node.value) if param_node is not None and isinstance(param_node.value, dict) else []
    scales = errors.run(read_scales, top.get("scales"), declared, default={})
    if scale is not None:
        errors.check()  # a preset is chosen from a well-formed scales: key
        params.update(chosen_scale(scales, scale))
    for key, value in (overrides or {}).items():
        if key not in declared:
            hint = did_you_mean(key, declared)
            raise UsageError(f"-D {key}: the spec has no param '{key}'" + (f"; {hint}" if hint else "")
                             + (f" (params: {', '.join(declared)})" if declared else " (it declares no params)"))
        params[key] = value
    defaults, default_spans = errors.run(read_defaults, top.get("defaults"), default=({}, {}))
    blocks: dict[str, ast.BlockDef] = {}
    if "blocks" in top:
        blocks_node = top["blocks"]
        if errors.run(expect, blocks_node, dict, "blocks", default=False) is None:
            seen: set[str] = set()
            for block_name, body in blocks_node.value.items():
                span = blocks_node.source.span_at(key_index(blocks_node, block_name), len(block_name))
                if block_name.lower() in seen:
                    errors.add(NetcError.at(span, f"block '{block_name}' defined twice (names are case-insensitive)"))
                    continue
                seen.add(block_name.lower())
                block = errors.run(read_block, block_name, body, span, errors)
                if block is not None:
                    blocks[block_name.lower()] = block
    if "include" in top:
        before = len(errors.found)
        included = Includer(errors).items(top["include"], root.source.path, blocks)
        if len(errors.found) == before:
            blocks.update({name: found.block for name, found in included.items()})
    inputs: tuple[ast.InputDecl, ...] = ()
    if "input" in top and isinstance(top["input"].value, dict):
        inputs = errors.run(read_named_inputs, top["input"], params, default=())
        input_shape = inputs[0].shape if inputs else None
    else:
        input_shape = errors.run(read_input_shape, top["input"], params) if "input" in top else None
    network = errors.run(parse_dsl_node, top["network"], "network", errors) if "network" in top else None
    heads = errors.run(read_heads, top.get("heads"), errors)
    init = errors.run(read_init, top.get("init"), root.source.span_at(key_index(root, "init"), 4) if "init" in top else None)
    frozen = errors.run(read_freeze, top.get("freeze"), default=())
    errors.run(read_train_config, top.get("train"))  # checked here so `netc check` reports it; netc train reads it
    errors.check()
    return ast.Program(
        name=name, name_span=name_span,
        input_shape=input_shape, input_span=top["input"].span,
        params=params, param_spans=param_spans,
        defaults=defaults, default_spans=default_spans,
        blocks=blocks, network=network, heads=heads,
        path=root.source.path, overrides=dict(overrides or {}), init=init, freeze=frozen or (), inputs=inputs,
    )


def _name(node: YNode | None, default_name: str, default_span: SourceSpan) -> tuple[str, SourceSpan]:
    if node is None:
        return default_name, default_span
    expect(node, str, "name")
    if not SPEC_NAME.match(node.value):
        raise NetcError.at(node.span, f"name {node.value!r} must start with a letter and hold only letters, "
                           "digits, _ and -")
    return node.value, node.span


def load_program(path: str, overrides: dict[str, int | float] | None = None,
                 input_shape: tuple[int, ...] | None = None, scale: str | None = None) -> ast.Program:
    """The checked program of a spec file; `input_shape` (netc's --input) replaces the spec's input,
    `scale` names a preset of the spec's `scales:`, applied before `overrides` (netc's -D)."""
    path = os.fspath(path)  # a pathlib.Path from Python callers
    text = read_spec_text(path)
    stem = re.sub(r"[^A-Za-z0-9_]", "_", path.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0])
    program = build_program(load_yaml(text, path), overrides,
                            default_name=stem if re.match(r"[A-Za-z]", stem) else "net", scale=scale)
    return replace(program, input_shape=input_shape) if input_shape is not None else program


def program_from_expression(dsl: str, input_shape: tuple[int, ...], name: str = "net") -> ast.Program:
    """A one-line network from `netc table -e '...' --input 3x32x32`."""
    text = DslText.standalone(dsl)
    span = text.span(0)
    return ast.Program(name, span, input_shape, span, {}, {}, {}, {}, {}, parse_dsl(text), (), "<expr>")
