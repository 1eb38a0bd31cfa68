"""`scales:`: named presets of params, one family from one spec (Ultralytics' n/s/m/l/x).

    params: {depth: 0.33, width: 0.25, max_channels: 1024}
    scales:
      n: {depth: 0.33, width: 0.25, max_channels: 1024}
      s: {depth: 0.33, width: 0.50, max_channels: 1024}

`--scale s` (or `netc.build(spec, scale="s")`) sets the preset's params; `-D` still overrides
them one by one. A preset may set only declared params, so a typo is an error at its place.
"""

from __future__ import annotations

from ...errors import Diagnostics, NetcError, UsageError, did_you_mean
from ..spec import YNode
from .checks import SCALE_NAME, describe, expect, finite, key_index


def read_scales(node: YNode | None, declared: list[str]) -> dict[str, dict[str, int | float]]:
    if node is None:
        return {}
    expect(node, dict, "scales")
    scales: dict[str, dict[str, int | float]] = {}
    errors = Diagnostics()
    for name, preset in node.value.items():
        scales[name] = errors.run(_preset, node, name, preset, declared, default={})
    errors.check()
    return scales


def _preset(node: YNode, name: str, preset: YNode, declared: list[str]) -> dict[str, int | float]:
    if not SCALE_NAME.match(name):
        raise NetcError.at(node.source.span_at(key_index(node, name), len(name)), f"scale name {name!r} must start "
                           "with a letter or a digit and hold only letters, digits, _, . and -",
                           "it is typed after --scale: e.g. s, x0_5, 1.0")
    expect(preset, dict, f"scale '{name}'")
    values: dict[str, int | float] = {}
    errors = Diagnostics()
    for param, item in preset.value.items():
        if param not in declared:
            span = preset.source.span_at(key_index(preset, param), len(param))
            errors.add(NetcError.at(span, f"scale '{name}' sets '{param}', which is not a param",
                                    did_you_mean(param, declared) or "a scale sets params declared under params:"))
            continue
        if isinstance(item.value, bool) or not isinstance(item.value, (int, float)):
            errors.add(NetcError.at(item.span, f"scale '{name}': '{param}' must be a number, got {describe(item.value)}"))
            continue
        errors.run(finite, item, f"scale '{name}': '{param}'")
        values[param] = item.value
    errors.check()
    return values


def chosen_scale(scales: dict[str, dict[str, int | float]], scale: str) -> dict[str, int | float]:
    """The params a preset named on the command line (or by the API) sets."""
    if scale not in scales:
        names = list(scales)
        hint = did_you_mean(scale, names)
        listing = f"its scales are {', '.join(names)}" if names else "it has no scales: key"
        raise UsageError(f"--scale {scale}: the spec has no scale '{scale}'; {listing}" + (f" ({hint})" if hint else ""))
    return scales[scale]
