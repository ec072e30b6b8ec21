"""Chargeback: each department's share of the shared platform's cost for one month.

Pure, and exact to the fen. The platform's cost is a set of pools (``prices.yaml`` pools):
the shared hosts (amortisation and maintenance of every host owned; power of every host that
is on: those running servers and those idle but powered on, as the cloud reported them; a
host a consolidation parked, disabled and empty, draws none) and fixed monthly pools
(storage and backup, web platform, security, network, staff).
Each pool is split by its declared rule:

* ``usage``  — in proportion to each department's priced usage of the pool's items (units ×
  the rate card in force for the month). The capacity nobody uses is priced the same way and
  charged to no one: it is the pool's *idle* line, shown, not spread over departments.
* ``even``   — equal shares between the departments.
* ``weight`` — in proportion to declared weights.

Every pool's cost is rounded to the fen once, then divided with the largest-remainder method
(floor every share, hand the leftover fen to the largest remainders), so

    Σ department charges + idle = platform cost, exactly, for every pool and in total.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from govcloud.finance.period import Month
from govcloud.finance.pricebook import HOURS_PER_MONTH, ITEMS, Pool, PriceBook

FEN = Decimal("0.01")
ZERO = Decimal(0)
IDLE = "(idle)"
HOST_ITEMS = ("vcpu", "ram_gb", "disk_gb")


def fen(value: Decimal) -> Decimal:
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class HostClassSize:
    name: str
    vcpus: float
    ram_gb: float
    disk_gb: float


@dataclass(frozen=True)
class Platform:
    """The shared hosts: every host owned (zone → class → count), those running servers
    (``in_use``), those powered on with none (``idle_on``), those parked (``off``), the fewest
    the placement needs (``needed``), their sizes and allocation ratios (what one host can
    sell). ``needed`` None: not known (a month recorded before it was)."""

    owned: Mapping[str, Mapping[str, int]]
    in_use: Mapping[str, Mapping[str, int]]
    classes: Mapping[str, HostClassSize]
    cpu_ratio: float = 4.0
    ram_ratio: float = 1.0
    disk_ratio: float = 1.0
    idle_on: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    off: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    needed: Mapping[str, Mapping[str, int]] | None = None
    # Host-months powered on from the dated record, "running" and "idle" → class → months
    # (Σ hours in that state / hours in the month): what power is billed on. None: a month
    # recorded before the record, billed on the counts above × the fraction of the month.
    on_months: Mapping[str, Mapping[str, Decimal]] | None = None

    def owned_by_class(self) -> dict[str, int]:
        return _by_class(self.owned)

    def in_use_by_class(self) -> dict[str, int]:
        return _by_class(self.in_use)

    def idle_on_by_class(self) -> dict[str, int]:
        return _by_class(self.idle_on)

    def counts(self) -> dict[str, int] | None:
        """Hosts running, idle but on, parked, and needed (None: the needed count is not
        known)."""
        if self.needed is None:
            return None
        return {"running": sum(self.in_use_by_class().values()),
                "idle_on": sum(self.idle_on_by_class().values()),
                "off": sum(_by_class(self.off).values()),
                "needed": sum(_by_class(self.needed).values())}

    def capacity(self) -> dict[str, Decimal]:
        """Sellable vCPU, RAM and root disk of every owned host (physical × ratio)."""
        out = {item: ZERO for item in HOST_ITEMS}
        for cls, n in self.owned_by_class().items():
            c = self.classes[cls]
            out["vcpu"] += Decimal(str(c.vcpus * self.cpu_ratio)) * n
            out["ram_gb"] += Decimal(str(c.ram_gb * self.ram_ratio)) * n
            out["disk_gb"] += Decimal(str(c.disk_gb * self.disk_ratio)) * n
        return out

    @classmethod
    def of(cls, pool: Any, in_use: Mapping[str, Mapping[str, int]], hosts: Any = None,
           host_months: Mapping[str, Mapping[str, Mapping[str, float]]] | None = None
           ) -> Platform:
        """From the settings' HostPool and the hosts in use; ``hosts`` (a usage.HostCounts)
        adds the idle, parked and needed counts, ``host_months`` (state → zone → class →
        host-months, from the dated record) the hours each host was on."""
        on = None if host_months is None else {
            state: {c: _dec(n) for c, n in _by_class_float(host_months.get(state, {})).items()}
            for state in ("running", "idle")}
        return cls(owned={z: dict(c) for z, c in pool.hosts.items()},
                   in_use={z: dict(c) for z, c in in_use.items()},
                   classes={c.name: HostClassSize(c.name, c.vcpus, c.ram_gb, c.disk_gb)
                            for c in pool.classes},
                   cpu_ratio=pool.cpu_allocation_ratio, ram_ratio=pool.ram_allocation_ratio,
                   disk_ratio=pool.disk_allocation_ratio,
                   idle_on=dict(hosts.idle) if hosts is not None else {},
                   off=dict(hosts.off) if hosts is not None else {},
                   needed=dict(hosts.needed) if hosts is not None else None,
                   on_months=on)


def _by_class_float(zones: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for classes in zones.values():
        for cls, n in classes.items():
            out[cls] = round(out.get(cls, 0.0) + n, 6)
    return dict(sorted(out.items()))


def _by_class(zones: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for classes in zones.values():
        for cls, n in classes.items():
            out[cls] = out.get(cls, 0) + n
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class CostLine:
    """One line of a pool's cost, with the price line it came from."""

    label: str
    yuan: Decimal
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "yuan": str(self.yuan), "source": self.source}


@dataclass(frozen=True)
class PoolSplit:
    name: str
    rule: str
    cost: Decimal  # to the fen
    lines: tuple[CostLine, ...]
    basis: dict[str, Decimal]  # department (and IDLE) → weight used for the split
    shares: dict[str, Decimal]  # department → yuan
    idle: Decimal
    items: tuple[str, ...] = ()  # the billed items of a usage split

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "rule": self.rule, "cost": str(self.cost),
                "idle": str(self.idle), "items": list(self.items),
                "lines": [x.as_dict() for x in self.lines],
                "basis": {k: str(v) for k, v in self.basis.items()},
                "shares": {k: str(v) for k, v in self.shares.items()}}


@dataclass(frozen=True)
class DepartmentCharge:
    department: str
    usage: dict[str, float]
    list_value: Decimal  # usage × rate card, for reference
    by_pool: dict[str, Decimal]
    total: Decimal  # Σ by_pool + adjustment
    adjustment: Decimal = ZERO

    @property
    def shares(self) -> Decimal:
        """The department's shares of the pools: its charge before adjustments (what the
        savings compare with legacy cost; a credit is not a saving)."""
        return self.total - self.adjustment

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "usage": self.usage,
                "list_value": str(self.list_value),
                "by_pool": {k: str(v) for k, v in self.by_pool.items()},
                "adjustment": str(self.adjustment), "total": str(self.total)}


@dataclass(frozen=True)
class Adjustment:
    """A credit (negative) or debit (positive) on a department's charge, with why and who."""

    department: str
    yuan: Decimal
    reason: str
    by: str
    at: str

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "yuan": str(self.yuan), "reason": self.reason,
                "by": self.by, "at": self.at}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Adjustment:
        return cls(d["department"], Decimal(d["yuan"]), d["reason"], d["by"], d["at"])


@dataclass(frozen=True)
class Statement:
    """One month's chargeback. ``period`` is the month (written as YYYY-MM); ``month`` is
    the same value, by its older name."""

    period: Month
    departments: tuple[DepartmentCharge, ...]
    pools: tuple[PoolSplit, ...]
    rates: dict[str, tuple[Decimal, str]]  # item → (yuan per unit, source)
    platform_cost: Decimal
    idle: Decimal
    closed_at: str | None = None
    notes: tuple[str, ...] = field(default=())
    adjustments: tuple[Adjustment, ...] = field(default=())
    hours: tuple[int, int] | None = None  # hours run of the month's hours; None: all
    # Shared hosts running, idle but on, parked and needed (Platform.counts); None: unknown.
    hosts: dict[str, int] | None = None
    first_hour: int = 0  # hours of the month before the estate's record began: not counted

    @property
    def counted(self) -> tuple[int, int]:
        """(hours the figures count, hours in the month): the hours run since the estate's
        record began — the hours every pool, capacity and legacy cost is counted for."""
        run, full = self.hours or (self.period.hours,) * 2
        return max(run - self.first_hour, 0), full

    def hosts_note(self) -> str:
        """The real count of hosts beside the ideal one, and what to do about a gap."""
        h = self.hosts
        if not h:
            return ""
        on = h["running"] + h["idle_on"]
        text = (f"Shared hosts: {h['needed']} needed, {on} running ({h['running']} with "
                f"servers, {h['idle_on']} idle), {h['off']} parked (disabled, no power); "
                f"power is billed for the {on} running")
        if on > h["needed"]:
            return text + ": run govcloud consolidate --apply to free and park the rest."
        return text + "."

    def charge(self, department: str) -> Decimal:
        for d in self.departments:
            if d.department == department:
                return d.total
        return ZERO

    def as_dict(self) -> dict[str, Any]:
        return {"period": str(self.period), "platform_cost": str(self.platform_cost),
                "idle": str(self.idle), "closed_at": self.closed_at,
                "charged": str(sum((d.total for d in self.departments), ZERO)),
                "rates": {k: {"yuan": str(v), "source": s} for k, (v, s) in self.rates.items()},
                "departments": [d.as_dict() for d in self.departments],
                "pools": [p.as_dict() for p in self.pools], "notes": list(self.notes),
                "adjustments": [a.as_dict() for a in self.adjustments],
                "hours": list(self.hours) if self.hours else None, "hosts": self.hosts,
                **({"first_hour": self.first_hour} if self.first_hour else {})}

    @property
    def month(self) -> Month:
        return self.period

    @property
    def month_to_date(self) -> bool:
        return self.hours is not None and self.hours[0] < self.hours[1]

    def adjusted(self) -> Decimal:
        """Σ adjustments: credits and debits, neither usage nor platform cost."""
        return sum((a.yuan for a in self.adjustments), ZERO)

    def shared(self) -> Decimal:
        """What the pools charged departments: platform cost − idle (adjustments apart)."""
        return self.platform_cost - self.idle

    def billed(self) -> Decimal:
        """Σ department totals + idle = platform cost + adjustments."""
        return self.platform_cost + self.adjusted()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Statement:
        return cls(
            period=Month.parse(data["period"], "period"),
            departments=tuple(DepartmentCharge(
                d["department"], d["usage"], Decimal(d["list_value"]),
                {k: Decimal(v) for k, v in d["by_pool"].items()}, Decimal(d["total"]),
                Decimal(d.get("adjustment", "0")))
                for d in data["departments"]),
            pools=tuple(PoolSplit(
                p["name"], p["rule"], Decimal(p["cost"]),
                tuple(CostLine(x["label"], Decimal(x["yuan"]), x["source"]) for x in p["lines"]),
                {k: Decimal(v) for k, v in p["basis"].items()},
                {k: Decimal(v) for k, v in p["shares"].items()}, Decimal(p["idle"]),
                tuple(p.get("items", ())))
                for p in data["pools"]),
            rates={k: (Decimal(v["yuan"]), v["source"]) for k, v in data["rates"].items()},
            platform_cost=Decimal(data["platform_cost"]), idle=Decimal(data["idle"]),
            closed_at=data.get("closed_at"), notes=tuple(data.get("notes", ())),
            adjustments=tuple(Adjustment.from_dict(a) for a in data.get("adjustments", ())),
            hours=(data["hours"][0], data["hours"][1]) if data.get("hours") else None,
            hosts=data.get("hosts"), first_hour=int(data.get("first_hour") or 0))


def _dec(v: float | int | None) -> Decimal:
    """A quantity as an exact Decimal (whole numbers, the common case, without text)."""
    if not v:
        return ZERO
    if isinstance(v, int) or v.is_integer():
        return Decimal(int(v))
    return Decimal(str(v))


def split(total_fen: int, weights: Mapping[str, Decimal]) -> dict[str, int]:
    """Divide ``total_fen`` in proportion to ``weights`` into whole fen that add up exactly
    (largest remainder; ties go to the name that sorts first)."""
    names = list(weights)
    # Exact in integers: every weight as a fraction, over their least common denominator.
    ratios = [w.as_integer_ratio() for w in weights.values()]
    dens = {d for _, d in ratios}
    if len(dens) == 1:
        ints = [num for num, _ in ratios]
    else:
        den = math.lcm(*dens)
        ints = [num * (den // d) for num, d in ratios]
    total_w = sum(ints)
    if not names or total_w <= 0:
        raise ValueError("nothing to split over")
    parts = [divmod(total_fen * w, total_w) for w in ints]
    shares = [q for q, _ in parts]
    left = total_fen - sum(shares)
    if left:  # the leftover fen: one each to the largest remainders, ties to the first name
        rems = [r for _, r in parts]
        cut = sorted(rems, reverse=True)[left - 1]  # the smallest remainder that gets one
        above = [k for k, r in enumerate(rems) if r > cut]
        tied = sorted((names[k], k) for k, r in enumerate(rems) if r == cut)
        for k in above + [k for _, k in tied[:left - len(above)]]:
            shares[k] += 1
    return dict(zip(names, shares, strict=True))


def host_cost_lines(book: PriceBook, platform: Platform, month: Month,
                    fraction: Decimal = Decimal(1)) -> list[CostLine]:
    """The shared hosts' monthly cost: write-off and maintenance of every owned host, power
    of the hosts running servers and of those idle but powered on (each its own line); ×
    ``fraction`` (hours run / hours in the month) for a month to date."""
    lines = []
    part = "" if fraction == 1 else f" × {fraction:.6f} of the month"
    for cls, n in platform.owned_by_class().items():
        m = book.host_class(cls, month)
        if n:
            lines.append(CostLine(f"{cls} × {n} write-off ({m.purchase_yuan} / {m.years} years "
                                  f"/ 12){part}", m.purchase_yuan / m.years / 12 * n * fraction,
                                  str(m.source)))
            if m.maintenance_yuan_per_year:
                lines.append(CostLine(f"{cls} × {n} maintenance "
                                      f"({m.maintenance_yuan_per_year} a year / 12){part}",
                                      m.maintenance_yuan_per_year / 12 * n * fraction,
                                      str(m.source)))
        lines += _power_lines(book, platform, month, cls, m, fraction)
    return lines


def _power_lines(book: PriceBook, platform: Platform, month: Month, cls: str, m: Any,
                 fraction: Decimal) -> list[CostLine]:
    """Power of one class's hosts that were on: from the hours each was on (the dated
    record's host-months), or, for a month recorded before it, the hosts on when the month
    was collected × the fraction of the month run."""
    tariff, pue = book.tariff_for(month), book.pue_for(month)
    kwh = m.power_w * HOURS_PER_MONTH * pue.yuan / 1000
    source = f"{m.source}; {tariff.source}; {pue.source}"
    rule = f"power {m.power_w} W × {HOURS_PER_MONTH} h × PUE {pue.yuan} × {tariff.yuan} yuan/kWh"
    out = []
    if platform.on_months is not None:
        for state, what in (("running", "in use"), ("idle", "idle, powered on")):
            months = platform.on_months.get(state, {}).get(cls, ZERO)
            if months:
                out.append(CostLine(f"{cls}: {months} host-months {what}: {rule}",
                                    kwh * tariff.yuan * months, source))
        return out
    part = "" if fraction == 1 else f" × {fraction:.6f} of the month"
    for n, what in ((platform.in_use_by_class().get(cls, 0), "in use"),
                    (platform.idle_on_by_class().get(cls, 0), "idle, powered on")):
        if n:
            out.append(CostLine(f"{cls} × {n} {what}: {rule}{part}",
                                kwh * tariff.yuan * n * fraction, source))
    return out


@dataclass(frozen=True)
class MonthCharges:
    """A month in brief: each department's charge (adjustments included), the idle line and
    the platform's cost — what a span of months needs, without the pool-by-pool detail."""

    month: Month
    charges: dict[str, Decimal]
    idle: Decimal
    platform_cost: Decimal
    hours: tuple[int, int] | None = None
    closed: bool = False
    adjustments: Decimal = ZERO  # Σ adjustments, inside ``charges``
    first_hour: int = 0  # hours of the month before the estate's record began: not counted

    @classmethod
    def of(cls, s: Statement) -> MonthCharges:
        return cls(s.month, {d.department: d.total for d in s.departments}, s.idle,
                   s.platform_cost, s.hours, s.closed_at is not None, s.adjusted(),
                   s.first_hour)


@dataclass(frozen=True)
class _Split:
    """One pool's cost divided: whole fen per department (and IDLE)."""

    pool: Pool
    cost: Decimal
    lines: tuple[CostLine, ...]
    basis: dict[str, Decimal]
    fen: dict[str, int]


@dataclass(frozen=True)
class _Month:
    """What every pool's split starts from: the month's share of a month run, the rate card
    and each department's units and priced usage."""

    fraction: Decimal
    price: dict[str, Decimal]
    deps: list[str]
    qty: dict[str, dict[str, Decimal]]
    priced: dict[str, dict[str, Decimal]]
    member: dict[str, Decimal]  # months each department was in the estate (1: not recorded)

    @classmethod
    def of(cls, book: PriceBook, month: Month, usage: Mapping[str, Mapping[str, float]],
           hours: tuple[int, int] | None, first_hour: int = 0) -> _Month:
        rates = book.rates(month)
        price = {item: rates[item].yuan for item in ITEMS}
        deps = sorted(usage)
        qty = _quantities(usage, deps)
        # Priced once: the usage pools' weights and the list value.
        priced = {d: {i: q[i] * price[i] for i in ITEMS} for d, q in qty.items()}
        member = {d: _dec(usage[d]["member"]) if "member" in usage[d] else Decimal(1)
                  for d in deps}
        run, full = hours or (month.hours,) * 2
        counted = max(run - first_hour, 0)
        return cls(Decimal(counted) / Decimal(full) if counted != full else Decimal(1), price,
                   deps, qty, priced, member)


def _splits(book: PriceBook, month: Month, m: _Month, platform: Platform) -> list[_Split]:
    """Every pool's cost for the month (× the fraction run), split to the fen."""
    fraction = m.fraction
    host_cap = {k: v * fraction for k, v in platform.capacity().items()}
    out = []
    for pool in book.pools:
        if pool.cost == "hosts":
            lines = host_cost_lines(book, platform, month, fraction)
        else:
            p = book.pool_cost(pool, month)
            part = "" if fraction == 1 else f" × {fraction:.6f} of the month"
            lines = [CostLine(f"{pool.name} ({pool.description or 'fixed'}) a month{part}",
                              p.yuan * fraction, str(p.source))]
        cost = fen(sum((x.yuan for x in lines), ZERO))
        basis = _basis(pool, m, host_cap)
        if sum(basis.values(), ZERO) <= 0:
            basis = {IDLE: Decimal(1)}
        out.append(_Split(pool, cost, tuple(lines), basis, split(int(cost * 100), basis)))
    return out


def _adjusting(adjustments: tuple[Adjustment, ...]) -> dict[str, Decimal]:
    adjust: dict[str, Decimal] = {}
    for a in adjustments:
        adjust[a.department] = adjust.get(a.department, ZERO) + a.yuan
    return adjust


def chargeback(book: PriceBook, month: Month, usage: Mapping[str, Mapping[str, float]],
               platform: Platform, hours: tuple[int, int] | None = None,
               adjustments: tuple[Adjustment, ...] = (), first_hour: int = 0) -> Statement:
    """The month's statement: every pool split between departments and idle, to the fen.

    ``usage`` is in unit-months; ``hours`` (run, in the month) makes it a month to date: every
    pool's cost and the host capacity count for that fraction of the month. ``first_hour``:
    the hours before the estate's record began (in the month it began), not counted either:
    nothing ran then. Adjustments add to their department's total (charges + idle = platform
    cost + adjustments)."""
    m = _Month.of(book, month, usage, hours, first_hour)
    rates = book.rates(month)
    pools = [PoolSplit(x.pool.name, x.pool.rule, x.cost, x.lines, x.basis,
                       {d: Decimal(x.fen.get(d, 0)).scaleb(-2) for d in m.deps},
                       Decimal(x.fen.get(IDLE, 0)).scaleb(-2),
                       x.pool.items if x.pool.rule == "usage" else ())
             for x in _splits(book, month, m, platform)]
    charges = []
    adjust = _adjusting(adjustments)
    names = [p.name for p in pools]
    columns = [p.shares for p in pools]
    empty: dict[str, Any] = {}
    for d in sorted(set(m.deps) | set(adjust)):
        by_pool = {n: c.get(d, ZERO) for n, c in zip(names, columns, strict=True)}
        values = m.priced.get(d)
        list_value = fen(sum(values.values(), ZERO) if values else ZERO)
        extra = adjust.get(d, ZERO)
        u = usage.get(d, empty)
        charges.append(DepartmentCharge(d, {i: float(u.get(i, 0) or 0) for i in ITEMS},
                                        list_value, by_pool,
                                        sum(by_pool.values(), ZERO) + extra, extra))
    return Statement(month, tuple(charges), tuple(pools),
                     {i: (rates[i].yuan, str(rates[i].source)) for i in ITEMS},
                     sum((p.cost for p in pools), ZERO), sum((p.idle for p in pools), ZERO),
                     adjustments=tuple(adjustments), hours=hours, hosts=platform.counts(),
                     first_hour=first_hour)


def month_charges(book: PriceBook, month: Month, usage: Mapping[str, Mapping[str, float]],
                  platform: Platform, hours: tuple[int, int] | None = None,
                  adjustments: tuple[Adjustment, ...] = (), first_hour: int = 0
                  ) -> MonthCharges:
    """The month's charge per department, idle and platform cost: the same splits as
    ``chargeback`` (each total equal to its statement's, to the fen), without building the
    statement's detail — what a span of months reads."""
    m = _Month.of(book, month, usage, hours, first_hour)
    splits = _splits(book, month, m, platform)
    adjust = _adjusting(adjustments)
    charges: dict[str, Decimal] = {}
    if splits:
        columns = [x.fen for x in splits]
        for d in m.deps:
            charges[d] = Decimal(sum([c.get(d, 0) for c in columns])).scaleb(-2)
    for d, extra in adjust.items():
        charges[d] = charges.get(d, ZERO) + extra
    every = sorted(set(m.deps) | set(adjust))
    return MonthCharges(month, {d: charges.get(d, ZERO) for d in every},
                        sum((Decimal(x.fen.get(IDLE, 0)).scaleb(-2) for x in splits), ZERO),
                        sum((x.cost for x in splits), ZERO), hours,
                        adjustments=sum(adjust.values(), ZERO), first_hour=first_hour)


class _Exact(dict[float, Decimal]):
    """Number → exact Decimal, each distinct number converted once."""

    def __missing__(self, v: float) -> Decimal:
        q = self[v] = _dec(v)
        return q


def _quantities(usage: Mapping[str, Mapping[str, float]], deps: list[str]
                ) -> dict[str, dict[str, Decimal]]:
    """Department → item → units as exact Decimals."""
    exact = _Exact()
    return {d: {i: exact[usage[d].get(i, 0)] for i in ITEMS} for d in deps}


def _basis(pool: Pool, m: _Month, host_cap: dict[str, Decimal]) -> dict[str, Decimal]:
    """Each department's weight in the pool's split (and the idle line's, for a usage
    pool): even and weighted pools by the months each department was in the estate."""
    deps, qty, priced, price, fraction = m.deps, m.qty, m.priced, m.price, m.fraction
    if pool.rule == "even":
        return {d: m.member[d] for d in deps}
    if pool.rule == "weight":
        return {d: pool.weights.get(d, pool.default_weight) * m.member[d] for d in deps}
    items = pool.items
    if len(items) == 1:
        only = items[0]
        out = {d: priced[d][only] for d in deps}
    else:
        out = {d: sum([priced[d][i] for i in items], ZERO) for d in deps}
    idle = ZERO
    for i in items:
        cap = host_cap.get(i) if i in HOST_ITEMS else pool.capacity.get(i)
        if cap is not None and i not in HOST_ITEMS:
            cap = cap * fraction
        if cap is None:
            continue  # no declared capacity: the users carry all of it
        used = sum([qty[d][i] for d in deps], ZERO)
        idle += max(cap - used, ZERO) * price[i]
    out[IDLE] = idle
    return out


def check_invariant(s: Statement) -> None:
    """Raise AssertionError unless charges + idle = platform cost, pool by pool and in total."""
    for p in s.pools:
        got = sum(p.shares.values(), ZERO) + p.idle
        assert got == p.cost, f"pool {p.name}: {got} != {p.cost}"
    total = sum((d.total for d in s.departments), ZERO) + s.idle
    assert total == s.platform_cost + s.adjusted(), \
        f"{total} != {s.platform_cost} + adjustments {s.adjusted()}"
