"""Keystone people in the state store (govcloud.access.users.sign_in_keystone and
follow_keystone), with a stand-in for Keystone: what is recorded, what is refused, what is
kept (never a password), on SQLite and a real PostgreSQL. The same against the real test
cloud's Keystone is tests/openstack/test_keystone_portal.py."""

from __future__ import annotations

import json

import pytest

from govcloud.access import users
from govcloud.audit import trail
from govcloud.core.grants import Grant, Identity, KeystoneSettings, Refused
from govcloud.errors import DriverError, GovcloudError
from govcloud.state.store import Store

DEPARTMENTS = {"finance", "health"}
SECRET = "keystone passphrase 1"
SETTINGS = KeystoneSettings()


class Keystone:
    """Users with a password and grants, answering as the openstack driver's identify."""

    def __init__(self) -> None:
        self.users: dict[str, tuple[str, str, tuple[Grant, ...]]] = {}
        self.asked: list[tuple[str, str]] = []
        self.down = False

    def add(self, name: str, *held: Grant) -> None:
        self.users[name] = (f"id-{name}", SECRET, held)

    def identify(self, name: str, password: str) -> Identity | Refused:
        self.asked.append((name, password))
        if self.down:
            raise DriverError("Keystone of cloud 'test' cannot check a sign-in", "",
                              retryable=True)
        if name not in self.users or self.users[name][1] != password:
            return Refused(known=name in self.users)
        user_id, _, held = self.users[name]
        return Identity(user_id, name, held, f"{name}@example.gov.cn")


def sign_in(store: Store, keystone: Keystone, name: str, password: str = SECRET,
            source: str = "10.0.0.1") -> users.Person:
    return users.sign_in_keystone(store, name, password, source, keystone.identify, SETTINGS,
                                   DEPARTMENTS)


def test_a_member_signs_in_and_is_recorded_without_a_password(store: Store) -> None:
    keystone = Keystone()
    keystone.add("li.wei", Grant("member", "finance"), Grant("reader", "finance"))
    person = sign_in(store, keystone, "li.wei")
    assert (person.role, person.department, person.origin) == ("member", "finance", "keystone")
    assert person.keystone_id == "id-li.wei" and person.email == "li.wei@example.gov.cn"
    assert users.find(store, "li.wei") == person
    records = trail.latest(store, 10)
    assert [(e.actor, e.action) for e in records] == [("li.wei", "sign-in"),
                                                      ("keystone", "user add")]
    assert json.loads(records[0].after) == {"via": "keystone"}
    stored = json.dumps(store.query("SELECT * FROM users")) + \
        json.dumps([e.as_dict() for e in trail.entries(store)])
    assert SECRET not in stored
    assert store.query("SELECT password FROM users")[0][0] == "!keystone:id-li.wei"
    # a Keystone person's row can never be signed in to as a local account
    with pytest.raises(users.SignInRefused, match="name or password is wrong"):
        users.sign_in(store, "li.wei", "!keystone:id-li.wei", "10.0.0.1")
    assert sign_in(store, keystone, "li.wei") == person  # nothing changed: no new "user role"
    assert [e.action for e in trail.latest(store, 2)] == ["sign-in", "sign-in failed"]
    assert trail.verify(store).whole


def test_refusals_are_recorded_and_throttled(store: Store,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    keystone = Keystone()
    keystone.add("li.wei", Grant("member", "finance"))
    keystone.add("zhao", Grant("member", "finance"), Grant("member", "health"))
    keystone.add("nobody.much", Grant("manager", "finance"))
    with pytest.raises(users.SignInRefused, match="holds no role") as err:
        sign_in(store, keystone, "nobody.much")
    assert "ask the cloud's administrators for a role" in err.value.render()
    with pytest.raises(users.SignInRefused, match="several departments"):
        sign_in(store, keystone, "zhao")
    with pytest.raises(users.SignInRefused, match="name or password is wrong"):
        sign_in(store, keystone, SECRET, "x")  # the password typed as the name
    failed = trail.latest(store, 3, "sign-in failed")
    assert [(e.subject, json.loads(e.after)["why"]) for e in failed] == [
        (users.UNKNOWN, "unknown user"), ("zhao", "no role"), ("nobody.much", "no role")]
    assert SECRET not in json.dumps([e.as_dict() for e in trail.entries(store)])
    assert users.find(store, "nobody.much") is None and users.find(store, "zhao") is None
    for _ in range(users.FAILURES_PER_NAME):
        with pytest.raises(users.SignInRefused, match="wrong"):
            sign_in(store, keystone, "li.wei", "guess", "10.0.0.2")
    asked = len(keystone.asked)
    with pytest.raises(users.SignInRefused, match="too many failed sign-ins"):
        sign_in(store, keystone, "li.wei", SECRET, "10.0.0.2")
    assert len(keystone.asked) == asked  # throttled before Keystone is asked
    assert sign_in(store, keystone, "li.wei", SECRET, "10.0.0.3").name == "li.wei"
    keystone.down = True
    monkeypatch.setattr(users, "FAILURES_PER_NAME", 100)
    with pytest.raises(users.SignInRefused, match="Keystone does not answer"):
        sign_in(store, keystone, "li.wei")
    assert trail.latest(store, 1)[0].action == "sign-in error"


class CaselessKeystone(Keystone):
    """A Keystone whose SQL backend matches names whatever their letter case (MySQL's
    default collation), answering with the name as it is stored."""

    def identify(self, name: str, password: str) -> Identity | Refused:
        stored = next((n for n in self.users if n.casefold() == name.casefold()), name)
        found = super().identify(stored, password)
        return Refused(True, stored) if isinstance(found, Refused) and found.known else found


def test_a_lock_holds_whatever_the_letter_case_of_the_name(store: Store) -> None:
    keystone = CaselessKeystone()
    keystone.add("li.wei", Grant("member", "finance"))
    assert sign_in(store, keystone, "LI.WEI").name == "li.wei"
    spellings = ["LI.WEI", "Li.wei", "li.WEI", "lI.wEi", "LI.wei"]
    for spelt in spellings:
        with pytest.raises(users.SignInRefused, match="wrong"):
            sign_in(store, keystone, spelt, "guess", "10.0.1.1")
    failed = trail.latest(store, 5, "sign-in failed")
    assert {e.subject for e in failed} == {"li.wei"}
    asked = len(keystone.asked)
    for spelt in ("li.wei", "LI.WEI", "Li.Wei"):
        with pytest.raises(users.SignInRefused, match="too many failed sign-ins"):
            sign_in(store, keystone, spelt, SECRET, "10.0.1.1")
    assert len(keystone.asked) == asked  # refused before Keystone is asked


def test_a_local_account_or_a_disabled_person_is_not_taken_over(store: Store) -> None:
    keystone = Keystone()
    users.add(store, DEPARTMENTS, "wang", "operator", None, "a local passphrase", "admin")
    keystone.add("wang", Grant("admin"))
    with pytest.raises(users.SignInRefused, match="is a local account here"):
        sign_in(store, keystone, "wang")
    assert users.find(store, "wang").origin == "local"  # type: ignore[union-attr]
    keystone.add("li.wei", Grant("member", "finance"))
    sign_in(store, keystone, "li.wei")
    users.disable(store, "li.wei", "admin", "left the department")
    with pytest.raises(users.SignInRefused, match="name or password is wrong"):
        sign_in(store, keystone, "li.wei")
    assert json.loads(trail.latest(store, 1)[0].after) == {"why": "disabled"}


def test_roles_follow_keystone(store: Store) -> None:
    keystone = Keystone()
    keystone.add("li.wei", Grant("member", "finance"))
    person = sign_in(store, keystone, "li.wei")
    promoted = users.follow_keystone(store, person, (Grant("govcloud-approver", "finance"),),
                                      SETTINGS, DEPARTMENTS)
    assert promoted is not None and promoted.role == "approver"
    change = trail.latest(store, 1)[0]
    assert (change.actor, change.action, change.reason) == (
        "keystone", "user role", "Keystone role assignments (while signed in)")
    assert json.loads(change.before)["role"] == "member"
    assert users.follow_keystone(store, promoted, (Grant("govcloud-approver", "finance"),),
                                  SETTINGS, DEPARTMENTS) == promoted
    assert users.follow_keystone(store, promoted, (), SETTINGS, DEPARTMENTS) is None
    assert users.follow_keystone(store, promoted, None, SETTINGS, DEPARTMENTS) is None
    with pytest.raises(GovcloudError, match="signs in with Keystone"):
        users.set_role(store, DEPARTMENTS, "li.wei", "operator", None, "admin", "promotion")
    moved = sign_in(store, _moved(keystone), "li.wei")
    assert (moved.role, moved.department) == ("member", "health")
    assert users.find(store, "li.wei") == moved


def _moved(keystone: Keystone) -> Keystone:
    keystone.add("li.wei", Grant("member", "health"))
    return keystone
