"""Issue #24: the exporter renders its page in a child process, so the rendering's CPU is not
taken under the serving process's GIL and its memory leaves with the child (the server keeps
the page); a child that dies is a page saying so, and the next rebuild renders again. The
cloud is read a department at a time (drift found per department, against that department's
applied rows and plan): the figures are those of the whole-estate read they replace."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.core.drift import find_drift
from govcloud.drivers.base import Driver
from govcloud.drivers.sim import SimDriver
from govcloud.finance import usage
from govcloud.metrics import children, exporter
from govcloud.metrics.cloud import read_cloud
from govcloud.placement import hosts as placement
from govcloud.state.store import Store
from tests.reports.test_exporter_versions import _settled
from tests.support.cli import govcloud
from tests.support.estate import REPO, copy_estate


@pytest.fixture
def applied(tmp_path: Path) -> Path:
    root = copy_estate(tmp_path / "estate")
    govcloud("apply", "--yes", "--no-services", estate=root, check=True)
    return root


def test_the_page_is_rendered_in_a_child_process(applied: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A collector that cannot run in this process does not stop the page: it is rendered
    elsewhere, in a child whose peak memory the page reports."""
    def not_here(self: Any) -> Any:
        raise AssertionError("rendered in the serving process")

    monkeypatch.setattr(exporter.EstateCollector, "collect", not_here)
    with engine.session(applied) as s:
        body = exporter.Snapshot(s, 3600.0).page().body.decode()
    assert "govcloud_exporter_ok 1.0" in body
    assert 'govcloud_department_quota{department="finance"' in body
    assert 'govcloud_drift_count{department="finance"} 0.0' in body
    peak = next(line for line in body.splitlines()
                if line.startswith("govcloud_exporter_render_peak_rss_bytes "))
    assert float(peak.split()[1]) > 10e6  # a Python process's, not this one's zero


def _killed(root: Path) -> list[bytes]:
    """A rendering that dies as an out-of-memory kill would end it."""
    os.kill(os.getpid(), signal.SIGKILL)
    return []


def test_a_child_that_dies_is_reported_and_the_next_rebuild_renders(
        applied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with engine.session(applied) as s:
        snapshot = exporter.Snapshot(s, 0.05, max_age=3600.0)
        assert b"govcloud_exporter_ok 1.0" in snapshot.page().body
        monkeypatch.setattr(exporter, "render_page", _killed)
        other = Store(f"sqlite:///{applied}/.state/govcloud.db", applied)
        try:  # another process's write: the page is due
            other.execute("UPDATE applies SET summary = summary")
        finally:
            other.close()
        time.sleep(0.1)
        died = _settled(snapshot).body.decode()
        assert snapshot.builds == 2
        assert "govcloud_exporter_ok 0.0" in died and "govcloud_state_ok 1.0" in died
        info = next(line for line in died.splitlines()
                    if line.startswith("govcloud_state_error_info{"))
        assert "killed by signal SIGKILL" in info
        # the last page's series are kept (an emptied page would fire every absent() alert),
        # each health family once, saying the page is the last one
        assert 'govcloud_department_quota{department="finance"' in died
        assert 'govcloud_drift_count{department="finance"}' in died
        for family in ("govcloud_exporter_ok", "govcloud_state_ok", "govcloud_state_error_info"):
            assert died.count(f"# TYPE {family} gauge") == 1, family
        assert "govcloud_exporter_ok 1.0" not in died
        from prometheus_client.parser import text_string_to_metric_families
        assert len(list(text_string_to_metric_families(died))) > 10  # a page Prometheus reads
        monkeypatch.setattr(exporter, "render_page", children_render)
        time.sleep(0.1)  # the store did not move since: the failed page is rendered again
        again = _settled(snapshot).body.decode()
        assert snapshot.builds == 3 and "govcloud_exporter_ok 1.0" in again
        assert 'govcloud_department_quota{department="finance"' in again


children_render = exporter.render_page


def test_a_child_that_raises_is_an_outcome_not_an_exception() -> None:
    done = children.run("the test", _raises, "boom")
    assert done.parts == [] and done.failure == "the test failed: ValueError('boom')"
    assert "Traceback" in done.detail and "_raises" in done.detail


def _raises(text: str) -> list[bytes]:
    raise ValueError(text)


def _drifted(root: Path) -> None:
    """Out-of-band changes of every kind drift knows, in departments with and without a
    plan: a server changed, a volume deleted, a server added, a department the cloud has
    and no plan names, and one only the applied state still has."""
    db = sqlite3.connect(root / ".state" / "govcloud.db")
    with db:
        key, body = db.execute("SELECT key, body FROM sim_resources WHERE kind = 'server' "
                               "ORDER BY key LIMIT 1").fetchone()
        changed = json.loads(body)
        changed["attrs"]["vcpus"] = 64
        db.execute("UPDATE sim_resources SET body = ? WHERE key = ?", (json.dumps(changed), key))
        db.execute("DELETE FROM sim_resources WHERE key = (SELECT key FROM sim_resources "
                   "WHERE kind = 'volume' ORDER BY key DESC LIMIT 1)")
        for dep, name in ((changed["department"], "stray"), ("ghost", "ghost-web")):
            added = dict(changed, department=dep, name=name)
            db.execute("INSERT INTO sim_resources (key, department, kind, name, body, host, "
                       "created_at) SELECT ?, ?, kind, ?, ?, host, created_at FROM "
                       "sim_resources WHERE key = ?", (f"{dep}/server/{name}", dep, name,
                                                       json.dumps(added), key))
        gone = dict(changed, department="gone", name="gone-db")
        db.execute("INSERT INTO applied (key, department, kind, body, applied_at) VALUES "
                   "(?, ?, 'server', ?, '2026-01-01T00:00:00.000000Z')",
                   ("gone/server/gone-db", "gone", json.dumps(gone)))
    db.close()


def test_drift_found_per_department_is_drift_found_over_the_estate(applied: Path) -> None:
    _drifted(applied)
    with engine.session(applied) as s:
        resources = s.driver.read()  # what the exporter read before: the whole cloud at once
        whole = Counter(c.department for c in
                        find_drift(resources, s.store.applied(), s.desired()))
        pool = {h.name for h in placement.pool_hosts(s.estate.settings.host_pool)}
        where = s.driver.servers_on_hosts()
        on_hosts: dict[str, list[float]] = {}
        for r in resources:
            host = where.get(r.key) or r.computed.get("host")
            if r.kind == "server" and host in pool:
                u = on_hosts.setdefault(host, [0.0, 0.0, 0.0])
                for i, attr in enumerate(("vcpus", "ram_gb", "disk_gb")):
                    u[i] += r.attrs[attr]
        cloud = read_cloud(s)
        assert cloud.drift_failed is None
        assert cloud.drift == {**{d: 0 for d in s.estate.plans}, **whole}
        assert {d: n for d, n in cloud.drift.items() if n} == whole
        assert whole["ghost"] == 1 and whole["gone"] == 1 and len(whole) >= 3
        assert cloud.allocated == usage.allocations(resources)
        assert cloud.on_hosts == on_hosts


def test_the_sim_reads_each_department_once_with_all_of_it(applied: Path) -> None:
    with engine.session(applied) as s:
        assert isinstance(s.driver, SimDriver)
        whole = s.driver.read()
        by_department = list(s.driver.read_by_department())
        # the default (a driver that reads its cloud whole): the same groups
        default = list(Driver.read_by_department(s.driver))
    deps = [d for d, _ in by_department]
    assert len(deps) == len(set(deps)) > 1
    assert all(r.department == d for d, group in by_department for r in group)
    assert sorted(r.key for _, group in by_department for r in group) == \
        sorted(r.key for r in whole)
    assert {d: [r.key for r in g] for d, g in default} == \
        {d: [r.key for r in g] for d, g in by_department}


def test_a_damaged_applied_row_is_reported_after_the_families_before_drift(
        applied: Path) -> None:
    """As when the estate's drift was found at once: the page up to the drift family is
    served, and the damaged row is named."""
    db = sqlite3.connect(applied / ".state" / "govcloud.db")
    with db:
        key = db.execute("SELECT key FROM applied ORDER BY key LIMIT 1").fetchone()[0]
        db.execute("UPDATE applied SET body = '{broken' WHERE key = ?", (key,))
    db.close()
    with engine.session(applied) as s:
        body = exporter.Snapshot(s, 3600.0).page().body.decode()
    assert "govcloud_state_ok 0.0" in body and f'key="{key}"' in body
    assert "govcloud_department_allocated{" in body  # before the drift: served
    assert "govcloud_last_apply_success 1.0" in body
    assert "govcloud_drift_count{" not in body and "govcloud_host_utilization" not in body


def test_the_hourly_collection_runs_in_a_child(golden: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The schedule's collection reads the whole cloud: in a child, whose memory is not the
    serving process's to keep. Here it collects the month (the store says so) without the
    serving process's metering running at all."""
    from govcloud.books import metering

    def not_here(*args: Any) -> list[str]:
        raise AssertionError("collected in the serving process")

    class Stop(Exception):
        pass

    def stop(seconds: float) -> None:
        raise Stop

    monkeypatch.setattr(metering, "collect_due", not_here)
    monkeypatch.setattr(exporter.time, "sleep", stop)
    db = sqlite3.connect(golden / ".state" / "govcloud.db")
    before = db.execute("SELECT count(*) FROM usage WHERE period = '2026-11'").fetchone()[0]
    with pytest.raises(Stop):
        exporter._collect_on_schedule(golden)
    after = db.execute("SELECT count(*) FROM usage WHERE period = '2026-11'").fetchone()[0]
    db.close()
    assert after > before


def test_a_child_whose_server_died_stops(tmp_path: Path) -> None:
    """The server killed mid-rendering (systemd's stop, the OOM killer): its child does not
    render on for nobody."""
    import subprocess
    import sys

    parent = subprocess.Popen([sys.executable, "-c", "import time; from govcloud.metrics "
                               "import children; children.run('the test', time.sleep, 120)"],
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        kids: list[int] = []
        deadline = time.monotonic() + 60
        while not kids and time.monotonic() < deadline:
            time.sleep(0.2)
            kids = [int(c) for task in Path(f"/proc/{parent.pid}/task").iterdir()
                    for c in (task / "children").read_text().split()]
        assert kids, "no child started"
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and Path(f"/proc/{kids[0]}").exists():
        time.sleep(0.2)
    assert not Path(f"/proc/{kids[0]}").exists() or \
        "Z" in Path(f"/proc/{kids[0]}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_children_that_read_the_whole_state_run_one_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rendering and a usage collection never hold their memory at once (1.8 GB together
    at 10,000 departments); after HEAVY_WAIT the next runs beside a child that hangs."""
    running, most = [0], [0]
    lock = threading.Lock()

    def child() -> None:
        with children.one_at_a_time():
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=child) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1
    monkeypatch.setattr(children, "HEAVY_WAIT", 0.1)
    held = threading.Event()
    release = threading.Event()

    def hanging() -> None:
        with children.one_at_a_time():
            held.set()
            release.wait(30)

    hang = threading.Thread(target=hanging)
    hang.start()
    try:
        assert held.wait(10)
        ran = threading.Event()
        with children.one_at_a_time():  # waits HEAVY_WAIT, then runs beside it
            ran.set()
        assert ran.is_set()
    finally:
        release.set()
        hang.join()


def test_the_rendering_and_the_collection_go_one_at_a_time(
        applied: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, bool]] = []

    def run(what: str, target: Any, *args: Any) -> children.Outcome:
        seen.append((what, children._HEAVY.locked()))
        if target is exporter.collect_in_child:
            raise SystemExit  # ends the hourly loop after one collection
        return children.Outcome([b"", b""], None, 0.0, 0)

    monkeypatch.setattr(children, "run", run)
    with engine.session(applied) as s:
        exporter.Snapshot(s, 60.0)
    with pytest.raises(SystemExit):
        exporter._collect_on_schedule(applied)
    assert seen == [("the rendering of the metrics", True), ("the usage collection", True)]


def _niceness(root: Path) -> list[bytes]:
    return [str(os.nice(0)).encode()]


def test_a_child_runs_below_the_server_for_the_cpu() -> None:
    """A rendering (a minute of CPU at 10,000 departments) yields the cores to the server
    answering scrapes."""
    outcome = children.run("the test", _niceness, Path("."))
    assert outcome.failure is None, outcome.detail
    assert int(outcome.parts[0]) >= min(19, os.nice(0) + children.NICE)
