"""A dynamic estate's dated record, generated (seeded): N departments over a year in which
every department changes about ``changes`` times a month — servers resized, migrated,
created and deleted, volumes grown, websites added and removed, its legacy inventory edited
— some departments joining and others leaving mid-month, and every month some hosts parked
mid-month by a consolidation and woken at the start of the next. The rows are the state
store's ``history`` table (docs/architecture.md; issue #20's contract), as the sim driver,
apply and consolidate append them; chargeback.py writes them into a store and times the
year-to-date report over them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

FLAVORS = [("m1.small", 1, 2, 20), ("m1.medium", 2, 4, 40), ("m1.large", 4, 8, 80),
           ("m1.xlarge", 8, 16, 160), ("r1.large", 4, 32, 80), ("r1.xlarge", 8, 64, 160)]
LEGACY = ["tower-2u", "rack-1u", "rack-2u", "rack-4u-db", "blade"]
ZONE, CLASSES = "intranet", ("x86-2s-std", "x86-2s-mem")
Row = tuple[int, str, str, str, str, str | None, str, str]


def settings(departments: int) -> dict[str, Any]:
    """govcloud.yaml of the estate: a host pool that holds its servers with room to spare
    (~7.5 a department of ~21 GB RAM each on average: RAM is what fills a host)."""
    std = max(4, departments * 9 // 20 + 4)
    return {
        "estate": "dated-benchmark", "cloud": {"driver": "sim"},
        "state": {"url": "sqlite:///.state/govcloud.db"},
        "host_pool": {"cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0,
                      "disk_allocation_ratio": 1.0, "headroom": 1.0,
                      "classes": [{"name": "x86-2s-std", "vcpus": 48, "ram_gb": 384,
                                   "disk_gb": 7680},
                                  {"name": "x86-2s-mem", "vcpus": 48, "ram_gb": 768,
                                   "disk_gb": 7680}],
                      "hosts": {ZONE: {"x86-2s-std": std, "x86-2s-mem": max(2, std // 4)}}},
        "catalogue": {"flavors": [{"name": n, "vcpus": v, "ram_gb": r, "disk_gb": d}
                                  for n, v, r, d in FLAVORS],
                      "images": [{"name": "debian-12"}],
                      "website_suffixes": ["example.gov.cn"]},
        "prices": "prices.yaml",
    }


def host_names(s: dict[str, Any]) -> list[str]:
    return [f"{ZONE}-{cls}-{i:02d}" for cls, n in sorted(s["host_pool"]["hosts"][ZONE].items())
            for i in range(1, n + 1)]


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # govcloud.clock.stamp's format


@dataclass
class Record:
    """The rows being generated, and each subject's body now (to derive the next)."""

    hosts: list[str]  # those servers are placed on (a consolidation parks the others)
    rng: random.Random
    rows: list[Row] = field(default_factory=list)
    now: dict[str, dict[str, Any]] = field(default_factory=dict)
    mine: dict[str, set[str]] = field(default_factory=dict)  # department → its keys now

    def put(self, at: datetime, subject: str, key: str, dep: str,
            body: dict[str, Any] | None, source: str = "apply") -> None:
        text = None if body is None else json.dumps(body, sort_keys=True)
        when = stamp(at)
        self.rows.append((len(self.rows) + 1, when, subject, key, dep, text, source, when))
        if subject != "resource":
            return
        if body is None:
            self.now.pop(key, None)
            self.mine.get(dep, set()).discard(key)
        else:
            self.now[key] = body
            self.mine.setdefault(dep, set()).add(key)

    def server(self, at: datetime, dep: str, name: str, flavor: tuple[Any, ...] | None = None
               ) -> None:
        f = flavor or self.rng.choice(FLAVORS)
        self.put(at, "resource", f"{dep}/server/{name}", dep, {
            "kind": "server", "flavor": f[0], "vcpus": f[1], "ram_gb": f[2], "disk_gb": f[3],
            "antivirus": True, "backup": self.rng.random() < 0.7, "zone": ZONE,
            "host": self.rng.choice(self.hosts)}, "sim")

    def plan(self, at: datetime, dep: str, n: int) -> None:
        rng = self.rng
        legacy = {"servers": [{"class": rng.choice(LEGACY), "count": rng.randint(1, 12)}],
                  "admin_staff": rng.choice([0, 0.5, 1, 2]),
                  "antivirus_yuan_per_year": rng.choice([0, 6000, 18000]),
                  "websites": rng.randint(0, 2)}
        self.put(at, "plan", dep, dep, {
            "digest": f"sha256:{rng.getrandbits(64):016x}", "file": f"plans/{dep}.yaml",
            "name": f"部门{n}", "name_en": f"Department {n}", "cost_centre": f"CC-{n}",
            "legacy": legacy, "lines": {"legacy.servers.0": 30}})


def join(r: Record, at: datetime, dep: str, n: int) -> None:
    """A department joins: its project, services, plan, servers, volumes and sites."""
    rng = r.rng
    r.put(at, "resource", f"{dep}/project/{dep}", dep, {"kind": "project"})
    r.put(at, "resource", f"{dep}/antivirus/{dep}", dep, {"kind": "antivirus", "enabled": True})
    r.put(at, "resource", f"{dep}/backup/{dep}", dep, {"kind": "backup", "enabled": True})
    r.plan(at, dep, n)
    for i in range(rng.randint(3, 12)):
        r.server(at, dep, f"s{i}")
        if rng.random() < 0.3:
            r.put(at, "resource", f"{dep}/volume/s{i}-data", dep, {
                "kind": "volume", "size_gb": rng.choice([100, 200, 500, 1500]),
                "server": f"s{i}"})
    for i in range(rng.randint(0, 2)):
        r.put(at, "resource", f"{dep}/website/w{i}.example.gov.cn", dep,
              {"kind": "website", "storage_gb": rng.randint(1, 30)})


def leave(r: Record, at: datetime, dep: str) -> None:
    """A department leaves: every resource gone, its plan with it."""
    for key in sorted(r.mine.get(dep, ())):
        r.put(at, "resource", key, dep, None)
    r.put(at, "plan", dep, dep, None)


def change(r: Record, at: datetime, dep: str, n: int) -> None:
    """One change to a department, chosen at random."""
    rng = r.rng
    keys = sorted(r.mine.get(dep, ()))
    mine = [k for k in keys if k.startswith(f"{dep}/server/")]
    what = rng.choices(["resize", "migrate", "create", "delete", "volume", "site", "legacy"],
                       [30, 30, 12, 10, 10, 5, 3])[0]
    if what in ("resize", "migrate", "delete") and mine:
        key = rng.choice(sorted(mine))
        body = dict(r.now[key])
        if what == "resize":
            f = rng.choice(FLAVORS)
            body.update(flavor=f[0], vcpus=f[1], ram_gb=f[2], disk_gb=f[3])
        elif what == "migrate":
            body["host"] = rng.choice(r.hosts)
        r.put(at, "resource", key, dep, None if what == "delete" else body,
              "consolidate" if what == "migrate" else "apply")
        volume = f"{dep}/volume/{key.rsplit('/', 1)[1]}-data"
        if what == "delete" and volume in r.now:  # a server's volume goes with it
            r.put(at, "resource", volume, dep, None)
    elif what == "volume":
        vols = [k for k in keys if k.startswith(f"{dep}/volume/")]
        if vols:
            key = rng.choice(vols)
            r.put(at, "resource", key, dep, {**r.now[key],
                                            "size_gb": r.now[key]["size_gb"] + 100})
    elif what == "site":
        key = f"{dep}/website/extra.example.gov.cn"
        r.put(at, "resource", key, dep, None if key in r.now else
              {"kind": "website", "storage_gb": rng.randint(1, 30)})
    elif what == "legacy":
        r.plan(at, dep, n)
    else:
        r.server(at, dep, f"n{rng.getrandbits(32):08x}")


def year(departments: int, months: int, changes: int, seed: int = 20
         ) -> tuple[dict[str, Any], list[Row]]:
    """govcloud.yaml's settings and the history rows of ``months`` months from January
    2026: a tenth of the departments join after January, a tenth leave before the end."""
    rng = random.Random(seed)
    s = settings(departments)
    names = host_names(s)
    r = Record(names[:len(names) - len(parked(names))], rng)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    firsts = [datetime(2026 + (m // 12), m % 12 + 1, 1, tzinfo=UTC) for m in range(months + 1)]
    joins = {f"dep-{i:04d}": start if i % 10 or months == 1 else
             firsts[rng.randrange(months)] + timedelta(hours=rng.randrange(24 * 27))
             for i in range(departments)}
    leaves = {dep: firsts[rng.randrange(1, months + 1) - 1] + timedelta(
        hours=rng.randrange(24 * 27)) for i, dep in enumerate(sorted(joins)) if i % 10 == 3}
    events: list[tuple[datetime, int, str, str]] = []
    for dep, at in joins.items():
        events.append((at, 0, "join", dep))
        if dep in leaves and leaves[dep] > at:
            events.append((leaves[dep], 2, "leave", dep))
    for m in range(months):
        span = int((firsts[m + 1] - firsts[m]).total_seconds()) // 60
        for dep in joins:
            for _ in range(changes):
                events.append((firsts[m] + timedelta(minutes=rng.randrange(span)), 1,
                               "change", dep))
    events.sort()
    gone: set[str] = set()
    numbers = {dep: i + 1 for i, dep in enumerate(sorted(joins))}
    for at, _, what, dep in events:
        if what == "join":
            join(r, at, dep, numbers[dep])
        elif what == "leave":
            leave(r, at, dep)
            gone.add(dep)
        elif dep not in gone and f"{dep}/project/{dep}" in r.now:
            change(r, at, dep, numbers[dep])
    park(r, parked(names), firsts[:months])
    return s, r.rows


def parked(names: list[str]) -> list[str]:
    """The hosts a consolidation parks every month: the last tenth, where no server runs."""
    return names[-max(1, len(names) // 10):]


def park(r: Record, hosts: list[str], firsts: list[datetime]) -> None:
    """Every month a consolidation parks ``hosts`` on the 15th at noon, and the next
    month's first apply wakes them."""
    for first in firsts:
        for name in hosts:
            cls = name.split("-", 1)[1].rsplit("-", 1)[0]
            body = {"zone": ZONE, "class": cls}
            r.put(first.replace(day=15, hour=12), "host", name, "",
                  {**body, "enabled": False}, "consolidate")
            r.put((first + timedelta(days=32)).replace(day=1, hour=0), "host", name, "",
                  {**body, "enabled": True}, "apply")
