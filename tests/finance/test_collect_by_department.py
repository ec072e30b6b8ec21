"""Issue #24: the usage collection (``usage collect``, the exporter's hourly child) never holds
the whole cloud at once. It reads it a department at a time — to bring the dated record up
to date, and for the month's host counts — and lets the record's stretches go before the
cloud is read for the hosts: at 10,000 departments the whole cloud beside the record was
about 600 MB more at the peak. The rows it stores are those of the whole-cloud read."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.books import metering
from govcloud.drivers.base import Driver
from govcloud.drivers.sim import SimDriver
from govcloud.finance.period import Month
from tests.support.cli import govcloud
from tests.support.estate import copy_estate


def _rows(root: Path) -> tuple[list[Any], list[Any]]:
    db = sqlite3.connect(root / ".state" / "govcloud.db")
    try:
        usage = db.execute("SELECT * FROM usage ORDER BY period, department, item").fetchall()
        history = db.execute("SELECT * FROM history ORDER BY seq").fetchall()
    finally:
        db.close()
    return usage, history


@pytest.fixture
def applied(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of an applied estate, a server of it gone from the cloud since (the
    collection's observation records that)."""
    root = copy_estate(tmp_path / "a")
    govcloud("apply", "--yes", "--no-services", estate=root, check=True,
             env={"GOVCLOUD_NOW": "2026-10-03T08:00:00Z"})
    db = sqlite3.connect(root / ".state" / "govcloud.db")
    with db:
        key = db.execute("SELECT key FROM sim_resources WHERE key LIKE '%/server/%' "
                         "ORDER BY key LIMIT 1").fetchone()[0]
        db.execute("DELETE FROM sim_resources WHERE key = ?", (key,))
    db.close()
    other = tmp_path / "b"
    shutil.copytree(root, other, symlinks=True)
    return root, other


@pytest.mark.parametrize(("now", "period"), [("2026-10-20T10:30:00Z", "2026-10"),
                                             ("2026-11-02T09:00:00Z", "2026-10")])
def test_the_collection_reads_the_cloud_a_department_at_a_time(
        applied: tuple[Path, Path], now: str, period: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A month to date (the hosts as the cloud is now) and a month that has ended (from the
    record's last hour): the same rows and the same record as collected from the cloud read
    whole, and ``read`` — the whole cloud at once — never called."""
    by_department, whole = applied
    monkeypatch.setenv("GOVCLOUD_NOW", now)
    with engine.session(whole) as s, monkeypatch.context() as m:
        m.setattr(SimDriver, "read_by_department", Driver.read_by_department)
        metering.collect(s.estate, s.store, s.driver, Month.parse(period))

    def at_once(self: Any) -> Any:
        raise AssertionError("the whole cloud read at once")

    monkeypatch.setattr(SimDriver, "read", at_once)
    with engine.session(by_department) as s:
        got = metering.collect(s.estate, s.store, s.driver, Month.parse(period))
    assert got["records"] > 0 and got["hosts_in_use"] > 0
    usage, history = _rows(by_department)
    assert (usage, history) == _rows(whole)
    assert any(row[5] is None and row[6] == "collect" for row in history)  # the server gone
