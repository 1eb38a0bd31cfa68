"""What netc.analyze returns: the analysis, shown in Jupyter as its picture.

The display hook lives here, beside the façade, so that the analysis result (netc/annotated.py) knows
nothing of rendering."""

from __future__ import annotations

from dataclasses import fields

from .annotated import Analysis


class NotebookAnalysis(Analysis):
    """An Analysis that Jupyter displays as its Graphviz picture (SVG)."""

    @classmethod
    def of(cls, analysis: Analysis) -> NotebookAnalysis:
        return cls(**{f.name: getattr(analysis, f.name) for f in fields(Analysis)})

    def _repr_svg_(self) -> str | None:
        """The picture, or None (Jupyter's plain repr) without Graphviz."""
        from .drawing import svg_or_none

        return svg_or_none(self)
