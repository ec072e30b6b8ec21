"""Requests: a department's proposed edit of its plan file, judged by the same code as the
CLI before it can be filed, approved by the people the approval rules name, and written to
the plan file (one git commit, when the estate is a repository) only then.

The verdict of a request (``assess``) is: the request's own fields checked, the edit made on
the plan's text (comments and order kept), the whole estate validated with the edited text in
the file's place (``loader.check_estate(proposed=…)``), the changes it makes for the
department (``planning.make_plan`` between the current and the edited plans), what it does to
the monthly bill with fixed shares (``accounts.plan_cost``), whether the hosts suffice
(``capacity.what_if``), and who must approve (``core.approvals``). An invalid request cannot
be filed.

Approving writes the plan file under the state store's apply lock, so two approvals, or an
approval and an apply, never interleave; a request whose plan file changed since it was filed
is judged again on the file as it is now, and sent back if it no longer holds.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import subprocess
import tempfile
import threading
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from govcloud.access.users import Person
from govcloud.audit import trail
from govcloud.books.accounts import plan_cost
from govcloud.clock import now
from govcloud.core import approvals
from govcloud.core import requests as asked
from govcloud.core.desired import desired_state
from govcloud.core.documents import parse
from govcloud.core.model import Estate
from govcloud.core.planning import make_plan
from govcloud.core.roles import with_article
from govcloud.errors import Diagnostic, GovcloudError, LockHeld
from govcloud.estate.files import read_bytes
from govcloud.estate.loader import check_estate, load_approvals
from govcloud.estate.planedit import apply_edits
from govcloud.placement.capacity import what_if
from govcloud.state.store import Store

STATES = ("waiting", "approved", "rejected", "returned")
FILERS = {"member", "approver", "operator"}  # who may file a request
LOCK_SECONDS = 30.0
_DECIDING = threading.Lock()  # one decision at a time in this process (the store's lock
# serialises processes; on PostgreSQL its advisory lock is re-entrant within a session)


class RequestRefused(GovcloudError):
    """A request cannot be filed or decided; ``verdict`` holds the field-level errors."""

    def __init__(self, message: str, hint: str = "", verdict: Verdict | None = None) -> None:
        super().__init__(message, hint)
        self.verdict = verdict


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _diag(d: Diagnostic) -> dict[str, Any]:
    return {k: v for k, v in d.as_dict().items() if k != "severity"}


@dataclass
class Verdict:
    """Everything a person (or program) needs to decide whether to file a request."""

    department: str
    ok: bool
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    cost: dict[str, Any] | None = None
    cost_delta: str = "0.00"
    capacity: dict[str, Any] = field(default_factory=dict)
    chain: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    base: str = ""
    text: str = ""  # the edited plan file (not shown in as_dict: the diff is)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("text")
        return out


def _refused(department: str, problems: list[Diagnostic], base: str = "") -> Verdict:
    return Verdict(department, False, [_diag(d) for d in problems], base=base)


def plan_text(estate: Estate, department: str) -> tuple[str, str]:
    """The department's plan file (as the estate names it) and its text, read by the estate's
    one reader."""
    plan = estate.plans.get(department)
    if plan is None:
        raise GovcloudError(f"no department {department!r} in the estate",
                            f"one of: {', '.join(sorted(estate.plans)[:10])}")
    raw, problems = read_bytes(estate.root / plan.file, plan.file, estate.root)
    if raw is None:
        raise GovcloudError(f"{plan.file} cannot be read: {problems[0].message}",
                            problems[0].hint)
    return plan.file, raw.decode("utf-8")


def assess(estate: Estate, department: str, payload: Any) -> Verdict:
    """The whole verdict of a request for ``department`` on the estate as it is now."""
    problems = asked.check_request(payload)
    if not problems and payload["department"] != department:
        problems = [Diagnostic(asked.FIELD, 0, "department",
                               f"the request is for {payload['department']}, filed for "
                               f"{department}", "file it for its own department")]
    if problems:
        return _refused(department, problems)
    file, text = plan_text(estate, department)
    base = digest(text)
    doc, diags = parse(text, file)
    if doc is None:
        return _refused(department, diags, base)
    edits, problems = asked.edits(payload, doc.data)
    if problems:
        return _refused(department, problems, base)
    new_text = apply_edits(text, edits)
    checked = check_estate(estate.root, proposed={file: new_text})
    if checked.errors or checked.settings is None:
        return Verdict(department, False, [_diag(d) for d in checked.errors],
                       [_diag(d) for d in checked.warnings if d.file == file], base=base,
                       diff=_diff(file, text, new_text))
    after = checked.estate()
    # The estate as its files are now (the caller's may be older: another request approved
    # meanwhile), so the diff and the cost are this request's alone.
    now_checked = check_estate(estate.root)
    if now_checked.errors or now_checked.settings is None:
        first = now_checked.errors[0] if now_checked.errors else None
        raise GovcloudError("the estate does not validate as it is now" +
                            (f": {first.render()}" if first else ""),
                            "fix the estate's files first (govcloud validate)")
    estate = now_checked.estate()
    plan = make_plan(desired_state(after), list(desired_state(estate).values()),
                     {d: p.file for d, p in after.plans.items()}, prune=True)
    changes = [c for c in plan.changes if c.department == department and c.action != "no-op"]
    # A change the plan blocks (deleting or replacing something protected) belongs to the
    # field that asked for it.
    field_of = next((k for k in ("server", "website", "flavor") if k in payload
                     and payload["kind"] in ("remove", "resize")), None)
    errors = [{"file": asked.FIELD if field_of else file, "line": 0,
               "path": field_of or c.key, "message": f"{c.key}: {c.action}: {c.reason}",
               "hint": c.impact, "rule": ""} for c in changes if c.action == "blocked"]
    cost = plan_cost(plan, after)
    delta = Decimal(cost["departments"].get(department, {}).get("delta", "0")) if cost \
        else Decimal(0)
    room = what_if(estate, after)
    extra_before = sum(n for z in room.before.zones for n in z.extra.values())
    extra_after = sum(n for z in room.after.zones for n in z.extra.values())
    old_quota = estate.plans[department].quota
    new_quota = after.plans[department].quota
    facts = {"cost_delta": float(delta), "extra_hosts": max(0, extra_after - extra_before),
             "changes": len(changes),
             "quota_raised": any(getattr(new_quota, k) > getattr(old_quota, k)
                                 for k in vars(old_quota)),
             "new_public_website": payload["kind"] == "website" and any(
                 w.public for w in after.plans[department].websites
                 if w.domain == payload["website"]["domain"])}
    stages, rule_problems = load_approvals(estate.root)
    chain, eval_problems = approvals.chain(stages, payload, facts)
    errors += [_diag(d) for d in rule_problems]
    return Verdict(
        department, not errors, errors,
        [_diag(d) for d in checked.warnings if d.file == file] +
        [{"file": approvals.APPROVALS_FILE, "line": 0, "path": "", "message": p, "hint": "",
          "rule": ""} for p in eval_problems],
        [{"action": c.action, "key": c.key, "reason": _why(c.action, c.reason, c.diff),
          "impact": c.impact, "diff": {k: [a, b] for k, (a, b) in c.diff.items()}}
         for c in changes],
        _diff(file, text, new_text), cost, f"{delta:.2f}",
        {"fits": facts["extra_hosts"] == 0, "extra_hosts": facts["extra_hosts"],
         "hosts_before": room.before.hosts, "hosts_after": room.after.hosts,
         "add": room.extra},
        chain.as_dict(), facts, base, new_text)


def _why(action: str, reason: str, diff: dict[str, Any]) -> str:
    """A change's reason as the request's: the plan compares plans here, not the cloud."""
    if action == "create":
        return "the request adds it"
    if action == "delete":
        return "the request removes it"
    if action in ("update", "resize") and diff:
        return f"the request changes {', '.join(sorted(diff))}"
    return reason


def _diff(file: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), f"a/{file}",
                                        f"b/{file}"))


def _tell(estate: Estate | None, store: Store, request: Request, by: str, source: str) -> None:
    """Mail whoever should hear of the request now; a failure is an audit record, never an
    error."""
    if estate is None:
        return
    from govcloud.requests import notify

    problem = notify.send(estate.settings.notify, store, request)
    if problem:
        trail.append(store, by, "notify failed", f"request {request.id}", request.department,
                     None, None, problem, source)


# --- the requests table -------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    id: int
    department: str
    kind: str
    requester: str
    state: str
    payload: dict[str, Any]
    base: str
    verdict: dict[str, Any]
    approvals: list[dict[str, str]]
    created_at: str
    changed_at: str
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def waiting_for(self) -> str | None:
        if self.state != "waiting":
            return None
        done = [a["role"] for a in self.approvals]
        return next((r for r in self.verdict.get("chain", {}).get("roles", [])
                     if r not in done), None)


COLUMNS = ("id, department, kind, requester, state, payload, base, verdict, approvals, "
           "created_at, changed_at, note")


def _request(store: Store, row: tuple[Any, ...]) -> Request:
    n, dep, kind, who, state, payload, base, verdict, approved, made, changed, note = row
    key = str(n)
    return Request(int(n), dep, kind, who, state, store.document("requests", key, payload),
                   base, store.document("requests", key, verdict),
                   json.loads(approved) if approved else [], made, changed, note)


def find(store: Store, n: int) -> Request | None:
    rows = store.query(f"SELECT {COLUMNS} FROM requests WHERE id = ?", (n,))
    return _request(store, rows[0]) if rows else None


def listing(store: Store, department: str | None = None, state: str | None = None,
            limit: int = 200) -> list[Request]:
    where, params = [], []
    if department:
        where.append("department = ?")
        params.append(department)
    if state:
        where.append("state = ?")
        params.append(state)
    sql = f"SELECT {COLUMNS} FROM requests " + (f"WHERE {' AND '.join(where)} " if where
                                                 else "") + "ORDER BY id DESC LIMIT ?"
    return [_request(store, r) for r in store.query(sql, (*params, limit))]


def _save(store: Store, r: Request) -> None:
    store.execute("UPDATE requests SET state = ?, verdict = ?, approvals = ?, changed_at = ?, "
                  "note = ? WHERE id = ?",
                  (r.state, json.dumps(r.verdict, ensure_ascii=False), json.dumps(r.approvals),
                   r.changed_at, r.note, r.id))


def submit(estate: Estate, store: Store, person: Person, payload: Any,
           source: str = "portal") -> Request:
    """File a request (refused, with every field's problem, when its verdict is not ok); one
    that the rules approve at once is written to the plan file now."""
    department = payload.get("department") if isinstance(payload, dict) else None
    if person.role not in FILERS:
        raise RequestRefused(f"{with_article(person.role)} does not file requests",
                             "department members and approvers file requests")
    if person.department is not None and department != person.department:
        raise RequestRefused(f"{person.name} files requests for {person.department} only",
                             f'set "department": "{person.department}"')
    verdict = assess(estate, str(department or ""), payload)
    if not verdict.ok:
        first = verdict.errors[0] if verdict.errors else {"message": "invalid"}
        raise RequestRefused(f"the request cannot be filed: {first['message']}",
                             first.get("hint", ""), verdict)
    at = now()
    with store.transaction():
        n = int(store.query("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")[0][0])
        store.execute(f"INSERT INTO requests ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                      (n, verdict.department, payload["kind"], person.name, "waiting",
                       json.dumps(payload, ensure_ascii=False),
                       verdict.base, json.dumps(verdict.as_dict(), ensure_ascii=False), "[]",
                       at, at, ""))
        trail.append(store, person.name, "request new", f"request {n}", verdict.department,
                     None, {"payload": payload, "cost_delta": verdict.cost_delta,
                            "chain": verdict.chain}, payload.get("reason", ""), source)
    request = find(store, n)
    assert request is not None
    if verdict.chain.get("auto"):
        rule = verdict.chain["rules"][-1]
        request = _write(estate, store, request, f"govcloud (approval rule {rule})", "auto",
                         f"approved by rule {rule}", source)
    _tell(estate, store, request, person.name, source)
    return request


def _atomic_write(path: Path, text: str) -> None:
    """Replace the file's content in one step: a reader sees the old file or the new one."""
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _commit(root: Path, file: str, request: Request, approvers: list[dict[str, str]]
            ) -> str:
    """One git commit of the plan file, authored by the requester, the approvers in
    trailers; "" when the estate is no git repository, else what happened."""
    probe = subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return ""
    subject = f"{request.department}: {request.kind} (request {request.id})"
    reason = str(request.payload.get("reason", ""))
    trailers = [f"Approved-by: {a['by']} ({a['role']})" for a in approvers]
    env = {**os.environ, "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "govcloud"),
           "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "govcloud@localhost")}
    done = subprocess.run(
        ["git", "-C", str(root), "commit", "--no-verify", "-q",
         f"--author={request.requester} <{request.requester}@{request.department}.govcloud>",
         "-m", subject, "-m", reason or "(no reason given)", "-m",
         "\n".join([f"Request: {request.id}", *trailers]), "--", file],
        capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return f"git commit failed: {(done.stderr or done.stdout).strip()[:300]}"
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return f"committed {head}"


def _write(estate: Estate, store: Store, request: Request, by: str, role: str, reason: str,
           source: str) -> Request:
    """Record the last approval and write the plan file (under the apply lock), judging the
    request again first if its plan file changed since it was filed."""
    with _DECIDING:
        try:
            store.lock(LOCK_SECONDS, doing=f"writing request {request.id}'s plan")
        except LockHeld as exc:  # the store's hint (--lock-timeout) is no option of approve
            raise LockHeld(str(exc), f"wait for it to finish, then approve request "
                                     f"{request.id} again") from None
        try:
            current = find(store, request.id)
            if current is None or current.state != "waiting":
                raise RequestRefused(f"request {request.id} is "
                                     f"{current.state if current else 'gone'}",
                                     "reload the queue")
            file, text = plan_text(estate, current.department)
            verdict, stale = None, digest(text) != current.base
            verdict = assess(estate, current.department, current.payload)
            approvals_ = [*current.approvals, {"role": role, "by": by, "at": now()}]
            if not verdict.ok:
                first = verdict.errors[0]["message"] if verdict.errors else "invalid"
                returned = Request(**{**current.as_dict(), "state": "returned",
                                      "changed_at": now(), "note": "the plan file changed "
                                      f"since it was filed and the request no longer holds: "
                                      f"{first}", "verdict": verdict.as_dict()})
                with store.transaction():
                    _save(store, returned)
                    trail.append(store, by, "request returned", f"request {request.id}",
                                 current.department, {"state": "waiting"},
                                 {"state": "returned"}, returned.note, source)
                return returned
            done = Request(**{**current.as_dict(), "state": "approved", "changed_at": now(),
                              "approvals": approvals_, "verdict": verdict.as_dict(),
                              "note": "judged again: the plan file had changed" if stale
                              else ""})
            with store.transaction():
                _save(store, done)
                trail.append(store, by, "request approve", f"request {request.id}",
                             current.department, {"plan": current.base},
                             {"plan": digest(verdict.text), "diff": verdict.diff}, reason,
                             source)
                _atomic_write(estate.root / file, verdict.text)
            note = _commit(estate.root, file, done, approvals_)
            if note:
                done = Request(**{**done.as_dict(), "note": "; ".join(
                    x for x in (done.note, note) if x)})
                _save(store, done)
            return done
        finally:
            store.unlock()


def approve(estate: Estate, store: Store, person: Person, n: int, reason: str = "",
            source: str = "portal") -> Request:
    """Approve the stage the request waits for; the last approval writes the plan file."""
    request = _decidable(store, person, n)
    step = request.waiting_for()
    roles = request.verdict["chain"]["roles"]
    if roles and step == roles[-1]:
        done = _write(estate, store, request, person.name, person.role, reason, source)
        _tell(estate, store, done, person.name, source)
        return done
    with store.transaction():
        current = _decidable(store, person, n)
        if current.waiting_for() != step:
            raise RequestRefused(f"request {n} moved on meanwhile", "reload the queue")
        updated = Request(**{**current.as_dict(), "changed_at": now(), "approvals": [
            *current.approvals, {"role": person.role, "by": person.name, "at": now()}]})
        _save(store, updated)
        trail.append(store, person.name, "request approve", f"request {n}",
                     current.department, {"waiting_for": step},
                     {"waiting_for": updated.waiting_for()}, reason, source)
    _tell(estate, store, updated, person.name, source)
    return updated


def _decidable(store: Store, person: Person, n: int) -> Request:
    request = find(store, n)
    if request is None:
        raise RequestRefused(f"no request {n}", "govcloud request list shows them")
    if request.state != "waiting":
        raise RequestRefused(f"request {n} is {request.state}", "only a waiting request is "
                             "decided")
    chain = approvals.Chain(tuple(request.verdict["chain"]["roles"]), (), False)
    why = approvals.may_approve(person.role, person.department, person.name,
                                request.requester, request.department, chain,
                                [a["role"] for a in request.approvals])
    if why:
        raise RequestRefused(f"{person.name} cannot decide request {n}: {why}",
                             "the request shows who it waits for")
    return request


def close(store: Store, person: Person, n: int, state: str, reason: str,
          source: str = "portal", estate: Estate | None = None) -> Request:
    """Reject a request, or send it back to the requester (``returned``), with a reason;
    with ``estate``, its requester is told by e-mail."""
    if state not in ("rejected", "returned"):
        raise GovcloudError(f"a request is closed as rejected or returned, not {state}")
    if not reason.strip():
        raise RequestRefused("a rejection or a request sent back needs a reason",
                             "say what is wrong, so the requester can act on it")
    with store.transaction():
        request = _decidable(store, person, n)
        closed = Request(**{**request.as_dict(), "state": state, "changed_at": now(),
                            "note": reason.strip()})
        _save(store, closed)
        trail.append(store, person.name, f"request {'reject' if state == 'rejected' else 'return'}",
                     f"request {n}", request.department, {"state": "waiting"},
                     {"state": state}, reason.strip(), source)
    _tell(estate, store, closed, person.name, source)
    return closed
