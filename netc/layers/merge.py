"""Layers with several inputs: concat (inception), add (residual), and the residual shortcut."""

from __future__ import annotations

from dataclasses import dataclass

from .base import NOTHING_SAVED, Attr, Conditional, Constructor, LayerKind, Saved, ShapeError, fmt_shape, numel, py, py_sum


@dataclass(frozen=True)
class Concat(LayerKind):
    name = "concat"
    category = "merge"
    inputs = (1, None)

    def infer(self, attrs, inputs):
        first = inputs[0]
        for shape in inputs[1:]:
            if len(shape) != len(first) or shape[1:] != first[1:]:
                sizes = ", ".join(fmt_shape(s) for s in inputs)
                raise ShapeError(f"concat needs the same spatial size on every branch, got {sizes}")
        return (sum(s[0] for s in inputs),) + first[1:], []

    def symbolic_shape(self, attrs, inputs):
        return (py_sum([s[0] for s in inputs]),) + tuple(inputs[0][1:])

    def receptive(self, attrs, inputs):
        return 1, 1

    def label(self, attrs):
        return "concat"

    def forward(self, attrs, module, args, inputs):
        return f"torch.cat([{', '.join(args)}], dim=1)"

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED


@dataclass(frozen=True)
class Add(LayerKind):
    name = "add"
    category = "merge"
    inputs = (1, None)

    def infer(self, attrs, inputs):
        first = inputs[0]
        for shape in inputs[1:]:
            if shape != first:
                raise ShapeError(
                    f"residual add of mismatched shapes {fmt_shape(first)} (body) and {fmt_shape(shape)} (shortcut)",
                    "use `shortcut: auto` (a 1×1 projection when the shape changes) or write a projection "
                    "shortcut, e.g. `shortcut: conv(C, 1, stride=S)-bn`",
                )
        return first, []

    def symbolic_shape(self, attrs, inputs):
        return inputs[0]

    def label(self, attrs):
        return "add"

    def forward(self, attrs, module, args, inputs):
        return " + ".join(args)

    def saved(self, attrs, inputs, out):
        return NOTHING_SAVED


@dataclass(frozen=True)
class Projection(LayerKind):
    """The automatic residual shortcut: identity when the body keeps the shape, else a 1×1 conv
    (with batch norm when the body uses it) to the body's channels and stride — or, with
    `zeropad` (`shortcut: zeropad`, He et al.'s option A), the input subsampled by the stride and
    padded with zero channels after its own: no parameters, no multiply-adds.

    Inputs: the block input, then the body's output, read for its shape only.
    """

    name = "projection"
    category = "conv"
    inputs = (2, 2)
    attrs = (Attr("bn", "bool", False), Attr("zeropad", "bool", False))
    counts_flops = True
    overwritable = False  # the identity shortcut is its input

    def _plan(self, inputs) -> tuple[bool, int]:
        (x, target) = inputs[0], inputs[1]
        if x == target:
            return False, 1
        if len(x) != 3 or len(target) != 3:
            raise ShapeError(f"cannot project {fmt_shape(x)} onto {fmt_shape(target)}")
        for stride in range(max(1, x[1] // max(target[1], 1)), x[1] + 1):
            if (x[1] - 1) // stride + 1 == target[1] and (x[2] - 1) // stride + 1 == target[2]:
                return True, stride
            if (x[1] - 1) // stride + 1 < target[1]:
                break
        raise ShapeError(
            f"no 1×1 projection turns {fmt_shape(x)} into {fmt_shape(target)}: the body changes "
            "the spatial size by other than a stride"
        )

    def infer(self, attrs, inputs):
        self._plan(inputs)
        if attrs.get("zeropad") and inputs[1][0] < inputs[0][0]:
            raise ShapeError(f"a zero-padding shortcut cannot take {inputs[0][0]} channels down to {inputs[1][0]}")
        return inputs[1], []

    def symbolic_shape(self, attrs, inputs):
        return inputs[1]

    def stores_output(self, attrs, inputs):
        return self._plan(inputs)[0]

    def saved(self, attrs, inputs, out):
        project, _ = self._plan(inputs)
        if not project or attrs.get("zeropad"):
            return NOTHING_SAVED
        # The 1×1 conv keeps the block input; its batch norm keeps the conv's output and statistics.
        return Saved(hidden=numel(out), per_batch=2 * out[0]) if attrs["bn"] else Saved()

    def params(self, attrs, inputs, out):
        project, _ = self._plan(inputs)
        if not project or attrs.get("zeropad"):
            return 0, 0
        weights = inputs[0][0] * out[0]
        return weights + (out[0] if attrs["bn"] else 0), out[0]

    def macs(self, attrs, inputs, out):
        project, _ = self._plan(inputs)
        return numel(out) * inputs[0][0] if project and not attrs.get("zeropad") else 0

    def receptive(self, attrs, inputs):
        return 1, self._plan(inputs)[1]

    def label(self, attrs):
        return "zero-pad shortcut" if attrs.get("zeropad") else "projection 1×1"

    def constructor(self, attrs, inputs):
        if attrs.get("zeropad"):
            return None  # a plain expression in forward
        if isinstance(inputs[0][0], int) and isinstance(inputs[1][0], int) and "stride" not in attrs:
            project, stride = self._plan(inputs)
            if not project:
                return None
        else:  # a block class: decided when the module is built, from its arguments
            stride = attrs["stride"]
        conv = Constructor(
            "Conv2d",
            (inputs[0][0], inputs[1][0]),
            (("kernel_size", 1),) + ((("stride", stride),) if stride != 1 else ()) + ((("bias", False),) if attrs["bn"] else ()),
        )
        module = Constructor("Sequential", (conv, Constructor("BatchNorm2d", (inputs[1][0],)))) if attrs["bn"] else conv
        if "stride" in attrs:
            keep = f"{py(inputs[0][0])} == {py(inputs[1][0])} and {py(stride)} == 1"
            return Conditional(keep, Constructor("Identity"), module)
        return module

    def forward(self, attrs, module, args, inputs):
        if attrs.get("zeropad"):
            # Needs the concrete shapes (a generic block class cannot know them, so the code
            # generator makes one class per shape for a block with this shortcut).
            project, stride = self._plan(inputs)
            if not project:
                return args[0]
            x = args[0] if stride == 1 else f"{args[0]}[:, :, ::{stride}, ::{stride}]"
            return f"torch.nn.functional.pad({x}, (0, 0, 0, 0, 0, {inputs[1][0] - inputs[0][0]}))"
        return f"{module}({args[0]})" if module else args[0]
