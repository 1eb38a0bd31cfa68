"""`netc port`: the matched state_dict for a spec, once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ..errors import NetcError
from .checkpoint import _error, save_safetensors
from .matching import TransferReport, _shape, load_weights


# --- netc port: the matched state_dict for a spec, once ----------------------------------------------
@dataclass
class Ported:
    state_dict: dict  # loads with plain module.load_state_dict
    report: TransferReport
    module: Any  # the generated module, the state loaded


@dataclass
class PartialPort(NetcError):
    """A port that would leave tensors of the module unloaded or of the checkpoint unused, refused
    (nothing written); `report` says what did not match (the CLI prints it before the error)."""

    report: TransferReport | None = None


PORT_SEED = 0  # tensors the checkpoint does not fill keep this seed's initialisation: the same file each time


def port(analysis, weights: str | os.PathLike, strict: bool = False, output: str | None = None,
         partial: bool = False) -> Ported:
    """Build the spec's generated module (seeded, so skipped tensors are the same each time), load
    `weights` into it by structure and, given `output`, write its whole state_dict there (torch.save,
    or safetensors for a .safetensors name), whole or not at all.

    A port that leaves any of the module's tensors at their initialisation or any of the
    checkpoint's unused is refused (PartialPort, nothing written) unless `partial`: most tensors
    loaded and a few not is what a wrong structure looks like too, so a partial port (a new head)
    must be asked for."""
    import io

    import torch

    from ..backends.codegen import build_module

    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(PORT_SEED)
        module = build_module(analysis)
    report = load_weights(module, weights, strict)
    if not partial and not report.complete:
        first = report.skipped[0] if report.skipped else report.unused[0]
        whose = "" if report.skipped else "the checkpoint's "
        raise PartialPort([_error(
            report.source, f"a partial port, refused: {len(report.skipped)} of the module's tensors would keep their "
                           f"initialisation and {len(report.unused)} of the checkpoint's go unused (first: {whose}{first.name} "
                           f"{_shape(first.shape)}: {first.reason})" + ("" if output is None else "; nothing written"),
            "a new head or a layer the checkpoint lacks is a partial port on purpose: accept it with --partial "
            "(partial=True); the report says which tensors did not match").diagnostics[0]], report)
    state = module.state_dict()
    if output is not None:
        if str(output).endswith(".safetensors"):
            save_safetensors(state, output)
        else:
            from ..backends.fileio import write_atomic

            buffer = io.BytesIO()
            torch.save(state, buffer)
            write_atomic(output, buffer.getvalue())
    return Ported(state, report, module)
