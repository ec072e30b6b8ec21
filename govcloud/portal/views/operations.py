"""The operators' and auditors' view of the estate: the overview (departments, servers,
sites, hosts in use, the last apply), operations (recent applies, drift, capacity) and the
consolidation proposal, read only. Applying the plan is ``applies``."""

from __future__ import annotations

from govcloud.applying import engine
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.portal.views.results import Data


def estate(p: Portal, who: Session) -> Data:
    whole = p.figures("estate", lambda: _estate(p))
    seen = scopes.seen(p, who.person)
    if seen is None:
        return whole
    rows = [r for r in whole["rows"] if r["id"] in seen]  # a scoped person's subtree
    return {**whole, "rows": rows, "departments": len(rows),
            "servers": sum(r["servers"] for r in rows),
            "websites": sum(r["websites"] for r in rows)}


def warm(p: Portal) -> None:
    """The estate overview's figures, made before the first request."""
    p.figures("estate", lambda: _estate(p))


def _estate(p: Portal) -> Data:
    shown = engine.show(p.session())
    deps = shown["departments"]
    return {"departments": len(p.estate.plans),
            "servers": sum(len(d["servers"]) for d in deps.values()),
            "websites": sum(len(d["websites"]) for d in deps.values()),
            "hosts_used": len(shown["hosts_used"]), "last_apply": shown["last_apply"],
            "problem": p.problem,
            "rows": [{"id": k, "name": d.get("name", ""), "zone": d.get("zone", ""),
                      "servers": len(d["servers"]), "vcpus": d["vcpus"],
                      "ram_gb": d["ram_gb"], "volume_gb": d["volume_gb"],
                      "websites": len(d["websites"])} for k, d in deps.items()]}


def operations(p: Portal, who: Session) -> Data:
    """What ``govcloud history``, ``drift`` and ``capacity`` show, from the same calls.
    A scoped person's: their subtree's drift and applied requests; the applies' records and
    the capacity (hosts, no department) as they are."""
    s = p.session()
    room = engine.capacity(p.root, [])
    person = who.person
    applies = [{**a, "requests": scopes.only(p, person, a["requests"],
                                             lambda r: r["department"])}
               for a in engine.history(s, 10)]
    return {"applies": applies,
            "drift": scopes.only(p, person, [d.as_dict() for d in engine.drift(s)],
                                 lambda d: d["department"]),
            "capacity": room.as_dict()}


def consolidation(p: Portal, who: Session) -> Data:
    """The live migrations ``govcloud consolidate`` proposes (not carried out here); a scoped
    person's, the moves of their subtree's servers (the hosts' figures as they are)."""
    plan = engine.consolidation(p.session()).as_dict()
    return {**plan, "steps": scopes.keyed(p, who.person, plan["steps"], lambda m: m["server"])}
