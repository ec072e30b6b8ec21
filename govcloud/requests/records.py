"""The requests table: a filed request as a value (``Request``) and its storage — the row
reader, ``find``, ``listing``, the insert that files one and ``save`` for a decision. What a
request is judged by lives in ``assessment``, how it is decided in ``decisions``; both, and
``notify`` and ``escalation``, read and write requests only through this module."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported by the request commands' options (STATES): kept light
    from govcloud.state.store import Store

STATES = ("waiting", "approved", "rejected", "returned", "withdrawn")
# A department's requests, those a person filed and those waiting are read on every page of
# the portal (its list, its navigation's counts, the queue): without these, each read was a
# scan of every department's requests, their payloads and verdicts too (``ensure_indexes``).
INDEXES = ("CREATE INDEX IF NOT EXISTS requests_of_department "
           "ON requests (department, state, id)",
           "CREATE INDEX IF NOT EXISTS requests_by_requester ON requests (requester, id)",
           "CREATE INDEX IF NOT EXISTS requests_by_state ON requests (state, id)")


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
        """The step (role) the request waits for; None when it waits for nobody."""
        if self.state != "waiting":
            return None
        done = [a["role"] for a in self.approvals]
        return next((r for r in self.verdict.get("chain", {}).get("roles", [])
                     if r not in done), None)

    def unwritten(self) -> bool:
        """Approved by an approval rule at once, its plan edit not written yet (the file
        could not take the write when it was filed: ``decisions.write_approved``)."""
        return self.state == "waiting" and self.waiting_for() is None


COLUMNS = ("id, department, kind, requester, state, payload, base, verdict, approvals, "
           "created_at, changed_at, note")


def _request(store: Store, row: tuple[Any, ...]) -> Request:
    n, dep, kind, who, state, payload, base, verdict, approved, made, changed, note = row
    key = str(n)
    return Request(int(n), dep, kind, who, state, store.document("requests", key, payload),
                   base, _own(store.document("requests", key, verdict), dep),
                   json.loads(approved) if approved else [], made, changed, note)


def _own(verdict: Any, department: str) -> Any:
    """A verdict as its department may see it: a request recorded before verdicts kept only
    their department's bill still names every department's; cut to its own here."""
    from govcloud.finance.plancost import for_department

    if isinstance(verdict, dict) and isinstance(verdict.get("cost"), dict) and \
            isinstance(verdict["cost"].get("departments"), dict):
        return {**verdict, "cost": for_department(verdict["cost"], department)}
    return verdict


def ensure_indexes(store: Store, statements: tuple[str, ...] = INDEXES) -> None:
    """The indexes the portal's lists read through (``INDEXES``), made when missing (a
    store made before them): looked for first (no write lock waited for when they are
    there), then made one process at a time (workers start together)."""
    names = [s.split(" EXISTS ")[1].split()[0] for s in statements]
    sql = "SELECT indexname FROM pg_indexes WHERE indexname = ?" if store.kind == \
        "postgresql" else "SELECT name FROM sqlite_master WHERE type = 'index' AND name = ?"
    if all(store.query(sql, (name,)) for name in names):
        return
    from govcloud.state.store import LOCK_KEY

    with store.transaction():
        if store.kind == "postgresql":  # the store's one-set-up-at-a-time lock
            store.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY + 1,))
        for statement in statements:
            store.execute(statement)


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


def found(store: Store, department: str, state: str = "", text: str = "", offset: int = 0,
          limit: int | None = None) -> tuple[int, list[Request]]:
    """How many of a department's requests (in ``state``) match ``text`` (its number, or
    words of its requester, kind or what was asked), and those from ``offset``, newest
    first (``limit`` of them; all without)."""
    where: list[str] = ["department = ?"]
    params: list[Any] = [department]
    if state:
        where.append("state = ?")
        params.append(state)
    if text:
        from govcloud.audit.trail import holding

        number = text.isascii() and text.isdigit() and len(text) < 12
        sql, like = holding(text, ("requester", "kind", "payload"))
        where.append(f"({sql} OR id = ?)" if number else sql)
        params += like + ([int(text)] if number else [])
    sql = f"FROM requests WHERE {' AND '.join(where)}"
    total = int(store.query(f"SELECT COUNT(*) {sql}", params)[0][0])
    tail, more = ("LIMIT ? OFFSET ?", [limit, offset]) if limit is not None else ("", [])
    rows = store.query(f"SELECT {COLUMNS} {sql} ORDER BY id DESC {tail}", [*params, *more])
    return total, [_request(store, r) for r in rows]


def filed_by(store: Store, name: str, limit: int = 500,
             within: Collection[str] | None = None) -> list[int]:
    """The numbers of the newest requests ``name`` filed (of the departments ``within``
    only, unless None)."""
    return [int(n) for n, d in store.query(
        "SELECT id, department FROM requests WHERE requester = ? ORDER BY id DESC LIMIT ?",
        (name, limit)) if within is None or d in within]


# The filing form each request came from (its one-time token, ``decisions.submit``'s
# ``once``): the same form posted twice (a double click, a retry) files one request.
FORMS = """CREATE TABLE IF NOT EXISTS request_forms (
    token TEXT PRIMARY KEY, request BIGINT NOT NULL)"""


def filed_from(store: Store, once: str) -> int | None:
    """The request the form ``once`` filed, if it filed one."""
    store.execute(FORMS)
    rows = store.query("SELECT request FROM request_forms WHERE token = ?", (once,))
    return int(rows[0][0]) if rows else None


def from_form(store: Store, once: str, n: int) -> None:
    """Record that the form ``once`` filed request ``n`` (in the filing's transaction: a
    second filing from the same form fails its insert and is undone whole)."""
    store.execute(FORMS)
    store.execute("INSERT INTO request_forms (token, request) VALUES (?, ?)", (once, n))


def insert(store: Store, department: str, kind: str, requester: str, payload: Any,
           base: str, verdict: dict[str, Any], at: str) -> int:
    """File a new waiting request under the next number (the caller holds a transaction);
    its number."""
    n = int(store.query("SELECT COALESCE(MAX(id), 0) + 1 FROM requests")[0][0])
    store.execute(f"INSERT INTO requests ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                  (n, department, kind, requester, "waiting",
                   json.dumps(payload, ensure_ascii=False),
                   base, json.dumps(verdict, ensure_ascii=False), "[]", at, at, ""))
    return n


def decide(store: Store, r: Request, was: Request) -> bool:
    """Write a decision ``r`` only if the request is still as ``was`` (its state and its
    approvals): one decision per step. False, and nothing written, when another decision
    came first. The caller holds a transaction (on SQLite the write lock, on PostgreSQL the
    row's lock: the update waits for a concurrent one and then finds the row changed)."""
    store.execute("UPDATE requests SET state = ?, verdict = ?, approvals = ?, changed_at = ?, "
                  "note = ? WHERE id = ? AND state = ? AND approvals = ?",
                  (r.state, json.dumps(r.verdict, ensure_ascii=False), json.dumps(r.approvals),
                   r.changed_at, r.note, r.id, was.state, json.dumps(was.approvals)))
    now = find(store, r.id)
    return now is not None and now.state == r.state and now.approvals == r.approvals and \
        now.changed_at == r.changed_at and now.note == r.note


def save(store: Store, r: Request) -> None:
    """Write a decided (or further approved) request's state, verdict, approvals and note."""
    store.execute("UPDATE requests SET state = ?, verdict = ?, approvals = ?, changed_at = ?, "
                  "note = ? WHERE id = ?",
                  (r.state, json.dumps(r.verdict, ensure_ascii=False), json.dumps(r.approvals),
                   r.changed_at, r.note, r.id))


def refile(store: Store, r: Request, was: Request) -> bool:
    """Write a request filed again (``r``: its new payload, base, verdict and state, its
    approvals cleared) only if it is still as ``was``; False, nothing written, otherwise."""
    store.execute("UPDATE requests SET state = ?, payload = ?, base = ?, verdict = ?, "
                  "approvals = ?, changed_at = ?, note = ? WHERE id = ? AND state = ? AND "
                  "changed_at = ?",
                  (r.state, json.dumps(r.payload, ensure_ascii=False), r.base,
                   json.dumps(r.verdict, ensure_ascii=False), json.dumps(r.approvals),
                   r.changed_at, r.note, r.id, was.state, was.changed_at))
    now = find(store, r.id)
    return now is not None and now.state == r.state and now.changed_at == r.changed_at
