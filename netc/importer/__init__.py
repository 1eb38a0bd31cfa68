"""`netc import`: an existing PyTorch model as a netc spec.

    import_module(model, (3, 224, 224)) -> str          the spec's text
    import_source("torchvision:resnet50", (3, 224, 224)) -> str
    import_source("torchvision:googlenet?aux_logits=false&init_weights=false")
    import_source("module:mypackage.models:make_net?width=32")
    import_source("timm:regnety_002")                   # needs timm (the `timm` extra)

The module is traced with torch.fx (tracing.py), each call mapped onto netc's layer words and
merges (mapping.py), blocks, repetitions and stages recovered from the module hierarchy and the
data flow (structure.py), and the spec written (writing.py). The written spec is then analysed by
netc itself and must have the model's parameter count and output shape, or the import fails. What
netc cannot express is a NetcError naming the module and op. Imports torch (and torchvision for
`torchvision:` sources) on call; the analysis path never imports this package.
"""

from __future__ import annotations

import os
import re
import tempfile

from ..errors import Diagnostic, NetcError

DEFAULT_INPUT = (3, 224, 224)


def import_module(module, input_shape: tuple[int, ...] = DEFAULT_INPUT, *, name: str | None = None,
                  source: str | None = None) -> str:
    """The spec text of an nn.Module, traced at `input_shape` (C, H, W; or (F,) for a vector)."""
    from .mapping import Unmappable
    from .structure import recover
    from .tracing import NotTraceable, Unmappables, trace
    from .writing import write

    label = source or type(module).__name__
    input_shape = tuple(int(d) for d in input_shape)
    try:
        traced = trace(module, input_shape)
        network, recovery = recover(traced)
    except NotTraceable as exc:
        raise NetcError.at(None, f"cannot import {label}: {exc}",
                           "torch.fx traces forward symbolically; a module whose forward branches on tensor values "
                           "or calls code it cannot follow is not traceable") from None
    except Unmappable as exc:
        raise NetcError.at(None, f"cannot import {label}: {exc.what}: {exc}", exc.hint) from None
    except Unmappables as exc:
        raise NetcError([Diagnostic("error", f"cannot import {label}: {p.what}: {p}", None, p.hint)
                         for p in exc.problems]) from None
    params = sum(p.numel() for p in module.parameters())
    _check_all_used(module, traced.calls, label)
    out_shape = tuple(traced.shapes[traced.output][1:])
    spec_name = _identifier(name or (source.split(":")[-1].split("?")[0].rsplit(".", 1)[-1] if source else type(module).__name__))
    comment = [f"Imported from {label} by `netc import` (traced with torch.fx at {'x'.join(map(str, input_shape))}):",
               f"{params:,} parameters and output {'×'.join(map(str, out_shape))}, as the model has."]
    classes = {"classes": out_shape[0]} if len(out_shape) == 1 and _ends_in_fc(network) else {}
    text = write(spec_name, comment, input_shape, recovery.variants, network, classes)
    _verify(text, label, params, out_shape)
    return text


def import_source(source: str, input_shape: tuple[int, ...] = DEFAULT_INPUT, *, name: str | None = None) -> str:
    """The spec text of `torchvision:NAME[?k=v&…]` or `module:pkg.mod:factory[?k=v&…]`."""
    from .sources import load_source

    model, _ = load_source(source)
    return import_module(model, input_shape, name=name, source=source)


def _check_all_used(module, calls: dict[str, int], label: str) -> None:
    """A model whose eval-mode forward leaves modules with parameters uncalled (GoogLeNet's and
    Inception v3's auxiliary classifiers, used in training only) cannot be written with its parameter
    count: a NetcError naming them and the way out, rather than a spec that differs from the model."""
    holders = [name for name, m in module.named_modules() if name and any(True for _ in m.parameters(recurse=False))]
    unused = [name for name in holders if name not in calls]
    if not unused:
        return
    # Each unused part named once, by its outermost module whose every parameter holder is unused.
    parts: list[str] = []
    for name in unused:
        pieces = name.split(".")
        top = next(".".join(pieces[:k]) for k in range(1, len(pieces) + 1)
                   if all(h in unused for h in holders if h == ".".join(pieces[:k]) or h.startswith(".".join(pieces[:k]) + ".")))
        if top not in parts:
            parts.append(top)
    count = sum(p.numel() for name in parts for p in module.get_submodule(name).parameters())
    shown = ", ".join(parts[:6]) + (", …" if len(parts) > 6 else "")
    raise NetcError.at(None, f"cannot import {label}: {shown} hold{'s' if len(parts) == 1 else ''} {count:,} parameters "
                       f"that its eval-mode forward never uses (training-only heads?)",
                       "build the model without them (torchvision:googlenet?aux_logits=false, "
                       "torchvision:inception_v3?aux_logits=false&init_weights=false); netc imports what forward computes")


def _ends_in_fc(network: list) -> bool:
    from .structure import TLayer

    return bool(network) and isinstance(network[-1], TLayer) and network[-1].layer.word == "fc"


def _identifier(text: str) -> str:
    text = re.sub(r"[^A-Za-z0-9_]", "_", text) or "imported"
    return text if re.match(r"[A-Za-z]", text) else f"net_{text}"


def _verify(text: str, label: str, params: int, out_shape: tuple[int, ...]) -> None:
    """The written spec, analysed by netc: the model's parameters and output shape, or a NetcError
    (a bug of the importer: the text is shown with NETC_DEBUG=1)."""
    from ..analysis.pipeline import analyze_file

    with tempfile.TemporaryDirectory(prefix="netc-import-") as folder:
        path = os.path.join(folder, "imported.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        try:
            analysis = analyze_file(path)
        except NetcError as exc:
            if os.environ.get("NETC_DEBUG"):
                print(text)
            raise NetcError.at(None, f"the spec written for {label} does not check; please report it: "
                               f"{str(exc).splitlines()[0]}") from None
    shapes = analysis.output_shapes()
    got = tuple(next(iter(shapes.values()))) if len(shapes) == 1 else None
    if analysis.params != params or (got is not None and _squeeze(got) != _squeeze(out_shape)):
        if os.environ.get("NETC_DEBUG"):
            print(text)
        raise NetcError.at(None, f"the spec written for {label} has {analysis.params:,} parameters and output "
                           f"{got}, the model {params:,} and {out_shape}; please report it")


def _squeeze(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(d for d in shape if d != 1) or (1,)


__all__ = ["DEFAULT_INPUT", "import_module", "import_source"]
