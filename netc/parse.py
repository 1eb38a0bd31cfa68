"""DSL text → AST, with the grammar in grammar/netc.lark."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .errors import NetcError
from .source import DslText

GRAMMAR_PATH = Path(__file__).resolve().parent.parent / "grammar" / "netc.lark"
MAX_NESTING = 100

_TOKEN_NAMES = {
    "MINUS": "'-'", "STAR": "'*'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "LESSTHAN": "'<'", "MORETHAN": "'>'", "COMMA": "','", "EQUAL": "'='", "AT": "'@'",
    "PLUS": "'+'", "SLASH": "'/'", "PERCENT": "'%'", "WORD": "a layer word", "NAME": "a name",
    "INT": "an integer", "FLOAT": "a number", "$END": "the end of the text",
    "DOUBLESLASH": "'//'", "DOUBLESTAR": "'**'", "__ANON_0": "'//'", "__ANON_1": "'**'",
}


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    return Lark(
        GRAMMAR_PATH.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        maybe_placeholders=False,
        cache=True,
    )


def _nesting_depth(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for i, ch in enumerate(text):
        if ch in "([<":
            depth += 1
            if depth > deepest:
                deepest, where = depth, i
        elif ch in ")]>":
            depth = max(0, depth - 1)
    return deepest, where


def _split_word(raw: str) -> tuple[str, int | None]:
    low = raw.lower()
    if low == "soft-max":
        return "softmax", None
    match = re.fullmatch(r"(.*?)-([0-9]+)", low)
    if match:
        return match.group(1), int(match.group(2))
    return low, None


class _ToAst(Transformer):
    def __init__(self, text: DslText):
        super().__init__()
        self.text = text

    def _span(self, meta):
        if getattr(meta, "empty", True):
            return self.text.span(0)
        return self.text.span(meta.start_pos, meta.end_pos)

    def _tok_span(self, tok: Token):
        return self.text.span(tok.start_pos, tok.end_pos)

    # sequences ---------------------------------------------------------------------------------
    @v_args(meta=True)
    def seq(self, meta, items):
        return ast.Seq(tuple(items), self._span(meta))

    @v_args(meta=True)
    def item(self, meta, children):
        if len(children) == 1:
            return children[0]
        body, (count, index) = children
        if isinstance(body, ast.Mark):
            raise NetcError.at(body.span, "a mark names one point; it cannot be repeated")
        return ast.Repeat(body, count, index, self._span(meta), stage=isinstance(body, ast.Seq) and body.stage)

    def repeat(self, children):
        count = children[0]
        index = str(children[1]) if len(children) > 1 else None
        return count, index

    @v_args(meta=True)
    def group(self, meta, children):
        (inner,) = children
        return ast.Seq(inner.items, self._span(meta), stage=False)

    @v_args(meta=True)
    def stage(self, meta, children):
        (inner,) = children
        return ast.Seq(inner.items, self._span(meta), stage=True)

    @v_args(meta=True)
    def mark(self, meta, children):
        return ast.Mark(str(children[0]), self._span(meta))

    @v_args(meta=True)
    def call(self, meta, children):
        word_tok = children[0]
        word, number = _split_word(str(word_tok))
        args: list[ast.Expr] = []
        kwargs: list[tuple[str, ast.Expr, object]] = []
        if len(children) > 1:
            for arg in children[1]:
                if isinstance(arg, tuple):
                    if any(k == arg[0] for k, _, _ in kwargs):
                        raise NetcError.at(arg[2], f"argument '{arg[0]}' given twice")
                    kwargs.append(arg)
                else:
                    if kwargs:
                        raise NetcError.at(arg.span, "a positional argument cannot follow a named one")
                    args.append(arg)
        return ast.Call(word, number, tuple(args), tuple(kwargs), self._span(meta), str(word_tok))

    def arglist(self, children):
        return list(children)

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name_tok, value = children
        return (str(name_tok).lower(), value, self._tok_span(name_tok))

    # counts and expressions --------------------------------------------------------------------
    def count_int(self, children):
        tok = children[0]
        return ast.Num(int(tok), self._tok_span(tok))

    def count_name(self, children):
        tok = children[0]
        return ast.Name(str(tok), self._tok_span(tok))

    def int(self, children):
        tok = children[0]
        return ast.Num(int(tok), self._tok_span(tok))

    def float(self, children):
        tok = children[0]
        return ast.Num(float(tok), self._tok_span(tok))

    def name(self, children):
        tok = children[0]
        return ast.Name(str(tok), self._tok_span(tok))

    def _bin(op):  # noqa: N805 - a factory used in the class body
        @v_args(meta=True)
        def build(self, meta, children):
            left, right = children
            return ast.BinOp(op, left, right, self._span(meta))

        return build

    add, sub, mul, div = _bin("+"), _bin("-"), _bin("*"), _bin("/")
    floordiv, mod, pow = _bin("//"), _bin("%"), _bin("**")

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.Neg(children[0], self._span(meta))


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_TOKEN_NAMES.get(e, e.lower()) for e in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def parse_dsl(text: DslText) -> ast.Seq:
    """Parse one DSL string. Raises NetcError pointing at the offending character."""
    if not text.text.strip():
        raise NetcError.at(text.span(0), "empty network description")
    deepest, where = _nesting_depth(text.text)
    if deepest > MAX_NESTING:
        raise NetcError.at(text.span(where), f"brackets nested {deepest} deep; the limit is {MAX_NESTING}")
    try:
        tree = _parser().parse(text.text)
    except UnexpectedCharacters as exc:
        ch = text.text[exc.pos_in_stream] if exc.pos_in_stream < len(text.text) else ""
        raise NetcError.at(text.span(exc.pos_in_stream), f"unexpected character {ch!r}") from None
    except UnexpectedEOF as exc:
        raise NetcError.at(
            text.span(len(text.text)), f"unexpected end of text; expected {_describe_expected(set(exc.expected))}"
        ) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            pos, what = len(text.text), "end of text"
        else:
            pos, what = tok.start_pos, repr(str(tok))
        raise NetcError.at(
            text.span(pos, pos + len(str(tok)) if tok.type != "$END" else None),
            f"unexpected {what}; expected {_describe_expected(set(exc.expected))}",
        ) from None
    except UnexpectedInput as exc:  # any other lark complaint
        raise NetcError.at(text.span(getattr(exc, "pos_in_stream", 0) or 0), "cannot parse this network") from None
    try:
        result = _ToAst(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, NetcError):
            raise exc.orig_exc from None
        raise
    except RecursionError:
        raise NetcError.at(text.span(0), "expression nested too deeply") from None
    if isinstance(result, ast.Seq):
        return result
    return ast.Seq((result,), result.span)


def parse_expression(text: DslText) -> ast.Expr:
    """Parse a lone argument expression, e.g. a block parameter's default written as a string."""
    seq = parse_dsl(DslText(f"x({text.text})", text.source, (text.offsets[0],) * 2 + text.offsets))
    call = seq.items[0]
    assert isinstance(call, ast.Call) and len(call.args) == 1
    return call.args[0]
