"""Names in generated code: class names from the spec, attributes, locals.

Every name that comes from a spec was checked by the front end (`program.check_identifier`:
letters, digits and `_`, not a keyword, no leading `__`). Here it is checked once more for the
role it takes in Python: a class name must not be a keyword after capitalising (`none` → `None`),
an attribute must not shadow what nn.Module defines (a head called `forward` or `training`), a
parameter must not shadow what __init__ uses (`super`, `int`, a class name).
"""

from __future__ import annotations

import keyword
import re

from ...errors import NetcError, SourceSpan
from .pysrc import is_identifier

# nn.Module's public attributes (torch 2.x); tests/test_codegen.py checks that this covers the
# installed torch. Names starting with "_" are all avoided as well.
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile",
    "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer",
    "get_extra_state", "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters",
    "register_backward_hook", "register_buffer", "register_forward_hook", "register_forward_pre_hook",
    "register_full_backward_hook", "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_", "set_extra_state",
    "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train", "training", "type", "xpu",
    "zero_grad", "out_channels",
})

GLOBALS = frozenset({"torch", "nn"})
INIT_LOCALS = frozenset({"self", "in_channels", "torch", "nn", "super", "range", "int", "float", "len", "min", "max"})


def pascal_case(name: str) -> str:
    """`resnet50` → `Resnet50`, `ResNet50` → `ResNet50`, `yolo_v1` → `YoloV1`, `basic-block` →
    `BasicBlock`: each `_`/`-` separated part gets a capital first letter, the rest stays as written."""
    parts = [p for p in re.split(r"[_\-]+", name) if p]
    text = "".join(p[0].upper() + p[1:] for p in parts)
    if not text or not (text[0].isalpha() or text[0] == "_"):
        text = "Net" + text
    return text


def class_name(name: str, span: SourceSpan | None, what: str, taken: set[str]) -> str:
    text = pascal_case(name)
    if keyword.iskeyword(text):  # none → None_
        text += "_"
    if not is_identifier(text):
        raise NetcError.at(span, f"{what} '{name}' gives the class name '{text}', which Python does not allow; rename it")
    if text in taken:
        text = text + "Block"
    return _claim(text, taken)


# Where the search for base2, base3, … left off in a set: names are only ever added to a set, so
# every number below it is still taken, and the thousandth `layers` costs one look-up, not a
# thousand. Keyed by the set's id, holding the set so that the id cannot be reused while cached.
_NEXT: dict[int, tuple[set[str], dict[str, int]]] = {}
_NEXT_SETS = 256  # sets remembered at once; past that the memory starts over (only speed is lost)


def _claim(text: str, taken: set[str]) -> str:
    """`text`, or text2, text3, … — the first that is not taken yet; then it is taken."""
    if text not in taken:
        taken.add(text)
        return text
    entry = _NEXT.get(id(taken))
    if entry is None or entry[0] is not taken:
        if len(_NEXT) >= _NEXT_SETS:
            _NEXT.clear()
        entry = _NEXT[id(taken)] = (taken, {})
    base, n = text, entry[1].get(text, 2)
    while text in taken:
        text = f"{base}{n}"
        n += 1
    entry[1][base] = n
    taken.add(text)
    return text


def attribute(name: str, taken: set[str]) -> str:
    """An attribute name that nn.Module does not define and the class does not use yet."""
    text = name if is_identifier(name) else "layer"
    if text.startswith("_") or text in MODULE_ATTRIBUTES:
        text = f"{text.lstrip('_') or 'layer'}_"
        if text in MODULE_ATTRIBUTES:
            text += "_"
    return _claim(text, taken)


def local(name: str, taken: set[str]) -> str:
    """A parameter or loop variable in __init__ that shadows nothing the code uses."""
    text = name if is_identifier(name) else "value"
    while text in taken or text in INIT_LOCALS or text.startswith("__"):
        text = f"{text}_"
    taken.add(text)
    return text


def init_local(base: str, taken: set[str]) -> str:
    """A local of __init__ for a loop: `layers`, `channels` (then layers2, …), or a loop index."""
    if base in ("layers", "channels"):
        return _claim(base, taken)
    return local(base, taken)
