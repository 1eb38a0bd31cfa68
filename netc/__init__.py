"""netc: a declarative architecture compiler for convolutional networks.

    netc.analyze("specs/vgg16.yaml")            # checked, annotated network (no torch)
    netc.compile_source("specs/resnet50.yaml")  # standalone PyTorch source
    netc.build("specs/resnet50.yaml", N=3)      # the nn.Module, from exactly that source
    netc.render("specs/googlenet.yaml")         # graphviz.Digraph
    netc.port("specs/resnet50.yaml", "resnet50.pth", classes=10)   # a checkpoint loaded by structure:
                                                # .state_dict (for the generated module), .report, .module

Finetuning helpers (netc/transfer.py): load_weights(module, path, strict=False) -> TransferReport,
freeze(module, generated.paths, ["stem", "stage1"]), param_groups(module, generated.paths, lr, {...}).
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


def port(spec: str, weights: str, *, strict: bool = False, output: str | None = None, **params):
    """Load a checkpoint (`.pth`/`.pt` state_dict, or `.safetensors`; e.g. torchvision's or timm's)
    into the spec's generated module by structure (tensors in order by role and shape; names are
    not compared) and return a `netc.transfer.Ported`: `.state_dict` (loads with plain
    `module.load_state_dict`), `.report` (what matched, what was skipped and why; print it),
    `.module`. Tensors the checkpoint does not fill (a new head, `classes=10`) keep a seeded
    initialisation; `strict=True` raises a NetcError instead. `output=` writes the state_dict
    (`netc port`). Params and `scale=` as for `analyze`."""
    from .transfer import port as port_analysis

    return port_analysis(analyze(spec, **params), weights, strict=strict, output=output)


def render(spec: str, **options):
    """The network as a graphviz.Digraph (options: depth, rankdir, roll)."""
    from .drawing import to_digraph

    return to_digraph(analyze(spec), **options)


__all__ = ["NetcError", "UsageError", "__version__", "analyze", "build", "compile_source", "port", "render"]
