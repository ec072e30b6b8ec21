"""Plan: the changes that take the cloud from its actual state to the plans' desired state.

A plan is a value. Every change has an action and a reason; the plan carries a fingerprint
of the actual state it was made against, so a saved plan is refused once the state moves on,
and one of what the plans asked for. A saved plan is data to check, not to trust: apply makes
the plan afresh and :func:`check_saved` refuses a file that differs from it in anything.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from govcloud.core.desired import STAGE, UPDATABLE, Resource
from govcloud.errors import GovcloudError, PlanMismatch, StalePlan

Action = Literal["create", "update", "replace", "delete", "no-op"]
PLAN_FORMAT = 2  # 2: saved plans carry inputs_fingerprint and are checked against a fresh plan


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
    inputs_fingerprint: str = ""  # what the plans, policies and settings asked for

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
            "inputs_fingerprint": self.inputs_fingerprint,
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
                   d["state_fingerprint"], d["prune"], tuple(d.get("warnings", [])),
                   d.get("inputs_fingerprint", ""))


def fingerprint(actual: list[Resource] | dict[str, Resource]) -> str:
    """A digest of the actual state: any change to any resource changes it."""
    items = actual.values() if isinstance(actual, dict) else actual
    rows = [[r.key, r.attrs, r.protected] for r in sorted(items, key=lambda r: r.key)]
    text = json.dumps(rows, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def inputs_fingerprint(desired: dict[str, Resource], planned_departments: set[str]) -> str:
    """A digest of everything a plan follows from besides the cloud: the desired state the
    plans, policies and settings give (policies only admit or refuse it) and which
    departments have a plan."""
    rows = [[r.key, r.attrs, r.protected] for _, r in sorted(desired.items())]
    text = json.dumps([rows, sorted(planned_departments)], sort_keys=True, ensure_ascii=False,
                      separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# The order a saved plan's parts are compared in, so the first difference named is the one
# that explains the most: the cloud moved, the inputs changed, then the changes themselves.
_PARTS = ("format", "state_fingerprint", "inputs_fingerprint", "prune", "changes", "orphans",
          "warnings", "summary")
_MISSING = object()


def check_saved(saved: Any, fresh: Plan, name: str) -> None:
    """Refuse a saved plan (parsed JSON) unless it is exactly ``fresh``, the plan made now
    from the same cloud, plans, policies and settings; the error names the first difference.
    Applying ``fresh`` then does exactly what the saved file shows."""
    redo = "make a new plan with govcloud plan --out FILE and review it; nothing was applied"
    if not isinstance(saved, dict) or saved.get("format") != PLAN_FORMAT:
        raise GovcloudError(f"{name} is not a saved govcloud plan of format {PLAN_FORMAT}",
                            "save a plan with govcloud plan --out FILE")
    if saved.get("state_fingerprint") != fresh.state_fingerprint:
        raise StalePlan("the saved plan was made against a state that has changed since",
                        "run govcloud plan again and apply the new plan")
    if saved.get("inputs_fingerprint") != fresh.inputs_fingerprint:
        raise PlanMismatch(f"{name} was made from other plans, policies or settings than the "
                           "estate's current ones", redo)
    want = json.loads(json.dumps(fresh.as_dict(), ensure_ascii=False))
    found = _first_difference(saved, want, _PARTS)
    if found is None and _canonical(saved) != _canonical(want):  # 1 for 1.0 or true
        found = _first_difference(saved, want, _PARTS, quick=False)
    if found is not None:
        where, have, should = found
        raise PlanMismatch(f"{name} differs from the plan the current plans, policies and "
                           f"cloud give, first at {_where(where, want)}: "
                           f"{_shown(have)} in the file, {_shown(should)} in a fresh plan "
                           "(the file was edited or damaged)", redo)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _first_difference(have: Any, want: Any, order: tuple[str, ...] = (), quick: bool = True
                      ) -> tuple[list[str | int], Any, Any] | None:
    """The path of the first place ``have`` and ``want`` differ, with both values there;
    None when they are the same. ``quick`` skips parts Python finds equal (it takes 1 for
    1.0 and true); without it types count too."""
    if quick and type(have) is type(want) and have == want:
        return None
    if isinstance(want, dict):
        if not isinstance(have, dict):
            return [], have, want
        keys = [k for k in order if k in want or k in have]
        keys += [k for k in want if k not in keys] + [k for k in have if k not in want and
                                                       k not in keys]
        for k in keys:
            found = _first_difference(have.get(k, _MISSING), want.get(k, _MISSING), (), quick)
            if found is not None:
                return [k, *found[0]], found[1], found[2]
        return None
    if isinstance(want, list):
        if not isinstance(have, list):
            return [], have, want
        for i in range(max(len(have), len(want))):
            found = _first_difference(have[i] if i < len(have) else _MISSING,
                                      want[i] if i < len(want) else _MISSING, (), quick)
            if found is not None:
                return [i, *found[0]], found[1], found[2]
        return None
    same = type(have) is type(want) and (have == want or have != have and want != want)
    return None if same else ([], have, want)


def _where(path: list[str | int], want: dict[str, Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    if len(path) > 1 and path[0] == "changes" and isinstance(path[1], int) and \
            path[1] < len(want["changes"]):
        text += f" (change of {want['changes'][path[1]]['key']})"
    return text


def _shown(value: Any) -> str:
    if value is _MISSING:
        return "nothing"
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


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
    return Plan(tuple(changes), tuple(orphans), fingerprint(actual), prune, tuple(warnings),
                inputs_fingerprint(desired, planned_departments))


def _order(c: Change) -> tuple[Any, ...]:
    return (c.department, STAGE[c.kind], c.key)
