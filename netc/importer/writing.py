"""The recovered structure written as a spec: blocks (callees first), then the network, one stage
or one run of layers per line, consecutive equal items as repetitions (`bottleneck(64)*3`,
`(conv(64, 3)-bn-relu)*2`)."""

from __future__ import annotations

import math
import struct
from typing import Any

import yaml

from .mapping import KERNEL, SAME, Layer
from .structure import Instance, TCall, TLayer, TStage, Variant, _layers, parts

LINE = 96  # the network's lines are broken near this width


NOISE_ULPS = 4  # float64 steps a constructor's arithmetic may leave on a number it meant (0.2 * 3 / 40)


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]


def shortest(value: float) -> str:
    """A float as the model's constructor meant it: the shortest decimal within a few float64 steps
    of it (0.2 * 3 / 40 is 0.015000000000000003: written 0.015), or, for a float32 value widened
    to float64 (0.0010000000474974513), the shortest decimal with the same float32; else repr."""
    if not math.isfinite(value) or value == 0.0:
        return repr(value)
    single = _float32(value) == value
    for digits in range(1, 18):
        text = repr(float(f"{value:.{digits}g}"))
        near = float(text)
        if abs(near - value) <= NOISE_ULPS * math.ulp(value) or (single and _float32(near) == value):
            return text
    return repr(value)


def value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == SAME:
        return "same"
    if isinstance(value, float):
        return shortest(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(value_text(v) for v in value) + ")"
    return str(value)


class Writer:
    def __init__(self, defaults: dict[tuple[str, str], Any]):
        self.defaults = defaults  # (word, attribute) → the spec's `defaults:` value

    def layer(self, layer: Layer, exprs: list[str | None]) -> str:
        written: list[tuple[Any, str, bool]] = []  # (slot, text, positional)
        kernel_text = None
        positional = True
        for slot, expr in zip(layer.slots, exprs):
            text = expr if expr is not None else value_text(slot.value)
            if slot.name == "kernel":
                kernel_text = text
            default = self.defaults.get((layer.word, slot.name), slot.default)
            if expr is None:
                if default is KERNEL or slot.default == KERNEL:
                    omit = text == kernel_text
                else:
                    omit = default is not None and _same(slot.value, default)
            else:
                omit = False
            if omit:
                if slot.positional:
                    positional = False
                continue
            written.append((slot, text, slot.positional and positional))
            if not slot.positional:
                positional = False
        args = [text if pos else f"{slot.name}={text}" for slot, text, pos in written]
        return layer.word + (f"({', '.join(args)})" if args else "")

    def call(self, inst: Instance, exprs: list[str | None]) -> str:
        variant = inst.variant
        assert variant is not None
        args = []
        positional = True
        for arg in variant.args:
            expr = exprs[arg.slot]
            value = inst.values[arg.slot]
            if expr is None and arg.has_default and _same(value, arg.default):
                positional = False
                continue
            text = expr if expr is not None else value_text(value)
            if arg.has_default or not positional:
                positional = False
                args.append(f"{arg.name}={text}")
            else:
                args.append(text)
        return variant.name + (f"({', '.join(args)})" if args else "")

    def items(self, terms: list, exprs: list[str | None], offset: int = 0) -> tuple[list[str], int]:
        out: list[str] = []
        for t in terms:
            if isinstance(t, TLayer):
                n = len(t.layer.slots)
                out.append(self.layer(t.layer, exprs[offset:offset + n]))
            elif isinstance(t, TCall):
                n = len(t.instance.values)
                out.append(self.call(t.instance, exprs[offset:offset + n]))
            else:
                inner, n = self.items(t.terms, exprs, offset)
                out.append("[" + " - ".join(repeat(inner)) + "]")
                n -= offset
            offset += n
        return out, offset

    def sequence(self, terms: list, exprs: list[str | None], offset: int = 0) -> tuple[str, int]:
        texts, offset = self.items(terms, exprs, offset)
        return " - ".join(repeat(texts)) if texts else "identity", offset

    def block(self, variant: Variant) -> dict[str, Any]:
        inst = variant.instances[0]
        exprs = variant.exprs
        entry: dict[str, Any] = {}
        if variant.args:
            if any(a.has_default for a in variant.args):
                entry["args"] = {a.name: (a.default if a.has_default else None) for a in variant.args}
            else:
                entry["args"] = [a.name for a in variant.args]
        offset = 0
        texts: dict[str, str] = {}
        for name, terms in parts(inst):
            texts[name], offset = self.sequence(terms, exprs, offset)
        if inst.form == "body":
            entry["body"] = texts["body"]
        elif inst.form == "parallel":
            entry["parallel"] = [texts[f"branch{k}"] for k in range(len(inst.branches))]
            if inst.merge != "concat":
                entry["merge"] = inst.merge
        else:
            entry["residual"] = texts["residual"]
            entry["shortcut"] = texts["shortcut"] if isinstance(inst.shortcut, list) else inst.shortcut
            if inst.merge != "add":
                entry["merge"] = inst.merge
        if inst.after:
            entry["after"] = texts["after"]
        return entry


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and not isinstance(a, bool)
                                               and isinstance(b, (int, float)) and not isinstance(b, bool) and a == b)


def repeat(texts: list[str]) -> list[str]:
    """Consecutive equal items (or runs of items) as repetitions: the run covering most items first."""
    out: list[str] = []
    i = 0
    while i < len(texts):
        best_len, best_count = 1, 1
        for size in range(1, min(8, (len(texts) - i) // 2) + 1):
            count = 1
            while texts[i + count * size:i + (count + 1) * size] == texts[i:i + size]:
                count += 1
            if count > 1 and size * count > best_len * best_count:
                best_len, best_count = size, count
        if best_count > 1:
            run = texts[i:i + best_len]
            inner = " - ".join(run)
            single = best_len == 1 and not run[0].startswith("[")
            out.append(f"{inner}*{best_count}" if single and "(" in run[0] or single and _is_call(run[0])
                       else f"({inner})*{best_count}")
            i += best_len * best_count
        else:
            out.append(texts[i])
            i += 1
    return out


def _is_call(text: str) -> bool:
    return text.replace("_", "").isalnum()


def _scalar(text: str) -> str:
    """A YAML scalar for a DSL string: plain where YAML reads it back as the same string."""
    try:
        if yaml.safe_load(text) == text and not text.startswith(("[", "{", "*", "&", "!", "|", ">", "%", "@", "`")):
            return text
    except yaml.YAMLError:
        pass
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _flow(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if value is None:
        return "null"
    return value_text(value)


def write(name: str, comment: list[str], input_shape: tuple[int, ...], variants: list[Variant], network: list,
          params: dict[str, int]) -> str:
    bn_eps = {_key(layer) for layer in _all_layers(network) if layer.word == "bn"}
    defaults: dict[tuple[str, str], Any] = {}
    section: dict[str, dict[str, Any]] = {}
    for attr, default in (("eps", 1e-5), ("momentum", 0.1)):
        values = {v for (a, v) in (pair for key in bn_eps for pair in key) if a == attr}
        if len(values) == 1 and (value := next(iter(values))) != default:
            defaults[("bn", attr)] = value
            section.setdefault("bn", {})[attr] = value
    writer = Writer(defaults)
    lines = [f"# {line}" if line else "#" for line in comment]
    lines.append(f"name: {name}")
    lines.append(f"input: [{', '.join(map(str, input_shape))}]")
    if params:
        lines.append(f"params: {_flow(params)}")
    if section:
        lines.append(f"defaults: {_flow(section)}")
    used = [v for v in variants if v.instances]
    if used:
        lines.append("blocks:")
    for variant in used:
        entry = writer.block(variant)
        lines.append(f"  {variant.name}:")
        for key, value in entry.items():
            if key == "args":
                lines.append(f"    args: {_flow(value)}")
            elif key == "parallel":
                lines.append("    parallel:")
                lines += [f"      - {_scalar(text)}" for text in value]
            else:
                lines.append(f"    {key}: {_scalar(value)}")
    exprs: list[str | None] = [None] * sum(_slots(t) for t in network)
    if params.get("classes") and network and isinstance(network[-1], TLayer) and network[-1].layer.word == "fc":
        exprs[len(exprs) - len(network[-1].layer.slots)] = "classes"
    lines.append("network:")
    offset = 0
    run: list[str] = []
    for t in network:
        texts, offset = writer.items([t], exprs, offset)
        if isinstance(t, TStage):
            lines += _network_lines(run)
            run = []
            lines.append(f"  - {_scalar(texts[0])}")
        else:
            run += texts
    lines += _network_lines(run)
    return "\n".join(lines) + "\n"


def _network_lines(texts: list[str]) -> list[str]:
    lines: list[str] = []
    current: list[str] = []
    for text in repeat(texts):
        if current and len(" - ".join(current + [text])) > LINE:
            lines.append(f"  - {_scalar(' - '.join(current))}")
            current = []
        current.append(text)
    if current:
        lines.append(f"  - {_scalar(' - '.join(current))}")
    return lines


def _key(layer: Layer) -> tuple:
    return tuple((s.name, s.value) for s in layer.slots)


def _slots(term) -> int:
    if isinstance(term, TLayer):
        return len(term.layer.slots)
    if isinstance(term, TCall):
        return len(term.instance.values)
    return sum(_slots(t) for t in term.terms)


def _all_layers(terms: list) -> list[Layer]:
    return _layers(terms)
