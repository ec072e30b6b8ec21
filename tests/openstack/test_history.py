"""Issue #20 on the real test cloud: a server resized by apply and live-migrated by hand (an
operator's move) in the month is billed by the hour, each flavor for the hours it ran, with
the moments read back from nova's own record (its instance actions), and compared with what
nova's simple-tenant-usage (``openstack usage show``) charges for the same server.

Nova's times are the machine's real clock, so the test runs on it (no GOVCLOUD_NOW): the
month is the current one, to date. Each moment is also read independently of the driver
(nova's ``launched_at``, which nova sets when the guest is spawned and again when a resize
finishes; the live migration's record in ``os-migrations``), and the figures are computed
here from those moments by the documented rule (each state from the hour it began, a later
state taking the hour it happened in). On the real clock the three moments usually share
one hour, so the old flavor's share is usually 0 h: the test checks the dates, and the rule
for whichever hours they fall in."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli import govcloud
from tests.support.estate import REPO
from tests.support.testcloud import (
    CLOUD,
    CLOUDS,
    TESTCLOUD_DIR,
    domain_of,
    env,
    os_estate,
    purge_domain,
)

pytestmark = [pytest.mark.real, pytest.mark.openstack]

DEP = "h20-hours"
NAME = "hh-app"
KEY = f"{DEP}/server/{NAME}"
A, B = "m1.small", "m1.medium"  # govcloud.yaml's catalogue: 1 vCPU 2 GB, 2 vCPU 4 GB
SIZE = {A: (1, 2), B: (2, 4)}
OPENSTACK = "/opt/govcloud-testcloud/venv/bin/openstack"


def _plan(flavor: str) -> dict[str, Any]:
    return {"department": {"id": DEP, "name": "测试部门 h20", "cost_centre": "CC-h20",
                           "zone": "extranet"},
            "quota": {"instances": 4, "cores": 16, "ram_gb": 32, "volumes": 2,
                      "volume_gb": 20, "websites": 0},
            "servers": [{"name": NAME, "flavor": flavor, "image": "debian-12"}]}


def _apply(estate: Path, flavor: str) -> None:
    (estate / "plans" / f"{DEP}.yaml").write_text(
        yaml.safe_dump(_plan(flavor), allow_unicode=True, sort_keys=False))
    proc = govcloud("apply", "--yes", "--no-services", estate=estate, env=env(), timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def _when(text: str) -> datetime:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _server(cloud: Any, estate: Path) -> Any:
    domain = cloud.identity.find_domain(domain_of(estate))
    ids = {p.id for p in cloud.identity.projects(domain_id=domain.id)}
    found = [s for s in cloud.compute.servers(all_projects=True, details=True)
             if s.project_id in ids and s.name == NAME]
    assert len(found) == 1, found
    return found[0]


def _live_migrate(cloud: Any, server: Any) -> tuple[Any, datetime]:
    """Move the server by hand to another enabled host, as an operator would (govcloud is
    not asked); the server on its new host, and when nova's migration record says it
    completed."""
    source = server.compute_host
    target = next(s.host for s in cloud.compute.services(binary="nova-compute")
                  if s.host != source and s.status == "enabled" and s.state == "up")
    cloud.compute.live_migrate_server(server, host=target, block_migration="auto")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(2)
        moved = cloud.compute.get_server(server.id)
        done = [m for m in cloud.compute.migrations(server_id=server.id,
                                                    migration_type="live-migration")
                if m.status == "completed"]
        if moved.compute_host == target and moved.status == "ACTIVE" and \
                not moved.task_state and done:
            return moved, _when(done[0].updated_at)
    raise AssertionError(f"{NAME} did not move from {source} to {target} in 300 s")


def _hours(start: datetime, end: datetime) -> int:
    """Hour slots [start, end) occupies: an hour begun counts."""
    lo = start.replace(minute=0, second=0, microsecond=0)
    up = end.replace(minute=0, second=0, microsecond=0)
    hi = up if up == end else up + timedelta(hours=1)
    return int((hi - lo).total_seconds()) // 3600


def _osc(*args: str) -> Any:
    binary = OPENSTACK if Path(OPENSTACK).exists() else shutil.which("openstack")
    assert binary, "python-openstackclient is not installed (testcloud/up installs it)"
    proc = subprocess.run([binary, *args, "-f", "json"], capture_output=True, text=True,
                          env={"OS_CLIENT_CONFIG_FILE": str(CLOUDS), "OS_CLOUD": CLOUD,
                               "PATH": "/usr/bin:/bin"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture
def estate_h20(cloud: Any, tmp_path: Path) -> Iterator[Path]:
    estate = os_estate(tmp_path / "estate", ())
    try:
        yield estate
    finally:
        purge_domain(cloud, domain_of(estate))


def test_resize_and_live_migration_are_billed_by_the_hour_from_novas_record(
        cloud: Any, estate_h20: Path) -> None:
    from govcloud.applying import engine

    estate = estate_h20
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    _apply(estate, A)
    first = _server(cloud, estate)
    created = _when(first.launched_at)
    _apply(estate, B)  # a resize in place (nova's scheduler may move it too)
    resized_server = _server(cloud, estate)
    assert resized_server.id == first.id and resized_server.flavor["original_name"] == B
    resized = _when(resized_server.launched_at)  # nova resets launched_at in finish_resize
    assert resized > created
    moved, migrated = _live_migrate(cloud, resized_server)
    hosts = [first.compute_host, resized_server.compute_host, moved.compute_host]
    print(f"nova: {NAME} launched {created:%H:%M:%S} as {A} on {hosts[0]}, resized to {B} "
          f"{resized:%H:%M:%S} on {hosts[1]}, live-migrated {migrated:%H:%M:%S} to {hosts[2]}")

    # the driver's reading of nova's instance actions: each moment as nova recorded it
    with engine.session(estate) as s:
        seen = [h for h in s.driver.happened(since) if h.key == KEY]
    assert [h.action for h in seen] == ["create", "resize", "live-migration"], seen
    at = {h.action: h.at for h in seen}
    for action, nova in (("create", created), ("resize", resized),
                         ("live-migration", migrated)):
        print(f"  {action}: happened() {at[action]:%H:%M:%S}, nova's own {nova:%H:%M:%S}")
        assert abs((at[action] - nova).total_seconds()) <= 5, (action, at[action], nova)

    # nova's simple-tenant-usage charges the flavor it has now, from its launched_at, which
    # the resize reset: the hours it ran as A are not in it at all
    month = datetime.now(UTC).strftime("%Y-%m")
    project = moved.project_id
    before = datetime.now(UTC)
    shown = _osc("usage", "show", "--project", project, "--start", f"{month}-01",
                 "--end", f"{datetime.now(UTC) + timedelta(days=1):%Y-%m-%d}")
    after = datetime.now(UTC)
    nova_cpu = float(shown["CPU Hours"])
    least = SIZE[B][0] * (before - resized).total_seconds() / 3600
    most = SIZE[B][0] * (after - resized).total_seconds() / 3600
    life_at_b = SIZE[B][0] * (before - created).total_seconds() / 3600
    print(f"  openstack usage show: {nova_cpu:.2f} CPU hours = {B} since the resize "
          f"({least:.4f} to {most:.4f}); {B} for its whole life would be {life_at_b:.4f}")
    assert least - 0.005 <= nova_cpu <= most + 0.005
    detailed = [u for p in cloud.compute.usages(
        start=datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0,
                                        tzinfo=None),
        end=datetime.now(UTC).replace(microsecond=0, tzinfo=None), detailed=1)
        if p.project_id == project for u in p.server_usages or []]
    assert [(u.flavor, _when(u.started_at)) for u in detailed] == [(B, resized)]

    # govcloud's record (books/history): the live migration govcloud did not make is read
    # back from nova when usage is collected, dated by nova; the resize apply made too
    time.sleep(max(0.0, 30 - (datetime.now(UTC) - migrated).total_seconds()))
    looked = datetime.now(UTC)  # well after the move: a row dated when seen would show it
    collect = govcloud("usage", "collect", "--period", month, "-o", "json", estate=estate,
                       env=env())
    assert collect.returncode == 0, collect.stderr
    rows = _record(estate)
    assert [(r["flavor"], r["host"], r["source"]) for r in rows] == [
        (A, hosts[0], "apply"), (B, hosts[1], "apply"), (B, hosts[2], "collect")], rows
    assert (looked - rows[2]["at"]).total_seconds() >= 20
    for row, nova in zip(rows, (created, resized, migrated), strict=True):
        print(f"  record: {row['flavor']} on {row['host']} from {row['at']:%H:%M:%S} "
              f"({row['source']}); nova {nova:%H:%M:%S}")
        assert abs((row["at"] - nova).total_seconds()) <= 5, (row, nova)
        assert _hour(row["at"]) == _hour(nova)

    # billed by the hour from those moments (the documented rule, computed here): each state
    # from the hour it began; a later state takes the hour it happened in
    got = _usage(estate, month)
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = int(got[("_platform", "hours")])  # the window: the hours begun so far
    month_hours = _month_hours(start)
    slots = _slots([(created, A), (resized, B), (migrated, B)], start, end)
    for item, i in (("vcpu", 0), ("ram_gb", 1)):
        want = round(sum(SIZE[f][i] * n for f, n in slots) / month_hours, 6)
        print(f"  {item}: govcloud bills {got[(DEP, item)]} unit-months "
              f"({' + '.join(f'{SIZE[f][i]} x {n} h' for f, n in slots)} / {month_hours})")
        assert got[(DEP, item)] == pytest.approx(want, abs=1e-6), item
    # one server: one host running each hour from its creation's, the others idle
    running = sum(v for (d, item), v in got.items() if item.startswith("host_months:running"))
    assert running == pytest.approx((end - _index(created, start)) / month_hours, abs=1e-5)
    # nova's measured hours beside them: m1.medium since the resize, to the second
    asked = datetime.fromtimestamp(got[("_platform", "measured_to")], UTC)
    nova_hours = SIZE[B][0] * (asked - resized).total_seconds() / 3600
    print(f"  nova's vcpu_hours {got[(DEP, 'vcpu_hours')]:.4f} = {B} since the resize "
          f"({nova_hours:.4f}); govcloud's billed "
          f"{got[(DEP, 'vcpu')] * month_hours:.0f} vCPU-hours")
    assert got[(DEP, "vcpu_hours")] == pytest.approx(nova_hours, abs=0.002)


def _record(estate: Path) -> list[dict[str, Any]]:
    """The server's rows in the dated record, in order."""
    db = sqlite3.connect(estate / ".state" / "govcloud.db")
    out = []
    for at, body, source in db.execute("SELECT at, body, source FROM history WHERE "
                                       "subject = 'resource' AND key = ? ORDER BY at, seq",
                                       (KEY,)):
        b = json.loads(body)
        out.append({"at": _when(at), "flavor": b["flavor"], "host": b["host"],
                    "source": source})
    return out


def _usage(estate: Path, month: str) -> dict[tuple[str, str], float]:
    db = sqlite3.connect(estate / ".state" / "govcloud.db")
    return {(d, i): v for d, i, v in db.execute(
        "SELECT department, item, allocated FROM usage WHERE period = ?", (month,))}


def _hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _index(t: datetime, start: datetime) -> int:
    return int((_hour(t) - start).total_seconds()) // 3600


def _slots(states: list[tuple[datetime, str]], start: datetime, end: int
           ) -> list[tuple[str, int]]:
    """(flavor, hours) of each state: from the hour it began (never before the state
    before it) to the next state's, the last to the window's end."""
    begins: list[int] = []
    for t, _ in states:
        begins.append(max(_index(t, start), begins[-1] if begins else 0))
    ends = begins[1:] + [end]
    return [(f, e - b) for (_, f), b, e in zip(states, begins, ends, strict=True)]


def _month_hours(start: datetime) -> int:
    nxt = (start + timedelta(days=32)).replace(day=1)
    return int((nxt - start).total_seconds()) // 3600


def _state(cloud: Any, host: str) -> str:
    return str(next(s.state for s in cloud.compute.services(binary="nova-compute")
                    if s.host == host))


def _happened_to(estate: Path, host: str, since: datetime) -> list[Any]:
    from govcloud.applying import engine

    with engine.session(estate) as s:
        return [h for h in s.driver.happened(since) if h.subject == "host" and h.key == host]


def test_a_host_is_dated_only_when_its_nova_compute_stopped(cloud: Any,
                                                            estate_h20: Path) -> None:
    """Nova's compute services say whether a host is enabled, not since when (``updated_at``
    is the heartbeat of a running nova-compute): a host disabled by hand is not dated by the
    driver; a host whose nova-compute stopped (powered off) is dated by its last heartbeat,
    within nova's report_interval (10 s) of the stop."""
    services = {s.host: s for s in cloud.compute.services(binary="nova-compute")}
    host = max(services)  # testcloud-compute-N: the last one started
    number = host.rsplit("-", 1)[1]
    since = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    cloud.compute.disable_service(services[host], disabled_reason="h20: disabled by hand")
    try:
        assert _happened_to(estate_h20, host, since) == []
    finally:
        cloud.compute.enable_service(services[host])
    pid = int((TESTCLOUD_DIR / "run" / f"nova-compute-{number}.pid").read_text().split()[0])
    stopped = datetime.now(UTC)
    os.killpg(pid, signal.SIGTERM)
    try:
        deadline = time.monotonic() + 180  # nova calls it down service_down_time (60 s) on
        while _state(cloud, host) != "down":
            assert time.monotonic() < deadline, f"{host} is not reported down after 180 s"
            time.sleep(5)
        seen = _happened_to(estate_h20, host, since)
        print(f"nova-compute of {host} stopped {stopped:%H:%M:%S}; happened(): {seen}")
        assert [h.action for h in seen] == ["disable"]
        # the last heartbeat: up to report_interval before the stop, or during shutdown
        assert abs((seen[0].at - stopped).total_seconds()) <= 11, (seen[0].at, stopped)
    finally:
        up = subprocess.run([str(REPO / "testcloud" / "up")], capture_output=True, text=True,
                            timeout=900)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
