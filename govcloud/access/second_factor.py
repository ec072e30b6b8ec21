"""The second factor a person of some roles gives after their password (``portal.second_factor``
in govcloud.yaml: the roles that must): a TOTP code (RFC 6238, 30-second steps, six digits,
pyotp) from an authenticator app, or one of their single-use recovery codes.

A person who must and has not enrolled is, after their password, given a new secret (as an
``otpauth://`` URI and as text) and confirms a current code from it; they are then shown
RECOVERY_CODES recovery codes, once. Codes are checked one step either side of now, and a
step once used is not taken again (the last one is remembered), so a code seen over a
shoulder or in a log cannot be played back. A wrong code is a failed sign-in like a wrong
password (``sign-in failed``, why ``wrong code``), so the same throttling holds.

The secret lives in the state store (table ``second_factors``), protected as the store is
(an owner-only file, or a PostgreSQL database's own access control): it is never logged,
audited or shown again after enrolment. Recovery codes are stored only as SHA-256 hashes
(each is 50 random bits, so a hash is as good as a slow one); using one is audited with how
many remain. An operator resets a person's second factor (they lost their device): audited
with the reason; the person enrols again at their next sign-in.

API tokens are another credential (owner, scope, expiry) and are not asked for a code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from govcloud.access import users
from govcloud.access.users import Person, SignInRefused
from govcloud.audit import trail
from govcloud.clock import clock, now
from govcloud.core.patterns import check_line
from govcloud.errors import GovcloudError, MissingExtra
from govcloud.state.store import Store

ROLES_BY_DEFAULT = ("operator", "approver", "finance", "auditor")
RECOVERY_CODES = 10
ISSUER = "govcloud"
WRONG_CODE = ("the code is wrong, was already used, or is too old",
              "type the code your authenticator app shows now (or a recovery code)")


@dataclass(frozen=True)
class Enrolment:
    """A person's second factor as an operator sees it (never its secret)."""

    name: str
    enrolled_at: str  # "" while they have begun and not confirmed
    recovery_left: int


def _pyotp() -> Any:
    try:
        import pyotp
    except ImportError as exc:
        raise MissingExtra("the second factor (govcloud serve)", "portal", "pyotp") from exc
    return pyotp


def _totp(secret: str) -> Any:
    return _pyotp().TOTP(secret)


def _hash(code: str) -> str:
    return hashlib.sha256(_plain(code).encode()).hexdigest()


def _plain(code: str) -> str:
    """A code as typed, without spaces or dashes, upper case."""
    return "".join(c for c in code if c.isalnum()).upper()[:64]


def _row(store: Store, name: str, lock: bool = False
         ) -> tuple[str, str, int, list[str]] | None:
    """``name``'s second factor row; ``lock`` (inside a transaction): held until it ends,
    so two sign-ins giving the same code at once cannot both take it (SQLite's transactions
    already run one at a time; PostgreSQL's lock the row)."""
    held = " FOR UPDATE" if lock and store.kind == "postgresql" else ""
    rows = store.query("SELECT secret, enrolled_at, last_step, recovery FROM second_factors "
                       "WHERE name = ?" + held, (name,))
    if not rows:
        return None
    secret, enrolled, step, recovery = rows[0]
    return secret, enrolled or "", int(step), json.loads(recovery)


def required(person: Person, roles: frozenset[str]) -> bool:
    """Must ``person`` give a second factor after their password? Their role says, for a
    Keystone person too: Keystone took their password alone, so it enforced no factor of its
    own (one whose multi-factor rules ask more is refused at the password)."""
    return person.role in roles


def enrolled(store: Store, name: str) -> bool:
    row = _row(store, name)
    return bool(row and row[1])


def enrolments(store: Store) -> dict[str, Enrolment]:
    """Everyone who has begun or finished enrolling, by name."""
    rows = store.query("SELECT name, enrolled_at, recovery FROM second_factors ORDER BY name")
    return {n: Enrolment(n, e or "", len(json.loads(r))) for n, e, r in rows}


def begin(store: Store, name: str) -> tuple[str, str]:
    """The secret ``name`` enrols with and its ``otpauth://`` URI: a new one, or the one
    they were given and have not confirmed yet. Refused once they have enrolled."""
    with store.transaction():
        row = _row(store, name)
        if row and row[1]:
            raise GovcloudError(f"{name!r} has enrolled a second factor already",
                                "sign in with its code; an operator resets a lost one")
        if row is None:
            secret = _pyotp().random_base32()
            store.execute("INSERT INTO second_factors (name, secret, enrolled_at, last_step, "
                          "recovery) VALUES (?,?,'',0,'[]')", (name, secret))
        else:
            secret = row[0]
    uri = _totp(secret).provisioning_uri(name=name, issuer_name=ISSUER)
    return secret, uri


def _step(secret: str, code: str, after: int) -> int | None:
    """The time-step whose code ``code`` is (one either side of now), if it is later than
    ``after`` (a step already used is not taken again)."""
    totp = _totp(secret)
    at = clock()
    typed = _plain(code)
    if not (len(typed) == 6 and typed.isdigit()):
        return None
    for offset in (-1, 0, 1):
        step = int(totp.timecode(at)) + offset
        if step > after and hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


def _failed(store: Store, person: Person, source: str) -> SignInRefused:
    trail.append(store, person.name, "sign-in failed", person.name, person.department or "",
                 None, {"why": "wrong code"}, "", source)
    return SignInRefused(*WRONG_CODE)


def confirm(store: Store, person: Person, code: str, source: str) -> list[str]:
    """Finish enrolling with a current ``code`` of the secret ``begin`` gave: the new
    recovery codes (shown once; only their hashes are kept). SignInRefused when the code is
    wrong (a failed sign-in) or too many sign-ins failed."""
    users.throttle(store, person.name, source)
    codes = [secrets.token_hex(5).upper() for _ in range(RECOVERY_CODES)]
    with store.transaction():
        row = _row(store, person.name, lock=True)
        if row is None or row[1]:
            raise GovcloudError("there is no enrolment to confirm",
                                "sign in again: the page gives a new secret")
        step = _step(row[0], code, row[2])
        if step is not None:
            store.execute("UPDATE second_factors SET enrolled_at = ?, last_step = ?, "
                          "recovery = ? WHERE name = ? AND enrolled_at = ''",
                          (now(), step, json.dumps([_hash(c) for c in codes]), person.name))
            trail.append(store, person.name, "second factor enrol", person.name,
                         person.department or "", None, {"recovery codes": len(codes)}, "",
                         source)
            return codes
    raise _failed(store, person, source)  # recorded outside the transaction: it stays


def check(store: Store, person: Person, code: str, source: str) -> str:
    """Accept ``code`` (a TOTP code, or one of the person's recovery codes) after their
    password: "totp" or "recovery"; audited. SignInRefused when it is wrong, already used,
    or too many sign-ins failed."""
    users.throttle(store, person.name, source)
    with store.transaction():
        row = _row(store, person.name, lock=True)
        if row is None or not row[1]:
            raise GovcloudError(f"{person.name!r} has no second factor to check",
                                "sign in again to enrol one")
        secret, _, last, recovery = row
        step = _step(secret, code, last)
        if step is not None:
            store.execute("UPDATE second_factors SET last_step = ? WHERE name = ?",
                          (step, person.name))
            trail.append(store, person.name, "sign-in second factor", person.name,
                         person.department or "", None, {"by": "totp"}, "", source)
            return "totp"
        digest = _hash(code)
        kept = [h for h in recovery if not hmac.compare_digest(h, digest)]
        if len(_plain(code)) == 10 and len(kept) < len(recovery):
            store.execute("UPDATE second_factors SET recovery = ? WHERE name = ?",
                          (json.dumps(kept), person.name))
            trail.append(store, person.name, "sign-in second factor", person.name,
                         person.department or "", None,
                         {"by": "recovery code", "recovery codes left": len(kept)}, "", source)
            return "recovery"
    raise _failed(store, person, source)


def recovery_left(store: Store, name: str) -> int:
    row = _row(store, name)
    return len(row[3]) if row else 0


def reset(store: Store, name: str, actor: str, reason: str, source: str = "cli") -> None:
    """Forget ``name``'s second factor (a lost device): they enrol again at their next
    sign-in; audited with the reason."""
    if not reason.strip():
        raise GovcloudError("resetting a second factor needs a reason", "give --reason \"…\"")
    check_line(reason)
    with store.transaction():
        person = users.find(store, name)
        if person is None:
            raise GovcloudError(f"no user {name!r}", "govcloud users list shows the users")
        if _row(store, name) is None:
            raise GovcloudError(f"{name!r} has no second factor to reset",
                                "nothing to do: they enrol at their next sign-in")
        store.execute("DELETE FROM second_factors WHERE name = ?", (name,))
        trail.append(store, actor, "second factor reset", name, person.department or "",
                     None, None, reason.strip(), source)
