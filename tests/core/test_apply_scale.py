"""Apply at scale (issue #24): a completion costs the same however many changes are under way;
what must be in the store before the cloud is asked is committed before it is asked, the
starts of changes issued side by side in one commit; and a generated estate of 60
departments, SIGKILLed mid-way, resumes with nothing lost or twice, on SQLite and on
PostgreSQL."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import _base
from pathlib import Path
from typing import Any

import pytest

from benchmarks.estate_gen import generate
from govcloud.applying import engine
from govcloud.applying.apply import apply_plan
from govcloud.core.desired import Resource
from govcloud.drivers.sim import SimDriver
from govcloud.state.store import Store
from tests.support.cli import apply_killed_after, govcloud


class _Counting:
    """A future's condition that counts every time it is taken (``with``, ``acquire``)."""

    def __init__(self, inner: Any, taken: Iterator[int]) -> None:
        self._inner, self._taken = inner, taken

    def __enter__(self) -> Any:
        next(self._taken)
        return self._inner.__enter__()

    def __exit__(self, *exc: object) -> Any:
        return self._inner.__exit__(*exc)

    def acquire(self, *args: Any) -> Any:
        next(self._taken)
        return self._inner.acquire(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """60 generated departments (estate_gen's websites shape: ~1,500 changes)."""
    return generate(60, tmp_path / "estate", shape="websites")


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                                marks=[pytest.mark.real, pytest.mark.postgres])])
def state(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The estates' state store, for this process and the commands it runs: each estate's
    own SQLite file, or a new database on the suite's PostgreSQL (``fresh_pg``)."""
    if request.param == "postgresql":
        monkeypatch.setenv("GOVCLOUD_STATE_URL", request.getfixturevalue("fresh_pg"))
    return str(request.param)


class _Reader:
    """The estate's state store read through a connection of its own (autocommit: every
    read sees what is committed then), as the next run after a SIGKILL reads it."""

    def __init__(self, estate: Path) -> None:
        url = os.environ.get("GOVCLOUD_STATE_URL")
        if url:
            import psycopg

            self.conn: Any = psycopg.connect(url, autocommit=True)
            self.marks = "%s"
        else:
            self.conn = sqlite3.connect(estate / ".state" / "govcloud.db",
                                        isolation_level=None, check_same_thread=False)
            self.marks = "?"
        self.lock = threading.Lock()

    def rows(self, sql: str, params: tuple[str, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:  # one statement at a time: an open one holds SQLite's snapshot
            return list(self.conn.execute(sql.replace("?", self.marks), params).fetchall())

    def close(self) -> None:
        self.conn.close()


def _rows(estate: Path, sql: str) -> list[tuple[Any, ...]]:
    reader = _Reader(estate)
    try:
        return reader.rows(sql)
    finally:
        reader.close()


def test_a_completion_does_not_wait_on_every_future_under_way(many: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """Each future's lock is taken a few times in its life (its result set, read, its
    callback added), however many others are under way. Waiting on all outstanding futures
    for each completion (``wait(list(futures), FIRST_COMPLETED)``) takes every one's lock on
    every completion: with 60 departments' stages under way, 22 times per change (4 now)."""
    taken = itertools.count()
    made = _base.Future.__init__

    def counted(self: _base.Future[Any]) -> None:
        made(self)
        self._condition = _Counting(self._condition, taken)  # type: ignore[assignment]

    with engine.session(many) as s, engine.locked(s):
        plan = s.plan(cost=False)
        monkeypatch.setattr(_base.Future, "__init__", counted)
        result = apply_plan(plan, s.driver, s.store, concurrency=8)
        monkeypatch.undo()
    assert result.ok and len(result.done) == len(plan.pending) > 900
    per_change = next(taken) / len(result.done)
    assert per_change < 6, f"a future's lock taken {per_change:.1f} times per change"


def test_the_start_and_the_claim_are_committed_before_the_cloud_is_asked(
        estate: Path, state: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen from another connection, as the next run after a SIGKILL would see the store:
    when the cloud is asked to create a resource, its name is claimed and its start is in
    the journal; the records of the changes before it may wait (a later commit takes them)."""
    seen: list[tuple[str, bool, bool]] = []
    create = SimDriver.create

    def checked(self: SimDriver, res: Resource) -> Resource:
        owned = reader.rows("SELECT 1 FROM owned WHERE key = ?", (res.key,))
        started = reader.rows("SELECT 1 FROM journal WHERE key = ? AND phase = 'started'",
                              (res.key,))
        seen.append((res.key, bool(owned), bool(started)))
        return create(self, res)

    monkeypatch.setattr(SimDriver, "create", checked)
    with engine.session(estate) as s, engine.locked(s):
        reader = _Reader(estate)  # the store is made by now
        try:
            result = apply_plan(s.plan(cost=False), s.driver, s.store, concurrency=8)
        finally:
            reader.close()
        assert result.ok, result.failed[:3]
        journal = Counter(phase for _, _, phase, _ in s.store.journal_of(result.apply_id))
        assert set(s.store.applied()) == {c.key for c in result.done}
    assert seen and all(owned and started for _, owned, started in seen), \
        [key for key, owned, started in seen if not (owned and started)][:5]
    assert journal == {"started": len(result.done), "done": len(result.done)}


def test_changes_issued_side_by_side_share_the_commit_of_their_starts(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A group commit: while one commit is under way (slow here, as a PostgreSQL commit
    waiting for its disk is), the starts of the changes issued meanwhile gather, and the next
    commit takes them all. One commit per change's start made a PostgreSQL apply 20 changes a
    second (#24); each start is still committed before its change is asked (above)."""
    commits = itertools.count()
    number = next(commits)
    starts: Counter[int] = Counter()  # commit number -> the starts it took
    committed, journal = Store._committed, Store.journal

    def slow_disk(self: Store) -> None:
        nonlocal number
        time.sleep(0.005)
        number = next(commits)
        committed(self)

    def counted(self: Store, apply_id: str, seq: int, key: str, action: str, phase: str,
                detail: str = "") -> None:
        if phase == "started":
            starts[number] += 1
        journal(self, apply_id, seq, key, action, phase, detail)

    monkeypatch.setattr(Store, "_committed", slow_disk)
    monkeypatch.setattr(Store, "journal", counted)
    with engine.session(estate) as s, engine.locked(s):
        result = apply_plan(s.plan(cost=False), s.driver, s.store, concurrency=8)
    assert result.ok and len(result.done) > 20
    assert sum(starts.values()) == len(result.done)
    assert len(starts) <= len(result.done) / 2, f"{len(starts)} commits of starts for " \
        f"{len(result.done)} changes"


def test_sigkill_mid_way_through_sixty_departments_resumes_exactly(many: Path,
                                                                   state: str) -> None:
    """Killed after a third of its changes were reported done (others in flight, records
    waiting for their commit): every 'done' in the journal is in the cloud, nothing is there
    twice or unasked; the next apply finishes exactly the plan and reports the kill."""
    with engine.session(many) as s:
        desired = s.desired()
    # -o json: no plan on stdout, which is not read until the end (its pipe would fill)
    status = apply_killed_after(many, len(desired) // 3, "-o", "json", "--no-services")
    assert status == -signal.SIGKILL, "the apply ended before the kill"
    names = Counter(_rows(many, "SELECT department, kind, name FROM sim_resources"))
    done = {k for (k,) in _rows(many, "SELECT key FROM journal WHERE phase = 'done'")}
    applied = {k for (k,) in _rows(many, "SELECT key FROM applied")}
    in_cloud = {f"{d}/{k}/{n}" for d, k, n in names}
    assert len(desired) // 3 <= len(in_cloud) < len(desired)
    assert max(names.values()) == 1 and in_cloud <= set(desired)
    assert done <= in_cloud and applied <= in_cloud
    again = govcloud("apply", "--yes", "--no-services", estate=many)
    assert again.returncode == 0, again.stderr
    assert "was interrupted after" in again.stdout
    with engine.session(many) as s:
        actual = s.driver.read()
        assert sorted(r.key for r in actual) == sorted(desired)
        assert set(s.store.applied()) == set(desired) and s.store.owned() == set(desired)
        assert not s.store.interrupted()
    assert govcloud("plan", "--detailed-exitcode", estate=many).returncode == 0
    assert (many / ".state").exists() == (state == "sqlite")
