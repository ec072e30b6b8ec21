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
    """What ``govcloud history``, ``drift`` and ``capacity`` show, from the same calls."""
    s = p.session()
    room = engine.capacity(p.root, [])
    return {"applies": engine.history(s, 10),
            "drift": [d.as_dict() for d in engine.drift(s)],
            "capacity": room.as_dict()}


def consolidation(p: Portal, who: Session) -> Data:
    """The live migrations ``govcloud consolidate`` proposes (not carried out here)."""
    return engine.consolidation(p.session()).as_dict()
