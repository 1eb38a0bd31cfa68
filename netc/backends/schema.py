"""`netc schema`: the JSON Schema of a spec file, for editors (README, "Editors").

Every key list, choice and range below is read from the declarations the spec reader checks with
(netc/frontend/program/*: TOP_KEYS, BLOCK_KEYS, HEAD_KEYS, TRAIN_KEYS, CHOICES, RANGES, …; netc/layers:
each kind's `attrs`; netc/frontend/initspec.py: METHODS), so the schema follows netc when a kind, an
attribute or a key is added; schema/netc.schema.json is this module's output, and
tests/test_schema.py fails when the shipped file drifts. What this module writes itself is the
shape of each value (a DSL string or a list of them, a mapping of names to numbers, …) and the
descriptions shown on hover.

Draft-07: the yaml-language-server (VS Code's YAML extension by Red Hat, and the editors that
embed it) supports drafts 04–07 in every release, 2019-09 and 2020-12 only since 1.20; JetBrains'
IDEs and most other validators read draft-07 too, and nothing here needs a later keyword.

The schema accepts what netc accepts, with two differences an editor can live with: words are
given in their lowercase spelling (netc also takes `MaxPool`-style case in some places), and what
only the whole spec decides (a DSL string's syntax, whether a `scales:` preset sets a declared
param, a freeze scope's name) is left to `netc check`.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import MISSING, fields
from typing import Any

import yaml

from ..frontend.ast import GO_ON_FROM
from ..frontend.exprs import Symbol
from ..frontend.initspec import FAN_BASED, METHODS, WORD_CHOICES
from ..frontend.program.blocks import BLOCK_FORMS, BLOCK_KEYS, DEFAULT_MERGE, SHORTCUT_WORDS, merge_kinds
from ..frontend.program.build import REQUIRED_KEYS, TOP_KEYS
from ..frontend.program.checks import IDENTIFIER, SCALE_NAME, SPEC_NAME
from ..frontend.program.heads import HEAD_KEYS
from ..frontend.program.init_config import FLAGS, kind_parts, learned_kinds
from ..frontend.program.train_config import BOOLEAN_CHOICES, CHOICES, INT_KEYS, RANGES, TRAIN_KEYS, TrainConfig
from ..frontend.program.values import INPUT_RANKS, MAX_INPUT_SIZE, SIZE_SEPARATOR, SIZE_TEXT, defaults_sections
from ..layers import KINDS, Attr, LayerKind, known_words
from ..layers.base import REQUIRED
from ..layers.conv import PADDING_KINDS

DRAFT = "http://json-schema.org/draft-07/schema#"
NUMBER = r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"  # as float() reads one, less inf/nan


def _anchored(regex: re.Pattern | str) -> str:
    """A Python pattern used with fullmatch or ending in \\Z, as an anchored JSON Schema pattern."""
    text = regex.pattern if isinstance(regex, re.Pattern) else regex
    return f"^(?:{text.removesuffix(chr(92) + 'Z')})$"


def _yaml_booleans() -> str:
    """The words netc's YAML 1.1 loader reads as true or false (yes, on, off, …): an editor in
    YAML 1.2 mode reads them as strings, which netc still takes for a boolean."""
    for tag, pattern in yaml.SafeLoader.yaml_implicit_resolvers.get("y", []):
        if tag == "tag:yaml.org,2002:bool":
            return re.sub(r"\s+", "", pattern.pattern)
    raise LookupError("PyYAML declares no boolean words")


# --- the pieces several keys share -------------------------------------------------------------
DSL = {"$ref": "#/definitions/dsl"}
IDENT = {"$ref": "#/definitions/identifier"}


def _definitions() -> dict[str, Any]:
    identifier = {
        "type": "string",
        "pattern": "^(?!__)" + _anchored(IDENTIFIER)[1:],  # check_identifier: no leading __
        "not": {"enum": sorted(keyword.kwlist)},
        "description": "a name that becomes a Python identifier: letters, digits and _, not starting with a digit, "
                       "not a Python keyword, no leading __",
    }
    return {
        "dsl": {
            "description": "netc's DSL (README, \"The DSL\"): one string, or a list of strings joined in order",
            "type": ["string", "array"],
            "minItems": 1,
            "items": {"type": "string"},
        },
        "identifier": identifier,
        "boolean": {
            "description": "true or false",
            "anyOf": [{"type": "boolean"}, {"enum": [0, 1]},
                      {"type": "string", "pattern": _yaml_booleans()}],
        },
        "initMethod": _init_method(),
        "initMethodWithoutFan": _init_method(fan=False),
    }


# --- defaults: --------------------------------------------------------------------------------
def _default_value(value: Any) -> Any:
    if isinstance(value, tuple):  # a list of numbers (anchors' sizes): JSON's array
        return [_default_value(v) for v in value]
    return value.name if isinstance(value, Symbol) else value


def _attr(kind: LayerKind, attr: Attr) -> dict[str, Any]:
    if attr.type == "int":
        out: dict[str, Any] = {"type": "integer"}
    elif attr.type == "float":
        out = {"type": "number"}
    elif attr.type == "bool":
        out = {"$ref": "#/definitions/boolean"}
    elif attr.type == "padding":
        out = {"anyOf": [{"enum": list(PADDING_KINDS)}, {"type": "integer", "minimum": 0}]}
    elif attr.type == "choice":
        out = {"enum": list(attr.choices)}
    elif attr.type == "floats":  # a list of numbers, or one number as a list of one
        number: dict[str, Any] = {"type": "number"} if attr.minimum is None else {"type": "number", "minimum": attr.minimum}
        out = {"anyOf": [number, {"type": "array", "items": number, "minItems": 1}]}
    else:
        raise ValueError(f"{kind.name}.{attr.name}: no schema for attribute type {attr.type!r}")
    if attr.minimum is not None and attr.type in ("int", "float"):
        out["minimum"] = attr.minimum
    shown = "required" if attr.default is REQUIRED else "set by the layer" if attr.default is None else None
    if shown is None:
        default = _default_value(attr.default)
        shown = json.dumps(default)
        if "$ref" not in out:  # draft-07 ignores what stands beside a $ref
            out["default"] = default
    out["description"] = f"{kind.name}'s {attr.name} (default: {shown})"
    return out


def _defaults() -> dict[str, Any]:
    sections = {}
    for section, kind in defaults_sections().items():
        sections[section] = {
            "type": "object",
            "description": f"values for the attributes of every {section} the network writes without them"
                           if kind.attrs else f"{section} takes no attributes",
            "properties": {a.name: _attr(kind, a) for a in kind.attrs},
            "additionalProperties": False,
        }
    return {
        "type": "object",
        "description": "hyper-parameters for bare layer words, per layer kind (README, \"Layer words\")",
        "properties": sections,
        "additionalProperties": False,
    }


# --- blocks: ----------------------------------------------------------------------------------
def _block_mapping() -> dict[str, Any]:
    scalar = {"type": ["number", "string", "boolean", "null"]}
    keys = {
        "args": {"description": "the block's arguments: a list of names (an item may be {name: default}), "
                                "or a mapping of names to defaults",
                 "type": ["array", "object"],
                 "items": {"anyOf": [IDENT, {"type": "object", "propertyNames": IDENT,
                                             "additionalProperties": scalar}]},
                 "propertyNames": IDENT, "additionalProperties": scalar},
        "body": {**DSL, "description": "a sequence block: one chain of layers"},
        "parallel": {"description": "a parallel block: its branches, merged (by concat unless merge: says)",
                     "type": "array", "minItems": 1, "items": DSL},
        "residual": {**DSL, "description": "a residual block: the body, merged with its shortcut (by add "
                                           "unless merge: says)"},
        "shortcut": {"description": f"a residual block's shortcut: {', '.join(SHORTCUT_WORDS)} (the default "
                                    "is auto), or a DSL chain such as conv(C, 1, stride=S)-bn",
                     "type": "string", "anyOf": [{"enum": list(SHORTCUT_WORDS)}, {"type": "string"}]},
        "merge": {"description": "the layer kind that merges a parallel or residual block",
                  "enum": merge_kinds()},
        "after": {**DSL, "description": "layers after the merge"},
        "outputs": {"description": "marks of the body a caller reads as <use.name> (<block.name>: its latest use)",
                    "type": ["array", "string"],
                    "items": {"type": "string", "pattern": r"^\s*<?" + _anchored(IDENTIFIER)[1:-1] + r">?\s*$"}},
    }
    return {
        "type": "object",
        "properties": {key: keys[key] for key in BLOCK_KEYS},
        "additionalProperties": False,
        "oneOf": [{"required": [form]} for form in BLOCK_FORMS],  # exactly one form
        "dependencies": {
            "shortcut": ["residual"],
            "merge": {"anyOf": [{"required": [form]} for form in DEFAULT_MERGE]},
        },
    }


def _block_name() -> dict[str, Any]:
    return {"allOf": [IDENT, {"not": {"enum": sorted(set(known_words()) | {GO_ON_FROM})}}]}


# --- init: ------------------------------------------------------------------------------------
def _init_method(fan: bool = True) -> dict[str, Any]:
    """One method call, as netc/frontend/program/init_config.py's _call reads it: kaiming_normal(fan_out).
    Without `fan`, for a tensor of one dimension: not the fan-based methods (kaiming_*, xavier_*)."""
    methods = {name: value for name, value in METHODS.items() if fan or name not in FAN_BASED}
    forms = []
    for name, (_, args) in methods.items():
        values = [f"(?:{'|'.join(WORD_CHOICES[a])})" if a in WORD_CHOICES else NUMBER for a, _ in args]
        required = max((k + 1 for k, (_, default) in enumerate(args) if default is None), default=0)
        for count in range(required, len(args) + 1):
            inside = r"\s*,\s*".join(values[:count])
            forms.append(f"{name}(?:\\s*\\(\\s*\\))?" if count == 0 else f"{name}\\s*\\(\\s*{inside}\\s*\\)")
    bare = [name for name, (_, args) in methods.items() if all(d is not None for _, d in args)]
    return {
        "description": "an init method: " + ", ".join(
            name + (f"({', '.join(a for a, _ in args)})" if args else "") for name, (_, args) in methods.items()),
        "type": "string",
        "anyOf": [{"enum": bare}, {"pattern": f"^\\s*(?:{'|'.join(forms)})\\s*$"}],
    }


def _init() -> dict[str, Any]:
    def method(kind: str, part: str) -> dict[str, Any]:
        tensor = KINDS[kind].learned_tensor(part)
        fan = tensor is None or tensor.rank >= 2  # a fan needs 2 dimensions: not a norm's scale, nor a bias
        return {"$ref": "#/definitions/initMethod" if fan else "#/definitions/initMethodWithoutFan"}

    def rule(kind: str) -> dict[str, Any]:
        parts = kind_parts(kind)
        return {"anyOf": [method(kind, "weight"),
                          {"type": "object", "properties": {part: method(kind, part) for part in parts},
                           "additionalProperties": False}],
                "description": f"how {kind}'s {' and '.join(parts)} start: a method for the weight, or "
                               "{" + ", ".join(f"{part}: …" for part in parts) + "}"}

    properties: dict[str, Any] = {kind: rule(kind) for kind in learned_kinds()}
    properties.update({flag: {"type": "boolean"} for flag in FLAGS})
    properties["zero_init_residual"]["description"] = "each residual body's last batch norm starts at 0"
    return {"type": "object", "description": "how the learned tensors start (README, \"Initialisation\")",
            "properties": properties, "additionalProperties": False}


# --- train: -----------------------------------------------------------------------------------
def _train() -> dict[str, Any]:
    pair = rf"[^,=]*=\s*\+?{NUMBER.removeprefix('[-+]?')}\s*"  # SCOPE=FACTOR, the factor at least 0
    special = {  # the values that are not one number or one word
        "freeze": {"description": "scopes not trained, as the table names them",
                   "type": ["array", "string"], "items": {"type": "string", "pattern": r"\S"},
                   "pattern": r"^[^,]*[^,\s][^,]*(?:,[^,]*[^,\s][^,]*)*$"},
        "lr_mult": {"description": "per-scope multipliers of the learning rate: {stage1: 0.01}",
                    "type": ["object", "string"],
                    "additionalProperties": {"type": "number", "minimum": 0},
                    "pattern": rf"^(?:\s*|{pair})(?:,(?:\s*|{pair}))*$"},
    }
    defaults = {f.name: f.default for f in fields(TrainConfig) if f.default is not MISSING}
    properties = {}
    for key in TRAIN_KEYS:
        if key in special:
            properties[key] = special[key]
            continue
        if key in CHOICES:
            out: dict[str, Any] = {"enum": list(CHOICES[key]) + sorted(BOOLEAN_CHOICES.get(key, ()))}
        elif key in RANGES:
            bounds = RANGES[key]
            out = {"type": "integer" if key in INT_KEYS else "number",
                   "exclusiveMinimum" if bounds.low_open else "minimum": bounds.low}
            if bounds.high is not None:
                out["exclusiveMaximum" if bounds.high_open else "maximum"] = bounds.high
        else:
            raise ValueError(f"train.{key}: no schema for its values")
        if defaults.get(key) is not None:
            out["default"] = defaults[key]
        properties[key] = out
    return {"type": "object", "description": "how netc train trains the network (README, \"Training\")",
            "properties": properties, "additionalProperties": False}


# --- the spec ---------------------------------------------------------------------------------
def _top() -> dict[str, Any]:
    size = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": MAX_INPUT_SIZE},
                      {"type": "string", "pattern": r"^\s*" + _anchored(IDENTIFIER)[1:-1] + r"\s*$",
                       "description": "a param's name"}]}
    ranks = sorted(INPUT_RANKS)
    texts = "|".join(SIZE_TEXT + f"(?:{SIZE_SEPARATOR}{SIZE_TEXT}){{{r - 1}}}" for r in ranks)
    block = {"anyOf": [DSL, _block_mapping()]}
    head_keys = {"from": {"type": "string", "description": "the point the head branches off at: name or <name>; y[2] or <y[2]> for a mark placed in a repetition"},
                 "body": {**DSL, "description": "the head's layers"},
                 "train_only": {"type": "boolean", "description": "returned in training mode only (GoogLeNet's "
                                "auxiliary classifiers); eval returns the other heads"}}
    head = {"anyOf": [DSL, {"type": "object", "properties": {key: head_keys[key] for key in HEAD_KEYS},
                            "required": ["body"], "additionalProperties": False}]}
    keys: dict[str, Any] = {
        "name": {"type": "string", "pattern": _anchored(SPEC_NAME),
                 "description": "the network's name; the generated class is named after it"},
        "input": {"description": "the input's shape: [C, H, W] or [F], or text such as 3x224x224; a size may "
                                 "name a param; or named inputs, {image: [3, H, W], rois: [R, 5]}: the first is "
                                 "what the network starts from, the others may also be [R, K], R rows of K values",
                  "type": ["array", "string", "object"], "minItems": min(ranks), "maxItems": max(ranks),
                  "not": {"type": "array", "minItems": min(ranks) + 1, "maxItems": max(ranks) - 1},
                  "items": size, "pattern": rf"^\s*(?:{texts})\s*$",
                  "propertyNames": IDENT, "minProperties": 1,
                  "additionalProperties": {"type": "array", "minItems": 1, "maxItems": 3, "items": size}},
        "params": {"type": "object", "description": "named numbers for the DSL; -D NAME=VALUE overrides one",
                   "propertyNames": IDENT, "additionalProperties": {"type": "number"}},
        "scales": {"type": "object", "description": "named presets of params (--scale NAME)",
                   "propertyNames": {"type": "string", "pattern": _anchored(SCALE_NAME)},
                   "additionalProperties": {"type": "object", "description": "the params this preset sets",
                                            "additionalProperties": {"type": "number"}}},
        "defaults": _defaults(),
        "include": {"description": "blocks from other spec files, each path relative to this one: "
                                   "path.yaml#block (a block and those it calls) or path.yaml (all its blocks)",
                    "type": ["array", "string"],
                    "items": {"type": "string", "pattern": r"^[^#]+(?:#" + _anchored(IDENTIFIER)[1:-1] + ")?$"},
                    "pattern": r"^[^#]+(?:#" + _anchored(IDENTIFIER)[1:-1] + ")?$"},
        "blocks": {"type": "object", "description": "named, parameterised sub-networks (README, \"Blocks\"): a DSL "
                                                    "string, or a mapping with one of body, parallel, residual",
                   "propertyNames": _block_name(), "additionalProperties": block},
        "network": {**DSL, "description": "the network, in the DSL"},
        "heads": {"type": "object", "description": "named extra outputs: a DSL body, or {from: <point>, body: …}",
                  "propertyNames": IDENT, "additionalProperties": head},
        "init": _init(),
        "freeze": {"description": "scopes whose parameters are not trained, as the table names them: a list, "
                                  "or one comma-separated string",
                   "type": ["array", "string"], "items": {"type": "string", "pattern": r"\S"}},
        "train": _train(),
    }
    return {key: keys[key] for key in TOP_KEYS}


def spec_schema() -> dict[str, Any]:
    return {
        "$schema": DRAFT,
        "title": "netc spec",
        "description": "A netc spec file: a CNN in YAML and netc's DSL (netc's README, \"The spec file\"). "
                       "Generated by `netc schema`; do not edit by hand.",
        "type": "object",
        "required": list(REQUIRED_KEYS),
        "properties": _top(),
        "additionalProperties": False,
        "definitions": _definitions(),
    }


def schema_text() -> str:
    """The schema as `netc schema` prints it and schema/netc.schema.json holds it."""
    return json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"
