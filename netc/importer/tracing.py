"""A module traced with torch.fx into netc's terms: one `Op` per layer or merge, in forward order.

torch.fx's symbolic tracer runs forward with proxies: torch.nn's own layers (and torchvision's
StochasticDepth) stay calls of their module, everything else (torchvision's blocks, functional
calls) is followed into. Each node keeps its stack of enclosing modules (`nn_module_stack`), from
which netc/importer/structure.py recovers blocks and stages. One forward at the given input gives
every tensor's shape. The model is traced in eval mode: what it computes at
inference, which is what a spec describes (dropout and stochastic depth are layers either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import MAX_ERRORS
from .mapping import Layer, Unmappable, map_function, map_module


class Unmappables(Exception):
    """Every op of the model netc has no word for, in forward order."""

    def __init__(self, problems: list[Unmappable]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class NotTraceable(Exception):
    """torch.fx could not follow the module's forward; the message says where and why."""


@dataclass
class Op:
    name: str  # the fx node's name
    layer: Layer | None  # the layer; None for a merge
    merge: str | None  # concat | add | mul
    inputs: list[str]
    stack: tuple[tuple[str, str], ...]  # enclosing modules, outermost first: (path, class name)
    what: str  # the module path and op, for messages
    shape: tuple[int, ...]  # the output's shape, batch axis included
    module: str | None = None  # the leaf module called, if any
    rewritten: bool = False  # a concat netc/importer rebuilt from a longer one (DenseNet's)


@dataclass
class Traced:
    ops: dict[str, Op]  # in forward (topological) order
    input: str
    output: str
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # every tensor's shape, batch axis included
    calls: dict[str, int] = field(default_factory=dict)  # leaf module → times called


def _leaf_tracer():
    from torch import fx, nn

    class Tracer(fx.Tracer):
        def is_leaf_module(self, m, qualname):
            if type(m).__name__ == "StochasticDepth" and type(m).__module__.startswith("torchvision"):
                return True
            if isinstance(m, nn.Linear) and type(m).__module__.startswith("timm"):  # timm's Linear: nn.Linear's function
                return True
            return super().is_leaf_module(m, qualname)

    return Tracer()


def trace(model, input_shape: tuple[int, ...]) -> Traced:
    import torch
    from torch import fx

    was_training = model.training
    model.eval()
    try:
        tracer = _leaf_tracer()
        root = model
        if tracer.is_leaf_module(model, ""):  # one torch layer (nn.Conv2d, nn.LSTM): traced as a call of it
            root = torch.nn.Sequential()
            root.add_module("model", model)
        try:
            graph = tracer.trace(root)
        except Exception as exc:  # noqa: BLE001 - torch.fx's TraceError and whatever forward raises on proxies
            raise NotTraceable(_why(exc)) from None
        gm = fx.GraphModule(tracer.root, graph)
        try:
            with torch.no_grad():
                _Shapes(gm).run(torch.zeros(1, *input_shape))
        except Exception as exc:  # noqa: BLE001 - the model refuses the input
            raise NotTraceable(f"the traced model does not run at input {'×'.join(map(str, input_shape))}: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        return _ops(gm, graph)
    finally:
        model.train(was_training)


def _Shapes(gm):
    """An interpreter that notes each node's output shape (torch.fx's ShapeProp prints a traceback
    when forward fails; this one only raises)."""
    import torch
    from torch import fx

    class Shapes(fx.Interpreter):
        def run_node(self, n):
            result = super().run_node(n)
            if isinstance(result, torch.Tensor):
                n.meta["netc_shape"] = tuple(int(d) for d in result.shape)
            return result

    return Shapes(gm)


def _why(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "symbolically traced variables cannot be used as inputs to control flow" in str(exc):
        text = "its forward branches on a tensor's value (torch.fx cannot follow control flow that depends on data)"
    return f"torch.fx cannot trace it: {text}"


def _shape(node) -> tuple[int, ...] | None:
    return node.meta.get("netc_shape")


def _tensor_args(value: Any, tensors: set[str]) -> list[str]:
    from torch import fx

    found: list[str] = []
    if isinstance(value, fx.Node):
        if value.name in tensors:
            found.append(value.name)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found += _tensor_args(v, tensors)
    elif isinstance(value, dict):
        for v in value.values():
            found += _tensor_args(v, tensors)
    return found


def _ops(gm, graph) -> Traced:
    modules = dict(gm.named_modules())
    ops: dict[str, Op] = {}
    alias: dict[str, str] = {}  # node → the tensor it passes on
    tensors: set[str] = set()
    input_name = output_name = None
    calls: dict[str, int] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    problems: list[Unmappable] = []
    for node in graph.nodes:
        shape = _shape(node)
        stack_meta = list(node.meta.get("nn_module_stack", {}).values())
        stack = tuple((path, cls.__name__ if isinstance(cls, type) else str(cls).rsplit(".", 1)[-1].strip("'>"))
                      for path, cls in stack_meta)
        if node.op == "placeholder":
            if input_name is not None:
                raise Unmappable(f"input {node.name}", "a model with more than one input", "a netc network has one input")
            input_name = node.name
            tensors.add(node.name)
            shapes[node.name] = shape
            continue
        if node.op == "output":
            outs = _tensor_args(node.args[0], tensors)
            if len(outs) != 1:  # a dict or tuple of one tensor ({"out": x}) is that tensor: the spec's one output
                problems.append(Unmappable("the model's output", "a model with several outputs (a tuple or dict)",
                                           "a spec's heads are several outputs, but the importer writes one output "
                                           "yet (for a segmentation model: aux_loss=false leaves 'out' alone)"))
                continue
            output_name = alias.get(outs[0], outs[0])
            continue
        if shape is None:  # x.size(), x.shape and the like: no tensor
            if node.op == "call_module":  # a module that returns several tensors (nn.LSTM's output, state)
                module = modules[node.target]
                try:
                    map_module(module, node.target, 0)
                    problems.append(Unmappable(f"{node.target} ({type(module).__name__})", "a layer that returns "
                                               "several tensors", "netc's layers return one"))
                except Unmappable as exc:
                    problems.append(exc)
            continue
        tensors.add(node.name)
        args = [alias.get(a, a) for a in _tensor_args(node.args, tensors) + _tensor_args(node.kwargs, tensors)]
        shapes[node.name] = shape
        if node.op == "get_attr":
            problems.append(Unmappable(f"{node.target}", "a tensor held by the model and used in forward",
                                       "netc's layers hold their own weights"))
            continue
        try:
            _map_node(node, stack, args, shapes, modules, ops, alias, calls)
        except Unmappable as exc:
            problems.append(exc)
    if problems:
        raise Unmappables(problems[:MAX_ERRORS])
    if input_name is None or output_name is None:
        raise Unmappable("the model", "no input or no tensor output")
    traced = Traced(ops, input_name, output_name, shapes=shapes, calls=calls)
    _rebuild_dense_concats(traced)
    return traced


def _map_node(node, stack, args, shapes, modules, ops, alias, calls) -> None:
    shape = shapes[node.name]
    in_rank = len(shapes[args[0]]) if args else len(shape)
    if node.op == "call_module":
        module = modules[node.target]
        what = f"{node.target} ({type(module).__name__})"
        calls[node.target] = calls.get(node.target, 0) + 1
        if calls[node.target] > 1 and any(True for _ in module.parameters()):
            raise Unmappable(what, "a module called twice with the same weights (weight sharing)",
                             "netc's layers each hold their own weights")
        layer = map_module(module, node.target, in_rank)
        scopes = stack[:-1]
        if len(args) != 1:
            raise Unmappable(what, f"a layer called with {len(args)} tensors", "netc's layers take one")
        if layer is None:
            alias[node.name] = args[0]
            return
        ops[node.name] = Op(node.name, layer, None, args, scopes, what, shape, node.target)
        return
    fn = node.target
    fn_name = fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))
    where = f"{stack[-1][0]} ({stack[-1][1]})" if stack else "the model's forward"
    op_name = f"Tensor.{fn_name}()" if node.op == "call_method" else \
        f"{(getattr(fn, '__module__', None) or 'operator').replace('_operator', 'operator')}.{fn_name}()"
    what = f"{where}: {op_name}"
    result = map_function(fn, tuple(node.args), dict(node.kwargs), what, in_rank, shape)
    if result == "alias" or (result == "concat" and len(args) == 1):
        alias[node.name] = args[0]
        return
    if isinstance(result, str):  # a merge: every operand must be a tensor
        if result != "concat" and (len(node.args) != 2 or len(args) != 2):
            raise Unmappable(what, f"{fn_name} with a number, not two tensors",
                             "netc's add and mul join tensors; scaling by a constant has no word")
        ops[node.name] = Op(node.name, None, result, args, stack, what, shape)
        return
    if len(args) != 1:
        raise Unmappable(what, f"{fn_name} of {len(args)} tensors", "netc's layers take one")
    ops[node.name] = Op(node.name, result, None, args, stack, what, shape)


def _is_single(value) -> bool:
    from torch import fx

    return isinstance(value, fx.Node)


def _rebuild_dense_concats(traced: Traced) -> None:
    """DenseNet's layers each concatenate all the maps before them, cat([x, f1, …, fk]); when
    cat([x, f1, …, fk−1]) is computed too, the longer one is cat(that, fk): each dense layer is
    then a parallel block (the identity beside its branch) merged by concat, as netc writes it."""
    by_inputs: dict[tuple[str, ...], str] = {}
    for op in traced.ops.values():
        if op.merge != "concat":
            continue
        key = tuple(op.inputs)
        prefix = key[:-1]
        if len(prefix) > 1 and prefix in by_inputs:
            op.inputs = [by_inputs[prefix], key[-1]]
            op.rewritten = True
        by_inputs.setdefault(key, op.name)
    # cat([x]) was aliased away: x itself is the one-map prefix, so cat([x, f1]) stays as it is.
