"""An apply from the portal (issue #14, item 5): an operator reviews the plan of the whole
estate, confirms it by its digest, and the sim driver's cloud is built in the background
under the CLI's lock, with the journal as its progress; the audit trail and the history name
the operator. A plan that changed, a second apply and other roles are refused."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.portal.views import applies
from govcloud.state.store import Store, acting_for
from tests.portal.conftest import PASSWORD, csrf_of
from tests.support.estate import copy_estate, edit


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path,
         monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Any]]:
    """A new estate, never applied (every department's servers still to make), with one
    account per role; its state store on SQLite, or (param "postgresql") on PostgreSQL."""
    root = copy_estate(tmp_path / "estate")
    if getattr(request, "param", "sqlite") == "postgresql":
        monkeypatch.setenv("GOVCLOUD_STATE_URL", request.getfixturevalue("fresh_pg"))
    with engine.records(root) as (est, store):
        for name, role, dep in (("op1", "operator", None), ("li", "member", "finance"),
                                ("fin", "finance", None), ("aud", "auditor", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    from govcloud.portal.app import create_app

    app = create_app(root, secret="test-secret")
    applies.RUNS.clear()
    applies._latest.clear()
    yield root, app
    app.state.portal.close()


def _signed_in(app: Any, name: str) -> Any:
    from starlette.testclient import TestClient

    c = TestClient(app, base_url="http://testserver", follow_redirects=False)
    r = c.post("/login", data={"name": name, "password": PASSWORD,
                               "csrf": csrf_of(c.get("/login").text), "next": "/"})
    assert r.status_code == 303, r.text[:300]
    return c


def _review(c: Any) -> tuple[str, str]:
    """The operator's review page: its CSRF token and the digest of the plan it shows."""
    page = c.get("/operations/apply")
    assert page.status_code == 200, page.text[:300]
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', page.text)
    assert digest, "no confirmation form on the review page"
    return csrf_of(page.text), digest.group(1)


def _wait(c: Any, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = c.get("/api/operations/apply").json()
        if not progress["running"]:
            return progress  # type: ignore[no-any-return]
        time.sleep(0.3)
    raise AssertionError("the portal's apply did not finish")


def test_an_operator_applies_the_plan_and_the_cloud_is_built(site: tuple[Path, Any]) -> None:
    root, app = site
    with engine.session(root) as s:
        assert engine.show(s)["departments"] == {}  # nothing built yet
        wanted = sum(1 for r in s.desired().values() if r.kind == "server")
    op = _signed_in(app, "op1")
    csrf, digest = _review(op)
    shown = op.get("/api/operations/plan").json()["plan"]
    assert shown["digest"] == digest and len(shown["changes"]) > wanted

    r = op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
    assert r.status_code == 303 and r.headers["location"] == "/operations/apply/progress"
    progress = _wait(op)
    record = progress["apply"]
    assert progress["error"] == "" and record["result"] == "ok", progress
    assert record["done"] == record["total"] == len(shown["changes"])
    assert {s["key"] for s in progress["steps"]} == {c["key"] for c in shown["changes"]}
    assert "services" in progress and "govcloud services run" in progress["services"]
    page = op.get("/operations/apply/progress").text  # done: no longer refreshing itself
    assert 'http-equiv="refresh"' not in page and record["id"] in page

    with engine.session(root) as s:
        built = engine.show(s)
        assert sum(len(d["servers"]) for d in built["departments"].values()) == wanted
        assert not s.plan().has_changes  # the plan shown was the plan applied, all of it
        history = engine.history(s, 1)[0]
        assert history["id"] == record["id"]
        assert history["holder"].startswith("op1 (portal, ")  # govcloud history names them
        entry = next(e for e in trail.latest(s.store, 50) if e.action == "apply")
        assert (entry.actor, entry.source, entry.subject) == ("op1", "portal",
                                                              f"apply {record['id']}")


def test_an_earlier_apply_is_shown_by_its_id(site: tuple[Path, Any]) -> None:
    """#23: a request's life links to the apply that carried it (?apply=ID), also once a
    newer apply has run; an id that names no apply is a 404 that says so."""
    root, app = site
    op = _signed_in(app, "op1")
    csrf, digest = _review(op)
    op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
    first = _wait(op)
    edit(root / "plans" / "finance.yaml", "  cores: 48\n", "  cores: 52\n")
    csrf, digest = _review(op)
    op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
    second = _wait(op)
    assert second["apply"]["id"] != first["apply"]["id"] and second["apply"]["result"] == "ok"
    shown = op.get(f"/api/operations/apply?apply={first['apply']['id']}").json()
    assert shown["apply"]["id"] == first["apply"]["id"] and not shown["running"]
    assert [s["key"] for s in shown["steps"]] == [s["key"] for s in first["steps"]]
    page = op.get(f"/operations/apply/progress?apply={first['apply']['id']}").text
    assert first["apply"]["id"] in page and second["apply"]["id"] not in page
    missing = op.get("/operations/apply/progress?apply=nope&lang=zh")
    assert missing.status_code == 404 and "没有编号为 nope 的实施记录" in missing.text


def _store(root: Path) -> Store:
    """Another connection to the estate's state store, as another process has."""
    url = os.environ.get("GOVCLOUD_STATE_URL") or f"sqlite:///{root}/.state/govcloud.db"
    return Store(url, root)


@pytest.mark.parametrize("site", ["sqlite", pytest.param(
    "postgresql", marks=[pytest.mark.real, pytest.mark.postgres])], indirect=True)
def test_a_second_apply_is_refused_while_one_runs(site: tuple[Path, Any],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Also on PostgreSQL, whose advisory lock is re-entrant within one connection: the
    portal's apply has a connection of its own, so a second one in the same process waits."""
    root, app = site
    gate = threading.Event()
    real = engine.apply

    def held(*args: Any, **kwargs: Any) -> Any:  # the first apply waits until told to go
        assert gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(applies.engine, "apply", held)
    op = _signed_in(app, "op1")
    csrf, digest = _review(op)
    assert op.post("/operations/apply", data={"csrf": csrf, "digest": digest}).status_code \
        == 303
    try:
        assert 'http-equiv="refresh" content="2"' in op.get("/operations/apply/progress").text
        again = op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
        assert again.status_code == 409
        assert "locked by op1 (portal, " in again.text
        api = op.post("/api/operations/apply", json={"digest": digest},
                      headers={"x-csrf-token": csrf})
        assert api.status_code == 409 and "locked by op1 (portal, " in api.json()["error"]
        # the CLI meets the same lock
        store = _store(root)
        try:
            with pytest.raises(Exception, match="locked by op1 \\(portal, "):
                store.lock()
        finally:
            store.close()
    finally:
        gate.set()
    assert _wait(op)["apply"]["result"] == "ok"


def test_a_cli_apply_holding_the_lock_is_named(site: tuple[Path, Any]) -> None:
    root, app = site
    op = _signed_in(app, "op1")
    csrf, digest = _review(op)
    cli = Store(f"sqlite:///{root}/.state/govcloud.db", root)
    cli.lock()  # as govcloud apply does, in another process
    try:
        r = op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
        assert r.status_code == 409
        assert "locked by" in r.text and " pid " in r.text and "(portal" not in r.text
        assert "--lock-timeout" not in r.text  # the CLI's hint means nothing on a page
        assert "for apply, since" in r.text and "wait for it to finish" in r.text
    finally:
        cli.unlock()
        cli.close()
    with engine.session(root) as s:
        assert engine.history(s, 1) == []  # nothing was applied


def test_a_plan_that_changed_since_it_was_shown_is_refused(site: tuple[Path, Any]) -> None:
    root, app = site
    op = _signed_in(app, "op1")
    csrf, digest = _review(op)
    time.sleep(0.01)  # a new modification time for the edited file
    edit(root / "plans" / "finance.yaml", "    image: kylin-v10-sp3\n    count: 2\n"
         "    volume_gb: 1500\n", "    image: kylin-v10-sp3\n    count: 1\n"
         "    volume_gb: 1500\n")
    assert _review(op)[1] != digest  # the page now shows another plan
    r = op.post("/operations/apply", data={"csrf": csrf, "digest": digest})
    assert r.status_code == 409 and "changed since it was shown" in r.text
    forged = op.post("/api/operations/apply", json={"digest": "0" * 64},
                     headers={"x-csrf-token": csrf})
    assert forged.status_code == 409 and "changed since" in forged.json()["error"]
    with engine.session(root) as s:
        assert engine.history(s, 1) == [] and engine.show(s)["departments"] == {}
    # and the lock was let go: the CLI can take it
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root)
    try:
        with acting_for("test"):
            store.lock()
        store.unlock()
    finally:
        store.close()


@pytest.mark.parametrize("name", ["li", "fin", "aud"])
def test_only_an_operator_may_apply(site: tuple[Path, Any], name: str) -> None:
    root, app = site
    op = _signed_in(app, "op1")
    digest = _review(op)[1]
    other = _signed_in(app, name)
    csrf = csrf_of(other.get("/").text)
    assert other.get("/operations/apply").status_code == 403
    assert other.post("/operations/apply", data={"csrf": csrf, "digest": digest}) \
        .status_code == 403
    assert other.post("/api/operations/apply", json={"digest": digest},
                      headers={"x-csrf-token": csrf}).status_code == 403
    with engine.session(root) as s:
        assert engine.history(s, 1) == []
