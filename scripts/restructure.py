"""Move netc's modules into one folder per pipeline stage (issue 22), as a tool, not by hand.

Six branches change netc/ at the same time as this one, so the move is a script the lead runs once
after merging them: `python scripts/restructure.py` from the repository root. It is deterministic
(every table below is ordered, files are visited sorted) and idempotent (a second run finds every
module home, every import already resolving, and changes nothing).

What it does, in order:
1. `git mv` each module or package in MOVES to its new home (history kept); a move already done is
   skipped. Each new stage package gets an `__init__.py` whose docstring says what the stage takes
   and gives (PACKAGES).
2. Rewrites import statements in netc/, tests/, benchmarks/, scripts/ and fuzz/: the `ast` module
   finds every `import` / `from … import` (inside functions too), the module path is resolved the
   way Python would (relative imports against the file's package), mapped old → new, and written back
   in the statement's own style (relative stays relative, at the level the new place needs); only
   the module path's characters change, the rest of the line is left as it was. Dotted module names
   in code (`netc.spec.load_spec` after `import netc.spec`) and in string constants
   (`monkeypatch.setattr("netc.codegen.generate_source", …)`) follow.
3. Rewrites path mentions (`netc/liveness.py`, `netc/codegen/`) in comments, docstrings, Markdown,
   YAML, TOML and the Makefile.
4. Writes the stage table (STAGES) into tests/test_layering.py, between its `# STAGES:` markers, so
   the layering test checks that no import runs back up a stage.
5. Reports the modules under netc/ that the table does not know (new ones from other branches, e.g.
   netc/targets/): they are left where they are, and their imports of moved modules are rewritten.

Where things go, and why:
- Top level: `__init__` (the public API: netc.build, netc.analyze, …), `__main__`, `cli` (the one
  door every command comes through), `errors` (diagnostics every stage raises) and `version` (read by
  the package metadata, the CLI and every generated file's header). They belong to no one stage.
- frontend/ (text → AST): source text and spans, the YAML reader and its error wording, the DSL
  grammar's parser, the AST, expression evaluation, symbolic sizes (the same expressions kept as
  expressions: the kinds' shape rules compute with them, so they sit below netc/layers) and what
  `init:` says. frontend/program/ (the spec's YAML tree → Program) checks words against the kind
  registry, so in the stage order it comes after netc/layers although it lives in the front end's
  folder: STAGES says so explicitly.
- layers/ (the kinds) stays where it is.
- graph/ (AST → IR): the expander, the whole-network expansion, block templates, attribute binding,
  named points, scope names and the IR itself.
- analysis/ (IR → facts): inference of shapes/params/FLOPs/receptive fields, the annotated network,
  memory and liveness, the tables (text/markdown/csv/json and HTML), and the analysis path in one
  call. netc/analysis.py clashes with the package's name: it becomes netc/analysis/pipeline.py, and
  `from netc.analysis import analyze_file` becomes `from netc.analysis.pipeline import analyze_file`
  (an import from netc.analysis that names its submodules is left alone: that is the new form).
- backends/ (facts → files): code generation, drawing, ONNX export, the JSON schema, the notebook's
  HTML and safe output files (fileio: what every `-o` goes through).
- training/, transfer/, importer/ stay top-level packages: each is already one folder for one
  command family (`netc train`, `netc port`/fine-tuning, `netc import`) that uses the stages below
  it; a tools/ level above them would add a name and say nothing more.
"""

from __future__ import annotations

import argparse
import ast
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Old path → new path (files and whole packages), relative to the repository root. Order matters
# only for netc/analysis.py: it moves before anything else lands in netc/analysis/.
MOVES: tuple[tuple[str, str], ...] = (
    ("netc/analysis.py", "netc/analysis/pipeline.py"),
    # frontend: text → AST
    ("netc/source.py", "netc/frontend/source.py"),
    ("netc/spec.py", "netc/frontend/spec.py"),
    ("netc/yaml_errors.py", "netc/frontend/yaml_errors.py"),
    ("netc/parse.py", "netc/frontend/parse.py"),
    ("netc/ast.py", "netc/frontend/ast.py"),
    ("netc/exprs.py", "netc/frontend/exprs.py"),
    ("netc/symbolic.py", "netc/frontend/symbolic.py"),
    ("netc/initspec.py", "netc/frontend/initspec.py"),
    ("netc/program", "netc/frontend/program"),
    # graph: AST → IR
    ("netc/ir.py", "netc/graph/ir.py"),
    ("netc/expander.py", "netc/graph/expander.py"),
    ("netc/expand.py", "netc/graph/expand.py"),
    ("netc/templates.py", "netc/graph/templates.py"),
    ("netc/attributes.py", "netc/graph/attributes.py"),
    ("netc/points.py", "netc/graph/points.py"),
    ("netc/scopes.py", "netc/graph/scopes.py"),
    # analysis: IR → shapes, parameters, FLOPs, memory, tables
    ("netc/infer.py", "netc/analysis/infer.py"),
    ("netc/annotated.py", "netc/analysis/annotated.py"),
    ("netc/liveness.py", "netc/analysis/liveness.py"),
    ("netc/memory.py", "netc/analysis/memory.py"),
    ("netc/table.py", "netc/analysis/table.py"),
    ("netc/table_html.py", "netc/analysis/table_html.py"),
    ("netc/targets", "netc/analysis/targets"),
    # backends: analysis → source, pictures, ONNX, schema, notebook HTML, files
    ("netc/codegen", "netc/backends/codegen"),
    ("netc/drawing", "netc/backends/drawing"),
    ("netc/onnx_export.py", "netc/backends/onnx_export.py"),
    ("netc/schema.py", "netc/backends/schema.py"),
    ("netc/notebook.py", "netc/backends/notebook.py"),
    ("netc/fileio.py", "netc/backends/fileio.py"),
)

# Modules and packages that stay where they are (known, so not reported as unknown).
STAYS: tuple[str, ...] = (
    "netc/__init__.py", "netc/__main__.py", "netc/cli.py", "netc/errors.py", "netc/version.py", "netc/limits.py",
    "netc/layers", "netc/training", "netc/transfer", "netc/importer",
)

PACKAGES: dict[str, str] = {
    "netc/frontend": (
        "The front end: spec text → AST.\n\n"
        "Takes a spec file's text (YAML with DSL strings) and gives a Program: the checked YAML tree\n"
        "(spec, yaml_errors, source), each DSL string parsed by grammar/netc.lark (parse) into the\n"
        "AST (ast), argument expressions (exprs), symbolic sizes (symbolic) and `init:` (initspec).\n"
        "program/ reads the YAML tree into a Program; it checks layer words against netc.layers.\n"
        "Errors are netc.errors values with a source span; nothing here knows the IR."
    ),
    "netc/graph": (
        "The middle: AST → graph IR.\n\n"
        "Takes a Program and gives a Network (ir): every layer a node with its bound attributes\n"
        "(attributes), block scopes (scopes), named points (points), expanded in the concrete\n"
        "domain (expand) or as symbolic block templates (templates) by the one AST reader (expander).\n"
        "Asks netc.layers about each kind; knows nothing of shapes, tables or torch."
    ),
    "netc/analysis": (
        "Analysis: graph IR → facts about the network. Never imports torch.\n\n"
        "Takes a Network and gives an Analysis (annotated): shapes, parameters, MACs/FLOPs and\n"
        "receptive fields per layer (infer), training memory and liveness peaks (memory, liveness)\n"
        "for a target machine (targets: oneDNN on AVX-512/AVX2, torch's own kernels, CUDA),\n"
        "and the per-layer table as text, markdown, csv, json (table) or HTML (table_html).\n"
        "pipeline runs the path in one call: spec file → checked, annotated network."
    ),
    "netc/backends": (
        "Backends: IR and analysis → files.\n\n"
        "Takes a Network with its Analysis and gives PyTorch source (codegen), Graphviz pictures\n"
        "(drawing), ONNX files (onnx_export), the spec's JSON Schema (schema), the notebook's HTML\n"
        "(notebook), each written through fileio (no half-written output). Backends ask each node's\n"
        "kind; they never compare kind names and never reach back into the front end."
    ),
}

# The stage order the layering test checks: a module may import its own stage or one listed
# before it, never one after. Prefixes are dotted module names; the longest matching one wins.
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

CODE_DIRS = ("netc", "tests", "benchmarks", "scripts", "fuzz")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".cfg", ".lark", ".sh"}
TEXT_NAMES = {"Makefile"}
# Expected outputs (golden errors, codegen snapshots, schema corpus) are never edited: if netc's
# output changed, the comparison must see it.
SKIP_DIRS = {".git", ".venv", "tests/codegen_snapshots", "tests/errors", "tests/schema_corpus", "node_modules"}
# The tool, its comparison and its test speak of the old layout on purpose.
SELF = {"scripts/restructure.py", "scripts/compare_outputs.py", "tests/test_restructure.py"}
LAYERING_TEST = "tests/test_layering.py"
STAGES_BEGIN = "# STAGES: begin (written by scripts/restructure.py)"
STAGES_END = "# STAGES: end"


def dotted(path: str) -> str:
    """netc/frontend/parse.py → netc.frontend.parse; netc/program → netc.program."""
    return path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


MODULE_MOVES: tuple[tuple[str, str], ...] = tuple((dotted(old), dotted(new)) for old, new in MOVES)


def map_module(name: str) -> str | None:
    """The new dotted name of an old module (or of something inside an old package), else None."""
    for old, new in MODULE_MOVES:
        if name == old:
            return new
        if name.startswith(old + ".") and not old.endswith("analysis"):
            return new + name[len(old):]
    return None


def unmap_path(rel: str) -> str:
    """The old path of a file now at `rel` (itself if it did not move)."""
    for old, new in MOVES:
        if rel == new:
            return old
        if not new.endswith(".py") and rel.startswith(new + "/"):
            return old + rel[len(new):]
    return rel


@dataclass
class Report:
    moved: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    rewritten: dict[str, int] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)


class Tree:
    """The modules under netc/ as they stand now: which dotted names exist, which are packages."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: set[str] = set()
        self.packages: set[str] = set()
        self.defined: dict[str, set[str]] = {}
        for path in sorted((root / "netc").rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            name = dotted(rel)
            self.modules.add(name)
            if path.name == "__init__.py":
                self.packages.add(name)

    def names_in(self, module: str) -> set[str]:
        """Names a module defines at its top level (def, class, assignment, import)."""
        if module not in self.defined:
            rel = module.replace(".", "/")
            path = self.root / (rel + "/__init__.py" if module in self.packages else rel + ".py")
            names: set[str] = set()
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError):
                tree = ast.Module(body=[], type_ignores=[])
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(node.name)
                elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    for target in targets:
                        names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
                elif isinstance(node, (ast.Import, ast.ImportFrom)):
                    names.update((a.asname or a.name).split(".")[0] for a in node.names)
            self.defined[module] = names
        return self.defined[module]

    def resolves(self, module: str, names: list[str]) -> bool:
        """Whether `from module import names` works in the tree as it stands."""
        if module not in self.modules:
            return False
        return all(f"{module}.{n}" in self.modules or n == "*" or n in self.names_in(module) for n in names)


# --- step 1: moves -------------------------------------------------------------------------------

def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True)


def do_moves(root: Path, report: Report) -> None:
    for old, new in MOVES:
        src, dst = root / old, root / new
        if src.exists() and dst.exists():
            sys.exit(f"restructure: both {old} and {new} exist; move one by hand first")
        if not src.exists():
            continue  # moved already (or never there: the table is allowed to be ahead of a branch)
        dst.parent.mkdir(parents=True, exist_ok=True)
        git(root, "mv", old, new)
        report.moved.append(f"{old} → {new}")
    for package, doc in PACKAGES.items():
        init = root / package / "__init__.py"
        if not init.exists():
            init.parent.mkdir(parents=True, exist_ok=True)
            init.write_text(f'"""{doc}\n"""\n', encoding="utf-8")
            git(root, "add", init.relative_to(root).as_posix())
            report.created.append(init.relative_to(root).as_posix())


# --- step 2: imports, dotted names in code and strings ---------------------------------------------

def _offsets(text: str) -> list[int]:
    starts, pos = [0], 0
    for line in text.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _relative(target: str, package: str) -> tuple[int, str]:
    """(level, module) for `from <dots><module> import …` in `package` that names `target`."""
    t, p = target.split("."), package.split(".")
    common = 0
    while common < min(len(t), len(p)) and t[common] == p[common]:
        common += 1
    return len(p) - common + 1, ".".join(t[common:])


def _resolve(level: int, module: str | None, package: str) -> str:
    if not level:
        return module or ""
    base = package.split(".")
    base = base[: len(base) - level + 1]
    return ".".join(base + ([module] if module else []))


def _new_target(
    tree: Tree, level: int, module: str | None, names: list[str], package: str, old_package: str
) -> str | None:
    """The absolute module `from … import names` should now name, or None to leave it."""
    here = _resolve(level, module, package)
    if tree.resolves(here, names):
        return None
    old = _resolve(level, module, old_package) if level else here
    mapped = map_module(old)
    if mapped is not None and tree.resolves(mapped, names):
        return mapped
    if mapped is None and tree.resolves(old, names):
        return old  # the file moved; what it imports did not
    # `from . import ast`: the names are modules that moved (not their parent)
    moved = {map_module(f"{old}.{n}") for n in names}
    if len(moved) == 1 and None not in moved:
        new = next(iter(moved))
        parent, _, last = new.rpartition(".")
        if all(n == last for n in names) and parent in tree.modules:
            return parent
    return None


_FROM = re.compile(r"from(\s+)(\.*[\w.]*)(\s+)import")


def rewrite_python(rel: str, text: str, tree: Tree, report: Report) -> str:
    try:
        module_ast = ast.parse(text)
    except SyntaxError:
        report.unresolved.append(f"{rel}: not Python 3 syntax, left alone")
        return text
    name = dotted(rel) if rel.startswith("netc/") else ""
    is_init = rel.endswith("__init__.py")
    package = name if is_init else name.rpartition(".")[0]
    old_rel = unmap_path(rel)
    old_name = dotted(old_rel) if old_rel.startswith("netc/") else ""
    old_package = old_name if is_init else old_name.rpartition(".")[0]
    starts = _offsets(text)
    edits: list[tuple[int, int, str]] = []

    def span(node: ast.AST) -> tuple[int, int]:
        return (starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset)

    for node in ast.walk(module_ast):
        if isinstance(node, ast.ImportFrom):
            if not node.level and not (node.module or "").startswith("netc"):
                continue
            if node.level and not package:
                continue
            names = [a.name for a in node.names]
            target = _new_target(tree, node.level, node.module, names, package, old_package)
            if target is None:
                here = _resolve(node.level, node.module, package)
                if not tree.resolves(here, names) and (node.level or here.startswith("netc.")):
                    report.unresolved.append(f"{rel}:{node.lineno}: from {'.' * node.level}{node.module or ''}")
                continue
            start, end = span(node)
            match = _FROM.match(text, start, end)
            if not match:
                report.unresolved.append(f"{rel}:{node.lineno}: import statement not in a form it can edit")
                continue
            if node.level:
                level, rest = _relative(target, package)
                written = "." * level + rest
            else:
                written = target
            edits.append((match.start(2), match.end(2), written))
        elif isinstance(node, ast.Import):
            start, end = span(node)
            for alias in node.names:
                new = map_module(alias.name)
                if new is None or alias.name in tree.modules:
                    continue
                found = re.compile(rf"(?<![\w.]){re.escape(alias.name)}(?![\w])").search(text, start, end)
                if found:
                    edits.append((found.start(), found.end(), new))
        elif isinstance(node, ast.Attribute):
            chain, inner = [], node
            while isinstance(inner, ast.Attribute):
                chain.append(inner)
                inner = inner.value
            if not (isinstance(inner, ast.Name) and inner.id == "netc") or node is not _outermost(node, module_ast):
                continue
            # the longest prefix netc.a.b… that names a moved module that is no longer there
            for attribute in chain:  # outermost first
                text_name = _dotted_attribute(attribute)
                new = map_module(text_name) if text_name not in tree.modules else None
                if new is not None and text_name.rpartition(".")[0] not in ("netc.analysis",):
                    start = starts[inner.lineno - 1] + inner.col_offset
                    end = starts[attribute.end_lineno - 1] + attribute.end_col_offset
                    if text[start:end] == text_name:
                        edits.append((start, end, new))
                    break
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            new = _string_module(node.value, tree)
            if new is not None:
                start, end = span(node)
                raw = text[start:end]
                if node.value in raw and raw.count(node.value) == 1:
                    at = start + raw.index(node.value)
                    edits.append((at, at + len(node.value), new))
    if not edits:
        return text
    out = text
    for start, end, new in sorted(set(edits), reverse=True):
        out = out[:start] + new + out[end:]
    report.rewritten[rel] = report.rewritten.get(rel, 0) + len(set(edits))
    return out


_PARENTS: dict[int, dict[int, ast.AST]] = {}


def _outermost(node: ast.Attribute, module_ast: ast.Module) -> ast.AST:
    """The outermost Attribute of the chain `node` belongs to (netc.a.b.c: the whole of it)."""
    parents = _PARENTS.get(id(module_ast))
    if parents is None:
        parents = {id(child): parent for parent in ast.walk(module_ast) for child in ast.iter_child_nodes(parent)}
        _PARENTS.clear()
        _PARENTS[id(module_ast)] = parents
    while isinstance(parents.get(id(node)), ast.Attribute) and parents[id(node)].value is node:
        node = parents[id(node)]
    return node


def _dotted_attribute(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")
    return ".".join(reversed(parts))


def _string_module(value: str, tree: Tree) -> str | None:
    """A string constant that is a moved module's dotted name (optionally with a trailing dot or a
    function/class/variable it defines): its new spelling. "netc.schema.json" is a file name, not
    netc.schema's attribute, and is left alone (json is only imported there)."""
    if not value.startswith("netc.") or not re.fullmatch(r"[\w.]+", value):
        return None
    trailing = value.endswith(".")
    name = value.rstrip(".")
    if name in tree.modules:
        return None
    new = map_module(name)
    if new is not None and new in tree.modules:
        return new + ("." if trailing else "")
    module, _, attr = name.rpartition(".")
    new = map_module(module)
    if new is not None and new in tree.modules and attr in _defined_here(tree, new):
        return f"{new}.{attr}"
    return None


def _defined_here(tree: Tree, module: str) -> set[str]:
    imported = set()
    rel = module.replace(".", "/")
    path = tree.root / (rel + "/__init__.py" if module in tree.packages else rel + ".py")
    try:
        body = ast.parse(path.read_text(encoding="utf-8")).body
    except (OSError, SyntaxError):
        return set()
    for node in body:
        if isinstance(node, ast.Import):
            imported.update((a.asname or a.name).split(".")[0] for a in node.names)
    return tree.names_in(module) - imported


# --- step 3: path mentions in text -----------------------------------------------------------------

def path_patterns() -> list[tuple[re.Pattern[str], str]]:
    patterns = []
    for old, new in MOVES:
        # not inside a longer path (…/netc/… of the new layout) and not a longer name (netc/ast.pyc)
        head = r"(?<![\w/.-])" + re.escape(old)
        tail = r"(?P<slash>)(?![\w])" if old.endswith(".py") else r"(?P<slash>/?)(?![\w])"
        patterns.append((re.compile(head + tail + r"(?P<gap> *)"), new))
    return patterns


def rewrite_paths(text: str, patterns: list[tuple[re.Pattern[str], str]]) -> tuple[str, int]:
    count = 0
    for pattern, new in patterns:
        def keep_columns(match: re.Match[str], new: str = new) -> str:
            # a path in an aligned column (README's layout table): the growth comes out of the gap
            # that follows, leaving at least two spaces, so the next column stays where it was
            gap = match.group("gap")
            grow = len(new) - (match.end() - match.start() - len(gap) - len(match.group("slash") or ""))
            if len(gap) >= 2 and grow > 0:
                gap = " " * max(2, len(gap) - grow)
            return new + (match.group("slash") or "") + gap
        text, n = pattern.subn(keep_columns, text)
        count += n
    return text, count


# --- step 4: the stage table -----------------------------------------------------------------------

def stages_block() -> str:
    lines = [STAGES_BEGIN, "STAGES: tuple[tuple[str, tuple[str, ...]], ...] = ("]
    for stage, prefixes in STAGES:
        inner = ", ".join(f'"{p}"' for p in prefixes) + ("," if len(prefixes) == 1 else "")
        lines.append(f'    ("{stage}", ({inner})),')
    lines += [")", STAGES_END]
    return "\n".join(lines)


def write_stages(root: Path, report: Report) -> None:
    path = root / LAYERING_TEST
    text = path.read_text(encoding="utf-8")
    begin, end = text.find(STAGES_BEGIN), text.find(STAGES_END)
    if begin < 0 or end < 0:
        report.unresolved.append(f"{LAYERING_TEST}: no STAGES markers; stage table not written")
        return
    new = text[:begin] + stages_block() + text[end + len(STAGES_END):]
    if new != text:
        path.write_text(new, encoding="utf-8")
        report.rewritten[LAYERING_TEST] = report.rewritten.get(LAYERING_TEST, 0) + 1


# --- the whole run ---------------------------------------------------------------------------------

def files(root: Path) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, check=True,
                            capture_output=True, text=True).stdout.split("\n")
    out = []
    for rel in sorted(set(filter(None, listed))):
        if rel in SELF or any(rel == d or rel.startswith(d + "/") for d in SKIP_DIRS):
            continue
        path = root / rel
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name in TEXT_NAMES):
            out.append(rel)
    return out


def unknown_modules(root: Path) -> list[str]:
    known = [new for _, new in MOVES] + list(STAYS) + [p + "/__init__.py" for p in PACKAGES]
    found = []
    for path in sorted((root / "netc").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if not any(rel == k or rel.startswith(k + "/") for k in known):
            found.append(rel)
    return found


def fix_grammar_path(root: Path, report: Report) -> None:
    """parse.py finds grammar/ beside the package from its own place: one folder deeper now."""
    path = root / "netc/frontend/parse.py"
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    old = 'Path(__file__).resolve().parent.parent / "grammar"'
    if old in text:
        path.write_text(text.replace(old, 'Path(__file__).resolve().parents[2] / "grammar"'), encoding="utf-8")
        report.rewritten["netc/frontend/parse.py"] = report.rewritten.get("netc/frontend/parse.py", 0) + 1


def run(root: Path) -> Report:
    report = Report()
    do_moves(root, report)
    fix_grammar_path(root, report)
    tree = Tree(root)
    patterns = path_patterns()
    for rel in files(root):
        path = root / rel
        text = path.read_text(encoding="utf-8")
        new = text
        if rel.endswith(".py") and rel.split("/")[0] in CODE_DIRS:
            new = rewrite_python(rel, new, tree, report)
        new, count = rewrite_paths(new, patterns)
        if count:
            report.rewritten[rel] = report.rewritten.get(rel, 0) + count
        if new != text:
            path.write_text(new, encoding="utf-8")
    write_stages(root, report)
    report.unknown = unknown_modules(root)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="repository root (default: .)")
    parser.add_argument("--sort-imports", metavar="RUFF", help="then sort the import blocks of the edited "
                        "Python files with this ruff (`ruff check --select I --fix`): a moved module's relative "
                        "imports change their order under isort's rules; nothing else is touched")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not (root / "netc" / "__init__.py").is_file():
        print(f"restructure: {root} is not a netc checkout", file=sys.stderr)
        return 2
    report = run(root)
    edited = sorted(rel for rel in report.rewritten if rel.endswith(".py"))
    if args.sort_imports and edited:
        subprocess.run([args.sort_imports, "check", "--select", "I", "--fix", "--quiet", *edited], cwd=root,
                       check=False)  # what ruff cannot fix it reports; the move itself is done
    for line in report.moved:
        print(f"moved    {line}")
    for line in report.created:
        print(f"created  {line}")
    for rel, count in sorted(report.rewritten.items()):
        print(f"edited   {rel} ({count})")
    for rel in report.unknown:
        print(f"unknown  {rel}: not in the table, left in place (its imports were rewritten)")
    for line in report.unresolved:
        print(f"check    {line}")
    if not (report.moved or report.created or report.rewritten):
        print("nothing to do: the layout is already the stages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
