"""netc: a declarative architecture compiler for convolutional networks.

    netc.analyze("specs/vgg16.yaml")            # checked, annotated network (no torch)
    netc.compile_source("specs/resnet50.yaml")  # standalone PyTorch source
    netc.build("specs/resnet50.yaml", N=3)      # the nn.Module, from exactly that source
    netc.render("specs/googlenet.yaml")         # graphviz.Digraph
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs what a memory-capped start may not have
if TYPE_CHECKING:
    from .errors import NetcError, UsageError

from .version import __version__


def __getattr__(name: str):
    """NetcError and UsageError load on first use. `python -m netc` imports this package before
    netc/__main__.py's guard runs, so under a memory cap an import here would fail with a traceback."""
    if name in ("NetcError", "UsageError"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'netc' has no attribute {name!r}")


def analyze(spec: str, **params):
    """Parse, expand and check a spec file; returns the Analysis (shapes, params, FLOPs per layer),
    which Jupyter shows as its picture. Keyword arguments set the spec's params (`-D`), and
    `scale="s"` (a string) picks a preset of its `scales:` first."""
    from .analysis import analyze_file
    from .notebook import NotebookAnalysis

    scale = params.pop("scale") if isinstance(params.get("scale"), str) else None  # a number is a param named scale
    return NotebookAnalysis.of(analyze_file(spec, params or None, scale=scale))


def compile_source(spec: str, **params) -> str:
    """The standalone PyTorch module source for a spec (params and `scale=` as for `analyze`)."""
    from .codegen import generate_source

    return generate_source(analyze(spec, **params))


def build(spec: str, *, max_params: int | None = None, **params):
    """The spec as an nn.Module: executes exactly the source `compile_source` returns.

    A network whose parameters alone number more than `max_params` (default
    `netc.codegen.MAX_BUILD_PARAMS`, 2,000,000,000: 8 GB at float32) is refused with a NetcError
    before anything is allocated; pass a larger `max_params` to build it anyway."""
    from .codegen import build_module

    return build_module(analyze(spec, **params), max_params=max_params)


def render(spec: str, **options):
    """The network as a graphviz.Digraph (options: depth, rankdir, roll)."""
    from .drawing import to_digraph

    return to_digraph(analyze(spec), **options)


__all__ = ["__version__", "NetcError", "UsageError", "analyze", "build", "compile_source", "render"]
