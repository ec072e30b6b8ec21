"""``govcloud serve --workers N``: each worker is a process with its own figures, all on one
state store (issue #24). A worker keeps its figures while the others sign people in and
write their sessions, and makes them again at once after another worker's (or process's)
write of what they read. Before, any write by another connection moved the store's version
(SQLite's data version; on PostgreSQL the server's next transaction id, which every write
anywhere moves): each sign-in on one worker emptied every worker's figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.core.desired import Resource
from govcloud.portal import context
from tests.portal.conftest import PASSWORD, csrf_of
from tests.portal.test_apply import _signed_in
from tests.support.estate import copy_estate


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                                marks=[pytest.mark.real, pytest.mark.postgres])])
def workers(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """Two workers of one portal (two apps, each its own store connection and figures) on
    one estate whose store is SQLite or PostgreSQL."""
    root = copy_estate(tmp_path / "estate")
    if request.param == "postgresql":
        monkeypatch.setenv("GOVCLOUD_STATE_URL", request.getfixturevalue("fresh_pg"))
    monkeypatch.setattr(context, "FILES_RECHECK", 3600.0)  # only the store moves figures
    with engine.records(root) as (est, store):
        for name in ("li.one", "li.two", "li.three"):
            users.add(store, set(est.plans), name, "member", "finance", PASSWORD, "test")
    from govcloud.portal.app import create_app

    apps = create_app(root, secret="test-secret"), create_app(root, secret="test-secret")
    yield apps
    for app in apps:
        app.state.portal.close()


def test_a_sign_in_on_another_worker_keeps_the_figures_a_write_there_renews_them(
        workers: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = workers
    portal: Any = first.state.portal
    member = _signed_in(first, "li.one")
    page = member.get("/api/departments/finance")
    assert page.status_code == 200, page.text[:300]
    reads: list[int] = []
    read = portal.driver.read
    monkeypatch.setattr(portal.driver, "read", lambda *a, **k: reads.append(1) or read(*a, **k))

    other = _signed_in(second, "li.two")  # a sign-in: a session, an audit record
    assert other.get("/api/departments/finance").status_code == 200  # the session slides
    assert other.post("/logout", data={"csrf": csrf_of(other.get("/").text)}
                      ).status_code in (200, 303)
    _signed_in(second, "li.three").get("/")
    again = member.get("/api/departments/finance")
    assert again.status_code == 200 and again.json() == page.json()
    assert reads == [], "another worker's sign-ins emptied this worker's figures"

    # another worker records a resource as applied: this worker's next page reads again
    second.state.portal.store.record_applied(
        Resource("project", "finance", "finance", {"name": "moved by worker two"}))
    assert member.get("/api/departments/finance").status_code == 200
    assert reads, "a figure write on another worker left this worker's figures stale"


@pytest.fixture
def keystone_sign_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A worker's sign-ins (``auth.SignIn``) as with the openstack driver, Keystone stood in
    for: ``asked`` lists each reading of a person's role assignments."""
    from govcloud.portal import auth, sessions
    from govcloud.portal.app import create_app

    app = create_app(copy_estate(tmp_path / "estate"), secret="test-secret")
    portal = app.state.portal
    sign_in = auth.SignIn(portal, sessions.Signer("test-secret"))
    sign_in.keystone = True
    person = users.Person("ks.li", "member", "finance", False, "t", "t", keystone_id="ks-li")
    asked: list[str] = []
    monkeypatch.setattr(portal.driver, "grants_of",
                        lambda kid, _settings: asked.append(kid) or [], raising=False)
    monkeypatch.setattr(auth.users, "follow_keystone", lambda _s, who, *_a: who)
    monkeypatch.setattr(auth.sessions, "find",
                        lambda _s, token, _c: sessions.Session(person, "c", token))
    monkeypatch.setattr(sign_in.signer, "token", lambda cookie: cookie)
    sign_in.asked, sign_in.person = asked, person
    yield sign_in
    portal.close()


def _request(token: str) -> Any:
    from starlette.requests import Request

    from govcloud.portal import sessions
    return Request({"type": "http", "client": ("192.0.2.1", 1),
                    "headers": [(b"cookie", f"{sessions.COOKIE}={token}".encode())]})


def test_a_worker_remembers_the_people_active_now_within_a_bound(
        keystone_sign_in: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keystone is asked for an active person's roles once per FOLLOW_SECONDS however many
    other people signed in since; the worker remembers at most REMEMBERED sessions, the least
    recently used forgotten first. Before, the 10,001st session emptied the whole memory:
    every active person's roles were read from Keystone again at once."""
    from govcloud.portal import auth, sessions

    sign_in = keystone_sign_in
    assert sign_in.session(_request("active")) is not None
    assert sign_in.asked == ["ks-li"]
    for i in range(auth.REMEMBERED + 2_000):
        sign_in.started(sessions.Session(sign_in.person, "c", f"other-{i}"))
        if i % 1_000 == 0:
            assert sign_in.session(_request("active")) is not None  # in use: remembered
    assert sign_in.asked == ["ks-li"], "an active person's roles were read again"
    assert sign_in.session(_request("other-0")) is not None  # the least recent: forgotten
    assert len(sign_in.asked) == 2
    assert sign_in.session(_request(f"other-{auth.REMEMBERED + 1_999}")) is not None
    assert len(sign_in.asked) == 2  # the most recent: remembered
    monkeypatch.setattr(auth, "FOLLOW_SECONDS", 0.0)  # older than FOLLOW_SECONDS: read again
    assert sign_in.session(_request("active")) is not None
    assert len(sign_in.asked) == 3


def test_recent_keeps_its_size_and_forgets_what_is_too_old() -> None:
    from govcloud.portal.auth import Recent

    kept: Recent[int] = Recent(2)
    kept.put("a", 1)
    kept.put("b", 2)
    assert kept.get("a", 60) == (1,)  # a is now the more recent
    kept.put("c", 3)
    assert (kept.get("b", 60), kept.get("a", 60), kept.get("c", 60)) == (None, (1,), (3,))
    assert len(kept) == 2
    assert kept.get("a", 0.0) is None and len(kept) == 1  # too old for this reader: gone
