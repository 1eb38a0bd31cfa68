"""One layer call's attributes: bound from its arguments in order of precedence, then validated.

Used by the expander in both of its domains (netc/graph/expand.py: numbers; netc/graph/templates.py: sizes
that may be expressions over a block's arguments).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from ..errors import NetcError, did_you_mean
from ..frontend import ast
from ..frontend.exprs import MAX_INT, Symbol, Value
from ..layers import LayerKind
from ..layers.base import REQUIRED as _REQUIRED
from ..layers.conv import PADDING_KINDS


def bind_attrs(kind: LayerKind, fixed: dict[str, Any], call: ast.Call, defaults: dict[str, dict[str, Any]],
               value_of: Callable[[ast.Expr], Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Attributes of one layer call, in order of precedence: the kind's defaults, the spec's
    `defaults:`, what the word fixes (conv3 → kernel 3), the bound number (conv3-64), then
    positional and named arguments. `value_of` turns an argument expression into a value: a
    number when expanding, Python source when generating a block class. Returns the attributes
    and the span of each argument that set one."""
    names = [a.name for a in kind.attrs]
    attrs: dict[str, Any] = {a.name: a.default for a in kind.attrs}
    if defaults:  # most specs set none: two look-ups per layer spared
        attrs.update(defaults.get(kind.defaults_key or "", {}))
        attrs.update(defaults.get(kind.name, {}))
    attrs.update(fixed)
    spans: dict[str, Any] = {}
    if call.number is not None:
        if kind.number_attr is None:
            free = [a.name for a in kind.attrs if a.name not in fixed]
            hint = f"for {free[0]} {call.number}, write {call.word}({call.number})" if free else None
            raise NetcError.at(call.span, f"'{call.word}' takes no -N number (as in conv3-64 or FC-4096)", hint)
        attrs[kind.number_attr] = call.number
    if call.args:
        free = [n for n in names if n not in fixed and n != (kind.number_attr if call.number is not None else None)]
        if len(call.args) > len(free):
            extra = call.args[len(free)]
            listing = ", ".join(free) if free else "none"
            raise NetcError.at(extra.span, f"'{call.text}' takes at most {len(free)} positional argument(s) ({listing}); got {len(call.args)}")
        for name, expr in zip(free, call.args):
            attrs[name] = value_of(expr)
            spans[name] = expr.span
    for name, expr, name_span in call.kwargs:
        if name not in names:
            hint = did_you_mean(name, names)
            listing = ", ".join(names) if names else "no arguments"
            raise NetcError.at(name_span, f"'{call.text}' has no argument '{name}' (it takes {listing})", hint)
        attrs[name] = value_of(expr)
        spans[name] = expr.span
    return attrs, spans


def validate_attr(kind: LayerKind, attr, value: Any, span, call: ast.Call, env: dict[str, Value]) -> Any:
    # The common cases first, each what the checks below return for it: a whole number in range for
    # an int, a finite float in range for a float, a bool for a bool (every conv's seven attributes).
    if attr.minimum is None or (type(value) in (int, float) and value >= attr.minimum):
        kind_of = type(value)
        if (kind_of is int and attr.type == "int" and value <= MAX_INT
                or kind_of is float and attr.type == "float" and math.isfinite(value)
                or kind_of is bool and attr.type == "bool"):
            return value
    what = f"{kind.name} {attr.name}"
    if attr.type == "floats":  # a list of numbers: sizes=(32, 64, 128); one number is a list of one
        items = tuple(value) if isinstance(value, (tuple, list)) else (value,)  # a list from YAML's defaults:
        single = dataclasses.replace(attr, type="float")
        for item in items:
            if isinstance(item, (tuple, list)):
                flat = [v for part in items for v in (part if isinstance(part, (tuple, list)) else (part,))]
                raise NetcError.at(span, f"{what} is a list of numbers, got a tuple inside it: {value!r}",
                                   f"write the numbers in one tuple, in order: ({', '.join(map(str, flat))})")
        return tuple(validate_attr(kind, single, item, span, call, env) for item in items)
    if isinstance(value, tuple):
        if not attr.pair:
            if len(value) == 2:
                raise NetcError.at(span, f"{what} is one value for both axes, got {value!r}")
            raise NetcError.at(span, f"{what} is one value, got a tuple of {len(value)}: {value!r}")
        if len(value) != 2:  # a pair is (height, width): any other length is no per-axis value
            raise NetcError.at(span, f"{what} is one value or a (height, width) pair, got a tuple of "
                               f"{len(value)}: {value!r}",
                               f"for both axes write {value[0]!r}" if len(value) == 1 else None)
        if any(isinstance(v, tuple) for v in value):
            raise NetcError.at(span, f"{what} is a (height, width) pair of single values, got a tuple inside it: "
                               f"{value!r}")
        single = dataclasses.replace(attr, pair=False)
        height, width = (validate_attr(kind, single, v, span, call, env) for v in value)
        return height if height == width else (height, width)  # (3, 3) is 3
    if value is None and attr.default is None:
        return None
    if value is None or value is _REQUIRED:
        raise NetcError.at(
            call.span, f"'{call.text}' needs a value for '{attr.name}'",
            f"write it as an argument, or set defaults: {{{kind.defaults_key or kind.name}: {{{attr.name}: …}}}}",
        )
    if isinstance(value, Symbol) and attr.type in ("int", "float"):
        names = [k for k in env]
        raise NetcError.at(span, f"undefined variable '{value}' for {what}", did_you_mean(value.name, names))
    if attr.type == "int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise NetcError.at(span, f"{what} must be a whole number, got {value!r}")
    elif attr.type == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise NetcError.at(span, f"{what} must be a number, got {value!r}")
        value = float(value)
        if not math.isfinite(value):
            raise NetcError.at(span, f"{what} must be a finite number, got {value}")
    elif attr.type == "bool":
        if isinstance(value, Symbol) and value.name.lower() in ("true", "false"):
            value = value.name.lower() == "true"
        elif isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        elif isinstance(value, int) and value in (0, 1):
            value = bool(value)
        if not isinstance(value, bool):
            raise NetcError.at(span, f"{what} must be true or false, got {value!r}")
    elif attr.type == "padding":
        if isinstance(value, str) and not isinstance(value, Symbol):
            value = Symbol(value.lower())
        if isinstance(value, Symbol):
            if value.name.lower() not in PADDING_KINDS:
                raise NetcError.at(span, f"{what} must be valid, same, full or a whole number, got '{value}'",
                                   did_you_mean(value.name, list(PADDING_KINDS)))
            return Symbol(value.name.lower())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise NetcError.at(span, f"{what} must be valid, same, full or a whole number ≥ 0, got {value!r}")
    elif attr.type == "choice":
        name = value.name if isinstance(value, Symbol) else value
        if not isinstance(name, str) or name.lower() not in attr.choices:
            raise NetcError.at(span, f"{what} must be one of {', '.join(attr.choices)}, got {value!r}",
                               did_you_mean(str(name), list(attr.choices)))
        return name.lower()
    if attr.minimum is not None and isinstance(value, (int, float)) and value < attr.minimum:
        raise NetcError.at(span, f"{what} must be at least {attr.minimum:g}, got {value}")
    if isinstance(value, int) and value > MAX_INT:
        raise NetcError.at(span, f"{what} is too large")
    return value
