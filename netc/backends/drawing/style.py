"""The picture's look: font, colours and node shapes shared by the labels and the drawing.

Layer colours come from each kind's drawing category (`netc.layers.CATEGORY_COLORS`); what is
here is everything else."""

from __future__ import annotations

from ...graph.ir import ScopeKind

FONT = "Helvetica"
WARNING_COLOR = "#d62728"
SKIP_COLOR = "#3b6ea5"
CATEGORY_SHAPES = {"merge": "oval"}  # everything else is a rounded box
SCOPE_FILLS = {ScopeKind.STAGE: "#f6f6f6", ScopeKind.HEAD: "#f6f6f6", ScopeKind.BLOCK: "#edf3fb",
               ScopeKind.SHORTCUT: "#ffffff", ScopeKind.BRANCH: "#ffffff"}
