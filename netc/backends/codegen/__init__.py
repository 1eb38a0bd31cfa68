"""PyTorch code generation: the analysed network as a standalone, readable nn.Module source.

    generate_source(analysis) -> str             the module source (imports only torch)
    build_module(analysis) -> torch.nn.Module    executes exactly that source and instantiates it

The file holds one class per block variant (`Bottleneck`, `Inception`, see variants.py), then the
network class named after the spec (`name: ResNet50` → `class ResNet50`), and `Model`, an alias of
it. See README, "Generated code".
"""

from __future__ import annotations

import linecache
import types

from ...analysis.infer import Analysis
from ...analysis.memory import human_bytes
from ...errors import NetcError
from .module_file import Generated, generate


def generate_source(analysis: Analysis, inference: bool = False, channels_last: bool = False) -> str:
    """The standalone PyTorch source for an analysed network; same spec, same bytes. `inference`:
    the inference build (netc/backends/codegen/inference.py), `channels_last` its weights' memory format."""
    return generate(analysis, inference, channels_last).source


def load_generated(generated: Generated, name: str | None = None) -> types.ModuleType:
    """Execute generated source in a fresh module namespace (tracebacks show its lines)."""
    filename = f"<netc:{name or generated.class_name}>"
    module = types.ModuleType(f"netc_generated_{generated.class_name}")
    module.__file__ = filename
    linecache.cache[filename] = (len(generated.source), None, generated.source.splitlines(True), filename)
    exec(compile(generated.source, filename, "exec"), module.__dict__)  # noqa: S102 - netc's own output, the point
    return module


MAX_BUILD_PARAMS = 2_000_000_000  # 8 GB of float32 weights: past this a build is a mistake more often than not


def build_module(analysis: Analysis, max_params: int | None = None, inference: bool = False,
                 channels_last: bool = False):
    """The network as a torch.nn.Module, built by executing exactly `generate_source`'s text.

    Refuses (NetcError, nothing allocated) a network with more than `max_params` parameters."""
    limit = MAX_BUILD_PARAMS if max_params is None else max_params
    if analysis.params > limit:
        raise NetcError.at(analysis.network.source.body_span, f"the network has {analysis.params:,} parameters ({human_bytes(4 * analysis.params)} "
                           f"at float32), more than netc.build's limit of {limit:,}",
                           "pass max_params=N to netc.build to build it anyway")
    generated = generate(analysis, inference, channels_last)
    module = load_generated(generated, analysis.network.name)
    model = getattr(module, generated.class_name)()
    return model.eval() if inference else model


__all__ = ["MAX_BUILD_PARAMS", "Generated", "build_module", "generate", "generate_source", "load_generated"]
