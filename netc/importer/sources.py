"""What `netc import` reads: `torchvision:NAME[?key=value&…]` (a torchvision model builder, its
keyword arguments after `?`), `timm:NAME[?key=value&…]` (`timm.create_model`, never pretrained) or `module:package.module:factory[?key=value&…]` (a function or class
of the user's, importable from PYTHONPATH, that returns an nn.Module). Values are Python-ish:
`true`/`false`, `none`, numbers, anything else a string. No weights are downloaded: torchvision's
builders are called with every `weights…` argument None (a segmentation model's backbone weights
default to ImageNet's, a download: netc sets them to None), and a source that asks for weights is
refused: the structure is what is imported; `netc port` loads weights from a file. A name is
looked up in torchvision's registry too, so `deeplabv3_resnet50` is `segmentation.deeplabv3_resnet50`."""

from __future__ import annotations

import re
from typing import Any

from ..errors import UsageError

FORMS = "torchvision:NAME[?key=value&...], timm:NAME[?key=value&...] or module:package.module:factory[?key=value&...]"


def parse_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_kwargs(text: str) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    for part in filter(None, text.split("&")):
        if "=" not in part:
            raise UsageError(f"{part!r} in the source's options: give key=value (e.g. aux_logits=false)")
        key, value = part.split("=", 1)
        key = key.strip()
        if not key.isidentifier():
            raise UsageError(f"{key!r} in the source's options is not a keyword argument name")
        kwargs[key] = parse_value(value)
    return kwargs


def load_source(source: str):
    """(the module, a name for the spec) for a source string."""
    head, _, query = source.partition("?")
    kwargs = parse_kwargs(query)
    scheme, sep, rest = head.partition(":")
    if not sep or not rest:
        raise UsageError(f"cannot read the source {source!r}: give {FORMS}")
    if scheme == "torchvision":
        return _torchvision(rest, kwargs), rest.rsplit(".", 1)[-1]
    if scheme == "timm":
        return _timm(rest, kwargs), rest
    if scheme == "module":
        path, sep, factory = rest.rpartition(":")
        if not sep or not path or not factory:
            raise UsageError(f"cannot read the source {source!r}: give module:package.module:factory")
        return _factory(path, factory, kwargs), factory
    raise UsageError(f"unknown source kind {scheme!r}: give {FORMS}")


def _call(fn, kwargs: dict[str, Any], what: str):
    from torch import nn

    try:
        model = fn(**kwargs)
    except TypeError as exc:
        raise UsageError(f"{what}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's factory failing is theirs to see, in one line
        raise UsageError(f"{what} raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    if not isinstance(model, nn.Module):
        raise UsageError(f"{what} returned a {type(model).__name__}, not an nn.Module")
    return model


def _torchvision(name: str, kwargs: dict[str, Any]):
    from .torchvision_compat import torchvision

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        raise UsageError(f"{name!r} is not a torchvision model name")
    try:
        tv = torchvision()
    except ImportError:
        raise UsageError("torchvision is not installed: pip install torchvision") from None
    models = tv.models
    fn = models
    for part in name.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            break
    known = sorted(tv.models.list_models()) if hasattr(tv.models, "list_models") else []
    if (fn is None or not callable(fn)) and name in known:  # registered under a module: segmentation.…, detection.…
        fn = tv.models.get_model_builder(name)
    if fn is None or not callable(fn) or name.split(".")[-1].startswith("_"):
        from ..errors import did_you_mean

        suggestion = did_you_mean(name, known) if known else None
        raise UsageError(f"torchvision has no model {name!r}" + (f"; {suggestion}" if suggestion else ""))
    return _call(fn, _no_weights(fn, kwargs, name), f"torchvision.models.{name}")


def _no_weights(fn, kwargs: dict[str, Any], name: str) -> dict[str, Any]:
    """The builder's keyword arguments with every `weights…` parameter None: nothing is downloaded."""
    import inspect

    asked = [key for key, value in kwargs.items() if key.startswith("weights") and value is not None]
    if asked:
        raise UsageError(f"torchvision:{name}?{asked[0]}=…: netc import never downloads weights; it imports the "
                         f"structure (load a checkpoint file into the spec's module with netc port)")
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return kwargs
    return {**{key: None for key, p in parameters.items() if key.startswith("weights") and p.default is not None
               and p.default is not inspect.Parameter.empty}, **kwargs}


def _timm(name: str, kwargs: dict[str, Any]):
    """`timm.create_model(name, pretrained=False, **kwargs)`: timm's architecture, never its weights
    (nothing is downloaded; a checkpoint of timm's ports with `netc port` instead). timm imports
    torchvision, so it is imported after torchvision_compat has made torchvision importable."""
    from .torchvision_compat import torchvision

    if kwargs.get("pretrained"):
        raise UsageError("netc import never downloads weights: import the architecture (no pretrained=true), "
                         "then load a checkpoint into the spec's module with netc port --weights FILE")
    kwargs = {k: v for k, v in kwargs.items() if k != "pretrained"}
    try:
        torchvision()
        import timm
    except ImportError:
        raise UsageError("timm: sources need timm: pip install 'netc[timm]' (or timm)") from None
    if not re.fullmatch(r"[A-Za-z0-9_.]+", name) or not timm.is_model(name):
        from ..errors import did_you_mean

        suggestion = did_you_mean(name, timm.list_models())
        raise UsageError(f"timm has no model {name!r}" + (f"; {suggestion}" if suggestion else ""))
    model = _call(lambda **kw: timm.create_model(name, pretrained=False, **kw), kwargs, f"timm.create_model({name!r})")
    return _unfold_norm_act(model)


def _unfold_norm_act(model):
    """timm's BatchNormAct2d (a BatchNorm2d subclass that applies its dropout and activation in its
    own forward, through torch.nn.functional.batch_norm) as the nn.Sequential(bn, drop, act) it
    computes, so that the tracer sees a batch norm and an activation. The same tensors, in the same
    order: the spec written is the network timm's checkpoints port into."""
    from torch import nn

    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if type(child).__name__ != "BatchNormAct2d" or not isinstance(child, nn.BatchNorm2d):
                continue
            norm = nn.BatchNorm2d(child.num_features, eps=child.eps, momentum=child.momentum, affine=child.affine,
                                  track_running_stats=child.track_running_stats)
            norm.load_state_dict({k: v for k, v in child.state_dict().items() if "." not in k})
            parts = [norm] + [m for m in (getattr(child, "drop", None), getattr(child, "act", None)) if m is not None]
            setattr(parent, child_name, nn.Sequential(*parts).train(child.training))
    return model


def _factory(path: str, factory: str, kwargs: dict[str, Any]):
    import importlib
    import os
    import sys

    if os.getcwd() not in sys.path and "" not in sys.path:  # as `python -m` does: the current folder first
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(path)
    except ImportError as exc:
        raise UsageError(f"cannot import {path!r}: {exc} (is its folder on PYTHONPATH?)") from None
    except Exception as exc:  # noqa: BLE001 - the user's module failing at import
        raise UsageError(f"importing {path!r} raised {type(exc).__name__}: {exc}") from None
    fn = module
    for part in factory.split("."):
        fn = getattr(fn, part, None)
        if fn is None:
            raise UsageError(f"{path!r} has no {factory!r}")
    if not callable(fn):
        raise UsageError(f"{path}:{factory} is not callable")
    return _call(fn, kwargs, f"{path}:{factory}")
