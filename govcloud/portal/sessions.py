"""Sign-in sessions and CSRF tokens, kept in the state store so several worker processes
share them.

A session is a random 256-bit token; the cookie holds it signed (itsdangerous), the store only
its SHA-256, with its owner, its CSRF token and when it expires. Every request reads the
person again, so a disabled account or a changed role takes effect at once. Signing out
deletes the session. Before sign-in, the login form's CSRF token is a signed double-submit
cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from govcloud.access import users
from govcloud.clock import clock, now, stamp
from govcloud.state.store import Store

COOKIE = "govcloud_session"
LOGIN_COOKIE = "govcloud_login"
LIFETIME = timedelta(hours=8)
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


def start(store: Store, person: users.Person) -> Session:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with store.transaction():
        store.execute("DELETE FROM sessions WHERE expires_at < ?", (now(),))
        store.execute("INSERT INTO sessions (id, name, csrf, created_at, expires_at) "
                      "VALUES (?,?,?,?,?)", (_digest(token), person.name, csrf, now(),
                                             stamp(clock() + LIFETIME)))
    return Session(person, csrf, token)


def find(store: Store, token: str | None) -> Session | None:
    """The live session of ``token`` with its person (active), or None."""
    if not token:
        return None
    rows = store.query("SELECT name, csrf, expires_at FROM sessions WHERE id = ?",
                       (_digest(token),))
    if not rows or rows[0][2] < now():
        return None
    person = users.find(store, rows[0][0])
    if person is None or person.disabled:
        return None
    return Session(person, rows[0][1], token)


def end(store: Store, token: str) -> None:
    store.execute("DELETE FROM sessions WHERE id = ?", (_digest(token),))


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two tokens (False when either is missing)."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())
