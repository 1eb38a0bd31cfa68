"""`reset_parameters`: the spec's `init:` as a method of the generated network class.

One loop over `self.modules()` with an isinstance test per kind the spec names (the nn classes
are those the kind's own constructor builds for the network's layers, so no kind name is compared
here), then, for `zero_init_residual`, the last batch norm of every residual body by its module
path. __init__ calls it last; a user calls it again to re-initialise. Without `init:` nothing is
written and every layer keeps PyTorch's own initialisation.
"""

from __future__ import annotations

from typing import Any

from ...analysis.infer import Analysis
from ...frontend.initspec import METHODS, InitCall, InitSpec
from ...graph.ir import Network, ScopeKind
from ...layers import KINDS, SHORTCUT_KIND, Conditional, Constructor, has_parameters
from .pysrc import Block, Bracketed, Comment, Item, Raw, Stmt, comment, literal, module_expression, where

METHOD_NAME = "reset_parameters"


def init_method(analysis: Analysis, paths: dict[str, str]) -> tuple[list[Any], list[Any]]:
    """(statements that end __init__, the method's block), both empty without `init:`."""
    spec = analysis.network.source.init
    if spec is None:
        return [], []
    body: list[Any] = [Comment(comment(f"as the spec's init: says ({where(spec.span)}); PyTorch's own for the rest"))]
    branches = _kind_branches(analysis, spec)
    if branches:
        body.append(Block("for m in self.modules()", branches))
    residual = _residual_norms(analysis.network, paths) if spec.zero_init_residual else []
    if residual:
        body.append(Comment("zero_init_residual: each residual body's last BN starts at 0 (the block starts as "
                            "its shortcut)"))
        body.append(Block(("for norm in ", Bracketed("(", ")", [Item(Raw(module_expression(p))) for p in residual] +
                                                  ([Item(Raw(""))] if len(residual) == 1 else []))),
                          [Stmt(Raw("nn.init.zeros_(norm.weight)"))]))
    if len(body) == 1:
        body.append(Stmt(Raw("pass")))  # init: names no kind the network has
    method = Block(f"def {METHOD_NAME}(self) -> None", body)
    return [Stmt(Raw(f"self.{METHOD_NAME}()"))], [method]


def _kind_branches(analysis: Analysis, spec: InitSpec) -> list[Any]:
    """One isinstance branch per kind the rule names. Every module of those classes in the network is
    matched, also one another kind builds (the automatic shortcut's 1×1 Conv2d, without a bias beside
    its batch norm), so a tensor the kind declares optional (Learned.switch) is guarded unless every
    such module is known to have it; a tensor the kind's module lacks (PReLU's bias) is never written."""
    net = analysis.network
    built: dict[str, list[tuple[str, dict]]] = {}  # nn class → (kind, attributes) of each layer building one
    for node in net.nodes():
        if not node.inputs:
            continue
        for name in _classes(KINDS[node.kind].constructor(node.attrs, list(analysis[node.id].inputs))):
            built.setdefault(name, []).append((node.kind, node.attrs))
    branches: list[Any] = []
    for kind_name, rule in spec.kinds.items():
        kind = KINDS[kind_name]
        classes: list[str] = []
        for node in net.nodes():
            if node.kind != kind_name or not node.inputs:  # the nodes of the kind the rule names
                continue
            build = kind.constructor(node.attrs, list(analysis[node.id].inputs))
            build = build.module if isinstance(build, Conditional) else build
            if isinstance(build, Constructor):
                name = build.cls if build.source else f"nn.{build.cls}"
                if name not in classes:
                    classes.append(name)
        if not classes:
            continue
        layers = [layer for name in classes for layer in built.get(name, [])]
        steps: list[Any] = []
        for tensor, call in (("weight", rule.weight), ("bias", rule.bias)):
            declared = kind.learned_tensor(tensor)
            if declared is None:
                continue
            # Only an optional tensor may be missing (a Conv2d always has its weight, whoever builds it).
            may_lack = declared.switch is not None and any(
                owner != kind_name or not kind.has_tensor(attrs, tensor) for owner, attrs in layers)
            steps += _steps(f"m.{tensor}", call, may_lack)
        if not steps:
            continue
        test = classes[0] if len(classes) == 1 else "(" + ", ".join(classes) + ")"
        keyword = "if" if not branches else "elif"
        branches.append(Block(f"{keyword} isinstance(m, {test})", steps))
    return branches


def _classes(build: Constructor | Conditional | None) -> list[str]:
    """The classes of the modules a layer's constructor makes, nested ones (an nn.Sequential's) too,
    spelled as the generated code spells them."""
    if isinstance(build, Conditional):
        return _classes(build.module) + _classes(build.identity)
    if not isinstance(build, Constructor):
        return []
    found = [build.cls if build.source else f"nn.{build.cls}"]
    for arg in build.args:
        found += _classes(arg) if isinstance(arg, (Constructor, Conditional)) else []
    return found


def _steps(tensor: str, call: InitCall | None, may_be_none: bool) -> list[Any]:
    if call is None or call.writes_nothing:
        return []
    function, _ = METHODS[call.method]
    args = dict(call.args)
    extra: list[str] = []
    if call.method in ("kaiming_normal", "kaiming_uniform"):
        extra = [f"mode={_quoted(args['mode'])}", f"nonlinearity={_quoted(args['nonlinearity'])}"]
    elif call.method in ("xavier_normal", "xavier_uniform") and args["gain"] != 1.0:
        extra = [f"gain={literal(args['gain'])}"]
    elif call.method in ("normal", "trunc_normal"):
        extra = ([f"mean={literal(args['mean'])}"] if args["mean"] else []) + [f"std={literal(args['std'])}"]
    elif call.method == "uniform":
        extra = [literal(-args["bound"]), literal(args["bound"])]
    elif call.method == "constant":
        extra = [literal(args["value"])]
    statement = Stmt(Raw(f"nn.init.{function}({', '.join([tensor] + extra)})"))
    return [Block(f"if {tensor} is not None", [statement])] if may_be_none else [statement]


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _residual_norms(net: Network, paths: dict[str, str]) -> list[str]:
    """The module paths of the last batch norm of each residual body, in network order."""
    found: list[str] = []
    for scope in net.scopes.values():
        signature = net.source.blocks.get(scope.block or "")
        if scope.kind != ScopeKind.BLOCK or signature is None or signature.form != "residual":
            continue
        body_end = _body_end(net, scope)
        norm = _last_norm(net, body_end, scope.entry) if body_end else None
        if norm is not None and norm in paths:
            found.append(paths[norm])
    return found


def _body_end(net: Network, scope) -> str | None:
    """The residual merge's first input: the body's end (its second is the shortcut's)."""
    shortcut_ends = {scope.entry}
    for child in scope.children:
        if net.is_scope(child) and net.scopes[child].kind == ScopeKind.SHORTCUT:
            shortcut_ends.add(net.scopes[child].exit)
        elif not net.is_scope(child) and net.node(child).kind == SHORTCUT_KIND:
            shortcut_ends.add(child)
    for child in reversed(scope.children):
        if net.is_scope(child):
            continue
        node = net.node(child)
        if KINDS[node.kind].merges and len(node.inputs) == 2 and node.inputs[1] in shortcut_ends:
            return node.inputs[0]
    return None


def _last_norm(net: Network, node_id: str, entry: str | None) -> str | None:
    """Back from the body's end over layers without parameters (activations, dropout) to a batch
    norm; none when a layer with parameters or a merge comes first."""
    while node_id != entry:
        node = net.node(node_id)
        kind = KINDS[node.kind]
        if kind.batch_norm:
            return node_id
        if has_parameters(kind) or kind.merges or len(node.data_inputs) != 1:
            return None
        node_id = node.data_inputs[0]
    return None
