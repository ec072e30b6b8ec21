"""A request's life, as it happened: every step from filing to live, each with who took it
and when, appended to the ``request_life`` table as it happens and never updated or deleted.

The steps (``STEPS``): ``filed``; ``step`` (one approval of several, with the approver's
remark); ``approved`` (the plan file is changed: the request still has to be applied);
``rejected``, ``returned`` (sent back to the requester), ``withdrawn`` (by the requester while
it waited), ``resubmitted`` (edited after a send-back: it waits again); ``applied`` (which
apply carried it); ``live`` (its services converged: the service run that did it, or none
needed) or ``failed`` (the apply or the service run failed); and ``comment`` (the thread
between the requester and the approvers, which changes no state).

``requests.state`` keeps the decision (waiting, approved, rejected, returned, withdrawn);
the stage a person reads (``stage``) is the life's last step that is not a comment.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from govcloud.clock import now
from govcloud.state.store import Store

TABLE = """CREATE TABLE IF NOT EXISTS request_life (
    request BIGINT NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,
    step TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (request, seq))"""
STEPS = ("filed", "step", "approved", "rejected", "returned", "withdrawn", "resubmitted",
         "applied", "live", "failed", "comment")
# Kinds whose change the service playbooks carry out after the apply (web, backup, antivirus
# configuration): live only once a service run converged them. Others are live once applied.
SERVICE_KINDS = frozenset({"website", "servers", "replicas", "backup", "antivirus"})
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Event:
    """One step of a request's life."""

    request: int
    seq: int
    at: str
    by: str
    step: str
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "by": self.by, "step": self.step,
                "detail": self.detail}


def ensure_table(store: Store) -> None:
    store.execute(TABLE)


def record(store: Store, request: int, by: str, step: str,
           detail: dict[str, Any] | None = None, at: str | None = None) -> None:
    """Append one step (inside the caller's transaction, if it holds one)."""
    assert step in STEPS, step
    ensure_table(store)
    seq = int(store.query("SELECT COALESCE(MAX(seq), 0) + 1 FROM request_life "
                          "WHERE request = ?", (request,))[0][0])
    store.execute("INSERT INTO request_life (request, seq, at, actor, step, detail) "
                  "VALUES (?,?,?,?,?,?)",
                  (request, seq, at or now(), by, step,
                   json.dumps(detail or {}, ensure_ascii=False, sort_keys=True)))


def events(store: Store, request: int) -> list[Event]:
    """The request's life, oldest first (empty for a request filed before it was kept)."""
    ensure_table(store)
    return [Event(int(n), int(seq), at, by, step, json.loads(detail))
            for n, seq, at, by, step, detail in store.query(
                "SELECT request, seq, at, actor, step, detail FROM request_life "
                "WHERE request = ? ORDER BY seq", (request,))]


def stages(store: Store, requests: Iterable[int]) -> dict[int, str]:
    """Each request's stage (its last step that is not a comment), for a list."""
    ids = sorted(set(requests))
    if not ids:
        return {}
    ensure_table(store)
    marks = ",".join("?" * len(ids))
    rows = store.query(f"SELECT request, seq, step FROM request_life WHERE request IN "
                       f"({marks}) AND step <> 'comment' ORDER BY request, seq", tuple(ids))
    return {int(n): step for n, _, step in rows}


def stage(life: list[Event]) -> str | None:
    """The last step that is not a comment; None when the life was not kept."""
    return next((e.step for e in reversed(life) if e.step != "comment"), None)


def carried(store: Store, apply_id: str) -> list[int]:
    """The requests an apply carried (its ``applied`` or ``failed`` steps name it)."""
    ensure_table(store)
    rows = store.query("SELECT DISTINCT request FROM request_life WHERE detail LIKE ?",
                       (f'%"apply": "{apply_id}"%',))
    return sorted(int(r[0]) for r in rows)


def carry(store: Store, pending: list[tuple[int, str, str]], apply_id: str,
          failed: dict[str, str], services: dict[str, str | None],
          by: str = "govcloud apply", source: str = "cli") -> None:
    """Record what an apply did for the approved requests it carried (``pending``: id,
    department, kind): ``failed`` with why, per department whose changes failed; else
    ``applied``, then ``live`` when nothing more is needed or its department's service run
    converged (``services``: "" ok, a sentence when it failed, None when it did not run).
    ``by``, ``source``: who applied, from where (the portal, or the command line)."""
    applied = {"apply": apply_id, "source": source}
    for n, department, kind in pending:
        if department in failed:
            record(store, n, by, "failed", {**applied, "why": failed[department]})
            continue
        record(store, n, by, "applied", applied)
        ran = services.get(department)
        if kind not in SERVICE_KINDS:
            record(store, n, by, "live", {**applied, "services": "none needed"})
        elif ran == "":
            record(store, n, by, "live", {**applied, "services": "converged"})
        elif ran is not None:
            record(store, n, by, "failed", {**applied, "why": ran})


def waiting_to_go_live(store: Store, requests: list[tuple[int, str, str]]
                       ) -> list[tuple[int, str, str]]:
    """Of ``requests`` (id, department, kind), those approved and not yet applied, or whose
    last apply failed: what the next apply carries."""
    now_ = stages(store, (n for n, _, _ in requests))
    return [r for r in requests if now_.get(r[0]) in ("approved", "failed")]


def converged(store: Store, departments: dict[str, str], run: str) -> None:
    """A service run outside apply (``govcloud services run``) converged ``departments``
    ("" ok, else why not): their applied requests go live (or failed)."""
    ensure_table(store)
    of = {int(n): d for n, d in store.query(
        "SELECT id, department FROM requests WHERE state = 'approved'") if d in departments}
    for n, step in stages(store, of).items():
        if step != "applied":
            continue
        why = departments[of[n]]
        record(store, n, "govcloud services run", "failed" if why else "live",
               {"services": run, **({"why": why} if why else {})})
