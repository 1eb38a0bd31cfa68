"""netc: a declarative architecture compiler for convolutional networks.

The Python API (README, "Python and notebooks"); `__all__` is exactly the documented names:

    netc.analyze("specs/vgg16.yaml")            # checked, annotated network (no torch); Jupyter: its picture
    netc.analyze("specs/vgg16.yaml").table()    # the `netc table` rows; Jupyter: an HTML table
    netc.compile_source("specs/resnet50.yaml")  # standalone PyTorch source
    netc.build("specs/resnet50.yaml", N=3)      # the nn.Module, from exactly that source
    netc.render("specs/googlenet.yaml")         # graphviz.Digraph
    netc.train("specs/lenet5.yaml", data="digits", epochs=1)   # `netc train`; returns the run directory
    netc.port("specs/resnet50.yaml", "resnet50.pth", classes=10, partial=True)   # a checkpoint loaded by structure:
                                                # .state_dict (for the generated module), .report, .module
    netc.export("specs/resnet18.yaml", "resnet18.onnx")   # ONNX, a dynamic batch axis (netc[onnx])
    netc.import_module(torchvision.models.resnet50(), (3, 224, 224))   # a model as a spec's text

Errors: NetcError (the spec is wrong; str() is netc check's message, with the source line) and
UsageError (an argument is wrong, a file cannot be read). Only `build`, `port`, `export` and `train` import torch.

Finetuning helpers (netc/transfer/): load_weights(module, path, strict=False) -> TransferReport,
freeze(module, generated.paths, ["stem", "stage1"]), param_groups(module, generated.paths, lr, {...}).
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: importing typing costs what a memory-capped start may not have
if TYPE_CHECKING:
    import os

    import graphviz
    import torch

    from .backends.notebook import NotebookAnalysis
    from .backends.onnx_export import Exported
    from .errors import NetcError, UsageError
    from .transfer import Ported

from .version import __version__


def __getattr__(name: str):
    """NetcError and UsageError load on first use. `python -m netc` imports this package before
    netc/__main__.py's guard runs, so under a memory cap an import here would fail with a traceback."""
    if name in ("NetcError", "UsageError"):
        from . import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'netc' has no attribute {name!r}")


def analyze(spec: str | os.PathLike[str], **params: int | float | str) -> NotebookAnalysis:
    """Parse, expand and check a spec file, as `netc check` does; no torch.

    Keyword arguments set the spec's `params:` (`-D NAME=VALUE`); `scale="s"` (a string) picks a
    preset of its `scales:` first. Returns the Analysis: `.params`, `.weights`, `.macs`, `.flops`,
    `.activations` (totals), `analysis["stage1.bottleneck1.conv1"]` (a LayerInfo: shape, params,
    FLOPs, receptive field), `.output_shapes()`, `.graph` (a networkx DiGraph), `.warnings`, and
    `.table(compact=False)` (the `netc table` rows). Jupyter shows it as its picture (SVG; without
    Graphviz, its one-line repr) and its `.table()` as an HTML table grouped by stage and block.

    Raises NetcError when the spec is wrong (str() is `netc check`'s message), UsageError when the
    file cannot be read or a param or scale is not the spec's."""
    import os

    from .analysis.pipeline import analyze_file
    from .backends.notebook import NotebookAnalysis

    if not isinstance(spec, (str, os.PathLike)):
        from .errors import UsageError

        raise UsageError(f"spec must be a spec file's path, got {type(spec).__name__} {spec!r:.80}")
    scale = params.pop("scale") if isinstance(params.get("scale"), str) else None  # a number is a param named scale
    return NotebookAnalysis.of(analyze_file(os.fspath(spec), params or None, scale=scale))


def compile_source(spec: str | os.PathLike[str], **params: int | float | str) -> str:
    """The standalone PyTorch module source for a spec, as `netc compile` writes it (the same spec
    gives the same bytes); no torch is imported. Params and `scale=` as for `analyze`, and the same
    exceptions (NetcError, UsageError)."""
    from .backends.codegen import generate_source

    return generate_source(analyze(spec, **params))


def build(spec: str | os.PathLike[str], *, max_params: int | None = None, inference: bool = False,
          channels_last: bool = False, **params: int | float | str) -> torch.nn.Module:
    """The spec as a torch.nn.Module (imports torch): executes exactly the source `compile_source`
    returns. Params and `scale=` as for `analyze`, and the same exceptions.

    A network whose parameters alone number more than `max_params` (default
    `netc.backends.codegen.MAX_BUILD_PARAMS`, 2,000,000,000: 8 GB at float32) is refused with a NetcError
    before anything is allocated; pass a larger `max_params` to build it anyway.

    `inference=True`: the inference build (README, "Generated code"), in eval mode, with
    `from_training_state_dict`; `channels_last=True` its weights channels-last."""
    from .backends.codegen import build_module

    return build_module(analyze(spec, **params), max_params=max_params, inference=inference,
                        channels_last=channels_last)


def port(spec: str | os.PathLike[str], weights: str | os.PathLike[str], *, strict: bool = False,
         output: str | None = None, partial: bool = False, **params: int | float | str) -> Ported:
    """Load a checkpoint (`.pth`/`.pt` state_dict, or `.safetensors`; e.g. torchvision's or timm's)
    into the spec's generated module by structure (tensors in order by role and shape; names are
    not compared) and return a `netc.transfer.Ported`: `.state_dict` (loads with plain
    `module.load_state_dict`), `.report` (what matched, what was skipped and why; print it),
    `.module`. A port that leaves tensors of either side over is refused (a NetcError,
    `netc.transfer.port.PartialPort`, its `.report` attached) unless `partial=True`: then tensors the
    checkpoint does not fill (a new head, `classes=10`) keep a seeded initialisation; `strict=True`
    fails even so, and on warnings. `output=` writes the state_dict
    (`netc port`). Params and `scale=` as for `analyze`. Imports torch. Raises NetcError (the spec,
    or a checkpoint that cannot be read or, with `strict`, does not fit) or UsageError."""
    from .transfer import port as port_analysis

    return port_analysis(analyze(spec, **params), weights, strict=strict, output=output, partial=partial)


def render(spec: str | os.PathLike[str], *, depth: int | None = None, rankdir: str = "TB", roll: bool = False,
           **params: int | float | str) -> graphviz.Digraph:
    """The network's picture as a graphviz.Digraph, as `netc render` draws it: `depth` keeps that
    many levels of scopes open (None: all), `rankdir` is TB, LR, BT or RL, `roll` draws runs of
    identical blocks once with ×N. `.source` is the DOT text (needs no Graphviz program);
    `.render(...)`/`.pipe(format="svg")` need Graphviz's `dot`; Jupyter shows it as SVG.
    Params and `scale=` as for `analyze`, and the same exceptions; a bad option is a UsageError."""
    from .errors import UsageError

    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 0):
        raise UsageError(f"depth must be None or a whole number ≥ 0, got {depth!r}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise UsageError(f"rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    from .backends.drawing import to_digraph

    return to_digraph(analyze(spec, **params), depth=depth, rankdir=rankdir, roll=bool(roll))


def export(spec: str | os.PathLike[str], output: str | os.PathLike[str], *, batch: int | str = "dynamic",
           opset: int | None = None, exporter: str = "auto", input_shape: tuple[int, ...] | None = None,
           weights: str | os.PathLike[str] | None = None, external_data: bool | None = None,
           **params: int | float | str) -> Exported:
    """Export the spec's generated module, in eval mode, to an ONNX file (`netc export`; needs
    `pip install 'netc[onnx]'`, imports torch). The file is written whole or not at all.

    `batch`: "dynamic" (a symbolic first axis named "batch") or a fixed size; `opset`: the ONNX
    opset (default: the exporter's); `exporter`: "auto" (torch's TorchScript-based exporter, its
    dynamo one where that cannot express the network), "torchscript" or "dynamo"; `input_shape`:
    evaluate the spec at another input, as `--input` (e.g. (3, 64, 64)). The input is named
    "input"; the output "output", or one per head named after it. Nodes are named after netc's
    layers. `weights`: a checkpoint (a `netc train` run's best.pth, anything `port` reads) loaded by
    structure, refused (NetcError) when it leaves a tensor unfilled; `external_data`: the weights in
    `output.data` beside the file (None: only past protobuf's 2 GB).
    Params and `scale=` as for `analyze`. Returns a `netc.backends.onnx_export.Exported` (`.path`,
    `.outputs`, `.exporter`, `.opset`, `.summary()`). Raises NetcError (the spec is wrong, or the
    network cannot be exported) or UsageError (onnx is missing, a bad argument or output)."""
    import os

    from .analysis.pipeline import analyze_file
    from .backends.fileio import check_output
    from .backends.onnx_export import export_onnx
    from .errors import UsageError

    if not isinstance(spec, (str, os.PathLike)) or not isinstance(output, (str, os.PathLike)) or not os.fspath(output):
        raise UsageError(f"spec and output must be file paths, got {spec!r:.80} and {output!r:.80}")
    check_output(os.fspath(output), os.fspath(spec))
    scale = params.pop("scale") if isinstance(params.get("scale"), str) else None
    analysis = analyze_file(os.fspath(spec), params or None, input_shape=tuple(input_shape) if input_shape else None,
                            scale=scale)
    module = None
    if weights is not None:
        from .transfer.trained import trained_module

        module = trained_module(analysis, weights).module
    return export_onnx(analysis, os.fspath(output), batch=batch, opset=opset, exporter=exporter, module=module,
                       external_data=external_data)


# The `netc train` options that are the spec's business, or that this function names itself.
_TRAIN_RESERVED = frozenset({"command", "spec", "expr", "input", "defines", "scale", "strict", "quiet", "pedantic",
                             "max_layers", "data"})


def train(spec: str | os.PathLike[str] | None, *, data: str | os.PathLike[str] | None = None,
          epochs: int | None = None, params: dict[str, int | float] | None = None, scale: str | None = None,
          **options: object) -> str:
    """Train the spec's generated network exactly as `netc train` does (imports torch) and return
    the run directory (`runs/NAME`: config.json, model.py, best.pth, last.pt, metrics.csv).

    `data`: "digits", an image-folder directory or a CIFAR-10 batches directory (required unless
    `resume=`). `epochs` and the other `train:` keys (`optimizer`, `lr`, `momentum`, `weight_decay`,
    `schedule`, `batch`, `label_smoothing`, `amp`, `seed`, `workers`, `val_split`, …) override the
    spec's `train:`, checked as the command line checks them; so are `netc train`'s own options:
    `runs` (default "runs"), `name`, `device` ("auto", "cpu", "cuda"), `resume` (a run directory
    to continue; then `spec` may be None), `stop_after`. `params` are the spec's params (`-D`),
    `scale` a preset of its `scales:`. Progress is printed as on the command line.

    Raises UsageError for an unknown or bad option, data that cannot be read or does not fit the
    network; NetcError for a spec error."""
    import os

    from .cli import _run, build_parser
    from .errors import UsageError
    from .frontend.program.train_config import TRAIN_KEYS, check_value

    for what, value in (("spec", spec), ("data", data)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise UsageError(f"netc.train: {what} must be a path, got {type(value).__name__} {value!r:.80}")
    args = build_parser().parse_args(["train"])  # every default `netc train` has, whatever is added later
    args.spec = None if spec is None else os.fspath(spec)
    args.data = None if data is None else os.fspath(data)
    if params is not None and not isinstance(params, dict):
        raise UsageError(f"params must be a dict of the spec's params, got {params!r}")
    args.defines = sorted((params or {}).items())
    args.scale = scale
    if epochs is not None:
        options["epochs"] = epochs
    known = sorted([*TRAIN_KEYS, *(k for k in vars(args) if k not in _TRAIN_RESERVED and not k.startswith("train_"))])
    for key, value in options.items():
        try:
            if key in TRAIN_KEYS:
                setattr(args, f"train_{key}", None if value is None else check_value(key, value))
            elif key == "stop_after":
                args.stop_after = None if value is None else check_value("epochs", value)
            elif key in known:
                if key == "device" and value not in ("auto", "cpu", "cuda"):
                    raise ValueError(f"must be auto, cpu or cuda, got {value!r}")
                setattr(args, key, os.fspath(value) if isinstance(value, os.PathLike) else value)
            else:
                raise UsageError(f"netc.train: unknown option {key!r}; the options are {', '.join(known)}")
        except ValueError as exc:
            raise UsageError(f"netc.train: {key}: {exc}") from None
    if args.resume:
        run_dir = os.fspath(args.resume)
    elif args.spec is None:
        raise UsageError("netc.train needs a spec file (or resume=RUN_DIR)")
    elif args.data is None:
        raise UsageError("netc.train needs data=: 'digits', an image folder, or a CIFAR-10 directory")
    elif args.name is not None:
        run_dir = os.path.join(args.runs, args.name)
    else:  # the directory the run will choose: the spec's name, numbered past the runs already there
        from .training.rundir import choose_run_dir

        run_dir = choose_run_dir(args.runs, None, analyze(args.spec, **dict(args.defines),
                                                           **({"scale": scale} if scale else {})).network.name)
    _run(args)
    return run_dir


def import_module(module: torch.nn.Module, input_shape: tuple[int, ...] = (3, 224, 224), *,
                  name: str | None = None) -> str:
    """An existing nn.Module as a spec's text (`netc import`): traced with torch.fx at `input_shape`
    (C, H, W), each call mapped onto netc's layer words, repeated module classes written as blocks
    with arguments, consecutive equal calls as repetitions, containers of one block class as stages.
    The text is checked by netc before it is returned: the model's parameter count and output shape.
    Raises NetcError naming the module and op that netc cannot express (or that torch.fx cannot
    trace). Imports torch."""
    from .importer import import_module as import_model

    return import_model(module, input_shape, name=name)


__all__ = ["NetcError", "UsageError", "__version__", "analyze", "build", "compile_source", "export", "import_module",
           "port", "render", "train"]
