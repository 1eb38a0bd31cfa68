"""`netc port`: the matched state_dict for a spec, once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .checkpoint import save_safetensors
from .matching import TransferReport, load_weights


# --- netc port: the matched state_dict for a spec, once ----------------------------------------------
@dataclass
class Ported:
    state_dict: dict  # loads with plain module.load_state_dict
    report: TransferReport
    module: Any  # the generated module, the state loaded


PORT_SEED = 0  # tensors the checkpoint does not fill keep this seed's initialisation: the same file each time


def port(analysis, weights: str | os.PathLike, strict: bool = False, output: str | None = None) -> Ported:
    """Build the spec's generated module (seeded, so skipped tensors are the same each time), load
    `weights` into it by structure and, given `output`, write its whole state_dict there (torch.save,
    or safetensors for a .safetensors name), whole or not at all."""
    import io

    import torch

    from ..codegen import build_module

    with torch.random.fork_rng(devices=[]):  # the caller's random state is left as it was
        torch.manual_seed(PORT_SEED)
        module = build_module(analysis)
    report = load_weights(module, weights, strict)
    state = module.state_dict()
    if output is not None:
        if str(output).endswith(".safetensors"):
            save_safetensors(state, output)
        else:
            from ..fileio import write_atomic

            buffer = io.BytesIO()
            torch.save(state, buffer)
            write_atomic(output, buffer.getvalue())
    return Ported(state, report, module)
