"""The registration order of a name-sorted safetensors file, rebuilt from the dotted names (see
the package docstring, "Order of a safetensors file")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .checkpoint import ROLES, Entry


# --- registration order rebuilt from names (sorted safetensors files) ----------------------------
def _natural(name: str) -> list:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


@dataclass
class _Tree:
    own: list[Entry] = field(default_factory=list)
    children: dict[str, _Tree] = field(default_factory=dict)

    def flat(self) -> list[Entry]:
        return self.own + [e for c in self.children.values() for e in c.flat()]


def _registration_order(entries: list[Entry], target: list[tuple]) -> list[Entry]:
    """The checkpoint's entries in the order a module would register them, guided by the target's
    keys (see the module docstring)."""
    root = _Tree()
    for e in entries:
        node = root
        for part in e.name.split(".")[:-1]:
            node = node.children.setdefault(part, _Tree())
        node.own.append(e)

    def arrange(node: _Tree) -> None:
        node.own.sort(key=lambda e: (ROLES.index(e.role) if e.role in ROLES else len(ROLES), _natural(e.name)))
        node.children = dict(sorted(node.children.items(), key=lambda kv: _natural(kv[0])))
        for child in node.children.values():
            arrange(child)

    arrange(root)
    memo: dict[tuple[int, int], tuple[list[Entry], int, bool]] = {}

    def place(node: _Tree, p: int) -> tuple[list[Entry], int, bool]:
        """(the node's entries ordered, how many match the target from p on, all of them?)"""
        hit = memo.get((id(node), p))
        if hit is not None:
            return hit
        out: list[Entry] = []
        matched, whole = 0, True
        for e in node.own:
            if whole and p + len(out) < len(target) and e.key == target[p + len(out)]:
                matched += 1
            else:
                whole = False
            out.append(e)
        rest = list(node.children.values())
        while rest:
            if not whole:  # past a mismatch the target says nothing more: natural order
                out += [e for c in rest for e in c.flat()]
                break
            child, seq, m, complete = choose(rest, p + len(out))
            rest.remove(child)
            out += seq
            matched += m
            whole = complete
        result = (out, matched, whole)
        memo[(id(node), p)] = result
        return result

    def choose(rest: list[_Tree], p: int) -> tuple[_Tree, list[Entry], int, bool]:
        """The child to place at p. Where several match whole (ResNet's conv3 and downsample, both
        256×64×1×1; DenseNet's transition3 and norm5 after block 3, both starting with a BN of
        1024), the one after which the siblings, placed first-whole-match, match the most; ties go
        to natural order (bn1 before bn2). Where none matches whole, the one matching the most."""
        tried = [(child, *place(child, p)) for child in rest]
        whole = [t for t in tried if t[3]]
        if len(whole) == 1:
            return whole[0]
        if not whole:
            return max(tried, key=lambda t: t[2])  # max keeps the first of equals
        return max(whole, key=lambda t: t[2] + follow([c for c in rest if c is not t[0]], p + len(t[1])))

    def follow(rest: list[_Tree], p: int) -> int:
        """How many tensors the siblings match from p, each step the first child matching whole."""
        matched = 0
        rest = list(rest)
        while rest:
            step = next(((c, *place(c, p)) for c in rest if place(c, p)[2]), None)
            if step is None:
                return matched + max(place(c, p)[1] for c in rest)
            rest.remove(step[0])
            matched += step[2]
            p += len(step[1])
        return matched

    return place(root, 0)[0]
