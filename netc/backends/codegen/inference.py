"""The inference build: `netc compile SPEC --inference`, `netc.build(SPEC, inference=True)`.

The same emitter writes it (netc/backends/codegen/emit.py), asking the kinds, with this plan in force:

- a batch norm (`kind.batch_norm`) whose only data input is the output of a layer that can take it
  (`kind.folds_batch_norm`: conv, fc, deconv without groups), read by nothing else and made in the
  same scope, is folded into that layer: the layer gets a bias (`kind.with_bias`) and the batch norm
  becomes nothing; so is the batch norm inside a layer's own module (`kind.batch_norm_inside`: a
  projection shortcut's conv + bn). Every other batch norm stays (DenseNet's bn after a concat);
- a kind that is the identity in eval mode (`kind.eval_identity`: dropout, stochastic depth) becomes
  nothing;
- activations run in place wherever their input is read by nothing else, and residual adds write
  into the body's output, with no autograd to keep any value for;
- with `channels_last`, __init__ ends by moving the weights to channels-last memory format.

The file carries its loader, standalone: `fold_training_state_dict(state_dict)` turns the training
module's state_dict into this module's (each folded batch norm's running statistics, scale, shift
and eps, from the spec, folded into its layer's weight and bias; modules renamed where an
nn.Sequential lost a batch norm), and `Model.from_training_state_dict(state_dict)` builds the module
from it, in eval mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from .pysrc import Blank, Block, Bracketed, Comment, Item, Raw, Stmt, comment


@dataclass
class InferencePlan:
    channels_last: bool = False
    # batch norm (analysed node id) → the layer it is folded into, as the emitter decided them
    folded: dict[str, str] = field(default_factory=dict)
    # a layer whose module ends with its own batch norm (a projection shortcut) → that norm's eps
    folded_inside: dict[str, float] = field(default_factory=dict)


_PLAN: ContextVar[InferencePlan | None] = ContextVar("netc_inference_plan", default=None)


def current_plan() -> InferencePlan | None:
    """The inference plan the emitter follows, or None for the ordinary (training) module."""
    return _PLAN.get()


@contextmanager
def planning(plan: InferencePlan | None) -> Iterator[None]:
    token = _PLAN.set(plan)
    try:
        yield
    finally:
        _PLAN.reset(token)


LOADER_FUNCTION = "fold_training_state_dict"


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def loader_tables(analysis: Any, plan: InferencePlan, training: dict[str, str],
                  inference: dict[str, str]) -> tuple[list[tuple[str, str, str, float, int]], list[tuple[str, str]]]:
    """(folds: (inference layer path, training layer path, training bn path, eps, channel axis),
    moved: (training module path, inference module path) where they differ)."""
    from ...layers import KINDS

    net = analysis.network
    folds = []
    for norm, layer in plan.folded.items():
        if norm in inference:  # a generic attempt folded it; the class written per use did not
            continue
        if layer not in inference or norm not in training or layer not in training:
            raise AssertionError(f"netc: the inference build folded {norm} into {layer} but the modules disagree")
        kind = KINDS[net.node(layer).kind]
        axis = kind.folds_batch_norm(net.node(layer).attrs)
        folds.append((inference[layer], training[layer], training[norm], float(net.node(norm).attrs["eps"]), axis))
    for node_id, eps in plan.folded_inside.items():  # nn.Sequential(conv, bn) in training → one conv
        node, layer = net.node(node_id), analysis.info[node_id]
        if node_id in inference and node_id in training and not KINDS[node.kind].passes_input(node.attrs, list(layer.inputs)):
            folds.append((inference[node_id], f"{training[node_id]}.0", f"{training[node_id]}.1", eps, 0))
    moved = []
    folded = {norm for norm in plan.folded if norm not in inference}
    for node_id, path in training.items():
        if node_id in folded or node_id not in inference:
            continue
        if inference[node_id] != path:
            moved.append((path, inference[node_id]))
    for node_id in training:
        if node_id not in inference and node_id not in folded:
            kind = KINDS[net.node(node_id).kind]
            if not kind.eval_identity:
                raise AssertionError(f"netc: the inference build lost the module of {node_id}")
    folds.sort(key=lambda f: list(inference.values()).index(f[0]))
    return folds, moved


def loader_source(folds, moved) -> list[Any]:
    """The module-level tables and the function that folds a training state_dict."""
    from .pysrc import literal

    fold_items = [Item(Bracketed("(", ")", [Item(Raw(_string(t))), Item(Raw(_string(n))), Item(Raw(literal(eps))),
                                            Item(Raw(str(axis)))]), _string(target), sep=": ")
                  for target, t, n, eps, axis in folds]
    moved_items = [Item(Raw(_string(new)), _string(old), sep=": ") for old, new in moved]
    body = [
        Raw('"""This module\'s state_dict from the training module\'s (the ordinary netc compile of the\n'
            '    same spec): each folded batch norm\'s running statistics, scale and shift folded into\n'
            '    its layer\'s weight and bias; every other tensor copied, renamed where a module moved."""'),
        Stmt(Raw("set()"), "skip: set[str]"),
        Block("for layer, norm, _, _ in FOLDED.values()", [Stmt(Raw("skip.update((layer, norm))"))]),
        Stmt(Raw("{}"), "state: dict[str, torch.Tensor]"),
        Block("for key, value in state_dict.items()", [
            Stmt(Raw('key.rpartition(".")'), "path, _, leaf"),
            Block("if path not in skip", [Stmt(Raw("value"), 'state[f"{MOVED.get(path, path)}.{leaf}"]')]),
        ]),
        Block("for target, (layer, norm, eps, axis) in FOLDED.items()", [
            Stmt(Raw('state_dict[f"{layer}.weight"]'), "weight"),
            Stmt(Raw('state_dict[f"{norm}.running_var"].double() + eps'), "var"),
            Stmt(Raw('state_dict[f"{norm}.weight"].double() * torch.rsqrt(var)'), "scale"),
            Stmt(Raw('state_dict[f"{norm}.bias"].double()'), "shift"),
            Stmt(Raw('shift - state_dict[f"{norm}.running_mean"].double() * scale'), "shift"),
            Stmt(Raw('state_dict.get(f"{layer}.bias")'), "bias"),
            Block("if bias is not None", [Stmt(Raw("shift + bias.double() * scale"), "shift")]),
            Stmt(Raw("[1] * weight.dim()"), "shape"),
            Stmt(Raw("-1"), "shape[axis]"),
            Stmt(Raw("(weight.double() * scale.reshape(shape)).to(weight.dtype)"), 'state[f"{target}.weight"]'),
            Stmt(Raw("shift.to(weight.dtype)"), 'state[f"{target}.bias"]'),
        ]),
        Stmt(Raw("state"), keyword="return"),
    ]
    header = ("def fold_training_state_dict(", ") -> dict[str, torch.Tensor]")
    return [
        Comment("Folded layer (this module) -> (training layer, its batch norm, eps, output-channel axis)"),
        Stmt(Bracketed("{", "}", fold_items), "FOLDED: dict[str, tuple[str, str, float, int]]"),
        Comment("Modules whose path differs from the training module's (a batch norm before them left)"),
        Stmt(Bracketed("{", "}", moved_items), "MOVED: dict[str, str]"),
        Blank(2),
        Block(("", Bracketed(header[0], header[1], [Item(Raw("state_dict: dict[str, torch.Tensor]"))])),
              [_docstring_fix(s) for s in body]),
    ]


def _docstring_fix(stmt: Any) -> Any:
    return Stmt(stmt) if isinstance(stmt, Raw) else stmt


def loader_method(class_name: str) -> list[Any]:
    return [Stmt(Raw("@classmethod")), Block("def from_training_state_dict(cls, state_dict: dict[str, torch.Tensor]) -> " + _string(class_name), [
        Stmt(Raw('"""This module, in eval mode, with the weights of a trained training module."""')),
        Stmt(Raw("cls()"), "model"),
        Stmt(Raw(f"model.load_state_dict({LOADER_FUNCTION}(state_dict))")),
        Stmt(Raw("model.eval()"), keyword="return"),
    ])]


def header_lines(plan: InferencePlan) -> list[str]:
    lines = [
        f"Inference build: {len(plan.folded)} batch norms folded into their conv/fc layers, dropout and",
        "stochastic depth left out, activations and residual adds in place"
        + (", weights channels-last." if plan.channels_last else "."),
        "Load trained weights with Model.from_training_state_dict(training_module.state_dict()).",
    ]
    return [f"# {comment(line)}" for line in lines]
