"""`include:` blocks from other spec files, so that one bottleneck serves five specs.

    include: [resnet50.yaml#bottleneck, mobilenet_v2.yaml#inverted_res, blocks.yaml]

An item is a path relative to the including file, and `#name` for one of its blocks (without it,
every block of the file). A block comes with the blocks of its file it calls, however deep; the
included file's own `include:` is followed too, and a cycle is an error. Each block is read from
the included file's YAML, so its spans, and every error inside it, point into that file
(path:line:col). An included block sees the including spec's params and defaults, as any block of
it does; a name defined twice (here and included, or included from two places) is an error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ...errors import Diagnostics, NetcError, SourceSpan, UsageError, did_you_mean
from .. import ast
from ..spec import YNode, load_yaml, read_spec_text
from .blocks import read_block
from .checks import IDENTIFIER, expect, key_index

MAX_INCLUDE_DEPTH = 16  # files including files; a real library needs two or three


@dataclass(frozen=True)
class Included:
    block: ast.BlockDef
    origin: str  # "path#name", for messages about a clash


def _item_spans(item: YNode) -> tuple[SourceSpan, SourceSpan | None]:
    """The path part and the `#name` part of an include item, where each is written."""
    text = item.value
    at = item.source.text.find(text, item.start)
    at = at if at >= 0 else item.start
    path, _, name = text.partition("#")
    path_span = item.source.span_at(at, max(1, len(path)))
    name_span = item.source.span_at(at + len(path), len(name) + 1) if name else None
    return path_span, name_span


def _display_path(including: str, relative: str) -> str:
    if os.path.isabs(relative):
        return os.path.normpath(relative)
    return os.path.normpath(os.path.join(os.path.dirname(including), relative))


def _read(path: str, span: SourceSpan) -> YNode:
    """The included file's YAML; a file that cannot be read is an error at the include item."""
    try:
        text = read_spec_text(path)
    except UsageError:
        folder = os.path.dirname(path) or "."
        try:
            near = sorted(f for f in os.listdir(folder) if f.endswith((".yaml", ".yml")))
        except OSError:
            near = []
        hint = did_you_mean(os.path.basename(path), near)
        raise NetcError.at(span, f"cannot include '{path}': no such file",
                           hint or "the path is relative to the including spec's folder") from None
    return load_yaml(text, path)


def _file_blocks(root: YNode) -> dict[str, YNode]:
    if not isinstance(root.value, dict) or "blocks" not in root.value:
        return {}
    blocks = root.value["blocks"]
    return blocks.value if isinstance(blocks.value, dict) else {}


def _calls(block: ast.BlockDef) -> set[str]:
    """The words a block's DSL calls (its layers and the blocks it uses)."""
    found: set[str] = set()
    stack: list = [p for p in (block.body, *block.branches, block.after,
                               block.shortcut if isinstance(block.shortcut, ast.Seq) else None) if p is not None]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Call):
            found.add(item.word)
        elif isinstance(item, ast.Seq):
            stack.extend(item.items)
        elif isinstance(item, ast.Repeat):
            stack.append(item.body)
    return found


class Includer:
    def __init__(self, errors: Diagnostics):
        self.errors = errors
        self.loaded: dict[str, dict[str, Included]] = {}  # a file's real path → every block it offers
        self.stack: list[str] = []

    def file(self, path: str, span: SourceSpan) -> dict[str, Included]:
        """Every block a file offers (its own and those it includes), each read once."""
        real = os.path.realpath(path)
        if real in self.stack:
            chain = " → ".join(os.path.basename(p) for p in self.stack[self.stack.index(real):] + [real])
            raise NetcError.at(span, f"'{path}' includes itself ({chain})")
        if real in self.loaded:
            return self.loaded[real]
        if len(self.stack) >= MAX_INCLUDE_DEPTH:
            raise NetcError.at(span, f"includes nested more than {MAX_INCLUDE_DEPTH} deep")
        root = _read(path, span)
        self.stack.append(real)
        try:
            offered: dict[str, Included] = {}
            if isinstance(root.value, dict) and "include" in root.value:
                offered.update(self.items(root.value["include"], root.source.path, {}))
            for name, body in _file_blocks(root).items():
                blocks_node = root.value["blocks"]
                name_span = blocks_node.source.span_at(key_index(blocks_node, name), len(name))
                block = self.errors.run(read_block, name, body, name_span, self.errors)
                if block is not None:
                    offered[name.lower()] = Included(block, f"{path}#{name}")
        finally:
            self.stack.pop()
        self.loaded[real] = offered
        return offered

    def items(self, node: YNode, including: str, local: dict[str, ast.BlockDef]) -> dict[str, Included]:
        """The blocks an `include:` list brings into a spec whose own blocks are `local`."""
        items = node.value if isinstance(node.value, list) else [node]
        brought: dict[str, Included] = {}
        for item in items:
            self.errors.run(self._item, item, including, local, brought)
        return brought

    def _item(self, item: YNode, including: str, local: dict[str, ast.BlockDef], brought: dict[str, Included]) -> None:
        expect(item, str, "an include")
        path_span, name_span = _item_spans(item)
        relative, _, name = item.value.strip().partition("#")
        if not relative:
            raise NetcError.at(path_span, "an include names a spec file: path.yaml or path.yaml#block")
        path = _display_path(including, relative)
        offered = self.file(path, path_span)
        if name:
            if not IDENTIFIER.match(name) or name.lower() not in offered:
                listing = ", ".join(sorted(offered)) or "none"
                raise NetcError.at(name_span, f"'{path}' has no block '{name}' (its blocks: {listing})",
                                   did_you_mean(name.lower(), list(offered)))
            wanted = [name.lower()]
            for word in wanted:  # the blocks it calls, however deep
                wanted += [w for w in _calls(offered[word].block) if w in offered and w not in wanted]
        else:
            wanted = list(offered)
        for word in wanted:
            included = offered[word]
            if word in local:
                raise NetcError.at(name_span or path_span, f"block '{word}' is defined in this spec and included "
                                   f"from {included.origin}" + ("" if word == (name or "").lower() else
                                                               f" (for {path}#{name})"),
                                   "rename one of them")
            earlier = brought.get(word)
            if earlier is not None and earlier.block is not included.block:
                raise NetcError.at(name_span or path_span, f"block '{word}' is included twice: from "
                                   f"{earlier.origin} and from {included.origin}", "include one of them")
            brought[word] = included
