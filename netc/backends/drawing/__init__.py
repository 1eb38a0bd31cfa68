"""Analysis → Graphviz picture: one node per layer, output shapes on the edges, blocks as clusters.

Every layer is a node labelled in the lecture notes' notation (`conv3-64`, `maxpool 3/2`, `FC-4096`)
with its parameter count and coloured by its kind's drawing category; every edge carries the
producer's output shape (`64×56×56`). Scopes (stages, block instances, inception branches,
shortcuts, heads) are clusters. `depth` folds every scope nested deeper than `depth` levels into one
node showing its totals; `roll` draws a run of identical consecutive blocks once with a ×N badge.
An automatic residual shortcut that turned out to be the identity is drawn as a plain skip edge.

    plan.py    what to draw: folded scopes, rolled runs, elided identity shortcuts
    labels.py  the text on it: labels, tooltips, parameter and FLOP counts
    style.py   its look: font, colours, node shapes
    dot.py     the graphviz.Digraph (`to_digraph`)
    output.py  files and formats: `render_to_path`, `render_bytes`, `svg_or_none`
"""

from __future__ import annotations

from .dot import to_digraph
from .labels import fmt_flops, fmt_params
from .output import FORMATS, output_format, render_bytes, render_to_path, svg_or_none

__all__ = ["FORMATS", "fmt_flops", "fmt_params", "output_format", "render_bytes", "render_to_path", "svg_or_none",
           "to_digraph"]
