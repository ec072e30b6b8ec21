"""Roll-ups: department figures added up each level of the organisation tree (pure).

The tree is each organisation's parent as recorded for the month (``Tree``: code → its
parent's code and its name; an estate without a directory has none, and every department
is at the top level). A figure is rolled up from the department rows alone, never rated
again: for each organisation,

    total = its own departments' figures + its child organisations' totals

to the fen, and the estate's row (the top level, code ``""``) is the sum of every
department's figure. A department the tree does not know sits at the top level; a parent
the tree does not know, or a loop of parents, is the top level too (named in ``notes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
TOP = ""  # the estate's own row: the top level


@dataclass(frozen=True)
class Node:
    parent: str  # "" : the top level
    name: str


Tree = Mapping[str, Node]  # organisation code → its parent and name


@dataclass(frozen=True)
class Level:
    """One organisation's row: its path from the top, its own departments' figures (each
    measure), its child organisations' totals, and its total."""

    code: str
    name: str
    path: tuple[str, ...]  # codes from the top level down to this one
    departments: tuple[str, ...]  # its own departments
    own: tuple[Decimal, ...]
    children: tuple[Decimal, ...]

    @property
    def depth(self) -> int:
        return len(self.path)

    @property
    def total(self) -> tuple[Decimal, ...]:
        return tuple(a + b for a, b in zip(self.own, self.children, strict=True))

    def as_dict(self, measures: tuple[str, ...]) -> dict[str, Any]:
        return {"organisation": self.code, "name": self.name, "path": list(self.path),
                "departments": list(self.departments),
                **{f"own_{m}": str(v) for m, v in zip(measures, self.own, strict=True)},
                **{f"children_{m}": str(v) for m, v in zip(measures, self.children,
                                                            strict=True)},
                **{m: str(v) for m, v in zip(measures, self.total, strict=True)}}


def parent_of(tree: Tree, code: str, notes: list[str]) -> str:
    """``code``'s parent, the top level when the tree does not know it."""
    node = tree.get(code)
    if node is None:
        return TOP
    if node.parent and node.parent not in tree:
        notes.append(f"{code}'s parent {node.parent} is no organisation recorded: counted at "
                     "the top level")
        return TOP
    return node.parent


def paths(tree: Tree, codes: list[str], notes: list[str]) -> dict[str, tuple[str, ...]]:
    """Each code's path of organisations from the top level down to (not including) it."""
    out: dict[str, tuple[str, ...]] = {}
    for code in codes:
        up: list[str] = []
        at = parent_of(tree, code, notes)
        while at != TOP:
            if at in up or at == code:
                notes.append(f"{code}: its parents loop ({' → '.join([code, *up, at])}): "
                             "counted at the top level")
                up = []
                break
            up.append(at)
            at = parent_of(tree, at, notes)
        out[code] = tuple(reversed(up))
    return out


def roll_up(tree: Tree, figures: Mapping[str, tuple[Decimal, ...]], top_name: str
            ) -> tuple[list[Level], list[str]]:
    """Every organisation above a department with ``figures`` (department → one Decimal per
    measure), top level first, then depth first in code order; and notes on what the tree
    could not place."""
    notes: list[str] = []
    width = len(next(iter(figures.values()), ()))
    where = paths(tree, sorted(figures), notes)
    own: dict[tuple[str, ...], list[str]] = {(): []}
    for dep, path in where.items():
        for i in range(len(path) + 1):
            own.setdefault(path[:i], [])
        own[path].append(dep)
    totals: dict[tuple[str, ...], tuple[Decimal, ...]] = {}
    for path in sorted(own, key=len, reverse=True):  # the deepest first
        mine = _sum([figures[d] for d in own[path]], width)
        kids = _sum([totals[p] for p in own if len(p) == len(path) + 1 and p[:-1] == path],
                    width)
        totals[path] = tuple(a + b for a, b in zip(mine, kids, strict=True))
    levels = []
    for path in sorted(own):
        kids = _sum([totals[p] for p in own if len(p) == len(path) + 1 and p[:-1] == path],
                    width)
        code = path[-1] if path else TOP
        name = tree[code].name if path and code in tree else top_name
        levels.append(Level(code, name, path, tuple(sorted(own[path])),
                            _sum([figures[d] for d in own[path]], width), kids))
    return levels, sorted(set(notes))


def _sum(rows: list[tuple[Decimal, ...]], width: int) -> tuple[Decimal, ...]:
    return tuple(sum((r[i] for r in rows), ZERO) for i in range(width))
