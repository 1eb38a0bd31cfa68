"""Hostile and broken specs: netc never crashes, never hangs, never runs spec text.

- every limit answers with a clean error in well under a second (alias bomb, huge repetition,
  deep nesting, a 10 MB spec, huge numbers, recursive blocks, work that makes no layers);
- YAML is loaded without constructing objects; duplicate and merge keys are errors;
- no spec text becomes code in the generated module: hostile names are refused or renamed, and
  spec strings reach the source only inside comments (checked on the source's AST and tokens);
- output files are written atomically: on error nothing is half-written and an old file stays;
- the same spec gives the same table, source and .dot, byte for byte, across processes.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
import yaml

import netc.frontend.spec
from netc.cli import INTERNAL_ERROR, main
from netc.errors import NetcError
from netc.frontend.program import build_program
from netc.frontend.spec import MAX_YAML_DEPTH, load_yaml

ROOT = Path(__file__).resolve().parent.parent


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def check_file(path: Path, *extra: str) -> tuple[int, str]:
    """Exit code and stdout + stderr of `netc check`; never an internal error or a traceback.
    (How fast each limit answers is measured in benchmarks/limits_speed.py, not here.)"""
    code, out, err = run_cli(["check", path, *extra])
    assert code != INTERNAL_ERROR and "Traceback" not in err, err
    return code, out + err


# --- limits -------------------------------------------------------------------------------------------
BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['lol'] * 9)}]\n"
               for p, c in zip([None, *"abcdefgh"], "abcdefghi"))
LIMITS = {
    "alias_bomb": ("input: [3, 32, 32]\nnetwork: relu\n" + BOMB, "alias bomb"),
    "billion_layers": ("input: [3, 32, 32]\ndefaults: {conv: {filters: 8}}\nnetwork: (CONV-RELU)*1000000000\n",
                       "repeating 1,000,000,000 times expands past 100,000 layers"),
    "nested_repeats": ("input: [3, 8, 8]\nnetwork: ((((relu)*100)*100)*100)*100\n", "past the limit of 100,000"),
    "nested_repeats_deep": ("input: [3, 8, 8]\nnetwork: '" + "(" * 90 + "relu" + ")*2" * 90 + "'\n",
                            "past the limit of 100,000"),
    "brackets_10000": ("input: [3, 8, 8]\nnetwork: '" + "(" * 10_000 + "relu" + ")" * 10_000 + "'\n",
                       "brackets nested 10000 deep; the limit is 100"),
    "stages_10000": ("input: [3, 8, 8]\nnetwork: '" + "[" * 10_000 + "relu" + "]" * 10_000 + "'\n",
                     "brackets nested 10000 deep"),
    "unclosed_10000": ("input: [3, 8, 8]\nnetwork: '" + "(" * 10_000 + "relu'\n", "brackets nested 10000 deep"),
    "expression_parens_10000": ("input: [3, 8, 8]\nnetwork: 'fc(" + "(" * 10_000 + "1" + ")" * 10_000 + ")'\n",
                                "brackets nested"),
    "minus_chain_10000": ("input: [3, 8, 8]\nnetwork: 'fc(" + "-" * 10_000 + "1)'\n", "nested more than"),
    "power_chain_5000": ("input: [3, 8, 8]\nnetwork: 'fc(" + "2**" * 5_000 + "1)'\n", "nested more than"),
    "yaml_nesting_10000": ("input: [3, 8, 8]\nnetwork: relu\nx: " + "[" * 10_000 + "]" * 10_000 + "\n",
                           "3:103: error: YAML nested too deeply (more than 100 levels)"),
    "yaml_dash_nesting": ("input: [3, 8, 8]\nnetwork: relu\nx:\n  " + "- " * 10_000 + "1\n",
                          "4:201: error: YAML nested too deeply (more than 100 levels)"),
    "fc_10_pow_100": ("input: [3, 8, 8]\nnetwork: fc(10**100)\n", "number too large"),
    "tower_of_powers": ("input: [3, 8, 8]\nnetwork: fc(9**9**9**9)\n", "number too large"),
    "float_overflow": ("input: [3, 8, 8]\nnetwork: fc(2.0**100000)\n", "number too large"),
    "digits_5000": ("input: [3, 8, 8]\nnetwork: fc(" + "9" * 5_000 + ")\n", "number too large (5,000 digits)"),
    "word_digits_5000": ("input: [3, 8, 8]\nnetwork: conv" + "9" * 5_000 + "-3\n", "number too large"),
    "yaml_int_5000": ("input: [3, " + "9" * 5_000 + ", 8]\nnetwork: relu\n", "number too long"),
    "param_huge": ("input: [3, 8, 8]\nparams: {N: 99999999999999999999999}\nnetwork: (relu)*N\n", "past 100,000"),
    "recursive_direct": ("input: [3, 8, 8]\nblocks: {a: relu-a}\nnetwork: a\n", "block 'a' calls itself (a → a)"),
    "recursive_indirect": ("input: [3, 8, 8]\nblocks: {a: relu-b, b: relu-c, c: relu-a}\nnetwork: a\n",
                           "block 'a' calls itself (a → b → c → a)"),
    "blocks_200_deep": ("input: [3, 8, 8]\nblocks:\n" + "".join(f"  b{i}: b{i + 1}\n" for i in range(200))
                        + "  b200: relu\nnetwork: b0\n", "blocks nested more than 64 deep"),
    "blocks_doubling": ("input: [3, 8, 8]\nblocks:\n" + "".join(f"  b{i}: b{i + 1}-b{i + 1}\n" for i in range(60))
                        + "  b60: relu\nnetwork: b0\n", "expands to at least"),
    "empty_work": ("input: [3, 8, 8]\nparams: {Z: 0}\nnetwork: '([[(relu)*Z]*1000]*100)*1000'\n", "steps to expand"),
    "empty_literal": ("input: [3, 8, 8]\nnetwork: '(((relu)*0)*100000)*100000'\n", "0 layers"),
    "dsl_megabyte": ("input: [3, 8, 8]\nnetwork: " + "relu-" * 180_000 + "relu\n", "characters of network"),
}


@pytest.mark.parametrize("name", sorted(LIMITS))
def test_limit_gives_a_clean_error(name, tmp_path):
    text, message = LIMITS[name]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    code, err = check_file(path)
    assert code == (0 if name == "empty_literal" else 1), err
    assert message in err
    assert err.startswith(f"{path}:") or code == 0


@pytest.mark.parametrize("size", [1_000_001, 10_000_000])
def test_a_huge_spec_is_refused_unread(tmp_path, size):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"input: [3, 8, 8]\nnetwork: relu\n" + b"#" * size + b"\n")
    code, err = check_file(path)
    assert code == 1 and "larger than the limit of 1,000,000 bytes" in err
    assert err.startswith(f"{path}:1:1: error:")


def test_max_layers_raises_the_limit(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("input: [3, 8, 8]\nnetwork: (relu)*50\n", encoding="utf-8")
    code, err = check_file(path, "--max-layers", "20")
    assert code == 1 and "past 20 layers" in err and "--max-layers" in err
    code, err = check_file(path, "--max-layers", "60")
    assert code == 0, err


@pytest.mark.parametrize("value", ["0", "-3", "ten", "99999999999999999999", "10000001", "1000001", "10000000"])
def test_max_layers_takes_a_sane_number(tmp_path, value):
    code, _, err = run_cli(["check", "-e", "relu", "--input", "3x8x8", "--max-layers", value])
    assert code == 2 and "--max-layers" in err


def test_max_layers_is_capped_at_what_fits_in_memory():
    code, _, err = run_cli(["check", "-e", "relu", "--input", "3x8x8", "--max-layers", "10000000"])
    assert code == 2 and "at most 1,000,000 (about 5 KB of memory per layer), got 10,000,000" in err
    code, _, err = run_cli(["check", "-e", "relu", "--input", "3x8x8", "--max-layers", "1000000"])
    assert code == 0, err


def test_limit_errors_come_after_the_errors_found_before_them(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("input: [3, 8, 8]\nnetwork: covn3-8 - (relu)*1000000000\n", encoding="utf-8")
    code, err = check_file(path)
    assert code == 1
    assert err.index("unknown layer or block 'covn3-8'") < err.index("repeating 1,000,000,000 times")


# --- YAML is data ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:os.system ['touch {marker}']",
    "!!python/name:os.system",
    "!!python/object:collections.OrderedDict {{}}",
    "!!python/tuple [3, 8, 8]",
    "!!set {{a, b}}",
    "!!binary aGVsbG8=",
    "!custom 3",
])
def test_yaml_tags_never_construct_objects(tmp_path, value):
    marker = tmp_path / "owned"
    path = tmp_path / "tag.yaml"
    path.write_text(f"input: {value.format(marker=marker)}\nnetwork: relu\n", encoding="utf-8")
    code, err = check_file(path)
    assert code == 1 and "is not allowed in a spec" in err
    assert not marker.exists()


def test_duplicate_and_merge_keys_are_errors():
    for text, message in [
        ("input: [3, 8, 8]\nnetwork: relu\nnetwork: conv3-8\n", "duplicate key 'network': it is already set on line 2"),
        ("input: [3, 8, 8]\nnetwork: relu\nparams: {N: 1, N: 2}\n", "duplicate key 'N'"),
        ("base: &b {N: 1}\ninput: [3, 8, 8]\nnetwork: relu\nparams: {<<: *b}\n", "merge keys (<<) are not supported"),
    ]:
        with pytest.raises(NetcError) as info:
            build_program(load_yaml(text, "s.yaml"))
        assert message in str(info.value)


def test_undecodable_and_control_characters_are_clean_errors(tmp_path):
    for raw, message in [
        (b"input: [3, 8, 8]\nnetwork: relu\xff\n", "not UTF-8"),
        (b"input: [3, 8, 8]\nnetwork: re\x00lu\n", "U+0000 is not allowed"),
        (b"input: [3, 8, 8]\nnetwork: re\x1blu\n", "U+001B is not allowed"),
        (b"\xef\xbb\xbfinput: [3, 8, 8]\nnetwork: covn3-8\n", "2:10: error: unknown layer"),  # a BOM is not a column
        (b"input: [3, 8, 8]\rnetwork: covn3-8\r", "2:10: error: unknown layer"),  # old Mac line ends
    ]:
        path = tmp_path / "s.yaml"
        path.write_bytes(raw)
        code, err = check_file(path)
        assert code == 1 and message in err, err


# netc's YAML checks are its own: the same words and places from libyaml and from the pure-Python
# parser (whose messages differ, and change between releases), so no test here reads theirs.
LOADERS = sorted({"libyaml": getattr(yaml, "CSafeLoader", yaml.SafeLoader), "python": yaml.SafeLoader}.items())


def load_with(loader, monkeypatch, text: str):
    monkeypatch.setattr(netc.frontend.spec, "_Loader", loader)
    return load_yaml(text, "s.yaml")


NESTINGS = {  # levels → YAML that many collections deep (the top mapping is level 1)
    "flow": lambda n: "x: " + "[" * (n - 1) + "]" * (n - 1) + "\n",
    "flow-map": lambda n: "x: " + "{a: " * (n - 1) + "1" + "}" * (n - 1) + "\n",
    "block": lambda n: "x:\n" + "".join("  " * i + "-\n" for i in range(1, n)) + "  " * n + "1\n",
    "alias": lambda n: "a: &a " + "[" * 60 + "1" + "]" * 60 + "\nb: " + "[" * (n - 61) + "*a" + "]" * (n - 61) + "\n",
}


@pytest.mark.parametrize("name,loader", LOADERS)
@pytest.mark.parametrize("nesting,place", [("flow", "1:103"), ("flow-map", "1:400"), ("block", "101:201"),
                                           ("alias", "2:44")])
def test_yaml_depth_limit_is_exact_and_netcs_own(name, loader, nesting, place, monkeypatch):
    assert load_with(loader, monkeypatch, NESTINGS[nesting](MAX_YAML_DEPTH))  # exactly the limit: fine
    with pytest.raises(NetcError) as info:
        load_with(loader, monkeypatch, NESTINGS[nesting](MAX_YAML_DEPTH + 1))
    lines = str(info.value).splitlines()
    assert lines[0] == f"s.yaml:{place}: error: YAML nested too deeply (more than {MAX_YAML_DEPTH} levels)"
    if nesting == "alias":  # the caret is on the alias, and the hint says what it brings in
        assert lines[2].strip() == "^~" and lines[3] == "  hint: *a repeats &a, which is 60 levels deep itself"


@pytest.mark.parametrize("name,loader", LOADERS)
@pytest.mark.parametrize("text,first,hint", [
    ("input: [3, 32, 32\nnetwork: conv3-64\n", "1:8: error: invalid YAML: '[' is never closed",
     "add the ']' that ends it"),
    ("input: [3, 8, 8]\nparams: {N: 1\nnetwork: relu\n", "2:9: error: invalid YAML: '{' is never closed",
     "add the '}' that ends it"),
    ("input: [3, 8, # a ] in a comment closes nothing\n 8\nnetwork: relu\n",
     "1:8: error: invalid YAML: '[' is never closed", "add the ']' that ends it"),
    ("input: [3, 8, 8]\nnetwork: 'conv3-8\n", "2:10: error: invalid YAML: the quote ' is never closed",
     "end it with ' (and write '' for a ' inside it)"),
    ('input: [3, 8, 8]\nnetwork: "conv3-8\n', '2:10: error: invalid YAML: the quote " is never closed',
     'end it with " (and write \\" for a " inside it)'),
    ("input: [3, 8, 8]]\nnetwork: relu\n", "1:17: error: invalid YAML: ']' closes nothing",
     "remove it, or add the '[' it is meant to close"),
    ("input: [3, 8, 8]\nnetwork: 'it's'\n", "2:14: error: invalid YAML: text after the closing quote",
     "write '' for a ' inside '...'"),
    ("input: [3, 8, 8]\nnote: a: b\nnetwork: relu\n",
     "2:8: error: invalid YAML: ': ' inside a value starts another key", 'quote the value, e.g. note: "a: b"'),
    ("input: [3, 8, 8]\nnetwork: relu\n  name: x\n",
     "3:3: error: invalid YAML: this line is indented 2 spaces, the one above 0",
     "keys of one mapping must start in the same column"),
    ("blocks:\n  b:\n    body: relu\n   shortcut: auto\n",
     "4:4: error: invalid YAML: this line is indented 3 spaces, the one above 4",
     "keys of one mapping must start in the same column"),
    ("blocks:\n  - body: relu\n     shortcut: auto\n",
     "3:6: error: invalid YAML: this line is indented 5 spaces, the one above 4",
     "keys of one mapping must start in the same column"),
    ("input: [3, 8, 8]\nnetwork: @relu # why\n", "2:10: error: invalid YAML: a value cannot start with '@'",
     'quote it: "@relu"'),
    ("input: [3, 8, 8]\nnetwork: relu\n- conv3-8\n",
     "3:1: error: invalid YAML: a list item among the keys of a mapping",
     "a list belongs under a key that ends its line with ':'"),
    ("input: [3, 8, 8]\nnetwork: relu\n--- # more\nname: x\n",
     "3:1: error: a spec is one YAML document; this starts a second one",
     "remove the '---' line, or split the file in two"),
    ("b: *a\na: &a 1\n", "1:4: error: invalid YAML: *a repeats an anchor that is not defined before it",
     "write &a on the value to repeat, above this line"),
], ids=["flow-list", "flow-map", "comment", "single-quote", "double-quote", "stray-bracket", "apostrophe",
        "colon-in-value", "deeper-key", "shallower-key", "key-after-dash", "reserved-at", "list-among-keys",
        "second-document", "alias-before-anchor"])
def test_usual_yaml_mistakes_are_said_in_netcs_words(name, loader, text, first, hint, monkeypatch):
    with pytest.raises(NetcError) as info:
        load_with(loader, monkeypatch, text)
    lines = str(info.value).splitlines()
    assert lines[0] == f"s.yaml:{first}" and lines[-1] == f"  hint: {hint}", str(info.value)


@pytest.mark.parametrize("name,loader", LOADERS)
@pytest.mark.parametrize("text", ["a: &a [1, *a]\n", "a: &a {b: [*a]}\n"])
def test_an_alias_inside_its_own_anchor_is_an_error_not_a_cycle(name, loader, text, monkeypatch):
    with pytest.raises(NetcError) as info:  # composed, it would be a list that holds itself
        load_with(loader, monkeypatch, text)
    assert str(info.value).startswith(f"s.yaml:1:{text.index('*a') + 1}: error: invalid YAML: *a stands inside the &a")


@pytest.mark.parametrize("name,loader", LOADERS)
def test_an_unusual_yaml_error_still_has_a_place(name, loader, monkeypatch):
    # No netc check knows this one, so the parser's words are shown; only the place is asserted.
    with pytest.raises(NetcError) as info:
        load_with(loader, monkeypatch, "%YAML 2.0\n---\ninput: [3, 8, 8]\n")
    assert str(info.value).startswith("s.yaml:1:1: error: invalid YAML")


def test_an_unreadable_spec_is_a_usage_error(tmp_path):
    for target in (tmp_path / "missing.yaml", tmp_path):
        code, _, err = run_cli(["check", target])
        assert code == 2 and err.startswith("netc: error: cannot read"), err


# --- no spec text becomes code ------------------------------------------------------------------------------
FORBIDDEN_CALLS = {"__import__", "eval", "exec", "compile", "open", "getattr", "setattr", "delattr", "globals",
                   "locals", "vars", "breakpoint", "input", "exit", "quit", "system", "popen", "import_module"}


def assert_safe_source(source: str, planted: list[str]) -> None:
    """The generated module imports only torch, calls nothing dangerous, and holds each planted
    spec string only inside comments."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert all(a.name.split(".")[0] == "torch" for a in node.names), ast.dump(node)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] in ("torch", "__future__", "typing"), ast.dump(node)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            assert name not in FORBIDDEN_CALLS, ast.unparse(node)
        if isinstance(node, ast.Name):
            assert node.id not in ("os", "sys", "subprocess", "builtins", "__builtins__", "__import__"), node.id
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("__") or node.attr in ("__init__",), ast.unparse(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for text in planted:
                assert text not in node.value, (text, node.value)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            for text in planted:
                assert text not in token.string, (text, token)


def spec_strings(text: str) -> list[str]:
    """Every string value in a spec that is not a plain name: DSL text, words, anything quoted."""
    import re

    import yaml

    found: list[str] = []

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            found.append(value)

    walk(yaml.safe_load(text))
    return found


def generate(text: str, path: str = "hostile.yaml"):
    from netc.analysis.pipeline import analyze_program
    from netc.backends.codegen import generate_source

    analysis = analyze_program(build_program(load_yaml(text, path)))
    return analysis, generate_source(analysis)


REFUSED = {
    "name_code": ("name: \"__import__('os').system('id')\"\ninput: [3, 8, 8]\nnetwork: relu\n", "name"),
    "name_newline": ("name: \"net\\nimport os\"\ninput: [3, 8, 8]\nnetwork: relu\n", "name"),
    "name_quote": ("name: \"net'); import os; ('\"\ninput: [3, 8, 8]\nnetwork: relu\n", "name"),
    "block_dunder": ("input: [3, 8, 8]\nblocks: {__init__: relu}\nnetwork: relu\n", "block name"),
    "block_dotted": ("input: [3, 8, 8]\nblocks: {os.system: relu}\nnetwork: relu\n", "block name"),
    "block_keyword": ("input: [3, 8, 8]\nblocks: {import: relu}\nnetwork: relu\n", "block name"),
    "block_code": ("input: [3, 8, 8]\nblocks: {\"a(): pass\\nimport os\\ndef b\": relu}\nnetwork: relu\n",
                   "block name"),
    "arg_dunder": ("input: [3, 8, 8]\nblocks: {b: {args: [__class__], body: relu}}\nnetwork: b(1)\n", "argument"),
    "arg_keyword": ("input: [3, 8, 8]\nblocks: {b: {args: [lambda], body: relu}}\nnetwork: b(1)\n", "argument"),
    "arg_code": ("input: [3, 8, 8]\nblocks: {b: {args: [\"x=__import__('os')\"], body: relu}}\nnetwork: b\n",
                 "argument"),
    "arg_default_code": (("input: [3, 8, 8]\nblocks: {b: {args: {w: \"__import__('os').system('id')\"}, "
                          "body: 'conv(w, 3)'}}\nnetwork: b\n"), "undefined variable"),
    "head_dunder": ("input: [3, 8, 8]\nnetwork: relu\nheads: {__dict__: fc(2)}\n", "head name"),
    "head_keyword": ("input: [3, 8, 8]\nnetwork: relu\nheads: {return: fc(2)}\n", "head name"),
    "head_code": ("input: [3, 8, 8]\nnetwork: relu\nheads: {\"x\\nimport os\": fc(2)}\n", "head name"),
    "param_dunder": ("input: [3, 8, 8]\nparams: {__builtins__: 1}\nnetwork: relu\n", "param"),
    "mark_dunder": ("input: [3, 8, 8]\nnetwork: relu-<__import__>-relu\n", "mark '__import__'"),
    "mark_keyword": ("input: [3, 8, 8]\nnetwork: relu-<class>-relu\n", "mark 'class'"),
    "index_keyword": ("input: [3, 8, 8]\nnetwork: '[relu]*2@None'\n", "repeat index 'None'"),
    "from_code": ("input: [3, 8, 8]\nnetwork: relu\nheads: {a: {from: \"__import__('os')\", body: fc(2)}}\n",
                  "is not a point"),
    "dsl_code": ("input: [3, 8, 8]\nnetwork: \"relu-__import__('os').system('id')\"\n", "unexpected"),
    "dsl_eval": ("input: [3, 8, 8]\nnetwork: \"fc(eval('1'))\"\n", "unexpected"),
    "padding_code": ("input: [3, 8, 8]\nnetwork: conv(8, 3, padding=os)\n", "padding"),
    "defaults_code": (("input: [3, 8, 8]\ndefaults: {conv: {filters: 8, padding: \"__import__('os')\"}}\n"
                       "network: conv\n"), "padding"),
    "pool_type_code": ("input: [3, 8, 8]\nnetwork: pool(type=system)\n", "pool type"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_hostile_names_are_refused_cleanly(name):
    text, message = REFUSED[name]
    with pytest.raises(NetcError) as info:
        generate(text)
    assert message in str(info.value)
    for d in info.value.diagnostics:
        assert d.span is not None and d.span.path == "hostile.yaml"


ACCEPTED = {
    # Names that are legal identifiers but mean something to Python or nn.Module: renamed, not executed.
    "python_names": """\
name: forward
input: [3, 16, 16]
params: {torch: 2, nn: 3, self: 1, super: 1, print: 1}
blocks:
  self:
    args: [x, torch, nn, super, in_channels, int, self, print, range]
    body: "conv(x+torch+nn+super+in_channels+int+self+print+range, 3)-relu"
  forward: {args: [training], residual: "conv(training, 3)-bn"}
  none: {args: [eval], body: "conv(eval, 1)"}
network: "self(1,2,3,4,5,6,7,8,9) - <torch> - forward(torch*8) - [relu]*nn@exec - none(eval=4) - <self>"
heads:
  forward: fc(10)
  training: {from: torch, body: fc(2)}
  self: {from: self, body: fc(3)}
  state_dict: fc(4)
""",
    # Strings in YAML comments and quoted DSL text with quotes and newlines.
    "comments_and_quotes": """\
# __import__('os').system('echo pwned')  '''  \"\"\"  \\
name: quoted  # '); import os; os.system('id'); ('
input: [3, 16, 16]
network: "conv3-8 -
  relu -   # not a comment inside a quoted string? it is text: so it must not parse
  maxpool"
""",
}


def test_yaml_comment_text_is_not_code():
    text = ("# __import__('os').system('echo pwned')\n"
            "name: quoted  # \"); import os; os.system('id'); (\"\n"
            "input: [3, 16, 16]   # \\n import os\n"
            "network: \"conv3-8 -\n  relu - maxpool\"  # '''\n"
            "heads:  # exec('1')\n"
            "  out: fc(10)  # eval('2')\n")
    _, source = generate(text)
    assert_safe_source(source, ["__import__", "pwned", "os.system", "exec(", "eval(", "import os", *spec_strings(text)])


def test_python_meaningful_names_are_renamed_not_run():
    _, source = generate(ACCEPTED["python_names"])
    assert_safe_source(source, spec_strings(ACCEPTED["python_names"]))
    compile(source, "generated.py", "exec")


@pytest.mark.parametrize("spec", sorted(p.name for p in (ROOT / "specs").glob("*.yaml")))
def test_zoo_spec_strings_reach_the_source_only_in_comments(spec):
    """DSL text, words and numbers written as strings never appear in code, for every zoo spec."""
    text = (ROOT / "specs" / spec).read_text(encoding="utf-8")
    _, source = generate(text, f"specs/{spec}")  # every zoo spec is valid
    assert_safe_source(source, [s for s in spec_strings(text) if len(s) >= 3 and not s.isdigit()])


def test_quoted_dsl_with_newlines_and_quotes_is_text():
    with pytest.raises(NetcError) as info:
        generate(ACCEPTED["comments_and_quotes"])
    assert "unexpected" in str(info.value)


@pytest.mark.parametrize("filename", [
    "x\nimport os\nos.system('echo pwned')\n#.yaml",
    "a'b\"c.yaml",
    "é €.yaml",
    "--help.yaml",
    "x\r\n__import__('os').yaml",
])
def test_a_hostile_file_name_stays_in_comments(tmp_path, filename):
    path = tmp_path / filename
    path.write_text("input: [3, 8, 8]\nnetwork: conv3-4-relu-fc(2)\n", encoding="utf-8")
    code, out, err = run_cli(["compile", "--", str(path)] if filename.startswith("-") else ["compile", path])
    assert code == 0, err
    assert_safe_source(out, ["pwned", "__import__", "os.system", "import os"])
    # Comments aside, the module is the one any other file name gives (but for the class name).
    plain = generate("name: net\ninput: [3, 8, 8]\nnetwork: conv3-4-relu-fc(2)\n", "x.yaml")[1]
    hostile = ast.parse(out)
    class_name = next(n.name for n in hostile.body if isinstance(n, ast.ClassDef))
    assert ast.dump(hostile).replace(repr(class_name), "'Net'") == ast.dump(ast.parse(plain))
    # The picture too: the name is a plain identifier there, and the .dot stays well-formed.
    dot = tmp_path / "g.dot"
    code, _, err = run_cli(["render", "-o", str(dot), "--", str(path)] if filename.startswith("-")
                           else ["render", path, "-o", dot])
    assert code == 0, err
    text = dot.read_text(encoding="utf-8")
    assert "('os')" not in text and "'echo" not in text  # the file name's quotes and brackets stay out
    if shutil.which("dot"):
        assert subprocess.run(["dot", "-Tsvg", str(dot)], capture_output=True, timeout=60, check=False).returncode == 0


def test_accepted_hostile_specs_build_with_the_analysed_parameters():
    pytest.importorskip("torch")
    from netc.backends.codegen import build_module

    analysis, _ = generate(ACCEPTED["python_names"])
    module = build_module(analysis)
    assert sum(p.numel() for p in module.parameters()) == analysis.params


# --- atomic output -------------------------------------------------------------------------------------------------
GOOD = "name: tiny\ninput: [3, 16, 16]\nnetwork: conv3-8-relu-maxpool-fc(10)\n"
BAD = "name: tiny\ninput: [3, 16, 16]\nnetwork: conv3-8-relu-maxpol-fc(10)\n"
OUTPUTS = [("table", "t.txt"), ("table", "t.json"), ("compile", "m.py"), ("render", "g.dot")]


def _args(command: str, spec: Path, out: Path) -> list:
    extra = ["--format", "json"] if out.suffix == ".json" else []
    return [command, spec, "-o", out, *extra]


@pytest.mark.parametrize("command, output", OUTPUTS)
def test_output_is_written_whole(tmp_path, command, output):
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD, encoding="utf-8")
    out = tmp_path / output
    code, _, err = run_cli(_args(command, spec, out))
    assert code == 0, err
    assert out.exists() and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.yaml", output])  # no temporary left


@pytest.mark.parametrize("command, output", OUTPUTS)
def test_an_error_leaves_an_existing_output_untouched(tmp_path, command, output):
    spec = tmp_path / "s.yaml"
    spec.write_text(BAD, encoding="utf-8")
    out = tmp_path / output
    out.write_bytes(b"precious\n")
    before = out.stat()
    code, _, err = run_cli(_args(command, spec, out))
    assert code == 1 and "maxpol" in err
    assert out.read_bytes() == b"precious\n" and out.stat().st_mtime_ns == before.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.yaml", output])


@pytest.mark.parametrize("command, output", OUTPUTS)
def test_a_failed_write_leaves_the_old_output_and_no_temporary(tmp_path, command, output, monkeypatch):
    import netc.backends.fileio

    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD, encoding="utf-8")
    out = tmp_path / output
    out.write_bytes(b"precious\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(netc.backends.fileio.os, "replace", full_disk)
    code, _, err = run_cli(_args(command, spec, out))
    assert code in (1, 2) and "No space left on device" in err
    assert "Traceback" not in err and "internal error" not in err
    assert out.read_bytes() == b"precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["s.yaml", output])


@pytest.mark.parametrize("command, output", OUTPUTS)
def test_an_unwritable_output_is_a_clean_error(tmp_path, command, output):
    spec = tmp_path / "s.yaml"
    spec.write_text(GOOD, encoding="utf-8")
    for target in (tmp_path / "no" / "such" / output, tmp_path):
        code, _, err = run_cli(_args(command, spec, target))
        assert code in (1, 2), err
        assert "Traceback" not in err and "internal error" not in err
        assert str(target) in err and ".netc-" not in err  # the user's path, not our temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


# --- determinism -----------------------------------------------------------------------------------------------------
def _outputs_in_a_new_process(spec: str, out_dir: Path, hash_seed: str) -> dict[str, bytes]:
    out_dir.mkdir()
    code = (
        "import sys; from netc.cli import main\n"
        f"spec, out = {spec!r}, {str(out_dir)!r}\n"
        "for args in (['table', spec, '-o', out + '/t.txt'], ['table', spec, '--format', 'json', '-o', out + '/t.json'],\n"
        "             ['table', spec, '--format', 'csv', '-o', out + '/t.csv'], ['compile', spec, '-o', out + '/m.py'],\n"
        "             ['render', spec, '-o', out + '/g.dot']):\n"
        "    assert main(args) == 0, args\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return {p.name: p.read_bytes() for p in sorted(out_dir.iterdir())}


@pytest.mark.parametrize("spec", ["specs/resnet50.yaml", "specs/googlenet.yaml", "specs/localization.yaml"])
def test_same_spec_same_bytes_across_processes(tmp_path, spec):
    first = _outputs_in_a_new_process(spec, tmp_path / "a", "1")
    second = _outputs_in_a_new_process(spec, tmp_path / "b", "2")
    assert first.keys() == {"t.txt", "t.json", "t.csv", "m.py", "g.dot"}
    for name in first:
        assert first[name] == second[name], f"{name} differs between runs"


# --- the CLI never shows a traceback --------------------------------------------------------------------------------
def test_an_internal_error_is_one_line_and_exit_70(monkeypatch, tmp_path):
    import netc.cli

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(netc.cli, "_analyze", broken)
    code, _, err = run_cli(["check", "-e", "relu", "--input", "3x8x8"])
    assert code == INTERNAL_ERROR == 70
    assert err.startswith("netc: internal error (RuntimeError: a bug)") and err.count("\n") == 1
    monkeypatch.setenv("NETC_DEBUG", "1")
    code, _, err = run_cli(["check", "-e", "relu", "--input", "3x8x8"])
    assert code == 70 and "Traceback" in err


@pytest.mark.parametrize("args", [
    [], ["check"], ["bogus"], ["check", "-e", "relu"], ["check", "-e", "relu", "--input", "3x0x8"],
    ["check", "-e", "relu", "--input", "²x8x8"], ["table", "-e", "relu", "--input", "3x8x8", "--batch", "0"],
    ["check", "-D", "N", "-e", "relu", "--input", "8"], ["check", "-D", "N=x", "specs/generic.yaml"],
    ["check", "-D", "N=" + "9" * 5000, "specs/generic.yaml"], ["check", "-D", "N=inf", "specs/generic.yaml"],
    ["render", "specs/lenet5.yaml"], ["check", "specs/lenet5.yaml", "-e", "relu", "--input", "3x8x8"],
])
def test_usage_errors_exit_2_without_a_traceback(args, monkeypatch):
    monkeypatch.chdir(ROOT)
    code, _, err = run_cli(args)
    assert code in (1, 2), err
    assert "Traceback" not in err and "internal error" not in err


def test_a_terminal_without_unicode_gets_escapes_not_a_crash():
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    for args in (["table", "specs/lenet5.yaml"], ["check", "tests/errors/residual_mismatch.yaml"]):
        done = subprocess.run([sys.executable, "-m", "netc", *args], cwd=ROOT, env=env, capture_output=True, timeout=60,
                              check=False)
        assert done.returncode in (0, 1), done.stderr
        assert b"internal error" not in done.stderr and b"Traceback" not in done.stderr
        assert b"\\xd7" in done.stdout + done.stderr  # the × of a shape, escaped


def test_expression_mode_errors_point_into_the_expression():
    code, _, err = run_cli(["check", "-e", "conv3-8 - covn3-8", "--input", "3x8x8"])
    assert code == 1
    assert err.splitlines()[:3] == ["<expr>:1:11: error: unknown layer or block 'covn3-8'", "  conv3-8 - covn3-8",
                                    "            ^~~~~~~"]
