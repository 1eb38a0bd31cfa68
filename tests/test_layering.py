"""The package's layering, checked from its source (netc/ parsed with Python's ast module).

- No import cycles among netc's modules (imports inside functions included), and no module
  imports the package's face (netc/__init__.py).
- Code generation reads only the IR: netc/backends/codegen imports none of the front end (the AST, the
  parser, the spec reader, the expander). Templates come from the expander through the network.
- Backends ask the kind: outside netc/layers/ no code compares a node's kind with a literal name.
- The analysis path (netc/layers, ir, infer, table, drawing, …) imports no torch at module level.
- Stage order: every module belongs to one stage of STAGES (front end, kinds, spec program, graph IR,
  analysis, backends, tools, the face), and an import never runs back up to a later stage.
  scripts/restructure.py writes STAGES for the folder-per-stage layout when it moves the modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "netc"


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The netc modules a module imports, wherever the import statement is."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    deps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                deps.add(full if full in MODULES else target)
        elif isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names)
    return {d for d in deps if d in MODULES and d != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


# STAGES: begin (written by scripts/restructure.py)
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("netc.errors", "netc.version", "netc.limits")),
    ("frontend", ("netc.frontend",)),
    ("layers", ("netc.layers",)),
    ("program", ("netc.frontend.program",)),
    ("graph", ("netc.graph",)),
    ("analysis", ("netc.analysis",)),
    ("backends", ("netc.backends",)),
    ("tools", ("netc.training", "netc.transfer", "netc.importer")),
    ("face", ("netc.cli", "netc.__main__", "netc")),
)
# STAGES: end


def _stage(module: str) -> int | None:
    """The index in STAGES of the longest prefix naming `module` ("netc" alone names only the face)."""
    best, length = None, -1
    for index, (_, prefixes) in enumerate(STAGES):
        for prefix in prefixes:
            inside = module == prefix or (prefix != "netc" and module.startswith(prefix + "."))
            if inside and len(prefix) > length:
                best, length = index, len(prefix)
    return best


def _upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} ({STAGES[_stage(m)][0]}) imports {d} ({STAGES[_stage(d)][0]})"
                  for m, deps in graph.items() for d in deps
                  if _stage(m) is not None and _stage(d) is not None and _stage(d) > _stage(m))


def test_every_module_has_a_stage():
    assert [m for m in MODULES if _stage(m) is None] == [], "add these modules to STAGES (scripts/restructure.py)"


def test_no_import_runs_back_up_a_stage():
    assert _upward_imports(GRAPH) == []


def test_the_stage_check_sees_an_upward_import():
    analysis, backends = STAGES[5][1][0], STAGES[6][1][0]  # the analysis stage reading code generation
    assert _stage(analysis) == 5 and _stage(backends) == 6
    found = _upward_imports({analysis: {backends}})
    assert len(found) == 1 and "(analysis) imports" in found[0]


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(GRAPH[module]):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        state[module] = 2
        stack.pop()
        return None

    for module in sorted(GRAPH):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_no_import_cycles_and_no_import_of_the_package_face():
    assert _cycle() is None, " → ".join(_cycle() or [])
    inside = [m for m, deps in GRAPH.items() if "netc" in deps and m not in ("netc", "netc.__main__")]
    assert inside == []


def test_the_checker_finds_a_cycle():
    GRAPH["netc.graph.ir"].add("netc.backends.codegen.emit")  # ir → emit → … → ir
    try:
        assert _cycle() is not None
    finally:
        GRAPH["netc.graph.ir"].discard("netc.backends.codegen.emit")


FRONT_END = {"netc.frontend.ast", "netc.frontend.parse", "netc.frontend.program", "netc.graph.expand", "netc.graph.expander", "netc.graph.attributes", "netc.frontend.spec"}


def test_code_generation_reads_only_the_ir():
    for module, deps in GRAPH.items():
        if module.startswith("netc.backends.codegen"):
            front = {d for d in deps if d in FRONT_END or d.startswith("netc.frontend.program.")}
            assert not front, f"{module} imports {front}"


def _kind_name_comparisons(path: Path) -> list[int]:
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names_kind = any(isinstance(o, ast.Attribute) and o.attr == "kind" for o in operands)
            literal = any(isinstance(o, ast.Constant) and isinstance(o.value, str) for o in operands) or any(
                isinstance(o, (ast.Tuple, ast.Set, ast.List)) and o.elts and
                all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in o.elts) for o in operands)
            if names_kind and literal:
                lines.append(node.lineno)
    return lines


def test_backends_never_compare_kind_names():
    for module, path in MODULES.items():
        if module.startswith("netc.layers"):
            continue
        assert _kind_name_comparisons(path) == [], f"{path}: compares a kind with a name"


def test_the_kind_name_check_sees_a_comparison(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('if node.kind == "projection":\n    pass\nif scope.kind in ("stage", "head"):\n    pass\n')
    assert _kind_name_comparisons(probe) == [1, 3]


ANALYSIS_PATH = ("netc.layers", "netc.graph.ir", "netc.analysis.infer", "netc.analysis.annotated", "netc.analysis.table", "netc.backends.drawing",
                 "netc.graph.expand", "netc.graph.expander", "netc.graph.templates", "netc.frontend.symbolic", "netc.analysis.memory", "netc.frontend.program",
                 "netc.graph.points", "netc.graph.attributes", "netc.frontend.exprs", "netc.frontend.parse", "netc.frontend.spec", "netc.backends.schema")


def test_the_analysis_path_imports_no_torch_at_module_level():
    for module, path in MODULES.items():
        if not module.startswith(ANALYSIS_PATH):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "torch" or n.startswith("torch.") for n in names), f"{module} imports torch"
