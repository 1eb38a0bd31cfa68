"""Sizes written as Python source for generic block classes keep their meaning: the source each
helper writes, evaluated by Python, equals the arithmetic done on numbers."""

from __future__ import annotations

import itertools

from netc.layers.base import py_add, py_mul, py_prod, py_sub
from netc.layers.conv import effective_kernel


def test_products_and_differences_of_expressions_are_parenthesised():
    for w, c, k, d in itertools.product((1, 5, 8), (2, 3), (1, 3, 4), (1, 2)):
        env = {"w": w, "c": c, "k": k, "d": d}
        assert eval(py_mul(3, "w // 2"), {}, env) == 3 * (w // 2)  # was written 3 * w // 2
        assert eval(py_mul("c + 1", "w"), {}, env) == (c + 1) * w
        assert eval(py_prod(("c + 1", "w - 1", 2)), {}, env) == (c + 1) * (w - 1) * 2
        assert eval(py_sub("w", "c + 1"), {}, env) == w - (c + 1)
        assert eval(str(py_add(py_mul("d", py_sub("k", 1)), 1)), {}, env) == d * (k - 1) + 1
        assert eval(str(effective_kernel("k", "d")), {}, env) == d * (k - 1) + 1
    assert py_mul(3, 4) == 12 and py_prod((2, 3)) == 6  # numbers fold
    assert py_mul("(a + b)", "c") == "(a + b) * c" and py_mul("(a) + (b)", 2) == "((a) + (b)) * 2"
