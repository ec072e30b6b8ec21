"""Sign-in sessions and CSRF tokens, kept in the state store so several worker processes
share them.

A session is a random 256-bit token; the cookie holds it signed (itsdangerous), the store only
its SHA-256, with its owner, its CSRF token and when it expires. Every request reads the
person again, so a disabled account or a changed role takes effect at once. A session ends
after IDLE without a request (its expiry slides forward as it is used, at most once every
SLIDE) and LIFETIME after sign-in whatever its use; signing out deletes it. A person lists
their sessions and ends any of them; an operator ends anyone's (``govcloud users sessions``).
Every end is an audit record: a sign-out, a session ended by a person, one found idle or
past its lifetime. Before sign-in, the login form's CSRF token is a signed double-submit
cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from govcloud.access import users
from govcloud.audit import trail
from govcloud.clock import clock, now, stamp
from govcloud.errors import GovcloudError
from govcloud.state.store import Store

COOKIE = "govcloud_session"
LOGIN_COOKIE = "govcloud_login"
LIFETIME = timedelta(hours=8)  # the absolute limit, from sign-in
WAITING = ("enrol", "code")  # what a sign-in waiting for its second factor waits for
GIVEN = "given"  # the second factor was given in this session
IDLE = timedelta(minutes=15)  # without a request
SLIDE = timedelta(minutes=1)  # the expiry is written forward at most this often
HANDLE = 12  # hex characters of the token's SHA-256 that name a session in a listing
SECRET_META = "portal_secret"


def secret(store: Store, given: str | None = None) -> str:
    """The key that signs cookies: ``given`` (GOVCLOUD_PORTAL_SECRET), else one made once
    and kept in the store, so every worker process and restart shares it."""
    if given:
        return given
    with store.transaction():
        kept = store.get_meta(SECRET_META)
        if kept is None:
            kept = secrets.token_hex(32)
            store.set_meta(SECRET_META, kept)
    return kept


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    person: users.Person
    csrf: str
    token: str
    # the second factor: "" not asked at sign-in, "enrol" or "code" while the sign-in waits
    # for it (WAITING), "given" once it was given (GIVEN)
    factor: str = ""

    @property
    def waits(self) -> bool:
        """Whether the session waits for its second factor (and may do nothing else)."""
        return self.factor in WAITING


class Signer:
    def __init__(self, key: str) -> None:
        self._session = URLSafeSerializer(key, salt="govcloud-session")
        self._login = URLSafeSerializer(key, salt="govcloud-login-csrf")

    def cookie(self, token: str) -> str:
        return self._session.dumps(token)

    def token(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 512:
            return None
        try:
            value = self._session.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def login_cookie(self) -> tuple[str, str]:
        """A new login CSRF token and the signed cookie that carries it."""
        token = secrets.token_urlsafe(32)
        return token, self._login.dumps(token)

    def login_token(self, cookie: str | None) -> str | None:
        if not cookie or len(cookie) > 512:
            return None
        try:
            value = self._login.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


def start(store: Store, person: users.Person, factor: str = "") -> Session:
    """A new session of ``person``; ``factor``: waiting for their second factor ("enrol" or
    "code": until ``complete`` it may do nothing else)."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE expires_at < ?", (now(),))
        store.execute("INSERT INTO sessions (id, name, csrf, created_at, expires_at, factor) "
                      "VALUES (?,?,?,?,?,?)", (_digest(token), person.name, csrf, now(),
                                               stamp(clock() + IDLE), factor))
    return Session(person, csrf, token, factor)


def complete(store: Store, session: Session) -> Session:
    """The session once its second factor was given: a new token (the one that waited is
    ended, so a cookie taken before the code is worth nothing after it)."""
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE id = ?", (_digest(session.token),))
        return start(store, session.person, GIVEN)


def require(store: Store, session: Session, factor: str) -> Session:
    """The session now waits for ``factor`` ("enrol" or "code"): its person's role came to
    need a second factor after the sign-in (a new role, or the setting turned on), or they
    enrolled from another session while this one waited to enrol."""
    store.execute("UPDATE sessions SET factor = ? WHERE id = ?", (factor, _digest(session.token)))
    return Session(session.person, session.csrf, session.token, factor)


def _deadline(created_at: str) -> str:
    return stamp(datetime.fromisoformat(created_at.replace("Z", "+00:00")) + LIFETIME)


def find(store: Store, token: str | None, source: str = "portal") -> Session | None:
    """The live session of ``token`` with its person (active), or None. A use slides its
    idle expiry forward (never past LIFETIME from sign-in); a session found over either is
    ended and recorded."""
    if not token:
        return None
    key = _digest(token)
    rows = store.query("SELECT name, csrf, expires_at, created_at, factor FROM sessions "
                       "WHERE id = ?", (key,))
    if not rows:
        return None
    name, csrf, expires, created, factor = rows[0]
    at = now()
    if expires < at:
        why = "lifetime" if expires >= _deadline(created) else "idle"
        _end(store, key, name, "portal", f"session end ({why})", source)
        return None
    person = users.find(store, name)
    if person is None or person.disabled:
        return None
    slid = min(stamp(clock() + IDLE), _deadline(created))
    if slid > stamp(datetime.fromisoformat(expires.replace("Z", "+00:00")) + SLIDE):
        store.execute("UPDATE sessions SET expires_at = ? WHERE id = ?", (slid, key))
    return Session(person, csrf, token, factor)


def _end(store: Store, key: str, name: str, actor: str, action: str, source: str) -> bool:
    with store.transaction():
        gone = store.query("SELECT 1 FROM sessions WHERE id = ?", (key,))
        store.execute("DELETE FROM sessions WHERE id = ?", (key,))
        if gone:
            person = users.find(store, name)
            trail.append(store, actor, action, name,
                         (person.department or "") if person else "", None,
                         {"session": key[:HANDLE]}, "", source)
    return bool(gone)


def end(store: Store, token: str, source: str = "portal") -> None:
    """Sign out: the session of ``token`` ends (recorded as a sign-out)."""
    key = _digest(token)
    rows = store.query("SELECT name FROM sessions WHERE id = ?", (key,))
    if rows:
        _end(store, key, rows[0][0], rows[0][0], "sign-out", source)


@dataclass(frozen=True)
class Listed:
    """A session as its person (or an operator) sees it: never its token."""

    handle: str
    name: str
    created_at: str
    expires_at: str
    current: bool = False
    # its second factor: "waiting" (signed in with the password only, may do nothing
    # else yet), "given", or "" (not asked of the person's role)
    second_factor: str = ""


def _factor_shown(factor: str) -> str:
    return "waiting" if factor in WAITING else "given" if factor == GIVEN else ""


def listing(store: Store, name: str | None = None, current: str | None = None
            ) -> list[Listed]:
    """The live sessions of ``name`` (everyone's when None), oldest first; ``current``: the
    caller's own token, marked."""
    mine = _digest(current)[:HANDLE] if current else ""
    sql = ("SELECT id, name, created_at, expires_at, factor FROM sessions "
           "WHERE expires_at >= ?")
    params: list[str] = [now()]
    if name is not None:
        sql += " AND name = ?"
        params.append(name)
    rows = store.query(sql + " ORDER BY created_at, id", params)
    return [Listed(k[:HANDLE], n, c, e, k[:HANDLE] == mine, _factor_shown(f))
            for k, n, c, e, f in rows]


def end_listed(store: Store, handle: str, actor: str, name: str | None = None,
               source: str = "cli") -> Listed:
    """End the session ``handle`` names (of ``name`` only, unless None: an operator's);
    recorded as ended by ``actor``."""
    if len(handle) != HANDLE or not all(c in "0123456789abcdef" for c in handle):
        raise GovcloudError(f"{handle!r} names no session",
                            f"give the {HANDLE}-character handle the session listing shows")
    found = [s for s in listing(store, name) if s.handle == handle]
    if not found:
        raise GovcloudError(f"no live session {handle}" + (f" of {name}" if name else ""),
                            "the session listing shows the live ones")
    rows = store.query("SELECT id FROM sessions WHERE id LIKE ?", (handle + "%",))
    _end(store, rows[0][0], found[0].name, actor, "session end", source)
    return found[0]


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())
