"""What netc.analyze returns: the analysis, shown in Jupyter as its picture, and its table, shown as
HTML.

The display hooks live here, beside the façade, so that the analysis result (netc/analysis/annotated.py) knows
nothing of rendering."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ..analysis.annotated import Analysis
from ..analysis.memory import DTYPE_BYTES, OPTIMIZER_STATES, MemoryEstimate
from ..errors import UsageError

TABLE_FORMATS = ("text", "markdown", "csv", "json", "html")


class NotebookAnalysis(Analysis):
    """An Analysis that Jupyter displays as its Graphviz picture (SVG); `.table()` is its table."""

    @classmethod
    def of(cls, analysis: Analysis) -> NotebookAnalysis:
        return cls(**{f.name: getattr(analysis, f.name) for f in fields(Analysis)})

    def _repr_svg_(self) -> str | None:
        """The picture, or None (Jupyter then shows the one-line repr) without Graphviz."""
        try:
            from .drawing import svg_or_none

            return svg_or_none(self)
        except ImportError:  # the graphviz package itself missing: no picture, no traceback
            return None

    def __repr__(self) -> str:
        """One line, not the dataclass's dump of every node: what a console (or Jupyter without
        Graphviz) shows."""
        shapes = self.output_shapes()
        outputs = ", ".join(("" if list(shapes) == ["output"] else f"{name} ") + "×".join(map(str, shape))
                            for name, shape in shapes.items())
        layers = len(self.info) - 1  # as `netc check` counts them: the input is no layer
        return (f"<netc analysis {self.network.name}: {layers} layer{'s' if layers != 1 else ''}, "
                f"{self.params:,} params, {self.flops / 1e9:.2f} GFLOPs, output{'s' if len(shapes) > 1 else ''} "
                f"{outputs}>")

    def table(self, compact: bool = False, *, batch: int = 1, dtype: str = "float32",
              optimizer: str = "sgd") -> Table:
        """The per-layer table of `netc table` (`compact=True`: `--compact`; `batch`, `dtype`,
        `optimizer` set the training-memory estimate). Jupyter shows it as HTML, grouped by scope
        with a totals row; `str()` is the text table; `.render(fmt)` any of `netc table`'s formats.
        Raises UsageError for a batch below 1 or an unknown dtype or optimizer."""
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise UsageError(f"batch must be a whole number ≥ 1, got {batch!r}")
        if dtype not in DTYPE_BYTES:
            raise UsageError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
        if optimizer not in OPTIMIZER_STATES:
            raise UsageError(f"optimizer must be one of {', '.join(OPTIMIZER_STATES)}, got {optimizer!r}")
        from ..analysis.memory import estimate_memory

        return Table(self, estimate_memory(self, batch, dtype, optimizer), bool(compact))


@dataclass(frozen=True)
class Table:
    """An analysis's table at a memory setting: HTML in Jupyter, the text table in a console."""

    analysis: Analysis
    memory: MemoryEstimate
    compact: bool = False

    def render(self, fmt: str = "text") -> str:
        """The table as `netc table --format FMT` prints it: text, markdown, csv, json or html
        (a standalone document, byte for byte what `netc table --format html` writes)."""
        if fmt == "html":
            from ..analysis.table_html import to_html

            return to_html(self.analysis, self.memory, self.compact)
        if fmt not in TABLE_FORMATS:
            raise UsageError(f"format must be one of {', '.join(TABLE_FORMATS)}, got {fmt!r}")
        from ..analysis.table import render_table

        return render_table(self.analysis, self.memory, fmt, self.compact)

    def html(self) -> str:
        """The standalone HTML document (`netc table --format html`)."""
        return self.render("html")

    def _repr_html_(self) -> str:
        """What Jupyter shows: the HTML table as a fragment, its CSS inline."""
        from ..analysis.table_html import html_table

        return html_table(self.analysis, self.memory, self.compact)

    def __str__(self) -> str:
        return self.render("text")

    def __repr__(self) -> str:
        return self.render("text").rstrip("\n")
