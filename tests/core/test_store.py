"""The state store and its lock, on SQLite and on a real PostgreSQL started by the suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from govcloud.core.desired import Resource
from govcloud.errors import DamagedState, LockHeld, StateError
from govcloud.state.store import Store
from govcloud.state.tables import SCHEMA_VERSION
from tests.support.cli import govcloud


@pytest.fixture(params=["sqlite", pytest.param("postgresql",
                                                marks=[pytest.mark.real, pytest.mark.postgres])])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/state.db"
    return request.getfixturevalue("fresh_pg")


def test_applied_state_round_trip(url: str, tmp_path: Path) -> None:
    store = Store(url, tmp_path)
    res = Resource("server", "finance", "web-1", {"flavor": "m1.large", "load": {"cpu": 0.3}},
                   True, {"host": "h1"})
    store.record_applied(res)
    store.record_applied(Resource("project", "财政", "财政", {"name": "青岛市财政局"}))
    again = Store(url, tmp_path).applied()
    assert again["finance/server/web-1"] == res
    assert again["finance/server/web-1"].computed == {"host": "h1"}
    assert again["财政/project/财政"].attrs["name"] == "青岛市财政局"
    store.forget_applied(res.key)
    assert set(Store(url, tmp_path).applied()) == {"财政/project/财政"}


def test_journal_marks_interrupted_applies(url: str, tmp_path: Path) -> None:
    store = Store(url, tmp_path)
    store.begin_apply("a1", 3)
    store.journal("a1", 1, "d/server/x", "create", "started")
    store.journal("a1", 2, "d/server/x", "create", "done")
    store.begin_apply("a2", 1)
    store.finish_apply("a2", "ok", {"done": 1})
    interrupted = store.interrupted()
    assert [(a.id, a.done, a.total) for a in interrupted] == [("a1", 1, 3)]
    store.close_interrupted("a3")
    assert store.interrupted() == []
    assert store.journal_of("a1") == [("d/server/x", "create", "started", ""),
                                      ("d/server/x", "create", "done", "")]


def test_transaction_rolls_back(url: str, tmp_path: Path) -> None:
    store = Store(url, tmp_path)
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.set_meta("k", "v")
            raise RuntimeError("boom")
    assert store.get_meta("k") is None
    with store.transaction():
        store.set_meta("k", "v")
    assert Store(url, tmp_path).get_meta("k") == "v"


def test_the_version_moves_with_every_figure_write_by_anyone_and_not_with_reads(
        url: str, tmp_path: Path) -> None:
    portal, other = Store(url, tmp_path), Store(url, tmp_path)
    first = portal.version()
    portal.applied()
    portal.get_meta("k")
    assert portal.version() == first  # reading changes nothing
    other.set_meta("k", "bookkeeping by another connection (another process)")
    assert portal.version() == first  # no figure reads meta
    other.record_applied(Resource("project", "water", "water", {"name": "z"}))
    second = portal.version()
    assert second != first
    assert portal.version() == second
    with portal.transaction():
        portal.record_applied(Resource("project", "health", "health", {"name": "y"}))
    third = portal.version()
    assert third not in (first, second)
    with other.transaction():
        other.record_applied(Resource("project", "finance", "finance", {"name": "x"}))
    assert portal.version() != third


def test_sign_ins_by_any_connection_leave_the_version_alone(url: str, tmp_path: Path) -> None:
    """A sign-in writes a session and audit records only: every portal worker's figures
    (keyed on the version) survive it, whichever worker (connection) took it; a write of
    anything else moves it. Before, on PostgreSQL any write moved it (the next transaction
    id), and on SQLite any write by another connection (the data version)."""
    from govcloud.access import users
    from govcloud.audit import trail

    worker = Store(url, tmp_path)
    store = Store(url, tmp_path)  # another worker, signing people in
    users.add(store, {"finance"}, "li.wei", "member", "finance", "correct horse battery", "t")
    first = worker.version()
    person = users.sign_in(store, "li.wei", "correct horse battery", "127.0.0.1")
    with pytest.raises(users.SignInRefused):
        users.sign_in(store, "li.wei", "wrong password", "127.0.0.1")
    from govcloud.access import second_factor
    from govcloud.portal import sessions
    sessions.start(store, person)
    second_factor.begin(store, "li.wei")  # enrolling a second factor
    trail.append(store, "li.wei", "request", "x", "finance", None, None, "", "127.0.0.1")
    assert worker.version() == store.version() == first
    with pytest.raises(RuntimeError):
        with store.transaction():  # rolled back: nothing moved
            store.record_applied(Resource("project", "finance", "finance", {"name": "x"}))
            raise RuntimeError("undone")
    assert worker.version() == first
    with store.transaction():
        store.record_applied(Resource("project", "finance", "finance", {"name": "x"}))
    assert worker.version() == store.version() != first


def test_lock_is_exclusive_names_holder_and_can_be_waited_for(url: str, tmp_path: Path) -> None:
    first = Store(url, tmp_path)
    second = Store(url, tmp_path)
    first.lock()
    with pytest.raises(LockHeld) as err:
        second.lock()
    assert f"pid {os.getpid()}, for apply, since 20" in str(err.value)
    assert "--lock-timeout" in err.value.hint
    started = time.monotonic()
    threading.Timer(1.0, first.unlock).start()
    second.lock(timeout=30)
    assert 0.8 < time.monotonic() - started < 30
    with pytest.raises(LockHeld):
        first.lock(timeout=0.3)
    second.unlock()


def test_lock_dies_with_a_killed_holder(url: str, tmp_path: Path) -> None:
    code = ("import sys, time; from pathlib import Path; from govcloud.state.store import Store; "
            f"s = Store({url!r}, Path({str(tmp_path)!r})); s.lock(); print('locked', flush=True); "
            "time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    store = Store(url, tmp_path)
    with pytest.raises(LockHeld):
        store.lock()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    store.lock(timeout=10)  # taken at once: no stale lock after a SIGKILL
    store.unlock()


@pytest.mark.real
@pytest.mark.postgres
def test_apply_and_plan_on_postgresql(estate: Path, fresh_pg: str) -> None:
    env = {"GOVCLOUD_STATE_URL": fresh_pg}
    proc = govcloud("apply", "--yes", estate=estate, env=env)
    assert proc.returncode == 0, proc.stderr
    assert govcloud("plan", "--detailed-exitcode", estate=estate, env=env).returncode == 0
    assert not (estate / ".state").exists()  # everything went to PostgreSQL
    # and the SQLite default sees an empty cloud
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 2


def test_unreachable_postgresql_is_a_clear_error(estate: Path) -> None:
    env = {"GOVCLOUD_STATE_URL": "postgresql://govcloud:s3cret@127.0.0.1:1/nope"}
    proc = govcloud("plan", estate=estate, env=env)
    assert proc.returncode == 1
    assert "cannot connect to the state store postgresql://govcloud:***@127.0.0.1:1/nope" in \
        proc.stderr
    assert "s3cret" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_store_records_its_schema_version_and_estate(url: str, tmp_path: Path) -> None:
    store = Store(url, tmp_path, "qingdao")
    assert store.created
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.get_meta("estate") == "qingdao"
    assert not Store(url, tmp_path, "qingdao").created
    with pytest.raises(StateError) as err:
        Store(url, tmp_path, "yantai")
    assert "belongs to estate 'qingdao', not 'yantai'" in str(err.value)
    store.set_meta("schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(StateError) as err:
        Store(url, tmp_path, "qingdao")
    assert f"has schema version {SCHEMA_VERSION + 1}; this govcloud knows" in str(err.value)
    # The way back to this release: the copy the newer one's upgrade took (#26).
    assert f"put back the copy the upgrade took first (govcloud-v{SCHEMA_VERSION}-*, in " \
        f"{tmp_path}" in err.value.hint and "backups)" in err.value.hint


@pytest.mark.parametrize("recorded", ["four", "-1", ""])
def test_an_invalid_schema_version_is_damage_not_a_newer_release(recorded: str,
                                                                   tmp_path: Path) -> None:
    """#26 trial: 'four' was reported as "has schema version four; this govcloud knows 4: a
    newer release migrated it"."""
    url = f"sqlite:///{tmp_path}/state.db"
    Store(url, tmp_path, "qingdao").set_meta("schema_version", recorded)
    before = (tmp_path / "state.db").read_bytes()
    with pytest.raises(StateError) as err:
        Store(url, tmp_path, "qingdao")
    assert str(err.value) == (f"the state store {tmp_path}/state.db records the schema "
                              f"version {recorded!r}, which is not a valid version "
                              "(meta.schema_version is damaged); nothing was changed")
    assert "newer release" not in str(err.value) + err.value.hint
    assert "restore the store from a backup (govcloud state restore" in err.value.hint
    assert (tmp_path / "state.db").read_bytes() == before
    assert not (tmp_path / "backups").exists()


def test_an_invalid_schema_version_through_the_cli(estate: Path) -> None:
    from tests.support.cli import one_line

    govcloud("plan", estate=estate, check=True)
    (db,) = (estate / ".state").glob("*.db")
    Store(f"sqlite:///{db}", estate).set_meta("schema_version", "four")
    one_line(govcloud("plan", estate=estate), "records the schema version 'four', which is "
             "not a valid version", "nothing was changed", "govcloud state restore")


def test_a_migration_says_so_once_on_stderr(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    Store(url, tmp_path, "qingdao").set_meta("schema_version", str(SCHEMA_VERSION - 1))
    capsys.readouterr()
    store = Store(url, tmp_path, "qingdao")
    (copy,) = (tmp_path / "backups").iterdir()
    assert store.pre_upgrade == copy
    assert capsys.readouterr().err == (
        f"govcloud: the state store {tmp_path}/state.db was migrated from schema "
        f"{SCHEMA_VERSION - 1} to {SCHEMA_VERSION}; a copy of the old store is at {copy}\n")
    Store(url, tmp_path, "qingdao")  # up to date now: nothing said
    assert capsys.readouterr().err == ""


def test_a_database_of_another_program_is_refused(url: str, tmp_path: Path) -> None:
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        conn.execute("CREATE TABLE invoices (id INTEGER)")
        conn.commit()
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE invoices (id INTEGER)")
    for init in (False, True):
        with pytest.raises(StateError) as err:
            Store(url, tmp_path, "qingdao", init=init)
        assert "is not a govcloud state store (it holds the tables invoices)" in str(err.value)


def test_a_store_made_before_the_schema_version_is_adopted(tmp_path: Path) -> None:
    import sqlite3

    from govcloud.state.tables import SCHEMA

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for stmt in SCHEMA:  # what an older govcloud made: the tables, an empty meta
        conn.execute(stmt)
    conn.execute("INSERT INTO applied VALUES ('d/project/d', 'd', 'project', "
                 "'{\"kind\": \"project\", \"department\": \"d\", \"name\": \"d\", "
                 "\"attrs\": {}}', 'then')")
    conn.commit()
    conn.close()
    store = Store(f"sqlite:///{path}", tmp_path, "qingdao")
    assert not store.created and set(store.applied()) == {"d/project/d"}
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)


def test_a_damaged_row_names_its_table_and_key(url: str, tmp_path: Path) -> None:
    store = Store(url, tmp_path)
    store.record_applied(Resource("server", "finance", "web-1", {"flavor": "m1.large"}))
    store.execute("UPDATE applied SET body = ? WHERE key = ?", ("{oops", "finance/server/web-1"))
    with pytest.raises(DamagedState) as err:
        store.applied()
    assert (err.value.table, err.value.key) == ("applied", "finance/server/web-1")
    assert "the state store's applied row 'finance/server/web-1' is damaged (invalid JSON" in \
        str(err.value)
    fix = "DELETE FROM applied WHERE key = 'finance/server/web-1'"
    assert (f"psql: {fix}" if url.startswith("postgres") else f'"{fix}"') in err.value.hint


@pytest.mark.real
@pytest.mark.postgres
def test_a_damaged_postgresql_store_through_the_cli(estate: Path, fresh_pg: str) -> None:
    env = {"GOVCLOUD_STATE_URL": fresh_pg}
    govcloud("apply", "--yes", "--no-services", estate=estate, env=env, check=True)
    import psycopg

    with psycopg.connect(fresh_pg, autocommit=True) as conn:
        conn.execute("UPDATE sim_resources SET body = '[]' WHERE key = 'health/project/health'")
    proc = govcloud("plan", estate=estate, env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert ("the state store's sim_resources row 'health/project/health' is damaged (a JSON "
            "list, not an object)") in proc.stderr
    assert "psql: DELETE FROM sim_resources WHERE key = 'health/project/health'" in proc.stderr
