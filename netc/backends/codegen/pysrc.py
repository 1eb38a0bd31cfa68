"""Python source as small trees, printed the way `ruff format` / `black` print them.

The printer knows one rule of those formatters, which is all the generated code needs: a
statement that fits in 88 columns (its trailing comment included) stays on one line; one that does
not is split at its outermost brackets, one item per line with a trailing comma (the "magic
trailing comma" that keeps both formatters from joining it again), recursively. A comment that
would push a line past 88 columns goes on its own line above the statement instead.

Comments are the only place spec text may appear; `comment()` escapes everything that is not
printable ASCII, so no newline (or any other character) can end a comment early.
"""

from __future__ import annotations

import functools
import keyword
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ...frontend.symbolic import Sym, number_source
from ...layers.base import is_parenthesised

LINE = 88
INDENT = "    "


def spec_label(path: str) -> str:
    """The spec's path as the generated file names it (README, "Generated code"): relative to the
    current directory when the spec lies inside it, else its file name alone. So `specs/x.yaml`,
    `./specs/x.yaml` and `$PWD/specs/x.yaml` give the same bytes, and no absolute path of the
    user's machine lands in a file that may be shared or committed. Worked out from the text of the
    path (no symlink is resolved); `<expr>`, the stand-in name for `-e`, is no path and stays."""
    if path.startswith("<") and path.endswith(">"):
        return path
    try:
        cwd = os.getcwd()
    except OSError:  # the current directory was removed
        return os.path.basename(path) or path
    return _label_in(path, cwd)


@functools.lru_cache(maxsize=256)
def _label_in(path: str, cwd: str) -> str:
    """spec_label's work, once per path and current directory (every layer's comment asks)."""
    name = os.path.basename(path) or path
    try:
        relative = os.path.relpath(os.path.normpath(os.path.join(cwd, path)), cwd)
    except ValueError:  # a spec on another drive (Windows)
        return name
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return name
    return relative.replace(os.sep, "/")


def where(span: Any) -> str:
    """`path:line:col` of a place in the spec, the path as spec_label gives it."""
    if span is None:
        return str(span)
    return f"{spec_label(span.path)}:{span.line}:{span.col}"


def comment(text: str) -> str:
    """`text` as a safe comment body: printable ASCII only, everything else escaped."""
    if text.isascii() and text.isprintable():
        return text.rstrip()
    out = []
    for ch in text:
        code = ord(ch)
        if 32 <= code < 127:
            out.append(ch)
        elif code < 256:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out).rstrip()


def module_expression(path: str) -> str:
    """A module path as Python: stage1.0.bn3 → self.stage1[0].bn3 (an nn.Sequential's index)."""
    return "self" + "".join(f"[{part}]" if part.isdigit() else f".{part}" for part in path.split("."))


def is_identifier(name: str) -> bool:
    """An ASCII Python identifier that is no keyword (`[A-Za-z_][A-Za-z0-9_]*`, without a regex:
    every attribute name asks)."""
    return name.isascii() and name.isidentifier() and not keyword.iskeyword(name)


def strip_parens(src: str) -> str:
    """`(a + b)` → `a + b` where the outer parentheses enclose everything (safe as an argument)."""
    while is_parenthesised(src):
        src = src[1:-1]
    return src


def literal(value: Any) -> str:
    """Python source for a constructor argument value: numbers, bools, size expressions, code text."""
    if isinstance(value, Sym):
        return value.source()
    if isinstance(value, str):
        return strip_parens(str(value))
    return number_source(value)


# --- expressions ----------------------------------------------------------------------------------
class Expr(ABC):
    @abstractmethod
    def flat(self) -> str:
        """The expression on one line."""

    def explodable(self) -> bool:
        return False

    def has_comments(self) -> bool:
        return False

    def splittable(self) -> Expr:
        """The tree to split at its brackets when the line is too long (itself, but for Forward)."""
        return self


@dataclass
class Raw(Expr):
    src: str

    def flat(self) -> str:
        return self.src


@dataclass
class Item:
    """One argument or element: `value`, `key=value` (call) or `key: value` (dict)."""

    value: Expr
    key: str | None = None
    comment: str | None = None
    sep: str = "="

    def prefix(self) -> str:
        return f"{self.key}{self.sep}" if self.key is not None else ""


@dataclass
class Bracketed(Expr):
    """A call `f(a, k=b)`, a list `[a, b]` or a dict `{"k": v}`: something split at brackets."""

    open: str  # "nn.Conv2d(" or "[" or "{"
    close: str
    items: list[Item] = field(default_factory=list)

    def flat(self) -> str:
        return self.open + ", ".join(i.prefix() + i.value.flat() for i in self.items) + self.close

    def explodable(self) -> bool:
        return bool(self.items)

    def has_comments(self) -> bool:
        return any(_text(i.comment) or i.value.has_comments() for i in self.items)


# --- statements -------------------------------------------------------------------------------------
@dataclass
class Stmt:
    """`target = value` (or a bare expression when target is None) with an optional comment."""

    value: Expr
    target: str | None = None
    comment: str | None = None
    keyword: str | None = None  # "return"


@dataclass
class Block:
    """`header:` followed by an indented body: if / else / for / def / class. A header given as
    (lead, expr) is split like a statement when too long: `def f(` one parameter per line `):`."""

    header: str | tuple[str, Expr]
    body: list[Any]


@dataclass
class Comment:
    text: str


@dataclass
class Blank:
    count: int = 1


def _lead(stmt: Stmt) -> str:
    if stmt.keyword:
        return f"{stmt.keyword} "
    return f"{stmt.target} = " if stmt.target is not None else ""


def _text(note: Any) -> str | None:
    """A comment given as text or as an object whose `.text` is filled in later."""
    return getattr(note, "text", note)


def _with_comment(line: str, indent: str, text: str | None) -> list[str]:
    if not text:
        return [line]
    tail = f"{line}  # {text}"
    if len(tail) <= LINE:
        return [tail]
    return [f"{indent}# {text}", line]


def _expr_lines(indent: str, lead: str, expr: Expr, trail: str, text: str | None) -> list[str]:
    """`lead + expr + trail` at `indent`, split when it does not fit; `text` its comment."""
    text = _text(text)
    line = indent + lead + expr.flat() + trail
    if not expr.has_comments() and len(line) <= LINE:
        return _with_comment(line, indent, text)
    expr = expr.splittable()
    if not expr.has_comments() and not expr.explodable():
        return _with_comment(indent + lead + expr.flat() + trail, indent, text)
    assert isinstance(expr, Bracketed)
    inner = indent + INDENT
    lines = [f"{indent}# {text}"] if text else []
    lines.append(indent + lead + expr.open)
    for item in expr.items:
        lines.extend(_expr_lines(inner, item.prefix(), item.value, ",", item.comment))
    lines.append(indent + expr.close + trail)
    return lines


def render(body: list[Any], depth: int = 0) -> list[str]:
    indent = INDENT * depth
    lines: list[str] = []
    for stmt in body:
        if isinstance(stmt, Blank):
            lines.extend([""] * stmt.count)
        elif isinstance(stmt, Comment):
            lines.append(f"{indent}# {stmt.text}")
        elif isinstance(stmt, Block):
            if isinstance(stmt.header, tuple):
                lines.extend(_expr_lines(indent, stmt.header[0], stmt.header[1], ":", None))
            else:
                lines.append(f"{indent}{stmt.header}:")
            lines.extend(render(stmt.body, depth + 1))
        else:
            lines.extend(_expr_lines(indent, _lead(stmt), stmt.value, "", stmt.comment))
    return lines


# --- expressions written by layer kinds --------------------------------------------------------------
@dataclass
class Forward(Expr):
    """A forward expression from a layer kind: printed as the kind wrote it while it fits on its
    line, parsed into a tree split at its brackets only when it does not (most never are, and
    parsing each of 100,000 would be most of compile's time)."""

    src: str

    def flat(self) -> str:
        return self.src

    def splittable(self) -> Expr:
        return parse(self.src)


def parse(src: str) -> Expr:
    """A forward expression from a layer kind as a tree that can be split at its brackets.
    Leaves keep the kind's own text."""
    import ast as pyast

    tree = pyast.parse(src, mode="eval").body
    return _convert(tree, src)


def _segment(src: str, node: Any) -> str | None:
    """ast.get_source_segment, which splits the whole source into lines at every call (quadratic
    in a torch.cat of 10,000 tensors); a one-line ASCII source is simply sliced (offsets are UTF-8
    bytes, equal to characters there)."""
    if src.isascii() and "\n" not in src and "\r" not in src and "\f" not in src:
        if getattr(node, "end_col_offset", None) is None:
            return None
        return src[node.col_offset:node.end_col_offset]
    import ast as pyast

    return pyast.get_source_segment(src, node)


def _convert(node: Any, src: str) -> Expr:
    import ast as pyast

    segment = _segment(src, node) or ""
    if isinstance(node, pyast.Call) and not any(isinstance(a, pyast.Starred) for a in node.args):
        func = _segment(src, node.func)
        items = [Item(_convert(a, src)) for a in node.args]
        items += [Item(_convert(k.value, src), k.arg) for k in node.keywords if k.arg is not None]
        if len(items) == len(node.args) + len(node.keywords):
            return Bracketed(f"{func}(", ")", items)
    if isinstance(node, pyast.List):
        return Bracketed("[", "]", [Item(_convert(e, src)) for e in node.elts])
    if isinstance(node, pyast.Tuple) and len(node.elts) > 1 and segment.startswith("("):
        return Bracketed("(", ")", [Item(_convert(e, src)) for e in node.elts])
    return Raw(segment)
