"""Symbolic sizes for generic block classes: DSL argument expressions as Python source.

In a block class, a block argument (`width`) is a constructor parameter, so `conv(width*4, 1)`
becomes `nn.Conv2d(..., width * 4, ...)`. An expression whose names are all known numbers (spec
params, arguments fixed for the class) is folded with the expander's own arithmetic
(`exprs.evaluate`); one that mentions a parameter becomes `Code`: Python source that layer kinds
pass through their `py_*` helpers unchanged.

Spatial sizes are unknown in a block class: they are `SPATIAL`, a placeholder that raises
`NeedsSpatial` when anything tries to compute with it or write it (a dense layer after a feature
map needs H×W), which makes that block one class per concrete shape instead.
"""

from __future__ import annotations

from typing import Any

from .. import ast
from ..exprs import Symbol, evaluate

# Python operator precedence, as far as generated expressions need it.
ADD, MUL, UNARY, POWER, ATOM = 2, 3, 4, 5, 6
_PREC = {"+": ADD, "-": ADD, "*": MUL, "/": MUL, "//": MUL, "%": MUL, "**": POWER}


class Code(str):
    """A Python expression (source text) standing for a value known only when the class is built.

    Compares equal only to the same code, never to a number or a word, so that a kind's
    `attrs["stride"] != 1` writes the argument out and `padding == "same"` does not match a
    parameter that happens to be called `same`."""

    prec: int
    names: frozenset[str]
    is_int: bool

    def __new__(cls, src: str, prec: int = ATOM, names: frozenset[str] = frozenset(), is_int: bool = True) -> Code:  # noqa: PYI034
        if prec <= ADD:  # kinds embed values in larger expressions: keep sums together
            src, prec = f"({src})", ATOM
        self = super().__new__(cls, src)
        self.prec, self.names, self.is_int = prec, frozenset(names), is_int
        return self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Code) and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__


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


def names_of(value: Any) -> frozenset[str]:
    return value.names if isinstance(value, Code) else frozenset()


def _operand(value: Any) -> tuple[str, int]:
    if isinstance(value, Code):
        return str(value), value.prec
    if isinstance(value, bool):
        return ("True" if value else "False"), ATOM
    if isinstance(value, (int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
        return text, UNARY if text.startswith("-") else ATOM
    raise _NotNumber(value)


class _NotNumber(Exception):
    pass


def _wrap(text: str, prec: int, limit: int) -> str:
    return f"({text})" if prec < limit else text


def translate(expr: ast.Expr, env: dict[str, Any]) -> Any:
    """An argument expression as a number (folded) or as Code. `env` maps names to numbers,
    words (Symbol) or Code; an unknown name is a word, as the expander reads it."""
    if isinstance(expr, ast.Num):
        return evaluate(expr, {})
    if isinstance(expr, ast.Name):
        return env[expr.id] if expr.id in env else Symbol(expr.id)
    if isinstance(expr, ast.Neg):
        operand = translate(expr.operand, env)
        if not isinstance(operand, Code):
            return evaluate(ast.Neg(_const(operand, expr.operand), expr.span), {})
        return Code(f"-{_wrap(str(operand), operand.prec, UNARY)}", UNARY, operand.names, operand.is_int)
    left, right = translate(expr.left, env), translate(expr.right, env)
    if not isinstance(left, Code) and not isinstance(right, Code):
        return evaluate(ast.BinOp(expr.op, _const(left, expr.left), _const(right, expr.right), expr.span), {})
    simple = _identity(expr.op, left, right)
    if simple is not None:
        return simple
    try:
        ltext, lprec = _operand(left)
        rtext, rprec = _operand(right)
    except _NotNumber:  # a word in arithmetic: the expander reported it for every instance
        raise ValueError(f"not a number in {expr!r}") from None
    prec = _PREC[expr.op]
    if expr.op == "**":
        text = f"{_wrap(ltext, lprec, ATOM)} ** {_wrap(rtext, rprec, UNARY)}"
    else:
        text = f"{_wrap(ltext, lprec, prec)} {expr.op} {_wrap(rtext, rprec, prec + 1)}"
    is_int = expr.op != "/" and _is_int(left) and _is_int(right)
    return Code(text, prec, names_of(left) | names_of(right), is_int)


def _identity(op: str, left: Any, right: Any) -> Any:
    """x + 0, x - 0, x * 1, 1 * x, x // 1, x ** 1: x (as written `c + 2*0` reads `c`)."""
    def is_(value: Any, number: int) -> bool:
        return not isinstance(value, (Code, bool)) and isinstance(value, int) and value == number

    if op in ("+", "-") and is_(right, 0) or op in ("*", "//", "**") and is_(right, 1):
        return left
    if op == "+" and is_(left, 0) or op == "*" and is_(left, 1):
        return right
    return None


def _is_int(value: Any) -> bool:
    if isinstance(value, Code):
        return value.is_int
    return isinstance(value, int) and not isinstance(value, bool)


def _const(value: Any, like: ast.Expr) -> ast.Expr:
    """A folded value back as an AST leaf, so that `evaluate` applies its own rules to it."""
    if isinstance(value, Symbol):
        return ast.Name(value.name, like.span)
    return ast.Num(value, like.span)


def as_int(value: Any) -> Any:
    """A value for an integer attribute: Code that may be a float is wrapped in int()."""
    if isinstance(value, Code) and not value.is_int:
        return Code(f"int({_strip(value)})", ATOM, value.names, True)
    return value


def _strip(value: Code) -> str:
    from .pysrc import strip_parens

    return strip_parens(str(value))


def mul(a: Any, b: Any) -> Any:
    """a × b for stride products: numbers fold, 1 disappears."""
    if isinstance(a, int) and isinstance(b, int):
        return a * b
    if isinstance(a, int) and a == 1:
        return b
    if isinstance(b, int) and b == 1:
        return a
    ltext, lprec = _operand(a)
    rtext, rprec = _operand(b)
    text = f"{_wrap(ltext, lprec, MUL)} * {_wrap(rtext, rprec, MUL + 1)}"
    return Code(text, MUL, names_of(a) | names_of(b), _is_int(a) and _is_int(b))
