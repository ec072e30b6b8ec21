"""The Prometheus exporter: per-department resources, quota, cost and savings, the last apply,
drift and host utilization, read fresh from the state store and the driver at every scrape.

``govcloud exporter --port 9464`` serves it; ``docs/grafana/govcloud.json`` is a dashboard
over these metrics.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from govcloud.drivers.base import Ability
from govcloud.errors import GovcloudError
from govcloud.finance import usage
from govcloud.placement import hosts as placement
from govcloud.runtime import accounts, engine
from govcloud.runtime import records as stored

log = logging.getLogger(__name__)

RESOURCES = {"vcpu": "vcpu", "ram_gb": "ram_gb", "disk_gb": "disk_gb", "volume_gb": "volume_gb",
             "website": "websites", "backup_gb": "backup_gb", "antivirus_seat": "antivirus_seats",
             "servers": "instances", "volumes": "volumes"}
QUOTA = {"instances": "instances", "cores": "vcpu", "ram_gb": "ram_gb", "volumes": "volumes",
         "volume_gb": "volume_gb", "websites": "websites"}


def _ts(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class EstateCollector(Collector):
    """Builds every metric family from one session at scrape time."""

    def __init__(self, session: engine.Session) -> None:
        self.s = session

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            yield from self._collect()
        except GovcloudError as exc:  # report, never crash the exporter
            log.warning("scrape incomplete: %s", exc.render())
            up = GaugeMetricFamily("govcloud_exporter_ok", "1 when the last scrape read "
                                   "everything, 0 when a part failed (see the log).")
            up.add_metric([], 0)
            yield up

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.s
        est = s.estate
        resources = s.driver.read()
        alloc = usage.allocations(resources)
        names = {d: p.department.name for d, p in est.plans.items()}

        g = GaugeMetricFamily("govcloud_department_allocated", "Resources allocated to a "
                              "department (units: vcpu, GiB, GB, count).",
                              labels=["department", "name", "resource"])
        for dep, items in sorted(alloc.items()):
            for item, res in RESOURCES.items():
                g.add_metric([dep, names.get(dep, dep), res], items.get(item, 0.0))
        yield g

        q = GaugeMetricFamily("govcloud_department_quota", "Quota granted to a department.",
                              labels=["department", "name", "resource"])
        for dep, p in sorted(est.plans.items()):
            for field, res in QUOTA.items():
                q.add_metric([dep, names[dep], res], float(getattr(p.quota, field)))
        yield q

        periods = stored.periods(s.store)
        latest = periods[-1] if periods else None
        u = GaugeMetricFamily("govcloud_department_used", "Measured use in the latest "
                              "collected month (sim samples or the cloud's usage API).",
                              labels=["department", "name", "resource", "period"])
        cost = GaugeMetricFamily("govcloud_department_monthly_cost_yuan", "The department's "
                                 "chargeback for the latest collected month, yuan.",
                                 labels=["department", "name", "period"])
        sav = GaugeMetricFamily("govcloud_department_savings_yuan", "Legacy cost minus "
                                "consolidated charge for the latest collected month, yuan.",
                                labels=["department", "name", "period"])
        plat = GaugeMetricFamily("govcloud_platform_cost_yuan", "The shared platform's cost "
                                 "for the month, split into charged and idle.",
                                 labels=["part", "period"])
        if latest:
            for dep, used in sorted(usage.used_by_department(
                    stored.load(s.store, latest)).items()):
                for item, res in RESOURCES.items():
                    v = used.get(item)
                    if v is not None:
                        u.add_metric([dep, names.get(dep, dep), res, latest], v)
            ledger = accounts.savings_for(est, s.store, latest)
            st = accounts.statement_for(est, s.store, latest)
            for charge in st.departments:
                label = [charge.department, names.get(charge.department, charge.department)]
                cost.add_metric([*label, latest], float(charge.total))
            for saved in ledger.departments:
                label = [saved.department, names.get(saved.department, saved.department)]
                sav.add_metric([*label, latest], float(saved.saving))
            plat.add_metric(["charged", latest], float(st.platform_cost - st.idle))
            plat.add_metric(["idle", latest], float(st.idle))
        yield u
        yield cost
        yield sav
        yield plat

        last = s.store.applies(1)
        t = GaugeMetricFamily("govcloud_last_apply_timestamp_seconds", "When the last apply "
                              "finished (started, while running), Unix time.")
        ok = GaugeMetricFamily("govcloud_last_apply_success", "1 when the last apply "
                               "succeeded, 0 when it failed or was interrupted.")
        if last:
            rec = last[0]
            t.add_metric([], _ts(rec.finished_at or rec.started_at))
            ok.add_metric([], 1.0 if rec.result == "ok" else 0.0)
        yield t
        yield ok

        drift = GaugeMetricFamily("govcloud_drift_count", "Out-of-band changes: the cloud "
                                  "against the last applied state.", labels=["department"])
        counts: dict[str, int] = {d: 0 for d in est.plans}
        for change in engine.drift(s):
            counts[change.department] = counts.get(change.department, 0) + 1
        for dep, n in sorted(counts.items()):
            drift.add_metric([dep], n)
        yield drift

        yield from self._hosts(resources)
        yield from self._backups()
        up = GaugeMetricFamily("govcloud_exporter_ok", "1 when the last scrape read "
                               "everything, 0 when a part failed (see the log).")
        up.add_metric([], 1)
        yield up

    def _hosts(self, resources: list[Any]) -> Iterator[GaugeMetricFamily]:
        pool = self.s.estate.settings.host_pool
        ratios = placement.Ratios.of(pool)
        hosts = {h.name: h for h in placement.pool_hosts(pool)}
        where = self.s.driver.servers_on_hosts() if self.s.driver.can(Ability.PLACEMENT) else {}
        used: dict[str, list[float]] = {}
        for r in resources:
            if r.kind != "server":
                continue
            host = where.get(r.key) or r.computed.get("host")
            if host in hosts:
                u = used.setdefault(host, [0.0, 0.0, 0.0])
                u[0] += r.attrs["vcpus"]
                u[1] += r.attrs["ram_gb"]
                u[2] += r.attrs["disk_gb"]
        g = GaugeMetricFamily("govcloud_host_utilization_ratio", "Share of a host's "
                              "allocatable capacity (physical × allocation ratio) allocated.",
                              labels=["host", "zone", "host_class", "resource"])
        for name, h in hosts.items():
            u = used.get(name, [0.0, 0.0, 0.0])
            caps = (h.vcpus * ratios.cpu, h.ram_gb * ratios.ram, h.disk_gb * ratios.disk)
            for res, val, cap in zip(("vcpu", "ram_gb", "disk_gb"), u, caps, strict=True):
                g.add_metric([name, h.zone, h.host_class, res], val / cap if cap else 0.0)
        yield g
        n = GaugeMetricFamily("govcloud_hosts", "Shared hosts per zone and class: owned, and "
                              "in use (holding at least one server).",
                              labels=["zone", "host_class", "state"])
        counts: dict[tuple[str, str, str], int] = {}
        for name, h in hosts.items():
            counts[(h.zone, h.host_class, "owned")] = \
                counts.get((h.zone, h.host_class, "owned"), 0) + 1
            key = (h.zone, h.host_class, "in_use")
            counts[key] = counts.get(key, 0) + (1 if name in used else 0)
        for (zone, cls, state), c in sorted(counts.items()):
            n.add_metric([zone, cls, state], c)
        yield n


    def _backups(self) -> Iterator[GaugeMetricFamily]:
        """Backup age, RPO breach, drill result and size per department and site, from the
        statuses the last ``govcloud report backup`` collected (age runs on with the clock)."""
        from govcloud.services import backup, playbooks, recovery

        saved = backup.load_statuses(playbooks.state_dir(self.s.estate, self.s.store)
                                     / "services" / backup.STATUS_FILE)
        rpo = {d: h for d, h in backup.rpo_hours(self.s.estate).items()
               if d in {st.department for st in saved}}
        rows = recovery.backup_report(saved, rpo, datetime.now(UTC))
        labels = ["department", "site"]
        age = GaugeMetricFamily("govcloud_backup_age_hours", "Hours since the newest snapshot "
                                "of the department at the site.", labels=labels)
        objective = GaugeMetricFamily("govcloud_backup_rpo_hours", "The department's recovery "
                                      "point objective, hours.", labels=["department"])
        breach = GaugeMetricFamily("govcloud_backup_rpo_breach", "1 when the site's newest "
                                   "snapshot is older than the RPO (or there is none).",
                                   labels=labels)
        drill = GaugeMetricFamily("govcloud_backup_drill_ok", "1 when the last restore drill "
                                  "at the site passed, 0 when it failed.", labels=labels)
        size = GaugeMetricFamily("govcloud_backup_repository_bytes", "Size of the "
                                 "department's repository at the site.", labels=labels)
        for dep, hours in sorted(rpo.items()):
            objective.add_metric([dep], hours)
        for r in rows:
            if r.age_hours is not None:
                age.add_metric([r.department, r.site], r.age_hours)
            breach.add_metric([r.department, r.site], 1.0 if r.breach else 0.0)
            if r.drill_ok is not None:
                drill.add_metric([r.department, r.site], 1.0 if r.drill_ok else 0.0)
            if r.size_bytes is not None:
                size.add_metric([r.department, r.site], r.size_bytes)
        yield from (age, objective, breach, drill, size)


def serve(root: Any, host: str, port: int) -> None:
    """Serve the metrics until interrupted."""
    from prometheus_client import CollectorRegistry, start_http_server

    with engine.session(root) as s:
        registry = CollectorRegistry()
        registry.register(EstateCollector(s))
        try:
            start_http_server(port, addr=host, registry=registry)
        except OSError as exc:
            raise GovcloudError(f"cannot listen on {host}:{port}: {exc.strerror}",
                                "choose a free port with --port") from exc
        while True:
            time.sleep(3600)
