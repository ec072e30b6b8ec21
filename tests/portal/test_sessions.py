"""#21 case 7 (sessions and refusals): sessions ended only 8 h after sign-in (no idle
timeout, no list, no way to end one), and ~1,600 refusals (401/403/CSRF) and the sign-outs
left no audit record. Now a session ends after IDLE without use and LIFETIME after sign-in;
a person lists and ends their sessions, an operator anyone's (portal and CLI); sign-outs,
ends and refusals are audit records, refusals sampled per client when they flood."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from govcloud.audit import trail
from govcloud.portal import refusals, sessions
from govcloud.portal.app import create_app
from tests.portal.conftest import PASSWORD, Site, account, csrf_of
from tests.support.cli import govcloud, one_line

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _at(monkeypatch: pytest.MonkeyPatch, minutes: float) -> None:
    when = T0 + timedelta(minutes=minutes)
    monkeypatch.setenv("GOVCLOUD_NOW", when.strftime("%Y-%m-%dT%H:%M:%SZ"))


def _signed_in(site: Site, name: str, app: Any = None) -> Any:
    c = TestClient(app or site.app, base_url="http://testserver", follow_redirects=False)
    form = c.get("/login")
    r = c.post("/login", data={"name": name, "password": PASSWORD,
                               "csrf": csrf_of(form.text), "next": "/"})
    assert r.status_code == 303, r.text[:300]
    return c


def _actions(site: Site, action: str, subject: str | None = None) -> list[Any]:
    store = site.store()
    try:
        return [e for e in trail.latest(store, 500, action)
                if subject is None or e.subject == subject]
    finally:
        store.close()


def test_a_session_ends_when_idle_and_at_its_lifetime(site: Site,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 0)
    idle = _signed_in(site, account("finance"))
    for minute in (10, 24):  # each use slides the idle end forward
        _at(monkeypatch, minute)
        assert idle.get("/api/me").status_code == 200, minute
    _at(monkeypatch, 24 + 16)
    assert idle.get("/api/me").status_code == 401
    ends = _actions(site, "session end (idle)", account("finance"))
    assert ends and ends[0].actor == "portal"

    _at(monkeypatch, 0)
    busy = _signed_in(site, account("auditor"))
    minute = 0
    while minute < 8 * 60 - 10:  # used every 10 minutes, never idle
        minute += 10
        _at(monkeypatch, minute)
        assert busy.get("/api/me").status_code == 200, minute
    _at(monkeypatch, 8 * 60 + 1)
    assert busy.get("/api/me").status_code == 401
    assert _actions(site, "session end (lifetime)", account("auditor"))


def test_a_person_ends_their_own_sessions_and_an_operator_anyones(site: Site) -> None:
    desk, phone = _signed_in(site, account("member")), _signed_in(site, account("member"))
    mine = desk.get("/api/sessions").json()["sessions"]
    assert len([s for s in mine if s["name"] == account("member")]) >= 2
    assert {s["name"] for s in mine} == {account("member")}  # nobody else's
    current = [s for s in mine if s["current"]]
    other = next(s for s in mine if not s["current"])
    assert len(current) == 1 and "token" not in json.dumps(mine)
    page = desk.get("/sessions")
    assert page.status_code == 200 and other["handle"] in page.text
    r = desk.post(f"/sessions/{other['handle']}/end", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/sessions"
    assert phone.get("/api/me").status_code == 401
    assert desk.get("/api/me").status_code == 200
    assert _actions(site, "session end", account("member"))[0].actor == account("member")
    # a member cannot end an operator's session; an operator ends the member's
    boss = _signed_in(site, account("operator"))
    theirs = next(s for s in boss.get("/api/sessions").json()["sessions"] if s["current"])
    r = desk.post(f"/api/sessions/{theirs['handle']}/end", json={},
                  headers={"x-csrf-token": csrf_of(desk.get("/").text)})
    assert r.status_code == 404 and boss.get("/api/me").status_code == 200
    everyone = boss.get("/api/sessions").json()["sessions"]
    victim = next(s for s in everyone if s["name"] == account("member"))
    r = boss.post(f"/api/sessions/{victim['handle']}/end", json={},
                  headers={"x-csrf-token": csrf_of(boss.get("/").text)})
    assert r.status_code == 200 and r.json()["name"] == account("member")
    assert desk.get("/api/me").status_code == 401


def test_sessions_through_the_cli_and_sign_out_recorded(site: Site) -> None:
    c = _signed_in(site, account("approver"))
    listed = json.loads(govcloud("users", "sessions", account("approver"), "-o", "json",
                                 estate=site.estate, check=True).stdout)
    assert listed and all(s["name"] == account("approver") for s in listed)
    # an unknown name is named, as by every other users command (not "no live sessions")
    one_line(govcloud("users", "sessions", "nobody", estate=site.estate),
             "no user 'nobody'", "govcloud users list shows the users")
    bad = govcloud("users", "end-session", "nothex", estate=site.estate)
    assert bad.returncode == 1 and "names no session" in bad.stderr
    done = govcloud("users", "end-session", listed[0]["handle"], estate=site.estate,
                    check=True)
    assert f"Ended session {listed[0]['handle']}" in done.stdout
    assert c.get("/api/me").status_code == 401
    c = _signed_in(site, account("approver"))
    r = c.post("/logout", data={"csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 303
    assert _actions(site, "sign-out", account("approver"))
    assert sessions.IDLE == timedelta(minutes=15)


def test_refusals_are_recorded_and_sampled_when_they_flood(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(refusals.time, "monotonic", lambda: clock[0])
    app = create_app(site.estate, secret="test-secret")
    member = _signed_in(site, account("member"), app)
    before = len(_actions(site, "refused"))
    assert member.get("/api/estate").status_code == 403  # a role that may not
    assert member.post("/api/sessions/abc/end", json={}).status_code == 403  # no CSRF
    anonymous = TestClient(app, base_url="http://testserver", follow_redirects=False)
    assert anonymous.get("/api/me").status_code == 401
    assert anonymous.get("/api/me", headers={"authorization": "Bearer gct_x_y"}
                         ).status_code == 401
    got = _actions(site, "refused")[: len(_actions(site, "refused")) - before]
    assert {(e.actor, json.loads(e.after)["status"]) for e in got} >= {
        (account("member"), 403), ("(not signed in)", 401)}
    for _ in range(25):  # a flood from one client: 10 a minute recorded, then counted
        anonymous.get("/api/estate")
    recorded = len(_actions(site, "refused")) - before
    assert recorded == refusals.PER_WINDOW, recorded
    clock[0] += refusals.WINDOW + 1
    anonymous.get("/api/estate")
    sampled = _actions(site, "refusals sampled")
    assert sampled and json.loads(sampled[0].after)["not recorded one by one"] == 4 + 25 - 10
