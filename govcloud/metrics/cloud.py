"""The cloud as the exporter reads it: a department at a time, for each one its allocations,
its servers' share of the hosts and its drift against its applied state and its plan.

A rendering holds one department's resources, applied rows and desired resources at once,
never the estate's: at 10,000 departments the cloud's resources, the applied state and the
desired state held together were the exporter's peak (1.4 GB of estate_gen's shape). What is
kept across departments is small: the allocations and drift counts per department, the use
per host, and the applied state's keys (read by department from them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from govcloud.core.desired import Resource, department_resources
from govcloud.core.drift import Drift, find_drift
from govcloud.drivers.base import Ability
from govcloud.finance import usage
from govcloud.placement import hosts as placement


@dataclass
class Cloud:
    """What a rendering keeps of the cloud: per department its allocations and its drift
    count, per host what its servers use (vCPU, RAM GiB, disk GB); or why drift could not be
    found (raised where the drift family comes, so the page up to it is served as before)."""

    allocated: dict[str, dict[str, float]]
    on_hosts: dict[str, list[float]]
    drift: dict[str, int]
    drift_failed: Exception | None = None

    def count_drift(self, changes: list[Drift]) -> None:
        for change in changes:
            self.drift[change.department] = self.drift.get(change.department, 0) + 1


def read_cloud(session: Any) -> Cloud:
    """The cloud of ``session`` (an ``engine.EstateSession``) read with
    ``Driver.read_by_department``; drift found per department (the cloud's resources against
    the department's applied rows and its plan's resources: what ``find_drift`` finds over
    the whole estate, department by department)."""
    s = session
    pool = {h.name for h in placement.pool_hosts(s.estate.settings.host_pool)}
    where = s.driver.servers_on_hosts() if s.driver.can(Ability.PLACEMENT) else {}
    applied = AppliedByDepartment(s.store)
    cloud = Cloud({}, {}, {d: 0 for d in s.estate.plans})
    for dep, resources in s.driver.read_by_department():
        cloud.allocated.update(usage.allocations(resources))
        _count_on_hosts(cloud.on_hosts, resources, where, pool)
        _drift_of(cloud, s.estate, dep, resources, applied)
    for dep in applied.departments():  # applied, and none of it left in the cloud
        _drift_of(cloud, s.estate, dep, [], applied)
    return cloud


def _drift_of(cloud: Cloud, estate: Any, dep: str, resources: list[Resource],
              applied: AppliedByDepartment) -> None:
    if cloud.drift_failed is not None:
        return
    try:
        plan = estate.plans.get(dep)
        desired = ({r.key: r for r in department_resources(plan, estate)}
                   if plan is not None else {})
        cloud.count_drift(find_drift(resources, applied.of(dep), desired))
    except Exception as exc:  # noqa: BLE001 - raised with the drift family (Cloud)
        cloud.drift_failed = exc


def _count_on_hosts(used: dict[str, list[float]], resources: list[Resource],
                    where: dict[str, str], pool: set[str]) -> None:
    """Add the servers among ``resources`` to the vCPU, RAM and disk of the pool's host each
    runs on (the driver's placement, else what the server says)."""
    for r in resources:
        if r.kind != "server":
            continue
        host = where.get(r.key) or r.computed.get("host")
        if host in pool:
            u = used.setdefault(host, [0.0, 0.0, 0.0])
            u[0] += r.attrs["vcpus"]
            u[1] += r.attrs["ram_gb"]
            u[2] += r.attrs["disk_gb"]


class AppliedByDepartment:
    """The last applied state's keys by department; :meth:`of` reads one department's rows
    by their keys (the primary key: no index on the department, no collation, is needed) and
    forgets its keys, so :meth:`departments` is then those never asked for."""

    CHUNK = 500  # keys per query (SQLite's oldest limit on parameters is 999)

    def __init__(self, store: Any) -> None:
        self.store = store
        self.keys: dict[str, list[str]] = {}
        for key, dep in store.query("SELECT key, department FROM applied"):
            self.keys.setdefault(dep, []).append(key)

    def of(self, dep: str) -> Mapping[str, Resource]:
        keys = self.keys.pop(dep, [])
        rows: dict[str, Any] = {}
        for start in range(0, len(keys), self.CHUNK):
            chunk = keys[start:start + self.CHUNK]
            rows.update(self.store.query("SELECT key, body FROM applied WHERE key IN "
                                         f"({', '.join('?' * len(chunk))})", chunk))
        return _Rows(self.store, rows)

    def departments(self) -> list[str]:
        """The departments not asked for yet."""
        return sorted(self.keys)


class _Rows(Mapping[str, Resource]):
    """Applied rows as ``find_drift`` reads them: each decoded when asked for (a damaged row
    is DamagedState, as ``Store.applied`` says it)."""

    def __init__(self, store: Any, rows: dict[str, Any]) -> None:
        self.store, self.rows = store, rows

    def __getitem__(self, key: str) -> Resource:
        return self.store.resource("applied", key, self.rows[key])  # type: ignore[no-any-return]

    def __iter__(self) -> Iterator[str]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)
