"""govcloud API tokens: for programs that call the portal's JSON API (``/api/*``) with an
``Authorization: Bearer`` header instead of signing in. Each token belongs to a person (its
owner, an account of the portal) and carries the owner's role (and, for member or approver,
department); it may only read (scope ``read``) or also act (``write``), and it expires
(``TOKEN_DAYS`` unless made for fewer, never more than the estate's
``portal.token_max_days``). It is shown once when it is made, stored only as its SHA-256
(it is 256 random bits, so no slow hash is needed), and revocable. Making and revoking one
are audit records; a token acts as the person ``token:<id>``, and separation of duties
counts its owner (``principal``): nobody approves with a token what they asked for.

A token stops working when it is revoked, when it expires, and when its owner's account is
disabled, removed or no longer holds the token's role and department. Tokens made before
tokens had owners (no row in ``token_terms``) belong to whoever made them, may act, and
expire ``TOKEN_DAYS`` after they were made.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from govcloud.access import users
from govcloud.access.users import Person
from govcloud.audit import trail
from govcloud.clock import now, stamp
from govcloud.core.patterns import check_line
from govcloud.core.roles import DEPARTMENT_ROLES, SCOPES, TOKEN_DAYS, check_account
from govcloud.errors import GovcloudError
from govcloud.state.store import Store

TABLE = """CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY, digest TEXT NOT NULL UNIQUE, role TEXT NOT NULL, department TEXT,
    label TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
    revoked_at TEXT)"""
TERMS = """CREATE TABLE IF NOT EXISTS token_terms (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, scope TEXT NOT NULL, expires_at TEXT NOT NULL)"""
MAX_LABEL = 200
PREFIX = "gct_"  # a token reads gct_<id>_<secret>
COLUMNS = ("t.id, t.role, t.department, t.label, t.created_by, t.created_at, t.revoked_at, "
           "k.owner, k.scope, k.expires_at")
FROM = "FROM tokens t LEFT JOIN token_terms k ON k.id = t.id"


@dataclass(frozen=True)
class Token:
    id: str
    role: str
    department: str | None
    label: str
    created_by: str
    created_at: str
    revoked_at: str | None
    owner: str
    scope: str
    expires_at: str
    subtree: str = ""  # its owner's scope, as it is now (read with the token)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def expired(self, at: str) -> bool:
        return at >= self.expires_at

    def person(self) -> Person:
        """Who the token acts as in the portal."""
        return Person(f"token:{self.id}", self.role, self.department,
                      self.revoked_at is not None, self.created_at, self.created_at,
                      owner=self.owner, scope=self.scope, subtree=self.subtree)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _later(at: str, days: int) -> str:
    return stamp(datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=days))


def _token(row: tuple[Any, ...]) -> Token:
    tid, role, department, label, by, at, revoked, owner, scope, expires = row
    if owner is None:  # made before tokens had owners: its maker's, acting, TOKEN_DAYS
        owner, scope, expires = by, "write", _later(at, TOKEN_DAYS)
    return Token(tid, role, department or None, label, by, at, revoked or None, owner, scope,
                 expires)


def _tables(store: Store) -> None:
    store.execute(TABLE)
    store.execute(TERMS)


def tokens(store: Store) -> list[Token]:
    _tables(store)
    return [_token(r) for r in store.query(f"SELECT {COLUMNS} {FROM} ORDER BY t.created_at,"
                                           " t.id")]


def principal(store: Store, name: str) -> str:
    """Whom separation of duties counts for ``name``: a token's owner, else the name."""
    if not name.startswith("token:"):
        return name
    _tables(store)
    rows = store.query(f"SELECT {COLUMNS} {FROM} WHERE t.id = ?", (name[6:],))
    return _token(rows[0]).owner if rows else name


def _terms(store: Store, owner: str, role: str | None, department: str | None, scope: str,
           days: int, max_days: int) -> tuple[Person, list[str]]:
    """The owner's account and what is wrong with a token's terms."""
    person = users.find(store, owner)
    if person is None or person.disabled:
        what = "is disabled" if person else "is no account of the portal"
        raise GovcloudError(f"the token's owner {owner!r} {what}",
                            "give --owner an enabled account (govcloud users list shows "
                            "them); a token belongs to the person it acts for")
    problems = []
    if role is not None and role != person.role:
        problems.append(f"{owner} is {person.role}, so their token cannot act as {role} — "
                        "leave out --role (the token takes its owner's role)")
    if department is not None and department != person.department:
        problems.append(f"{owner} belongs to {person.department or 'no department'}, not "
                        f"{department} — leave out --department (the token takes its "
                        "owner's)")
    if scope not in SCOPES:
        problems.append(f"scope {scope!r} is unknown — give --scope read or --scope write")
    if not 1 <= days <= max_days:
        problems.append(f"a token lasts 1 to {max_days} days, not {days} — give "
                        f"--days 1..{max_days} (the most is portal.token_max_days in "
                        "govcloud.yaml)")
    return person, problems


def add(store: Store, departments: set[str], owner: str, label: str, actor: str, *,
        role: str | None = None, department: str | None = None, scope: str = "read",
        days: int = TOKEN_DAYS, max_days: int = 365, source: str = "cli"
        ) -> tuple[Token, str]:
    """A new token of ``owner`` (with their role and department) and its secret text (shown
    once; only its SHA-256 is kept)."""
    _tables(store)
    person, problems = _terms(store, owner, role, department, scope, days, max_days)
    role, department = person.role, person.department
    problems += check_account("token", role, department, departments, "", person.subtree,
                              [person.subtree])  # a scoped owner's token: as scoped
    if len(label) > MAX_LABEL:
        problems.append(f"the label is {len(label)} characters long — keep it to {MAX_LABEL}")
    elif not label.isprintable():
        problems.append(f"the label {label!r} has a line break or another control character "
                        "— give one line of text, e.g. --label \"ERP export\"")
    if problems:
        what, _, fix = problems[0].partition(" — ")
        raise GovcloudError(what, fix)
    tid = secrets.token_hex(4)
    text = f"{PREFIX}{tid}_{secrets.token_urlsafe(32)}"
    made = now()
    with store.transaction():
        store.execute("INSERT INTO tokens (id, digest, role, department, label, created_by, "
                      "created_at, revoked_at) VALUES (?,?,?,?,?,?,?,NULL)",
                      (tid, _digest(text), role,
                       department if role in DEPARTMENT_ROLES else None, label, actor, made))
        store.execute("INSERT INTO token_terms (id, owner, scope, expires_at) "
                      "VALUES (?,?,?,?)", (tid, owner, scope, _later(made, days)))
        token = _one(store, tid)
        trail.append(store, actor, "token add", f"token:{tid}", token.department or "", None,
                     {"role": token.role, "department": token.department,
                      "label": token.label, "owner": token.owner, "scope": token.scope,
                      "expires_at": token.expires_at}, "", source)
    return token, text


def _one(store: Store, tid: str) -> Token:
    rows = store.query(f"SELECT {COLUMNS} {FROM} WHERE t.id = ?", (tid,))
    if not rows:
        raise GovcloudError(f"no token {tid!r}", "govcloud tokens list shows them")
    return _token(rows[0])


def revoke(store: Store, tid: str, actor: str, reason: str, source: str = "cli") -> Token:
    """Revoke a token (it stops working at once); audited with the reason."""
    if not reason.strip():
        raise GovcloudError("revoking a token needs a reason", "give --reason \"…\"")
    check_line(reason)
    _tables(store)
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
    """The live token whose secret text is ``text``, or None: not revoked, not expired, and
    its owner's account still enabled with the token's role and department (a token made
    before tokens had owners is checked for revocation and expiry only)."""
    if not text or not text.startswith(PREFIX) or len(text) > 200:
        return None
    _tables(store)
    rows = store.query(f"SELECT {COLUMNS} {FROM} WHERE t.digest = ?", (_digest(text),))
    if not rows:
        return None
    token = _token(rows[0])
    if token.revoked_at or token.expired(now()):
        return None
    if rows[0][7] is None:
        return token
    owner = users.find(store, token.owner)
    if owner is None or owner.disabled or (owner.role, owner.department) != \
            (token.role, token.department):
        return None
    return replace(token, subtree=owner.subtree)
