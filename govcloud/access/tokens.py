"""govcloud API tokens: for programs that call the portal's JSON API (``/api/*``) with an
``Authorization: Bearer`` header instead of signing in. Each token is scoped to one role
(and, for member or approver, one department), shown once when it is made, stored only as
its SHA-256 (it is 256 random bits, so no slow hash is needed), and revocable. Making and
revoking one are audit records; a token acts as the person ``token:<id>``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from govcloud.access.users import Person
from govcloud.audit import trail
from govcloud.clock import now
from govcloud.core.roles import DEPARTMENT_ROLES, check_account
from govcloud.errors import GovcloudError
from govcloud.state.store import Store

TABLE = """CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, role TEXT NOT NULL, department TEXT,
    label TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
    revoked_at TEXT)"""
MAX_LABEL = 200
PREFIX = "gct_"  # a token reads gct_<id>_<secret>
COLUMNS = "id, role, department, label, created_by, created_at, revoked_at"


@dataclass(frozen=True)
class Token:
    id: str
    role: str
    department: str | None
    label: str
    created_by: str
    created_at: str
    revoked_at: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def person(self) -> Person:
        """Who the token acts as in the portal."""
        return Person(f"token:{self.id}", self.role, self.department,
                      self.revoked_at is not None, self.created_at, self.created_at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _token(row: tuple[Any, ...]) -> Token:
    tid, role, department, label, by, at, revoked = row
    return Token(tid, role, department or None, label, by, at, revoked or None)


def tokens(store: Store) -> list[Token]:
    store.execute(TABLE)
    return [_token(r) for r in store.query(f"SELECT {COLUMNS} FROM tokens ORDER BY created_at,"
                                           " id")]


def add(store: Store, departments: set[str], role: str, department: str | None, label: str,
        actor: str, source: str = "cli") -> tuple[Token, str]:
    """A new token and its secret text (shown once; only its SHA-256 is kept)."""
    problems = check_account("token", role, department, departments)
    if len(label) > MAX_LABEL:
        problems.append(f"the label is {len(label)} characters long — keep it to {MAX_LABEL}")
    elif not label.isprintable():
        problems.append(f"the label {label!r} has a line break or another control character "
                        "— give one line of text, e.g. --label \"ERP export\"")
    if problems:
        what, _, fix = problems[0].partition(" — ")
        raise GovcloudError(what, fix)
    store.execute(TABLE)
    tid = secrets.token_hex(4)
    text = f"{PREFIX}{tid}_{secrets.token_urlsafe(32)}"
    with store.transaction():
        store.execute("INSERT INTO tokens (id, digest, role, department, label, created_by, "
                      "created_at, revoked_at) VALUES (?,?,?,?,?,?,?,NULL)",
                      (tid, _digest(text), role,
                       department if role in DEPARTMENT_ROLES else None, label, actor,
                       now()))
        token = _one(store, tid)
        trail.append(store, actor, "token add", f"token:{tid}", token.department or "", None,
                     {"role": token.role, "department": token.department,
                      "label": token.label}, "", source)
    return token, text


def _one(store: Store, tid: str) -> Token:
    rows = store.query(f"SELECT {COLUMNS} FROM tokens WHERE id = ?", (tid,))
    if not rows:
        raise GovcloudError(f"no token {tid!r}", "govcloud tokens list shows them")
    return _token(rows[0])


def revoke(store: Store, tid: str, actor: str, reason: str, source: str = "cli") -> Token:
    """Revoke a token (it stops working at once); audited with the reason."""
    if not reason.strip():
        raise GovcloudError("revoking a token needs a reason", "give --reason \"…\"")
    store.execute(TABLE)
    with store.transaction():
        before = _one(store, tid)
        if before.revoked_at:
            raise GovcloudError(f"token {tid} is already revoked", "nothing to do")
        store.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now(), tid))
        after = _one(store, tid)
        trail.append(store, actor, "token revoke", f"token:{tid}", after.department or "",
                     None, None, reason.strip(), source)
    return after


def find(store: Store, text: str | None) -> Token | None:
    """The live token whose secret text is ``text``, or None."""
    if not text or not text.startswith(PREFIX) or len(text) > 200:
        return None
    store.execute(TABLE)
    rows = store.query(f"SELECT {COLUMNS} FROM tokens WHERE digest = ?", (_digest(text),))
    if not rows:
        return None
    token = _token(rows[0])
    return None if token.revoked_at else token
