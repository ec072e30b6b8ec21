"""consolidate --apply on the real test cloud: servers spread over the hypervisors as nova's
default spread would leave them are packed by live migration, the hosts freed are disabled
with the reason, and a run killed during a migration is finished by the next one. Every
claim is checked with plain openstacksdk, not with govcloud's own reading."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import _env, govcloud
from tests.support.testcloud import domain_of, env, os_estate, purge_domain

pytestmark = [pytest.mark.real, pytest.mark.openstack]

DEPARTMENTS = ("statistics", "civil-affairs")  # 7 servers, two anti-affinity pairs
REASON = "govcloud: consolidated "
KILLS = 5


_PROJECTS: dict[Path, set[str]] = {}


def _servers(cloud: Any, estate: Path) -> dict[str, Any]:
    """Server name -> server, for the estate's projects (one list call once they are known:
    the test polls, on a cloud other tests share)."""
    if estate not in _PROJECTS:
        domain = cloud.identity.find_domain(domain_of(estate))
        _PROJECTS[estate] = {p.id for p in cloud.identity.projects(domain_id=domain.id)}
    ids = _PROJECTS[estate]
    return {s.name: s for s in cloud.compute.servers(all_projects=True, details=True)
            if s.project_id in ids}


def _groups(cloud: Any, estate: Path) -> dict[str, list[str]]:
    """Anti-affinity group name -> its members' server ids."""
    domain = cloud.identity.find_domain(domain_of(estate))
    ids = {p.id for p in cloud.identity.projects(domain_id=domain.id)}
    return {g.name: list(g.member_ids or []) for g in
            cloud.compute.server_groups(all_projects=True) if g.project_id in ids}


def _computes(cloud: Any) -> dict[str, Any]:
    return {s.host: s for s in cloud.compute.services(binary="nova-compute")}


def _assert_apart(cloud: Any, estate: Path, groups: dict[str, list[str]]) -> None:
    by_id = {s.id: s for s in _servers(cloud, estate).values()}
    for name, members in groups.items():
        hosts = [by_id[m].compute_host for m in members if m in by_id]
        assert len(hosts) == len(set(hosts)), f"anti-affinity group {name} shares a host: " \
                                              f"{hosts}"


def _unpark(cloud: Any) -> None:
    """Enable the hosts a consolidation parked (other tests share the cloud's hosts)."""
    for svc in _computes(cloud).values():
        if svc.status == "disabled" and (svc.disabled_reason or "").startswith(REASON):
            cloud.compute.enable_service(svc)


FINAL = {"completed", "error", "failed", "cancelled", "done"}


def _settle(cloud: Any, estate: Path, timeout: float = 300) -> dict[str, Any]:
    """Wait until every server is ACTIVE with no task and no migration of theirs is still
    open. Nova makes a server ACTIVE on its new host (post_live_migration_at_destination)
    before the source marks the migration completed, so the server alone does not say the
    migration is over."""
    deadline = time.monotonic() + timeout
    while True:
        servers = _servers(cloud, estate)
        ids = {s.id for s in servers.values()}
        busy = {n: (s.status, s.task_state) for n, s in servers.items()
                if s.status != "ACTIVE" or s.task_state}
        if not busy:
            busy = {m.server_id: m.status for m in cloud.compute.migrations(
                migration_type="live-migration") if m.server_id in ids and m.status not in FINAL}
        if not busy:
            return servers
        assert time.monotonic() < deadline, busy
        time.sleep(1)


def _spread(cloud: Any, estate: Path, groups: dict[str, list[str]]) -> dict[str, str]:
    """Move the servers (plain openstacksdk live migrations) until every hypervisor runs as
    many of them as the others, give or take one, members of a group apart: how nova's
    default spread leaves an estate."""
    _unpark(cloud)
    hosts = sorted(h for h, s in _computes(cloud).items() if s.status == "enabled"
                   and s.state == "up")
    servers = _settle(cloud, estate)
    group_of = {m: g for g, ms in groups.items() for m in ms}
    where = {n: s.compute_host for n, s in servers.items()}
    moves: list[tuple[str, str]] = []
    while True:
        count = Counter(where.values())
        load = {h: count.get(h, 0) for h in hosts}
        full, empty = max(hosts, key=lambda h: (load[h], h)), min(hosts, key=lambda h: (load[h], h))
        if load[full] - load[empty] <= 1:
            break
        held = {group_of.get(servers[n].id) for n, h in where.items() if h == empty}
        name = next(n for n in sorted(where) if where[n] == full
                    and (group_of.get(servers[n].id) not in held
                         or group_of.get(servers[n].id) is None))
        moves.append((name, empty))
        where[name] = empty
    # servers of no group move at once; members one by one, in the order planned above
    for name in sorted({n for n, _ in moves if servers[n].id not in group_of}):
        if where[name] != servers[name].compute_host:
            cloud.compute.live_migrate_server(servers[name], host=where[name],
                                              block_migration="auto")
    _settle(cloud, estate)
    for name, target in moves:
        if servers[name].id in group_of:
            cloud.compute.live_migrate_server(servers[name], host=target, block_migration="auto")
            _settle(cloud, estate)
    got = {n: s.compute_host for n, s in _settle(cloud, estate).items()}
    assert got == where
    return got


def _live_migrations(cloud: Any, ids: set[str], since: str) -> Counter[str]:
    """Completed live migrations per server id started at or after ``since`` (nova's
    changes-since filters on the record's last update, which a migration started earlier
    can make when it completes)."""
    return Counter(m.server_id for m in cloud.compute.migrations(
        migration_type="live-migration", changes_since=since)
        if m.server_id in ids and m.status == "completed" and m.created_at[:19] >= since)


@pytest.fixture
def estate(tmp_path: Path, cloud: Any) -> Iterator[Path]:
    est = os_estate(tmp_path / "estate", DEPARTMENTS)
    try:
        yield est
    finally:
        _unpark(cloud)
        purge_domain(cloud, domain_of(est))


def _consolidate_killed(estate: Path, cloud: Any) -> int:
    """Start consolidate --apply and SIGKILL it while one of its migrations runs."""
    proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate),
                             "consolidate", "--apply", "--yes"], env=_env(env()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(s.status == "MIGRATING" for s in _servers(cloud, estate).values()):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.5)
    return proc.wait(timeout=60)


def test_consolidate_apply_frees_hosts_and_survives_kills(cloud: Any, estate: Path) -> None:
    timings: dict[str, float] = {}
    t = time.monotonic()
    govcloud("apply", "--yes", estate=estate, env=env(), check=True, timeout=900)
    timings["apply"] = time.monotonic() - t
    groups = _groups(cloud, estate)
    assert len(groups) == 2 and all(len(m) == 2 for m in groups.values())
    names = set(_settle(cloud, estate))
    ids = {s.id for s in _servers(cloud, estate).values()}
    assert len(names) == 7

    t = time.monotonic()
    spread = _spread(cloud, estate, groups)
    timings["spread"] = time.monotonic() - t
    assert len(set(spread.values())) >= 3

    planned = json.loads(govcloud("consolidate", "-o", "json", estate=estate, env=env(),
                                  check=True).stdout)
    assert planned["instance_migrations_count"] >= 1 and len(planned["released"]) >= 1, planned

    # one run to the end, watched from outside: anti-affinity holds at every moment
    t = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate),
                             "consolidate", "--apply", "--yes", "-o", "json"], env=_env(env()),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while proc.poll() is None:
        _assert_apart(cloud, estate, groups)
        time.sleep(0.5)
    out, err = proc.communicate()
    timings["consolidate --apply"] = time.monotonic() - t
    assert proc.returncode == 0, out + err
    result = json.loads(out)
    assert result["ok"] and len(result["done"]) == planned["instance_migrations_count"], result
    servers = _settle(cloud, estate)
    assert set(servers) == names  # none lost
    for step in result["done"]:
        assert servers[step["server"].split("/")[2]].compute_host == step["to"]
    in_use = {s.compute_host for s in servers.values()}
    assert len(in_use) <= len(set(spread.values())) - 1  # at least one host freed
    _assert_apart(cloud, estate, groups)
    computes = _computes(cloud)
    assert result["parked"] and not set(result["parked"]) & in_use
    today = datetime.now(UTC).date().isoformat()
    for host in result["parked"]:
        assert computes[host].status == "disabled"
        assert computes[host].disabled_reason == REASON + today
    floor = len(in_use)

    # killed during a migration, five times; each time the next run finishes the job
    for n in range(1, KILLS + 1):
        spread = _spread(cloud, estate, groups)
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        t = time.monotonic()
        assert _consolidate_killed(estate, cloud) == -signal.SIGKILL, f"kill {n}"
        finish = govcloud("consolidate", "--apply", "--yes", "-o", "json", estate=estate,
                          env=env(), timeout=600)
        timings[f"kill {n}: killed run + finishing run"] = time.monotonic() - t
        assert finish.returncode == 0, finish.stdout + finish.stderr
        assert json.loads(finish.stdout)["resumed"], finish.stdout
        servers = _settle(cloud, estate)
        assert set(servers) == names, f"kill {n}: servers lost"
        assert len({s.compute_host for s in servers.values()}) == floor, f"kill {n}"
        _assert_apart(cloud, estate, groups)
        # every server that changed host moved once, and no other server moved at all
        moved = _live_migrations(cloud, ids, since)
        changed = {servers[name].id for name, host in spread.items()
                   if servers[name].compute_host != host}
        assert moved == Counter(changed), f"kill {n}: {moved} for {changed}"
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})
