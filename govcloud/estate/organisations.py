"""``govcloud directory sync``: the directory's organisations brought into the estate.

:func:`plan` reads the directory (``access.directory``), refuses what cannot be imported
(``core.directory.organisations``: a code that is no department id, a cost centre another
plan holds…), and compares the rest with govcloud's record of the last sync (the
``organisations`` table: each organisation's code, name, parent, cost centre and entry, and
when it left the directory) and the directory's people with the roles their rows hold.
:func:`apply` carries out exactly that plan: a new department gets a commented plan skeleton
with its name and cost centre (``core.skeleton``); a renamed one keeps its id (the code) and
its plan's ``department.name`` is edited, comments kept; a move records the new parent; one
gone from the directory is flagged (``left_at``), its plan and resources left as they are;
people's rows get the role their groups give now. Every change is an audit record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.access import users
from govcloud.access.directory import Directory
from govcloud.access.users import DIRECTORY
from govcloud.audit import trail
from govcloud.clock import clock, now, stamp
from govcloud.core import hierarchy
from govcloud.core.checks import Checked
from govcloud.core.directory import (
    Change,
    Known,
    Member,
    Organisation,
    Rejected,
    decide,
    dn_key,
    organisations,
    plan_sync,
)
from govcloud.core.requests import Edit
from govcloud.core.skeleton import department_plan
from govcloud.errors import GovcloudError
from govcloud.estate.files import write_all, write_text
from govcloud.estate.loader import SETTINGS_FILE, check_estate, find_root
from govcloud.estate.planedit import apply_edits
from govcloud.finance.rollup import Node
from govcloud.state.store import Store, open_store

TABLE = """CREATE TABLE IF NOT EXISTS organisations (
    code TEXT PRIMARY KEY, name TEXT NOT NULL, parent TEXT NOT NULL,
    cost_centre TEXT NOT NULL, dn TEXT NOT NULL, left_at TEXT NOT NULL,
    synced_at TEXT NOT NULL)"""
# Append-only: each organisation's parent from the time a sync recorded it, so a month's
# roll-up reads the tree as it was then (a department moved in March is under its old
# district in January's). Never updated or deleted.
PARENTS = """CREATE TABLE IF NOT EXISTS organisation_parents (
    code TEXT NOT NULL, parent TEXT NOT NULL, name TEXT NOT NULL, at TEXT NOT NULL)"""


@dataclass(frozen=True)
class RoleChange:
    """A directory person whose row holds another role than their groups give now
    (``after`` None: no role any more; their next sign-in is refused, a session ends)."""

    name: str
    before: tuple[str, str | None]
    after: tuple[str, str | None] | None
    scope: tuple[str, str] = ("", "")  # the organisation scoping them, before and after

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "before": list(self.before),
                "after": list(self.after) if self.after else None,
                **({"scope": list(self.scope)} if any(self.scope) else {})}


@dataclass(frozen=True)
class SyncPlan:
    changes: list[Change]
    rejected: list[Rejected]
    roles: list[RoleChange]
    organisations: int  # how many the directory holds that can be imported
    people: int
    skeletons: list[str] = field(default_factory=list)  # codes that get a plan written

    @property
    def empty(self) -> bool:
        return not (self.changes or self.roles)

    def as_dict(self) -> dict[str, Any]:
        return {"organisations": self.organisations, "people": self.people,
                "changes": [c.as_dict() for c in self.changes],
                "skeletons": self.skeletons,
                "rejected": [vars(r) for r in self.rejected],
                "roles": [r.as_dict() for r in self.roles]}


def in_directory(store: Store) -> frozenset[str]:
    """The organisations the last sync recorded that are still in the directory: what a
    person's scope may name (``users add --scope``, a directory person's organisation)."""
    return frozenset(code for code, k in known(store).items() if not k.left)


def known(store: Store) -> dict[str, Known]:
    store.execute(TABLE)
    return {r[0]: Known(Organisation(r[0], r[1], r[2], r[3], r[4]), r[5])
            for r in store.query("SELECT code, name, parent, cost_centre, dn, left_at "
                                 "FROM organisations")}


def _checked(root: Path) -> Checked:
    checked = check_estate(root)
    if checked.settings is None:
        raise GovcloudError(f"{SETTINGS_FILE} does not validate", "run govcloud validate "
                            "and fix it")
    if not checked.settings.directory.enabled:
        raise GovcloudError(f"{SETTINGS_FILE} names no directory",
                            "add a directory: section (see docs/directory.md)")
    return checked


def plan(root: Path) -> SyncPlan:
    """What a sync of the estate at ``root`` with its directory would change."""
    root = find_root(root)
    checked = _checked(root)
    settings = checked.settings
    assert settings is not None
    found = Directory(settings.directory, root)
    orgs, rejected = organisations(found.entries(),
                                   by_dn_parent=not settings.directory.organisations.parent)
    orgs, refused = _cost_centres(orgs, checked)
    members = found.members()
    store = open_store(settings.state_url, root, settings.estate, audit=settings.audit)
    try:
        changes = plan_sync(orgs, _with_plans(known(store), orgs, checked),
                            {r.code for r in rejected + refused})
        departments = set(checked.plans) | {o.code for o in orgs if o.department}
        roles = role_changes(store, members, found, departments, {o.code for o in orgs})
    finally:
        store.close()
    skeletons = [c.code for c in changes if c.action in ("add", "return", "update") and
                 c.after is not None and c.after.department and c.code not in checked.plans]
    return SyncPlan(changes, rejected + refused, roles, len(orgs), len(members),
                    sorted(set(skeletons)))


def _with_plans(recorded: dict[str, Known], orgs: list[Organisation], checked: Checked
                ) -> dict[str, Known]:
    """govcloud's record, and for a directory code that is already a department here but
    was never synced, its plan as it stands: the directory's name and cost centre are then
    compared with the plan's (a rename, an update, its move under the directory's parent)
    rather than taken over silently."""
    out = dict(recorded)
    for o in orgs:
        plan = checked.plans.get(o.code)
        if o.code not in out and plan is not None:
            d = plan.department
            out[o.code] = Known(Organisation(o.code, d.name, "", d.cost_centre or "", ""))
    return out


def _cost_centres(orgs: list[Organisation], checked: Checked
                  ) -> tuple[list[Organisation], list[Rejected]]:
    """The organisations whose cost centre no other department's plan holds (validate
    wants each unique), and those refused for it."""
    held = {p.department.cost_centre: p.department.id for p in checked.plans.values()}
    keep, refused = [], []
    for o in orgs:
        other = held.get(o.cost_centre)
        if o.cost_centre and other is not None and other != o.code:
            refused.append(Rejected(o.dn, o.code, f"its cost centre {o.cost_centre} is "
                                    f"department {other}'s"))
        else:
            keep.append(o)
            if o.cost_centre:
                held[o.cost_centre] = o.code
    return keep, refused


def role_changes(store: Store, members: Iterable[Member], found: Directory,
                 departments: set[str], codes: Iterable[str] = ()) -> list[RoleChange]:
    """The directory people with a row here whose groups now give another role."""
    by_dn = {dn_key(m.dn): m for m in members}
    out = []
    for person in users.people(store):
        if not person.directory_dn:
            continue
        member = by_dn.get(dn_key(person.directory_dn))
        decision = decide(member, found.settings, departments, codes) if member else None
        after = (decision.role, decision.department) if decision and decision.role else None
        scope = (person.subtree, decision.subtree if decision and decision.role else "")
        if after != (person.role, person.department) or (after and scope[0] != scope[1]):
            out.append(RoleChange(person.name, (person.role, person.department), after,
                                  scope))
    return out


@dataclass(frozen=True)
class Applied:
    changes: int
    written: list[str]  # plan files written or edited
    roles: int


def apply(root: Path, sync: SyncPlan, actor: str) -> Applied:
    """Carry out ``sync`` (as :func:`plan` returned it): record each change, write the new
    departments' skeletons and the renamed ones' names, bring people's roles up to date."""
    root = find_root(root)
    checked = _checked(root)
    settings = checked.settings
    assert settings is not None
    store = open_store(settings.state_url, root, settings.estate, audit=settings.audit)
    written: list[str] = []
    try:
        with store.transaction():
            record(store, sync.changes)
            _audit(store, sync.changes, actor)
            for r in sync.roles:
                _role(store, r, actor)
        by_code = {c.code: c.after for c in sync.changes if c.after is not None}
        written += _skeletons(root, checked, [by_code[code] for code in sync.skeletons])
        for change in sync.changes:
            if change.code in checked.plans and change.after and change.before and (
                    change.action == "rename" or change.after.cost_centre and
                    change.after.cost_centre != change.before.cost_centre):
                written.append(_edit(root, checked.plans[change.code].file, change.action,
                                     change.after))
    finally:
        store.close()
    return Applied(len(sync.changes), written, len(sync.roles))


def record(store: Store, changes: Iterable[Change]) -> None:
    """The organisations' rows as ``changes`` leave them, and each new parent or name in
    the dated record of parents (what a month's roll-up reads)."""
    store.execute(TABLE)
    store.execute(PARENTS)
    for change in changes:
        _record(store, change)


def _record(store: Store, change: Change) -> None:
    """The organisation's row as the change leaves it (a retired one flagged)."""
    o = change.after or change.before
    assert o is not None
    at = now()
    if change.action == "retire":
        store.execute("UPDATE organisations SET left_at = ?, synced_at = ? WHERE code = ?",
                      (at, at, o.code))
        return
    before = change.before
    if before is None or (before.parent, before.name) != (o.parent, o.name):
        if before is not None and not store.query(
                "SELECT 1 FROM organisation_parents WHERE code = ?", (o.code,)):
            # synced before parents were dated: its parent until now, from its last sync
            store.execute("INSERT INTO organisation_parents (code, parent, name, at) SELECT "
                          "code, parent, name, synced_at FROM organisations WHERE code = ?",
                          (o.code,))
        store.execute("INSERT INTO organisation_parents (code, parent, name, at) "
                      "VALUES (?,?,?,?)", (o.code, o.parent, o.name, at))
    store.execute("DELETE FROM organisations WHERE code = ?", (o.code,))
    store.execute("INSERT INTO organisations (code, name, parent, cost_centre, dn, left_at, "
                  "synced_at) VALUES (?,?,?,?,?,'',?)",
                  (o.code, o.name, o.parent, o.cost_centre, o.dn, at))


AUDIT_BATCH = 500  # changes of one kind per audit record at most


def _audit(store: Store, changes: list[Change], actor: str) -> None:
    """The audit records of a sync: one per change, or for many changes of one kind (a
    first import of thousands) one per AUDIT_BATCH of them, each listing every change it
    covers (each record's head is synced to disk outside the store: one per change would
    take minutes for 10,000)."""
    kinds: dict[str, list[Change]] = {}
    for change in changes:
        kinds.setdefault(change.action, []).append(change)
    for action, group in kinds.items():
        batch = 1 if len(group) <= AUDIT_BATCH // 10 else AUDIT_BATCH
        for i in range(0, len(group), batch):
            part = group[i:i + batch]
            one = part[0] if len(part) == 1 else None
            o = one and (one.after or one.before)
            trail.append(store, actor, f"directory {action}",
                         o.code if o else f"{len(part)} organisations",
                         o.code if o and o.department else "",
                         _side(part, "before"), _side(part, "after"),
                         one.reason if one else f"{len(part)} organisations: "
                         + ", ".join(c.code for c in part), "cli")


def _side(part: list[Change], side: str) -> Any:
    values = [getattr(c, side).as_dict() if getattr(c, side) else None for c in part]
    return values[0] if len(values) == 1 else values


def _role(store: Store, change: RoleChange, actor: str) -> None:
    person = users.find(store, change.name)
    if person is None or change.after is None:
        return  # no role: the row stays; the next sign-in is refused, a session ends
    users.keep(store, person, person.name, DIRECTORY + person.directory_dn, person.email,
               change.after[0], change.after[1], f"directory groups (sync by {actor})",
               "directory", change.scope[1])


def _skeletons(root: Path, checked: Checked, new: list[Organisation | None]) -> list[str]:
    """The plan skeletons of new departments (one already there, written by hand meanwhile
    or by an earlier sync, is never overwritten)."""
    assert checked.settings is not None
    (root / "plans").mkdir(exist_ok=True)
    files = {root / f"plans/{o.code}.yaml": department_plan(
        o.code, checked.settings, o.cost_centre, o.name)
        for o in new if o is not None and not (root / f"plans/{o.code}.yaml").exists()}
    write_all(files)
    return [f"plans/{p.name}" for p in files]


def _edit(root: Path, file: str, action: str, o: Organisation) -> str:
    """The plan's department name (a rename) or cost centre (an update) set to the
    directory's, its comments kept."""
    path = root / file
    key, value = ("name", o.name) if action == "rename" else ("cost_centre", o.cost_centre)
    text = path.read_text(encoding="utf-8")
    write_text(path, apply_edits(text, [Edit("set", ("department", key), value)]))
    return file


def tree_at(store: Store, at: str) -> dict[str, Node]:
    """Each organisation's parent and name as recorded just before ``at`` (a
    ``clock.stamp``): the last one a sync recorded before it; for one first recorded after
    ``at`` the first one known; for one synced before parents were dated and not moved
    since, its row's. Empty: no directory, every department at the top level."""
    store.execute(TABLE)
    store.execute(PARENTS)
    out = {r[0]: Node(r[1], r[2]) for r in store.query(
        "SELECT code, parent, name FROM organisations")}
    first: dict[str, Node] = {}
    then: dict[str, Node] = {}
    for code, parent, name, when in store.query(
            "SELECT code, parent, name, at FROM organisation_parents ORDER BY at, code"):
        first.setdefault(code, Node(parent, name))
        if when < at:
            then[code] = Node(parent, name)
    return out | first | then


def parents(store: Store) -> dict[str, str]:
    """Each organisation's parent as recorded now (``core.hierarchy``'s tree): what a
    person's scope is read against."""
    return {code: node.parent for code, node in tree_at(store, stamp(clock())).items()}


def reach(store: Store, subtree: str, departments: Iterable[str]) -> frozenset[str] | None:
    """The departments a person scoped to ``subtree`` reaches (None: unscoped, all)."""
    if not subtree:
        return None
    return hierarchy.reach(subtree, departments, parents(store))
