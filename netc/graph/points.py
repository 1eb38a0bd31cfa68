"""Named points: where marks are placed, and which one a layer or head reads.

A mark `<skip>` names the tensor at its place; a later layer reads it as an input
(`concat(<skip>)`), a head starts from it. Points are scoped by the block instance that places
them: each use of a block has its own `<skip>`, read inside that use as `<skip>` and from outside
as `<down2.skip>` (the instance's scope name, as the table prints it). A mark inside a repetition
is placed once per repetition, so it takes an index (`<skip[i]>` in `[…]*4@i`), read back with any
expression (`<skip[3 - j]>`). Reading looks in the reader's own block instance first, then in the
blocks around it, then anywhere, where it must be unique.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import NetcError, SourceSpan, did_you_mean
from ..frontend import ast


@dataclass(frozen=True)
class Placement:
    node: str  # the node whose output the point names
    owner: str  # the block instance that placed it ("" at top level)
    span: SourceSpan


def shown(name: str, index: Any) -> str:
    return f"<{name}>" if index is None else f"<{name}[{index}]>"


class PointTable:
    def __init__(self, written: dict[str, SourceSpan]):
        self.placed: dict[tuple[str, Any], list[Placement]] = {}
        self.written = written  # every mark name in the program, where it is first written
        self.variables: dict[str, str] = {}  # node → what the generated forward may call its tensor
        self.blocks: dict[str, str] = {}  # block instance → its block's name, for <block.name>: the latest use
        self.latest_reads = 0  # points read as <block.name>: a loop of a template cannot hold one (netc/graph/templates.py)

    def place(self, name: str, index: Any, node: str, owner: str, span: SourceSpan) -> None:
        places = self.placed.setdefault((name, index), [])
        for earlier in places:
            if earlier.owner == owner:
                again = earlier.span == span
                raise NetcError.at(span, f"mark {shown(name, index)} is placed twice",
                                   f"a mark inside a repetition is placed once per repetition: index it, "
                                   f"<{name}[i]> in […]*N@i" if again else "give each mark its own name")
        places.append(Placement(node, owner, span))
        self.variables.setdefault(node, name if index is None else f"{name}{index}")

    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.placed))

    def find(self, name: str, index: Any, owners: list[str], span: SourceSpan, what: str, before: bool = True) -> str:
        """The node a point read at `span` names; `owners` are the block instances around the
        reader, outermost first ("" the top level)."""
        base, owner = name.rsplit(".", 1)[-1], (name.rsplit(".", 1)[0] if "." in name else None)
        places = self.placed.get((base, index), [])
        if owner is not None:
            named = [p for p in places if p.owner == owner or p.owner.endswith("." + owner)]
            if not named:  # <unit.high> by the block's name: its latest use before the reader (a repetition's last)
                named = [p for p in places if self.blocks.get(p.owner) == owner][-1:]
                self.latest_reads += bool(named)
            places = named
        else:
            for around in reversed(owners):  # the reader's own block first
                mine = [p for p in places if p.owner == around]
                if mine:
                    return mine[-1].node
        if len(places) == 1:
            return places[0].node
        if len(places) > 1:
            where = ", ".join(p.owner or "the top level" for p in places[:4]) + (", …" if len(places) > 4 else "")
            first = next(p.owner for p in places if p.owner) if any(p.owner for p in places) else None
            hint = (f"name the block that placed it, as <{first}.{base}>, or index the mark (<{base}[i]>)"
                    if first else f"index the mark (<{base}[i]>)")
            raise NetcError.at(span, f"{what} {shown(name, index)}, which is ambiguous: it is placed {len(places)} "
                               f"times ({where})", hint)
        raise NetcError.at(span, f"{what} {shown(name, index)}, which no mark {'before it ' if before else ''}names",
                           self._hint(base, index, span))

    def find_every(self, name: str, owners: list[str], span: SourceSpan, what: str) -> list[str]:
        """The nodes of every index of a mark (`<m[*]>`), in index order: those placed in the
        reader's own block use first, then in the blocks around it, then anywhere, where each index
        must be placed once."""
        base, owner = name.rsplit(".", 1)[-1], (name.rsplit(".", 1)[0] if "." in name else None)
        places = [(index, p) for (mark, index), found in self.placed.items() if mark == base and index is not None
                  for p in found]
        if owner is not None:
            places = [(i, p) for i, p in places if p.owner == owner or p.owner.endswith("." + owner)]
        else:
            for around in reversed(owners):
                mine = [(i, p) for i, p in places if p.owner == around]
                if mine:
                    places = mine
                    break
        if not places:
            unindexed = (base, None) in self.placed
            raise NetcError.at(span, f"{what} <{name}[*]>, which no indexed mark before it names",
                               f"<{base}> is placed without an index: read it as <{base}>" if unindexed
                               else self._hint(base, None, span))
        by_index: dict[Any, list[Placement]] = {}
        for index, place in places:
            by_index.setdefault(index, []).append(place)
        for index, found in by_index.items():
            if len(found) > 1:
                where = ", ".join(p.owner or "the top level" for p in found[:4])
                raise NetcError.at(span, f"{what} <{name}[*]>, which is ambiguous: <{base}[{index}]> is placed "
                                   f"{len(found)} times ({where})", "name the block that placed them, as "
                                   f"<{found[-1].owner or 'block'}.{base}[*]>")
        return [by_index[index][0].node for index in sorted(by_index)]

    def _hint(self, base: str, index: Any, span: SourceSpan) -> str:
        indices = [i for name, i in self.placed if name == base]
        if indices:
            listing = ", ".join("none" if i is None else str(i) for i in indices[:8])
            some = next((i for i in indices if i is not None), None)
            return f"<{base}> is placed with index {listing}" + (f": read one as {shown(base, some)}" if some is not None and
                                                                   index is None else "")
        later = self.written.get(base)
        if later is not None:
            return (f"<{base}> is placed later ({later.line}:{later.col}); a layer reads only points placed "
                    "before it")
        known = self.names()
        # Each point as it is read: an indexed mark with its indices (<y[0]>, <y[1]>), not as <y>.
        points = list(dict.fromkeys(shown(name, i) for name, i in self.placed))
        listing = ", ".join(points[:8]) + (", …" if len(points) > 8 else "")
        return did_you_mean(base, known) or (f"the points are {listing}" if known else
                                             f"place a mark where the point is: … - <{base}> - …")


def written_marks(program: ast.Program) -> dict[str, SourceSpan]:
    """Every mark name the program writes (in the network, blocks and heads), at its first place."""
    found: dict[str, SourceSpan] = {}
    parts: list[ast.Seq | None] = [program.network, *(h.body for h in program.heads)]
    for block in program.blocks.values():
        parts += [block.body, *block.branches, block.after]
        if isinstance(block.shortcut, ast.Seq):
            parts.append(block.shortcut)
    stack: list[Any] = [p for p in parts if p is not None]
    while stack:
        item = stack.pop()
        if isinstance(item, ast.Mark):
            earlier = found.get(item.name)
            if earlier is None or (item.span.line, item.span.col) < (earlier.line, earlier.col):
                found[item.name] = item.span
        elif isinstance(item, ast.Seq):
            stack.extend(item.items)
        elif isinstance(item, ast.Repeat):
            stack.append(item.body)
    return found
