"""The examples in README.md (and docs/*.md, once the README is split into pages) do what they say.

- Every ```yaml block that writes a `network:` (and no `…` placeholder) checks, given a name and an
  input when it has none.
- Every shell line `netc check | table | compile | render | schema …` in a code block runs, from a
  scratch folder that sees the checkout's specs/, and exits 0; a `-o FILE` it names is written.
- Every ```python block that reads no file but the specs runs.
Examples that need a file the checkout does not have (a checkpoint, a data folder, an ONNX file, a
user's package) or another command (train, port, export, import) are not run here: the tests of
those commands (test_train, test_transfer, test_export, test_import) run the same calls on files
they make themselves.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

import netc.cli
from netc.analysis.pipeline import analyze_file

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("**/*.md"))]
BLOCKS = [(page.relative_to(ROOT).as_posix(), lang, body) for page in PAGES
          for lang, body in re.findall(r"```(\w*)\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)]
EXAMPLES = [body for _, lang, body in BLOCKS if lang == "yaml" and re.search(r"^network:", body, re.MULTILINE)
            and "…" not in body]
RUN = ("check", "table", "compile", "render", "schema")


def _shell_lines() -> list[tuple[str, list[str]]]:
    """The runnable netc lines. One that reads a spec the checkout does not have (`netc table
    resnet50.yaml` after `netc import … -o resnet50.yaml`) is left out, as the import is."""
    found = []
    for page, lang, body in BLOCKS:
        if lang not in ("", "sh", "bash", "shell", "console"):
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if not line.startswith("netc "):
                continue
            argv = shlex.split(line, comments=True)[1:]
            reads = [a for a in argv[1:] if a.endswith((".yaml", ".yml")) and (argv[argv.index(a) - 1] != "-o")]
            if argv and argv[0] in RUN and all((ROOT / a).is_file() for a in reads):
                found.append((page, argv))
    return found


SHELL = _shell_lines()
PYTHON = [(page, body) for page, lang, body in BLOCKS if lang == "python"
          and not re.search(r"""["'][\w./-]+\.(pth|onnx|safetensors|pt)["']""", body)]


def test_the_readme_has_complete_examples():
    assert len(EXAMPLES) >= 2 and len(SHELL) >= 8 and len(PYTHON) >= 1


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_a_readme_example_checks(index, tmp_path):
    text = EXAMPLES[index]
    if not re.search(r"^input:", text, re.MULTILINE):
        text = "input: [3, 64, 64]\n" + text
    if not re.search(r"^name:", text, re.MULTILINE):
        text = "name: example\n" + text
    spec = tmp_path / "example.yaml"
    spec.write_text(text, encoding="utf-8")
    assert analyze_file(str(spec)).params > 0


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    (tmp_path / "specs").symlink_to(ROOT / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("page,argv", SHELL, ids=[" ".join(argv) for _, argv in SHELL])
def test_a_shell_example_runs(page, argv, scratch):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = netc.cli.main(argv)
    assert code == 0, f"{page}: netc {' '.join(argv)}\n{err.getvalue()}"
    if "-o" in argv:
        assert (scratch / argv[argv.index("-o") + 1]).stat().st_size > 0
    else:
        assert out.getvalue()


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_a_python_example_runs(index, scratch):
    page, body = PYTHON[index]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(body, f"{page} (python example {index})", "exec"), {})  # noqa: S102 - the page's own example
    assert out.getvalue()
