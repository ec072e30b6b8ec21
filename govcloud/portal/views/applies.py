"""An apply started from the portal by an operator: the same plan as ``govcloud plan``, the
same lock, engine and journal as ``govcloud apply``, run in the background of the ``serve``
process, its progress read back from the apply journal in the state store.

The plan shown is the plan applied: the review page carries the SHA-256 of the plan's JSON
(``digest``), the confirmation posts it back, and the plan is made again under the lock and
refused unless its digest is the same. The service playbooks are not run from here (see
docs/portal.md): they need the operator's SSH keys and inventories, can run for a long time
and may need a person at a terminal when a host fails; ``govcloud services run`` does them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from govcloud.applying import engine
from govcloud.applying.apply import new_apply_id
from govcloud.core import jsontext
from govcloud.core.planning import Plan
from govcloud.drivers import open_driver
from govcloud.errors import GovcloudError, LockHeld
from govcloud.portal import scopes
from govcloud.portal.context import Portal
from govcloud.portal.sessions import Session
from govcloud.portal.views.results import Created, Data, NotFound, Redirect
from govcloud.state import crashlog
from govcloud.state.store import acting_for, open_store

PROGRESS = "/operations/apply/progress"
SERVICES_SKIPPED = "not run from the portal: run govcloud services run --department ID"


class PlanChanged(GovcloudError):
    """The plan confirmed on the page is no longer the plan the estate gives."""


@dataclass
class Run:
    """An apply this process started: who, and how it ended (the journal has the steps)."""

    id: str
    by: str
    finished: bool = False
    error: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)


RUNS: dict[str, Run] = {}  # this process's applies, by id
_latest: list[str] = []  # the id of the last one started here


def digest(plan: Plan) -> str:
    """The SHA-256 of the plan as ``govcloud plan -o json`` gives it."""
    return hashlib.sha256(jsontext.dumps(plan.as_dict())).hexdigest()


def _plan_data(plan: Plan) -> Data:
    cost = plan.cost or {}
    charged = cost.get("charged", {}) if isinstance(cost, dict) else {}
    return {"digest": digest(plan), "has_changes": plan.has_changes,
            "summary": plan.summary(), "cost_delta": charged.get("delta"),
            "decisions": [d.as_dict() for d in plan.decisions],
            "changes": [{"action": c.action, "key": c.key, "department": c.department,
                         "reason": c.reason} for c in plan.pending]}


def apply_review(p: Portal, who: Session) -> Data:
    """The plan of the whole estate (``govcloud plan``), with its digest to confirm it by."""
    s = p.session(fresh=True)
    plan = s.plan()
    return {"plan": _plan_data(plan), "latest": _progress(p),
            "reconciled": engine.reconciled(s.store, plan).as_dict() if plan.cost else None}


def apply_start(p: Portal, who: Session, body: Data) -> Any:
    """Take the apply lock for the operator, make the plan again, check it is the one they
    confirmed, and apply it in the background; refused while another apply holds the lock."""
    sent: Data = body["_json"] if isinstance(body.get("_json"), dict) else body
    given = str(sent.get("digest", ""))[:128]
    if not given:
        raise PlanChanged("the confirmation names no plan (no digest)",
                          "review the plan on the operations page and confirm it there")
    s = _own_session(p)
    name = who.person.name
    try:
        with acting_for(name):
            s.store.lock(doing="apply")  # LockHeld names who holds it, and for what
    except LockHeld as exc:
        _close(s)
        # the CLI's hint (--lock-timeout) means nothing on a page
        raise LockHeld(str(exc), "wait for it to finish (an apply's progress: Operations → "
                                 "Apply the plan), then review the plan again") from None
    except BaseException:
        _close(s)
        raise
    try:
        plan = s.plan()
        if digest(plan) != given:
            raise PlanChanged("the plan has changed since it was shown (the cloud, a plan "
                              "file or a policy moved on)",
                              "review the new plan on the operations page and confirm it")
        if not plan.has_changes:
            raise PlanChanged("the plan has no changes: there is nothing to apply",
                              "the estate already matches its plans")
        run = Run(new_apply_id(), name)
        RUNS[run.id] = run
        _latest[:] = [run.id]
        threading.Thread(target=_run, args=(p, s, plan, run), daemon=True,
                         name=f"portal-apply-{run.id}").start()
    except BaseException:
        _close(s)
        raise
    if body.get("_json") is not None:
        return Created({"apply_id": run.id, "progress": "/api/operations/apply"})
    return Redirect(PROGRESS)


def _run(p: Portal, s: engine.EstateSession, plan: Plan, run: Run) -> None:
    """The background apply; it holds the lock its request took, and releases it."""
    try:
        with acting_for(run.by):
            result = engine.apply(s, plan, services=False, apply_id=run.id)
        run.outcome = result.as_dict()
        run.outcome["services"] = SERVICES_SKIPPED
    except GovcloudError as exc:
        run.error = exc.render()
    except Exception as exc:  # a bug: said on the page, with the log's path
        log = crashlog.write(exc, p.root)
        run.error = f"internal error: this is a bug in govcloud (details in {log})"
    finally:
        _close(s)
        run.finished = True


def _own_session(p: Portal) -> engine.EstateSession:
    """A store connection and driver of the apply's own, as a ``govcloud apply`` process
    has: the lock is the connection's (on PostgreSQL an advisory lock is re-entrant within a
    connection, so sharing the portal's would let an approval or a second apply in this
    process through, and its unlock would end the apply's lock)."""
    estate = p.fresh_estate()
    store = open_store(estate.settings.state_url, estate.root, estate.settings.estate,
                       audit=estate.settings.audit)
    try:
        return engine.EstateSession(estate, store, open_driver(estate, store))
    except BaseException:
        store.close()
        raise


def _close(s: engine.EstateSession) -> None:
    """Let go of the lock (if held), the driver and the store connection."""
    try:
        s.store.unlock()
        s.driver.close()
    finally:
        s.store.close()


def _progress(p: Portal) -> Data:
    """The newest apply (started here, or by anyone), its journal so far and whether it is
    still running."""
    here = RUNS.get(_latest[0]) if _latest else None
    records = p.store.applies(1)
    if here is not None and records and records[0].id != here.id:
        # two applies may start at one recorded moment (a clock set with GOVCLOUD_NOW): the
        # one started here is shown from its own record once it has one
        records = [a for a in p.store.applies(20) if a.id == here.id] or records
    record = records[0].__dict__ if records else None
    if here is not None and (record is None or record["id"] != here.id):
        # started here but not yet recorded (still planning), or it stopped before its start
        return {"apply": {"id": here.id, "holder": here.by, "started_at": "", "total": 0,
                          "done": 0, "result": "failed" if here.error else None,
                          "finished_at": None},
                "running": not here.finished, "steps": [], "error": here.error,
                "services": ""}
    if record is None:
        return {"apply": None, "running": False, "steps": [], "error": "", "services": ""}
    mine = RUNS.get(record["id"])
    # started here: running until its thread is done (usage collected, lock let go);
    # started elsewhere: until its record is finished
    running = not mine.finished if mine else record["finished_at"] is None
    steps = engine.journal(engine.EstateSession(p.estate, p.store, p.driver), record["id"])
    return {"apply": record, "running": running, "steps": steps,
            "error": mine.error if mine else "",
            "services": SERVICES_SKIPPED if mine and mine.finished and not mine.error else ""}


PAST = 500  # how far back ``?apply=`` finds an apply (govcloud history reaches every one)


def apply_progress(p: Portal, who: Session, query: dict[str, str] | None = None) -> Data:
    """The newest apply, or the one ``?apply=ID`` names (a request's life links to the apply
    that carried it); a scoped person sees the journal's steps of their subtree."""
    asked = str((query or {}).get("apply", ""))[:64]
    shown = _progress(p)
    if asked and (shown["apply"] or {}).get("id") != asked:
        record = next((a for a in p.store.applies(PAST) if a.id == asked), None)
        if record is None:
            raise NotFound(f"no apply {asked}", "govcloud history lists every apply")
        shown = {"apply": record.__dict__, "running": record.finished_at is None,
                 "steps": engine.journal(engine.EstateSession(p.estate, p.store, p.driver),
                                         record.id),
                 "error": "", "services": ""}
    return {**shown, "steps": scopes.keyed(p, who.person, shown["steps"], lambda s: s["key"])}
