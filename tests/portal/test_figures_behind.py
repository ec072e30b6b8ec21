"""Figures made once are made again after a change by one thread, behind the requests
(``Portal.figures``): a request waits at most ``REBUILD_WAIT`` for them, and is otherwise
given the last ones, and the page says from when. At a province's size (10,000
departments) a department's page reads figures of the whole estate that take tens of
seconds to make; before, every request after a change waited for them (issue #24). And a
worker makes the figures most pages read before its first request (``views.warm``)."""

from __future__ import annotations

import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from govcloud.errors import GovcloudError
from govcloud.portal import context
from govcloud.portal.views import departments, operations
from govcloud.state.store import VERSION, Store
from tests.portal.conftest import PASSWORD, Site, sign_in
from tests.support.cli import NOW, apply_and_collect
from tests.support.estate import copy_estate

WAIT = 0.2  # REBUILD_WAIT here


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    from govcloud.access import users
    from govcloud.portal.app import create_app

    estate = apply_and_collect(copy_estate(tmp_path / "estate"), "2026-11")
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    monkeypatch.setattr(context, "FILES_RECHECK", 3600.0)
    monkeypatch.setattr(context, "REBUILD_WAIT", WAIT)
    store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    plans = {p.stem for p in (estate / "plans").glob("*.yaml")}
    users.add(store, plans, "op.operator", "operator", None, PASSWORD, "test")
    store.close()
    app = create_app(estate, secret="test-secret")
    yield Site(estate, app, {})
    app.state.portal.close()


def _change(site: Site) -> None:
    """A write by another process that moves the store's version (as an apply does)."""
    p = site.app.state.portal  # type: ignore[attr-defined]
    before = p.store.version()
    other = site.store()
    other.set_meta(VERSION, os.urandom(8).hex())
    other.close()
    assert p.store.version() != before


def _maker(value: Any, gate: threading.Event | None = None,
           calls: list[Any] | None = None) -> Callable[[], Any]:
    def make() -> Any:
        if calls is not None:
            calls.append(value)
        if gate is not None:
            assert gate.wait(30), "the test never opened the gate"
        return value
    return make


def _settled(p: Any, key: str, want: Any) -> None:
    """Wait until the figures of ``key`` made behind the requests are kept."""
    for _ in range(300):
        if p.figures(key, _maker("not this one")) == want:
            return
        time.sleep(0.02)
    raise AssertionError(f"{key}: never became {want!r}")


def test_a_slow_remaking_gives_the_last_figures_after_the_wait_and_says_when(
        site: Site) -> None:
    p = site.app.state.portal  # type: ignore[attr-defined]
    assert p.figures("probe", _maker(1)) == 1
    made_first = time.time()
    _change(site)
    gate, calls = threading.Event(), []
    late = context.Late()
    token = context.LATE.set(late)
    try:
        started = time.monotonic()
        assert p.figures("probe", _maker(2, gate, calls)) == 1  # the last ones
        waited = time.monotonic() - started
        assert WAIT <= waited < WAIT + 5, waited
        assert 0 < late.made_at <= made_first
        assert p.figures("probe", _maker(3, gate, calls)) == 1  # the same job, not another
        assert calls == [2]
    finally:
        context.LATE.reset(token)
    gate.set()
    _settled(p, "probe", 2)
    assert calls == [2]
    fresh = context.Late()
    token = context.LATE.set(fresh)
    try:
        assert p.figures("probe", _maker(4)) == 2
    finally:
        context.LATE.reset(token)
    assert fresh.made_at == 0  # current: nothing said


def test_a_quick_remaking_is_waited_for(site: Site) -> None:
    p = site.app.state.portal  # type: ignore[attr-defined]
    assert p.figures("probe", _maker(1)) == 1
    _change(site)
    late = context.Late()
    token = context.LATE.set(late)
    try:
        assert p.figures("probe", _maker(2)) == 2
    finally:
        context.LATE.reset(token)
    assert late.made_at == 0


def test_figures_made_from_figures_never_keep_old_ones_as_current(site: Site) -> None:
    """The outer figures' job waits for the inner ones however long they take, so what it
    keeps under the new mark is made from the inner figures of that mark."""
    p = site.app.state.portal  # type: ignore[attr-defined]
    inner = [_maker("inner-1")]

    def outer() -> str:
        return "outer of " + p.figures("inner", inner[0])

    assert p.figures("outer", outer) == "outer of inner-1"
    _change(site)
    gate = threading.Event()
    inner[0] = _maker("inner-2", gate)
    assert p.figures("outer", outer) == "outer of inner-1"  # late, after the wait
    gate.set()
    _settled(p, "outer", "outer of inner-2")


def test_a_remaking_that_fails_is_raised_and_tried_again(site: Site) -> None:
    p = site.app.state.portal  # type: ignore[attr-defined]
    assert p.figures("probe", _maker(1)) == 1
    _change(site)
    calls: list[int] = []

    def failing() -> int:
        calls.append(1)
        raise GovcloudError("a row cannot be read", "repair it")

    with pytest.raises(GovcloudError, match="a row cannot be read"):
        p.figures("probe", failing)
    with pytest.raises(GovcloudError):
        p.figures("probe", failing)
    assert len(calls) == 2  # each request tries again, as before
    assert p.figures("probe", _maker(5)) == 5


@pytest.mark.parametrize("lang,said", [
    ("en", "Some figures on this page are from "),
    ("zh", "本页部分数据截至"),
])
def test_the_page_and_the_api_say_their_figures_are_late(
        site: Site, monkeypatch: pytest.MonkeyPatch, lang: str, said: str) -> None:
    op = sign_in(site, "op.operator")
    page = op.get(f"/departments/finance?lang={lang}")  # type: ignore[attr-defined]
    assert page.status_code == 200 and said not in page.text
    _change(site)
    gate = threading.Event()
    made = departments._department

    def slow(p: Any, department: str) -> Any:
        assert gate.wait(30)
        return made(p, department)

    monkeypatch.setattr(departments, "_department", slow)
    try:
        page = op.get(f"/departments/finance?lang={lang}")  # type: ignore[attr-defined]
        assert page.status_code == 200
        assert said in page.text and 'role="status"' in page.text
        api = op.get("/api/departments/finance")  # type: ignore[attr-defined]
        assert api.status_code == 200 and api.headers["x-figures-made-at"]
    finally:
        gate.set()
    for _ in range(300):
        page = op.get(f"/departments/finance?lang={lang}")  # type: ignore[attr-defined]
        if said not in page.text:
            break
        time.sleep(0.02)
    assert said not in page.text
    assert "x-figures-made-at" not in op.get(  # type: ignore[attr-defined]
        "/api/departments/finance").headers


def test_a_worker_makes_the_figures_most_pages_read_before_its_first_request(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real_department, real_estate = departments._department, operations._estate

    def department(p: Any, name: str) -> Any:
        made.append(f"department {name}")
        return real_department(p, name)

    def estate(p: Any) -> Any:
        made.append("estate")
        return real_estate(p)

    monkeypatch.setattr(departments, "_department", department)
    monkeypatch.setattr(operations, "_estate", estate)
    first = min(site.app.state.portal.estate.plans)  # type: ignore[attr-defined]
    gc.unfreeze()
    with TestClient(site.app) as c:  # its lifespan: what uvicorn runs as a worker starts
        assert made == [f"department {first}", "estate"]
        assert gc.get_freeze_count() > 0  # what it made is out of the collector's passes
        gc.unfreeze()
        r = c.post("/login", data={"name": "op.operator", "password": PASSWORD,
                                   "csrf": _csrf(c)})
        assert r.status_code in (200, 303)
        assert c.get("/api/estate").status_code == 200
        assert c.get(f"/api/departments/{first}").status_code == 200
        assert made == [f"department {first}", "estate"]  # kept, not made again


def _csrf(c: TestClient) -> str:
    from tests.portal.conftest import csrf_of

    return csrf_of(c.get("/login").text)


@pytest.mark.parametrize("error", [GovcloudError("a row cannot be read", "repair it"),
                                   RuntimeError("a bug")])
def test_a_worker_whose_figures_fail_at_start_starts_all_the_same(
        site: Site, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        error: Exception) -> None:
    def failing(p: Any) -> Any:
        raise error

    monkeypatch.setattr(operations, "_estate", failing)
    with TestClient(site.app) as c:
        assert c.get("/login").status_code == 200
    assert "figures not made at start" in caplog.text
