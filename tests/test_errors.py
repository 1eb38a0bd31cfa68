"""The error corpus: one broken spec per mistake a person makes, with the exact message netc must
print (tests/errors/NAME.yaml → tests/errors/NAME.expected, the whole stderr).

The .expected files are the specification of each message: where (path:line:col and a caret),
what was wrong and what was expected, and a hint when one fix is likely. An optional NAME.cmd
holds the command line ({spec} is the spec's path; default `check {spec}`). A usage error
(`netc: error: …`) exits 2, a spec error 1.

Also here: several independent errors reported in one run, and 'did you mean' suggestions.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from netc.cli import INTERNAL_ERROR, main
from netc.errors import NetcError
from netc.frontend.program import build_program
from netc.frontend.spec import load_yaml

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "errors"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as exc:  # argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def case_args(name: str) -> list[str]:
    spec = f"tests/errors/{name}.yaml"
    cmd = CORPUS / f"{name}.cmd"
    if cmd.exists():
        return shlex.split(cmd.read_text(encoding="utf-8").strip().replace("{spec}", spec))
    return ["check", spec]


def test_corpus_covers_thirty_mistakes():
    assert len(CASES) >= 30
    for name in CASES:
        assert (CORPUS / f"{name}.expected").exists(), f"{name}.yaml has no .expected"
    assert not {p.stem for p in CORPUS.glob("*.expected")} - set(CASES), "an .expected without its spec"


@pytest.mark.parametrize("name", CASES)
def test_error_message(name, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = (CORPUS / f"{name}.expected").read_text(encoding="utf-8")
    code, out, err = run_cli(case_args(name))
    assert code != INTERNAL_ERROR, err
    assert err == expected
    assert code == (2 if expected.startswith("netc: error:") else 1)
    assert out == ""


@pytest.mark.parametrize("name", ["typo_layer", "define_unknown", "not_utf8"])
def test_error_message_from_a_separate_process(name):
    """The same bytes on a real stderr, exit code included."""
    expected = (CORPUS / f"{name}.expected").read_text(encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "netc", *case_args(name)], cwd=ROOT, capture_output=True,
                            env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"}, timeout=60, check=False)
    assert result.stderr.decode("utf-8") == expected
    assert result.returncode == (2 if expected.startswith("netc: error:") else 1)
    assert "Traceback" not in result.stderr.decode("utf-8")


# --- several errors in one run -------------------------------------------------------------------
def errors_of(text: str, path: str = "spec.yaml") -> list[str]:
    from netc.analysis.pipeline import analyze_program

    with pytest.raises(NetcError) as info:
        analyze_program(build_program(load_yaml(text, path)))
    return [f"{d.span.line}:{d.span.col} {d.message}" for d in info.value.diagnostics if d.severity == "error"]


def test_independent_spec_errors_are_all_reported():
    found = errors_of(
        "name: 2bad\n"
        "input: [3, 32]\n"
        "params: {N: two, M: 3}\n"
        "defaults: {conv: {filters: 8, size: 3}, poool: {kernel: 2}}\n"
        "blocks:\n"
        "  a: conv3-8-(relu\n"
        "  b: {body: relu, parallel: [relu]}\n"
        "network: [conv3-8-relu, 'maxpool]']\n"
        "heads: {out: fc(10, }\n"
        "extra: 1\n"
    )
    assert [f.split(" ", 1)[0] for f in found] == [
        "10:1", "1:7", "3:13", "4:31", "4:41", "6:14", "7:3", "2:8", "8:33", "9:16"], found


def test_independent_network_errors_are_all_reported():
    found = errors_of(
        "input: [3, 32, 32]\n"
        "blocks: {blk: {args: [w], body: 'conv(w, 3)-relu'}}\n"
        "network:\n"
        "  - covn3-8 - relu - maxpol\n"
        "  - conv(8, padding=sme) - blk(8, q=1) - blk()\n"
        "  - (relu)*N - dropout(p=x)\n"
        "heads: {a: {from: nowhere, body: fc(2)}, b: fcc(3)}\n"
    )
    assert found == [
        "4:5 unknown layer or block 'covn3-8'",
        "4:22 unknown layer or block 'maxpol'",
        "5:21 conv padding must be valid, same, full or a whole number, got 'sme'",
        "5:35 block 'blk' has no argument 'q' (it takes w)",
        "5:42 block 'blk' needs argument 'w'",
        "6:12 undefined variable 'N'",
        "6:26 undefined variable 'x' for dropout p",
        "7:19 head 'a' starts from <nowhere>, which no mark names",
        "7:45 unknown layer or block 'fcc'",
    ]


def test_an_error_inside_a_repetition_or_block_is_reported_once():
    found = errors_of(
        "input: [3, 32, 32]\n"
        "blocks: {blk: covn3-8}\n"
        "network: (blk - maxpol)*1000 - blk\n"
    )
    assert found == ["2:15 unknown layer or block 'covn3-8'", "3:17 unknown layer or block 'maxpol'"]


def test_errors_stop_at_a_limit():
    network = " - ".join(f"bogus{i}" for i in range(60))
    found = errors_of(f"input: [3, 8, 8]\nnetwork: {network}\n")
    assert len(found) == 20


def test_shape_errors_in_independent_branches_are_all_reported():
    found = errors_of(
        "input: [3, 8, 8]\n"
        "network: conv3-8 - <a> - fc(4)\n"
        "heads: {x: {from: a, body: 'conv(8, 9, padding=0)'}, y: {from: a, body: fc(3)-conv3-4}, z: fc(2)}\n"
    )
    assert len(found) == 2 and "too small" in found[0] and "flat vector" in found[1]


# --- 'did you mean' ---------------------------------------------------------------------------------
@pytest.mark.parametrize("word, suggestion", [
    ("covn3", "conv3"), ("covn3-64", "conv3-64"), ("cnov5", "conv5"), ("covn9", "conv9"), ("conv_3", "conv3"),
    ("maxpol", "maxpool"), ("avgpol", "avgpool"), ("rleu", "relu"), ("sofmax", "softmax"), ("batchnrom", "batchnorm"),
    ("dropuot", "dropout"), ("flaten", "flatten"), ("FC_4096", None), ("bottlenek", "bottleneck"),
])
def test_unknown_word_suggests_the_likely_one(word, suggestion):
    spec = ("input: [3, 32, 32]\nblocks: {bottleneck: {args: [w], residual: 'conv(w, 1)'}}\n"
            f"network: {word}\n")
    with pytest.raises(NetcError) as info:
        from netc.analysis.pipeline import analyze_program

        analyze_program(build_program(load_yaml(spec, "s.yaml")))
    d = info.value.diagnostics[0]
    assert d.message.startswith("unknown layer or block")
    if suggestion is None:
        assert d.hint is None or "did you mean" not in d.hint or "4096" not in d.hint
    else:
        assert d.hint == f"did you mean '{suggestion}'?"


def test_unknown_key_suggests_the_key():
    for text, key, hint in [
        ("input: [3, 8, 8]\nnetwork: relu\nhaeds: {}\n", "haeds", "did you mean 'heads'?"),
        ("input: [3, 8, 8]\nnetwork: relu\nblocks: {b: {bdoy: relu}}\n", "bdoy", "did you mean 'body'?"),
        ("input: [3, 8, 8]\nnetwork: relu\ndefaults: {conv: {filter: 8}}\n", "filter", "did you mean 'filters'?"),
    ]:
        with pytest.raises(NetcError) as info:
            build_program(load_yaml(text, "s.yaml"))
        assert f"'{key}'" in info.value.diagnostics[0].message
        assert info.value.diagnostics[0].hint == hint


def test_no_internal_error_for_any_corpus_case_under_every_command(tmp_path, monkeypatch):
    """table, compile and render fail the same way check does: never a traceback."""
    monkeypatch.chdir(ROOT)
    for name in CASES:
        args = case_args(name)
        for command in ("table", "compile", "render"):
            extra = ["-o", str(tmp_path / "out.dot")] if command == "render" else []
            code, _, err = run_cli([command, *args[1:], *extra])
            assert code in (1, 2), (name, command, err)
            assert "Traceback" not in err and "internal error" not in err, (name, command, err)
