"""Symbolic sizes: integer expressions over a block's arguments, as one small expression type.

A generic block class takes its arguments in __init__, so inside it `conv(width*4, 1)` has
`width * 4` filters: a `Sym` tree (`Bin("*", Var("width"), 4)`), not a number. The expander builds
these trees when it expands a block in the symbolic domain (netc/graph/templates.py); layer kinds pass
them through their `py_*` arithmetic (netc/layers/base.py) without knowing; the code generator
prints them as Python source with the fewest parentheses Python's precedence needs, and the
template check evaluates them at each instance's arguments.

Spatial sizes are unknown in a block class: they are `SPATIAL`, a placeholder that raises
`NeedsSpatial` when anything computes with it or prints it (a dense layer after a feature map needs
H×W), which makes that block one class per concrete shape instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from . import ast
from .exprs import Symbol, evaluate

# Python operator precedence, as far as size expressions need it.
ADD, MUL, UNARY, POWER, ATOM = 2, 3, 4, 5, 6
_PREC = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "**": POWER}


class NeedsSpatial(Exception):
    """A block's code needs a spatial size, which a generic class does not know."""


class _Spatial:
    def _fail(self, *args: Any) -> Any:
        raise NeedsSpatial("the code needs the spatial size")

    __str__ = __format__ = __int__ = __index__ = __float__ = __bool__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = __mod__ = __rmod__ = __pow__ = _fail
    __lt__ = __le__ = __gt__ = __ge__ = _fail

    def __repr__(self) -> str:
        return "SPATIAL"


SPATIAL = _Spatial()


class Sym(ABC):
    """An integer (or float) expression known only when the class is built.

    Equal only to the same expression, never to a number or a word, so that a kind's
    `attrs["stride"] != 1` writes the argument out and `padding == "same"` does not match a
    parameter that happens to be called `same`. `str()` is Python source, a sum parenthesised as a
    whole (kinds embed values in larger text); `source()` is the bare expression."""

    prec: int = ATOM
    names: frozenset[str] = frozenset()  # the block arguments it depends on (what to fix if it cannot stay symbolic)
    is_int: bool = True

    @abstractmethod
    def source(self) -> str:
        """Python source of the expression, with the fewest parentheses precedence needs."""

    @abstractmethod
    def evaluate(self, env: dict[str, Any]) -> Any:
        """Its value with the variables (by key) taken from `env`."""

    @abstractmethod
    def substitute(self, replace: dict[str, Any]) -> Any:
        """The expression with variables (by key) replaced by values or other expressions."""

    def __str__(self) -> str:
        return f"({self.source()})" if self.prec <= ADD else self.source()


@dataclass(frozen=True, eq=True)
class Var(Sym):
    """A name: a constructor parameter (`width`), `in_channels`, a loop index or a loop's channel
    count. `key` is what evaluation looks up (the spec's name of the argument); `text` is how the
    class writes it."""

    text: str
    key: str
    names: frozenset[str] = frozenset()
    is_int: bool = True

    @property
    def prec(self) -> int:  # type: ignore[override]
        return ATOM

    def source(self) -> str:
        return self.text

    def evaluate(self, env: dict[str, Any]) -> Any:
        return env[self.key]

    def substitute(self, replace: dict[str, Any]) -> Any:
        return replace.get(self.key, self)

    __str__ = source


@dataclass(frozen=True, eq=True)
class Bin(Sym):
    op: str
    left: Any
    right: Any

    @property
    def prec(self) -> int:  # type: ignore[override]
        return _PREC[self.op]

    @property
    def names(self) -> frozenset[str]:  # type: ignore[override]
        return names_of(self.left) | names_of(self.right)

    @property
    def is_int(self) -> bool:  # type: ignore[override]
        return self.op != "/" and is_int(self.left) and is_int(self.right)

    def source(self) -> str:
        prec = self.prec
        if self.op == "**":  # right-associative, binds tighter than unary minus on its left
            return f"{_operand(self.left, ATOM)} ** {_operand(self.right, UNARY)}"
        return f"{_operand(self.left, prec)} {self.op} {_operand(self.right, prec + 1)}"

    def evaluate(self, env: dict[str, Any]) -> Any:
        return apply(self.op, value_at(self.left, env), value_at(self.right, env))

    def substitute(self, replace: dict[str, Any]) -> Any:
        return binary(self.op, substitute(self.left, replace), substitute(self.right, replace))


class _OneOperand(Sym):
    operand: Any

    @property
    def names(self) -> frozenset[str]:  # type: ignore[override]
        return names_of(self.operand)

    @abstractmethod
    def rebuilt(self, operand: Any) -> Any:
        """The same operation on another operand (a number folds)."""

    def substitute(self, replace: dict[str, Any]) -> Any:
        return self.rebuilt(substitute(self.operand, replace))


@dataclass(frozen=True, eq=True)
class Neg(_OneOperand):
    operand: Any

    @property
    def prec(self) -> int:  # type: ignore[override]
        return UNARY

    @property
    def is_int(self) -> bool:  # type: ignore[override]
        return is_int(self.operand)

    def source(self) -> str:
        return f"-{_operand(self.operand, UNARY)}"

    def evaluate(self, env: dict[str, Any]) -> Any:
        return -value_at(self.operand, env)

    def rebuilt(self, operand: Any) -> Any:
        return Neg(operand) if isinstance(operand, Sym) else -operand


@dataclass(frozen=True, eq=True)
class IntOf(_OneOperand):
    """`int(x)`: an integer attribute written from an expression that may be a float."""

    operand: Any

    @property
    def prec(self) -> int:  # type: ignore[override]
        return ATOM

    def source(self) -> str:
        return f"int({_operand(self.operand, 0)})"

    def evaluate(self, env: dict[str, Any]) -> Any:
        return int(value_at(self.operand, env))

    def rebuilt(self, operand: Any) -> Any:
        return IntOf(operand) if isinstance(operand, Sym) else int(operand)


@dataclass(frozen=True, eq=True)
class Call(Sym):
    """`min(a, b)` or `max(a, b)` over sizes: Python's own builtins, so a class writes them as they are."""

    fn: str  # min | max
    args: tuple[Any, ...]

    @property
    def names(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset().union(*(names_of(a) for a in self.args))

    @property
    def is_int(self) -> bool:  # type: ignore[override]
        return all(is_int(a) for a in self.args)

    def source(self) -> str:
        return f"{self.fn}({', '.join(_operand(a, 0) for a in self.args)})"

    def evaluate(self, env: dict[str, Any]) -> Any:
        return (min if self.fn == "min" else max)(value_at(a, env) for a in self.args)

    def substitute(self, replace: dict[str, Any]) -> Any:
        args = tuple(substitute(a, replace) for a in self.args)
        if any(isinstance(a, Sym) for a in args):
            return Call(self.fn, args)
        return (min if self.fn == "min" else max)(args)


def _operand(value: Any, limit: int) -> str:
    """An operand's source inside a larger expression: parenthesised when it binds less tightly."""
    if isinstance(value, Sym):
        text = value.source()
        return f"({text})" if value.prec < limit else text
    text = number_source(value)
    return f"({text})" if text.startswith("-") and limit > UNARY else text


def number_source(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if value is SPATIAL:
        raise NeedsSpatial("the code needs the spatial size")
    raise TypeError(f"not a size: {value!r}")


def keys_of(value: Any) -> frozenset[str]:
    """The keys of every variable in an expression."""
    if isinstance(value, Var):
        return frozenset({value.key})
    if isinstance(value, Bin):
        return keys_of(value.left) | keys_of(value.right)
    if isinstance(value, _OneOperand):
        return keys_of(value.operand)
    if isinstance(value, Call):
        return frozenset().union(*(keys_of(a) for a in value.args))
    return frozenset()


def names_of(value: Any) -> frozenset[str]:
    return value.names if isinstance(value, Sym) else frozenset()


def is_int(value: Any) -> bool:
    if isinstance(value, Sym):
        return value.is_int
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def value_at(value: Any, env: dict[str, Any]) -> Any:
    """A size (a number or an expression) at the given argument values."""
    return value.evaluate(env) if isinstance(value, Sym) else value


def substitute(value: Any, replace: dict[str, Any]) -> Any:
    return value.substitute(replace) if isinstance(value, Sym) else value


def apply(op: str, left: Any, right: Any) -> Any:
    """The DSL's arithmetic on numbers (netc/frontend/exprs.py): `/` gives an int when it divides exactly."""
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "**":
        return left**right
    if op == "/":
        return left // right if isinstance(left, int) and isinstance(right, int) and left % right == 0 else left / right
    if op == "//":
        return left // right
    return left % right


def binary(op: str, left: Any, right: Any) -> Any:
    """`left op right`, folded when both are numbers; x + 0, x * 1 and the like are x."""
    for value in (left, right):
        if value is SPATIAL:
            raise NeedsSpatial("the code needs the spatial size")
        if not isinstance(value, Sym) and not is_number(value):
            raise TypeError(f"not a size: {value!r}")
    if not isinstance(left, Sym) and not isinstance(right, Sym):
        return apply(op, left, right)
    simple = _identity(op, left, right)
    return simple if simple is not None else Bin(op, left, right)


def _identity(op: str, left: Any, right: Any) -> Any:
    """x + 0, x - 0, x * 1, 1 * x, x // 1, x ** 1: x (as written `c + 2*0` reads `c`)."""
    def is_(value: Any, number: int) -> bool:
        return is_int(value) and not isinstance(value, Sym) and value == number

    if op in ("+", "-") and is_(right, 0) or op in ("*", "//", "**") and is_(right, 1):
        return left
    if op == "+" and is_(left, 0) or op == "*" and is_(left, 1):
        return right
    return None


def as_int(value: Any) -> Any:
    """A value for an integer attribute: an expression that may be a float is wrapped in int()."""
    if isinstance(value, Sym) and not value.is_int:
        return IntOf(value)
    return value


class NotSymbolic(Exception):
    """An expression over block arguments that a class cannot compute in __init__ as written (a
    function such as make_divisible): `names` are the arguments that would have to be fixed."""

    def __init__(self, names: frozenset[str], why: str):
        super().__init__(why)
        self.names = names


def translate(expr: ast.Expr, env: dict[str, Any]) -> Any:
    """An argument expression as a number (folded with the expander's own arithmetic and limits)
    or as a Sym. `env` maps names to numbers, words (Symbol) or Sym; an unknown name is a word, as
    the expander reads it."""
    if isinstance(expr, ast.Num):
        return evaluate(expr, {})
    if isinstance(expr, ast.Name):
        return env[expr.id] if expr.id in env else Symbol(expr.id)
    if isinstance(expr, ast.Tuple):
        return tuple(translate(item, env) for item in expr.items)
    if isinstance(expr, ast.Func):
        args = [translate(arg, env) for arg in expr.args]
        symbolic = [a for a in args if isinstance(a, Sym)]
        if symbolic and expr.name in ("min", "max") and all(isinstance(a, Sym) or is_number(a) for a in args):
            return Call(expr.name, tuple(args))
        if symbolic:
            names = frozenset().union(*(a.names for a in symbolic))
            raise NotSymbolic(names, f"{expr.name}() of an argument is computed per value of it")
        return evaluate(ast.Func(expr.name, tuple(_const(a, e) for a, e in zip(args, expr.args)), expr.span), {})
    if isinstance(expr, ast.IfElse):  # the branch is chosen at generation: its test must be known there
        test = translate(expr.test, env)
        if isinstance(test, Sym):
            raise NotSymbolic(test.names, "a conditional's test over an argument is decided per value of it")
        folded = evaluate(ast.IfElse(ast.Num(1, expr.span), _const(test, expr.test), ast.Num(0, expr.span),
                                     expr.span), {})
        return translate(expr.then if folded else expr.other, env)
    if isinstance(expr, ast.Neg):
        operand = translate(expr.operand, env)
        if not isinstance(operand, Sym):
            return evaluate(ast.Neg(_const(operand, expr.operand), expr.span), {})
        return Neg(operand)
    left, right = translate(expr.left, env), translate(expr.right, env)
    if not isinstance(left, Sym) and not isinstance(right, Sym):
        return evaluate(ast.BinOp(expr.op, _const(left, expr.left), _const(right, expr.right), expr.span), {})
    if expr.op not in _PREC:  # a comparison: a class writes sizes, not tests
        names = names_of(left) | names_of(right)
        raise NotSymbolic(names, "a comparison of an argument is decided per value of it")
    for value in (left, right):
        if not isinstance(value, Sym) and not is_number(value):  # a word in arithmetic
            from ..errors import NetcError

            raise NetcError.at(expr.span, f"expected a number, got {value!r}")
    return binary(expr.op, left, right)


def _const(value: Any, like: ast.Expr) -> ast.Expr:
    """A folded value back as an AST leaf, so that `evaluate` applies its own rules to it."""
    if isinstance(value, bool):  # a comparison's result: evaluate reads a literal test back
        return ast.BinOp("==", ast.Num(int(value), like.span), ast.Num(1, like.span), like.span)
    if isinstance(value, Symbol):
        return ast.Name(value.name, like.span)
    return ast.Num(value, like.span)
