"""`netc export`: the generated module, in eval mode, as an ONNX file (README, "ONNX").

    export_onnx(analysis, "model.onnx", batch="dynamic", opset=None) -> Exported

The module is built from exactly the source `netc compile` writes and exported by torch's own
exporter. torch 2.13 has two:

- the TorchScript-based one (`torch.onnx.export(..., dynamo=False)`): deprecated since torch 2.9
  but present and working in 2.13. It traces the module once and names every node after the module
  scope it ran in (`/stage1/stage1.0/conv1/Conv`). On netc's zoo at small inputs it exports 35 of
  the 37 specs, 0.1 to 1.5 s each (4.8 s for FCN-32s' 136 M parameters).
- the torch.export-based one (`dynamo=True`, the default since 2.9; it needs onnxscript): every
  spec of the zoo, but 5 to 10 times slower, 1 to 16 s a network, most of it in decompositions and
  translation (exporting, checking and running the whole zoo: 207 s against 38 s), and its nodes
  are named `node_Conv_293`, the module scopes kept only in per-node metadata.

`exporter="auto"` (the default) takes the TorchScript exporter and falls back to the dynamo one
for a network it cannot express (ShuffleNet's channel_shuffle; an adaptive pool whose output size
does not divide its input, as AlexNet's at small inputs), or if a later torch no longer has it.
Both go through the same renaming below, so the file looks the same either way.

Node names follow netc's layer names: each ONNX node is traced back to the module it ran in (the
TorchScript exporter's scope names, the dynamo exporter's `name_scopes` metadata), and that module
to its netc layer through `Generated.paths` (IR node id → module path). A layer that became one
node is named as the layer (`stage1.basic1.conv1`); one that became several, `layer/Op`; an op of a
block's forward that is no module of its own (a residual add, a concat), the netc node of that kind
in the block when there is exactly one, else `block/Op`. Each renamed node's doc_string says which
netc layer and module it came from. Batch norms are folded into the convolution before them by
both exporters; such a Conv is named after the convolution.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from dataclasses import dataclass, field

from ..analysis.infer import Analysis
from ..errors import NetcError, UsageError
from ..version import __version__

ONNX_MISSING = "netc export needs onnx: pip install 'netc[onnx]' (onnx, onnxruntime, onnxscript)"
EXPORTERS = ("auto", "torchscript", "dynamo")
MAX_PROTO_BYTES = 2**31  # protobuf's limit on one message: past it ONNX needs external data files


@dataclass
class Exported:
    """What `export_onnx` wrote."""

    path: str
    exporter: str  # "torchscript" or "dynamo": the one that made the file
    opset: int
    input: tuple[str, list[int | str]]  # name, shape ("batch" for the dynamic axis)
    outputs: dict[str, list[int | str]]  # name → shape, in the file's order
    nodes: int
    size: int  # bytes written
    fallback: str | None = None  # why the TorchScript exporter was not used, under "auto"
    renamed: int = 0  # nodes named after a netc layer or block
    notes: list[str] = field(default_factory=list)
    inputs: dict[str, list[int | str]] = field(default_factory=dict)  # every input, in the file's order

    def summary(self) -> str:
        shape = lambda s: "×".join(map(str, s))
        outs = ", ".join(f"{name} {shape(s)}" for name, s in self.outputs.items())
        how = f"{self.exporter} exporter" + (" (fallback)" if self.fallback else "")
        given = self.inputs or dict([self.input])
        ins = ", ".join(f"{name} {shape(s)}" for name, s in given.items())
        return (f"wrote {self.path}: opset {self.opset}, {how}, input{'s' if len(given) > 1 else ''} {ins}, "
                f"output{'s' if len(self.outputs) > 1 else ''} {outs}; {self.nodes} nodes, "
                f"{self.size / 1e6:.1f} MB" + "".join(f"\n  note: {note}" for note in self.notes))


def require_onnx() -> None:
    """A UsageError (exit 2, one line) when the onnx package is not installed."""
    import importlib.util

    if importlib.util.find_spec("onnx") is None:
        raise UsageError(ONNX_MISSING)


def export_onnx(analysis: Analysis, path: str, batch: int | str = "dynamic", opset: int | None = None,
                exporter: str = "auto", module=None, external_data: bool | None = None) -> Exported:
    """Export the analysed network's generated module (eval mode) to an ONNX file at `path`,
    written atomically. `batch`: "dynamic" (a symbolic first axis named "batch") or a fixed size.
    `opset`: the ONNX opset (default: the exporter's). `module`: an instance of the generated class
    to export (trained weights, say; it is put in eval mode); by default one is built with weights
    seeded by 0, so that one spec gives one file. Input "input"; outputs "output", or one per head
    named after it. `external_data`: the weights in one file beside the model, `PATH.data` (ONNX's
    external data); None (the default) does so when they pass protobuf's 2 GB. Raises UsageError
    when onnx is missing, NetcError when the network cannot be exported."""
    require_onnx()
    if exporter not in EXPORTERS:
        raise UsageError(f"exporter must be one of {', '.join(EXPORTERS)}, got {exporter!r}")
    if batch != "dynamic" and not (isinstance(batch, int) and not isinstance(batch, bool) and batch >= 1):
        raise UsageError(f"batch must be 'dynamic' or a whole number ≥ 1, got {batch!r}")
    span = analysis.network.source.body_span
    automatic = 4 * analysis.params >= MAX_PROTO_BYTES
    external = automatic if external_data is None else bool(external_data)
    if automatic and external_data is False:
        raise NetcError.at(span, f"the network has {analysis.params:,} parameters, over 2 GB at float32: one ONNX file "
                           "holds at most 2 GB", "let its weights go to a file beside it (--external-data)")
    import onnx
    import torch

    from .codegen import generate, load_generated
    from .fileio import write_atomic

    generated = generate(analysis)
    if module is None:
        with torch.random.fork_rng(devices=[]):  # seeded weights: one spec, one file; the caller's RNG is left alone
            torch.manual_seed(0)
            module = getattr(load_generated(generated, analysis.network.name), generated.class_name)()
    module.eval()
    net = analysis.network
    first = next(n for n in net.order if not net.node(n).inputs)
    input_shape = tuple(analysis.info[first].shape)
    outputs = [name for name in analysis.output_shapes() if name not in net.source.train_only]  # the eval module's
    input_name = "input" if "input" not in outputs else "images"  # a head named "input" keeps its name
    example = torch.randn((2 if batch == "dynamic" else batch, *input_shape), generator=torch.Generator().manual_seed(0))
    inputs = _named_inputs(analysis, input_name, example)
    _check_exportable(analysis)
    # Each input's and output's first axis: "batch" (images) or "<name>_rows" (all the batch's rows
    # of an [R, K] input) when dynamic; with a fixed batch, its size (R rows per image).
    axes: dict[str, str | int] = {name: axis for name, (axis, _, _) in inputs.items()}
    for name, node in net.outputs:
        layer = analysis.info[node]
        axes[name] = f"{layer.rows}_rows" if layer.rows else "batch"
    if batch != "dynamic":
        rows = {f"{n.attrs['name']}_rows": n.attrs["rows"] for n in net.nodes() if not n.inputs and "rows" in n.attrs}
        axes = {name: batch * rows.get(axis, 1) for name, axis in axes.items()}  # type: ignore[arg-type]
    examples = tuple(value for _, _, value in inputs.values())

    fallback = None
    used = "dynamo" if exporter == "dynamo" else "torchscript"
    proto, exported = None, False
    scratch = _Scratch(path) if external else None  # big models go through files: no 2 GB message in memory
    try:
        if used == "torchscript":
            try:
                proto = _torchscript(module, examples, list(inputs), outputs, batch, opset, axes, scratch)
                exported = True
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the legacy exporter: try the other one
                if exporter == "torchscript":
                    raise _failed(span, "torchscript", exc) from None
                fallback = _first_line(exc)
                used = "dynamo"
        if not exported:
            import importlib.util

            if importlib.util.find_spec("onnxscript") is None:
                why = f" (the TorchScript exporter failed: {fallback})" if fallback else ""
                raise UsageError(f"this export needs torch's dynamo exporter, which needs onnxscript{why}: "
                                 "pip install 'netc[onnx]' (or onnxscript)")
            try:
                proto = _dynamo(module, examples, list(inputs), outputs, batch, opset, axes, scratch)
            except MemoryError:
                raise
            except Exception as exc:  # noqa: BLE001 - the exporter's own errors, one line for the user
                raise _failed(span, "dynamo", exc, fallback) from None

        model = onnx.load_from_string(proto) if scratch is None else scratch.load()
        renamed = _rename_nodes(model, analysis, generated.paths, module, used)
        _declare_shapes(model, batch, {**{name: shape for name, (_, shape, _) in inputs.items()},
                                       **analysis.output_shapes()}, axes)
        model.doc_string = f"{net.name}, exported by netc {__version__} from {os.path.basename(net.source.path)}"
        _metadata(model, {"netc.network": net.name, "netc.exporter": used,
                          "netc.input_shape": "x".join(map(str, input_shape)), "netc.outputs": ",".join(outputs),
                          **({"netc.inputs": ",".join(inputs)} if len(inputs) > 1 else {})})
        notes = []
        if scratch is not None:
            size = scratch.save(model, span, used)
            notes.append(f"the weights are in {os.path.basename(path)}.data beside it (ONNX external data"
                         + (": over protobuf's 2 GB)" if automatic else ")") + "; keep the two files together")
        else:
            try:
                onnx.checker.check_model(model)
            except Exception as exc:  # noqa: BLE001 - onnx.checker.ValidationError and protobuf's own
                raise _failed(span, used, exc) from None
            data = model.SerializeToString()
            write_atomic(path, data)
            size = len(data)
    finally:
        if scratch is not None:
            scratch.discard()  # what a failure left in the private directory (after save: already gone)
    shape_of = lambda value: [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]
    (opset_found,) = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] or [0]
    if opset and opset != opset_found:
        notes.insert(0, f"opset {opset} was asked for; the {used} exporter wrote {opset_found}")
    return Exported(path, used, opset_found, (model.graph.input[0].name, shape_of(model.graph.input[0])),
                    {o.name: shape_of(o) for o in model.graph.output}, len(model.graph.node), size, fallback,
                    renamed, notes, {i.name: shape_of(i) for i in model.graph.input})


class _Scratch:
    """A private directory beside the output for an export with external data: the exporter writes
    there (torch writes a model past 2 GB as external data itself when given a path), netc reads it
    back, writes the final model and its one data file there, checks them with onnx.checker by path
    (which reads the data file), and only then moves both into place, data first: a failure leaves
    neither, and an old pair is replaced whole."""

    def __init__(self, path: str):
        import tempfile

        self.path = path
        self.directory = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=os.path.dirname(os.path.abspath(path)))
        self.exported = os.path.join(self.directory, "exported.onnx")

    def load(self):
        import onnx

        return onnx.load(self.exported, load_external_data=True)

    def save(self, model, span, used: str) -> int:
        import shutil

        import onnx

        name = os.path.basename(self.path)
        final, data = os.path.join(self.directory, name), os.path.join(self.directory, name + ".data")
        try:
            onnx.save_model(model, final, save_as_external_data=True, all_tensors_to_one_file=True,
                            location=name + ".data")  # tensors under 1 KB stay inline: onnxruntime reads shapes from them
            try:
                onnx.checker.check_model(final)
            except Exception as exc:  # noqa: BLE001 - onnx.checker.ValidationError and protobuf's own
                raise _failed(span, used, exc) from None
            size = os.path.getsize(final) + os.path.getsize(data)
            target = os.path.join(os.path.dirname(os.path.abspath(self.path)), name + ".data")
            os.replace(data, target)
            os.replace(final, self.path)
            return size
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)

    def discard(self) -> None:
        import shutil

        shutil.rmtree(self.directory, ignore_errors=True)


def _named_inputs(analysis: Analysis, input_name: str, example) -> dict[str, tuple[str, tuple[int, ...], object]]:
    """Each input of the file: its name (the spec's, or `input_name` for one unnamed input), the
    name of its first axis when it is dynamic, its shape without that axis, and an example value.
    An [R, 5] input of boxes gets R boxes per image of the example batch, inside the image, each
    row's first value its image's index, as the roi operators read them."""
    import torch

    net = analysis.network
    nodes = [net.node(n) for n in net.order if not net.node(n).inputs]
    if len(nodes) == 1 and "name" not in nodes[0].attrs:
        return {input_name: ("batch", tuple(analysis.info[nodes[0].id].shape), example)}
    images, height, width = example.shape[0], *(example.shape[-2:] if example.dim() == 4 else (1, 1))
    found: dict[str, tuple[str, tuple[int, ...], object]] = {}
    for k, node in enumerate(nodes):
        shape = tuple(analysis.info[node.id].shape)
        generator = torch.Generator().manual_seed(k)
        if k == 0:
            found[node.attrs["name"]] = ("batch", shape, example)
        elif "rows" in node.attrs:
            count = images * node.attrs["rows"]
            value = torch.rand((count, *shape), generator=generator)
            if shape == (5,):  # boxes: (image, x1, y1, x2, y2) with x1 < x2 and y1 < y2 inside the image
                corners = value[:, 1:] * torch.tensor([width, height, width, height]) / 2
                corners[:, 2:] += torch.tensor([width, height]) / 2
                value = torch.cat([(torch.arange(count) % images).float()[:, None], corners], dim=1)
            found[node.attrs["name"]] = (f"{node.attrs['name']}_rows", shape, value)
        else:
            found[node.attrs["name"]] = ("batch", shape, torch.randn((images, *shape), generator=generator))
    return found


def _check_exportable(analysis: Analysis) -> None:
    """A layer whose operator an ONNX trace cannot follow (a Python loop over the boxes) is an error
    at its place, before anything is traced."""
    from ..layers import KINDS

    for node in analysis.network.nodes():
        why = KINDS[node.kind].not_exportable(node.attrs)
        if why is not None:
            raise NetcError.at(node.span, f"{node.id} cannot be exported to ONNX: {why}",
                               "roialign(<rois>, …, sampling=2), a fixed number of samples per bin, exports")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0] or type(exc).__name__
    return text[:300] + ("…" if len(text) > 300 else "")


def _failed(span, exporter: str, exc: BaseException, fallback: str | None = None) -> NetcError:
    also = f"; the TorchScript exporter failed first: {fallback}" if fallback else ""
    return NetcError.at(span, f"torch's {exporter} ONNX exporter could not export this network: "
                        f"{type(exc).__name__}: {_first_line(exc)}{also}",
                        "try another --opset, or --exporter dynamo / torchscript")


@contextlib.contextmanager
def _quiet():
    """The exporters print progress and warn (the TorchScript one that it is deprecated: netc
    chooses it knowingly, above), and on failure the TorchScript one dumps the whole traced graph
    to file descriptor 2 from C++; none of it is the user's business: netc reports one line."""
    import sys
    import tempfile

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), tempfile.TemporaryFile() as sink:
        warnings.simplefilter("ignore")
        saved: dict[int, int] = {}
        for fd, stream in ((1, sys.stdout), (2, sys.stderr)):
            try:
                stream.flush()
                saved[fd] = os.dup(fd)
                os.dup2(sink.fileno(), fd)
            except (OSError, ValueError, AttributeError):  # no such descriptor (an embedding host): leave it be
                pass
        try:
            yield
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)


def _torchscript(module, examples: tuple, input_names: list[str], outputs: list[str], batch, opset: int | None,
                 first_axes: dict[str, str | int], scratch: _Scratch | None = None) -> bytes | None:
    import torch

    buffer = io.BytesIO() if scratch is None else scratch.exported
    axes = {name: {0: first_axes[name]} for name in [*input_names, *outputs]} if batch == "dynamic" else None
    with _quiet(), torch.no_grad():
        torch.onnx.export(module, examples, buffer, dynamo=False, input_names=input_names, output_names=outputs,
                          dynamic_axes=axes, opset_version=opset)
    return buffer.getvalue() if scratch is None else None


def _dynamo(module, examples: tuple, input_names: list[str], outputs: list[str], batch, opset: int | None,
            first_axes: dict[str, str | int], scratch: _Scratch | None = None) -> bytes | None:
    import torch

    dims: dict[str, object] = {}
    if batch == "dynamic":
        shapes = tuple({0: dims.setdefault(first_axes[name], torch.export.Dim(first_axes[name], min=1))}
                       for name in input_names)
    else:
        shapes = None
    with _quiet(), torch.no_grad():
        program = torch.onnx.export(module, examples, None, dynamo=True, input_names=input_names,
                                    output_names=outputs, dynamic_shapes=shapes, opset_version=opset)
        if scratch is not None:
            program.save(scratch.exported, external_data=True)
            return None
    return program.model_proto.SerializeToString()


def _declare_shapes(model, batch, shapes: dict[str, tuple[int, ...]],
                    first_axes: dict[str, str | int] | None = None) -> None:
    """The input's and outputs' shapes as netc computed them, the first axis "batch" or fixed. The
    TorchScript exporter's own guesses can be wrong where a shape was computed at run time (it
    called a padded map's height "batch" in YOLOv3-tiny), so its intermediate shapes are dropped
    and inferred again by onnx from the declared input."""
    import onnx

    for value in [*model.graph.input, *model.graph.output]:
        if value.name in shapes:
            dims = value.type.tensor_type.shape.dim
            del dims[:]
            # A tensor of boxes has its own first axis; with a fixed batch, first_axes gives its size.
            axis = (first_axes or {}).get(value.name, "batch" if batch == "dynamic" else batch)
            for k, size in enumerate((axis, *shapes[value.name])):
                dim = dims.add()
                if isinstance(size, str):
                    dim.dim_param = size
                else:
                    dim.dim_value = int(size)
    del model.graph.value_info[:]
    with _weights_aside(model):  # shapes need no weights: inference on FCN-32s' 545 MB copied them twice
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 - intermediate shapes are a courtesy to viewers, not needed to run
            inferred = None
    if inferred is not None:
        model.graph.value_info.extend(inferred.graph.value_info)


@contextlib.contextmanager
def _weights_aside(model):
    """The initializers' bytes taken out while the block runs (their dims and types stay), put back after."""
    kept = []
    for tensor in model.graph.initializer:
        if tensor.raw_data:
            kept.append((tensor, tensor.raw_data))
            tensor.ClearField("raw_data")
    try:
        yield
    finally:
        for tensor, raw in kept:
            tensor.raw_data = raw


def _metadata(model, entries: dict[str, str]) -> None:
    for key, value in entries.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value


# --- node names after netc's layers -------------------------------------------------------------------


def _scope_modules(net, paths: dict[str, str]) -> dict[str, str]:
    """netc scope id → the module its layers sit in: the longest common prefix of the modules
    holding them (stage1.basic1 → stage1.0; a head written into the network's forward, whose
    layers are small_cbl1…, → "", the network itself)."""
    holders: dict[str, list[list[str]]] = {}
    for node_id, module_path in paths.items():
        holder = module_path.split(".")[:-1]
        scope = net.node(node_id).scope
        while scope:
            holders.setdefault(scope, []).append(holder)
            scope = scope.rpartition(".")[0] if scope.rpartition(".")[0] in net.scopes else ""
    found = {}
    for scope, lists in holders.items():
        common = lists[0]
        for other in lists[1:]:
            k = 0
            while k < min(len(common), len(other)) and common[k] == other[k]:
                k += 1
            common = common[:k]
        found[scope] = ".".join(common)
    return found


def _torchscript_scopes(module) -> dict[str, str]:
    """The TorchScript exporter's scope text of each submodule → its path. It names a module by its
    last non-numeric atom on (`conv1`, `stage1.0`), one level per nesting: /stage1/stage1.0/conv1."""

    def atom(name: str) -> str:
        parts = name.split(".")
        for k in range(len(parts) - 1, -1, -1):
            if not parts[k].isnumeric():
                return ".".join(parts[k:])
        return name

    scopes = {"": ""}
    for name, _ in module.named_modules():
        if name:
            parts = name.split(".")
            chain = [atom(".".join(parts[: k + 1])) for k in range(len(parts))]
            scopes["/" + "/".join(chain)] = name
    return scopes


def _module_of(node, exporter: str, scopes: dict[str, str]) -> str | None:
    if exporter == "dynamo":
        for prop in node.metadata_props:
            if prop.key == "pkg.torch.onnx.name_scopes":
                import ast

                try:
                    names = ast.literal_eval(prop.value)
                except (ValueError, SyntaxError):
                    return None
                return names[-2] if len(names) >= 2 else ""
        return None
    if "/" not in node.name:
        return None  # an exporter-made node outside every module (Identity_0 for a shared constant)
    return scopes.get(node.name.rsplit("/", 1)[0])


def _rename_nodes(model, analysis: Analysis, paths: dict[str, str], module, exporter: str) -> int:
    net = analysis.network
    layer_of = {module_path: node_id for node_id, module_path in paths.items()}
    module_of_scope = _scope_modules(net, paths)
    scope_of: dict[str, str] = {}  # container module → the outermost netc scope it holds
    for scope, module_path in sorted(module_of_scope.items(), key=lambda item: (item[0].count("."), item[0])):
        if module_path:
            scope_of.setdefault(module_path, scope)
    scopes = _torchscript_scopes(module) if exporter == "torchscript" else {}
    pathless: dict[str, list[str]] = {}  # container module → the netc nodes in it that are no module (add, concat)
    for node_id in net.order:
        if node_id not in paths and net.node(node_id).inputs:
            pathless.setdefault(module_of_scope.get(net.node(node_id).scope, ""), []).append(node_id)

    labels: list[tuple[str, str, bool] | None] = []  # (label, module path, is a layer) per node
    for node in model.graph.node:
        module_path = _module_of(node, exporter, scopes)
        label = None
        owner = module_path
        while owner and owner not in layer_of and owner not in scope_of:  # a module inside a layer's (a projection's conv)
            owner = owner.rpartition(".")[0]
        if module_path is not None:
            if owner in layer_of:
                label, layer = layer_of[owner], True
                fused = any(p.key == "pkg.onnxscript.rewriter.rule_name" and "FuseBatchNormIntoConv" in p.value
                            for p in node.metadata_props)
                inputs = net.node(label).data_inputs
                if fused and owner == module_path and inputs and inputs[0] in paths:  # the dynamo exporter names a folded conv after its norm
                    label = inputs[0]
            else:
                scope = "" if owner == "" else scope_of.get(owner)
                if scope is not None:
                    same = [n for n in pathless.get(owner, []) if net.node(n).kind.lower() == node.op_type.lower()]
                    label, layer = (same[0], True) if len(same) == 1 else (scope, False)
        labels.append(None if label is None else (label, module_path, layer))

    count: dict[str, int] = {}
    for entry in labels:
        if entry is not None and entry[2]:
            count[entry[0]] = count.get(entry[0], 0) + 1
    taken = {n.name for n, e in zip(model.graph.node, labels) if e is None}
    renamed = 0
    for node, entry in zip(model.graph.node, labels):
        if entry is None:
            continue
        label, module_path, layer = entry
        base = label if layer and count[label] == 1 else "/".join(p for p in (label, node.op_type) if p)
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        node.name = name
        where = f"netc layer {label}" if layer else f"netc {'block ' + label if label else 'network'}"
        node.doc_string = f"{where}, module {module_path or '(the network)'}"
        renamed += 1
    return renamed


__all__ = ["EXPORTERS", "ONNX_MISSING", "Exported", "export_onnx", "require_onnx"]
