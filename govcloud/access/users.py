"""The people who sign in to the portal, in the state store: add, list, disable, change a
role, and sign in with throttling. Every change and every sign-in, failed or not, is an audit
record written in the same transaction.

Local accounts (the embedded sim's way to sign in): passwords are stored as argon2id hashes
(argon2-cffi, RFC 9106 parameters) and never logged or recorded. A failed sign-in says only
that the name or password is wrong, for a name that does not exist as for one that does (and
takes as long).

Keystone people (the openstack driver, :func:`sign_in_keystone`): Keystone checks the name
and password; govcloud keeps no password, only a row naming the Keystone user (its password
column holds ``!keystone:<user id>``, which no password matches) with the role their Keystone
role assignments give (``govcloud.core.grants``), brought up to date at every sign-in and
while they are signed in (:func:`follow_keystone`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from govcloud.audit import trail
from govcloud.clock import clock, now, stamp
from govcloud.core import grants
from govcloud.core.patterns import check_line
from govcloud.core.roles import DEPARTMENT_ROLES, check_account, check_password
from govcloud.errors import DriverError, GovcloudError, MissingExtra
from govcloud.state.store import Store

# Sign-in throttling, counted from the audit trail (so it holds across worker processes),
# per account and per client, never for everyone: after FAILURES_PER_NAME failed sign-ins
# for one name from one client address, that name is refused to that client; after
# FAILURES_PER_SOURCE from one client (whatever the names), that client is refused; after
# FAILURES_PER_NAME_ANYWHERE for one name from any clients (a guess spread over many
# addresses), that name is refused to all — each within WINDOW, until the window has passed.
# Behind a proxy the client is the X-Forwarded-For address the proxy gives
# (``govcloud serve --forwarded-allow-ips``), else every user would share the proxy's.
WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_SOURCE = 30
FAILURES_PER_NAME_ANYWHERE = 50
MAX_NAME = 255  # Keystone's longest user name; longer is refused without asking anyone
UNKNOWN = "(unknown user)"  # the subject of a failed sign-in for a name that does not exist
KEYSTONE = "!keystone:"  # the password column of a Keystone person: this, then the user id
DIRECTORY = "!directory:"  # of a directory (LDAP) person: this, then their entry's DN


class SignInRefused(GovcloudError):
    """A sign-in failed: wrong name or password, a disabled account, or throttled."""


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    department: str | None
    disabled: bool
    created_at: str
    changed_at: str
    email: str = ""
    keystone_id: str = ""  # the Keystone user id of a person who signs in with Keystone
    directory_dn: str = ""  # the directory entry of a person who signs in with LDAP
    owner: str = ""  # an API token's: the person it belongs to
    scope: str = ""  # an API token's: "read" (safe methods only) or "write"
    subtree: str = ""  # the organisation whose subtree they are limited to ("": everything)

    @property
    def origin(self) -> str:
        """Where the person's password is checked: "keystone", "directory" or "local"."""
        return "keystone" if self.keystone_id else "directory" if self.directory_dn \
            else "local"

    @property
    def held(self) -> str:
        """What the password column holds for a person checked elsewhere ("" local)."""
        return KEYSTONE + self.keystone_id if self.keystone_id else \
            DIRECTORY + self.directory_dn if self.directory_dn else ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"origin": self.origin}

    def public(self) -> dict[str, Any]:
        """What an audit record holds of an account (never the password hash)."""
        return {"role": self.role, "department": self.department, "disabled": self.disabled,
                "email": self.email, **({"subtree": self.subtree} if self.subtree else {})}


def _hasher() -> Any:
    try:
        from argon2 import PasswordHasher
    except ImportError as exc:
        raise MissingExtra("local accounts (govcloud users, govcloud serve)", "portal",
                           "argon2-cffi") from exc
    return PasswordHasher()


_DUMMY: list[str] = []  # a hash to verify against for unknown names (same time as a real one)


def _dummy(hasher: Any) -> str:
    if not _DUMMY:
        _DUMMY.append(hasher.hash("govcloud: no such user"))
    return _DUMMY[0]


def _person(row: tuple[Any, ...]) -> Person:
    name, role, department, disabled, created, changed, email, held, subtree = row
    held = held or ""
    return Person(name, role, department or None, bool(disabled), created, changed,
                  email or "", held.removeprefix(KEYSTONE) if held.startswith(KEYSTONE)
                  else "", held.removeprefix(DIRECTORY) if held.startswith(DIRECTORY)
                  else "", subtree=subtree or "")


# A Keystone person's user id and a directory person's DN come from the password column; a
# hash is never read here.
PERSON = ("u.name, u.role, u.department, u.disabled, u.created_at, u.changed_at, u.email, "
          f"CASE WHEN substr(u.password, 1, {len(KEYSTONE)}) = '{KEYSTONE}' OR "
          f"substr(u.password, 1, {len(DIRECTORY)}) = '{DIRECTORY}' THEN u.password ELSE '' "
          "END, s.organisation FROM users u LEFT JOIN user_subtrees s ON s.name = u.name")
# Each scoped person's organisation (core.hierarchy): a row here limits them to its subtree.
SUBTREES = """CREATE TABLE IF NOT EXISTS user_subtrees (
    name TEXT PRIMARY KEY, organisation TEXT NOT NULL)"""
_READY: weakref.WeakSet[Store] = weakref.WeakSet()


def _tables(store: Store) -> None:
    if store not in _READY:
        store.execute(SUBTREES)
        _READY.add(store)


def people(store: Store) -> list[Person]:
    _tables(store)
    return [_person(r) for r in store.query(f"SELECT {PERSON} ORDER BY u.name")]


def find(store: Store, name: str) -> Person | None:
    _tables(store)
    rows = store.query(f"SELECT {PERSON} WHERE u.name = ?", (name,))
    return _person(rows[0]) if rows else None


def _set_subtree(store: Store, name: str, subtree: str) -> None:
    """``name``'s scope, in the caller's transaction ("": none)."""
    _tables(store)
    store.execute("DELETE FROM user_subtrees WHERE name = ?", (name,))
    if subtree:
        store.execute("INSERT INTO user_subtrees (name, organisation) VALUES (?, ?)",
                      (name, subtree))


def _refuse(problems: list[str]) -> GovcloudError:
    what, _, fix = problems[0].partition(" — ")
    more = f" (and: {'; '.join(p.partition(' — ')[0] for p in problems[1:])})" \
        if problems[1:] else ""
    return GovcloudError(what + more, fix)


def add(store: Store, departments: set[str], name: str, role: str, department: str | None,
        password: str, actor: str, source: str = "cli", email: str = "", scope: str = "",
        organisations: Collection[str] = ()) -> Person:
    """A new account; refused (with every problem) when the name is taken or anything is
    wrong with it. ``email``: where the portal's notifications reach them (optional);
    ``scope``: the organisation (of ``organisations``) whose subtree limits them."""
    problems = check_account(name, role, department, departments, email, scope,
                             organisations) + check_password(name, password)
    if problems:
        raise _refuse(problems)
    hashed = _hasher().hash(password)
    at = now()
    with store.transaction():
        if find(store, name) is not None:
            raise GovcloudError(f"user {name!r} already exists",
                                "choose another name; govcloud users list shows them")
        store.execute("INSERT INTO users (name, role, department, password, disabled, "
                      "created_at, changed_at, email) VALUES (?,?,?,?,0,?,?,?)",
                      (name, role, department if role in DEPARTMENT_ROLES else None, hashed,
                       at, at, email))
        _set_subtree(store, name, scope)
        person = find(store, name)
        assert person is not None
        trail.append(store, actor, "user add", name, person.department or "", None,
                     person.public(), "", source)
    return person


def existing(store: Store, name: str) -> Person:
    """The account ``name``; a GovcloudError naming it when there is none."""
    person = find(store, name)
    if person is None:
        raise GovcloudError(f"no user {name!r}", "govcloud users list shows the users")
    return person


def disable(store: Store, name: str, actor: str, reason: str, source: str = "cli") -> Person:
    """Disable an account (it can no longer sign in); audited with the reason."""
    if not reason.strip():
        raise GovcloudError("disabling a user needs a reason", "give --reason \"…\"")
    check_line(reason)
    with store.transaction():
        before = existing(store, name)
        if before.disabled:
            raise GovcloudError(f"user {name!r} is already disabled", "nothing to do")
        store.execute("UPDATE users SET disabled = 1, changed_at = ? WHERE name = ?",
                      (now(), name))
        after = existing(store, name)
        trail.append(store, actor, "user disable", name, before.department or "",
                     before.public(), after.public(), reason.strip(), source)
    return after


def set_role(store: Store, departments: set[str], name: str, role: str,
             department: str | None, actor: str, reason: str, source: str = "cli",
             scope: str = "", organisations: Collection[str] = ()) -> Person:
    """Change an account's role (and department, and scope: none unless given); audited
    with the reason."""
    problems = check_account(name, role, department, departments, "", scope, organisations)
    if problems:
        raise _refuse(problems)
    if not reason.strip():
        raise GovcloudError("a role change needs a reason", "give --reason \"…\"")
    check_line(reason)
    with store.transaction():
        before = existing(store, name)
        if before.keystone_id:
            raise GovcloudError(f"{name!r} signs in with Keystone: their role follows their "
                                "Keystone role assignments",
                                "change their roles in Keystone (see docs/portal.md)")
        if before.directory_dn:
            raise GovcloudError(f"{name!r} signs in with the directory: their role follows "
                                "their groups there", "change their groups in the directory "
                                "(see docs/directory.md)")
        if (before.role, before.department, before.subtree) == (role, department, scope):
            raise GovcloudError(f"user {name!r} already has that role", "nothing to do")
        store.execute("UPDATE users SET role = ?, department = ?, changed_at = ? "
                      "WHERE name = ?", (role, department, now(), name))
        _set_subtree(store, name, scope)
        after = existing(store, name)
        trail.append(store, actor, "user role", name, after.department or "",
                     before.public(), after.public(), reason.strip(), source)
    return after


def throttle(store: Store, subject: str | None, source: str) -> None:
    """Refuse a sign-in after too many recent failures for ``subject`` from ``source``, from
    ``source`` for any names, or for ``subject`` from anywhere (see FAILURES_PER_*)."""
    since = stamp(clock() - WINDOW)
    failed = "sign-in failed"
    if trail.count(store, failed, since, source=source) >= FAILURES_PER_SOURCE or (
            subject is not None and (
                trail.count(store, failed, since, subject=subject, source=source)
                >= FAILURES_PER_NAME
                or trail.count(store, failed, since, subject=subject)
                >= FAILURES_PER_NAME_ANYWHERE)):
        raise SignInRefused("too many failed sign-ins", f"try again in "
                            f"{int(WINDOW.total_seconds() // 60)} minutes, or ask an operator")


def sign_in(store: Store, name: str, password: str, source: str) -> Person:
    """The account ``name`` if ``password`` is its password and it may sign in; else
    SignInRefused. ``source`` is where the attempt came from (a client address, "cli")."""
    known = find(store, name) if len(name) <= 64 else None
    subject = known.name if known else UNKNOWN
    throttle(store, subject if known else None, source)
    hasher = _hasher()
    from argon2.exceptions import InvalidHashError, VerificationError

    stored = store.query("SELECT password FROM users WHERE name = ?", (name,)) if known else []
    ok = False
    try:
        ok = hasher.verify(stored[0][0] if stored else _dummy(hasher), password[:1024])
    except (VerificationError, InvalidHashError):
        ok = False
    why = "" if ok and known and not known.disabled else \
        ("disabled" if known and known.disabled else "wrong password" if known
         else "unknown user")
    if why:
        department = (known.department or "") if known else ""
        trail.append(store, subject, "sign-in failed", subject, department, None,
                     {"why": why}, "", source)
        raise SignInRefused("the user name or password is wrong, or the account is "
                            "disabled", "check them, or ask an operator")
    assert known is not None
    if hasher.check_needs_rehash(stored[0][0]):
        store.execute("UPDATE users SET password = ? WHERE name = ?",
                      (hasher.hash(password), name))
    trail.append(store, known.name, "sign-in", known.name, known.department or "", None,
                 None, "", source)
    return known


WRONG = ("the user name or password is wrong, or the account is disabled",
         "check them, or ask an operator")


def sign_in_keystone(store: Store, name: str, password: str, source: str,
                     identify: Callable[[str, str], grants.Identity | grants.Refused],
                     settings: grants.KeystoneSettings, departments: set[str]) -> Person:
    """The person ``name`` if Keystone accepts ``password`` (``identify`` asks it, usually
    the openstack driver's) and their role assignments give them a portal role; else
    SignInRefused, recorded like a local account's. Their row is made or brought up to date
    (audited, actor "keystone")."""
    # Failures are recorded under a name only when Keystone knows it, spelt as Keystone
    # does, and counted whatever the letter case: Keystone usually takes "LI.WEI" for
    # "li.wei", and a lock must not be stepped around by typing the name another way.
    throttle(store, name, source)
    try:
        identity = identify(name, password) if len(name) <= MAX_NAME else grants.Refused(False)
    except DriverError as exc:
        trail.append(store, UNKNOWN, "sign-in error", UNKNOWN, "", None,
                     {"why": "keystone unreachable"}, "", source)
        raise SignInRefused("the sign-in cannot be checked now: Keystone does not answer",
                            "try again in a few minutes, or tell an operator") from exc

    def refuse(who: str, department: str, why: str, what: str, fix: str) -> SignInRefused:
        trail.append(store, who, "sign-in failed", who, department, None, {"why": why}, "",
                     source)
        return SignInRefused(what, fix)

    if isinstance(identity, grants.Refused) and identity.more:
        raise refuse(identity.name, "", "keystone asks more: " + ",".join(identity.more),
                     "Keystone asks this account for more than its password (its multi-factor "
                     f"rules: {', '.join(identity.more)}), which the portal's form cannot "
                     "give it", "ask a Keystone administrator to turn the account's "
                     "multi_factor_auth_enabled off: govcloud then asks its own second factor "
                     "(portal.second_factor); API calls can use a Keystone token")
    if isinstance(identity, grants.Refused):
        why = "disabled" if identity.disabled else \
            "wrong password" if identity.known else "unknown user"
        raise refuse((identity.name or name) if identity.known else UNKNOWN, "", why, *WRONG)
    throttle(store, identity.name, source)  # a lock holds however the name was typed
    decision = grants.decide(identity.grants, settings, departments)
    refusal: tuple[str, str, str, str, str] | None = None
    with store.transaction():
        before = find(store, identity.name)
        if before is not None and not before.keystone_id:
            refusal = (identity.name, before.department or "", "a local account",
                       f"{identity.name!r} is a local account here, not a Keystone one",
                       "an operator renames or disables the local account")
        elif before is not None and before.disabled:
            refusal = (identity.name, before.department or "", "disabled", *WRONG)
        elif decision.role is None:
            refusal = (identity.name, "", "no role", decision.refusal, decision.fix)
        else:
            person = admit(store, before, identity.name, KEYSTONE + identity.user_id,
                           identity.email, decision, "Keystone role assignments", "keystone",
                           source)
    if refusal is not None:
        raise refuse(*refusal)
    return person


def admit(store: Store, before: Person | None, name: str, held: str, email: str,
          decision: grants.RoleDecision, basis: str, via: str, source: str) -> Person:
    """Sign in a person whose password ``via`` (keystone, directory) checked and whose
    ``decision`` gives a role: their row made or brought up to date from ``basis``, and the
    sign-in recorded; in the caller's transaction."""
    assert decision.role is not None
    person = keep(store, before, name, held, email, decision.role, decision.department,
                  f"{basis} (sign-in)", source, decision.subtree)
    trail.append(store, person.name, "sign-in", person.name, person.department or "", None,
                 {"via": via}, "", source)
    return person


def keep(store: Store, before: Person | None, name: str, held: str, email: str, role: str,
         department: str | None, why: str, source: str, subtree: str = "") -> Person:
    """Make or update the row of a person whose password is checked elsewhere (Keystone, the
    directory: ``held`` says which and who there), in the caller's transaction; audited, the
    actor being that source ("keystone", "directory"). ``subtree``: their scope."""
    at, actor = now(), held[1:].partition(":")[0]
    if before is None:
        store.execute("INSERT INTO users (name, role, department, password, disabled, "
                      "created_at, changed_at, email) VALUES (?,?,?,?,0,?,?,?)",
                      (name, role, department, held, at, at, email))
        _set_subtree(store, name, subtree)
        after = find(store, name)
        assert after is not None
        trail.append(store, actor, "user add", after.name, after.department or "", None,
                     after.public(), why, source)
        return after
    if (before.role, before.department, before.email, before.held, before.subtree) == \
            (role, department, email, held, subtree):
        return before
    store.execute("UPDATE users SET role = ?, department = ?, email = ?, password = ?, "
                  "changed_at = ? WHERE name = ?", (role, department, email, held, at, name))
    _set_subtree(store, name, subtree)
    after = find(store, name)
    assert after is not None
    trail.append(store, actor, "user role", after.name, after.department or "",
                 before.public(), after.public(), why, source)
    return after


def follow_keystone(store: Store, person: Person, now_held: tuple[grants.Grant, ...] | None,
                    settings: grants.KeystoneSettings, departments: set[str]) -> Person | None:
    """``person`` (a Keystone person) with the role the grants they hold now give, updated
    and audited if it changed; None when they have no role any more (or their Keystone
    account is gone or disabled: ``now_held`` None), so their session ends."""
    if now_held is None:
        return None
    decision = grants.decide(now_held, settings, departments)
    if decision.role is None:
        return None
    with store.transaction():
        return keep(store, person, person.name, person.held, person.email, decision.role,
                    decision.department, "Keystone role assignments (while signed in)",
                    "keystone")


def keystone_caller(store: Store, identity: grants.Identity, settings: grants.KeystoneSettings,
                    departments: set[str]) -> Person | None:
    """The person an API call with a valid Keystone token of ``identity`` comes from, with
    the role their grants give (their row made or brought up to date, audited); None when
    they have no role, are disabled here, or a local account has their name."""
    decision = grants.decide(identity.grants, settings, departments)
    if decision.role is None:
        return None
    with store.transaction():
        before = find(store, identity.name)
        if before is not None and (not before.keystone_id or before.disabled):
            return None
        return keep(store, before, identity.name, KEYSTONE + identity.user_id,
                    identity.email, decision.role, decision.department,
                    "Keystone role assignments (API token)", "keystone")
