"""The sim driver: an embedded cloud kept in the state store.

Projects, quotas, networks, servers, volumes, websites and service settings are rows; servers
are placed on the settings' host pool by the placement engine, honouring allocation ratios,
headroom, zones and anti-affinity; quotas are enforced like nova's. ``GOVCLOUD_SIM_DELAY``
(seconds) makes every change take that long, so tests can interrupt an apply mid-way;
``GOVCLOUD_SIM_SPREAD=1`` makes it schedule as nova's default does (the host with the most
free RAM, ignoring the host govcloud asks for), to make the spread estates consolidation
starts from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

from govcloud.clock import now, stamp
from govcloud.core.desired import Resource
from govcloud.core.model import Settings
from govcloud.drivers.base import Ability, Driver, Happening, Rows, requested_host
from govcloud.errors import DriverError
from govcloud.finance.period import parse_time
from govcloud.placement import hosts as placement
from govcloud.placement.place import place_one

TABLE = """CREATE TABLE IF NOT EXISTS sim_resources (
    key TEXT PRIMARY KEY, department TEXT NOT NULL, kind TEXT NOT NULL, name TEXT NOT NULL,
    body TEXT NOT NULL, host TEXT, created_at TEXT NOT NULL)"""
HOSTS = """CREATE TABLE IF NOT EXISTS sim_hosts (
    name TEXT PRIMARY KEY, enabled INTEGER NOT NULL, reason TEXT NOT NULL)"""
# A department's servers are read on every server created or resized (its quota): without
# this index, a scan of the whole cloud each time (hours for a 2,000-department apply).
BY_DEPARTMENT = """CREATE INDEX IF NOT EXISTS sim_by_department
    ON sim_resources (department, kind)"""
RETIRED = """CREATE TABLE IF NOT EXISTS sim_retired (
    key TEXT NOT NULL, body TEXT NOT NULL, deleted_at TEXT NOT NULL,
    PRIMARY KEY (key, deleted_at))"""
# What the sim did when, like nova's instance actions and compute services: resizes,
# migrations and hosts enabled or disabled (the dated record reads them through happened()).
ACTIONS = """CREATE TABLE IF NOT EXISTS sim_actions (
    at TEXT NOT NULL, subject TEXT NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL)"""


class Member(NamedTuple):
    """What the quotas and addresses of a department need of one of its servers or volumes."""

    kind: str
    vcpus: float
    ram_gb: float
    size_gb: float
    address: str | None

    @classmethod
    def of(cls, res: Resource) -> Member:
        a = res.attrs
        return cls(res.kind, a.get("vcpus", 0), a.get("ram_gb", 0), a.get("size_gb", 0),
                   res.computed.get("address"))


class SimDriver(Driver):
    name = "sim"
    abilities = frozenset({Ability.RESIZE, Ability.PLACEMENT, Ability.MIGRATION,
                           Ability.HISTORY})

    def __init__(self, settings: Settings, store: Rows) -> None:
        self.store = store
        self.settings = settings
        self.pool = placement.pool_hosts(settings.host_pool)
        self.ratios = placement.Ratios.of(settings.host_pool)
        self.delay = float(os.environ.get("GOVCLOUD_SIM_DELAY", "0") or 0)
        self.spread = os.environ.get("GOVCLOUD_SIM_SPREAD", "") == "1"
        # What each host holds, the enabled hosts, the networks' subnets and each department's
        # servers and volumes: read once and then kept up to date by this driver's own
        # changes, so that no change reads the whole cloud (a change's cost would grow with
        # the estate: issue #24); read afresh after every read() and whenever a change fails.
        self._used: dict[str, placement.Usage] | None = None
        self._on: dict[str, placement.Host] | None = None  # enabled hosts, in pool order
        self._cidrs: set[str | None] | None = None
        self._cidr_from: dict[str, int] = {}  # pool -> the index below which all are taken
        self._members: dict[str, dict[str, Member]] = {}
        store.execute(TABLE)
        store.execute(BY_DEPARTMENT)
        store.execute(HOSTS)
        store.execute(RETIRED)
        store.execute(ACTIONS)

    # --- reading --------------------------------------------------------------------------
    def _forget(self) -> None:
        """Drop what is kept of the cloud: it is read afresh when next needed."""
        self._used = self._on = self._cidrs = None
        self._cidr_from = {}
        self._members = {}

    def read(self) -> list[Resource]:
        self._forget()
        rows = self.store.query("SELECT key, body FROM sim_resources ORDER BY key")
        return [self.store.resource("sim_resources", key, body) for key, body in rows]

    def read_by_department(self) -> Iterator[tuple[str, list[Resource]]]:
        """One query per department (the department index), so a reader holds one
        department's resources at a time, never the cloud's."""
        self._forget()
        departments = [d for (d,) in self.store.query(
            "SELECT DISTINCT department FROM sim_resources ORDER BY department")]
        for department in departments:
            rows = self.store.query("SELECT key, body FROM sim_resources WHERE department = ? "
                                    "ORDER BY key", (department,))
            yield department, [self.store.resource("sim_resources", key, body)
                               for key, body in rows]

    def retired(self, since: datetime) -> list[Resource]:
        rows = self.store.query("SELECT body, deleted_at FROM sim_retired WHERE deleted_at >= ? "
                                "ORDER BY key, deleted_at", (stamp(since),))
        return [Resource.from_dict(json.loads(body)) for body, _ in rows]

    def happened(self, since: datetime) -> list[Happening]:
        rows = self.store.query("SELECT at, subject, key, action FROM sim_actions WHERE at >= ? "
                                "ORDER BY at", (stamp(since),))
        return [Happening(parse_time(at), subject, key, action)
                for at, subject, key, action in rows]

    def _did(self, subject: str, key: str, action: str) -> None:
        self.store.execute("INSERT INTO sim_actions (at, subject, key, action) VALUES (?,?,?,?)",
                           (now(), subject, key, action))

    def servers_on_hosts(self) -> dict[str, str]:
        """Server key -> host name."""
        return dict(self.store.query(
            "SELECT key, host FROM sim_resources WHERE kind = 'server' AND host IS NOT NULL"))

    def hosts(self) -> list[placement.Host]:
        """The settings' host pool; a host disabled by set_host_enabled says so."""
        off = dict(self.store.query("SELECT name, reason FROM sim_hosts WHERE enabled = 0"))
        return [dataclasses.replace(h, enabled=False, disabled_reason=off[h.name])
                if h.name in off else h for h in self.pool]

    def set_host_enabled(self, host: str, enabled: bool, reason: str) -> None:
        self._known(host)
        with self._changing():
            self._on = None
            self.store.execute(
                "INSERT INTO sim_hosts (name, enabled, reason) VALUES (?,?,?) ON CONFLICT "
                "(name) DO UPDATE SET enabled = excluded.enabled, reason = excluded.reason",
                (host, 1 if enabled else 0, "" if enabled else reason))
            self._did("host", host, "enable" if enabled else "disable")

    def migrate(self, server_key: str, host: str) -> Resource:
        """Move a server to ``host`` (a live migration: it keeps running, its id and its
        volumes). Refused, not retryable, when it does not fit there."""
        self._known(host)
        self._pause()
        with self._changing():
            rows = self.store.query("SELECT body, host FROM sim_resources WHERE key = ? AND "
                                    "kind = 'server'", (server_key,))
            if not rows:
                raise DriverError(f"no server {server_key} to migrate",
                                  "run govcloud consolidate again: it reads where servers "
                                  "run now", retryable=False)
            server = self.store.resource("sim_resources", server_key, rows[0][0])
            source = rows[0][1]
            if source == host:
                return server  # already there: an earlier, interrupted run moved it
            used = self._usage()
            self._hold(source, server, -1)
            target = next(h for h in self.pool if h.name == host)
            if not placement.fits(self._demand(server), target,
                                  used.get(host, placement.Usage()), self.ratios):
                self._forget()
                raise DriverError(f"{server_key} does not fit on {host} (capacity, zone or "
                                  "anti-affinity)", "run govcloud consolidate again: it "
                                  "plans from where servers run now", retryable=False)
            moved = Resource(server.kind, server.department, server.name, server.attrs,
                             server.protected, {**server.computed, "host": host})
            self._write(moved, host)
            self._hold(host, server, +1)
            self._did("resource", server_key, "live-migration")
            return moved

    def _known(self, host: str) -> None:
        if not any(h.name == host for h in self.pool):
            raise DriverError(f"no host {host} in the sim cloud's pool",
                              "name a host of host_pool in govcloud.yaml", retryable=False)

    def _get(self, key: str) -> Resource | None:
        rows = self.store.query("SELECT body FROM sim_resources WHERE key = ?", (key,))
        return self.store.resource("sim_resources", key, rows[0][0]) if rows else None

    # --- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """One change, in one transaction; if it fails, host usage is read afresh. Its commit
        need not wait for the disk (``durable=False``): the sim stands for a cloud, whose
        durability is its own; govcloud's records of a change are committed apart."""
        try:
            with self.store.transaction(durable=False):
                yield
        except BaseException:
            self._forget()
            raise

    def create(self, res: Resource) -> Resource:
        self._pause()
        with self._changing():
            existing = self._get(res.key)
            if existing is not None:
                return existing  # idempotent: an earlier, interrupted run already made it
            self._require_parents(res)
            computed: dict[str, Any] = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, res.key)),
                                        "created_at": now()}
            host = None
            if res.kind == "server":
                self._check_quota(res)
                host = self._place(res, requested_host(res))
                computed["host"] = host
                address = self._allocate_address(res)
                if address:
                    computed["address"] = address
            elif res.kind == "volume":
                self._check_volume_quota(res)
            elif res.kind == "network":
                computed["cidr"] = self._allocate_cidr(res)
            made = Resource(res.kind, res.department, res.name, res.attrs, res.protected,
                            computed, res.roll)
            self._write(made, host)
            self._hold(host, res, +1)
            return made

    def update(self, before: Resource, after: Resource) -> Resource:
        self._pause()
        with self._changing():
            current = self._get(before.key)
            if current is None:
                raise DriverError(f"{before.key} is gone from the cloud",
                                  "run govcloud plan again: it will be created", retryable=False)
            host = current.computed.get("host")
            made = Resource(after.kind, after.department, after.name, after.attrs,
                            after.protected, current.computed)
            resized = any(after.attrs.get(k) != current.attrs.get(k)
                          for k in ("vcpus", "ram_gb", "disk_gb"))
            if after.kind == "server" and resized:
                # A resize: leave the old slot, find one that fits the new flavor.
                self.store.execute("UPDATE sim_resources SET host = NULL WHERE key = ?",
                                   (after.key,))
                self._hold(host, current, -1)
                self._check_quota(after, replacing=current)
                host = self._place(after)
                made.computed["host"] = host
                self._hold(host, after, +1)
                self._did("resource", after.key, "resize")
            self._write(made, host)
            return made

    def delete(self, res: Resource) -> None:
        self._pause()
        with self._changing():
            rows = self.store.query("SELECT body, host FROM sim_resources WHERE key = ?",
                                    (res.key,))
            if rows:  # kept, so usage bills it for the hours it lived
                gone = self.store.resource("sim_resources", res.key, rows[0][0])
                at = now()
                body = gone.as_dict()
                body["computed"] = {**gone.computed, "deleted_at": at}
                self.store.execute("INSERT INTO sim_retired (key, body, deleted_at) VALUES "
                                   "(?,?,?)", (res.key, json.dumps(body, sort_keys=True,
                                                                   ensure_ascii=False), at))
            self.store.execute("DELETE FROM sim_resources WHERE key = ?", (res.key,))
            self._members.get(res.department, {}).pop(res.key, None)
            if res.kind == "network":
                self._cidrs = None  # its subnet is free again
            if rows and rows[0][1]:
                self._hold(rows[0][1], self.store.resource("sim_resources", res.key,
                                                           rows[0][0]), -1)

    # --- internals ------------------------------------------------------------------------
    def _pause(self) -> None:
        if self.delay:
            time.sleep(self.delay)

    def _write(self, res: Resource, host: str | None) -> None:
        self.store.execute(
            "INSERT INTO sim_resources (key, department, kind, name, body, host, created_at) "
            "VALUES (?,?,?,?,?,?,?) ON CONFLICT (key) DO UPDATE SET body = excluded.body, "
            "host = excluded.host",
            (res.key, res.department, res.kind, res.name,
             json.dumps(res.as_dict(), sort_keys=True, ensure_ascii=False), host,
             res.computed.get("created_at", now())))
        if res.kind in ("server", "volume") and res.department in self._members:
            self._members[res.department][res.key] = Member.of(res)

    def _members_of(self, department: str) -> dict[str, Member]:
        """The department's servers and volumes (read once, then kept by ``_write``)."""
        members = self._members.get(department)
        if members is None:
            rows = self.store.query("SELECT key, body FROM sim_resources WHERE department = ? "
                                    "AND kind IN ('server', 'volume')", (department,))
            members = {key: Member.of(self.store.resource("sim_resources", key, body))
                       for key, body in rows}
            self._members[department] = members
        return members

    def _others(self, res: Resource, kind: str) -> list[Member]:
        """The department's other resources of ``kind`` (servers or volumes)."""
        return [m for key, m in self._members_of(res.department).items()
                if m.kind == kind and key != res.key]

    def _require_parents(self, res: Resource) -> None:
        if res.kind == "project":
            return
        if self._get(f"{res.department}/project/{res.department}") is None:
            raise DriverError(f"project {res.department} does not exist for {res.key}",
                              "the project is created first; re-run apply", retryable=True)
        if res.kind == "volume":
            server = res.attrs.get("server")
            if server and self._get(f"{res.department}/server/{server}") is None:
                raise DriverError(f"server {server} does not exist for volume {res.key}",
                                  "re-run apply", retryable=True)

    def _quota(self, department: str) -> dict[str, Any]:
        q = self._get(f"{department}/quota/{department}")
        return q.attrs if q else {}

    def _check_quota(self, res: Resource, replacing: Resource | None = None) -> None:
        quota = self._quota(res.department)
        if not quota:
            return
        servers = self._others(res, "server")
        cores = sum(s.vcpus for s in servers) + res.attrs["vcpus"]
        ram = sum(s.ram_gb for s in servers) + res.attrs["ram_gb"]
        count = len(servers) + 1
        over = []
        if count > quota["instances"]:
            over.append(f"instances {count} > {quota['instances']}")
        if cores > quota["cores"]:
            over.append(f"cores {cores} > {quota['cores']}")
        if ram > quota["ram_gb"]:
            over.append(f"ram_gb {ram:g} > {quota['ram_gb']}")
        if over:
            raise DriverError(f"department {res.department}: quota exceeded creating server "
                              f"{res.name}: {', '.join(over)}",
                              "raise the department's quota in its plan, or ask for less")

    def _check_volume_quota(self, res: Resource) -> None:
        quota = self._quota(res.department)
        if not quota:
            return
        sizes = [v.size_gb for v in self._others(res, "volume")]
        if len(sizes) + 1 > quota["volumes"] or sum(sizes) + res.attrs["size_gb"] > \
                quota["volume_gb"]:
            raise DriverError(f"department {res.department}: volume quota exceeded creating "
                              f"{res.name} ({res.attrs['size_gb']} GB)",
                              "raise quota.volumes / quota.volume_gb in the plan")

    def _usage(self) -> dict[str, placement.Usage]:
        if self._used is not None:
            return self._used
        used: dict[str, placement.Usage] = {}
        rows = self.store.query("SELECT key, body, host FROM sim_resources "
                                "WHERE kind = 'server' AND host IS NOT NULL")
        for key, body, host in rows:
            server = self.store.resource("sim_resources", key, body)
            self._add(used.setdefault(host, placement.Usage()), server, +1)
        self._used = used
        return used

    def _hold(self, host: str | None, server: Resource, sign: int) -> None:
        """Count a server placed on (+1) or taken off (-1) ``host`` in the usage kept."""
        if self._used is not None and host and server.kind == "server":
            u = self._used.setdefault(host, placement.Usage())
            self._add(u, server, sign)
            if sign < 0 and max(u.vcpus, u.ram_gb, u.disk_gb) < 1e-9 and not u.groups:
                del self._used[host]  # empty again, as a fresh read would find it

    @staticmethod
    def _add(u: placement.Usage, server: Resource, sign: int) -> None:
        attrs = server.attrs
        u.vcpus += sign * attrs["vcpus"]
        u.ram_gb += sign * attrs["ram_gb"]
        u.disk_gb += sign * attrs["disk_gb"]
        if attrs.get("server_group"):
            group = f"{server.department}/{attrs['server_group']}"
            if sign > 0:
                u.groups.add(group)
            else:
                u.groups.discard(group)

    @staticmethod
    def _demand(res: Resource) -> placement.Demand:
        group = res.attrs.get("server_group")
        return placement.Demand(res.key, res.department, res.attrs["zone"], res.attrs["vcpus"],
                                res.attrs["ram_gb"], res.attrs["disk_gb"],
                                f"{res.department}/{group}" if group else None)

    def _place(self, res: Resource, wanted: str | None = None) -> str:
        """The host asked for when it is an enabled host with room, else the fullest enabled
        host with room (as nova would with a host it cannot honour: the scheduler picks)."""
        demand = self._demand(res)
        used = self._usage()
        if self._on is None:
            self._on = {h.name: h for h in self.hosts() if h.enabled}
        enabled = self._on.values()
        if self.spread:  # nova's default: the most free RAM among the hosts that pass
            free = [(placement.capacity(h, self.ratios)[1]
                     - used.get(h.name, placement.Usage()).ram_gb, h.name) for h in enabled
                    if placement.fits(demand, h, used.get(h.name, placement.Usage()),
                                      self.ratios)]
            if free:
                return min(free, key=lambda t: (-t[0], t[1]))[1]
        asked = self._on.get(wanted) if wanted else None  # not a search of every host
        if asked and placement.fits(demand, asked, used.get(asked.name, placement.Usage()),
                                    self.ratios):
            return asked.name
        return place_one(demand, enabled, used, self.ratios)

    def _allocate_address(self, res: Resource) -> str | None:
        """The server's fixed address: the first free one from .10 up in its network's
        subnet (none when the server names no network the sim cloud holds)."""
        net = self._get(f"{res.department}/network/{res.attrs.get('network', '')}")
        if net is None or not net.computed.get("cidr"):
            return None
        taken = {s.address for s in self._others(res, "server")}
        for n, host in enumerate(ipaddress.ip_network(net.computed["cidr"]).hosts(), 1):
            if n >= 10 and str(host) not in taken:
                return str(host)
        raise DriverError(f"department {res.department}: its subnet {net.computed['cidr']} "
                          "has no free address", "remove servers, or ask for fewer")

    def _allocate_cidr(self, res: Resource) -> str:
        pool = ipaddress.ip_network(self.settings.networks[res.attrs["zone"]])
        if self._cidrs is None:
            self._cidrs = {self.store.resource("sim_resources", key, body).computed.get("cidr")
                           for key, body in self.store.query(
                               "SELECT key, body FROM sim_resources WHERE kind = 'network'")}
            self._cidr_from = {}
        # The first free /24 from the pool's start: those below _cidr_from are all taken.
        step, count = 1 << (pool.max_prefixlen - 24), 1 << max(0, 24 - pool.prefixlen)
        for i in range(self._cidr_from.get(str(pool), 0), count if pool.prefixlen <= 24 else 0):
            subnet = f"{pool.network_address + i * step}/24"
            if subnet not in self._cidrs:
                self._cidr_from[str(pool)] = i + 1
                self._cidrs.add(subnet)
                return subnet
        raise DriverError(f"department {res.department}: the {res.attrs['zone']} address pool "
                          f"{pool} is exhausted", f"widen networks.{res.attrs['zone']}")
