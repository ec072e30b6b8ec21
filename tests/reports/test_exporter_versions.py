"""Issue #24: the exporter renders its page once per version of the state store and serves
those same bytes to every scrape; an estate at rest costs no rebuilds (at 10,000 departments a
rebuild is seconds of CPU taken from the scrapes, and a second copy of the page in memory).
A write to the store (another process's, as an apply or a usage collection makes) brings a new
page after the interval; a page older than the longest age is rebuilt even at rest."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from govcloud.applying import engine
from govcloud.metrics import exporter
from govcloud.state.store import Store
from tests.support.cli import govcloud
from tests.support.estate import copy_estate


def _settled(snapshot: exporter.Snapshot) -> exporter.Page:
    """The page once the check (or rebuild) that a page past its interval starts is done."""
    snapshot.page()
    for t in threading.enumerate():
        if t.name == "metrics-rebuild":
            t.join(60)  # a rebuild is a child process: its start too
    return snapshot.page()


def test_a_page_is_rendered_once_per_store_version(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate")
    govcloud("apply", "--yes", "--no-services", estate=root, check=True)
    with engine.session(root) as s:
        snapshot = exporter.Snapshot(s, 0.05, max_age=3600.0)
        first = snapshot.page()
        for _ in range(3):  # at rest: past the interval, the same bytes, no new rendering
            time.sleep(0.1)
            assert _settled(snapshot).body is first.body
        assert snapshot.builds == 1
        # another connection (another govcloud process's store) writes what a figure
        # reads: a damaged row, as the state shows it
        other = Store(f"sqlite:///{root}/.state/govcloud.db", root)
        try:
            other.execute("UPDATE sim_resources SET body = '{broken' WHERE key = "
                          "'finance/server/fin-budget-db'")
        finally:
            other.close()
        time.sleep(0.1)
        changed = _settled(snapshot)
        assert snapshot.builds == 2 and changed.body is not first.body
        assert b"govcloud_state_ok 0.0" in changed.body
        assert b"govcloud_state_ok 1.0" in first.body
        time.sleep(0.1)
        assert _settled(snapshot).body is changed.body and snapshot.builds == 2


def test_a_page_older_than_the_longest_age_is_rebuilt_at_rest(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate")
    with engine.session(root) as s:
        # a page is rendered in a child process (a second or more, a fresh interpreter
        # opening the estate): the longest age is shortened once the first page is made
        snapshot = exporter.Snapshot(s, 0.05, max_age=3600.0)
        first = snapshot.page()
        time.sleep(0.1)
        assert _settled(snapshot).body is first.body and snapshot.builds == 1
        snapshot.max_age = 0.3
        time.sleep(0.35)
        assert _settled(snapshot).made > first.made and snapshot.builds == 2
