"""What torch itself keeps and allocates: the independent truth for netc's memory figures."""

from __future__ import annotations


def saved_bytes(module, *inputs) -> int:
    """Bytes of every tensor autograd keeps for backward in one forward of `module` (each storage
    once), parameters and buffers (running statistics) aside: what a training step holds between
    forward and backward."""
    import torch

    state = {t.untyped_storage().data_ptr() for t in [*module.parameters(), *module.buffers()]}
    kept: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in state:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(*inputs)
    return sum(kept.values())


# --- peaks, from the CPU allocator's own record ------------------------------------------------------
# torch.profiler with profile_memory=True records every allocation and free of the CPU allocator
# (c10's, which every CPU tensor and oneDNN's reorders go through) as a "[memory]" event with its
# signed size; their running sum, in time order, is the bytes allocated since profiling began, and its
# maximum the peak over what was already allocated. torch.cuda's counters do not exist on CPU, and a
# TorchDispatchMode sees tensors, not the kernels' scratch buffers, so the allocator's events are the
# truth that includes everything.
def _profiled_peak(run) -> int:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        run()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    now = peak = 0
    for event in events:
        now += event.nbytes()
        peak = max(peak, now)
    return peak


def _bytes(tensors) -> int:
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())


def inference_peak(module, x) -> int:
    """Peak bytes of activations in one `torch.inference_mode()` forward of `module` in eval mode,
    the input batch included (the caller holds it); parameters and buffers aside."""
    import torch

    module.eval()
    with torch.inference_mode():
        module(x)  # first-call set-up outside the measure

        def run():
            module(x)

        return x.untyped_storage().nbytes() + _profiled_peak(run)


def _outputs(result):
    import torch

    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        return [t for v in result.values() for t in _outputs(v)]
    return [t for v in result for t in _outputs(v)]


def make_optimizer(module, optimizer: str):
    import torch

    params = [p for p in module.parameters() if p.requires_grad]
    if optimizer == "sgd":
        return torch.optim.SGD(params, lr=1e-3)
    if optimizer == "momentum":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    return torch.optim.Adam(params, lr=1e-3)


def training_peak(module, x, optimizer: str = "sgd", amp=None) -> int:
    """Peak bytes of one training step (forward, backward from a gradient of ones per output, as a
    real loss makes one, optimizer.step; zero_grad(set_to_none=True) before it), parameters,
    optimizer state and the input batch included, buffers aside. A first step outside the measure
    makes the optimizer's state. `amp` is an autocast dtype (torch.bfloat16) or None."""
    import contextlib

    import torch

    module.train()
    opt = make_optimizer(module, optimizer)

    def step():
        context = torch.autocast("cpu", dtype=amp) if amp is not None else contextlib.nullcontext()
        with context:
            outs = _outputs(module(x))
        torch.autograd.backward(outs, [torch.ones_like(o) for o in outs])
        opt.step()

    step()
    opt.zero_grad(set_to_none=True)
    state = [t for s in opt.state.values() for t in s.values() if isinstance(t, torch.Tensor) and t.dim() > 0]
    base = _bytes([*module.parameters(), *state, x])
    peak = _profiled_peak(step)
    opt.zero_grad(set_to_none=True)
    return base + peak
