"""Local accounts in the state store (the embedded sim's way to sign in): add, list, disable,
change a role, and sign in with throttling. Every change and every sign-in, failed or not, is
an audit record written in the same transaction.

Passwords are stored as argon2id hashes (argon2-cffi, RFC 9106 parameters) and never logged
or recorded. A failed sign-in says only that the name or password is wrong, for a name that
does not exist as for one that does (and takes as long).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from govcloud.core.roles import DEPARTMENT_ROLES, check_account, check_password
from govcloud.errors import GovcloudError, MissingExtra
from govcloud.runtime import audit
from govcloud.runtime.store import Store, clock, now, stamp

# Sign-in throttling, counted from the audit trail (so it holds across worker processes):
# after FAILURES_PER_NAME failed sign-ins for one name, or FAILURES_PER_SOURCE from one client
# address, within WINDOW, further attempts are refused until the window has passed.
WINDOW = timedelta(minutes=15)
FAILURES_PER_NAME = 5
FAILURES_PER_SOURCE = 30
UNKNOWN = "(unknown user)"  # the subject of a failed sign-in for a name that does not exist


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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """What an audit record holds of an account (never the password hash)."""
        return {"role": self.role, "department": self.department, "disabled": self.disabled,
                "email": self.email}


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
    name, role, department, disabled, created, changed, email = row
    return Person(name, role, department or None, bool(disabled), created, changed,
                  email or "")


PERSON = "name, role, department, disabled, created_at, changed_at, email"


def people(store: Store) -> list[Person]:
    return [_person(r) for r in store.query(f"SELECT {PERSON} FROM users ORDER BY name")]


def find(store: Store, name: str) -> Person | None:
    rows = store.query(f"SELECT {PERSON} FROM users WHERE name = ?", (name,))
    return _person(rows[0]) if rows else None


def _refuse(problems: list[str]) -> GovcloudError:
    what, _, fix = problems[0].partition(" — ")
    more = f" (and: {'; '.join(p.partition(' — ')[0] for p in problems[1:])})" \
        if problems[1:] else ""
    return GovcloudError(what + more, fix)


def add(store: Store, departments: set[str], name: str, role: str, department: str | None,
        password: str, actor: str, source: str = "cli", email: str = "") -> Person:
    """A new account; refused (with every problem) when the name is taken or anything is
    wrong with it. ``email``: where the portal's notifications reach them (optional)."""
    problems = check_account(name, role, department, departments, email) + \
        check_password(name, password)
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
        person = find(store, name)
        assert person is not None
        audit.append(store, actor, "user add", name, person.department or "", None,
                     person.public(), "", source)
    return person


def _existing(store: Store, name: str) -> Person:
    person = find(store, name)
    if person is None:
        raise GovcloudError(f"no user {name!r}", "govcloud users list shows the users")
    return person


def disable(store: Store, name: str, actor: str, reason: str, source: str = "cli") -> Person:
    """Disable an account (it can no longer sign in); audited with the reason."""
    if not reason.strip():
        raise GovcloudError("disabling a user needs a reason", "give --reason \"…\"")
    with store.transaction():
        before = _existing(store, name)
        if before.disabled:
            raise GovcloudError(f"user {name!r} is already disabled", "nothing to do")
        store.execute("UPDATE users SET disabled = 1, changed_at = ? WHERE name = ?",
                      (now(), name))
        after = _existing(store, name)
        audit.append(store, actor, "user disable", name, before.department or "",
                     before.public(), after.public(), reason.strip(), source)
    return after


def set_role(store: Store, departments: set[str], name: str, role: str,
             department: str | None, actor: str, reason: str, source: str = "cli") -> Person:
    """Change an account's role (and department); audited with the reason."""
    problems = check_account(name, role, department, departments)
    if problems:
        raise _refuse(problems)
    if not reason.strip():
        raise GovcloudError("a role change needs a reason", "give --reason \"…\"")
    with store.transaction():
        before = _existing(store, name)
        if (before.role, before.department) == (role, department):
            raise GovcloudError(f"user {name!r} already has that role", "nothing to do")
        store.execute("UPDATE users SET role = ?, department = ?, changed_at = ? "
                      "WHERE name = ?", (role, department, now(), name))
        after = _existing(store, name)
        audit.append(store, actor, "user role", name, after.department or "",
                     before.public(), after.public(), reason.strip(), source)
    return after


def sign_in(store: Store, name: str, password: str, source: str) -> Person:
    """The account ``name`` if ``password`` is its password and it may sign in; else
    SignInRefused. ``source`` is where the attempt came from (a client address, "cli")."""
    since = stamp(clock() - WINDOW)
    known = find(store, name) if len(name) <= 64 else None
    subject = known.name if known else UNKNOWN
    if (known and audit.count(store, "sign-in failed", since, subject=subject)
            >= FAILURES_PER_NAME) or \
            audit.count(store, "sign-in failed", since, source=source) >= FAILURES_PER_SOURCE:
        raise SignInRefused("too many failed sign-ins", f"try again in "
                            f"{int(WINDOW.total_seconds() // 60)} minutes, or ask an operator")
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
        audit.append(store, subject, "sign-in failed", subject, department, None,
                     {"why": why}, "", source)
        raise SignInRefused("the user name or password is wrong, or the account is "
                            "disabled", "check them, or ask an operator")
    assert known is not None
    if hasher.check_needs_rehash(stored[0][0]):
        store.execute("UPDATE users SET password = ? WHERE name = ?",
                      (hasher.hash(password), name))
    audit.append(store, known.name, "sign-in", known.name, known.department or "", None,
                 None, "", source)
    return known
