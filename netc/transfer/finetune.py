"""Finetuning: freezing scopes and per-scope learning rates (netc/graph/scopes.py names the scopes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import NetcError
from ..graph.scopes import scope_members


# --- finetuning: frozen scopes and per-scope learning rates ---------------------------------------
def scope_paths(generated_paths: Mapping[str, str] | Any) -> dict[str, list[str]]:
    """Every scope name of the spec (the table's names: `stage3`, `stage3.bottleneck2`, and each
    layer's own name, `fc1`) → the module paths of the layers under it. `stem` is the top-level
    layers before the first stage (`[ … ]*M` names stage1, stage2, …) when the spec has no scope of
    that name. Accepts Generated.paths (IR node id → module path) or the Generated itself."""
    paths = getattr(generated_paths, "paths", generated_paths)
    return {scope: [paths[node] for node in nodes] for scope, nodes in scope_members(paths).items()}


def _parameters_under(module, paths: Iterable[str]) -> list[tuple[str, Any]]:
    prefixes = tuple(f"{p}." for p in paths if p)
    return [(name, p) for name, p in module.named_parameters() if name.startswith(prefixes)]


def _unknown_scope(name: str, scopes: dict[str, list[str]]) -> NetcError:
    from ..errors import closest

    top = [s for s in scopes if "." not in s]
    suggestion = closest(name, list(scopes))
    shown = ", ".join(top[:30]) + (", …" if len(top) > 30 else "")
    hint = (f"did you mean {suggestion!r}? " if suggestion else "") + f"the spec's scopes: {shown}; nested ones as in the table (e.g. " \
           f"{next((s for s in scopes if '.' in s), top[0] if top else 'stage1')})"
    return NetcError.at(None, f"unknown scope {name!r}", hint)


def freeze(module, generated_paths, scopes: Iterable[str]) -> list[str]:
    """requires_grad_(False) on every parameter under the named scopes; returns their names. An
    unknown scope is a NetcError listing the spec's scopes (nothing is frozen then)."""
    known = scope_paths(generated_paths)
    chosen = []
    for name in scopes:
        if name not in known:
            raise _unknown_scope(name, known)
        chosen += known[name]
    frozen = _parameters_under(module, chosen)
    for _, p in frozen:
        p.requires_grad_(False)
    return [name for name, _ in frozen]


def param_groups(module, generated_paths, base_lr: float, multipliers: Mapping[str, float] | None = None) -> list[dict]:
    """Optimizer parameter groups: the parameters under each scope of `multipliers` at base_lr ×
    its multiplier, all others at base_lr (a nested scope wins over the one around it). Each group
    has a "name" (the scope, or "rest"). The notes' tip for finetuning: about 1/10 of the original
    rate, 1/100 on the intermediate layers."""
    known = scope_paths(generated_paths)
    multipliers = dict(multipliers or {})
    for name in multipliers:
        if name not in known:
            raise _unknown_scope(name, known)
    owner: dict[str, str] = {}
    for name in sorted(multipliers, key=lambda s: s.count(".")):  # deeper scopes later, so they win
        for pname, _ in _parameters_under(module, known[name]):
            owner[pname] = name
    groups: dict[str, list] = {name: [] for name in multipliers}
    rest = []
    for pname, p in module.named_parameters():
        (groups[owner[pname]] if pname in owner else rest).append(p)
    out = [{"name": name, "params": params, "lr": base_lr * multipliers[name]} for name, params in groups.items() if params]
    if rest:
        out.append({"name": "rest", "params": rest, "lr": base_lr})
    return out
