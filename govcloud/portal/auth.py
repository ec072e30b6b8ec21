"""Who calls, and whether the route lets them in: the portal's authentication backend (in
Starlette's manner, ``starlette.authentication``) and the admission by the route table.

A person is signed in by the session cookie (``sessions``). On an API route that needs a
sign-in a program may instead send an API token: ``Authorization: Bearer <govcloud API
token>`` or, with the openstack driver, ``X-Auth-Token: <Keystone token>``; when both are
sent the Bearer token is the credential. No cookie is involved then, so neither is the CSRF
check (``csrf``). A token on a page is no sign-in.

With the openstack driver people sign in with Keystone: their role assignments are read
again at most every ``FOLLOW_SECONDS`` while they are signed in (a role taken away ends the
session), and a Keystone token is checked with Keystone at most that often. With a
``directory`` in govcloud.yaml people sign in with their directory password (a bind), and
their groups are read again every ``directory.reread_seconds`` likewise; a local account
(made with govcloud users add) still signs in with its own password beside them.

The backend returns the caller (``Caller``: their session and whether it came with a token)
and its scopes (``authenticated`` and the role); ``Admission`` then lets the request through
only when ``routes.allowed`` says the caller's role and department may use the route."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Generic, TypeVar

from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
)
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from govcloud.access import directory, second_factor, tokens, users
from govcloud.drivers.base import Ability
from govcloud.errors import DriverError
from govcloud.estate import organisations
from govcloud.portal import scopes, sessions
from govcloud.portal.context import Portal
from govcloud.portal.pages import json_response
from govcloud.portal.routes import Route, allowed

# How often a Keystone person's role assignments are read again while they are signed in
# (a role removed in Keystone ends their session within this many seconds).
FOLLOW_SECONDS = 60.0
# How many sessions' (and Keystone tokens') last reading each worker remembers: the least
# recently used is forgotten first, so a worker's memory stays bounded however many people
# sign in, and the people active now are not all asked again at once.
REMEMBERED = 10_000
ROUTE = "govcloud.route"  # where the scope names the table's route (set by Admission)
BAD_TOKEN = "the API token is unknown, revoked or expired, or gives no role here"


V = TypeVar("V")


class Recent(Generic[V]):
    """What was read for each key and when: kept for ``size`` keys at most, the least
    recently used forgotten first; an entry older than the age a reader accepts is forgotten
    when read. Each worker keeps its own: with N workers a person's roles are read at most N
    times per FOLLOW_SECONDS."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: str, within: float) -> tuple[V] | None:
        """The value kept for ``key`` if read less than ``within`` seconds ago."""
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                return None
            if time.monotonic() - kept[0] >= within:
                del self._kept[key]
                return None
            self._kept.move_to_end(key)
            return (kept[1],)

    def put(self, key: str, value: V) -> None:
        with self._lock:
            self._kept[key] = (time.monotonic(), value)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._kept.pop(key, None)


class Caller(BaseUser):
    """A signed-in caller: their session (person, CSRF token), and whether they came with an
    API token instead of the session cookie (then the session has no CSRF token)."""

    def __init__(self, session: sessions.Session, by_token: bool) -> None:
        self.session = session
        self.by_token = by_token

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.session.person.name


def caller(conn: HTTPConnection) -> sessions.Session | None:
    """The session of whoever the backend signed in (None: nobody, or not looked at)."""
    user = conn.scope.get("user")
    return user.session if isinstance(user, Caller) else None


class SignIn:
    """The sign-ins of one portal: the session cookie, API tokens, Keystone tokens and the
    sign-in form's password, and what is remembered between requests (when each Keystone
    person's roles and each Keystone token were last checked)."""

    def __init__(self, portal: Portal, signer: sessions.Signer) -> None:
        self.portal = portal
        self.signer = signer
        # people sign in with the cloud's (Keystone) accounts
        self.keystone = portal.driver.can(Ability.SIGN_IN)
        self._followed: Recent[None] = Recent(REMEMBERED)  # sessions whose roles were read
        self._callers: Recent[users.Person | None] = Recent(REMEMBERED)  # token digests
        settings = portal.estate.settings.directory
        self.directory = directory.Directory(settings, portal.root) if settings.enabled \
            else None

    def presents_token(self, conn: HTTPConnection) -> bool:
        """Whether the request carries an API token (Bearer, or Keystone's X-Auth-Token)."""
        return conn.headers.get("authorization", "")[:7].lower() == "bearer " or (
            self.keystone and "x-auth-token" in conn.headers)

    def session(self, conn: HTTPConnection) -> sessions.Session | None:
        """The session of the request's cookie; a Keystone person's roles read again when
        FOLLOW_SECONDS have passed (None once Keystone gives them none)."""
        portal = self.portal
        session = sessions.find(portal.store,
                                self.signer.token(conn.cookies.get(sessions.COOKIE)),
                                conn.client.host if conn.client else "unknown")
        if session is not None:
            session = self._factor(session)
        if session is None:
            return None
        if session.person.directory_dn and self.directory is not None:
            return self._follow_directory(session, self.directory)
        if not session.person.keystone_id or not self.keystone:
            return session
        if self._followed.get(session.token, FOLLOW_SECONDS) is not None:
            return session
        estate = portal.estate
        try:
            held = portal.driver.grants_of(session.person.keystone_id,
                                           estate.settings.keystone)
        except DriverError:
            return session  # Keystone does not answer: read again on the next request
        person = users.follow_keystone(portal.store, session.person, held,
                                        estate.settings.keystone, set(estate.plans))
        return self._followed_to(session, person)

    def _follow_directory(self, session: sessions.Session, found: directory.Directory
                          ) -> sessions.Session | None:
        """A directory person's session, their groups read again when
        ``directory.reread_seconds`` have passed (None once they give no role)."""
        if self._followed.get(session.token, found.settings.reread_seconds) is not None:
            return session
        try:
            now = found.member(session.person.directory_dn)
        except directory.DirectoryUnavailable:
            return session  # the directory does not answer: read again on the next request
        person = directory.follow(self.portal.store, session.person, now, found,
                                  set(self.portal.estate.plans),
                                  organisations.in_directory(self.portal.store))
        return self._followed_to(session, person)

    def _followed_to(self, session: sessions.Session, person: users.Person | None
                     ) -> sessions.Session | None:
        """The session with its person's roles as read again; ended when they have none."""
        portal = self.portal
        if person is None:
            sessions.end(portal.store, session.token)
            self._followed.forget(session.token)
            return None
        self.started(session)
        return self._factor(sessions.Session(person, session.csrf, session.token,
                                             session.factor))

    def _factor(self, session: sessions.Session) -> sessions.Session:
        """The session, waiting for its second factor when its person's role needs one now
        and none was given in it (the role changed, or ``portal.second_factor`` was turned
        on, since the sign-in): the role's rights come only with the factor. One waiting to
        enrol whose person has enrolled meanwhile (from another session) waits for a code."""
        store = self.portal.store
        if session.factor == "" and second_factor.required(
                session.person, frozenset(self.portal.estate.settings.second_factor)):
            return sessions.require(store, session, "code" if second_factor.enrolled(
                store, session.person.name) else "enrol")
        if session.factor == "enrol" and second_factor.enrolled(store, session.person.name):
            return sessions.require(store, session, "code")
        return session

    def started(self, session: sessions.Session) -> None:
        """A Keystone or directory person's roles were read just now (at sign-in, or
        followed)."""
        self._followed.put(session.token, None)

    def bearer(self, conn: HTTPConnection) -> sessions.Session | None:
        """The caller of an API route with ``Authorization: Bearer <govcloud API token>``
        or, with the openstack driver, ``X-Auth-Token: <Keystone token>``. When both are
        sent, the Bearer token is the credential (the other may be a client's leftover)."""
        authorization = conn.headers.get("authorization", "")
        if self.keystone and "x-auth-token" in conn.headers and \
                authorization[:7].lower() != "bearer ":
            return self._keystone_caller(conn.headers["x-auth-token"])
        token = tokens.find(self.portal.store, authorization[7:].strip())
        return sessions.Session(token.person(), "", "") if token else None

    def _keystone_caller(self, token: str) -> sessions.Session | None:
        """A Keystone token's person, checked with Keystone at most every FOLLOW_SECONDS."""
        portal = self.portal
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        seen = self._callers.get(key, FOLLOW_SECONDS)
        if seen is None:
            estate = portal.estate
            try:
                identity = portal.driver.token_identity(token, estate.settings.keystone)
            except DriverError:
                return None
            seen = (users.keystone_caller(portal.store, identity, estate.settings.keystone,
                                          set(estate.plans)) if identity else None,)
            self._callers.put(key, seen[0])
        person = seen[0] and users.find(portal.store, seen[0].name)  # disabled since?
        return sessions.Session(person, "", "") if person and not person.disabled else None

    def check_password(self, name: str, password: str, client: str
                       ) -> tuple[users.Person, str]:
        """The person the sign-in form's name and password are (a local account's, or with
        the openstack driver Keystone's), and what their sign-in still waits for ("" nothing,
        "enrol" or "code": their second factor); ``users.SignInRefused`` otherwise."""
        portal = self.portal
        estate = portal.estate
        local = users.find(portal.store, name) if len(name) <= 64 else None
        if self.directory is not None and (local is None or local.origin != "local"):
            person = directory.sign_in(portal.store, name, password, client, self.directory,
                                       set(estate.plans), organisations.in_directory(portal.store))
        elif not self.keystone:
            person = users.sign_in(portal.store, name, password, client)
        else:
            # Keystone took the password alone, so it enforced no second factor of its own
            # for this sign-in (one whose MFA rules ask more is refused by users'
            # sign_in_keystone): govcloud's is asked as of a local account
            settings = estate.settings.keystone
            person = users.sign_in_keystone(
                portal.store, name, password, client,
                lambda n, p: portal.driver.identify(n, p, settings), settings,
                set(estate.plans))
        if not second_factor.required(person, frozenset(estate.settings.second_factor)):
            return person, ""
        return person, "code" if second_factor.enrolled(portal.store, person.name) \
            else "enrol"


class Backend(AuthenticationBackend):
    """The authentication backend of one route: the session cookie, or on an API route
    that needs a sign-in and is sent a token, that token (a token that signs in nobody is
    refused, 401, never taken for a missing one)."""

    def __init__(self, sign_in: SignIn, route: Route) -> None:
        self.sign_in = sign_in
        self.takes_tokens = route.takes_tokens

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, Caller] | None:
        by_token = self.takes_tokens and self.sign_in.presents_token(conn)
        found = self.sign_in.bearer if by_token else self.sign_in.session
        who = await run_in_threadpool(found, conn)
        if who is None:
            if by_token:
                raise AuthenticationError(BAD_TOKEN)
            return None
        return AuthCredentials(["authenticated", who.person.role]), Caller(who, by_token)


def refuse_token(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    """The answer to an API token that signs in nobody (recorded, sampled per client)."""
    kept = getattr(conn.app.state, "refusals", None)
    if kept is not None:
        kept.record(conn.client.host if conn.client else "unknown", "", 401,
                    conn.scope.get("method", ""), conn.url.path, "unknown API token")
    return json_response({"error": str(exc)}, 401)


class NotSignedIn(Exception):
    """A route that needs a sign-in is called by nobody: 401 to an API call, else the
    sign-in form."""


class NotAllowed(Exception):
    """The caller's role or department does not allow the route: 403. ``message``: why,
    when it is not the role (a read-only API token that posts)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class SecondFactorNeeded(Exception):
    """A session that waits for its second factor calls anything else: 403 to an API call
    (code ``second_factor_required``), else the second factor's page."""


# What a session that waits for its second factor may use.
FACTOR_ROUTES = frozenset({"second_factor_form", "second_factor", "logout"})
READ_ONLY = ("this API token may only read (scope read) — make one that may act with "
             "govcloud tokens add --owner NAME --scope write")
WHOLE_ESTATE = ("this acts on the whole estate (its apply, closing a month) and you are "
                "limited to an organisation's subtree — someone not scoped to one does it "
                "(govcloud apply, govcloud statement close)")
SAFE_METHODS = ("GET", "HEAD")


class Admission:
    """Lets a request through to its route only when the route allows the caller: anyone
    for a public route, else a signed-in caller whose role (and for a department-scoped
    path, department) ``routes.allowed`` admits. Names the route in the scope (``ROUTE``)
    for the exception handlers."""

    def __init__(self, app: ASGIApp, route: Route) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[ROUTE] = self.route
        if not self.route.public:
            who = caller(HTTPConnection(scope))
            if who is None:
                raise NotSignedIn()
            if who.waits and self.route.name not in FACTOR_ROUTES:
                raise SecondFactorNeeded()
            department = scope.get("path_params", {}).get("department")
            reach = scopes.reach(scope["app"].state.portal, who.person)
            if not allowed(self.route, who.person.role, who.person.department, department,
                           reach):
                raise NotAllowed(WHOLE_ESTATE if reach is not None and self.route.whole
                                 and who.person.role in self.route.roles else "")
            if who.person.scope == "read" and scope["method"] not in SAFE_METHODS:
                raise NotAllowed(READ_ONLY)
        await self.app(scope, receive, send)
