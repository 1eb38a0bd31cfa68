"""The picture as a file: the format a file name asks for, `dot` run on the DOT text, and its
failures (no Graphviz installed, `dot` erroring) as one-line NetcErrors."""

from __future__ import annotations

import os

from ..annotated import Analysis
from ..errors import Diagnostic, NetcError, UsageError
from .dot import to_digraph

# Output formats by file extension: what `dot -T` is asked for (None: the DOT text itself).
FORMATS: dict[str, str | None] = {"svg": "svg", "png": "png", "pdf": "pdf", "dot": None, "gv": None}
PNG_DPI = 144

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
    import graphviz

    stem = os.path.splitext(os.path.basename(path))[0] or "picture"
    if fmt == "png":  # sharper than dot's 96 dpi default; the DOT text itself is unchanged
        graph = graph.copy()
        graph.attr(dpi=str(PNG_DPI))
    try:
        return graph.pipe(format=fmt, quiet=True)
    except graphviz.ExecutableNotFound:
        message = f"cannot write {path}: Graphviz's `dot` program was not found; " + INSTALL_HINT.format(stem=stem)
        raise NetcError([Diagnostic("error", message)]) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {exc.returncode}"
        raise NetcError([Diagnostic("error", f"cannot write {path}: dot failed: {reason}")]) from None


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
