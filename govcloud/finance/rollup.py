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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
TOP = ""  # the estate's own row: the top level
RATIO_PLACES = Decimal("0.000001")  # a ratio of a level's totals, as given


@dataclass(frozen=True)
class Node:
    parent: str  # "" : the top level
    name: str


Tree = Mapping[str, Node]  # organisation code → its parent and name
Ratio = tuple[str, str, str]  # its name, the numerator's measure, the denominator's


def ratio(total: Mapping[str, Decimal], r: Ratio) -> Decimal | None:
    """A ratio of one level's rolled-up totals (numerator over denominator, six decimals;
    None over nothing): recomputed at each level, never an average of the levels below."""
    _, num, den = r
    return (total[num] / total[den]).quantize(RATIO_PLACES) if total[den] else None


def _str(v: Decimal | None) -> str | None:
    return None if v is None else str(v)


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

    def as_dict(self, measures: tuple[str, ...],
                ratios: Sequence[Ratio] = ()) -> dict[str, Any]:
        """Its figures by measure; each ratio (name, numerator, denominator) of its totals,
        to six decimals (None over nothing)."""
        total = dict(zip(measures, self.total, strict=True))
        return {"organisation": self.code, "name": self.name, "path": list(self.path),
                "departments": list(self.departments),
                **{f"own_{m}": str(v) for m, v in zip(measures, self.own, strict=True)},
                **{f"children_{m}": str(v) for m, v in zip(measures, self.children,
                                                            strict=True)},
                **{m: str(v) for m, v in total.items()},
                **{r[0]: _str(ratio(total, r)) for r in ratios}}


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


def roll_up(tree: Tree, figures: Mapping[str, tuple[Decimal, ...]], top_name: str,
            width: int | None = None) -> tuple[list[Level], list[str]]:
    """Every organisation above a department with ``figures`` (department → one Decimal per
    measure; ``width`` measures, when there may be no department), top level first, then
    depth first in code order; and notes on what the tree could not place."""
    notes: list[str] = []
    if width is None:
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


def combine(rolls: list[list[Level]]) -> list[Level]:
    """Several roll-ups of the same measures (months of a year, each on its own tree) added
    up per organisation: own, children's and total each the sum of its rows, to the fen;
    its departments all those it had, its name and path the last roll-up's that has it."""
    by: dict[str, Level] = {}
    for levels in rolls:
        for lv in levels:
            was = by.get(lv.code)
            by[lv.code] = lv if was is None else Level(
                lv.code, lv.name, lv.path, tuple(sorted(set(was.departments) | set(
                    lv.departments))), _sum([was.own, lv.own], len(lv.own)),
                _sum([was.children, lv.children], len(lv.own)))
    return sorted(by.values(), key=lambda lv: lv.path)


def _sum(rows: list[tuple[Decimal, ...]], width: int) -> tuple[Decimal, ...]:
    return tuple(sum((r[i] for r in rows), ZERO) for i in range(width))
