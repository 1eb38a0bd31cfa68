"""Evaluate DSL argument expressions: integer arithmetic over params, with hard limits; comparisons
give booleans, and `a if c else b` evaluates only the branch its test picks."""

from __future__ import annotations

import math
from collections import ChainMap
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..errors import NetcError, did_you_mean
from . import ast

MAX_INT = 2**53  # no layer size, count or index needs more; keeps arithmetic bounded


@dataclass(frozen=True)
class Symbol:
    """A bare word used as a value (`padding=same`, `type=max`); each attribute decides if it fits."""

    name: str

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:  # as messages quote it: got 'foo'
        return repr(self.name)


Value = int | float | bool | str | Symbol


SMALL_ENV = 64  # an environment of at most this many names is copied; a larger one is layered


def layered(inner: Mapping, outer: Mapping) -> Mapping:
    """`{**outer, **inner}` as a mapping: the same keys, values and order (a ChainMap iterates its
    last map first), without copying a large `outer` at every block call or repetition (20,000
    params × 100,000 calls would copy 2·10⁹ entries). A write goes to `inner`'s copy only."""
    if isinstance(outer, ChainMap):
        return ChainMap(dict(inner), *outer.maps)
    if len(outer) <= SMALL_ENV:
        return {**outer, **inner}
    return ChainMap(dict(inner), outer)


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """The channel rounding of MobileNet, EfficientNet and their kin (torchvision's
    `_make_divisible`): the nearest multiple of `divisor`, at least `min_value` (default: divisor),
    and never more than 10% below `value`."""
    least = divisor if min_value is None else min_value
    rounded = max(least, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


@dataclass(frozen=True)
class Function:
    apply: Callable[..., int | float]
    arity: tuple[int, int | None]  # (least, most) arguments
    whole: bool = False  # its arguments must be whole numbers (make_divisible's divisor)


FUNCTIONS: dict[str, Function] = {
    "ceil": Function(math.ceil, (1, 1)),
    "floor": Function(math.floor, (1, 1)),
    "round": Function(round, (1, 1)),  # Python's: halves go to the even neighbour, as Ultralytics' scales do
    "min": Function(min, (2, None)),
    "max": Function(max, (2, None)),
    "log": Function(math.log, (1, 2)),  # log(x) natural, log(x, base): RegNet's quantized widths
    "make_divisible": Function(make_divisible, (1, 3)),
}

COMPARISONS: dict[str, Callable[[int | float, int | float], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _check(value: int | float, node: ast.Expr) -> int | float:
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise NetcError.at(node.span, f"number too large (limit {MAX_INT:,})")
    if isinstance(value, float) and (value != value or abs(value) > MAX_INT):
        raise NetcError.at(node.span, "number out of range")
    return value


def evaluate(node: ast.Expr, env: dict[str, Value]) -> Value:
    """Value of an expression. Names look up `env`; an unknown name becomes a Symbol."""
    if isinstance(node, ast.Num):
        return _check(node.value, node)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        return Symbol(node.id)
    if isinstance(node, ast.Neg):
        value = evaluate(node.operand, env)
        return _check(-_number(value, node.operand, env), node)
    if isinstance(node, ast.Tuple):  # (height, width) or a list: each a number or a word (padding=(same, 0) is refused later)
        return tuple(evaluate(item, env) for item in node.items)
    if isinstance(node, ast.IfElse):
        return evaluate(node.then if _truth(node.test, env) else node.other, env)
    if isinstance(node, ast.Func):
        args = [_number(evaluate(arg, env), arg, env) for arg in node.args]
        try:
            return _check(FUNCTIONS[node.name].apply(*args), node)
        except (OverflowError, ValueError, ZeroDivisionError):
            raise NetcError.at(node.span, f"{node.name}() of {', '.join(map(str, args))} has no value") from None
    left = _number(evaluate(node.left, env), node.left, env)
    right = _number(evaluate(node.right, env), node.right, env)
    op = node.op
    if op in COMPARISONS:
        return COMPARISONS[op](left, right)
    try:
        if op == "+":
            result = left + right
        elif op == "-":
            result = left - right
        elif op == "*":
            result = left * right
        elif op == "**":  # a negative exponent gives a float, as in Python: wm ** -1
            if abs(left) > 1 and right > 0 and right * math.log2(abs(left)) > MAX_INT.bit_length() + 1:
                raise NetcError.at(node.span, f"number too large (limit {MAX_INT:,})")
            result = left**right
        elif right == 0:
            raise NetcError.at(node.right.span, "division by zero")
        elif op == "/":
            result = left / right
            if isinstance(left, int) and isinstance(right, int) and left % right == 0:
                result = left // right
        elif op == "//":
            result = left // right
        else:
            result = left % right
    except OverflowError:
        raise NetcError.at(node.span, "number out of range") from None
    except ZeroDivisionError:  # 0 ** -0.5
        raise NetcError.at(node.span, "division by zero") from None
    if isinstance(result, complex):
        raise NetcError.at(node.span, "not a real number")
    return _check(result, node)


def _truth(test: ast.Expr, env: dict[str, Value]) -> bool:
    """The test of `a if c else b`: a comparison, or a number (true unless 0, as in Python)."""
    value = evaluate(test, env)
    if isinstance(value, bool):
        return value
    return _number(value, test, env) != 0


def _number(value: Value, node: ast.Expr, env: dict[str, Value]) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(value, Symbol):
            names = [k for k in env if not k.startswith("_")]
            raise NetcError.at(node.span, f"undefined variable '{value}'", did_you_mean(value.name, names))
        if isinstance(value, bool):
            raise NetcError.at(node.span, f"expected a number, got the comparison's {value}",
                               "a comparison is a test: use it in `a if test else b`")
        raise NetcError.at(node.span, f"expected a number, got {value!r}")
    return value


def evaluate_int(node: ast.Expr, env: dict[str, Value], what: str) -> int:
    value = evaluate(node, env)
    number = _number(value, node, env)
    if isinstance(number, float):
        if not number.is_integer():
            raise NetcError.at(node.span, f"{what} must be a whole number, got {number}")
        number = int(number)
    return number
