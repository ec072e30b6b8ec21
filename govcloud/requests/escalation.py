"""Requests that wait too long for a step (issue #14, item 4): ``escalate:`` on an approval
rule (``core.approvals``) names after how many days, and who is told. The queue marks such a
request as overdue at once (``overdue``); ``govcloud request escalate`` (run from cron) tells
the role escalated to, by e-mail, once per request and step: each escalation is an audit
record, and a request and step with such a record are not escalated again.

The clock is ``store.clock()`` (``GOVCLOUD_NOW`` in the tests). A request waits for a step
since its last approval, or since it was filed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govcloud.audit import trail
from govcloud.clock import clock
from govcloud.core.approvals import Escalation, escalation
from govcloud.core.model import Estate
from govcloud.estate.loader import load_approvals
from govcloud.requests import notify
from govcloud.requests.records import Request, listing
from govcloud.state.store import Store

ACTION = "request escalate"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def waiting_since(r: Request) -> datetime:
    """Since when the request waits for its current step."""
    return _time(r.approvals[-1]["at"] if r.approvals else r.created_at)


def overdue(estate: Estate, requests: list[Request], at: datetime | None = None
            ) -> dict[int, Escalation]:
    """The waiting requests among ``requests`` that have waited longer than their rules
    allow, by request number."""
    stages = load_approvals(estate.root, estate.settings.directory.levels)[0]
    if not any(s.escalate for s in stages):
        return {}
    at = at or clock()
    out = {}
    for r in requests:
        step = r.waiting_for()
        if step is None:
            continue
        found = escalation(stages, r.verdict.get("chain", {}).get("rules", []), step,
                           at - waiting_since(r))
        if found is not None:
            out[r.id] = found
    return out


def _escalated(store: Store, r: Request, step: str) -> bool:
    """Whether the request was escalated already while waiting for ``step``."""
    for (after,) in store.query("SELECT after FROM audit WHERE action = ? AND subject = ?",
                                (ACTION, f"request {r.id}")):
        try:
            if json.loads(after).get("step") == step:
                return True
        except (TypeError, ValueError, AttributeError):
            continue
    return False


@dataclass(frozen=True)
class Escalated:
    request: Request
    escalation: Escalation
    told: tuple[str, ...]  # the people mailed
    problem: str  # why the mail failed, or ""

    def as_dict(self) -> dict[str, Any]:
        return {"request": self.request.id, "department": self.request.department,
                "kind": self.request.kind, **self.escalation.as_dict(),
                "told": list(self.told), "problem": self.problem}


def escalate(estate: Estate, store: Store, source: str = "cli") -> list[Escalated]:
    """Escalate every overdue request not escalated yet for the step it waits for: an audit
    record, then a mail to the role escalated to. Run from one place (one cron job)."""
    waiting = listing(store, None, "waiting", limit=100_000)
    out = []
    for r in waiting:
        found = overdue(estate, [r]).get(r.id)
        if found is None or _escalated(store, r, found.step):
            continue
        actor = f"govcloud (approval rule {found.rule})"
        trail.append(store, actor, ACTION, f"request {r.id}", r.department,
                     {"waiting_for": found.step}, found.as_dict(),
                     f"waiting {found.waited_days} days for {found.step}, more than "
                     f"{found.after_days}", source)
        told, problem = notify.send_escalation(estate.settings.notify, store, r, found)
        if problem:
            trail.append(store, actor, "notify failed", f"request {r.id}", r.department,
                         None, None, problem, source)
        out.append(Escalated(r, found, tuple(told), problem))
    return out
