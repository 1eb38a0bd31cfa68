"""Specs too large to keep as files, generated where a test needs them."""

from __future__ import annotations


def params_and_calls(params: int, calls: int) -> str:
    """A valid spec of `params` params (p0: 0 … ) and a block called `calls` times that makes no
    layer (issue 26: 20,000 params × 100,000 calls, whose `netc compile` did not finish)."""
    listed = ", ".join(f"p{i}: {i}" for i in range(params))
    return ("input: [3, 8, 8]\n"
            f"params: {{{listed}}}\n"
            f"network: (nop(1))*{calls}\n"
            "blocks:\n"
            "  nop: {args: [a], body: identity}\n")
