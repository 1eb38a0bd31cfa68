"""Program (AST) → Network (graph IR): the whole network, every size a number.

Each DSL word becomes one node with validated attributes; a block call becomes a scope holding
its nodes; repetition is unrolled; heads start from marks. The output is checked for names and
arguments, not shapes: shapes are `infer`'s business. The machine is netc/graph/expander.py; this is its
concrete domain, plus what only the whole network knows (heads, blocks never used).
"""

from __future__ import annotations

from ..errors import MAX_ERRORS, Diagnostic, NetcError, did_you_mean
from ..frontend import ast
from ..frontend.exprs import Value
from ..layers import KINDS, lookup_word
from ..limits import DEFAULT_MAX_LAYERS
from .attributes import bind_attrs
from .expander import Expander, LimitError
from .ir import BlockSignature, Network, NetworkSource
from .scopes import scope_members
from .templates import BlockTemplates


class _NetworkExpander(Expander):
    # --- the whole network ----------------------------------------------------------------------
    def network(self) -> Network:
        program = self.program
        env: dict[str, Value] = dict(program.params)
        start = self.add_inputs(program.input_shape, program.inputs[0].name if program.inputs else "input")
        end = self.seq(program.network, start, env, "")
        outputs = self.heads(end, env)
        self.check_left_behind(outputs)
        self.check_inputs_read(outputs)
        self.check_frozen()
        self.check_init()
        warnings = self.unused_blocks()
        self.errors.check()
        return Network(program.name, program.input_shape, self.nodes, tuple(self.order), tuple(outputs),
                       self.scopes, tuple(self.top), network_source(program), tuple(warnings),
                       self.points.variables, templates=BlockTemplates(program))

    def check_inputs_read(self, outputs: list[tuple[str, str]]) -> None:
        """Each named input is read: an input nothing reads would be an argument forward ignores."""
        if self.errors.found or len(self.program.inputs) < 2:
            return
        read = {i for node in self.nodes.values() for i in node.inputs} | {node for _, node in outputs}
        for decl in self.program.inputs[1:]:
            if decl.name in self.nodes and decl.name not in read:
                self.record(NetcError.at(decl.span, f"input '{decl.name}' is never read",
                                         f"read it as a point, as roipool(<{decl.name}>, 7) does, or leave it out"))

    def check_frozen(self) -> None:
        """Each `freeze:` name names a scope of this network (a prefix of the table's names, or stem)."""
        if not self.program.freeze:  # the scope names are worked out only for names to look up
            return
        known = scope_members(n for n in self.order if self.nodes[n].inputs)
        for name, span in self.program.freeze:
            if name not in known:
                top = [s for s in known if "." not in s]
                self.record(NetcError.at(span, f"freeze: no scope '{name}' in this network",
                                         did_you_mean(name, list(known)) or f"its scopes: {', '.join(top[:20])}"
                                         + (", …" if len(top) > 20 else "") + " (nested as the table names them)"))

    def check_init(self) -> None:
        """Each tensor `init:` writes a method for is one that some layer of the kind has: a bias
        method where every conv is bias=false, a scale where every norm is affine=false, would set
        nothing (the generated code guards layers without it where only some lack it). A kind the
        network does not use is let be, as before: one `init:` may serve several specs."""
        init = self.program.init
        if init is None or not init.kinds:
            return
        users: dict[str, list[dict]] = {}
        for node in self.nodes.values():
            if node.kind in init.kinds and node.inputs:
                users.setdefault(node.kind, []).append(node.attrs)
        for name, rule in init.kinds.items():
            kind = KINDS[name]
            for part, span in rule.written:
                tensor = kind.learned_tensor(part)
                layers = users.get(name, [])
                if tensor is None or tensor.switch is None or not layers:
                    continue
                if not any(kind.has_tensor(attrs, part) for attrs in layers):
                    who = f"the {name} layer here has" if len(layers) == 1 else f"all {len(layers)} {name} layers here have"
                    self.record(NetcError.at(span, f"init: {name}'s {part} is set, but {who} {tensor.switch}=false: "
                                             f"no {part} to set",
                                             f"leave out the {part} method, or set {tensor.switch}=true on a {name} layer that should have one"))

    def check_left_behind(self, outputs: list[tuple[str, str]]) -> None:
        """A tensor that `from(<p>)` went on without is computed for nothing unless a later layer
        reads it through a point (C2f reads the last bottleneck as <m[n-1]>). Not checked after
        other errors: a reader left out for its own error would make this one only an echo."""
        if self.errors.found or not self.left_behind:
            return
        read = {i for node in self.nodes.values() for i in node.inputs} | {node for _, node in outputs}
        for node, text, span in self.left_behind:
            if node not in read and node in self.nodes:
                self.record(NetcError.at(span, f"{text} goes on without the tensor of {node}, and nothing after it "
                                         "reads that tensor: it would be computed for nothing",
                                         "mark it and read it later (… - <last> - from(<y>) - concat(<last>)), "
                                         "or leave out the layers before from(…)"))

    # --- blocks the network never calls ---------------------------------------------------------
    def unused_blocks(self) -> list[Diagnostic]:
        """A warning for each block nothing calls, after checking its words as far as they can be
        checked without arguments: unknown layer or block words, argument names and counts."""
        program = self.program
        used: set[str] = set()
        pending = [program.network, *(head.body for head in program.heads)]
        while pending:
            for call in _calls(pending.pop()):
                block = program.blocks.get(call.word)
                if block is not None and block.name not in used:
                    used.add(block.name)
                    pending.extend(_parts(block))
        warnings = []
        for block in program.blocks.values():
            if block.name in used or block.span.path != program.path:  # a library's other blocks come along unasked
                continue
            warnings.append(Diagnostic("warning", f"block '{block.name}' is defined but never used", block.span,
                                       "call it in network: or a head, or delete it"))
            for part in _parts(block):
                for call in _calls(part):
                    try:
                        self.check_words(call)
                    except NetcError as exc:
                        self.record(exc)
        return warnings

    def check_words(self, call: ast.Call) -> None:
        block = self.program.blocks.get(call.word)
        if block is not None:
            names = {p.name.lower() for p in block.params}
            if len(call.args) > len(names):
                raise NetcError.at(call.args[len(names)].span, f"block '{block.name}' takes {len(names)} "
                                   f"argument(s); got {len(call.args)}")
            for name, _, span in call.kwargs:
                if name.lower() not in names:
                    raise NetcError.at(span, f"block '{block.name}' has no argument '{name}'",
                                       did_you_mean(name, [p.name for p in block.params]))
            return
        found = lookup_word(call.word)
        if found is None:
            raise NetcError.at(call.span, f"unknown layer or block '{call.text}'", self.suggest(call))
        kind, fixed = found
        bind_attrs(kind, fixed, call, self.program.defaults, lambda expr: None)


def network_source(program: ast.Program) -> NetworkSource:
    blocks = {
        name: BlockSignature(name, tuple((p.name, p.default) for p in block.params), block.form, block.span)
        for name, block in program.blocks.items()
    }
    heads = tuple((head.name, head.origin) for head in program.heads)
    body = program.network.span if program.network is not None else None
    return NetworkSource(program.path, program.name_span, body, dict(program.params), blocks, heads, program.init,
                         tuple(name for name, _ in program.freeze),
                         tuple(head.name for head in program.heads if head.train_only))


def _parts(block: ast.BlockDef) -> list[ast.Seq]:
    """The DSL sequences a block is written with."""
    parts = [block.body, *block.branches, block.after]
    if isinstance(block.shortcut, ast.Seq):
        parts.append(block.shortcut)
    return [p for p in parts if p is not None]


def _calls(item: ast.Item):
    """Every call in an item, in order (without expanding anything)."""
    stack = [item]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Call):
            yield current
        elif isinstance(current, ast.Seq):
            stack.extend(reversed(current.items))
        elif isinstance(current, ast.Repeat):
            stack.append(current.body)


def expand(program: ast.Program, max_layers: int = DEFAULT_MAX_LAYERS) -> Network:
    """Unroll a program into its layer graph. Raises NetcError with the offending span."""
    expander = _NetworkExpander(program, max_layers)
    try:
        return expander.network()
    except LimitError as exc:  # a limit stops expansion: report it after what was found before it
        found = list(expander.errors.found)
        found += [d for d in exc.diagnostics if d not in found]
        raise NetcError(found[:MAX_ERRORS]) from None
    except RecursionError:
        deep = Diagnostic("error", "the network is nested too deeply to expand (blocks within blocks within …)",
                          program.network.span)
        raise NetcError(expander.errors.found[: MAX_ERRORS - 1] + [deep]) from None


__all__ = ["DEFAULT_MAX_LAYERS", "KINDS", "expand"]
