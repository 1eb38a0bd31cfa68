"""Sizes written as Python source for generic block classes keep their meaning: the source each
helper writes, evaluated by Python, equals the arithmetic done on numbers, and so does the
expression's own evaluation (what the template check uses, netc/graph/templates.py)."""

from __future__ import annotations

import itertools

from netc.errors import SourceSpan
from netc.frontend import ast
from netc.frontend.symbolic import Bin, Var, translate
from netc.layers.base import py_add, py_mul, py_prod, py_sub, py_sum
from netc.layers.conv import effective_kernel

w, c, k, d = (Var(name, name, frozenset({name})) for name in "wckd")


def _checks():
    """(expression, what it must equal as a function of the values)."""
    return [
        (py_mul(3, Bin("//", w, 2)), lambda e: 3 * (e["w"] // 2)),  # was written 3 * w // 2
        (py_mul(Bin("+", c, 1), w), lambda e: (e["c"] + 1) * e["w"]),
        (py_prod((Bin("+", c, 1), Bin("-", w, 1), 2)), lambda e: (e["c"] + 1) * (e["w"] - 1) * 2),
        (py_sub(w, Bin("+", c, 1)), lambda e: e["w"] - (e["c"] + 1)),
        (py_sub(w, Bin("-", c, 1)), lambda e: e["w"] - (e["c"] - 1)),
        (py_add(py_mul(d, py_sub(k, 1)), 1), lambda e: e["d"] * (e["k"] - 1) + 1),
        (effective_kernel(k, d), lambda e: e["d"] * (e["k"] - 1) + 1),
        (py_sum([w, py_mul(c, 2), Bin("//", k, 2)]), lambda e: e["w"] + e["c"] * 2 + e["k"] // 2),
        (Bin("**", Bin("-", w, c), 2), lambda e: (e["w"] - e["c"]) ** 2),
    ]


def test_products_and_differences_of_expressions_keep_their_meaning():
    for values in itertools.product((1, 5, 8), (2, 3), (1, 3, 4), (1, 2)):
        env = dict(zip("wckd", values))
        for expression, truth in _checks():
            assert eval(str(expression), {}, env) == truth(env), str(expression)
            assert expression.evaluate(env) == truth(env), str(expression)


def test_numbers_fold_and_parentheses_are_only_where_python_needs_them():
    assert py_mul(3, 4) == 12 and py_prod((2, 3)) == 6 and py_sum([1, 2, 3]) == 6
    assert py_mul(3, Bin("//", w, 2)).source() == "3 * (w // 2)"
    assert py_mul(Bin("+", c, 1), w).source() == "(c + 1) * w"
    assert py_sub(w, Bin("-", c, 1)).source() == "w - (c - 1)"
    assert py_sum([w, c, k]).source() == "w + c + k"
    assert str(py_add(w, 1)) == "(w + 1)"  # a sum embedded in a kind's larger text stays whole


def test_dsl_expressions_translate_to_the_same_arithmetic():
    span = SourceSpan("<t>", 1, 1)
    expr = ast.BinOp("*", ast.Num(3, span), ast.BinOp("//", ast.Name("w", span), ast.Num(2, span), span), span)
    value = translate(expr, {"w": w})
    assert value.source() == "3 * (w // 2)" and value.evaluate({"w": 7}) == 9
    assert translate(expr, {"w": 7}) == 9  # a number folds with the expander's own arithmetic
