"""What a signed-in person may see of the estate: the one filter the views call. A member or
a department's approver sees their department; a person scoped to an organisation
(``Person.subtree``) every department under it (``core.hierarchy``, the tree as the
directory sync recorded it); anyone else everything (None)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar

from govcloud.access.users import Person
from govcloud.core import hierarchy
from govcloud.estate import organisations
from govcloud.portal.context import Portal
from govcloud.reports.views import Report

T = TypeVar("T")
# A finance report's figures about the whole estate, which a scoped person does not see
# (None: shown as nothing), its lists about every department's share of each pool (emptied),
# and the workbook's sheets about the platform that are kept (the prices, the same for all).
ESTATE_WIDE = frozenset({"platform_cost", "idle", "charged", "adjusted",
                         "platform_cost_plus_adjustments", "legacy_total",
                         "consolidated_total", "saving", "saving_per_year"})
ESTATE_LISTS = frozenset({"pools", "hours", "hosts", "adjustments"})
PLATFORM_SHEETS = frozenset({"Rate card"})


def reach(p: Portal, person: Person) -> frozenset[str] | None:
    """The departments a scoped person reaches (None: not scoped), made once per change."""
    if not person.subtree:
        return None
    return p.figures(("reach", person.subtree), lambda: organisations.reach(
        p.store, person.subtree, p.estate.plans) or frozenset())


def seen(p: Portal, person: Person) -> frozenset[str] | None:
    """The departments ``person`` may see; None: every one."""
    if person.department is not None:
        return frozenset({person.department})
    return reach(p, person)


def only(p: Portal, person: Person, items: Iterable[T], department: Any) -> list[T]:
    """``items`` whose department (``department(item)``) the person may see; an item of no
    department ("" or None) only for an unscoped person."""
    allowed = seen(p, person)
    if allowed is None:
        return list(items)
    return [i for i in items if department(i) in allowed]


def keyed(p: Portal, person: Person, items: Iterable[T], key: Any) -> list[T]:
    """``items`` named by a resource key ("department/kind/name": an apply's journal step, a
    consolidation's move) whose department the person may see."""
    return only(p, person, items, lambda i: str(key(i)).split("/", 1)[0])


def accounts(p: Portal, person: Person, people: Iterable[Person]) -> list[Person]:
    """The accounts a scoped person may see: of a department they reach, scoped to an
    organisation in their subtree, and those accounts' API tokens; unscoped: every one."""
    listed = list(people)
    allowed = reach(p, person)
    if allowed is None:
        return listed
    tree = organisations.parents(p.store)

    def inside(x: Person) -> bool:
        if x.department:
            return x.department in allowed
        return bool(x.subtree) and hierarchy.inside(x.subtree, person.subtree, tree)

    kept = {x.name for x in listed if not x.owner and inside(x)}
    return [x for x in listed if (x.owner or x.name) in kept]


def limited(p: Portal, person: Person, rep: Report) -> Report:
    """A finance report as a scoped person may read it: in every sheet by department, the
    rows of their departments with a total of those (the estate's rows, idle capacity and
    the others' rows left out); of the sheets about the platform only the rate card (the
    pools, hours and unit costs hold the estate's totals and every department's share);
    the estate's totals in its data none (trial of #25). Unscoped: ``rep`` itself."""
    allowed = reach(p, person)
    if allowed is None:
        return rep
    sheets = {name: _rows_within(header, rows, allowed)
              for name, (header, rows) in rep.sheets.items()
              if (header and header[0] == "department") or name in PLATFORM_SHEETS}
    data = rep.data
    if isinstance(data, dict):
        data = {**data, **{k: None for k in ESTATE_WIDE if k in data},
                **{k: type(data[k])() for k in ESTATE_LISTS if k in data}}
        if isinstance(data.get("departments"), list):
            data["departments"] = [d for d in data["departments"]
                                   if d.get("department") in allowed]
    return Report(rep.period, sheets, data, "", rep.notes)


def _rows_within(header: list[str], rows: list[list[Any]], allowed: frozenset[str]
                 ) -> tuple[list[str], list[list[Any]]]:
    if not header or header[0] != "department":
        return header, rows
    kept = [r for r in rows if r[0] in allowed]
    if len(header) < 3 or header[1] != "name" or not kept:
        return header, kept
    sums = [sum((r[i] for r in kept), start=type(kept[0][i])(0))
            if all(isinstance(r[i], (int, Decimal)) for r in kept) else ""
            for i in range(2, len(header))]
    return header, [*kept, ["(subtree)", "these departments together", *sums]]
