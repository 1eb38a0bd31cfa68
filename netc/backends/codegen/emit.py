"""The one emitter: the elements of one generated class, from an IR fragment.

Every class is written from IR alone: the network class from the network, a block's per-use class
from that instance's part of the network, a generic block class from the block's template
(netc/graph/templates.py). Each node becomes an element, asking its kind for the module (`constructor`)
and the forward expression (`forward`); a node whose forward is its input becomes nothing. Scopes
become groups — stages, branches, shortcuts, heads: an nn.Sequential when they are simple chains —
a block instance with a class of its own becomes one instance of that class, and a template's loop
(a repeat counted by an argument) becomes a for loop in __init__.

Sizes come from the analysis (`ClassSource.template` is None: every size is a number) or, in a
generic class, from the kinds' symbolic shape rules applied as the emitter goes, starting from
`in_channels` channels and an unknown height and width; every instance's numbers are gathered for
the comments, and the class is checked against each instance's analysis as it is written.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import replace
from fractions import Fraction
from typing import Any

from ...frontend.symbolic import SPATIAL, NeedsSpatial, Sym, Var, as_int, binary, names_of, substitute, value_at
from ...graph.ir import ScopeKind
from ...graph.templates import NotGeneric
from ...layers import KINDS, Conditional, Constructor
from ...layers.base import LayerKind, NoSymbolicRule, exact
from .class_source import ClassRef, ClassSource, Sized, constructor_expr, hands_input_on, not_generic, note, shape_text
from .comments import Slot, last_value
from .elements import Container, Element, Group, Handle, Loop, Note, call_module
from .inference import current_plan
from .names import init_local
from .pysrc import Bracketed, Raw, Stmt, literal


class Emitter:
    """Elements for the IR nodes and scopes of one class."""

    def __init__(self, source: ClassSource, x: Handle, recording: bool = True, within: Emitter | None = None):
        self.src = source
        self.net = source.network
        self.generic = source.template is not None
        self.recording = recording and source.slots is not None
        self.handles: MutableMapping[str, Handle]
        self.sized: MutableMapping[str, Sized]
        self.taken: LayeredSet | set[str]
        if within is not None:
            # A walk inside `within`'s (a block instance's sizes): it reads what the outer walk knows
            # and keeps what it adds to itself. Copying the outer maps at each of 100,000 block uses
            # was quadratic in the uses (and in the params, which `taken` holds).
            self.handles, self.sized = _overlay(within.handles), _overlay(within.sized)
            self.taken = LayeredSet(within.taken)
        else:
            self.handles, self.sized = {}, {}
            self.taken = set(source.locals_taken)
        self.renamed: dict[str, Any] = {}  # a loop index → the variable __init__ names it (when renamed)
        self.readers = self.net.readers  # read only
        self.plan = current_plan()  # the inference build's (netc/backends/codegen/inference.py), or None
        self.fold_into: dict[str, str] = {}  # batch norm → the layer it is folded into (inference build)
        self.comments: dict[tuple[Any, Any], str | None] = {}  # (shape, span) → its comment (`note`)
        if source.entry is not None and within is None:
            self.handles[source.entry] = x
            if self.generic:
                self.sized[source.entry] = Sized(tuple(self.net.node(source.entry).attrs["shape"]))

    # --- facts -------------------------------------------------------------------------------------
    def info(self, ir_id: str, repetition: int = 0):
        """The analysis of the analysed node an IR node stands for (itself outside templates)."""
        return self.src.analysis[self.instance_id(ir_id, repetition)]

    def instance_id(self, ir_id: str, repetition: int = 0) -> str:
        return self.src.found[ir_id][repetition] if self.generic else ir_id

    def shared(self, node_id: str) -> bool:
        return len(self.readers.get(node_id, ())) > 1 or node_id in self.src.pinned

    # --- the fragment ------------------------------------------------------------------------------
    def children(self, children: Sequence[str], container: Container, tag: str) -> None:
        for child in children:
            if self.net.is_scope(child):
                self.scope(child, container, tag)
            else:
                self.node(child, container, tag)

    def node(self, node_id: str, container: Container, tag: str) -> None:
        node = self.net.node(node_id)
        if node_id in self.handles:
            return
        if not node.inputs:  # the network input is forward's argument; a named one is called by its name
            self.handles[node_id] = Handle(tag, pinned=True, var=node.attrs.get("name"))
            return
        kind = KINDS[node.kind]
        inputs = [self.handles[i] for i in node.inputs]
        attrs = {k: substitute(v, self.renamed) for k, v in node.attrs.items()} if self.renamed else dict(node.attrs)
        if self.generic:
            in_shapes = [self.sized[i].shape for i in node.inputs]
            attrs.update(self.resolve(node_id, kind, attrs, in_shapes))
        else:
            in_shapes = list(self.src.analysis[node_id].inputs)
        build, alternative = self.module(node_id, kind, attrs, in_shapes)
        if self.generic:
            shape = self.symbolic_shape(node_id, kind, attrs, in_shapes)
            self.sized[node_id] = Sized(shape, self.stride(node_id, kind, attrs, in_shapes, shape))
        try:
            passes_on = hands_input_on(kind, attrs, build, in_shapes)
        except (NeedsSpatial, NoSymbolicRule) as exc:
            raise not_generic(kind, exc) from None
        if passes_on:
            self.handles[node_id] = inputs[0]
            return
        if self.plan is not None and (kind.eval_identity or node_id in self.fold_into):
            self.pass_on(node_id, inputs[0])  # left out of the inference build
            return
        if self.plan is not None and build is not None and self.folds_next(node_id, kind, attrs):
            attrs = kind.with_bias(attrs)
            build, alternative = self.module(node_id, kind, attrs, in_shapes)
        inside = kind.batch_norm_inside(attrs) if self.plan is not None and build is not None else None
        if inside is not None:  # a projection shortcut's conv + bn: one conv with a bias
            attrs, eps = inside
            build, alternative = self.module(node_id, kind, attrs, in_shapes)
            for instance in (self.src.found.get(node_id, []) if self.generic else [node_id]):
                self.plan.folded_inside[instance] = eps  # type: ignore[union-attr]
        data = [h for i, h in enumerate(inputs) if i not in node.shape_only]
        in_place = isinstance(build, Constructor) and len(data) == 1 and data[0].overwritable and kind.runs_in_place(attrs)
        if in_place:
            build = replace(build, kwargs=tuple(build.kwargs) + (("inplace", True),))
        info = self.info(node_id)
        # Without autograd (the inference build) no backward reads an output, an in-place one's neither.
        keeps_output = self.plan is not None and not kind.overwritable and self.keeps_output(node_id, kind)
        overwritable = ((kind.overwritable or keeps_output) and info.new_tensor and (not in_place or self.plan is not None)
                        and not self.shared(node_id))
        out = Handle(kind.output_variable or tag, overwritable=overwritable, pinned=node_id in self.src.pinned)
        self.handles[node_id] = out
        self.name_point(node_id, out)
        name = node.local_name
        # Values forward reads from the module are named by the node's path in the class: two
        # branches' `slice1` keep `branch1_slice1_stop` and `branch2_slice1_stop`.
        fattrs, fshapes, module_values = self.forward_values(node_id.replace(".", "_"), attrs, in_shapes)

        def forward(module, args, attrs=fattrs, shapes=fshapes, kind=kind):
            return kind.forward(attrs, module, args, shapes)

        try:
            text = forward("\0m" if build is not None else None, [f"\0{i}" for i in range(len(inputs))])
        except (NeedsSpatial, NoSymbolicRule) as exc:
            raise not_generic(kind, exc) from None
        module_values = [(n, v) for n, v in module_values if f"self.{n}" in text]
        paths = {self.instance_id(node_id): ""} if build is not None else {}
        expr = constructor_expr(build) if build is not None else None
        accumulate = None
        if build is None and len(data) == len(inputs) and data and data[0].overwritable and data[0] not in data[1:]:
            def accumulate(args, attrs=fattrs, kind=kind):  # `out += shortcut`: the body's output overwritten
                return kind.in_place_forward(attrs, args)
            if kind.in_place_forward(fattrs, [f"\0{i}" for i in range(len(inputs))]) is None:
                accumulate = None
        element = Element(name, expr, forward, inputs, out, self.note(node_id, node.span), paths,
                          shape_only=tuple(node.shape_only), shapes_at_run_time=kind.shapes_at_run_time,
                          alternative=alternative, module_values=module_values,
                          in_place=accumulate)
        element.source = node_id  # type: ignore[attr-defined]
        container.add(element)

    # --- the inference build (netc/backends/codegen/inference.py) ------------------------------------------
    def folds_next(self, node_id: str, kind: LayerKind, attrs: dict[str, Any]) -> bool:
        """Whether the batch norm reading this layer's output is folded into it: its only reader, a
        batch norm in the same scope reading nothing else, and neither is an output of the class."""
        if kind.folds_batch_norm(attrs) is None or node_id in self.src.pinned:
            return False
        readers = self.readers.get(node_id, set())
        if len(readers) != 1:
            return False
        (norm_id,) = readers
        norm = self.net.node(norm_id)
        if not KINDS[norm.kind].batch_norm or list(norm.data_inputs) != [node_id] or len(norm.inputs) != 1:
            return False
        if norm.scope != self.net.node(node_id).scope:
            return False
        self.fold_into[norm_id] = node_id
        assert self.plan is not None
        if self.generic:  # every instance (every repetition of a loop) the class stands for
            for norm_instance, layer_instance in zip(self.src.found.get(norm_id, []), self.src.found.get(node_id, [])):
                self.plan.folded[norm_instance] = layer_instance
        else:
            self.plan.folded[norm_id] = node_id
        return True

    def pass_on(self, node_id: str, handle: Handle) -> None:
        """A node the inference build leaves out: later layers read its input, which may then be
        overwritten only where this node's output could have been."""
        handle.overwritable = handle.overwritable and not self.shared(node_id)
        handle.pinned = handle.pinned or node_id in self.src.pinned
        self.handles[node_id] = handle
        self.name_point(node_id, handle)

    def keeps_output(self, node_id: str, kind: LayerKind) -> bool:
        """Whether the kind may not be overwritten only because its backward reads its output."""
        instance = self.src.analysis.network.node(self.instance_id(node_id))
        info = self.info(node_id)
        return kind.saved(instance.attrs, list(info.inputs), info.shape).output

    def module(self, node_id: str, kind: LayerKind, attrs: dict[str, Any], in_shapes: list[Any]):
        """The node's module, and the alternative a generic class chooses in __init__ (`if … else`)."""
        try:
            build = kind.constructor(attrs, in_shapes)
        except (NeedsSpatial, NoSymbolicRule) as exc:
            raise not_generic(kind, exc) from None
        if not isinstance(build, Conditional):
            return build, None
        if not self.generic:
            raise AssertionError(f"netc: {kind.name} chose its module when every size is known")
        pairs = tuple((a, b) for a, b in build.equal if a != b)
        try:
            same = [value_at(a, self.src.env) == value_at(b, self.src.env) for a, b in pairs]
        except KeyError:
            names = frozenset().union(*(names_of(a) | names_of(b) for a, b in pairs))
            raise NotGeneric(names, f"{kind.name} chooses its module from sizes the class does not know") from None
        instance = self.src.analysis.network.node(self.instance_id(node_id))
        info = self.info(node_id)
        if all(same) != kind.passes_input(instance.attrs, list(info.inputs)):
            raise NotGeneric(None, f"{kind.name} chooses otherwise than the analysis for {instance.id}")
        if all(not isinstance(v, Sym) for pair in pairs for v in pair):  # decided now
            return (build.identity if all(same) else build.module), None
        condition = " and ".join(f"{literal(a) if not isinstance(a, Sym) else str(a)} == "
                                 f"{literal(b) if not isinstance(b, Sym) else str(b)}" for a, b in pairs)
        return build.identity, (condition, constructor_expr(build.module))

    def name_point(self, node_id: str | None, handle: Handle) -> None:
        """A tensor a mark names and later layers read is forward's variable of that name (skip2)."""
        point = self.net.points.get(node_id or "")
        if point is not None and node_id != self.src.exit and handle.prefer is None and len(self.readers.get(node_id or "", ())) > 1:
            handle.prefer = point

    # --- a generic class: sizes as expressions ------------------------------------------------------
    def resolve(self, node_id: str, kind: LayerKind, attrs: dict[str, Any], in_shapes: list[Any]) -> dict[str, Any]:
        """What the kind decides from its inputs (the automatic shortcut's stride), from the strides
        since the block input; checked against the instance's analysis."""
        node = self.net.node(node_id)
        jumps = [self.sized[i].stride for i in node.inputs]
        if type(kind).resolve is LayerKind.resolve:
            return {}
        try:
            resolved = kind.resolve(attrs, in_shapes, jumps)
        except NoSymbolicRule as exc:
            raise not_generic(kind, exc) from None
        instance = self.src.analysis.network.node(self.instance_id(node_id))
        for key, value in resolved.items():
            if value_at(value, self.src.env) != instance.attrs.get(key):
                raise NotGeneric(None, f"{kind.name} {key} differs from the analysis for {instance.id}")
        return resolved

    def symbolic_shape(self, node_id: str, kind: LayerKind, attrs: dict[str, Any], in_shapes: list[Any]):
        concrete = all(isinstance(d, int) for s in in_shapes for d in s) and not any(
            isinstance(v, Sym) for v in attrs.values())
        try:
            if concrete:
                shape = tuple(kind.infer(attrs, [tuple(s) for s in in_shapes])[0])
            else:
                shape = tuple(kind.symbolic_shape(attrs, in_shapes))
        except (NoSymbolicRule, NeedsSpatial) as exc:
            raise not_generic(kind, exc) from None
        if len(shape) != len(self.info(node_id).shape):
            raise NotGeneric(None, f"the rank of {node_id} differs from the analysis")
        # A size the rule states as a number must be every instance's: a rule written for a block's
        # unknown height and width may pass a known one through unchanged (the network class's).
        for instance in self.src.found.get(node_id, []):
            actual = self.src.analysis[instance].shape
            if any(isinstance(mine, int) and mine != real for mine, real in zip(shape, actual)):
                stated = "×".join(d.source() if isinstance(d, Sym) else str(d) for d in shape)
                raise NotGeneric(None, f"{kind.name}'s size rule states {stated} where {instance} is "
                                 f"{'×'.join(map(str, actual))}")
        return shape

    def stride(self, node_id: str, kind: LayerKind, attrs: dict[str, Any], in_shapes: list[Any], shape) -> Any:
        """The stride product since the block input, as an expression; None when unknown. A merge
        is on the grid of its inputs of its own size (a broadcast C×1×1 gate is on none), as in infer."""
        node = self.net.node(node_id)
        data = node.data_inputs
        strides = [self.sized[i].stride for i in data if self.sized[i].shape[1:] == tuple(shape[1:])] or [
            self.sized[i].stride for i in data]
        if len(strides) > 1:  # a merge: its inputs share one grid
            return strides[0] if len({str(s) for s in strides}) == 1 else None
        try:
            step = kind.receptive(attrs, in_shapes)[1]
        except (NeedsSpatial, NoSymbolicRule, TypeError):  # a rule over sizes the class does not know (Fraction of an expression)
            return None
        if isinstance(step, tuple):  # a step per axis (a 3×1 pool of stride (2, 1)): no one stride
            return None
        before = strides[0]
        if before is None:
            return None
        if isinstance(step, Fraction) or isinstance(before, Fraction):  # upsampled: numbers only
            numeric = not isinstance(before, Sym) and not isinstance(step, Sym)
            return exact(before * step) if numeric else None
        return binary("*", before, step)

    def forward_values(self, name: str, attrs: dict[str, Any], shapes: list[Any]):
        """Attributes and shapes for a kind's forward: an argument-dependent value (a zero-pad
        shortcut's stride) is kept on the module in __init__ and read back as `self.<name>`."""
        if not self.generic:  # every size a number: nothing to keep (and 100,000 layers spare the walk)
            return attrs, shapes, []
        kept: list[tuple[str, Any]] = []

        def keep(key: str, value: Any) -> Any:
            if not isinstance(value, Sym):
                return value
            attr = f"{name}_{key}"
            kept.append((attr, value))
            return Var(f"self.{attr}", attr, value.names, value.is_int)

        fattrs = {k: keep(k, v) for k, v in attrs.items()}
        fshapes = [tuple(keep(f"channels{i}" if j == 0 else f"size{i}_{j}", d) for j, d in enumerate(shape))
                   if any(isinstance(d, Sym) for d in shape) else shape for i, shape in enumerate(shapes)]
        return fattrs, fshapes, kept

    # --- comments ------------------------------------------------------------------------------------
    def note(self, ir_id: str, span: Any, shape: Any = None, stride: Any = "unset") -> Note:
        if not self.generic:
            # One text per shape and place in the spec: a word repeated 100,000 times is worded once
            # (where() asks for the current directory at every call).
            layer = self.src.analysis[ir_id]
            shape = layer.shape
            text = self.comments.get((shape, span, layer.rows))
            if text is None:
                # A tensor per RoI has all the batch's boxes first (K), not the images (B).
                words = shape_text(shape, "K") if layer.rows else shape
                text = self.comments[(shape, span, layer.rows)] = note(words, span).text
            return Note(text)
        sized = self.sized[ir_id]
        result = Note()
        if self.recording:
            entry = self.src.analysis[self.src.instance_entry]
            info = self.info(ir_id)
            ratio = exact(Fraction(info.jump[0]) / entry.jump[0])  # the height's; comment_text checks each axis's sizes
            self.src.slots.append(Slot(result, sized.shape if shape is None else shape,
                                       sized.stride if stride == "unset" else stride, span,
                                       [(tuple(entry.shape[1:]), tuple(info.shape[1:]), ratio)]))
        return result

    # --- scopes --------------------------------------------------------------------------------------
    def scope(self, scope_id: str, container: Container, tag: str) -> None:
        scope = self.net.scopes[scope_id]
        entry = self.handles[scope.entry] if scope.entry is not None else None
        local = scope_id.rsplit(".", 1)[-1]
        if scope.kind == ScopeKind.LOOP:
            self.loop(scope_id, container, tag)
            return
        if scope.kind == ScopeKind.BLOCK:
            ref = self.src.refs.get(self.instance_id(scope_id))
            if ref is not None and entry is not None:
                self.block_instance(scope_id, ref, entry, container, tag)
                return
            if self.generic:
                raise NotGeneric(None, f"block '{scope.block}' inside it is written per use")
        if scope.kind == ScopeKind.HEAD:
            local, tag = scope.label, self.head_var(scope.label)
            origin = self.src.heads.get(scope.label)
            if origin and entry is not None and entry.prefer is None and entry.var is None:
                entry.prefer = origin
        elif scope.kind == ScopeKind.BRANCH:
            tag = local
        elif scope.kind == ScopeKind.SHORTCUT:
            local = tag = "shortcut"
        group = Group(local, tag, entry or Handle(), Note())
        self.children(scope.children, group, tag)
        if scope.exit:
            group.note = self.note(scope.exit, scope.span)
        elif not self.generic:
            group.note = note("", scope.span)
        self.pin_escapes(scope.children)
        exit_ = self.handles.get(scope.exit, entry) if scope.exit else entry
        for element in group.finish(exit_):
            container.add(element)

    @staticmethod
    def head_var(head: str) -> str:
        from .elements import head_tag

        return head_tag(head)

    def block_instance(self, scope_id: str, ref: ClassRef, entry: Handle, container: Container, tag: str) -> None:
        scope = self.net.scopes[scope_id]
        out = Handle(tag, pinned=scope.exit in self.src.pinned)
        if not self.generic:
            self.handles[scope.exit] = out
            self.name_point(scope.exit, out)
            info = self.src.analysis[scope.exit]
            build = Bracketed(f"{ref.class_name}(", ")", ref.call_items(self.src.analysis[scope.entry].shape[0],
                                                                      scope.args))
            container.add(Element(scope_id.rsplit(".", 1)[-1], build, call_module, [entry], out,
                                  note(info.shape, scope.span), dict(ref.paths)))
            return
        if not ref.generic:
            self.concrete_instance(scope_id, ref, entry, out, container)
            return
        channels = self.sized[scope.entry].shape[0]
        for name in ref.static:
            if isinstance(scope.args[name], Sym):
                raise NotGeneric(scope.args[name].names, f"argument '{name}' of '{scope.block}' must be known")
        if ref.static_in and isinstance(channels, Sym):
            raise NotGeneric(channels.names, f"the input channels of '{scope.block}' must be known")
        # The inner class's sizes, from a walk written nowhere; its strides count from its own input.
        inner = Emitter(self.src, Handle(), recording=False, within=self)
        outer_stride = self.sized[scope.entry].stride
        inner.sized[scope.entry] = Sized(self.sized[scope.entry].shape, 1)
        inner.renamed = self.renamed
        inner.children(scope.children, Container(), "")
        end = inner.sized[scope.exit]
        stride = None if outer_stride is None or end.stride is None else (
            exact(outer_stride * end.stride) if not isinstance(outer_stride, Sym) and not isinstance(end.stride, Sym)
            else binary("*", outer_stride, end.stride))
        self.sized[scope.exit] = Sized(end.shape, stride)
        self.handles[scope.exit] = out
        self.name_point(scope.exit, out)
        build = Bracketed(f"{ref.class_name}(", ")", ref.call_items(channels, scope.args))
        element = Element(scope_id.rsplit(".", 1)[-1], build, call_module, [entry], out, self.note(scope.exit, scope.span),
                          dict(ref.paths))
        element.source = scope_id  # type: ignore[attr-defined]
        container.add(element)

    def concrete_instance(self, scope_id: str, ref: ClassRef, entry: Handle, out: Handle, container: Container) -> None:
        """A block written per use, inside a generic class: only where every use this call stands
        for is that one class with all its sizes known (the network class, netc/backends/codegen/network_class.py,
        calling `Basic_1()` in a loop over a param); otherwise the class cannot be generic."""
        scope = self.net.scopes[scope_id]
        instances = self.src.found.get(scope_id, [])
        refs = [self.src.refs.get(i) for i in instances]
        known = all(not isinstance(d, Sym) and d is not SPATIAL for d in self.sized[scope.entry].shape)
        if (not instances or not known or any(isinstance(v, Sym) for v in scope.args.values())
                or any(r is None or r.class_name != ref.class_name for r in refs)):
            raise NotGeneric(None, f"block '{scope.block}' inside it is written per use")
        self.sized[scope.exit] = Sized(self.info(scope.exit).shape, None)
        self.handles[scope.exit] = out
        self.name_point(scope.exit, out)
        build = Bracketed(f"{ref.class_name}(", ")", [])
        element = Element(scope_id.rsplit(".", 1)[-1], build, call_module, [entry], out, self.note(scope.exit, scope.span),
                          dict(ref.paths))
        element.source = scope_id  # type: ignore[attr-defined]
        container.add(element)

    def pin_escapes(self, children: Sequence[str]) -> None:
        """A child's output read by anything but the child after it cannot hide in an nn.Sequential."""
        for child, after in zip(children, list(children[1:]) + [None]):
            out = self.net.output_of(child)
            handle = self.handles.get(out)
            if handle is None or after is None:
                continue
            inside = set(self.net.nodes_in(after)) if self.net.is_scope(after) else {after}
            if not self.readers.get(out, set()) <= inside:
                handle.pinned = True

    # --- a loop: a repeat counted by an argument ------------------------------------------------------
    def loop(self, loop_id: str, container: Container, tag: str) -> None:
        loop = self.net.scopes[loop_id]
        count = loop.count
        before = self.sized[loop.entry]
        names = names_of(count) | names_of(before.shape[0])
        repetitions = len(self.src.found.get(loop.exit, [])) if loop.exit in self.src.found else 0
        if value_at(count, self.src.env) == 0 or repetitions == 0:
            raise NotGeneric(count.names, "a repeat that runs 0 times shows no body")
        list_var, channel_var = self.fresh_local("layers"), self.fresh_local("channels")
        index = self.fresh_local(loop.index.text) if loop.index is not None else "_"
        header = f"for {index} in range({as_int(count).source() if isinstance(count, Sym) else count})"
        name = container.fresh("repeat")
        entry = self.handles[loop.entry]
        body = Loop(name, entry, Note(), header, list_var, channel_var, before.shape[0])
        channel = Var(channel_var, f"@{loop_id}.channels", names)
        # The body is written once, from the loop's running tensor: `channel_var` channels, stride 1.
        self.handles[loop.entry] = Handle()
        self.sized[loop.entry] = Sized((channel,) + tuple(SPATIAL for _ in before.shape[1:]), 1)
        if loop.index is not None and index != loop.index.text:
            self.renamed[loop.index.key] = Var(index, loop.index.key, loop.index.names)
        start = self.handles[loop.entry]
        self.children(loop.children, body, tag)
        self.handles[loop.entry], self.sized[loop.entry] = entry, before
        previous = start
        for element in body.elements:
            if not element.plain or element.data_inputs() != [previous]:
                raise NotGeneric(names, "a repeat body that is not a chain of single modules")
            previous = element.out
        end = self.sized[loop.exit]
        if len(end.shape) != len(before.shape):
            raise NotGeneric(names, "a repeat body that changes the rank")
        for k in range(repetitions):
            for j, element in enumerate(body.elements):
                position = k * len(body.elements) + j
                for node_id, path in self.paths_of(element, k).items():
                    body.paths[node_id] = f"{position}.{path}" if path else str(position)
        if end.shape[0] != channel:
            body.body_tail.append(Stmt(Raw(literal(end.shape[0])), channel_var))
            self.src.env[channel.key] = self.info(loop.exit, repetitions - 1).shape[0]  # for choices made after it
        channels = channel if body.body_tail else before.shape[0]
        shape = (channels,) + tuple(SPATIAL for _ in before.shape[1:])
        stride = before.stride if end.stride == 1 else None
        self.sized[loop.exit] = Sized(shape, stride)
        out = Handle(tag)
        self.handles[loop.exit] = out
        index_var = self.renamed.get(loop.index.key, loop.index) if loop.index is not None else None
        label = (last_value(end.shape[0], index_var, count, channel.key),
                 ) + shape[1:] if body.body_tail else shape
        body.note = self.loop_note(loop, label, stride, repetitions)
        container.add(body.finish(out))

    def loop_note(self, loop, label: tuple[Any, ...], stride: Any, repetitions: int) -> Note:
        result = Note()
        if self.recording:
            entry = self.src.analysis[self.src.instance_entry]
            info = self.info(loop.exit, repetitions - 1)
            ratio = exact(Fraction(info.jump[0]) / entry.jump[0])  # the height's; comment_text checks each axis's sizes
            self.src.slots.append(Slot(result, label, stride, loop.span,
                                       [(tuple(entry.shape[1:]), tuple(info.shape[1:]), ratio)]))
        return result

    def paths_of(self, element: Element, repetition: int) -> dict[str, str]:
        """An element's module paths for one repetition of its loop."""
        source = getattr(element, "source", None)
        if source is None:
            return {}
        if self.net.is_scope(source):  # a block instance: its own class's paths
            ref = self.src.refs[self.instance_id(source, repetition)]
            return dict(ref.paths)
        return {self.instance_id(source, repetition): ""} if element.build is not None else {}

    def fresh_local(self, base: str) -> str:
        return init_local(base, self.taken)


def _overlay(under: MutableMapping[str, Any]) -> ChainMap:
    """A map that reads through to `under` and writes to a fresh map of its own."""
    return under.new_child() if isinstance(under, ChainMap) else ChainMap({}, under)


class LayeredSet:
    """A set of names that reads through to `under` and adds to a set of its own (an inner walk's
    `taken`: `under` is left as it was)."""

    def __init__(self, under: Iterable[str]):
        self.own: set[str] = set()
        self.under = under

    def __contains__(self, name: object) -> bool:
        return name in self.own or name in self.under  # type: ignore[operator]

    def add(self, name: str) -> None:
        self.own.add(name)


__all__ = ["Emitter"]
