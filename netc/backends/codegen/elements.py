"""What a generated nn.Module class is made of, before it is printed.

A class is a list of *elements* in forward order. An element is one attribute built in __init__
(a layer, a block instance, an nn.Sequential) and one straight-line statement in forward — or, for
add, concat and flatten, a forward expression without a module. Tensors in forward are `Handle`s;
variable names are chosen when the class is printed, from how long each tensor lives: a chain
reuses its variable (`x = self.conv1(x)`), a tensor still needed later keeps its own, branches and
shortcuts get their own names (`branch2`, `shortcut`).

Containers collect elements: the class body; a group (stage, branch, head, explicit shortcut),
which becomes one nn.Sequential when it is a simple chain of single-input modules and is spliced
into the class otherwise (attributes `branch1_conv1`, …); and a loop (a repeat whose count is a
block argument), which becomes an nn.Sequential built by a for loop in __init__.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...graph.ir import numbered
from . import pysrc
from .pysrc import Blank, Block, Bracketed, Expr, Item, Raw, Stmt

RESERVED_LOCALS = frozenset({"self", "torch", "nn", "x", "super", "range", "int", "float", "len"})


def head_tag(head: str) -> str:
    """The variable (and Handle tag) of a head's tensors in forward."""
    return head if head not in RESERVED_LOCALS else f"{head}_"


def _training_last(elements: list[Element], train_only: tuple[str, ...]) -> tuple[list[Element], int]:
    """The elements with those of the train-only heads moved last, and where they start, so that
    eval skips them (`if self.training:`); unchanged (start = len) when another element reads one."""
    tags = {head_tag(name) for name in train_only}
    heads = [e for e in elements if e.out.tag in tags]
    made = {id(e.out) for e in heads}
    rest = [e for e in elements if e.out.tag not in tags]
    if not heads or any(id(h) in made for e in rest for h in e.inputs):
        return elements, len(elements)
    return rest + heads, len(rest)


@dataclass(eq=False)
class Handle:
    """A tensor in forward: the class input or an element's output."""

    tag: str = ""  # naming scope of its variable: "" for the main chain, "branch1", "shortcut", a head
    overwritable: bool = False  # an in-place activation may overwrite it (nothing else reads it)
    pinned: bool = False  # read by more than the element after it (an nn.Sequential cannot hide it)
    prefer: str | None = None  # a preferred variable name (the mark a head starts from)
    var: str | None = None


@dataclass(eq=False)
class Note:
    """A comment, possibly written after the element is made (generic classes gather shapes
    from every instance first)."""

    text: str | None = None


@dataclass(eq=False)
class Element:
    name: str  # attribute name (local to its container)
    build: Expr | None  # the module; None: forward is an expression without a module
    forward: Callable[[str | None, list[str]], str]  # (module reference, argument variables) → expression
    inputs: list[Handle]
    out: Handle
    note: Note
    paths: dict[str, str] = field(default_factory=dict)  # IR node id → path under this element's module
    shape_only: tuple[int, ...] = ()  # input positions read for their shape only
    shapes_at_run_time: bool = False  # forward reads those inputs' shapes: they are passed and kept alive
    prelude: list[Any] = field(default_factory=list)  # __init__ statements before the attribute
    alternative: tuple[str, Expr] | None = None  # (condition, module): `module if not condition`
    module_values: list[tuple[str, Any]] = field(default_factory=list)  # values forward reads as self.<name>
    # (argument variables) → a statement writing the result into the first data input (`out += shortcut`)
    in_place: Callable[[list[str]], str | None] | None = None

    def data_inputs(self) -> list[Handle]:
        if not self.shape_only:  # nearly every element
            return list(self.inputs)
        if self.shapes_at_run_time:  # `upsample(<c4>)`: c4's tensor is passed for its size, made before
            return list(self.inputs)
        return [h for i, h in enumerate(self.inputs) if i not in self.shape_only]

    @property
    def plain(self) -> bool:
        """A single-input module called as `module(x)`: can stand in an nn.Sequential."""
        if self.build is None or self.prelude or self.alternative is not None or self.module_values or len(self.data_inputs()) != 1:
            return False
        return self.forward("\0m", ["\0a"]) == "\0m(\0a)"


class Container:
    def __init__(self) -> None:
        self.elements: list[Element] = []
        self.counts: dict[str, int] = {}

    def fresh(self, base: str) -> str:
        self.counts[base] = self.counts.get(base, 0) + 1
        return numbered(base, self.counts[base])

    def add(self, element: Element) -> None:
        self.elements.append(element)


def sequential_items(elements: list[Element]) -> list[Item]:
    return [Item(e.build, comment=e.note) for e in elements]  # type: ignore[arg-type]


class Group(Container):
    """A stage, branch, head or explicit shortcut: one nn.Sequential when it is a simple chain."""

    def __init__(self, name: str, tag: str, entry: Handle, note: Note) -> None:
        super().__init__()
        self.name, self.tag, self.entry, self.note = name, tag, entry, note

    def is_chain(self, exit_: Handle) -> bool:
        previous = self.entry
        for element in self.elements:
            if not element.plain or element.data_inputs() != [previous]:
                return False
            if previous is not self.entry and previous.pinned:
                return False
            previous = element.out
        return bool(self.elements) and previous is exit_

    def finish(self, exit_: Handle) -> list[Element]:
        """The elements this group puts into its parent."""
        if self.is_chain(exit_) and len(self.elements) == 1:  # one module needs no nn.Sequential
            element = self.elements[0]
            element.name, element.out.tag = self.name, self.tag
            return [element]
        if self.is_chain(exit_):
            paths = {}
            for index, element in enumerate(self.elements):
                for node, path in element.paths.items():
                    paths[node] = _join(str(index), path)
            build = Bracketed("nn.Sequential(", ")", sequential_items(self.elements))
            return [Element(self.name, build, call_module, [self.entry], exit_, self.note, paths)]
        for element in self.elements:
            element.name = f"{self.name}_{element.name}"
        return self.elements


class Loop(Container):
    """A repeat with a symbolic count: `for i in range(n): layers.append(...)` in __init__."""

    def __init__(self, name: str, entry: Handle, note: Note, header: str, list_var: str, channel_var: str,
                 channels_in: Any) -> None:
        super().__init__()
        self.name, self.entry, self.note, self.header = name, entry, note, header
        self.list_var, self.channel_var, self.channels_in = list_var, channel_var, channels_in
        self.body_tail: list[Any] = []  # statements after the appends (channel update)
        self.paths: dict[str, str] = {}

    def finish(self, exit_: Handle) -> Element:
        body: list[Any] = [
            Stmt(Bracketed(f"{self.list_var}.append(", ")", [Item(e.build)]), comment=e.note)  # type: ignore[arg-type]
            for e in self.elements
        ]
        prelude: list[Any] = [
            Stmt(Raw("[]"), self.list_var),
            Stmt(Raw(pysrc.literal(self.channels_in)), self.channel_var),
            Block(self.header, body + self.body_tail),
        ]
        build = Raw(f"nn.Sequential(*{self.list_var})")
        return Element(self.name, build, call_module, [self.entry], exit_, self.note, dict(self.paths), prelude=prelude)


def call_module(module: str | None, args: list[str]) -> str:
    """The forward expression of a module called on its input: `self.conv1(x)`."""
    return f"{module}({args[0]})"


def _join(head: str, tail: str) -> str:
    return f"{head}.{tail}" if tail else head


# --- printing a class -------------------------------------------------------------------------------
def module_paths(elements: list[Element]) -> dict[str, str]:
    """IR node id → module path in the class (as named_modules() names it)."""
    paths: dict[str, str] = {}
    for element in elements:
        if element.build is None:
            continue
        for node, path in element.paths.items():
            paths[node] = _join(element.name, path)
    return paths


def init_statements(elements: list[Element]) -> list[Any]:
    body: list[Any] = []
    for element in elements:
        for name, value in element.module_values:
            body.append(Stmt(Raw(pysrc.literal(value)), f"self.{name}"))
        if element.build is None:
            continue
        body.extend(element.prelude)
        target = f"self.{element.name}"
        if element.alternative is not None:
            condition, module = element.alternative
            body.append(Block(f"if {condition}", [Stmt(element.build, target, element.note.text)]))
            body.append(Block("else", [Stmt(module, target)]))
        else:
            body.append(Stmt(element.build, target, element.note.text))
    return body


def forward_statements(arg: Handle, elements: list[Element], outputs: list[tuple[str, Handle]],
                       as_dict: bool, train_only: tuple[str, ...] = (),
                       more_args: Sequence[Handle] = ()) -> list[Any]:
    """forward's body: one assignment per element, variables allocated by liveness. `arg` is the
    class input (`x`, or a named network input's name); `more_args` are the network's other named
    inputs, each already called by its name. With `train_only` heads, training mode returns every
    head and eval the others: the one left alone as a tensor, as torchvision's GoogLeNet returns
    its logits."""
    elements, training_from = _training_last(elements, train_only) if train_only else (elements, len(elements))
    last: dict[int, float] = {}
    for index, element in enumerate(elements):
        for handle in element.data_inputs():
            last[id(handle)] = index
    for _, handle in outputs:
        last[id(handle)] = float("inf")
    arg.var = arg.var or "x"
    live: dict[str, Handle] = {arg.var: arg}
    for handle in more_args:
        live[handle.var] = handle  # type: ignore[index]

    def free(name: str) -> bool:
        return name not in live and (name not in RESERVED_LOCALS or name == "x" and "x" not in live)

    def fresh(base: str) -> str:
        if free(base):
            return base
        n = 2
        while not free(f"{base}{n}"):
            n += 1
        return f"{base}{n}"

    body: list[Any] = []
    eval_part = 0  # statements before the train-only heads'
    for index, element in enumerate(elements):
        if index == training_from:
            eval_part = len(body)
        data = element.data_inputs()
        if element.shape_only and element.shapes_at_run_time:  # every input passed (forward reads a shape)
            args = [h.var for h in element.inputs]
        elif element.shape_only:  # an input read for its shape only is passed as None
            args = [h.var if i not in element.shape_only else "None" for i, h in enumerate(element.inputs)]
        else:
            args = [h.var for h in data]
        for handle in data:
            if last.get(id(handle)) == index and live.get(handle.var) is handle:  # type: ignore[arg-type]
                del live[handle.var]  # type: ignore[arg-type]
        out = element.out
        name = None
        if element.in_place is not None and data and live.get(data[0].var) is None and free(data[0].var):  # type: ignore[arg-type]
            statement = element.in_place(args)  # the first input's variable is free: its last use
            if statement is not None:
                out.var = data[0].var
                live[out.var] = out  # type: ignore[index]
                body.append(Stmt(Raw(statement), None, element.note.text))
                continue
        if out.prefer and pysrc.is_identifier(out.prefer) and free(out.prefer):
            name = out.prefer
        if name is None:
            for handle in data:
                if last.get(id(handle)) == index and handle.tag == out.tag and free(handle.var) and not handle.prefer:  # type: ignore[arg-type]
                    name = handle.var
                    break
        if name is None:
            name = fresh(out.tag or "out")
        out.var = name
        live[name] = out
        module = f"self.{element.name}" if element.build is not None else None
        expr = pysrc.Forward(element.forward(module, args))
        body.append(Stmt(expr, name, element.note.text))
    if training_from == len(elements):
        eval_part = len(body)
    if as_dict:
        items = [Item(Raw(h.var or "x"), f'"{name}"', sep=": ") for name, h in outputs]
        if train_only:
            training = body[eval_part:] + [Stmt(Bracketed("{", "}", items), keyword="return")]
            body[eval_part:] = [Block("if self.training", training)]
            outputs = [(name, h) for name, h in outputs if name not in train_only]
            items = [Item(Raw(h.var or "x"), f'"{name}"', sep=": ") for name, h in outputs]
        if train_only and len(outputs) == 1:
            body.append(Stmt(Raw(outputs[0][1].var or "x"), keyword="return"))
        else:
            body.append(Stmt(Bracketed("{", "}", items), keyword="return"))
    else:
        body.append(Stmt(Raw(outputs[0][1].var or "x"), keyword="return"))
    return body


def class_block(name: str, params: list[Item], init_body: list[Any], forward_body: list[Any],
                returns_dict: bool, comments: list[str], methods: list[Any] = (), eval_tensor: bool = False,
                arg_names: Sequence[str] = ("x",)) -> list[Any]:
    """`eval_tensor`: forward returns a dict in training mode and one tensor in eval (train-only
    heads); `arg_names`: forward's inputs (a network's named inputs)."""
    init_sig = Bracketed("__init__(", ") -> None", [Item(Raw("self"))] + params)
    returns = "dict[str, torch.Tensor]" if returns_dict else "torch.Tensor"
    if returns_dict and eval_tensor:
        returns += " | torch.Tensor"
    forward_sig = Bracketed("forward(", f") -> {returns}",
                            [Item(Raw("self"))] + [Item(Raw(f"{arg}: torch.Tensor")) for arg in arg_names])
    body: list[Any] = [
        Block(("def ", init_sig), [Stmt(Raw("super().__init__()"))] + init_body),
        Blank(),
        Block(("def ", forward_sig), forward_body),
    ]
    for method in methods:  # after forward: reset_parameters (netc/backends/codegen/init_method.py), a loader
        body += [Blank()] + (method if isinstance(method, list) else [method])
    return [pysrc.Comment(c) for c in comments] + [Block(f"class {name}(nn.Module)", body)]
