"""Peak memory by liveness: which tensors are alive after each layer of the generated forward.

The generated module runs the layers in the network's order (`Network.order`, the order the
emitter writes them). A layer's output is a new storage unless it is a view (flatten, an identity
shortcut) or an activation the generated code runs in place (`storage_plan`: the same rule as the
code generator's, shared with netc/analysis/memory.py). A storage dies after its last reader has run, except
that Python still holds it:
  - the network input (the caller's batch) and the outputs, to the end;
  - a scope's entry (a block's or a stage's input) until the scope's exit is made, because the
    caller's variable (`x = self.stage1(x)`) keeps it until the call returns.

Inference (`torch.inference_mode()`, eval): while a layer runs, what is alive before it, its new
output and its kernel's transient working set (`workspace`) are alive together; the largest such
sum is the peak. Dropout is the identity in eval mode, so it makes no storage there.

A training step (forward, backward, optimizer.step, gradients set to None before it): parameters
and optimizer state are there throughout. Forward as above, but a storage some layer saves for
backward stays until that layer's backward has run. Backward visits the layers in reverse (autograd
on CPU runs the node of the highest sequence number first): the gradient of a layer's output is
alive while its backward runs; it makes a gradient per input that needs one (a new tensor, except
where backward hands the output's gradient on: a view, an add, a concat's slices) and its
parameters' gradients, which stay; then it frees its output's gradient and the tensors it saved,
once no later-run backward still needs them. optimizer.step then adds its own temporaries (Adam's
square root of the second moment). The peak is the largest sum over all these moments.

What a layer's kernel allocates beside the tensors (oneDNN's blocked copies, torch's im2col
buffers, an allocator's rounding) is the target's (netc/analysis/targets): this pass is the same for all.

Sizes are bytes at `batch` images of the activation dtype. Under AMP (`amp=True`, half activation
dtypes) parameters, their gradients and optimizer state are float32, activations half, and autocast
keeps a half copy of each conv/fc weight for the step (its cast cache, which backward reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..graph.ir import ScopeKind
from ..layers import KINDS
from .annotated import Analysis
from .targets import Target, resolve_target
from .targets.base import DTYPE_BYTES, HALF, INDEX_BYTES

__all__ = ["DTYPE_BYTES", "HALF", "INDEX_BYTES", "OPTIMIZER_STATES", "Peak", "StoragePlan", "TrainingPeak",
           "copies_input", "inference_peak", "storage_plan", "training_peak"]

# Extra float32 values per trained parameter that each optimizer keeps: momentum 1 buffer, Adam 2.
OPTIMIZER_STATES = {"sgd": 0, "momentum": 1, "adam": 2}


@dataclass(frozen=True)
class StoragePlan:
    """Which storage each layer's output lives in: `owner[n]` is the layer that made the storage
    (n itself, the producer of its input for a view, or the overwritten tensor's maker for an
    activation run in place)."""

    owner: dict[str, str]
    in_place: frozenset[str]


def storage_plan(analysis: Analysis) -> StoragePlan:
    """The storages of the generated forward, by the code generator's in-place rule (see
    `overwritable`): the one place that decides it outside netc/backends/codegen/emit.py."""
    net, info = analysis.network, analysis.info
    readers: dict[str, int] = {}
    for node in net.nodes():
        for source in node.data_inputs:
            readers[source] = readers.get(source, 0) + 1
    pinned = {node_id for _, node_id in net.outputs}
    pinned |= {scope.entry for scope in net.scopes.values() if scope.kind == ScopeKind.HEAD and scope.entry}
    owner: dict[str, str] = {}
    in_place: set[str] = set()
    for node in net.nodes():
        kind = KINDS[node.kind]
        data = node.data_inputs
        if not info[node.id].new_tensor:  # a view of its input, or the input itself
            owner[node.id] = owner[node.inputs[0]]
        elif len(data) == 1 and kind.runs_in_place(node.attrs) and overwritable(analysis, data[0], node, readers, pinned, in_place):
            owner[node.id] = owner[data[0]]
            in_place.add(node.id)
        else:
            owner[node.id] = node.id
    return StoragePlan(owner, frozenset(in_place))


def overwritable(analysis: Analysis, source: str, reader, readers: dict[str, int], pinned: set[str],
                 in_place: set[str]) -> bool:
    """Whether an activation reading `source` may overwrite it, by the code generator's rule: the
    tensor's only reader is this layer, it is nobody's output, its kind's backward does not read
    it, and it was made in the same scope (a block class never overwrites its input)."""
    net, info = analysis.network, analysis.info
    chain = [source]
    while not info[chain[-1]].new_tensor:
        chain.append(net.node(chain[-1]).inputs[0])
    owner = net.node(chain[-1])
    return (
        all(readers.get(n, 0) == 1 and n not in pinned for n in chain)
        and owner.inputs != () and owner.id not in in_place and owner.scope == reader.scope
        and KINDS[owner.kind].overwritable
    )


def copies_input(kind, node_id: str, plan: StoragePlan) -> bool:
    """An activation run in place whose backward reads the input it overwrites: autograd keeps a
    copy of that input (torch's hardtanh_, silu_, hardswish_)."""
    return node_id in plan.in_place and getattr(kind, "in_place_copies_input", False)


@dataclass(frozen=True)
class Peak:
    bytes: int
    layer: str  # the layer running when the peak is reached ("" when none runs: optimizer.step)
    phase: str  # "forward", "backward" or "step"


@dataclass(frozen=True)
class TrainingPeak:
    peak: Peak
    parameters: int  # bytes, as they are kept (float32 under AMP)
    gradients: int
    optimizer_state: int
    weight_copies: int  # autocast's half weights (AMP only)


@dataclass
class _Live:
    """Storages alive now, with their sizes; the largest total seen and where."""

    sizes: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def add(self, key: str, size: int) -> None:
        if key not in self.sizes:
            self.sizes[key] = size
            self.total += size

    def drop(self, key: str) -> None:
        self.total -= self.sizes.pop(key, 0)


def _value_bytes(dtype: str) -> int:
    return DTYPE_BYTES[dtype]


def channels_last_layouts(analysis: Analysis) -> set[str]:
    """The layers whose output is laid out channels last (LayerKind.channels_last_output), in the
    network's order; a vector never is."""
    net, info = analysis.network, analysis.info
    found: set[str] = set()
    for node_id in net.order:
        node = net.node(node_id)
        if not node.inputs or len(info[node_id].shape) != 3:
            continue
        inputs = [source in found for source in node.data_inputs]
        if KINDS[node.kind].channels_last_output(node.attrs, list(info[node_id].inputs), inputs):
            found.add(node_id)
    return found


def _storage_bytes(analysis: Analysis, owner: str, batch: int, dtype: str, target: Target) -> int:
    return target.allocation(batch * analysis.info[owner].activations * _value_bytes(dtype))


def _held_until(analysis: Analysis, plan: StoragePlan, order: list[str]) -> dict[str, int]:
    """The position in `order` after which each storage may be freed in forward: its last reader,
    a scope's exit for the scope's entry, the end for the input and the outputs."""
    net = analysis.network
    at = {n: k for k, n in enumerate(order)}
    until: dict[str, int] = {}

    def hold(storage: str, position: int) -> None:
        until[storage] = max(until.get(storage, position), position)

    for k, node_id in enumerate(order):
        node = net.node(node_id)
        hold(plan.owner[node_id], k)
        for source in node.inputs:
            hold(plan.owner[source], k)
    for scope in net.scopes.values():
        if scope.entry in at and scope.exit in at:
            hold(plan.owner[scope.entry], at[scope.exit])
    # A merge's inputs but the first are the block class's forward variables (`out`, `out2` in
    # `x = torch.cat([x, out, out2], dim=1)`): Python frees them when the forward returns.
    for node_id in order:
        node = net.node(node_id)
        if len(node.data_inputs) > 1 and KINDS[node.kind].merges:
            block = _enclosing_block(net, node.scope)
            if block is not None and block.exit in at:
                for source in node.data_inputs[1:]:
                    hold(plan.owner[source], at[block.exit])
    end = len(order) - 1
    for _, node_id in net.outputs:
        hold(plan.owner[node_id], end)
    for node_id in order:
        if not net.node(node_id).inputs:
            hold(plan.owner[node_id], end)
    return until


def _enclosing_block(net, scope_id: str):
    """The innermost block instance (one class in the generated file) holding a scope, or None."""
    while scope_id:
        scope = net.scopes[scope_id]
        if scope.kind == ScopeKind.BLOCK:
            return scope
        scope_id = scope.parent
    return None


def inference_peak(analysis: Analysis, batch: int = 1, dtype: str = "float32", plan: StoragePlan | None = None,
                   target: Target | None = None) -> Peak:
    """The peak activation bytes of a `torch.inference_mode()` forward, the input batch included;
    `plan` the analysis's storage_plan when the caller has it; `target` what runs it (default:
    this machine's CPU, netc/analysis/targets)."""
    target = target or resolve_target("cpu")
    net = analysis.network
    order = list(net.order)
    plan = plan or storage_plan(analysis)
    owner = dict(plan.owner)
    for node_id in order:  # dropout, stochastic depth hand their input on in eval mode
        node = net.node(node_id)
        if node.inputs and getattr(KINDS[node.kind], "eval_identity", False):
            owner[node_id] = owner[node.inputs[0]]
    plan = StoragePlan(owner, plan.in_place)
    until = _held_until(analysis, plan, order)
    ending = _by_end(until)
    nhwc = channels_last_layouts(analysis)
    live = _Live()
    best = Peak(0, "", "forward")
    for k, node_id in enumerate(order):
        storage = owner[node_id]
        live.add(storage, _storage_bytes(analysis, storage, batch, dtype, target))
        reads_nhwc = _reads_channels_last(net.node(node_id), nhwc)
        now = live.total + target.forward_workspace(analysis, node_id, batch, dtype, training=False,
                                                    channels_last=reads_nhwc)
        if now > best.bytes:
            best = Peak(now, node_id, "forward")
        for s in ending.get(k, ()):
            live.drop(s)
    return best


def _reads_channels_last(node, nhwc: set[str]) -> bool:
    return bool(node.data_inputs) and node.data_inputs[0] in nhwc


def _by_end(until: dict[str, int]) -> dict[int, list[str]]:
    """The storages whose life ends at each step, in `until`'s order: one pass, not one per step."""
    ending: dict[int, list[str]] = {}
    for storage, end in until.items():
        ending.setdefault(end, []).append(storage)
    return ending


def _passes_gradient_on(analysis: Analysis, node_id: str) -> bool:
    """Whether backward hands the output's gradient to the inputs without a new tensor: a view or
    an identity, an add (each input gets the same gradient) and a concat (each input a slice)."""
    node, layer = analysis.network.node(node_id), analysis.info[node_id]
    kind = KINDS[node.kind]
    if not layer.new_tensor:
        return True
    saved = kind.saved(node.attrs, list(layer.inputs), layer.shape)
    return kind.merges and not saved.inputs and not saved.output and all(
        shape == layer.shape or (shape[1:] == layer.shape[1:]) for shape in layer.inputs)


def training_peak(analysis: Analysis, batch: int = 1, dtype: str = "float32", optimizer: str = "sgd",
                  amp: bool = False, plan: StoragePlan | None = None, target: Target | None = None) -> TrainingPeak:
    """The peak bytes of one training step: see the module's docstring for the model; `target`
    as for inference_peak."""
    target = target or resolve_target("cpu")
    net, info = analysis.network, analysis.info
    order = list(net.order)
    plan = plan or storage_plan(analysis)
    until = _held_until(analysis, plan, order)
    master = 4 if amp else _value_bytes(dtype)
    frozen = analysis.frozen
    trained = {n for n in order if info[n].params and n not in frozen}
    parameters = analysis.params * master
    gradients = sum(info[n].params for n in trained) * master
    state = gradients * OPTIMIZER_STATES[optimizer]
    # Autocast's cast cache: a half copy of each conv/fc weight, kept for backward.
    copies = sum(info[n].params for n in order if amp and KINDS[net.node(n).kind].category in ("conv", "fc")) * _value_bytes(dtype)

    # Who keeps what for backward, and which layers get a gradient at all.
    keepers: dict[str, list[int]] = {}  # storage → positions of the layers that save it
    needs_grad: set[str] = set()
    for k, node_id in enumerate(order):
        node = net.node(node_id)
        kind, layer = KINDS[node.kind], info[node_id]
        if node_id in trained or any(i in needs_grad for i in node.data_inputs):
            needs_grad.add(node_id)
        if node_id not in needs_grad:  # autograd records nothing for it
            continue
        saved = kind.saved(node.attrs, list(layer.inputs), layer.shape)
        if copies_input(kind, node_id, plan):  # the input it overwrites is saved as a copy (hidden)
            saved = replace(saved, inputs=(), hidden=saved.hidden + sum(info[node.inputs[i]].activations for i in saved.inputs))
        kept = {plan.owner[node.inputs[i]] for i in saved.inputs}
        if saved.output:
            kept.add(plan.owner[node_id])
        for s in kept:
            keepers.setdefault(s, []).append(k)
    # Hidden tensors (dropout masks, LRN's squares) and argmax indices: saved with their layer.
    hidden: dict[int, int] = {}
    for k, node_id in enumerate(order):
        node, layer = net.node(node_id), info[node_id]
        if node_id not in needs_grad:
            continue
        saved = KINDS[node.kind].saved(node.attrs, list(layer.inputs), layer.shape)
        if copies_input(KINDS[node.kind], node_id, plan):
            saved = replace(saved, hidden=saved.hidden + sum(info[node.inputs[i]].activations for i in saved.inputs))
        extra = batch * (saved.hidden * _value_bytes(dtype) + saved.indices * INDEX_BYTES) + saved.per_batch * _value_bytes(dtype)
        if extra:
            hidden[k] = extra

    base = parameters + state + copies
    live = _Live()
    best = Peak(0, "", "forward")

    def see(now: int, layer: str, phase: str) -> None:
        nonlocal best
        if base + now > best.bytes:
            best = Peak(base + now, layer, phase)

    ending = _by_end(until)
    nhwc = channels_last_layouts(analysis)
    # Forward: a saved storage outlives its last reader until backward.
    for k, node_id in enumerate(order):
        storage = plan.owner[node_id]
        live.add(storage, _storage_bytes(analysis, storage, batch, dtype, target))
        if k in hidden:
            live.add(f"hidden:{k}", target.allocation(hidden[k]))
        reads_nhwc = _reads_channels_last(net.node(node_id), nhwc)
        see(live.total + target.forward_workspace(analysis, node_id, batch, dtype, training=True,
                                                  channels_last=reads_nhwc), node_id, "forward")
        for s in [s for s in ending.get(k, ()) if s not in keepers]:
            live.drop(s)

    # Backward, in reverse: the outputs' gradients first (a real loss makes one per output).
    grad_of: dict[str, str] = {}  # layer → the gradient storage its output's gradient lives in
    users: dict[str, int] = {}  # gradient storage → layers whose gradient it holds
    for _, node_id in net.outputs:
        if node_id in needs_grad and node_id not in grad_of:
            key = f"grad:{node_id}"
            live.add(key, _storage_bytes(analysis, node_id, batch, dtype, target))
            grad_of[node_id], users[key] = key, 1
    last_keeper = {s: min(ks) for s, ks in keepers.items()}  # freed after the first saver's backward
    freed_at = _by_end(last_keeper)  # position → the saved storages freed there: one pass, not one per layer
    param_grads = 0
    for k in range(len(order) - 1, -1, -1):
        node_id = order[k]
        node, layer = net.node(node_id), info[node_id]
        if node_id not in needs_grad or node_id not in grad_of:
            _release(live, k, freed_at)
            continue
        g = grad_of[node_id]
        made: list[str] = []
        for i, source in enumerate(node.inputs):
            if i in node.shape_only or source not in needs_grad:
                continue
            if _passes_gradient_on(analysis, node_id):
                key = g
            else:
                key = f"grad:{node_id}:{i}"
                live.add(key, _storage_bytes(analysis, source, batch, dtype, target))
                made.append(key)
            if source in grad_of:  # a second gradient: accumulated into the first, then dropped
                if key != g:
                    made.append(key)  # dropped after this backward
                    users[key] = 0
                continue
            grad_of[source] = key
            users[key] = users.get(key, 0) + 1
        if node_id in trained:
            param_grads += layer.params * master
        reads_nhwc = _reads_channels_last(node, nhwc)
        see(live.total + param_grads + target.backward_workspace(analysis, node_id, batch, dtype,
                                                                 source_grads=bool(made), channels_last=reads_nhwc),
            node_id, "backward")
        # The output's gradient and what this layer saved go now.
        users[g] -= 1
        if users[g] <= 0:
            live.drop(g)
        for key in made:
            if users.get(key, 0) <= 0:
                live.drop(key)
        _release(live, k, freed_at)
    largest = max((info[n].weights for n in trained), default=0) * master
    see(live.total + param_grads + target.optimizer_temporaries(optimizer, largest, gradients), "", "step")
    return TrainingPeak(best, parameters, gradients, state, copies)


def _release(live: _Live, position: int, freed_at: dict[int, list[str]]) -> None:
    """What the layer at `position` saved goes once its backward has run (or would have)."""
    live.drop(f"hidden:{position}")
    for storage in freed_at.get(position, ()):
        live.drop(storage)
