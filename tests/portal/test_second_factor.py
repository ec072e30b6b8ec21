"""#21 (sign-in as MLPS level 3 asks): a second factor for operators, approvers, finance and
auditors (``portal.second_factor``). A person of such a role enrols a TOTP secret after their
password and confirms a code; then every sign-in needs a current code (or a single-use
recovery code). Until then the session can do nothing else; a wrong code is a failed
sign-in (throttled); a code is taken once; the secret is never shown again, logged or
audited. On the old main the password alone signed an operator in."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from starlette.testclient import TestClient

from govcloud.access import second_factor, tokens, users
from govcloud.audit import trail
from govcloud.core import grants
from govcloud.core.roles import DEPARTMENT_ROLES, ROLES
from govcloud.drivers.base import Ability
from govcloud.portal import sessions
from govcloud.portal.app import create_app
from govcloud.portal.auth import SignIn
from govcloud.portal.context import Portal
from govcloud.state.store import Store
from tests.portal.conftest import OWN, PASSWORD, csrf_of
from tests.support.cli import govcloud, one_line
from tests.support.estate import copy_estate, edit

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _at(mp: pytest.MonkeyPatch, seconds: float) -> datetime:
    when = T0 + timedelta(seconds=seconds)
    mp.setenv("GOVCLOUD_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return when


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = copy_estate(tmp_path_factory.mktemp("factor") / "estate", second_factor=True)
    with pytest.MonkeyPatch.context() as mp:
        _at(mp, 0)
        store = Store(f"sqlite:///{root}/.state/govcloud.db", root)
        for role in ROLES:
            for n in range(4):
                users.add(store, {OWN, "health"}, f"{role}.{n}", role,
                          OWN if role in DEPARTMENT_ROLES else None, PASSWORD, "test")
        store.close()
    yield root


@pytest.fixture(scope="module")
def app(estate: Path) -> Any:
    return create_app(estate, secret="test-secret")


def _store(estate: Path) -> Store:
    return Store(f"sqlite:///{estate}/.state/govcloud.db", estate)


def _password(app: Any, name: str, password: str = PASSWORD) -> tuple[TestClient, Any]:
    c = TestClient(app, base_url="http://testserver", follow_redirects=False)
    form = c.get("/login")
    r = c.post("/login", data={"name": name, "password": password,
                               "csrf": csrf_of(form.text), "next": "/estate"})
    return c, r


def _code(c: TestClient, code: str) -> Any:
    page = c.get("/login/second-factor?next=/estate")
    return c.post("/login/second-factor", data={"code": code, "csrf": csrf_of(page.text),
                                                "next": "/estate"})


def _enrol(app: Any, name: str, at: datetime) -> tuple[str, list[str]]:
    """Enrol ``name`` (password, then the secret the page shows, then its code): the
    secret and the recovery codes."""
    c, r = _password(app, name)
    assert r.headers["location"] == "/login/second-factor?next=/estate"
    page = c.get("/login/second-factor")
    secret = re.search(r'<code id="secret" class="wrap">([A-Z2-7]+)</code>', page.text)
    assert secret, page.text[:500]
    r = _code(c, pyotp.TOTP(secret.group(1)).at(at))
    assert r.status_code == 200, r.text[:300]
    codes = re.findall(r"<li><code>([0-9A-F]{10})</code></li>", r.text)
    assert len(codes) == second_factor.RECOVERY_CODES
    assert c.get("/api/me").json()["name"] == name  # the session is whole
    return secret.group(1), codes


def _actions(estate: Path, action: str, subject: str) -> list[Any]:
    store = _store(estate)
    try:
        return [e for e in trail.latest(store, 1000, action) if e.subject == subject]
    finally:
        store.close()


def test_an_operator_enrols_and_until_then_the_session_does_nothing_else(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _at(monkeypatch, 60)
    c, r = _password(app, "operator.0")
    assert r.status_code == 303 and r.headers["location"].startswith("/login/second-factor")
    me = c.get("/api/me")
    assert me.status_code == 403 and me.json()["code"] == "second_factor_required"
    assert c.get("/estate").headers["location"] == "/login/second-factor?next=/estate"
    page = c.get("/login/second-factor")
    secret = re.search(r'<code id="secret" class="wrap">([A-Z2-7]+)</code>', page.text)
    assert secret and "otpauth://totp/govcloud:operator.0?secret=" in page.text
    wrong = _code(c, "000000" if pyotp.TOTP(secret.group(1)).at(at) != "000000" else "111111")
    assert wrong.status_code == 401 and "验证码错误" in wrong.text
    assert [json.loads(e.after) for e in _actions(estate, "sign-in failed", "operator.0")] \
        == [{"why": "wrong code"}]
    before = c.cookies.get("govcloud_session")
    r = _code(c, pyotp.TOTP(secret.group(1)).at(at))
    assert r.status_code == 200 and "recovery-codes" in r.text
    assert c.cookies.get("govcloud_session") != before  # a new session token
    assert c.get("/estate").status_code == 200
    assert c.get("/login/second-factor").status_code == 303  # nothing more to give
    # the secret is nowhere but its row: not in the audit trail, not shown again
    store = _store(estate)
    try:
        dump = json.dumps([e.__dict__ for e in trail.latest(store, 1000)], default=str)
    finally:
        store.close()
    assert secret.group(1) not in dump
    assert json.loads(_actions(estate, "second factor enrol", "operator.0")[0].after) == {
        "recovery codes": 10}
    c2, _ = _password(app, "operator.0")
    assert secret.group(1) not in c2.get("/login/second-factor").text


def test_an_enrolled_person_gives_a_current_code_once(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _at(monkeypatch, 120)
    secret, _ = _enrol(app, "finance.0", at)
    at = _at(monkeypatch, 180)
    code = pyotp.TOTP(secret).at(at)
    c, r = _password(app, "finance.0")
    assert r.headers["location"].startswith("/login/second-factor")
    assert c.get("/api/finance/chargeback").status_code == 403  # the password alone
    ok = _code(c, code)
    assert ok.status_code == 303 and ok.headers["location"] == "/estate"
    assert c.get("/api/me").status_code == 200
    again, _ = _password(app, "finance.0")
    replay = _code(again, code)  # the same code, still within its window: refused
    assert replay.status_code == 401 and again.get("/api/me").status_code == 403
    old = _code(again, pyotp.TOTP(secret).at(at - timedelta(seconds=90)))  # too old
    assert old.status_code == 401
    assert _code(again, pyotp.TOTP(secret).at(at + timedelta(seconds=30))).status_code == 303


def test_wrong_codes_count_as_failed_sign_ins(estate: Path, app: Any,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = _at(monkeypatch, 240)
    secret, _ = _enrol(app, "auditor.0", at)
    at = _at(monkeypatch, 300)
    c, _ = _password(app, "auditor.0")
    for _ in range(users.FAILURES_PER_NAME):
        assert _code(c, "12345x").status_code == 401
    right = _code(c, pyotp.TOTP(secret).at(at))
    assert right.status_code == 429 and "登录失败次数过多" in right.text
    assert c.get("/api/me").status_code == 403


def test_a_recovery_code_signs_in_once_and_says_how_many_remain(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _at(monkeypatch, 360)
    _, codes = _enrol(app, "approver.0", at)
    c, _ = _password(app, "approver.0")
    spaced = codes[3][:5].lower() + " " + codes[3][5:]  # as a person types it
    assert _code(c, spaced).status_code == 303
    used = _actions(estate, "sign-in second factor", "approver.0")[0]
    assert json.loads(used.after) == {"by": "recovery code", "recovery codes left": 9}
    again, _ = _password(app, "approver.0")
    assert _code(again, codes[3]).status_code == 401
    out = govcloud("users", "list", "-o", "json", estate=estate, check=True)
    listed = {p["name"]: p["second_factor"] for p in json.loads(out.stdout)}
    assert listed["approver.0"]["recovery_codes_left"] == 9
    assert listed["member.0"] is None


def test_an_operator_resets_a_lost_second_factor(estate: Path, app: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    at = _at(monkeypatch, 420)
    _enrol(app, "operator.1", at)
    refused = govcloud("users", "second-factor", "reset", "operator.1", estate=estate)
    assert refused.returncode == 2 and "--reason" in refused.stderr
    done = govcloud("users", "second-factor", "reset", "operator.1", "--reason",
                    "lost their phone", estate=estate, check=True)
    assert "they enrol again at their next sign-in" in done.stdout
    assert _actions(estate, "second factor reset", "operator.1")[0].reason == \
        "lost their phone"
    again = govcloud("users", "second-factor", "reset", "operator.1", "--reason", "x",
                     estate=estate)
    assert "has no second factor to reset" in one_line(again)
    c, _ = _password(app, "operator.1")
    assert '<code id="secret"' in c.get("/login/second-factor").text  # enrols again
    assert "begun" in govcloud("users", "list", estate=estate, check=True).stdout


def test_a_reset_for_a_role_not_asked_says_so(estate: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 450)
    store = _store(estate)
    second_factor.begin(store, "member.3")  # begun while their role was asked, say
    store.close()
    done = govcloud("users", "second-factor", "reset", "member.3", "--reason", "role changed",
                    estate=estate, check=True).stdout
    assert done == "Reset the second factor of member.3: their role is not asked for one " \
        "(portal.second_factor), so they sign in without it.\n"


def test_a_role_not_in_the_setting_and_api_tokens_are_not_asked(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 480)
    c, r = _password(app, "member.0")
    assert r.headers["location"] == "/estate" and c.get("/api/me").status_code == 200
    store = _store(estate)
    try:
        made = tokens.add(store, set(), "operator.2", "ci", "test")
    finally:
        store.close()
    api = TestClient(app, base_url="http://testserver")
    me = api.get("/api/me", headers={"authorization": f"Bearer {made[1]}"})
    assert me.status_code == 200


def _an_operator_signed_in_without_a_factor(root: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> TestClient:
    """A local operator "op" of the estate at ``root`` (its second_factor setting empty),
    signed in with the password alone: the client of that session."""
    _at(monkeypatch, 0)
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root)
    users.add(store, set(), "op", "operator", None, PASSWORD, "test")
    store.close()
    c, r = _password(create_app(root, secret="s"), "op")
    assert r.headers["location"] == "/estate" and c.get("/api/me").status_code == 200
    return c


def test_the_setting_off_asks_nobody(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = copy_estate(tmp_path / "estate", second_factor=True)
    edit(root / "govcloud.yaml", "second_factor: [operator, approver, finance, auditor]",
         "second_factor: []")
    _an_operator_signed_in_without_a_factor(root, monkeypatch)


def test_a_member_made_operator_gives_the_factor_before_using_the_role(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial of #21: a member signed in (no factor asked), then made operator on the
    command line, kept the session with the operator's rights and no second factor."""
    at = _at(monkeypatch, 700)
    c, r = _password(app, "member.3")
    assert r.headers["location"] == "/estate" and c.get("/api/me").status_code == 200
    store = _store(estate)
    try:
        users.set_role(store, {OWN, "health"}, "member.3", "operator", None, "test",
                       "promoted")
    finally:
        store.close()
    me = c.get("/api/me")
    assert me.status_code == 403 and me.json()["code"] == "second_factor_required", me.text
    assert c.get("/api/users").status_code == 403
    assert c.get("/operations").headers["location"].startswith("/login/second-factor")
    page = c.get("/login/second-factor")
    secret = re.search(r'<code id="secret" class="wrap">([A-Z2-7]+)</code>', page.text)
    assert secret, page.text[:500]  # they enrol, then the role is theirs
    listed = c.get("/api/sessions").json()
    assert listed.get("code") == "second_factor_required"  # not even its own sessions yet
    store = _store(estate)
    try:
        assert [s.second_factor for s in sessions.listing(store, "member.3")] == ["waiting"]
    finally:
        store.close()
    assert _code(c, pyotp.TOTP(secret.group(1)).at(at)).status_code == 200
    assert c.get("/api/me").json()["role"] == "operator"
    mine = c.get("/api/sessions").json()["sessions"]
    assert [s["second_factor"] for s in mine if s["name"] == "member.3"] == ["given"]
    out = govcloud("users", "sessions", "member.3", estate=estate)
    assert out.returncode == 0 and "second factor" in out.stdout and "given" in out.stdout


def test_sessions_from_while_the_setting_was_off_give_the_factor_once_it_is_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial of #21: sessions signed in while ``portal.second_factor`` was [] kept full
    access after it was turned on again and the portal restarted."""
    root = copy_estate(tmp_path / "estate", plans=False)
    c = _an_operator_signed_in_without_a_factor(root, monkeypatch)
    edit(root / "govcloud.yaml", "second_factor: []",
         "second_factor: [operator, approver, finance, auditor]")
    again = TestClient(create_app(root, secret="s"), base_url="http://testserver",
                       follow_redirects=False, cookies=dict(c.cookies))  # restarted: on
    me = again.get("/api/me")
    assert me.status_code == 403 and me.json()["code"] == "second_factor_required"


def test_a_sign_in_waiting_to_enrol_asks_a_code_once_enrolled_elsewhere(
        estate: Path, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trial of #21: two sign-ins both waiting to enrol; one enrols; the other's page was a
    409 dead end ("has enrolled a second factor already") with no code form."""
    at = _at(monkeypatch, 800)
    b, r = _password(app, "auditor.3")
    assert r.headers["location"].startswith("/login/second-factor")
    secret, _ = _enrol(app, "auditor.3", at)
    page = b.get("/login/second-factor")
    assert page.status_code == 200 and 'id="code"' in page.text and 'id="secret"' not in \
        page.text, page.text[:800]
    assert _code(b, pyotp.TOTP(secret).at(at + timedelta(seconds=30))).status_code == 303
    assert b.get("/api/me").json()["name"] == "auditor.3"


class Keystone:
    """A stand-in for the openstack driver's Keystone sign-in (the fast layer has no
    Keystone; tests/openstack/test_keystone_portal.py signs in against the real one): an
    operator (admin on the govcloud domain) whose password Keystone takes alone, or whose
    multi-factor rules ask Keystone's TOTP too (Keystone then answers with a receipt)."""

    name = "keystone stand-in"

    def __init__(self, more: tuple[str, ...]) -> None:
        self.more = more

    def close(self) -> None:
        pass

    def can(self, ability: Ability) -> bool:
        return ability is Ability.SIGN_IN

    def identify(self, name: str, password: str, settings: Any) -> Any:
        if password != PASSWORD:
            return grants.Refused(known=True, name=name)
        if self.more:
            return grants.Refused(known=True, name=name, more=self.more)
        return grants.Identity(f"id-{name}", name, (grants.Grant("admin"),), "")


def test_a_keystone_operator_whose_password_keystone_takes_alone_gives_ours(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 540)
    portal = Portal(estate)
    try:
        portal.driver = Keystone(())  # type: ignore[assignment]
        person, waits = SignIn(portal, sessions.Signer("s")).check_password(
            "ks.op", PASSWORD, "10.0.0.9")
        assert person.keystone_id and person.role == "operator" and waits == "enrol"
    finally:
        portal.close()


def test_a_keystone_account_whose_mfa_asks_more_is_refused_saying_why(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 540)
    portal = Portal(estate)
    try:
        portal.driver = Keystone(("totp",))  # type: ignore[assignment]
        with pytest.raises(users.SignInRefused) as refused:
            SignIn(portal, sessions.Signer("s")).check_password("ks.mfa", PASSWORD,
                                                                 "10.0.0.9")
        said = refused.value.render()
        assert "asks this account for more than its password" in said and "totp" in said
        assert "multi_factor_auth_enabled" in said and PASSWORD not in said
        failed = trail.latest(portal.store, 1, "sign-in failed")[0]
        assert failed.subject == "ks.mfa" and "keystone asks more: totp" in str(failed.after)
    finally:
        portal.close()


def test_a_version_3_store_is_brought_up_to_date(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate", plans=False)
    Store(f"sqlite:///{root}/.state/govcloud.db", root).close()
    db = root / ".state" / "govcloud.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE second_factors")
    conn.execute("ALTER TABLE sessions DROP COLUMN factor")
    conn.execute("UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()
    store = Store(f"sqlite:///{db}", root)
    try:
        assert store.get_meta("schema_version") == "4"
        assert store.query("SELECT factor FROM sessions") == []
        assert store.query("SELECT name FROM second_factors") == []
    finally:
        store.close()
