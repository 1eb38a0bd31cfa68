"""Command line: `netc check | table | compile | render | port | import | export`.

Exit codes: 0 valid, 1 spec error (printed as path:line:col + source line + caret), 2 usage error.
Only `compile` (and `render` of nothing torch-related) reach beyond the analysis path; torch is
imported by nothing here.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import sys

from .errors import Diagnostic, NetcError, UsageError, printable
from .limits import DEFAULT_MAX_LAYERS
from .version import __version__


class _Parser(argparse.ArgumentParser):
    # Arguments whose definitions import more than argparse (train's read netc.frontend.program): added by
    # this, once, when the parser is first used, so that other commands never import them.
    add_later = None

    def parse_known_args(self, args=None, namespace=None):
        if self.add_later is not None:
            add, self.add_later = self.add_later, None
            add(self)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):  # usage errors exit 2 with one line, as argparse does
        self.print_usage(sys.stderr)
        print(f"netc: error: {printable(message)}", file=sys.stderr)
        raise SystemExit(2)


def _define(text: str) -> tuple[str, int | float]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"-D takes NAME=VALUE, got {text!r}")
    name, value = text.split("=", 1)
    name = name.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise argparse.ArgumentTypeError(f"-D: {name!r} is not a param name")
    try:
        return name, int(value, 0)
    except ValueError:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"-D {name}: {value!r} is not a number") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"-D {name}: {value!r} is not a finite number") from None
        return name, number


def _shape(text: str) -> tuple[int, ...]:
    parts = re.split(r"[x×,]", text.strip().lower())
    if not all(re.fullmatch(r"\s*[0-9]{1,7}\s*", p) and 0 < int(p) <= 1_000_000 for p in parts) or len(parts) not in (1, 3):
        raise argparse.ArgumentTypeError(f"--input takes CxHxW or F, e.g. 3x32x32; got {text!r}")
    return tuple(int(p) for p in parts)


def _positive(text: str) -> int:
    if not re.fullmatch(r"\s*[0-9]{1,12}\s*", text):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 1, got {value}")
    return value


def _batch(text: str) -> int | str:
    return "dynamic" if text.strip() == "dynamic" else _positive(text)


# --max-layers beyond this would not fit in memory: `compile` holds about 5 KB per layer (`check`
# about 1 KB, benchmarks/RESULTS-scaling.md), so 1,000,000 layers is some 5 GB and a minute; the
# 10,000,000 allowed before would need about 50 GB.
MAX_MAX_LAYERS = 1_000_000


def _max_layers(text: str) -> int:
    value = _positive(text)
    if value > MAX_MAX_LAYERS:
        raise argparse.ArgumentTypeError(f"at most {MAX_MAX_LAYERS:,} (about 5 KB of memory per layer), got {value:,}")
    return value


def _add_spec_arguments(parser: argparse.ArgumentParser, allow_expr: bool = True) -> None:
    parser.add_argument("spec", nargs="?", help="spec file (YAML)")
    if allow_expr:
        parser.add_argument("-e", "--expr", help="a network in the DSL instead of a file, e.g. 'conv3-64-relu-maxpool-FC-10'")
        parser.add_argument("--input", type=_shape, default=None,
                            help="input shape for -e, e.g. 3x32x32; with a spec file, replaces the spec's input")
    parser.add_argument("-D", dest="defines", action="append", type=_define, default=[], metavar="NAME=VALUE",
                        help="override a param of the spec")
    parser.add_argument("--scale", default=None, metavar="NAME",
                        help="a preset of the spec's scales: (e.g. n, s, m, l, x); -D refines it")
    parser.add_argument("--strict", action="store_true", help="treat warnings as errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="print no warnings (--strict still fails on them)")
    parser.add_argument("--pedantic", action="store_true",
                        help="also warn where a window leaves only padding unread, or input another layer reads")
    parser.add_argument("--max-layers", type=_max_layers, default=DEFAULT_MAX_LAYERS,
                        help=f"largest network to expand (default {DEFAULT_MAX_LAYERS:,} layers)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="netc", description="netc: a declarative architecture compiler for CNNs")
    parser.add_argument("--version", action="version", version=f"netc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = sub.add_parser("check", help="parse and check a spec: shapes, params, arguments")
    _add_spec_arguments(check)

    table = sub.add_parser("table", help="per-layer shapes, params, activations, FLOPs, receptive field")
    _add_spec_arguments(table)
    table.add_argument("--format", choices=("text", "markdown", "csv", "json", "html"), default="text",
                       help="html: a standalone document, the rows grouped by stage and block, a totals row")
    table.add_argument("--compact", action="store_true", help="fold activation, BN and dropout rows into the layer before")
    table.add_argument("--batch", type=_positive, default=1, help="batch size for the memory estimate")
    table.add_argument("--dtype", choices=("float32", "float16", "bfloat16", "float64"), default="float32")
    table.add_argument("--optimizer", choices=("sgd", "momentum", "adam"), default="sgd")
    table.add_argument("--amp", action="store_true",
                       help="mixed precision (torch.autocast at --dtype float16/bfloat16): float32 parameters, "
                            "gradients and optimizer state beside half activations")
    table.add_argument("--target", choices=("cpu", "cpu-avx512", "cpu-avx2", "cpu-native", "cuda"), default="cpu",
                       help="what the memory peaks are for: cpu (this machine, detected), a named CPU backend, "
                            "or cuda (unverified)")
    table.add_argument("--threads", type=_positive, help="torch's CPU threads for the peaks (default: detected)")
    table.add_argument("-o", "--output", help="write to this file instead of standard output")

    compile_ = sub.add_parser("compile", help="generate a standalone PyTorch module")
    _add_spec_arguments(compile_)
    compile_.add_argument("-o", "--output", help="write the module here (default: standard output)")
    compile_.add_argument("--inference", action="store_true",
                          help="the inference build: batch norm folded, dropout left out, in place, with a loader")
    compile_.add_argument("--channels-last", action="store_true",
                          help="with --inference: the weights in channels-last memory format")
    compile_.add_argument("--weights", metavar="FILE", default=None,
                          help="trained weights (a run's best.pth, any checkpoint netc port reads), matched by structure; "
                               "written beside the module (-o model.py: model.pth), folded with --inference")

    render = sub.add_parser("render", help="draw the network with Graphviz (svg, png, pdf, dot)")
    _add_spec_arguments(render)
    render.add_argument("-o", "--output", required=True, help="output file; the format follows the extension")
    render.add_argument("--depth", type=int, default=None, help="fold blocks deeper than this into one node")
    render.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB")
    render.add_argument("--roll", action="store_true", help="draw repeated identical blocks once with a ×N badge")

    schema = sub.add_parser("schema", help="print the JSON Schema of spec files, for editors (README, \"Editors\")")
    schema.add_argument("-o", "--output", help="write it to this file instead of standard output")

    import_ = sub.add_parser("import", help="an existing PyTorch model as a spec: torchvision:NAME, timm:NAME or "
                                            "module:package.module:factory (README, \"Importing models\")")
    import_.add_argument("source", help="torchvision:NAME[?key=value&...], timm:NAME[?key=value&...] (pip install "
                                        "'netc[timm]') or module:package.module:factory[?key=value&...]")
    import_.add_argument("-o", "--output", help="write the spec here (default: standard output)")
    import_.add_argument("--input", type=_shape, default=None, help="the input to trace at, CxHxW (default 3x224x224)")
    import_.add_argument("--name", default=None, help="the spec's name (default: the model's)")

    port = sub.add_parser("port", help="load a checkpoint (.pth, .safetensors) into the spec's module by structure; "
                                       "write its state_dict")
    _add_spec_arguments(port)  # its --strict also fails on any tensor that does not match
    port.add_argument("--weights", required=True, metavar="FILE", help="the checkpoint: a .pth/.pt state_dict or a .safetensors file")
    port.add_argument("-o", "--output", required=True, help="the state_dict to write (.pth; .safetensors for that format)")
    port.add_argument("--verbose", action="store_true", help="list every matched tensor, not runs of them")
    port.add_argument("--partial", action="store_true", help="accept a port that leaves tensors unloaded or unused "
                                                             "(a new head); without it such a port is refused, exit 1")

    export = sub.add_parser("export", help="export the generated module (eval mode) to ONNX (pip install 'netc[onnx]')")
    _add_spec_arguments(export)
    export.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    export.add_argument("--batch", type=_batch, default="dynamic", help="'dynamic' (default: a symbolic batch axis) or a fixed size")
    export.add_argument("--opset", type=_positive, default=None, help="ONNX opset version (default: the exporter's)")
    export.add_argument("--exporter", choices=("auto", "torchscript", "dynamo"), default="auto",
                        help="torch's exporter: auto (TorchScript-based, the dynamo one where it cannot express the network)")
    export.add_argument("--external-data", action="store_true",
                        help="the weights in one file beside the model, FILE.onnx.data (automatic past protobuf's 2 GB)")
    export.add_argument("--weights", metavar="FILE", default=None,
                        help="trained weights (a run's best.pth, any checkpoint netc port reads), matched by structure "
                             "(default: the initialisation seeded by 0)")

    train = sub.add_parser("train", help="train the network on digits, an image folder or CIFAR-10 (runs/NAME)")
    _add_spec_arguments(train)
    train.add_later = _add_train_arguments
    return parser


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    from .training.options import add_train_arguments  # argparse only: no torch until a run starts

    add_train_arguments(train)


def _analyze(args):
    from .analysis.pipeline import analyze_expression, analyze_file

    if getattr(args, "expr", None):
        if args.spec:
            raise UsageError("give either a spec file or -e, not both")
        if args.input is None:
            raise UsageError("-e needs --input, e.g. --input 3x32x32")
        if args.defines or args.scale:
            raise UsageError("-D and --scale apply to spec files; -e has no params")
        return analyze_expression(args.expr, args.input, args.max_layers)
    if not args.spec:
        raise UsageError("give a spec file (or -e 'DSL' --input CxHxW)")
    return analyze_file(args.spec, dict(args.defines), args.max_layers, getattr(args, "input", None), args.scale)


def _report_warnings(analysis, strict: bool, quiet: bool = False, pedantic: bool = False) -> None:
    shown = list(analysis.warnings)
    if pedantic:  # in the network's order, as the layers are
        position = {node_id: k for k, node_id in enumerate(analysis.network.order)}
        shown = sorted(shown + list(analysis.remarks), key=lambda d: position.get(d.node, -1))
    if not shown:
        return
    if strict:
        raise NetcError([Diagnostic("error", d.message, d.span, d.hint) for d in shown])
    if quiet:
        return
    # A block used many times warns many times from the same words: show them once, name the rest.
    groups: dict[tuple[str, str], list[Diagnostic]] = {}
    for diagnostic in shown:
        groups.setdefault((str(diagnostic.span), diagnostic.message.split(":")[0]), []).append(diagnostic)
    for first, *more in groups.values():
        text = first.render()
        if more:
            text += "\n" + printable(f"  note: the same words warn again at {', '.join(d.node or str(d.span) for d in more)}")
        print(text, file=sys.stderr)


def _emit(text: str, output: str | None) -> None:
    from .backends.fileio import write_atomic

    if output is not None:  # `-o ''` was refused by _check_output; it never means standard output
        write_atomic(output, text)
    else:
        sys.stdout.write(text)


def _check_output(args: argparse.Namespace) -> None:
    """Refuse an output netc must not write before any work is done (README, "Output files"): an
    empty name, a directory, a block device, the spec itself."""
    output = getattr(args, "output", None)
    if output is None:
        return
    if not output:
        raise UsageError("-o needs a file name, got ''")
    from .backends.fileio import check_output

    check_output(output, getattr(args, "spec", None))


def _run(args) -> int:
    if args.command == "schema":  # reads no spec
        from .backends.schema import schema_text

        _emit(schema_text(), args.output)
        return 0
    if args.command == "import":  # reads no spec; imports torch (and torchvision), on this command only
        from .importer import DEFAULT_INPUT, import_source

        _emit(import_source(args.source, args.input or DEFAULT_INPUT, name=args.name), args.output)
        return 0
    if args.command == "train":
        from .training.rundir import prepare_resume

        prepare_resume(args)  # a --resume run takes its spec, params and data from its config.json
    if args.command == "export":
        from .backends.onnx_export import require_onnx

        require_onnx()  # exit 2 with the pip line before any work
    analysis = _analyze(args)
    _report_warnings(analysis, args.strict, args.quiet, args.pedantic)
    if args.command == "check":
        shapes = analysis.output_shapes()
        rows = {name: analysis[node].row_count for name, node in analysis.network.outputs if analysis[node].rows}
        outputs = ", ".join(("" if list(shapes) == ["output"] else f"{name} ") + (f"{rows[name]}×" if name in rows else "")
                            + "×".join(map(str, shape)) for name, shape in shapes.items())
        layers = len(analysis.info) - sum(1 for node in analysis.network.nodes() if not node.inputs)  # not the inputs
        print(f"{analysis.network.name}: ok — {layers} layer{'s' if layers != 1 else ''}, {analysis.params:,} params, "
              f"{analysis.flops / 1e9:.2f} GFLOPs, output{'s' if len(shapes) > 1 else ''} {outputs}")
    elif args.command == "table":
        from .analysis.memory import estimate_memory
        from .analysis.table import render_table

        if args.amp and args.dtype not in ("float16", "bfloat16"):
            raise UsageError(f"--amp needs a half --dtype (float16 or bfloat16), got {args.dtype}")
        from .analysis.targets import resolve_target

        target = resolve_target(args.target, args.threads)
        memory = estimate_memory(analysis, args.batch, args.dtype, args.optimizer, amp=args.amp, target=target)
        if args.format == "html":  # netc/analysis/table_html.py builds on netc/analysis/table.py, so it is asked here
            from .analysis.table_html import to_html

            _emit(to_html(analysis, memory, args.compact), args.output)
        else:
            _emit(render_table(analysis, memory, args.format, args.compact), args.output)
    elif args.command == "compile":
        from .backends.codegen import generate_source

        if args.channels_last and not args.inference:
            raise UsageError("--channels-last is an option of the inference build: add --inference")
        source = generate_source(analysis, inference=args.inference, channels_last=args.channels_last)
        if args.weights is not None:
            _compile_with_weights(args, analysis, source)
        else:
            _emit(source, args.output)
    elif args.command == "render":
        from .backends.drawing import render_to_path

        render_to_path(analysis, args.output, depth=args.depth, rankdir=args.rankdir, roll=args.roll)
    elif args.command == "port":
        from .transfer import port  # imports torch, on this command only
        from .transfer.port import PartialPort

        try:
            ported = port(analysis, args.weights, strict=args.strict, output=args.output, partial=args.partial)
        except PartialPort as refused:  # the report of what did not match, then the error
            if refused.report is not None:
                print(refused.report.render(args.verbose))
            raise
        print(ported.report.render(args.verbose))
        how = "a safetensors file" if args.output.endswith(".safetensors") else "loads with module.load_state_dict(torch.load(FILE))"
        print(f"wrote {printable(args.output)}: {how}")
    elif args.command == "export":
        from .backends.onnx_export import export_onnx  # imports torch and onnx, on this command only

        module = None
        if args.weights is not None:
            from .transfer.trained import trained_module

            trained = trained_module(analysis, args.weights, strict=args.strict)
            print(trained.report.render())
            module = trained.module
        print(export_onnx(analysis, args.output, batch=args.batch, opset=args.opset, exporter=args.exporter,
                          module=module, external_data=True if args.external_data else None).summary())
    elif args.command == "train":
        from .training.run import train  # imports torch, on this command only

        return train(args, analysis)
    return 0


def _compile_with_weights(args, analysis, source: str) -> None:
    """`netc compile --weights`: the module and its trained weights beside it, both worked out
    before either is written (the weights first: a module written is a module that loads)."""
    from .backends.fileio import check_output, write_atomic
    from .transfer.trained import inference_state_dict, state_dict_bytes, trained_module, weights_path_beside

    if args.output is None:
        raise UsageError("--weights writes the weights beside the module: give -o FILE.py")
    target = weights_path_beside(args.output)
    check_output(target, args.spec)
    trained = trained_module(analysis, args.weights, strict=args.strict)
    state = (inference_state_dict(analysis, trained.module, args.channels_last) if args.inference
             else trained.module.state_dict())
    data = state_dict_bytes(state)
    print(trained.report.render())
    write_atomic(target, data)
    write_atomic(args.output, source)
    folded = " (batch norms folded)" if args.inference else ""
    print(f"wrote {printable(args.output)} and {printable(target)}{folded}: "
          f"Model().load_state_dict(torch.load({printable(os.path.basename(target))!r}))")


def _collect_garbage_less_often() -> None:
    """One command builds millions of small objects that live to its end (a 100,000-layer spec's
    nodes, infos and source lines); at Python's default thresholds the cyclic collector walks them
    again and again, a third of compile's time at that size (benchmarks/RESULTS-scaling.md). The
    collector still runs, after 100 times as many allocations."""
    threshold, *older = gc.get_threshold()
    gc.set_threshold(max(threshold, 70_000), *older)


def main(argv: list[str] | None = None) -> int:
    """The command line: an exit code and at most a short message, never a traceback. Memory can
    run out anywhere, even while another error is being reported (and an allocation that fails
    half-way can surface as any exception), so this guard is outermost."""
    try:
        _collect_garbage_less_often()
        return _command(argv)
    except Exception as exc:  # noqa: BLE001 - MemoryError and the like; SystemExit passes (--help)
        return _internal_error(exc)


def _library_logs_on_one_line():
    """Print what libraries log as one line each while the command runs. Unconfigured, `logging`
    prints a record's traceback: hashlib, short of memory to load a hash, logs such an error, and
    on a terminal that reads as netc crashing. Returns the undo, for programs that call main()
    in-process; where they configured logging themselves, it is left alone."""
    import logging  # loaded anyway by the parser (lark) for every command that reads a spec

    class OneLine(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(f"netc: {record.module}: {record.getMessage()}\n")
            except Exception:  # noqa: BLE001, S110 - a message about a message must not become a traceback
                pass

    root = logging.getLogger()
    if root.handlers:
        return lambda: None
    handler = OneLine(logging.WARNING)
    root.addHandler(handler)  # and logging.basicConfig, which hashlib's logging.exception calls, adds none
    return lambda: root.removeHandler(handler)


def _command(argv: list[str] | None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show × or … gets escapes, not a crash
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError, OSError):
            pass
    parser = build_parser()
    args = parser.parse_args(argv)  # --version and --help end here: they import nothing below
    from .backends.fileio import Interrupted

    restore = _library_logs_on_one_line()
    try:
        _check_output(args)
        return _run(args)
    except NetcError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except UsageError as exc:
        print(f"netc: error: {printable(worker_free(str(exc)))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        return 130
    except Interrupted as exc:  # SIGTERM or SIGHUP while writing -o; the temporary file is gone
        return 128 + exc.signum
    except OSError as exc:  # writing an output file: a missing directory, no permission, a full disk
        from errno import ENOMEM

        if WORKER_TRACEBACK in str(exc):  # a data worker's OSError (Pillow's on a corrupt file)
            print(f"netc: error: {printable(worker_free(str(exc)))[:500]}", file=sys.stderr)
            return 1
        if exc.errno == ENOMEM:  # an allocation refused by the OS (a mapping, a listing) is no output problem
            return _internal_error(MemoryError())
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"netc: error: {printable(f'{where}{exc.strerror or exc}')}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - a bug in netc: one line for the user, not a traceback
        if WORKER_TRACEBACK in str(exc):  # a data worker's failure (a library's, on the user's files)
            print(f"netc: error: {printable(worker_free(str(exc)))[:500]}", file=sys.stderr)
            return 1
        return _internal_error(exc)
    finally:
        restore()


INTERNAL_ERROR = 70  # EX_SOFTWARE

# An exception raised in a DataLoader worker process reaches the main process with the worker's
# whole traceback in its message, under this line (torch.utils.data's ExceptionWrapper).
WORKER_TRACEBACK = "Original Traceback (most recent call last):"


def worker_free(message: str) -> str:
    """The message without a worker's traceback: the error the worker raised, its last line, less
    the class's module path (`netc.errors.UsageError: x.png: cannot read …` → `x.png: cannot read …`
    for netc's own; `PIL.UnidentifiedImageError: …` keeps its class name)."""
    if WORKER_TRACEBACK not in message:
        return message
    lines = [line for line in message.split(WORKER_TRACEBACK, 1)[1].splitlines() if line.strip()]
    last = lines[-1].strip() if lines else message.splitlines()[0]
    name, sep, rest = last.partition(": ")
    if sep and name.startswith("netc."):
        return rest
    if sep and "." in name and " " not in name:
        return f"{name.rsplit('.', 1)[1]}: {rest}"
    return last

# Made when this module is loaded, so that saying "out of memory" needs no memory; netc/__main__.py
# holds the same text for when this module cannot even be imported.
_OUT_OF_MEMORY = ("netc: internal error (out of memory); please report it with the spec that caused it "
                  "(NETC_DEBUG=1 shows the traceback)\n")
_OUT_OF_MEMORY_BYTES = _OUT_OF_MEMORY.encode()


def _internal_error(exc: BaseException) -> int:
    """An exception no spec should cause. Users get one line and a request to report it; the
    traceback is shown with NETC_DEBUG=1. Tests assert this never happens."""
    if isinstance(exc, MemoryError):
        return _out_of_memory(exc)
    import os

    if os.environ.get("NETC_DEBUG"):
        import traceback

        traceback.print_exception(exc)
    first = (str(exc).strip().splitlines() or [""])[0]  # a library's message may carry a traceback below
    kind = printable(f"{type(exc).__name__}: {first}"[:300])
    print(f"netc: internal error ({kind}); please report it with the spec that caused it "
          "(NETC_DEBUG=1 shows the traceback)", file=sys.stderr)
    return INTERNAL_ERROR


def _out_of_memory(exc: MemoryError) -> int:
    """The one line for a MemoryError, printed from preallocated text; if even that fails, straight
    to file descriptor 2. The traceback is dropped first: its frames hold what filled the memory."""
    import os

    if os.environ.get("NETC_DEBUG"):
        try:
            import traceback

            traceback.print_exception(exc)
        except MemoryError:
            pass
    exc.__traceback__ = None
    try:
        sys.stderr.write(_OUT_OF_MEMORY)
        sys.stderr.flush()
    except (MemoryError, OSError, ValueError):
        try:
            os.write(2, _OUT_OF_MEMORY_BYTES)
        except (MemoryError, OSError):
            pass  # no memory and no stderr: the exit code is all that can be said
    return INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
