"""`init:`: how the learned tensors start (netc/frontend/initspec.py says what a rule is).

A key names a layer kind with parameters (`conv`, `fc`, `bn`, … as `defaults:` does); its value is
one method for the weight (biases then start at zero, as torchvision's VGG, ResNet and MobileNet
do) or `{weight: …, bias: …}`. Methods: default (torch's own), kaiming_normal(fan_in | fan_out),
kaiming_uniform(…), xavier_normal, xavier_uniform, normal(std), trunc_normal(std), uniform(bound),
zeros, ones, constant(value). `zero_init_residual: true` starts the last batch norm of every
residual body at 0, so each residual block starts as its shortcut (Goyal et al. 2017).

Each method is checked against the tensors the kind declares (netc/layers/base.py: Learned): a kind
without a bias (prelu, layerscale) takes none, and the fan-based methods (kaiming_*, xavier_*) need a
tensor of 2 or more dimensions. Whether the network's layers have the tensor at all (a conv with
bias=false, a norm with affine=false) is checked once it is expanded (netc/graph/expand.py).
"""

from __future__ import annotations

import re

from ...errors import Diagnostics, NetcError, did_you_mean
from ...layers import KINDS, has_parameters
from ..initspec import FAN_BASED, METHODS, WORD_CHOICES, InitCall, InitSpec, KindInit
from ..spec import YNode
from .checks import describe, expect, key_index

FLAGS = ("zero_init_residual",)
PARTS = ("weight", "bias")  # what `{weight: …, bias: …}` may set, as far as a kind has them
ZERO = InitCall("zeros", (), "zeros")


def read_init(node: YNode | None, key_span=None) -> InitSpec | None:
    """`key_span`: where the `init:` key is written, for the generated method's comment."""
    if node is None:
        return None
    expect(node, dict, "init")
    learned = learned_kinds()
    kinds: dict[str, KindInit] = {}
    flags: dict[str, bool] = {}
    errors = Diagnostics()
    for key, value in node.value.items():
        span = node.source.span_at(key_index(node, key), len(key))
        name = key.lower()
        if name in FLAGS:
            if not isinstance(value.value, bool):
                errors.add(NetcError.at(value.span, f"init: {key} must be true or false, got {describe(value.value)}"))
            else:
                flags[name] = value.value
            continue
        if name not in KINDS:
            errors.add(NetcError.at(span, f"init: '{key}' is not a layer kind", did_you_mean(name, learned + list(FLAGS))
                                    or f"the kinds with parameters are {', '.join(learned)}"))
            continue
        if not has_parameters(KINDS[name]) or not KINDS[name].words:
            errors.add(NetcError.at(span, f"init: {name} has no parameters to initialise",
                                    f"the kinds with parameters are {', '.join(learned)}"))
            continue
        rule = errors.run(_kind_rule, name, key, value)
        if rule is not None:
            kinds[name] = rule
    errors.check()
    return InitSpec(kinds, flags.get("zero_init_residual", False), key_span or node.span)


def learned_kinds() -> list[str]:
    """The kinds `init:` may name: those a DSL word writes that learn tensors."""
    return sorted(name for name, kind in KINDS.items() if has_parameters(kind) and kind.words)


def kind_parts(name: str) -> tuple[str, ...]:
    """The tensors `init: {name: {…}}` may set: those the kind's module has (prelu: weight only)."""
    return tuple(t.name for t in KINDS[name].learned if t.name in PARTS)


def _kind_rule(name: str, key: str, value: YNode) -> KindInit:
    parts = kind_parts(name)
    if isinstance(value.value, str):
        weight = _call(value.value, value, f"init: {key}")
        _check_rank(name, "weight", weight, value, f"init: {key}")
        bias = None if weight.writes_nothing or "bias" not in parts else ZERO  # a kind without a bias: none implied
        return KindInit(weight, bias, (("weight", value.span),))
    expect(value, dict, f"init: {key}")
    rules: dict[str, InitCall] = {}
    written: list[tuple[str, object]] = []
    errors = Diagnostics()
    for part, item in value.value.items():
        if part not in parts:
            span = value.source.span_at(key_index(value, part), len(part))
            has = " and ".join(parts)
            if part in PARTS:
                errors.add(NetcError.at(span, f"init: {key} has no {part}: its module learns only its {has}",
                                        f"leave out {part}; {key}: <method> sets the {has}"))
            else:
                errors.add(NetcError.at(span, f"init: {key} has no '{part}' (it sets {has})",
                                        did_you_mean(part, list(parts))))
            continue
        if not isinstance(item.value, str):
            errors.add(NetcError.at(item.span, f"init: {key}.{part} must be a method such as normal(0.01), "
                                    f"got {describe(item.value)}"))
            continue
        call = errors.run(_call, item.value, item, f"init: {key}.{part}")
        if call is not None and errors.run(_check_rank, name, part, call, item, f"init: {key}.{part}", default=False):
            rules[part] = call
            written.append((part, item.span))
    errors.check()
    return KindInit(rules.get("weight"), rules.get("bias"), tuple(written))


def _check_rank(name: str, part: str, call: InitCall, node: YNode, what: str) -> bool:
    """A fan-based method needs a tensor of 2+ dimensions (torch computes its fan in and fan out)."""
    tensor = KINDS[name].learned_tensor(part)
    if call.method in FAN_BASED and tensor is not None and tensor.rank < 2:
        raise NetcError.at(node.span, f"{what}: {call.method} needs a tensor of 2 or more dimensions to compute its "
                           f"fan, and {name}'s {part} has 1 ({tensor.what})",
                           "use ones, zeros, constant(v), normal(std), trunc_normal(std) or uniform(bound) there")
    return True


def _call(text: str, node: YNode, what: str) -> InitCall:
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*", text)
    if match is None:
        raise NetcError.at(node.span, f"{what}: {text!r} is not a method call such as kaiming_normal(fan_out)")
    method, inside = match.group(1).lower(), match.group(2)
    if method not in METHODS:
        raise NetcError.at(node.span, f"{what}: unknown init method '{method}'", did_you_mean(method, list(METHODS))
                           or f"the methods are {', '.join(METHODS)}")
    names = METHODS[method][1]
    given = [a.strip() for a in inside.split(",")] if inside and inside.strip() else []
    if len(given) > len(names):
        raise NetcError.at(node.span, f"{what}: {method} takes {len(names)} argument(s), got {len(given)}")
    args: list[tuple[str, object]] = []
    for (name, default), raw in zip(names, given + [None] * (len(names) - len(given))):
        if raw is None:
            if default is None:
                raise NetcError.at(node.span, f"{what}: {method} needs its {name}, e.g. {method}(0.01)")
            args.append((name, default))
            continue
        args.append((name, _argument(raw, name, method, node, what)))
    return InitCall(method, tuple(args), text.strip())


def _argument(raw: str, name: str, method: str, node: YNode, what: str) -> object:
    choices = WORD_CHOICES.get(name)
    if choices is not None:
        if raw not in choices:
            raise NetcError.at(node.span, f"{what}: {method}'s {name} is one of {', '.join(choices)}, got {raw!r}",
                               did_you_mean(raw, list(choices)))
        return raw
    try:
        number = float(raw)
    except ValueError:
        raise NetcError.at(node.span, f"{what}: {method}'s {name} must be a number, got {raw!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise NetcError.at(node.span, f"{what}: {method}'s {name} must be finite, got {raw!r}")
    return number
