"""The LDAP directory (ldap3): reading its organisations, people and groups, and signing
people in by binding as them. govcloud keeps no password of theirs: the directory checks it,
and the person's row in the store names their entry (``users.DIRECTORY`` + DN) with the role
their groups give (``core.directory.decide``), brought up to date at every sign-in and while
they are signed in (:func:`follow`), as a Keystone person's is.

govcloud reads the directory as ``directory.bind_dn`` (its password from an environment
variable or a file, never govcloud.yaml), over ldaps:// or StartTLS (plain ldap:// only on
loopback: ``core.directory.problems``). A name typed at sign-in goes into the search filter
escaped (``escape_filter_chars``: ``*)(uid=*`` is a name with those characters, never a
filter), and an empty password is refused before any bind (LDAP takes a DN with no password
as an anonymous bind, RFC 4513 5.1.2). An account the directory locked (the ppolicy
overlay's ``pwdAccountLockedTime``) is refused saying so.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.access import users
from govcloud.access.users import DIRECTORY, Person, SignInRefused
from govcloud.audit import trail
from govcloud.core.directory import (
    DirectorySettings,
    Entry,
    Member,
    address,
    decide,
    dn_key,
)
from govcloud.errors import GovcloudError, MissingExtra
from govcloud.state.store import Store

PAGE = 1000  # entries per page of a paged search (RFC 2696)
MAX_LOGIN = 255
LOCKED = "pwdAccountLockedTime"  # the ppolicy overlay's mark of a locked account


class DirectoryUnavailable(GovcloudError):
    """The directory does not answer, or refuses govcloud's own bind."""


@dataclass(frozen=True)
class Refused:
    """The directory refused a name and password: ``dn`` the entry when the name is one
    (an unknown name is not recorded under it), ``locked`` its account is locked."""

    dn: str = ""
    login: str = ""
    locked: bool = False


def _ldap3() -> Any:
    try:
        import ldap3
    except ImportError as exc:
        raise MissingExtra("the directory (directory: in govcloud.yaml)", "directory",
                           "ldap3") from exc
    return ldap3


def bind_password(settings: DirectorySettings, root: Path) -> str:
    """govcloud's own bind password, from the environment variable or file the settings
    name (never printed)."""
    if settings.password_env:
        value = os.environ.get(settings.password_env, "")
        if not value:
            raise DirectoryUnavailable(f"the environment variable {settings.password_env} "
                                       "(directory."
                                       "password_env) is not set", "set it to the password "
                                       f"of {settings.bind_dn} before starting govcloud")
        return value
    path = Path(settings.password_file)
    path = path if path.is_absolute() else root / path
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DirectoryUnavailable(f"cannot read the directory's password file {path} "
                                   f"(directory.password_file): {exc.strerror}",
                                   "write the password of the bind DN into it, owner-only"
                                   ) from exc


class Directory:
    """One directory, as the settings name it: searches as govcloud's own account, and
    binds as people to check their passwords."""

    def __init__(self, settings: DirectorySettings, root: Path) -> None:
        self.settings = settings
        self.root = root
        self._password: str | None = None

    def _server(self) -> Any:
        ldap3 = _ldap3()
        s = self.settings
        scheme, host, port = address(s.url)
        ca = s.ca_file and str(Path(s.ca_file) if Path(s.ca_file).is_absolute()
                               else self.root / s.ca_file)
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=ca or None,
                        version=ssl.PROTOCOL_TLS_CLIENT)
        return ldap3.Server(host, port=port, use_ssl=scheme == "ldaps",
                            tls=tls, connect_timeout=s.timeout_seconds, get_info=ldap3.NONE)

    def _open(self, dn: str, password: str) -> tuple[Any, bool]:
        """A connection bound as ``dn`` and whether the bind took the password; a
        DirectoryUnavailable when the directory does not answer or TLS fails."""
        ldap3 = _ldap3()
        from ldap3.core.exceptions import LDAPException

        conn = ldap3.Connection(self._server(), user=dn, password=password, read_only=True,
                                receive_timeout=self.settings.timeout_seconds,
                                auto_referrals=False, raise_exceptions=False)
        try:
            conn.open()
            if self.settings.start_tls and not conn.start_tls():
                raise DirectoryUnavailable(f"the directory {self.settings.url} refused "
                                           "StartTLS", "check directory.url and start_tls")
            return conn, bool(conn.bind())
        except LDAPException as exc:
            conn.unbind()
            raise DirectoryUnavailable(f"the directory {self.settings.url} does not answer "
                                       f"or its TLS fails: {type(exc).__name__}",
                                       "check directory.url, ca_file, and that the directory "
                                       "is up") from exc

    def _service(self) -> Any:
        if self._password is None:
            self._password = bind_password(self.settings, self.root)
        conn, ok = self._open(self.settings.bind_dn, self._password)
        if not ok:
            conn.unbind()
            raise DirectoryUnavailable(f"the directory refuses govcloud's bind as "
                                       f"{self.settings.bind_dn}",
                                       "check directory.bind_dn and its password")
        return conn

    def _search(self, conn: Any, base: str, flt: str, attrs: list[str]) -> Iterator[Any]:
        ldap3 = _ldap3()
        yield from conn.extend.standard.paged_search(
            base, flt, search_scope=ldap3.SUBTREE, attributes=attrs, paged_size=PAGE,
            generator=True)

    def entries(self) -> list[Entry]:
        """Every organisation's entry under ``organisations_base``."""
        m = self.settings.organisations
        attrs = [a for a in (m.name, m.code, m.cost_centre, m.parent) if a]
        conn = self._service()
        try:
            return [Entry(r["dn"], r["dn"].partition(",")[2], _name(r, m.name),
                          _first(r, m.code), _first(r, m.cost_centre),
                          _first(r, m.parent) if m.parent else "")
                    for r in self._search(conn, self.settings.organisations_base,
                                          f"(objectClass={m.object_class})", attrs)
                    if r.get("type") == "searchResEntry"]
        finally:
            conn.unbind()

    def members(self) -> list[Member]:
        """Every person under ``people_base`` with the groups they are in."""
        p = self.settings.people
        conn = self._service()
        try:
            groups = self._groups(conn)
            return [_member(r, p, groups.get(dn_key(r["dn"]), ()))
                    for r in self._search(conn, self.settings.people_base,
                                          f"(objectClass={p.object_class})",
                                          [p.login, p.name, p.email, p.organisation])
                    if r.get("type") == "searchResEntry" and _first(r, p.login)]
        finally:
            conn.unbind()

    def _groups(self, conn: Any) -> dict[str, tuple[str, ...]]:
        g = self.settings.groups
        held: dict[str, list[str]] = {}
        for r in self._search(conn, self.settings.groups_base,
                              f"(objectClass={g.object_class})", [g.name, g.member]):
            if r.get("type") != "searchResEntry":
                continue
            name = _first(r, g.name)
            for dn in r["attributes"].get(g.member, []):
                held.setdefault(dn_key(str(dn)), []).append(name)
        return {dn: tuple(sorted(names)) for dn, names in held.items()}

    def _find(self, conn: Any, login: str) -> list[Any]:
        from ldap3.utils.conv import escape_filter_chars

        p = self.settings.people
        flt = f"(&(objectClass={p.object_class})({p.login}={escape_filter_chars(login)}))"
        return [r for r in self._search(conn, self.settings.people_base, flt,
                                        [p.login, p.name, p.email, p.organisation, LOCKED])
                if r.get("type") == "searchResEntry"]

    def _member_of(self, conn: Any, found: Any) -> Member:
        from ldap3.utils.conv import escape_filter_chars

        g = self.settings.groups
        flt = f"(&(objectClass={g.object_class})({g.member}={escape_filter_chars(found['dn'])}))"
        names = tuple(sorted(_first(r, g.name) for r in self._search(
            conn, self.settings.groups_base, flt, [g.name]) if r.get("type") == "searchResEntry"))
        return _member(found, self.settings.people, names)

    def identify(self, login: str, password: str) -> Member | Refused:
        """The person ``login`` names if ``password`` is theirs (a bind as their entry takes
        it) and their account is not locked, with their groups; else Refused."""
        if not password or len(login) > MAX_LOGIN or not login.strip():
            return Refused()
        conn = self._service()
        try:
            found = self._find(conn, login)
            if len(found) != 1:  # unknown, or a name two entries share: no one to bind as
                return Refused()
            entry = found[0]
            locked = bool(entry["attributes"].get(LOCKED))
            person, ok = self._open(entry["dn"], password)
            person.unbind()
            if locked or not ok:
                return Refused(entry["dn"], _first(entry, self.settings.people.login), locked)
            return self._member_of(conn, entry)
        finally:
            conn.unbind()

    def member(self, dn: str) -> Member | None:
        """The person whose entry is ``dn`` as the directory holds them now (None: gone, or
        their account locked), read again while they are signed in."""
        ldap3 = _ldap3()
        p = self.settings.people
        conn = self._service()
        try:
            conn.search(dn, f"(objectClass={p.object_class})", search_scope=ldap3.BASE,
                        attributes=[p.login, p.name, p.email, p.organisation, LOCKED])
            found = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
            if not found or found[0]["attributes"].get(LOCKED):
                return None
            return self._member_of(conn, found[0])
        finally:
            conn.unbind()


def _first(r: Any, attr: str) -> str:
    value = r["attributes"].get(attr) if attr else None
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value) if value is not None else ""


def _name(r: Any, attr: str) -> str:
    """An organisation's name: of the values of ``attr``, the one its entry is named by
    (``ou=<name>,…``: after a rename the old name may stay a value), else the first."""
    rdn, _, value = r["dn"].partition(",")[0].partition("=")
    values = r["attributes"].get(attr) or []
    if rdn.strip().lower() == attr.lower() and isinstance(values, list) and \
            value.strip() in values:
        return str(value.strip())
    return _first(r, attr)


def _member(r: Any, p: Any, groups: tuple[str, ...]) -> Member:
    return Member(_first(r, p.login), r["dn"], _first(r, p.name), _first(r, p.email),
                  _first(r, p.organisation), groups)


LOCKED_MESSAGE = ("your directory account is locked (after repeated wrong passwords, or by "
                  "the directory's administrators)",
                  "ask the directory's administrators to unlock it")


def sign_in(store: Store, name: str, password: str, source: str, directory: Directory,
            departments: set[str], organisations: Collection[str] = ()) -> Person:
    """The person ``name`` if the directory takes ``password`` for them and their groups
    give them a portal role; else SignInRefused, recorded as a local account's is. Their
    row is made or brought up to date (audited, actor "directory")."""
    users.throttle(store, name, source)
    try:
        found = directory.identify(name, password)
    except DirectoryUnavailable as exc:
        trail.append(store, users.UNKNOWN, "sign-in error", users.UNKNOWN, "", None,
                     {"why": "directory unreachable"}, "", source)
        raise SignInRefused("the sign-in cannot be checked now: the directory does not "
                            "answer", "try again in a few minutes, or tell an operator") from exc

    def refuse(who: str, why: str, what: str, fix: str) -> SignInRefused:
        trail.append(store, who, "sign-in failed", who, "", None, {"why": why}, "", source)
        return SignInRefused(what, fix)

    if isinstance(found, Refused):
        if found.locked:
            raise refuse(found.login, "locked in the directory", *LOCKED_MESSAGE)
        raise refuse(found.login or users.UNKNOWN,
                     "wrong password" if found.dn else "unknown user", *users.WRONG)
    users.throttle(store, found.login, source)  # a lock holds however the name was typed
    decision = decide(found, directory.settings, departments, organisations)
    refusal: tuple[str, str, str, str] | None = None
    with store.transaction():
        before = users.find(store, found.login)
        if before is not None and not before.directory_dn:
            refusal = (found.login, f"a {before.origin} account", f"{found.login!r} is a "
                       f"{before.origin} account here, not a directory one",
                       "an operator renames or disables that account")
        elif before is not None and before.disabled:
            refusal = (found.login, "disabled", *users.WRONG)
        elif decision.role is None:
            refusal = (found.login, "no role", decision.refusal, decision.fix)
        else:
            person = users.admit(store, before, found.login, DIRECTORY + found.dn, found.email,
                                 decision, "directory groups", "directory", source)
    if refusal is not None:
        raise refuse(*refusal)
    return person


def follow(store: Store, person: Person, now: Member | None, directory: Directory,
           departments: set[str], organisations: Collection[str] = ()) -> Person | None:
    """``person`` (a directory person) with the role their groups give now, updated and
    audited if it changed; None when they have none any more, or their entry is gone or
    locked (``now`` None), so their session ends."""
    if now is None:
        return None
    decision = decide(now, directory.settings, departments, organisations)
    if decision.role is None:
        return None
    with store.transaction():
        return users.keep(store, person, person.name, DIRECTORY + now.dn, now.email,
                          decision.role, decision.department,
                          "directory groups (while signed in)", "directory", decision.subtree)
