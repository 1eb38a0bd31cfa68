"""What `init:` says: how each kind's learned tensors start, as data the code generator prints.

    init:
      conv: kaiming_normal(fan_out)            # the weight; biases start at zero
      fc: {weight: normal(0.01), bias: zeros}
      bn: {weight: ones, bias: zeros}
      zero_init_residual: true                 # the last BN of each residual body starts at 0

Shared by the front end (netc/frontend/program/init_config.py reads and checks it) and the code generator
(netc/backends/codegen/init_method.py writes `reset_parameters`), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SourceSpan

# name → (the torch.nn.init function, its arguments in order with their defaults: None required)
METHODS: dict[str, tuple[str, tuple[tuple[str, object], ...]]] = {
    "default": ("", ()),  # torch's own reset_parameters: nothing written
    "kaiming_normal": ("kaiming_normal_", (("mode", "fan_in"), ("nonlinearity", "relu"))),
    "kaiming_uniform": ("kaiming_uniform_", (("mode", "fan_in"), ("nonlinearity", "relu"))),
    "xavier_normal": ("xavier_normal_", (("gain", 1.0),)),
    "xavier_uniform": ("xavier_uniform_", (("gain", 1.0),)),
    "normal": ("normal_", (("std", None), ("mean", 0.0))),
    "trunc_normal": ("trunc_normal_", (("std", None), ("mean", 0.0))),
    "uniform": ("uniform_", (("bound", None),)),
    "zeros": ("zeros_", ()),
    "ones": ("ones_", ()),
    "constant": ("constant_", (("value", None),)),
}
# Methods torch scales by the tensor's fan in or fan out (dimension 1, or 0, times the rest): they
# need a tensor of 2 or more dimensions, so not a norm's scale, a PReLU's slopes or any bias.
FAN_BASED = frozenset({"kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform"})
WORD_CHOICES = {"mode": ("fan_in", "fan_out"), "nonlinearity": ("relu", "leaky_relu", "linear", "sigmoid", "tanh")}


@dataclass(frozen=True)
class InitCall:
    """One init method with its arguments bound: kaiming_normal(fan_out) → mode="fan_out"."""

    method: str
    args: tuple[tuple[str, object], ...] = ()
    text: str = ""  # as written in the spec, for comments

    @property
    def writes_nothing(self) -> bool:
        return self.method == "default"


@dataclass(frozen=True)
class KindInit:
    weight: InitCall | None  # None: torch's default
    bias: InitCall | None
    # Where the spec writes each tensor's method (weight, bias), for the check against the
    # network's layers; a bias implied by `conv: <method>` (zeros) is not written, so not listed.
    written: tuple[tuple[str, SourceSpan], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class InitSpec:
    kinds: dict[str, KindInit]  # layer kind name → its rule
    zero_init_residual: bool = False
    span: SourceSpan | None = None  # the init: section, for the generated comment
