"""An independent reference for govcloud's finance figures, written from the documented rules
(README, docs/architecture.md, the docstrings of the finance modules) in plain Decimal. It
imports nothing of govcloud: only the estate's YAML, the timeline of applies the test made,
and the shared hosts the cloud reported on: running servers, and idle but powered on (inputs,
measured like usage).

Rules:
- A month has days × 24 hours; a resource counts from the hour it was created (down) to the
  hour it was deleted (up), within the month. A department's quantity of an item is
  Σ units × hours / hours in the month, rounded to 6 decimals.
- Items: vcpu, ram_gb, disk_gb of servers; antivirus_seat per server; volume_gb of volumes;
  backup_gb = volume GB of servers (backup on) + storage GB of websites; website per site.
- Prices in force for a month: the last entry whose ``from`` is not after it; ``changes``
  override fields from their month on.
- Pools: hosts = Σ owned hosts × (purchase / years / 12 + maintenance / 12) + Σ hosts that are
  on (running servers, or idle but powered on; a parked host is off) × power W × 730 h × PUE /
  1000 × tariff; fixed pools their yuan a month; each rounded to the
  fen (half up). Usage split: weights are Σ quantity × unit price over the pool's items, and
  idle = Σ max(capacity − Σ quantity, 0) × price over items with a capacity (host items:
  owned hosts × size × allocation ratio). Even: 1 each. Weight: declared or the default.
  Shares: floor of fen × weight / Σ weights, leftover fen to the largest remainders (ties:
  the name that sorts first; the idle line is "(idle)").
- A department's total = Σ its shares + its adjustments.
- Legacy a month, each line rounded to the fen: per legacy class count × purchase / years /
  12, count × W × 730 × legacy PUE / 1000 × tariff, count × maintenance / 12; admin FTE ×
  staff a year / 12; own antivirus / 12; own backup / 12; own websites × website cost / 12.
  Saving = legacy − (total − adjustments): an adjustment is neither usage nor a saving;
  estate saving = Σ legacy − Σ shares − idle (= Σ legacy − platform cost).
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

FEN = Decimal("0.01")
HOURS_A_MONTH = Decimal(730)
ITEMS = ("vcpu", "ram_gb", "disk_gb", "volume_gb", "website", "backup_gb", "antivirus_seat")


def d(v: Any) -> Decimal:
    return Decimal(str(v))


def fen(v: Decimal) -> Decimal:
    return v.quantize(FEN, rounding=ROUND_HALF_UP)


def month_bounds(period: str) -> tuple[datetime, datetime]:
    y, m = (int(x) for x in period.split("-"))
    start = datetime(y, m, 1, tzinfo=UTC)
    return start, start + timedelta(days=calendar.monthrange(y, m)[1])


def hours_between(a: datetime, b: datetime) -> int:
    return max(int((b - a).total_seconds()) // 3600, 0)


def billed_hours(period: str, created: datetime, deleted: datetime | None) -> int:
    start, end = month_bounds(period)
    lo = max(start, created.replace(minute=0, second=0, microsecond=0))
    hi = end
    if deleted is not None:
        up = deleted.replace(minute=0, second=0, microsecond=0)
        if up != deleted:
            up += timedelta(hours=1)
        hi = min(end, up)
    return hours_between(lo, hi)


def in_force(entries: list[dict[str, Any]], period: str, key: str = "yuan") -> Decimal:
    found = None
    for e in sorted(entries, key=lambda e: e["from"]):
        if e["from"] <= period:
            found = e
    assert found is not None, (entries, period)
    return d(found[key])


def as_of(base: dict[str, Any], period: str) -> dict[str, Decimal]:
    out = {k: d(v) for k, v in base.items() if k != "changes" and not isinstance(v, list | dict)}
    for c in sorted(base.get("changes", []), key=lambda c: c["from"]):
        if c["from"] <= period:
            out.update({k: d(v) for k, v in c.items() if k != "from"})
    return out


@dataclass
class Life:
    """One resource's life: who, what units, from when to when."""

    department: str
    units: dict[str, Decimal]
    created: datetime
    deleted: datetime | None


def lives(timeline: list[tuple[datetime, dict[str, dict[str, Any]]]],
          flavors: dict[str, dict[str, Any]]) -> list[Life]:
    """Resources' lives from the plans applied at each instant (plans: department → plan)."""
    alive: dict[str, Life] = {}
    out: list[Life] = []
    for when, plans in timeline:
        now: dict[str, tuple[str, dict[str, Decimal]]] = {}
        for dep, plan in plans.items():
            for s in plan.get("servers", []):
                f = flavors[s["flavor"]]
                n = s.get("count", 1)
                for name in [s["name"]] + [f"{s['name']}-{i}" for i in range(2, n + 1)]:
                    now[f"{dep}/server/{name}"] = (dep, {
                        "vcpu": d(f["vcpus"]), "ram_gb": d(f["ram_gb"]),
                        "disk_gb": d(f["disk_gb"]), "antivirus_seat": Decimal(1)})
                    if s.get("volume_gb"):
                        now[f"{dep}/volume/{name}"] = (dep, {
                            "volume_gb": d(s["volume_gb"]), "backup_gb": d(s["volume_gb"])})
            for w in plan.get("websites", []):
                now[f"{dep}/website/{w['domain']}"] = (dep, {
                    "website": Decimal(1), "backup_gb": d(w.get("storage_gb", 0))})
        for key in list(alive):
            if key not in now:
                alive[key].deleted = when
                out.append(alive.pop(key))
        for key, (dep, units) in now.items():
            if key not in alive:
                alive[key] = Life(dep, units, when, None)
    return out + list(alive.values())


def quantities(period: str, all_lives: list[Life]) -> dict[str, dict[str, Decimal]]:
    start, end = month_bounds(period)
    month_hours = Decimal(hours_between(start, end))
    raw: dict[str, dict[str, Decimal]] = {}
    for life in all_lives:
        h = billed_hours(period, life.created, life.deleted)
        q = raw.setdefault(life.department, {i: Decimal(0) for i in ITEMS})
        for item, u in life.units.items():
            q[item] += u * h / month_hours
    return {dep: {i: v.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
                  for i, v in q.items()} for dep, q in raw.items()}


def split(total_fen: int, weights: dict[str, Decimal]) -> dict[str, int]:
    """Largest remainder, in exact fractions (Decimal division would round the remainders
    of large shares more coarsely than those of small ones)."""
    total = sum((Fraction(w) for w in weights.values()), Fraction(0))
    out: dict[str, int] = {}
    rems = []
    for name, w in weights.items():
        exact = Fraction(total_fen) * Fraction(w) / total
        out[name] = math.floor(exact)
        rems.append((exact - out[name], name))
    for _, name in sorted(rems, key=lambda t: (-t[0], t[1]))[:total_fen - sum(out.values())]:
        out[name] += 1
    return out


def chargeback(period: str, prices: dict[str, Any], settings: dict[str, Any],
               qty: dict[str, dict[str, Decimal]], on: dict[str, int],
               adjustments: dict[str, Decimal]) -> dict[str, Any]:
    """``on``: host class → hosts powered on (running servers or idle)."""
    rate = {i: in_force(prices["units"][i], period) for i in ITEMS}
    tariff = in_force(prices["power"]["tariff"], period, "yuan_per_kwh")
    pue = as_of(prices["power"], period)["pue"]
    pool = settings["host_pool"]
    owned: dict[str, int] = {}
    for zone in pool["hosts"].values():
        for cls, n in zone.items():
            owned[cls] = owned.get(cls, 0) + n
    sizes = {c["name"]: c for c in pool["classes"]}
    ratio = {"vcpu": d(pool.get("cpu_allocation_ratio", 4.0)),
             "ram_gb": d(pool.get("ram_allocation_ratio", 1.0)),
             "disk_gb": d(pool.get("disk_allocation_ratio", 1.0))}
    host_cap = {i: sum((d(sizes[c][{"vcpu": "vcpus"}.get(i, i)]) * ratio[i] * n
                        for c, n in owned.items()), Decimal(0)) for i in ratio}
    deps = sorted(qty)
    pools = {}
    for p in prices["pools"]:
        if p.get("cost", "fixed") == "hosts":
            cost = Decimal(0)
            for cls, n in owned.items():
                m = as_of(prices["host_classes"][cls], period)
                cost += m["purchase_yuan"] / m["years"] / 12 * n
                cost += m.get("maintenance_yuan_per_year", Decimal(0)) / 12 * n
                cost += m["power_w"] * HOURS_A_MONTH * pue / 1000 * tariff * on.get(cls, 0)
        else:
            cost = in_force(p["yuan_per_month"], period)
        cost = fen(cost)
        if p["rule"] == "even":
            weights = {dep: Decimal(1) for dep in deps}
        elif p["rule"] == "weight":
            weights = {dep: d(p.get("weights", {}).get(dep, p.get("default_weight", 1)))
                       for dep in deps}
        else:
            weights = {dep: sum((qty[dep][i] * rate[i] for i in p["items"]), Decimal(0))
                       for dep in deps}
            idle = Decimal(0)
            for i in p["items"]:
                cap = host_cap.get(i) if i in host_cap else \
                    (d(p["capacity"][i]) if i in p.get("capacity", {}) else None)
                if cap is not None:
                    idle += max(cap - sum((qty[dep][i] for dep in deps), Decimal(0)),
                                Decimal(0)) * rate[i]
            weights["(idle)"] = idle
        if sum(weights.values(), Decimal(0)) <= 0:
            weights = {"(idle)": Decimal(1)}
        parts = split(int(cost * 100), weights)
        pools[p["name"]] = {"cost": cost,
                            "shares": {dep: Decimal(parts.get(dep, 0)) / 100 for dep in deps},
                            "idle": Decimal(parts.get("(idle)", 0)) / 100}
    totals = {dep: sum((p["shares"][dep] for p in pools.values()), Decimal(0))
              + adjustments.get(dep, Decimal(0)) for dep in deps}
    return {"pools": pools, "totals": totals,
            "platform_cost": sum((p["cost"] for p in pools.values()), Decimal(0)),
            "idle": sum((p["idle"] for p in pools.values()), Decimal(0))}


def legacy(period: str, prices: dict[str, Any], plan: dict[str, Any]) -> Decimal:
    lg = plan.get("legacy", {})
    tariff = in_force(prices["power"]["tariff"], period, "yuan_per_kwh")
    legacy_pue = as_of(prices["power"], period)["legacy_pue"]
    staff = as_of(prices["staff"], period)
    total = Decimal(0)
    for s in lg.get("servers", []):
        n = Decimal(s["count"])
        if not n:
            continue
        m = as_of(prices["legacy_classes"][s["class"]], period)
        total += fen(m["purchase_yuan"] / m["years"] / 12 * n)
        total += fen(m["power_w"] * HOURS_A_MONTH * legacy_pue / 1000 * tariff * n)
        if m.get("maintenance_yuan_per_year"):
            total += fen(m["maintenance_yuan_per_year"] / 12 * n)
    if lg.get("admin_staff"):
        total += fen(d(lg["admin_staff"]) * staff["admin_yuan_per_year"] / 12)
    for key in ("antivirus_yuan_per_year", "backup_yuan_per_year"):
        if lg.get(key):
            total += fen(d(lg[key]) / 12)
    site = staff.get("legacy_website_yuan_per_year", Decimal(0))
    if lg.get("websites") and site:
        total += fen(Decimal(lg["websites"]) * site / 12)
    return total


def unit_costs(period: str, prices: dict[str, Any], qty: dict[str, dict[str, Decimal]],
               month: dict[str, Any]) -> dict[str, dict[str, Decimal]]:
    """Per item: its cost after the shared pools and what departments paid, from the rule in
    the unit-cost report: a usage pool's cost (idle included) and its idle divided between
    its items by Σ units × list price; the other pools (and usage pools nobody used) spread
    over the items in proportion to what the usage pools gave them (none: to their priced
    usage); each split by largest
    remainder to the fen. ``month`` is this module's chargeback of the month."""
    rate = {i: in_force(prices["units"][i], period) for i in ITEMS}
    units = {i: sum((q[i] for q in qty.values()), Decimal(0)) for i in ITEMS}
    cost = {i: Decimal(0) for i in ITEMS}
    idle = {i: Decimal(0) for i in ITEMS}
    later = []
    for p in prices["pools"]:
        got = month["pools"][p["name"]]
        weights = {i: units[i] * rate[i] for i in p.get("items", [])} \
            if p["rule"] == "usage" else {}
        if sum(weights.values(), Decimal(0)) <= 0:
            later.append(got)
            continue
        for i, f in split(int(got["cost"] * 100), weights).items():
            cost[i] += Decimal(f) / 100
        for i, f in split(int(got["idle"] * 100), weights).items():
            idle[i] += Decimal(f) / 100
    direct = {i: v for i, v in cost.items() if v > 0} or \
        {i: units[i] * rate[i] for i in ITEMS if units[i] * rate[i] > 0}
    for got in later:
        for i, f in split(int(got["cost"] * 100), direct).items():
            cost[i] += Decimal(f) / 100
        if got["idle"]:
            for i, f in split(int(got["idle"] * 100), direct).items():
                idle[i] += Decimal(f) / 100
    return {i: {"units": units[i], "cost": cost[i], "paid": cost[i] - idle[i]}
            for i in ITEMS if units[i] or cost[i]}
