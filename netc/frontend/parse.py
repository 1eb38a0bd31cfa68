"""DSL text → AST, with the grammar in grammar/netc.lark."""

from __future__ import annotations

import functools
import keyword
import re
import sys
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from ..errors import NetcError, did_you_mean
from . import ast
from .source import DslText


def _grammar_path() -> Path:
    """grammar/netc.lark beside the package in a checkout (or an editable install); a plain
    `pip install` puts a copy under <prefix>/share/netc (pyproject.toml's data-files)."""
    checkout = Path(__file__).resolve().parents[2] / "grammar" / "netc.lark"
    return checkout if checkout.is_file() else Path(sys.prefix) / "share" / "netc" / "netc.lark"


GRAMMAR_PATH = _grammar_path()
MAX_NESTING = 100
MAX_DEPTH = 400  # of the parse tree: a chain like 2**2**…**2 or - - - … nests without brackets
MAX_DIGITS = 30  # far past any size netc accepts (2**53), far below what int() refuses (4,300)

_TOKEN_NAMES = {
    "MINUS": "'-'", "STAR": "'*'", "LPAR": "'('", "RPAR": "')'", "LSQB": "'['", "RSQB": "']'",
    "LESSTHAN": "'<'", "MORETHAN": "'>'", "COMMA": "','", "EQUAL": "'='", "AT": "'@'",
    "PLUS": "'+'", "SLASH": "'/'", "PERCENT": "'%'", "WORD": "a layer word", "NAME": "a name",
    "INT": "an integer", "FLOAT": "a number", "$END": "the end of the text",
    "IF": "'if'", "ELSE": "'else'",
}


def grammar_cache_path(grammar: str) -> str | None:
    """Where lark keeps the compiled grammar between runs, or None when no safe place is found.

    Loading the cached LALR tables takes ≈10 ms; building them ≈80 ms, a third of a `netc table`
    run. lark's own `cache=True` pickles into the shared temp directory under a predictable name
    that another local user could plant, so the cache lives in a directory that only this user
    can write: $NETC_CACHE_DIR, else $XDG_CACHE_HOME/netc, else ~/.cache/netc. The file name
    carries a hash of the grammar, lark's version and Python's, so an edit never loads stale tables.
    """
    import hashlib
    import os

    import lark

    base = os.environ.get("NETC_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "netc")
    if not os.path.isabs(base):  # no usable home: never cache into the working directory
        return None
    try:
        os.makedirs(base, mode=0o700, exist_ok=True)
        info = os.stat(base)
    except OSError:
        return None
    if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & 0o022):
        return None  # someone else could write there
    digest = hashlib.sha256(f"{grammar}\0{lark.__version__}\0{sys.version}".encode()).hexdigest()[:20]
    return os.path.join(base, f"grammar-{digest}.lark-cache")


@functools.lru_cache(maxsize=1)
def _parser() -> Lark:
    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    options = {"parser": "lalr", "lexer": "contextual", "propagate_positions": True, "maybe_placeholders": False}
    cache = grammar_cache_path(grammar)
    if cache:
        try:  # lark checks the file's hash and rebuilds (and rewrites) a stale or damaged one
            return Lark(grammar, cache=cache, **options)
        except Exception:  # noqa: BLE001, S110 - a cache problem must never stop the parser
            pass
    return Lark(grammar, **options)


def _nesting_depth(text: str) -> tuple[int, int]:
    depth = deepest = where = 0
    for i, ch in enumerate(text):
        if ch in "([<":
            depth += 1
            if depth > deepest:
                deepest = depth
                if depth == MAX_NESTING + 1:  # point at the bracket that goes past the limit
                    where = i
        elif ch in ")]>":
            depth = max(0, depth - 1)
    return deepest, where


def _deeper_than(tree: Tree, limit: int) -> int | None:
    """Text offset of a parse-tree node deeper than `limit`, or None; without recursion, since the
    tree may be deeper than Python's stack."""
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return getattr(node.meta, "start_pos", 0) if not getattr(node.meta, "empty", True) else 0
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return None


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
        index = self._name(children[1], "repeat index") if len(children) > 1 else None
        return count, index

    def _name(self, tok: Token, what: str) -> str:
        """A name the generated code may use as a variable: no Python keyword, no leading __."""
        name = str(tok)
        if keyword.iskeyword(name) or name.startswith("__"):
            raise NetcError.at(self._tok_span(tok), f"{what} '{name}' is not a valid name (it must not be a Python "
                               "keyword or start with __)")
        return name

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
        point = children[0]
        if point.owner is not None:
            raise NetcError.at(point.span, f"a mark names a point here: write <{point.base}>, without '{point.owner}.'",
                               "a qualified name (block.point) reads a point a block placed")
        if point.every:
            raise NetcError.at(point.span, f"a mark names one point: <{point.base}[*]> reads every index, it "
                               "cannot place them", f"index the mark with the repetition's index, <{point.base}[i]> "
                               "in […]*N@i")
        return ast.Mark(point.name, self._span(meta), point.index)

    @v_args(meta=True)
    def point(self, meta, children):
        names = [self._name(c, "mark") for c in children if isinstance(c, Token)]
        index = next((c for c in children if not isinstance(c, Token)), None)
        name = ".".join(names)
        return ast.Point(name, index, self._span(meta), name if index is None else f"{name}[…]")

    @v_args(meta=True)
    def every_point(self, meta, children):
        name = ".".join(self._name(c, "mark") for c in children)
        return ast.Point(name, None, self._span(meta), f"{name}[*]", every=True)

    def point_arg(self, children):
        return children[0]

    @v_args(meta=True)
    def call(self, meta, children):
        word_tok = children[0]
        digits = max((len(d.lstrip("0")) for d in re.findall(r"[0-9]+", str(word_tok))), default=0)
        if digits > MAX_DIGITS:  # conv99…9-64 or FC-99…9
            raise NetcError.at(self._tok_span(word_tok), f"number too large in '{str(word_tok)[:40]}…'")
        word, number = _split_word(str(word_tok))
        args: list[ast.Expr] = []
        kwargs: list[tuple[str, ast.Expr, object]] = []
        points: list[ast.Point] = []
        point_at: list[int] = []
        point_kwargs: list[tuple[str, ast.Point, object]] = []
        if len(children) > 1:
            for arg in children[1]:
                if isinstance(arg, ast.Point):
                    point_at.append(len(args) + len(points))
                    points.append(arg)
                elif isinstance(arg, tuple):
                    if any(k == arg[0] for k, _, _ in kwargs + point_kwargs):
                        raise NetcError.at(arg[2], f"argument '{arg[0]}' given twice")
                    (point_kwargs if isinstance(arg[1], ast.Point) else kwargs).append(arg)
                else:
                    if kwargs or point_kwargs:
                        raise NetcError.at(arg.span, "a positional argument cannot follow a named one")
                    args.append(arg)
        return ast.Call(word, number, tuple(args), tuple(kwargs), self._span(meta), str(word_tok), tuple(points),
                        tuple(point_at), tuple(point_kwargs))

    def arglist(self, children):
        return list(children)

    @v_args(meta=True)
    def kwarg_point(self, meta, children):
        name_tok, point = children
        return (str(name_tok).lower(), point, self._tok_span(name_tok))

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name_tok, value = children
        return (str(name_tok).lower(), value, self._tok_span(name_tok))

    # counts and expressions --------------------------------------------------------------------
    def count_int(self, children):
        tok = children[0]
        return ast.Num(self._int(tok), self._tok_span(tok))

    def _int(self, tok: Token) -> int:
        if len(str(tok).lstrip("0")) > MAX_DIGITS:  # int() of 4,300+ digits raises; any of these is too large
            raise NetcError.at(self._tok_span(tok), f"number too large ({len(str(tok)):,} digits)")
        return int(tok)

    def count_name(self, children):
        tok = children[0]
        return ast.Name(str(tok), self._tok_span(tok))

    def int(self, children):
        tok = children[0]
        return ast.Num(self._int(tok), self._tok_span(tok))

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
    eq, ne, lt, le, gt, ge = _bin("=="), _bin("!="), _bin("<"), _bin("<="), _bin(">"), _bin(">=")

    @v_args(meta=True)
    def ifelse(self, meta, children):
        then, test, other = children
        return ast.IfElse(then, test, other, self._span(meta))

    @v_args(meta=True)
    def func(self, meta, children):
        from .exprs import FUNCTIONS

        name_tok, *args = children
        name = str(name_tok)
        if name not in FUNCTIONS:
            raise NetcError.at(self._tok_span(name_tok), f"unknown function '{name}' (netc's are "
                               f"{', '.join(FUNCTIONS)})", did_you_mean(name, list(FUNCTIONS)))
        least, most = FUNCTIONS[name].arity
        if len(args) < least or (most is not None and len(args) > most):
            count = f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}"
            raise NetcError.at(self._span(meta), f"{name}() takes {count} argument(s), got {len(args)}")
        return ast.Func(name, tuple(args), self._span(meta))

    @v_args(meta=True)
    def tuple_literal(self, meta, children):
        return ast.Tuple(tuple(children), self._span(meta))

    @v_args(meta=True)
    def neg(self, meta, children):
        return ast.Neg(children[0], self._span(meta))


def _token_name(terminal: str) -> str:
    """How a message names a token: lark calls an operator of two characters __ANON_n, which is
    looked up in the grammar as the text it stands for ('**')."""
    if terminal in _TOKEN_NAMES:
        return _TOKEN_NAMES[terminal]
    if terminal.startswith("__ANON"):
        pattern = _parser().get_terminal(terminal).pattern
        if pattern.type == "str":
            return repr(pattern.value)
    return terminal.lower()


def _describe_expected(expected: set[str]) -> str:
    names = sorted({_token_name(e) for e in expected})
    if len(names) > 6:
        names = names[:6] + ["…"]
    return ", ".join(names)


def _raise_if_unclosed(text: DslText) -> None:
    """At the end of the text with a bracket still open, point at that bracket. A DSL string cut
    short by YAML is the usual cause: in a flow list `[conv(8, 1), conv(8, 3)]` every comma
    ends an item, so the first item is `conv(8`."""
    stack: list[int] = []
    for i, ch in enumerate(text.text):
        if ch in "([":
            stack.append(i)
        elif ch in ")]" and stack:
            stack.pop()
    if not stack:
        return
    where = stack[-1]
    after = text.offsets[-1]
    hint = None
    if after < len(text.source.text) and text.source.text[after] == ",":
        hint = ("the text was cut at a comma by YAML (a flow list [a, b] splits at every comma): "
                "quote each item, e.g. [\"conv(8, 1)\", \"conv(8, 3)\"], or write one item per line")
    raise NetcError.at(text.span(where), f"'{text.text[where]}' is never closed", hint)


def parse_dsl(text: DslText) -> ast.Seq:
    """Parse one DSL string. Raises NetcError pointing at the offending character."""
    if not text.text.strip():
        raise NetcError.at(text.span(0), "empty network description",
                           "write at least one layer, e.g. conv3-64-relu-maxpool-fc(10)")
    deepest, where = _nesting_depth(text.text)
    if deepest > MAX_NESTING:
        raise NetcError.at(text.span(where), f"brackets nested {deepest} deep; the limit is {MAX_NESTING}")
    try:
        tree = _parser().parse(text.text)
    except UnexpectedCharacters as exc:
        ch = text.text[exc.pos_in_stream] if exc.pos_in_stream < len(text.text) else ""
        raise NetcError.at(text.span(exc.pos_in_stream), f"unexpected character {ch!r}") from None
    except UnexpectedEOF as exc:
        _raise_if_unclosed(text)
        raise NetcError.at(
            text.span(len(text.text)), f"unexpected end of text; expected {_describe_expected(set(exc.expected))}"
        ) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            _raise_if_unclosed(text)
            pos, what = len(text.text), "end of text"
        else:
            pos, what = tok.start_pos, repr(str(tok))
        raise NetcError.at(
            text.span(pos, pos + len(str(tok)) if tok.type != "$END" else None),
            f"unexpected {what}; expected {_describe_expected(set(exc.expected))}",
        ) from None
    except UnexpectedInput as exc:  # any other lark complaint
        raise NetcError.at(text.span(getattr(exc, "pos_in_stream", 0) or 0), "cannot parse this network") from None
    too_deep = _deeper_than(tree, MAX_DEPTH)
    if too_deep is not None:
        raise NetcError.at(text.span(too_deep), f"expression nested more than {MAX_DEPTH} deep")
    try:
        result = _ToAst(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, NetcError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise NetcError.at(text.span(0), "expression nested too deeply") from None
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
