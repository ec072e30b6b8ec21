"""Plan: the changes that take the cloud from its actual state to the plans' desired state.

A plan is a value. Every change has an action and a reason; the plan carries a fingerprint
of the actual state it was made against, so a saved plan is refused once the state moves on,
and one of what the plans asked for. A saved plan is data to check, not to trust: apply makes
the plan afresh and ``savedplan.check_saved`` refuses a file that differs from it in anything.

What a plan never does, and says so instead:

* replace or delete a **protected** resource: the change is ``blocked``, with how to proceed;
* delete what a kept resource **stands on** (its department's project, quota, network,
  router and security group, its server group, the volumes attached to it);
* delete what govcloud did not create (**unmanaged**: the state store has no record of it),
  unless the operator names it (``delete_unmanaged``).

Whatever is left for the operator to decide (a blocked change, a department without a plan,
an unmanaged resource) is a :class:`Decision`; ``plan --detailed-exitcode`` exits 2 on one.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import Any, Literal

from govcloud.core import jsontext
from govcloud.core.catalogue import CatalogueChanges
from govcloud.core.desired import Resource
from govcloud.core.kinds import KEPT_UNDER, KIND, STAGE, stands_on

Action = Literal["create", "update", "resize", "replace", "delete", "blocked", "no-op"]
ACTIONS: tuple[str, ...] = ("create", "update", "resize", "replace", "delete", "blocked",
                            "no-op")
# 2: saved plans carry inputs_fingerprint and are checked against a fresh plan; 3: resize and
# blocked changes, decisions, unmanaged resources, cost and catalogue, changes' resources
# without their repeated identity.
PLAN_FORMAT = 3


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
    # What the change does to the service (downtime, what is lost and what is kept); for a
    # blocked change, how to proceed.
    impact: str = ""
    roll: str = ""  # changes of one roll run one at a time, each after the last is back up

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action, "key": self.key, "kind": self.kind,
            "department": self.department, "reason": self.reason, "impact": self.impact,
            "roll": self.roll,
            "before": _resource(self.before), "after": _resource(self.after),
            "diff": {k: [a, b] for k, (a, b) in self.diff.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Change:
        name = d["key"].split("/", 2)[2]

        def resource(r: dict[str, Any] | None) -> Resource | None:
            return None if r is None else Resource(
                d["kind"], d["department"], name, r["attrs"], r.get("protected", False),
                r.get("computed", {}), r.get("roll", ""))

        return cls(d["action"], d["key"], d["kind"], d["department"], d["reason"],
                   resource(d.get("before")), resource(d.get("after")),
                   {k: (v[0], v[1]) for k, v in d.get("diff", {}).items()},
                   d.get("impact", ""), d.get("roll", ""))


def _resource(r: Resource | None) -> dict[str, Any] | None:
    """A change's resource without what the change already says (key, kind, department)."""
    if r is None:
        return None
    out: dict[str, Any] = {"attrs": r.attrs, "protected": r.protected}
    if r.computed:
        out["computed"] = r.computed
    if r.roll:
        out["roll"] = r.roll
    return out


@dataclass(frozen=True)
class Orphan:
    """A resource in the cloud that no plan asks for and that stays: its department has no
    plan, or govcloud never created it (``managed`` False)."""

    resource: Resource
    reason: str
    managed: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.resource.key, "reason": self.reason, "managed": self.managed,
                "resource": self.resource.as_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Orphan:
        return cls(Resource.from_dict(d["resource"]), d["reason"], d.get("managed", True))


@dataclass(frozen=True)
class Decision:
    """Something the operator has to decide; the plan cannot converge without it."""

    department: str
    what: str
    how: str

    def as_dict(self) -> dict[str, str]:
        return {"department": self.department, "what": self.what, "how": self.how}


@dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    orphans: tuple[Orphan, ...]
    state_fingerprint: str
    prune: bool
    warnings: tuple[str, ...] = ()
    unmanaged: tuple[Orphan, ...] = ()
    decisions: tuple[Decision, ...] = ()
    cost: dict[str, Any] | None = None  # the monthly cost delta (govcloud.finance), if priced
    catalogue: CatalogueChanges | None = None  # flavors to make, images missing (if checked)
    inputs_fingerprint: str = ""  # what the plans, policies and settings asked for
    delete_unmanaged: tuple[str, ...] = ()  # unmanaged keys the operator asked to delete

    @property
    def pending(self) -> list[Change]:
        """The changes apply carries out."""
        return [c for c in self.changes if c.action not in ("no-op", "blocked")]

    @property
    def blocked(self) -> list[Change]:
        return [c for c in self.changes if c.action == "blocked"]

    @property
    def has_changes(self) -> bool:
        """Something for apply to do: a resource change, or a catalogue flavor to make."""
        return bool(self.pending) or bool(self.catalogue and self.catalogue.pending)

    @property
    def converged(self) -> bool:
        """Nothing to change and nothing to decide: ``--detailed-exitcode`` exits 0."""
        return not self.has_changes and not self.decisions

    def counts(self) -> Counter[str]:
        return Counter(c.action for c in self.changes)

    def summary(self) -> dict[str, int]:
        c = self.counts()
        deleting = {x.key for x in self.changes if x.action == "delete"}
        return {**{a: c[a] for a in ACTIONS},
                "orphans_kept": sum(1 for o in self.orphans if o.resource.key not in deleting),
                "unmanaged": sum(1 for o in self.unmanaged if o.resource.key not in deleting),
                "decisions": len(self.decisions)}

    def departments(self) -> list[str]:
        return sorted({c.department for c in self.changes})

    def state_before(self) -> list[Resource]:
        """The cloud's resources the plan was made against."""
        out = {c.key: c.before for c in self.changes if c.before is not None}
        out.update((o.resource.key, o.resource) for o in (*self.orphans, *self.unmanaged))
        return list(out.values())

    def state_after(self) -> list[Resource]:
        """The cloud's resources once the plan is applied (a blocked change leaves its
        resource as it is)."""
        out: dict[str, Resource] = {}
        for c in self.changes:
            if c.action == "blocked" and c.before is not None:
                out[c.key] = c.before
            elif c.action == "no-op" and c.before is not None:
                out[c.key] = c.before if c.after is None else c.after
            elif c.action != "delete" and c.after is not None:
                out[c.key] = c.after
        deleting = {c.key for c in self.changes if c.action == "delete"}
        for o in (*self.orphans, *self.unmanaged):
            if o.resource.key not in deleting:
                out.setdefault(o.resource.key, o.resource)
        return list(out.values())

    def with_cost(self, cost: dict[str, Any] | None) -> Plan:
        return replace(self, cost=cost)

    def with_catalogue(self, catalogue: CatalogueChanges) -> Plan:
        """The plan with the cloud's catalogue checked: each problem is a decision."""
        found = tuple(Decision("(catalogue)", p, "fix govcloud.yaml's catalogue or the cloud, "
                               "then plan again; apply refuses until then")
                      for p in catalogue.problems)
        return replace(self, catalogue=catalogue, decisions=self.decisions + found)

    def needed_images(self) -> dict[str, list[str]]:
        """Image → the servers this plan makes from it."""
        out: dict[str, list[str]] = {}
        for c in self.pending:
            if c.kind == "server" and c.action in ("create", "replace") and c.after:
                out.setdefault(c.after.attrs["image"], []).append(c.key)
        return out

    def as_dict(self, lazy: bool = False) -> dict[str, Any]:
        """The plan as JSON data; ``lazy``: its changes, orphans and unmanaged resources as
        ``jsontext.Lazy`` lists, made as ``jsontext.dumps_parts`` writes them."""
        listed = {"changes": jsontext.Lazy(self.changes, Change.as_dict),
                  "orphans": jsontext.Lazy(self.orphans, Orphan.as_dict),
                  "unmanaged": jsontext.Lazy(self.unmanaged, Orphan.as_dict)}
        return {
            "format": PLAN_FORMAT,
            "state_fingerprint": self.state_fingerprint,
            "inputs_fingerprint": self.inputs_fingerprint,
            "prune": self.prune,
            "delete_unmanaged": list(self.delete_unmanaged),
            "summary": self.summary(),
            "decisions": [d.as_dict() for d in self.decisions],
            "cost": self.cost,
            "catalogue": self.catalogue.as_dict() if self.catalogue else None,
            "warnings": list(self.warnings),
            **(listed if lazy else {k: v.whole() for k, v in listed.items()}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Plan:
        return cls(tuple(Change.from_dict(c) for c in d["changes"]),
                   tuple(Orphan.from_dict(o) for o in d["orphans"]),
                   d["state_fingerprint"], d["prune"], tuple(d.get("warnings", [])),
                   tuple(Orphan.from_dict(o) for o in d.get("unmanaged", [])),
                   tuple(Decision(**x) for x in d.get("decisions", [])), d.get("cost"),
                   CatalogueChanges.from_dict(d["catalogue"]) if d.get("catalogue") else None,
                   d.get("inputs_fingerprint", ""), tuple(d.get("delete_unmanaged", [])))


def fingerprint(actual: list[Resource] | dict[str, Resource]) -> str:
    """A digest of the actual state: any change to any resource changes it."""
    items = actual.values() if isinstance(actual, dict) else actual
    rows = [[r.key, r.attrs, r.protected] for r in sorted(items, key=lambda r: r.key)]
    return hashlib.sha256(jsontext.dumps(rows, sort_keys=True)).hexdigest()


def inputs_fingerprint(desired: dict[str, Resource], planned_departments: set[str]) -> str:
    """A digest of everything a plan follows from besides the cloud: the desired state the
    plans, policies and settings give (policies only admit or refuse it) and which
    departments have a plan."""
    # By the keys alone, each the key of its resource (as make_plan takes them).
    rows = [[k, r.attrs, r.protected] for k, r in sorted(desired.items(), key=itemgetter(0))]
    return hashlib.sha256(jsontext.dumps([rows, sorted(planned_departments)],
                                         sort_keys=True)).hexdigest()


def _fmt(value: Any) -> str:
    if isinstance(value, dict | list | bool) or value is None:
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return repr(value) if isinstance(value, str) else str(value)


# Where a resource's attribute comes from in its tenancy plan: a hint to put an attribute
# back names the plan's key and value, so it can be copied into the plan as it stands.
def _plan_settings(kind: str, attr: str, have: Resource) -> tuple[str, Any]:
    if attr in KIND[kind].resizable:
        return "flavor", have.attrs.get("flavor")
    if kind == "server" and attr == "server_group":
        return "anti_affinity", bool(have.attrs.get("server_group"))
    if kind == "volume" and attr == "size_gb":
        return "volume_gb", have.attrs.get("size_gb")
    if attr == "zone":
        return "department.zone", have.attrs.get("zone")
    return attr, have.attrs.get(attr)


def _put_back(kind: str, fixed: list[str], have: Resource) -> str:
    """``flavor: m1.medium, anti_affinity: true``: the plan's values that keep ``have``."""
    settings = dict(_plan_settings(kind, a, have) for a in fixed)
    return ", ".join(f"{k}: {_yaml_scalar(v)}" for k, v in settings.items())


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    text = str(value)
    plain = text and text[0].isalpha() and all(ch.isalnum() or ch in "-._/" for ch in text) \
        and text.lower() not in ("true", "false", "yes", "no", "on", "off", "null", "none")
    return text if plain or not isinstance(value, str) else json.dumps(value,
                                                                       ensure_ascii=False)


def diff_attrs(before: dict[str, Any], after: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Attributes the plan sets whose value in the cloud differs."""
    return {k: (before.get(k), v) for k, v in after.items() if before.get(k) != v}


def make_plan(desired: dict[str, Resource], actual: list[Resource],
              planned: Collection[str] | Mapping[str, str], prune: bool = False, *,
              owned: Collection[str] | None = None, can_resize: bool = True,
              delete_unmanaged: Collection[str] = ()) -> Plan:
    """Compare desired with actual and list every change with its reason.

    ``planned`` holds the departments that have a plan (a mapping gives each one's plan
    file, named in the decisions); ``owned`` the keys govcloud's applies created (None: all
    of them); ``delete_unmanaged`` the keys of unmanaged resources the operator asked to
    delete.
    """
    files = dict(planned) if isinstance(planned, Mapping) else \
        {d: f"plans/{d}.yaml" for d in planned}
    by_key = {r.key: r for r in actual}
    volumes: dict[str, list[str]] = {}
    for r in desired.values():
        if r.kind == "volume" and r.attrs.get("server"):
            volumes.setdefault(f"{r.department}/server/{r.attrs['server']}", []).append(r.name)
    changes = [_change(key, want, by_key.get(key), can_resize, volumes.get(key, []))
               for key, want in desired.items()]
    if owned is not None:
        # Declared in a plan, made outside govcloud: apply adopts it (records it as its own),
        # so that taking it out of the plan later deletes it like anything govcloud made.
        mine = set(owned)
        changes = [replace(c, action="update", reason="made outside govcloud, now in the plan: "
                           "adopted (govcloud manages it from now on)")
                   if c.action == "no-op" and c.key not in mine else c for c in changes]
    gone = [r for key, r in by_key.items() if key not in desired]
    orphans, unmanaged, left = _leftovers(gone, files, prune, owned, set(delete_unmanaged))
    changes += left
    changes = _keep_foundations(changes, by_key, desired)
    changes.sort(key=_order)
    orphans.sort(key=lambda o: o.resource.key)
    unmanaged.sort(key=lambda o: o.resource.key)
    decisions = _decisions(changes, orphans, unmanaged, files)
    warnings = [f"{c.key}: {c.reason}" for c in changes if c.action == "blocked"]
    return Plan(tuple(changes), tuple(orphans), fingerprint(actual), prune, tuple(warnings),
                tuple(unmanaged), tuple(decisions),
                inputs_fingerprint=inputs_fingerprint(desired, set(files)),
                delete_unmanaged=tuple(sorted(delete_unmanaged)))


def _change(key: str, want: Resource, have: Resource | None, can_resize: bool,
            volumes: list[str]) -> Change:
    """The change one desired resource needs."""
    kind, dep = want.kind, want.department
    if have is None:
        return Change("create", key, kind, dep, "in the plan, not in the cloud", None, want)
    if have.protected == want.protected and have.attrs == want.attrs:
        return Change("no-op", key, kind, dep, "matches the plan", have, want)
    delta = diff_attrs(have.attrs, want.attrs)
    if not delta and have.protected == want.protected:
        return Change("no-op", key, kind, dep, "matches the plan", have, want)
    shown = ", ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in sorted(delta.items()))
    fixed = sorted(k for k in delta if k not in KIND[kind].updatable)
    why_replace = f"{', '.join(fixed)} cannot change in place" if fixed else ""
    resizable = KIND[kind].resizable
    resizing = bool(delta.keys() & resizable)
    if resizing and set(fixed) <= resizable:
        # Only the size changes: a resize in place, unless the driver or the disk forbids.
        why_replace = _resize_refusal(have, want, can_resize)
        fixed = sorted(delta.keys() & resizable) if why_replace else []
    if kind == "volume" and not fixed and want.attrs.get("size_gb", 0) < \
            have.attrs.get("size_gb", 0):
        fixed, why_replace = ["size_gb"], "a volume cannot shrink"
    roll = f"{dep}/{want.roll}" if kind == "server" and want.roll else ""
    if fixed:
        if have.protected and not want.protected:
            # The plan dropped 'protected: true': clear the cloud's flag first (apply never
            # replaces what the cloud has protected); the next plan replaces it.
            attrs = {**have.attrs, "protected": False} if "protected" in have.attrs else \
                have.attrs
            then = ", ".join(f"{k} {_fmt(a)} → {_fmt(b)}" for k, (a, b) in
                             sorted(delta.items()) if k != "protected")
            return Change("update", key, kind, dep, "protected true → false, first: then "
                          f"{then} ({why_replace}) replaces it, on the next apply", have,
                          Resource(kind, dep, have.name, attrs, False, roll=want.roll),
                          {"protected": (True, False)})
        if want.protected:
            return Change("blocked", key, kind, dep,
                          f"{shown}: {why_replace}, and replacing it is blocked: it is "
                          "protected", have, want, delta,
                          "to replace it, remove 'protected: true' from its entry in the "
                          f"plan of {dep}; to keep it, change it back to "
                          f"{_put_back(kind, fixed, have)}")
        return Change("replace", key, kind, dep, f"{shown} ({why_replace}: replaced)", have,
                      want, delta, _replace_impact(want, volumes), roll)
    if resizing:
        return Change("resize", key, kind, dep, shown, have, want, delta,
                      f"in place: the server stops, restarts as {want.attrs['flavor']} and the "
                      "resize is confirmed (minutes of downtime for this server); its disk, "
                      "volumes and address are kept", roll)
    reason = shown or f"protected {_fmt(have.protected)} → {_fmt(want.protected)}"
    return Change("update", key, kind, dep, reason, have, want, delta)


def _resize_refusal(have: Resource, want: Resource, can_resize: bool) -> str:
    """Why a size change cannot be a resize in place ('' when it can)."""
    if not can_resize:
        return "the cloud's driver cannot resize"
    old, new = have.attrs.get("disk_gb") or 0, want.attrs.get("disk_gb") or 0
    if new < old:
        return f"a resize cannot shrink the root disk ({old} → {new} GB)"
    return ""


def _replace_impact(want: Resource, volumes: list[str]) -> str:
    if want.kind == "server":
        kept = (f"kept: volume {', '.join(volumes)}, detached and attached to the new server"
                if volumes else "no volume to keep")
        return ("the server is deleted and created anew: its local disk and its address are "
                f"lost; {kept}")
    if want.kind == "volume":
        return "the volume and its data are deleted; a new, empty one is created"
    return f"the {want.kind.replace('_', ' ')} is deleted and created anew"


def _leftovers(gone: list[Resource], files: dict[str, str], prune: bool,
               owned: Collection[str] | None, named: set[str]
               ) -> tuple[list[Orphan], list[Orphan], list[Change]]:
    """What becomes of resources no plan asks for: orphans, unmanaged, and their changes."""
    orphans: list[Orphan] = []
    unmanaged: list[Orphan] = []
    changes: list[Change] = []
    owned_keys = None if owned is None else set(owned)
    for have in gone:
        key, dep, kind = have.key, have.department, have.kind
        if owned_keys is not None and key not in owned_keys:
            reason = "exists in the cloud but govcloud never created it"
            if key in named:
                changes.append(Change("delete", key, kind, dep, f"{reason}; deleted as asked "
                                      "(--delete-unmanaged)", have, None))
            unmanaged.append(Orphan(have, reason, managed=False))
            continue
        if dep in files:
            if have.protected:
                changes.append(Change("blocked", key, kind, dep, "no longer in the plan of "
                                      f"{dep}, but protected: kept", have, None))
            else:
                changes.append(Change("delete", key, kind, dep,
                                      f"no longer in the plan of {dep}", have, None))
            continue
        reason = f"department {dep} has no plan"
        orphans.append(Orphan(have, reason))
        if prune and have.protected:
            changes.append(Change("blocked", key, kind, dep, f"{reason}, but protected: kept "
                                  "(--prune never deletes a protected resource)", have, None))
        elif prune:
            changes.append(Change("delete", key, kind, dep, f"{reason} (--prune)", have, None))
    return orphans, unmanaged, changes


def _keep_foundations(changes: list[Change], actual: dict[str, Resource],
                      desired: dict[str, Resource]) -> list[Change]:
    """A resource that stays keeps what it stands on: the deletes of those become blocked."""
    going = {c.key for c in changes if c.action in ("delete", "replace")}
    stays = [r for k, r in actual.items() if k not in going and k not in desired]
    # A server that is neither deleted nor replaced stays as it is in the cloud, standing on
    # what it stands on now (a protected server whose plan dropped anti_affinity keeps its
    # group; one whose plan moved zone keeps its project and network).
    stays += [c.before for c in changes if c.before is not None and c.key not in going
              and (c.action == "blocked" or c.kind == "server")]
    needs: dict[str, str] = {}  # key -> the key of a resource that stands on it
    attached: dict[tuple[str, str], list[str]] = {}  # (department, server) -> its volumes
    for v in actual.values():
        if v.kind == "volume" and v.attrs.get("server"):
            attached.setdefault((v.department, v.attrs["server"]), []).append(v.key)
    for r in stays:
        d = r.department
        for kind in stands_on(r.kind):
            needs.setdefault(KIND[kind].key(d), r.key)
        keeps = KIND[r.kind].keeps if r.kind in KIND else ()
        if "server_group" in keeps and r.attrs.get("server_group"):
            needs.setdefault(f"{d}/server_group/{r.attrs['server_group']}", r.key)
        if "volume" in keeps:
            for volume in attached.get((d, r.name), ()):
                needs.setdefault(volume, r.key)
    out = []
    for c in changes:
        if c.action in ("delete", "replace") and c.key in needs and c.kind in KEPT_UNDER:
            # A replace deletes too (a department's move to the other zone replaces its
            # project and network): not under a server that stays.
            reason = c.reason.removesuffix(": replaced)") + ")" \
                if c.action == "replace" and c.reason.endswith(": replaced)") else c.reason
            c = replace(c, action="blocked", reason=f"{reason}; kept: {needs[c.key]} stands "
                        "on it", impact="", roll="")
        out.append(c)
    # A department moves zone whole or not at all: while what a kept server stands on stays
    # in the old zone, the servers and websites that would move are kept there too.
    stuck = {c.department: needs[c.key] for c in out
             if c.action == "blocked" and "zone" in c.diff and c.key in needs}
    return [replace(c, action="blocked", reason=c.reason.removesuffix(": replaced)") + "); "
                    f"kept: department {c.department} stays in zone {c.diff['zone'][0]} while "
                    f"{stuck[c.department]} does", impact="", roll="")
            if c.action == "replace" and "zone" in c.diff and c.department in stuck else c
            for c in out]


def _decisions(changes: list[Change], orphans: list[Orphan], unmanaged: list[Orphan],
               files: dict[str, str]) -> list[Decision]:
    out: list[Decision] = []
    for c in changes:
        if c.action != "blocked" or c.department not in files:
            continue
        file = files[c.department]
        if c.after is not None and not c.after.protected and not (c.before and
                                                                   c.before.protected):
            continue  # kept for what stands on it: that resource's decision says how
        if c.after is not None:
            how = c.impact or f"edit {file}"
            out.append(Decision(c.department, f"{c.key}: {c.reason}",
                                how.replace(f"the plan of {c.department}", file)))
        elif c.before is not None and c.before.protected:
            out.append(Decision(c.department, f"{c.key} is protected and no longer in {file}",
                                f"decide: restore it in {file} to keep it, or restore it with "
                                "'protected: false', apply, then remove it to delete it"))
    deleting = {c.key for c in changes if c.action == "delete"}
    per_dep: dict[str, list[Orphan]] = {}
    for o in orphans:
        if o.resource.key not in deleting:
            per_dep.setdefault(o.resource.department, []).append(o)
    for dep, kept in sorted(per_dep.items()):
        protected = sum(1 for o in kept if o.resource.protected)
        what = f"department {dep} has no plan; its {len(kept)} resource(s) are kept"
        if protected:
            how = (f"decide: restore the plan (plans/{dep}.yaml) to keep them, or restore it "
                   "with 'protected: false' on them, apply, then remove it and prune "
                   "(--prune never deletes a protected resource)")
            what = (f"department {dep} has no plan; {protected} protected resource(s) and "
                    f"{len(kept) - protected} other(s) are kept")
        elif blockers := [o.resource.key for o in unmanaged
                          if o.resource.department == dep and o.resource.key not in deleting]:
            # Prune keeps what an unmanaged resource stands on: name the command that can.
            named = ", ".join(blockers)
            how = (f"decide: prune or restore the plan (--prune keeps them while {named}, "
                   "which govcloud never created, stand" + ("s" if len(blockers) == 1 else "")
                   + " on them: govcloud apply --prune "
                   + " ".join(f"--delete-unmanaged {k}" for k in blockers)
                   + f" deletes them all; plans/{dep}.yaml back in place keeps them)")
        else:
            how = ("decide: prune or restore the plan (govcloud apply --prune deletes them; "
                   f"plans/{dep}.yaml back in place keeps them)")
        out.append(Decision(dep, what, how))
    for o in unmanaged:
        if o.resource.key in deleting:
            continue
        out.append(Decision(o.resource.department,
                            f"{o.resource.key} exists in the cloud but govcloud never created "
                            "it", "decide: delete it (govcloud apply --delete-unmanaged "
                            f"{o.resource.key}), declare it in a plan to adopt it, or remove "
                            "it by hand"))
    return out


def _order(c: Change) -> tuple[Any, ...]:
    return (c.department, STAGE[c.kind], c.key)
