"""The README's spec examples are specs netc accepts: every ```yaml block that writes a `network:`
(and no `…` placeholder) checks, given a name and an input when it has none."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netc.analysis import analyze_file

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLES = [block for block in re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
            if re.search(r"^network:", block, re.M) and "…" not in block]


def test_the_readme_has_complete_examples():
    assert len(EXAMPLES) >= 2


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_a_readme_example_checks(index, tmp_path):
    text = EXAMPLES[index]
    if not re.search(r"^input:", text, re.M):
        text = "input: [3, 64, 64]\n" + text
    if not re.search(r"^name:", text, re.M):
        text = "name: example\n" + text
    spec = tmp_path / "example.yaml"
    spec.write_text(text, encoding="utf-8")
    assert analyze_file(str(spec)).params > 0
