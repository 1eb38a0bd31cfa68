"""Each torch call onto one of netc's layer words (netc/layers), with the word's attributes.

A `Layer` is a word and its slots: (attribute, value, netc's default, positional). Every slot the
torch module sets is kept, defaults included, so that the instances of one block line up slot for
slot (netc/importer/structure.py compares them to find a block's arguments); the writer leaves out
what equals netc's default. A call netc has no word for raises `Unmappable`, which names the op.

A kind that declares its torch counterparts (LayerKind.torch_modules, torch_functions, torch_attrs
in netc/layers) is mapped from those declarations: adding such a kind touches no line here. The
chain below is what is left for counterparts that need checks or renamed values.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

from ..layers import KINDS, LayerKind
from ..layers.base import REQUIRED

KERNEL = "=kernel"  # a pool's stride default: its window
SAME = "same"  # a conv's padding that equals netc's default `padding: same` (odd kernels: (F − 1)/2)
MERGES = ("concat", "add", "mul")  # the words that join tensors: a block's `merge:`


@dataclass(frozen=True)
class Slot:
    name: str
    value: Any
    default: Any = None  # the value the writer leaves out (netc's own default)
    positional: bool = False


@dataclass(frozen=True)
class Layer:
    word: str
    slots: tuple[Slot, ...] = ()


class Unmappable(Exception):
    """A call netc cannot express; `what` names the op, the message says why."""

    def __init__(self, what: str, message: str, hint: str | None = None):
        super().__init__(message)
        self.what = what
        self.hint = hint


def pair(value: Any) -> Any:
    """A torch (height, width) argument as netc writes it: one number when both agree."""
    if isinstance(value, (tuple, list)):
        value = tuple(int(v) for v in value)
        return value[0] if len(value) == 2 and value[0] == value[1] else value
    return int(value)


def _axes(value: Any) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _same_padding(kernel: Any, dilation: Any) -> Any:
    """The symmetric padding netc's `same` gives, or None where it pads unevenly (even extents)."""
    pads = []
    for k, d in zip(_axes(kernel), _axes(dilation)):
        extent = d * (k - 1) + 1
        if (extent - 1) % 2:
            return None
        pads.append((extent - 1) // 2)
    return pair(tuple(pads))


def conv_layer(filters: int, kernel: Any, stride: Any, padding: Any, dilation: Any, groups: int, bias: bool) -> Layer:
    padding = SAME if padding == _same_padding(kernel, dilation) else padding
    return Layer("conv", (Slot("filters", filters, None, True), Slot("kernel", kernel, None, True),
                          Slot("stride", stride, 1), Slot("padding", padding, SAME), Slot("dilation", dilation, 1),
                          Slot("groups", groups, 1), Slot("bias", bias, True)))


def _pool(word: str, what: str, kernel: Any, stride: Any, padding: Any, ceil: bool, dilation: Any = 1) -> Layer:
    if pair(dilation) != 1:
        raise Unmappable(what, "a dilated pooling window", "netc's pools are not dilated")
    kernel = pair(kernel)
    stride = kernel if stride is None or stride == [] or stride == () else pair(stride)
    return Layer(word, (Slot("kernel", kernel, None, True), Slot("stride", stride, KERNEL),
                        Slot("padding", pair(padding), 0), Slot("ceil", bool(ceil), False)))


def _adaptive(word: str, what: str, size: Any) -> Layer:
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise Unmappable(what, f"an adaptive pool to {size}", "netc's adaptive pools give a square size")
    size = pair(size)
    if isinstance(size, tuple):
        raise Unmappable(what, f"an adaptive pool to {size[0]}×{size[1]}", "netc's adaptive pools give a square size")
    return Layer("global" + word if size == 1 else "adaptive" + word, () if size == 1 else (Slot("size", size, 1, True),))


def _bn(what: str, m) -> Layer:
    if not m.affine or not m.track_running_stats:
        raise Unmappable(what, "batch norm without affine weights or running statistics",
                         "netc's bn has both (torch's defaults)")
    if m.momentum is None:
        raise Unmappable(what, "batch norm with a cumulative average (momentum=None)")
    return Layer("bn", (Slot("eps", float(m.eps), 1e-5), Slot("momentum", float(m.momentum), 0.1)))


def _plain(word: str) -> Layer:
    return Layer(word)


def _declared(kind: LayerKind, values: dict[str, Any]) -> Layer:
    """A kind's word with the attributes its torch counterpart gave: the attributes without a
    default are written positionally, the rest as keywords left out where they equal netc's default."""
    word = next(w for w, fixed in kind.words.items() if not fixed)
    attrs = {a.name: a for a in kind.attrs}
    slots = []
    for name, value in values.items():
        attr = attrs[name]
        value = int(value) if attr.type == "int" else float(value) if attr.type == "float" else value
        required = attr.default is REQUIRED
        slots.append(Slot(name, value, None if required else attr.default, required))
    return Layer(word, tuple(slots))


def _module_kind(m) -> LayerKind | None:
    """The kind that declares torch.nn's class of `m` its counterpart (the class itself, not a subclass)."""
    if not type(m).__module__.startswith("torch.nn."):
        return None
    return next((k for k in KINDS.values() if type(m).__name__ in k.torch_modules), None)


def _function_kind(name: str) -> LayerKind | None:
    return next((k for k in KINDS.values() if name in k.torch_functions), None)


def map_module(m, path: str, in_rank: int) -> Layer | None:
    """The layer a leaf module becomes; None for a module that does nothing (nn.Identity)."""
    from torch import nn

    what = f"{path} ({type(m).__name__})"
    kind = _module_kind(m)
    if kind is not None:  # declared on the kind (netc/layers): torch_modules, torch_attrs
        return _declared(kind, kind.from_torch_module(m))
    if isinstance(m, nn.Conv2d):
        if m.padding_mode != "zeros":
            raise Unmappable(what, f"a conv padded with {m.padding_mode!r}", "netc pads with zeros")
        padding = m.padding
        if isinstance(padding, str):  # torch's 'same' / 'valid'
            padding = SAME if padding == "same" else 0
        else:
            padding = pair(padding)
        return conv_layer(m.out_channels, pair(m.kernel_size), pair(m.stride), padding, pair(m.dilation), m.groups,
                          m.bias is not None)
    if isinstance(m, nn.ConvTranspose2d):
        values = [pair(v) for v in (m.kernel_size, m.stride, m.padding, m.output_padding, m.dilation)]
        if any(isinstance(v, tuple) for v in values) or m.padding_mode != "zeros":
            raise Unmappable(what, "a transposed conv with per-axis sizes", "netc's deconv takes one size for both axes")
        kernel, stride, padding, output_padding, dilation = values
        return Layer("deconv", (Slot("filters", m.out_channels, None, True), Slot("kernel", kernel, None, True),
                                Slot("stride", stride, 2), Slot("padding", padding, 0),
                                Slot("output_padding", output_padding, 0), Slot("dilation", dilation, 1),
                                Slot("groups", m.groups, 1), Slot("bias", m.bias is not None, True)))
    if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
        return _bn(what, m)
    if isinstance(m, nn.Linear):
        return Layer("fc", (Slot("units", m.out_features, None, True), Slot("bias", m.bias is not None, True)))
    if isinstance(m, nn.MaxPool2d):
        if m.return_indices:
            raise Unmappable(what, "a max pool that returns its indices")
        return _pool("maxpool", what, m.kernel_size, m.stride, m.padding, m.ceil_mode, m.dilation)
    if isinstance(m, nn.AvgPool2d):
        if not m.count_include_pad or m.divisor_override is not None:
            raise Unmappable(what, "an average pool that leaves the padding out of its divisor",
                             "netc's avgpool counts the padding, as torch's default does")
        return _pool("avgpool", what, m.kernel_size, m.stride, m.padding, m.ceil_mode)
    if isinstance(m, nn.LPPool2d) and float(m.norm_type) == 2.0:
        return _pool("l2pool", what, m.kernel_size, m.stride, 0, m.ceil_mode)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return _adaptive("avgpool", what, m.output_size)
    if isinstance(m, nn.AdaptiveMaxPool2d):
        if m.return_indices:
            raise Unmappable(what, "an adaptive max pool that returns its indices")
        return _adaptive("maxpool", what, m.output_size)
    if isinstance(m, nn.Flatten):
        if m.start_dim != 1 or m.end_dim != -1:
            raise Unmappable(what, f"a flatten of dims {m.start_dim}…{m.end_dim}", "netc flattens all but the batch axis")
        return _plain("flatten")
    if isinstance(m, nn.Dropout2d):
        return Layer("dropout2d", (Slot("p", float(m.p), 0.5, True),))
    if isinstance(m, nn.Dropout):
        return Layer("dropout", (Slot("p", float(m.p), 0.5, True),))
    if isinstance(m, nn.Identity):
        return None
    if isinstance(m, nn.LeakyReLU):
        return Layer("leakyrelu", (Slot("slope", float(m.negative_slope), 0.01, True),))
    if isinstance(m, nn.ELU):
        return Layer("elu", (Slot("alpha", float(m.alpha), 1.0, True),))
    if isinstance(m, nn.PReLU):
        slopes = m.num_parameters
        return Layer("prelu", (Slot("slopes", slopes, None, True),) if slopes == 1 else ())
    if isinstance(m, nn.GELU):
        if m.approximate != "none":
            raise Unmappable(what, f"GELU with approximate={m.approximate!r}", "netc's gelu is the exact one")
        return _plain("gelu")
    if isinstance(m, nn.Softplus):
        if m.beta != 1 or m.threshold != 20:
            raise Unmappable(what, "softplus with its own beta or threshold")
        return _plain("softplus")
    if isinstance(m, (nn.Softmax, nn.LogSoftmax)):
        if m.dim not in (1, -in_rank + 1) and not (m.dim == -1 and in_rank == 2):
            raise Unmappable(what, f"a softmax over dim {m.dim}", "netc's softmax is over the channel axis")
        return _plain("softmax" if isinstance(m, nn.Softmax) else "logsoftmax")
    if isinstance(m, nn.GroupNorm):
        if not m.affine:
            return Layer("groupnorm", (Slot("groups", m.num_groups, None, True), Slot("eps", float(m.eps), 1e-5),
                                       Slot("affine", False, True)))
        return Layer("groupnorm", (Slot("groups", m.num_groups, None, True), Slot("eps", float(m.eps), 1e-5)))
    if isinstance(m, nn.LocalResponseNorm):
        return Layer("lrn", (Slot("size", m.size, 5, True), Slot("alpha", float(m.alpha), 1e-4),
                             Slot("beta", float(m.beta), 0.75), Slot("k", float(m.k), 2.0)))
    if isinstance(m, nn.ZeroPad2d):
        left, right, top, bottom = (int(v) for v in m.padding)
        return Layer("zeropad", (Slot("left", left, None, True), Slot("right", right, None, True),
                                 Slot("top", top, None, True), Slot("bottom", bottom, None, True)))
    if type(m).__name__ == "StochasticDepth" and hasattr(m, "p") and getattr(m, "mode", "row") == "row":
        return Layer("stochasticdepth", (Slot("p", float(m.p), None, True),))
    hint = _closest_hint(m)
    raise Unmappable(what, f"netc has no layer for {type(m).__module__}.{type(m).__qualname__}", hint)


def _closest_hint(m) -> str:
    from torch import nn

    if isinstance(m, (nn.RNNBase, nn.RNNCellBase)):
        return "netc has no recurrent layers (README, \"What the language cannot express yet\")"
    if isinstance(m, nn.MultiheadAttention):
        return "netc has no attention layers (README, \"What the language cannot express yet\")"
    if isinstance(m, (nn.Conv1d, nn.Conv3d)):
        return "netc's layers are 2-d"
    return "netc's layer words are listed in README.md, \"Layer words\""


# --- functions and methods --------------------------------------------------------------------------
def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else default


def map_function(fn, args: tuple, kwargs: dict, what: str, in_rank: int, out_shape: tuple | None) -> Layer | str | None:
    """The layer a call_function or call_method node becomes: a Layer, a merge word (`concat`,
    `add`, `mul`), "alias" (passes its input on), or None for a node that computes no tensor."""
    import torch
    import torch.nn.functional as F

    name = fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))
    if fn in (torch.cat, torch.concat) or name in ("cat", "concat"):
        dim = _arg(args, kwargs, 1, "dim", 0)
        if dim not in (1, -3) or in_rank != 4:
            raise Unmappable(what, f"a concatenation along dim {dim}", "netc concatenates maps along the channel axis")
        return "concat"
    if fn in (operator.add, operator.iadd, torch.add) or name in ("add", "add_", "__add__", "__iadd__"):
        return "add"
    if fn in (operator.mul, operator.imul, torch.mul) or name in ("mul", "mul_", "__mul__"):
        return "mul"
    if (fn in (F.interpolate,) or name == "interpolate") and _arg(args, kwargs, 1, "size", None) is not None:
        # To another tensor's size (a segmentation head back to its input's, ASPP's pooling branch):
        # a point in netc (upsample(<image>, mode=bilinear)), which the importer does not write yet.
        raise Unmappable(what, "an interpolation to a size read from a tensor (a segmentation head's)",
                         "netc writes it upsample(<point>, mode=bilinear), reading the point's size at run time; "
                         "the importer does not write points yet: write that part of the spec by hand")
    if fn in (torch.flatten,) or name == "flatten":
        start = _arg(args, kwargs, 1, "start_dim", 0)
        end = _arg(args, kwargs, 2, "end_dim", -1)
        if start != 1 or end != -1:
            raise Unmappable(what, f"a flatten of dims {start}…{end}", "netc flattens all but the batch axis")
        return _plain("flatten")
    if name in ("view", "reshape"):
        if out_shape is not None and len(out_shape) == 2:
            return _plain("flatten")
        if out_shape is not None and len(out_shape) == 4:
            return Layer("reshape", tuple(Slot(n, int(v), None, True) for n, v in zip(("channels", "height", "width"), out_shape[1:])))
        raise Unmappable(what, f"a reshape to {out_shape}")
    if name in ("contiguous", "clone", "detach") or fn in (torch.clone,):
        return "alias"
    kind = _function_kind(name)
    if kind is not None:  # declared on the kind (netc/layers): torch_functions, torch_attrs
        return _declared(kind, kind.from_torch_call(args, kwargs))
    if fn in (F.gelu,) and kwargs.get("approximate", "none") == "none":
        return _plain("gelu")
    if fn in (F.softmax, torch.softmax, F.log_softmax, torch.log_softmax) or name in ("softmax", "log_softmax"):
        dim = _arg(args, kwargs, 1, "dim", None)
        if dim not in (1, -1 if in_rank == 2 else 1):
            raise Unmappable(what, f"a softmax over dim {dim}", "netc's softmax is over the channel axis")
        return _plain("logsoftmax" if "log" in name else "softmax")
    if fn in (F.max_pool2d, torch.max_pool2d):
        if _arg(args, kwargs, 6, "return_indices", False):
            raise Unmappable(what, "a max pool that returns its indices")
        return _pool("maxpool", what, _arg(args, kwargs, 1, "kernel_size", None), _arg(args, kwargs, 2, "stride", None),
                     _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 5, "ceil_mode", False),
                     _arg(args, kwargs, 4, "dilation", 1))
    if fn in (F.avg_pool2d, torch._C._nn.avg_pool2d):
        if not _arg(args, kwargs, 5, "count_include_pad", True) or _arg(args, kwargs, 6, "divisor_override", None) is not None:
            raise Unmappable(what, "an average pool that leaves the padding out of its divisor")
        return _pool("avgpool", what, _arg(args, kwargs, 1, "kernel_size", None), _arg(args, kwargs, 2, "stride", None),
                     _arg(args, kwargs, 3, "padding", 0), _arg(args, kwargs, 4, "ceil_mode", False))
    if fn in (F.adaptive_avg_pool2d,):
        return _adaptive("avgpool", what, _arg(args, kwargs, 1, "output_size", None))
    if fn in (F.adaptive_max_pool2d,):
        return _adaptive("maxpool", what, _arg(args, kwargs, 1, "output_size", None))
    if fn in (F.dropout,):
        return Layer("dropout", (Slot("p", float(_arg(args, kwargs, 1, "p", 0.5)), 0.5, True),))
    if name == "mean" and in_rank == 4:
        dims = _arg(args, kwargs, 1, "dim", None)
        dims = tuple(d % 4 for d in dims) if isinstance(dims, (tuple, list)) else dims
        if dims == (2, 3):
            return _plain("globalavgpool")
    raise Unmappable(what, f"netc has no layer for {name}", "netc's layer words are listed in README.md, \"Layer words\"")
