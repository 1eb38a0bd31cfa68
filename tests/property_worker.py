"""Worker for tests/test_check_builds_random.py: random small specs (seeded), each checked by netc
and, where `netc check` accepts it, built and run by torch forward and backward, with netc's output
shapes, parameter count and FLOPs compared with torch's (parameters(), FlopCounterMode). Run as
its own process, so that a crash inside torch fails the test instead of ending the suite.

    python tests/property_worker.py FIRST COUNT DIR  →  prints "accepted N refused M" or the failing seed
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

ACTIVATIONS = ["relu", "gelu", "silu", "tanh", "sigmoid", "hardswish", "relu6", "elu", "leakyrelu(0.1)", "prelu",
               "prelu(1)", "softplus"]
INIT_METHODS = ["kaiming_normal(fan_out)", "kaiming_uniform", "xavier_uniform", "normal(0.02)", "trunc_normal(0.02)",
                "uniform(0.1)", "zeros", "ones", "constant(0.5)", "default"]
LEARNED = ["conv", "deconv", "fc", "bn", "groupnorm", "instancenorm", "layernorm", "layerscale", "prelu"]


def _map_layer(rng: random.Random) -> str:
    c = rng.choice([1, 2, 3, 4, 6, 8])
    k = rng.choice([1, 2, 3, "(1, 3)", "(3, 1)"])
    s = rng.choice([1, 1, 2, "(2, 1)"])
    bias = rng.choice(["", ", bias=false"])
    affine = rng.choice(["", "affine=false", "affine=true"])
    return rng.choice([
        f"conv({c}, {k}, stride={s}{bias})", f"conv({c}, {k}, padding=valid{bias})", f"conv({c}, 1, stride=2{bias})",
        f"deconv({c}, 2, stride=2{bias})", f"maxpool({k}, stride={s})", "avgpool(2, stride=2)", "bn",
        f"groupnorm(1{', ' + affine if affine else ''})", f"instancenorm({affine})", f"layernorm({affine})",
        "layerscale", "dropout(0.1)", "dropout2d(0.2)", "lrn", rng.choice(ACTIVATIONS), "identity",
        "zeropad(1)", "upsample(2)",
    ])


def random_spec(seed: int) -> str:
    rng = random.Random(seed)
    c, h = rng.choice([1, 2, 3, 4]), rng.choice([5, 8, 9, 12, 16])
    items: list[str] = []
    marks: list[str] = []
    for k in range(rng.randint(1, 6)):
        items.append(_map_layer(rng))
        if rng.random() < 0.25:
            name = f"p{k}"
            items.append(f"<{name}>")
            marks.append(name)
        elif marks and rng.random() < 0.3:
            items.append(rng.choice([f"concat(<{rng.choice(marks)}>)", f"add(<{rng.choice(marks)}>)"]))
        elif marks and rng.random() < 0.1:
            items.append(f"from(<{rng.choice(marks)}>)")
    tail = rng.choice(["globalavgpool-fc(5)", "fc(7)-relu-fc(3)", "", "globalavgpool-fc(4)-prelu-fc(2)-logsoftmax"])
    network = " - ".join(items + ([tail] if tail else []))
    lines = [f"input: [{c}, {h}, {h}]"]
    if rng.random() < 0.5:
        lines.append("init:")
        for kind in rng.sample(LEARNED, rng.randint(1, 4)):
            if rng.random() < 0.5:
                lines.append(f"  {kind}: {rng.choice(INIT_METHODS)}")
            else:
                lines.append(f"  {kind}: {{{rng.choice(['weight', 'bias'])}: {rng.choice(INIT_METHODS)}}}")
    if rng.random() < 0.2:
        lines.append(f"freeze: [{rng.choice(['conv1', 'bn1', 'fc1', 'prelu1'])}]")
    lines.append(f'network: "{network}"')
    return "\n".join(lines) + "\n"


def run_one(path: Path) -> str:
    """'refused', 'accepted', or raises with what differs."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from netc.analysis.pipeline import analyze_file
    from netc.backends.codegen import build_module
    from netc.errors import NetcError

    try:
        analysis = analyze_file(str(path))
    except NetcError:
        return "refused"
    torch.manual_seed(0)
    module = build_module(analysis)
    x = torch.randn(2, *analysis.network.input_shape, requires_grad=True)
    with FlopCounterMode(display=False) as counter:
        out = module(x)
    outputs = out if isinstance(out, dict) else {"output": out}
    shapes = {k: tuple(v.shape[1:]) for k, v in outputs.items()}
    assert shapes == {k: tuple(v) for k, v in analysis.output_shapes().items()}, (shapes, analysis.output_shapes())
    assert sum(p.numel() for p in module.parameters()) == analysis.params
    assert counter.get_total_flops() == 2 * analysis.flops, (counter.get_total_flops(), 2 * analysis.flops)
    sum((o.float() * torch.randn_like(o.float())).sum() for o in outputs.values()).backward()
    return "accepted"


def main() -> int:
    first, count, where = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
    tally = {"accepted": 0, "refused": 0}
    for seed in range(first, first + count):
        path = where / f"spec{seed}.yaml"
        path.write_text(random_spec(seed), encoding="utf-8")
        print(f"seed {seed}", file=sys.stderr, flush=True)  # the last one named is the one that crashed
        tally[run_one(path)] += 1
    print(f"accepted {tally['accepted']} refused {tally['refused']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
