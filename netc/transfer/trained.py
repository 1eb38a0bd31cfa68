"""Trained weights for `netc export --weights` and `netc compile --weights`: the checkpoint matched
into the spec's module by structure (as `netc port` matches it), and refused when it leaves any of
the module's tensors at its initialisation: a deployed network with a random layer in it is a
mistake, not a finetuning start. Unused checkpoint tensors (a head the spec leaves out) are
allowed unless `strict`."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

from ..errors import NetcError, printable
from .matching import TransferReport
from .port import port


@dataclass
class Trained:
    module: Any  # the generated (training) module, the weights loaded, in eval mode
    report: TransferReport


def trained_module(analysis, weights: str | os.PathLike, strict: bool = False) -> Trained:
    """The spec's generated module with `weights` loaded by structure; a NetcError naming the first
    tensors left unfilled when the checkpoint does not fill every one of them."""
    ported = port(analysis, weights, strict=strict, partial=True)  # refused below, in words for deployment
    report = ported.report
    if report.skipped:
        shape = lambda s: "×".join(map(str, s)) or "scalar"
        first = "; ".join(f"{s.name} ({shape(s.shape)}): {s.reason}" for s in report.skipped[:3])
        more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
        raise NetcError.at(None, f"{printable(os.fspath(weights))}: {len(report.skipped)} of the module's tensors are not in "
                           f"the checkpoint, so they would ship at their initialisation: {first}{more}",
                           "give the checkpoint of this network (a `netc train` run's best.pth), or the -D/--scale "
                           "it was trained with; `netc port` shows the whole match")
    return Trained(ported.module.eval(), report)


def inference_state_dict(analysis, module, channels_last: bool = False) -> dict:
    """The inference build's state_dict for a trained training module: its own standalone loader
    (`fold_training_state_dict`, netc/backends/codegen/inference.py) run on the module's state_dict, and
    checked by loading it into the inference class (every key, every shape)."""
    from ..backends.codegen import generate, load_generated

    generated = generate(analysis, True, channels_last)
    namespace = load_generated(generated, analysis.network.name)
    state = namespace.fold_training_state_dict(module.state_dict())
    getattr(namespace, generated.class_name)().load_state_dict(state)  # strict: the build's own keys, exactly
    return state


def state_dict_bytes(state: dict) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def weights_path_beside(module_path: str) -> str:
    """`model.py` → `model.pth`: the weights file written beside a generated module."""
    stem, ext = os.path.splitext(module_path)
    return (stem if ext == ".py" else module_path) + ".pth"
