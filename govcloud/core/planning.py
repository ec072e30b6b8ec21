"""Plan: the changes that take the cloud from its actual state to the plans' desired state.

A plan is a value. Every change has an action and a reason; the plan carries a fingerprint
of the actual state it was made against, so a saved plan is refused once the state moves on.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from govcloud.core.desired import STAGE, UPDATABLE, Resource

Action = Literal["create", "update", "replace", "delete", "no-op"]
PLAN_FORMAT = 1


@dataclass(frozen=True)
class Change:
    action: Action
    key: str
    kind: str
    department: str
    reason: str
    before: Resource | None = None
    after: Resource | None = None
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "key": self.key, "kind": self.kind,
            "department": self.department, "reason": self.reason,
            "before": self.before.as_dict() if self.before else None,
            "after": self.after.as_dict() if self.after else None,
            "diff": {k: [a, b] for k, a, b in ((k, *v) for k, v in self.diff.items())},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        return cls(d["action"], d["key"], d["kind"], d["department"], d["reason"],
                   Resource.from_dict(d["before"]) if d.get("before") else None,
                   Resource.from_dict(d["after"]) if d.get("after") else None,
                   {k: (v[0], v[1]) for k, v in d.get("diff", {}).items()})


@dataclass(frozen=True)
class Orphan:
    """A resource in the cloud that no plan owns (its department has no plan)."""

    resource: Resource
    reason: str


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    orphans: tuple[Orphan, ...]
    state_fingerprint: str
    prune: bool
    warnings: tuple[str, ...] = ()

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "no-op"]

    @property
    def has_changes(self) -> bool:
        return bool(self.pending)

    def counts(self) -> Counter[str]:
        return Counter(c.action for c in self.changes)

    def summary(self) -> dict[str, int]:
        c = self.counts()
        return {"create": c["create"], "update": c["update"], "replace": c["replace"],
                "delete": c["delete"], "no-op": c["no-op"],
                "orphans_kept": sum(1 for o in self.orphans if not self._pruned(o))}

    def _pruned(self, orphan: Orphan) -> bool:
        return any(c.key == orphan.resource.key and c.action == "delete" for c in self.changes)

    def departments(self) -> list[str]:
        return sorted({c.department for c in self.changes})

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": PLAN_FORMAT,
            "state_fingerprint": self.state_fingerprint,
            "prune": self.prune,
            "summary": self.summary(),
            "warnings": list(self.warnings),
            "changes": [c.as_dict() for c in self.changes],
            "orphans": [{"key": o.resource.key, "reason": o.reason,
                         "resource": o.resource.as_dict()} for o in self.orphans],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(tuple(Change.from_dict(c) for c in d["changes"]),
                   tuple(Orphan(Resource.from_dict(o["resource"]), o["reason"])
                         for o in d["orphans"]),
                   d["state_fingerprint"], d["prune"], tuple(d.get("warnings", [])))


def fingerprint(actual: list[Resource] | dict[str, Resource]) -> str:
    """A digest of the actual state: any change to any resource changes it."""
    items = actual.values() if isinstance(actual, dict) else actual
    rows = [[r.key, r.attrs, r.protected] for r in sorted(items, key=lambda r: r.key)]
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _fmt(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return repr(value) if isinstance(value, str) else str(value)


def diff_attrs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Attributes the plan sets whose value in the cloud differs."""
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}


def make_plan(desired: dict[str, Resource], actual: list[Resource], planned_departments:
              set[str], prune: bool = False) -> Plan:
    """Compare desired with actual and list every change with its reason."""
    by_key = {r.key: r for r in actual}
    changes: list[Change] = []
    orphans: list[Orphan] = []
    warnings: list[str] = []
    for key, want in desired.items():
        have = by_key.get(key)
        if have is None:
            changes.append(Change("create", key, want.kind, want.department,
                                  "in the plan, not in the cloud", None, want))
            continue
        if have.protected == want.protected and have.attrs == want.attrs:
            changes.append(Change("no-op", key, want.kind, want.department, "matches the plan",
                                  have, want))
            continue
        delta = diff_attrs(have.attrs, want.attrs)
        if not delta and have.protected == want.protected:
            changes.append(Change("no-op", key, want.kind, want.department, "matches the plan",
                                  have, want))
            continue
        fixed = sorted(k for k in delta if k not in UPDATABLE[want.kind])
        shown = ", ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in sorted(delta.items()))
        if fixed and (have.protected or want.protected):
            warnings.append(f"{key} is protected: {', '.join(fixed)} cannot change without "
                            "replacing it, so it is left as it is (unprotect it to allow)")
            changes.append(Change("no-op", key, want.kind, want.department,
                                  f"protected; replacement needed for {', '.join(fixed)} "
                                  "is withheld", have, want, delta))
        elif fixed:
            changes.append(Change("replace", key, want.kind, want.department,
                                  f"{shown} (forces replacement)", have, want, delta))
        else:
            reason = shown or f"protected {have.protected} → {want.protected}"
            changes.append(Change("update", key, want.kind, want.department, reason, have,
                                  want, delta))
    for key, have in by_key.items():
        if key in desired:
            continue
        if have.department in planned_departments:
            if have.protected:
                warnings.append(f"{key} is no longer in the plan of {have.department} but is "
                                "protected: kept")
                changes.append(Change("no-op", key, have.kind, have.department,
                                      "removed from the plan but protected: kept", have, None))
                continue
            changes.append(Change("delete", key, have.kind, have.department,
                                  f"no longer in the plan of {have.department}", have, None))
            continue
        reason = f"department {have.department} has no plan"
        orphans.append(Orphan(have, reason))
        if prune and not have.protected:
            changes.append(Change("delete", key, have.kind, have.department,
                                  f"{reason} (--prune)", have, None))
        elif prune and have.protected:
            warnings.append(f"{key} is an orphan but protected: never deleted")
    changes.sort(key=_order)
    orphans.sort(key=lambda o: o.resource.key)
    return Plan(tuple(changes), tuple(orphans), fingerprint(actual), prune, tuple(warnings))


def _order(c: Change) -> tuple[Any, ...]:
    return (c.department, STAGE[c.kind], c.key)
