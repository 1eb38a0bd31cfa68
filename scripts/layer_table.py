"""Regenerate the layer-word table in README.md from netc's registry of layer kinds (netc/layers).

    python scripts/layer_table.py            # rewrite the text between the layer markers
    python scripts/layer_table.py --check    # exit 1 when README.md is out of date (tests/test_messages.py does this)
    python scripts/layer_table.py --print    # print the table

Nothing in the table is typed by hand: one row per kind that a DSL word names, with its words
(and the attributes a word fixes), its arguments in positional order with their defaults, what
`word-N` sets, and the `defaults:` section that applies to it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import readme_section

from netc.frontend.exprs import Symbol
from netc.layers import KINDS, Attr, LayerKind
from netc.layers.base import REQUIRED

START, END = "<!-- layers:start -->", "<!-- layers:end -->"

# What a default of None means, which the registry states only in a comment. A kind given a new
# None default stops the script until its meaning is written here, rather than printing "None".
NONE_MEANS: dict[tuple[str, str], str] = {
    ("pool", "stride"): "= kernel", ("prelu", "slopes"): "= channels",
    ("zeropad", "right"): "= left", ("zeropad", "top"): "= left", ("zeropad", "bottom"): "= left",
    ("crop", "height"): "the point's", ("crop", "width"): "= height, or the point's", ("crop", "offset"): "centre",
}

PROBE = 7  # a number appended to a word, to find words that take one (conv7 → kernel 7)


def _value(value: Any) -> str:
    if isinstance(value, Symbol):
        return value.name
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = f"{value:g}"
        return text.replace("e-0", "e-")  # 1e-05 → 1e-5, as a person writes it
    if isinstance(value, tuple):  # a list of numbers (anchors' sizes), as defaults: writes it
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return str(value)


def _default(kind: LayerKind, attr: Attr) -> str:
    if attr.default is REQUIRED:
        return "required"
    if attr.default is None:
        if (kind.name, attr.name) not in NONE_MEANS:
            raise SystemExit(f"{kind.name}.{attr.name} defaults to None: say what that means in NONE_MEANS")
        return NONE_MEANS[(kind.name, attr.name)]
    return _value(attr.default)


def _argument(kind: LayerKind, attr: Attr) -> str:
    default = _default(kind, attr)
    if attr.type == "choice":
        default += "; " + " \\| ".join(attr.choices)  # \| keeps the cell in one column
    elif attr.type == "padding":
        default += "; valid \\| same \\| full \\| a number"
    return f"`{attr.name}` ({default})"


def _words(kind: LayerKind) -> str:
    shown = []
    for word, fixed in kind.words.items():
        fixes = ", ".join(f"{name} {_value(value)}" for name, value in fixed.items())
        shown.append(f"`{word}`" + (f" ({fixes})" if fixes else ""))
    if type(kind).word_attrs is not LayerKind.word_attrs:
        # A kind with its own word rule: find the words that take a number (conv3) by trying one.
        for word in kind.words:
            fixed = kind.word_attrs(f"{word}{PROBE}") or {}
            numbered = [name for name, value in fixed.items() if value == PROBE]
            if numbered:
                shown.append(f"`{word}N` ({numbered[0]} N)")
    return ", ".join(shown)


def table() -> str:
    lines = [
        "| words | arguments, in positional order (default) | `word-N` sets | `defaults:` section |",
        "| --- | --- | --- | --- |",
    ]
    previous: LayerKind | None = None
    for kind in KINDS.values():
        if not kind.words:
            continue  # made by netc itself (the input, concat, add, a residual's projection), never written
        if previous is not None and not kind.attrs and not previous.attrs and kind.category == previous.category:
            # Neighbouring kinds of one category with nothing to set share a row: sigmoid, tanh, ….
            lines[-1] = lines[-1].replace(" | none |", f", {_words(kind)} | none |", 1)
            continue
        arguments = ", ".join(_argument(kind, a) for a in kind.attrs) or "none"
        number = f"`{kind.number_attr}`" if kind.number_attr else "—"
        section = f"`{kind.defaults_key or kind.name}`" if kind.attrs else "—"
        lines.append(f"| {_words(kind)} | {arguments} | {number} | {section} |")
        previous = kind
    return "\n".join(lines)


def updated_readme(text: str, generated: str) -> str:
    return readme_section.updated_readme(text, generated, START, END)


def main(argv: list[str] | None = None) -> int:
    return readme_section.main(__doc__.splitlines()[0], table, START, END, "the layer-word table", "layer_table.py", argv)


if __name__ == "__main__":
    raise SystemExit(main())
