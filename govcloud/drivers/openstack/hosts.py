"""Nova's compute hosts as govcloud sees them, and moving servers between them (admin only).

A hypervisor becomes a :class:`Host`:

* its name is the compute service's ``host`` (what ``os-migrateLive`` and server create's
  ``host`` take);
* its zone is the ``govcloud_zone`` metadata of a host aggregate holding it, else its
  availability zone (nova's default: ``nova``; ``placement.cloud`` lets the estate's zones
  share such hosts);
* its class is the ``govcloud_class`` metadata of an aggregate (a class of the settings'
  ``host_pool``), else the ``host_pool`` class of the same vCPUs and RAM, else a name made of
  its size (``1000c-781g``) with cost weight 1;
* its size comes from placement's inventories: what can be allocated (total − reserved) ×
  placement's allocation ratio, expressed in the units the settings' ratios expect (divided
  by them), so the packer's ``size × settings ratio × headroom`` is the cloud's own allowance
  with govcloud's headroom on top;
* ``enabled`` is the compute service's status (a host whose nova-compute is down is reported
  disabled, with that as the reason).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from govcloud.core.desired import Resource
from govcloud.drivers.base import CONSOLIDATED
from govcloud.drivers.openstack.compute import WAIT_SECONDS, placement_warning
from govcloud.drivers.openstack.network import TAG, dept_of
from govcloud.errors import DriverError
from govcloud.placement.cloud import zone_map
from govcloud.placement.hosts import Host

ZONE_KEY = "govcloud_zone"  # aggregate metadata: the estate zone of the aggregate's hosts
CLASS_KEY = "govcloud_class"  # aggregate metadata: the host_pool class of its hosts
# How long a member of an anti-affinity group refused a host (NoValidHost) is asked again:
# nova's scheduler may still count a member that left the host (see migrate()).
GROUP_WAIT = float(os.environ.get("GOVCLOUD_OS_GROUP_WAIT", "150"))
REFUSED = ("the target must be up, enabled, have room and hold no other member of the "
           "server's anti-affinity group; see nova's logs (scheduler, conductor)")


class HostResources:
    """Mixed into OpenStackDriver: needs ``conn``, ``settings``, ``_lock``, ``_call``,
    ``_domain``, ``_as`` and ``_find_server``."""

    conn: Any
    settings: Any
    _lock: Any
    _call: Callable[..., Any]
    _domain: Callable[[], str]
    _as: Callable[[str], Any]
    _find_server: Callable[[Resource], Any]
    _resize_refusal: Callable[..., str | None]
    _hosts_cache: list[Host] | None = None

    # --- reading --------------------------------------------------------------------------
    def hosts(self) -> list[Host]:
        with self._lock:
            if self._hosts_cache is None:
                self._hosts_cache = self._call("read the compute hosts", "-", self._read_hosts)
            return list(self._hosts_cache)

    def _read_hosts(self) -> list[Host]:
        c = self.conn
        pool = self.settings.host_pool
        zone_of: dict[str, str] = {}
        class_of: dict[str, str] = {}
        az_of: dict[str, str] = {}
        for agg in c.compute.aggregates():
            md = agg.metadata or {}
            for h in agg.hosts or []:
                if md.get(ZONE_KEY):
                    zone_of[h] = md[ZONE_KEY]
                if md.get(CLASS_KEY):
                    class_of[h] = md[CLASS_KEY]
                if agg.availability_zone:
                    az_of[h] = agg.availability_zone
        inventories = {}
        for rp in c.placement.resource_providers():
            inventories[rp.id] = {i.resource_class: i for i in
                                  c.placement.resource_provider_inventories(rp)}
        classes = {cls.name: cls for cls in pool.classes}
        out = []
        for hv in c.compute.hypervisors(details=True):
            svc = hv.service_details or {}
            name = svc.get("host") or hv.name
            inv = inventories.get(hv.id, {})
            vcpus = _allocatable(inv.get("VCPU")) / pool.cpu_allocation_ratio
            ram_gb = _allocatable(inv.get("MEMORY_MB")) / 1024 / pool.ram_allocation_ratio
            disk_gb = _allocatable(inv.get("DISK_GB")) / pool.disk_allocation_ratio
            physical = (_total(inv.get("VCPU")), _total(inv.get("MEMORY_MB")) / 1024)
            cls = classes.get(class_of.get(name, ""))
            if cls is None:
                cls = next((k for k in pool.classes
                            if (k.vcpus, k.ram_gb) == physical), None)
            host_class = cls.name if cls else f"{physical[0]:g}c-{physical[1]:.0f}g"
            enabled = hv.status == "enabled" and hv.state == "up"
            reason = "" if enabled else (svc.get("disabled_reason") or "") \
                if hv.state == "up" else "nova-compute is down"
            out.append(Host(name, zone_of.get(name) or az_of.get(name) or "nova", host_class,
                            round(vcpus, 3), round(ram_gb, 3), round(disk_gb, 3),
                            cls.cost_weight if cls else 1.0, enabled, reason))
        return sorted(out, key=lambda h: h.name)

    def servers_on_hosts(self) -> dict[str, str]:
        def read() -> dict[str, str]:
            c = self.conn
            deps = {p.id: dept_of(p.tags) for p in c.identity.projects(domain_id=self._domain(),
                                                                       tags=TAG)}
            out = {}
            for s in c.compute.servers(details=True, all_projects=True, tags=TAG):
                dep = deps.get(s.project_id)
                if dep and (s.metadata or {}).get("gc-dept") == dep and s.compute_host:
                    out[f"{dep}/server/{s.name}"] = s.compute_host
            return out

        return dict(sorted(self._call("read where servers run", "-", read).items()))

    # --- moving ---------------------------------------------------------------------------
    def migrate(self, server_key: str, host: str) -> Resource:
        dep, kind, name = server_key.split("/", 2)
        if kind != "server":
            raise DriverError(f"{server_key} is not a server", "only servers migrate")
        res = Resource("server", dep, name, {})
        conn = self._as(dep)
        server = self._call(f"find server {name}", dep, lambda: self._find_server(res))
        if server is None:
            raise DriverError(f"{server_key} is gone from the cloud",
                              "run govcloud consolidate again to plan from what runs now")
        server = self._settled(conn, server, res)  # a migration a killed run left in flight
        grouped: bool | None = None
        deadline = time.monotonic() + GROUP_WAIT
        while server.compute_host != host:
            try:
                server = self._live_migrate(conn, server, res, host)
            except DriverError as exc:
                if "No valid host" not in str(exc) or exc.retryable:
                    raise
                if grouped is None:
                    grouped = any(server.id in (g.member_ids or []) and
                                  (g.policy or "") == "anti-affinity"
                                  for g in conn.compute.server_groups())
                # Nova's scheduler learns that a member left a host late (up to its
                # scheduler_instance_sync_interval, 120 s): until then the anti-affinity
                # filter refuses that host to the group's other members. Asked again.
                if not grouped or time.monotonic() > deadline:
                    raise
                time.sleep(10.0)
        return Resource("server", dep, name, {"zone": (server.metadata or {}).get("gc-zone")},
                        computed={"id": server.id, "host": server.compute_host,
                                  "status": server.status})

    def _live_migrate(self, conn: Any, server: Any, res: Resource, host: str) -> Any:
        """One live migration to ``host``, waited for; the server as it runs after it."""
        dep, name = res.department, res.name
        known = {m.id for m in self._migrations(server.id)}
        actions = {a.request_id for a in conn.compute.server_actions(server)}
        try:
            self._call(f"live-migrate {name} to {host}", dep, lambda: conn.compute
                       .live_migrate_server(server, host=host, block_migration="auto"))
        except DriverError as exc:
            if exc.retryable:
                raise
            raise DriverError(str(exc), REFUSED) from exc
        server = self._settled(conn, server, res)
        if server.compute_host != host:
            status = next((m.status for m in self._migrations(server.id)
                           if m.id not in known), "no migration record")
            cause = self._resize_refusal(conn, server, actions, "live-migration")
            # 'error': refused before it began (the scheduler's filters, a pre-check);
            # 'failed': it began and broke, which may pass
            refused = status == "error"
            raise DriverError(f"department {dep}: nova did not move {name} to {host}: it "
                              f"stays on {server.compute_host} (migration {status}"
                              + (f", {cause}" if cause else "") + ")",
                              REFUSED if refused else "the next run tries again",
                              retryable=not refused)
        return server

    def _settled(self, conn: Any, server: Any, res: Resource) -> Any:
        """The server once no task runs on it (ACTIVE); an ERROR server is reported."""
        deadline = time.monotonic() + WAIT_SECONDS
        server_id = server.id
        while True:
            s = self._call("read server", res.department, lambda: conn.compute
                           .get_server(server_id))
            if s.status == "ACTIVE" and not s.task_state:
                return s
            if s.status == "ERROR":
                fault = (s.fault or {}).get("message", "no fault message")
                raise DriverError(f"department {res.department}: server {res.name} is in "
                                  f"ERROR on {s.compute_host}: {fault}",
                                  "have an admin look at it (openstack server show "
                                  f"{server_id}); consolidation leaves it where it is")
            if time.monotonic() > deadline:
                raise DriverError(f"department {res.department}: server {res.name} still "
                                  f"{s.status} ({s.task_state}) after {WAIT_SECONDS:g}s",
                                  "check the cloud; the next run waits again", retryable=True)
            time.sleep(1.0)

    def _migrations(self, server_id: str) -> list[Any]:
        return list(self.conn.compute.migrations(server_id=server_id,
                                                 migration_type="live-migration"))

    def set_host_enabled(self, host: str, enabled: bool, reason: str) -> None:
        c = self.conn
        found = [s for s in self._call("read compute services", "-", lambda: list(
            c.compute.services(binary="nova-compute", host=host))) if s.host == host]
        if not found:
            raise DriverError(f"no nova-compute service on host {host}",
                              "check the host's name (openstack compute service list)")
        svc = found[0]
        if enabled:
            if svc.status == "enabled":
                return
            if not (svc.disabled_reason or "").startswith(CONSOLIDATED):
                raise DriverError(f"host {host} was disabled by someone else (reason: "
                                  f"{svc.disabled_reason or 'none given'}); govcloud only "
                                  "enables the hosts it disabled",
                                  "enable it yourself (openstack compute service set --enable "
                                  f"{host} nova-compute) if it is meant to take servers")
            self._call(f"enable host {host}", "-", lambda: c.compute.enable_service(svc))
        else:
            if svc.status == "disabled" and svc.disabled_reason == reason:
                return
            self._call(f"disable host {host}", "-",
                       lambda: c.compute.disable_service(svc, disabled_reason=reason))
        with self._lock:
            self._hosts_cache = None

    # --- placing a new server -------------------------------------------------------------
    def _host_for(self, res: Resource, wanted: str | None) -> tuple[str | None, str | None]:
        """The host to ask nova for (compute API 2.74 ``host``) and no warning; or no host and
        the warning why, when the packer's choice is not an enabled hypervisor serving the
        server's zone."""
        if not wanted:
            return None, None
        zone = str(res.attrs.get("zone"))
        hosts = {h.name: h for h in self.hosts()}
        h = hosts.get(wanted)
        if h is None or not h.enabled:
            why = "is not a hypervisor of the cloud" if h is None else \
                f"is disabled ({h.disabled_reason or 'no reason given'})"
            return None, placement_warning(res, f"host {wanted} {why}")
        serving = zone_map([zone], [x for x in hosts.values() if x.enabled])[zone]
        if h.zone != serving:
            return None, placement_warning(res, f"host {wanted} is in zone {h.zone}, not in "
                                                f"{serving} that serves zone {zone}")
        return wanted, None


def _allocatable(inv: Any) -> float:
    if inv is None:
        return 0.0
    return float((inv.total - (inv.reserved or 0)) * (inv.allocation_ratio or 1.0))


def _total(inv: Any) -> float:
    return float(inv.total) if inv is not None else 0.0
