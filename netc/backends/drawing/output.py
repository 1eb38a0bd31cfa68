"""The picture as a file: the format a file name asks for, `dot` run on the DOT text, and its
failures (no Graphviz installed, `dot` erroring) as one-line NetcErrors."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from ...analysis.annotated import Analysis
from ...errors import Diagnostic, NetcError, UsageError
from .dot import to_digraph

# Output formats by file extension: what `dot -T` is asked for (None: the DOT text itself).
FORMATS: dict[str, str | None] = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": None, "gv": None}
PNG_DPI = 144

# Graphviz's layout is super-linear (a block of 600 parallel branches takes dot 10 s; issue 15
# measured 153 s for a 24 KB spec): a picture of more drawn nodes than this is refused before dot
# runs, with the ways to make it smaller; and dot is stopped after DOT_TIMEOUT seconds. The DOT text
# itself (-o x.dot) has no cap: writing it is linear.
MAX_LAYOUT_NODES = 2_000  # the zoo's largest picture, DenseNet-121 unfolded, draws about 450
DOT_TIMEOUT = 60.0
DOT_MESSAGE_LINES = 8  # of dot's error message, shown in the one-line error
_NODE_STATEMENT = re.compile(r'\s*(?!(?:graph|node|edge|subgraph)\b)("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.]+) \[')

INSTALL_HINT = ("install Graphviz (https://graphviz.org/download/ — apt install graphviz, brew install graphviz "
                "or conda install graphviz), or write -o {stem}.dot, which needs no Graphviz")


def output_format(path: str) -> str | None:
    """The `dot -T` format a file name asks for (None: DOT text). UsageError for anything else."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise UsageError(f"cannot tell the picture format from {path!r}: name the file .svg, .png, .pdf or .dot")
    return FORMATS[ext]


def render_bytes(analysis: Analysis, fmt: str | None, path: str = "picture", **options) -> bytes:
    """The picture in a format (None: the DOT text), as bytes. A missing `dot` is a one-line NetcError."""
    graph = to_digraph(analysis, **options)
    if fmt is None:
        return graph.source.encode("utf-8")
    stem = os.path.splitext(os.path.basename(path))[0] or "picture"
    drawn = drawn_nodes(graph)
    if drawn > MAX_LAYOUT_NODES:
        raise NetcError([Diagnostic("error", too_large_message(path, drawn), hint=_smaller_hint(stem, options))])
    if fmt == "png":  # sharper than dot's 96 dpi default; the DOT text itself is unchanged
        graph = graph.copy()
        graph.attr(dpi=str(PNG_DPI))
    executable = shutil.which("dot")
    if executable is None:
        message = f"cannot write {path}: Graphviz's `dot` program was not found; " + INSTALL_HINT.format(stem=stem)
        raise NetcError([Diagnostic("error", message)])
    try:
        done = subprocess.run([executable, f"-T{fmt}"], input=graph.source.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise NetcError([Diagnostic("error", f"cannot write {path}: dot did not finish laying out {drawn:,} nodes "
                                    f"in {DOT_TIMEOUT:g} s", hint=_smaller_hint(stem, options))]) from None
    except OSError as exc:
        raise NetcError([Diagnostic("error", f"cannot write {path}: cannot run dot: {exc.strerror or exc}")]) from None
    if done.returncode != 0:
        # dot's own message, whole: its last line alone says where ("in label of graph cluster_y2"),
        # the lines before it what ("syntax error in line 1 ... <font></font> ...").
        detail = [line.strip() for line in (done.stderr or b"").decode("utf-8", "replace").splitlines() if line.strip()]
        reason = " ".join(detail[:DOT_MESSAGE_LINES]) if detail else f"exit status {done.returncode}"
        raise NetcError([Diagnostic("error", f"cannot write {path}: dot failed: {reason}")])
    return done.stdout


def drawn_nodes(graph) -> int:
    """How many nodes a digraph draws (layers, folded scopes and output sinks; not clusters)."""
    return sum(1 for line in graph.body if " -> " not in line and _NODE_STATEMENT.match(line))


def _smaller_hint(stem: str, options: dict) -> str:
    ways = []
    if options.get("depth") is None:
        ways.append("fold stages and blocks into one node each with --depth 0 (or 1, 2, … to open more levels)")
    else:
        ways.append(f"fold more with a smaller --depth than {options['depth']}")
    if not options.get("roll"):
        ways.append("draw runs of identical blocks once with --roll")
    ways.append(f"or write -o {stem}.dot (no layout, no limit) and lay it out yourself")
    return "; ".join(ways)


def too_large_message(path: str, drawn: int) -> str:
    return (f"cannot write {path}: the picture would draw {drawn:,} nodes, more than Graphviz lays out in "
            f"reasonable time (the limit is {MAX_LAYOUT_NODES:,})")


def render_to_path(analysis: Analysis, path: str, depth: int | None = None, rankdir: str = "TB",
                   roll: bool = False) -> None:
    """Write the picture to `path`, the format following its extension; nothing half-written is
    left behind on failure."""
    from ..fileio import write_atomic

    fmt = output_format(path)
    data = render_bytes(analysis, fmt, path, depth=depth, rankdir=rankdir, roll=roll)
    write_atomic(path, data)  # an OSError (no such folder, no permission) is the CLI's to report, as for tables


def svg_or_none(analysis: Analysis) -> str | None:
    """The SVG text, or None where Graphviz cannot draw (Jupyter then shows the plain repr)."""
    try:
        return render_bytes(analysis, "svg", "picture.svg").decode("utf-8")
    except NetcError:
        return None
