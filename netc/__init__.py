"""netc: a declarative architecture compiler for convolutional networks.

    netc.analyze("specs/vgg16.yaml")            # checked, annotated network (no torch)
    netc.compile_source("specs/resnet50.yaml")  # standalone PyTorch source
    netc.build("specs/resnet50.yaml", N=3)      # the nn.Module, from exactly that source
    netc.render("specs/googlenet.yaml")         # graphviz.Digraph
"""

from __future__ import annotations

from .errors import NetcError, UsageError

__version__ = "0.1.0"


def analyze(spec: str, **params):
    """Parse, expand and check a spec file; returns the Analysis (shapes, params, FLOPs per layer)."""
    from .analysis import analyze_file

    return analyze_file(spec, params or None)


def compile_source(spec: str, **params) -> str:
    """The standalone PyTorch module source for a spec."""
    from .codegen import generate_source

    return generate_source(analyze(spec, **params))


def build(spec: str, **params):
    """The spec as an nn.Module: executes exactly the source `compile_source` returns."""
    from .codegen import build_module

    return build_module(analyze(spec, **params))


def render(spec: str, **options):
    """The network as a graphviz.Digraph (options: depth, rankdir, roll)."""
    from .rendering import to_digraph

    return to_digraph(analyze(spec), **options)


__all__ = ["NetcError", "UsageError", "analyze", "build", "compile_source", "render"]
