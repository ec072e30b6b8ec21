"""A second computation of govcloud's finance from the dated record (issue #20), written from
the contract (/work/tools/history-spec.md as kept in docs/operators.md and
docs/architecture.md) and the finance modules' documented rules, in exact ``Fraction``
arithmetic. It imports nothing of govcloud: it reads the state store's ``history`` and
``adjustments`` tables with sqlite3, and ``govcloud.yaml`` and ``prices.yaml`` with yaml, and
works every figure out from the intervals itself — not from the ``usage`` rows collect writes.

The rules it follows (each a sentence of the contract or of a finance module's docstring):

- A subject's state at time t is the body of its row with the greatest (at, seq), at <= t;
  a NULL body is gone. A state therefore holds from its ``at`` to the next row's ``at``; a
  state that holds for no time (two rows at the same instant) is no state.
- Hours (finance/history.py's documented rule): a subject's state begins at the hour it
  happened in (down) and takes that whole hour from the state before; its going (deleted,
  left) counts the hour under way (up); a state with no hour left yields to the next. So a
  resource's hours are those of its whole life, hour begun to hour ended, split between its
  states, none billed twice. The window is the month, or up to the end of the hour under
  way. (The contract's first wording, "an interval [start, end) occupies floor(start) to
  ceil(end)", would bill the hour of a resize at both sizes.)
- A department's quantity of an item = Σ units × slots / hours in the month, to 6 decimals
  (half to even: exact ties do not occur). Items: a server's vcpus, ram_gb, disk_gb; an
  antivirus seat when the server has antivirus and the department's antivirus is enabled;
  its volumes' size as backup_gb when the server has backup and the department's backup is
  enabled; volume_gb of a volume; 1 website per site, and its storage as backup_gb when the
  department's backup is enabled. Flags are read at the start of the interval counted
  (the generated estates never toggle them mid-month). ``member`` = the project's slots /
  hours in the month.
- Hosts: every host of govcloud.yaml's pool (``<zone>-<class>-NN``); in a slot a host is
  running when a server state occupying the slot is on it, else idle when an enabled state
  of it occupies the slot (a host never recorded is enabled), else off.
- The hosts pool: every owned host's write-off and maintenance a month × the part of the
  month in the window, plus (running + idle host-months) × W × 730 h × PUE / 1000 × tariff;
  fixed pools their yuan a month × the part of the month; each pool rounded to the fen once
  (half up).
- Splits: usage — Σ quantity × unit price over the pool's items, idle = Σ max(capacity ×
  part of the month − Σ quantity, 0) × price (host items: owned × size × allocation ratio);
  even — ``member``; weight — weight × ``member`` (no member row: 1). Largest remainder to
  the fen, ties to the name that sorts first, the idle line named "(idle)".
- A department's charge = Σ its shares + its adjustments.
- Savings: for each plan state, its legacy lines a month (as savings.py lists them) × the
  slots in which both that plan state and the department's project held / hours in the month,
  each line to the fen; the consolidated figure is the charge without adjustments; saving =
  legacy − consolidated; the estate's saving = Σ legacy − Σ consolidated − idle.
- Unit costs: the unitcost.py rule (usage pools by priced units, the others by what the
  usage pools gave each item), every split by largest remainder to the fen.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

ITEMS = ("vcpu", "ram_gb", "disk_gb", "volume_gb", "website", "backup_gb", "antivirus_seat")
HOST_ITEMS = {"vcpu": ("vcpus", "cpu_allocation_ratio"),
              "ram_gb": ("ram_gb", "ram_allocation_ratio"),
              "disk_gb": ("disk_gb", "disk_allocation_ratio")}
IDLE = "(idle)"
HOUR = 3600
ZERO = Fraction(0)


def q(value: Any) -> Fraction:
    """A YAML or JSON number, exactly as written."""
    return Fraction(str(value))


def to_fen(value: Fraction) -> Fraction:
    """Half up, to the fen."""
    cents = value * 100
    whole = math.floor(cents)
    return Fraction(whole + (1 if cents - whole >= Fraction(1, 2) else 0), 100)


def six(value: Fraction) -> Fraction:
    """To 6 decimals, half to even."""
    scaled = value * 10**6
    return Fraction(round(scaled), 10**6)


def money(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP)


CANONICAL = "%Y-%m-%dT%H:%M:%S.%fZ"


def canonical(text: str) -> str:
    """A stamp in one format (with microseconds, UTC), so that stamps compare as text."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return t.replace(tzinfo=t.tzinfo or UTC).astimezone(UTC).strftime(CANONICAL)


def hour_of(text: str, up: bool = False) -> int:
    """The hour slot a stamp falls in (rounded up with ``up``), as hours since the epoch."""
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    secs = t.replace(tzinfo=t.tzinfo or UTC).timestamp()
    return -int(-secs // HOUR) if up else int(secs // HOUR)


@dataclass(frozen=True)
class Window:
    """Hour slots [first, last) of a month that the figures cover; ``hours`` in the month."""

    period: str
    first: int
    last: int
    hours: int

    @classmethod
    def of(cls, period: str, now: str) -> Window:
        y, m = int(period[:4]), int(period[5:])
        first = hour_of(f"{y:04d}-{m:02d}-01T00:00:00Z")
        nxt = hour_of(f"{y + m // 12:04d}-{m % 12 + 1:02d}-01T00:00:00Z")
        return cls(period, first, min(nxt, hour_of(now) + 1), nxt - first)

    @property
    def part(self) -> Fraction:
        return Fraction(self.last - self.first, self.hours)

    def slots(self, start: int, end: int | None) -> range:
        return range(max(start, self.first), min(self.last if end is None else end, self.last))


@dataclass(frozen=True)
class State:
    """One subject's state from ``at`` until the next row's ``until`` (None: it still
    holds), over the hour slots [first, end) (``_states`` says which)."""

    at: str
    until: str | None
    body: dict[str, Any]
    first: int
    end: int | None

    def holds_at(self, stamp: str) -> bool:
        return self.at <= stamp and (self.until is None or stamp < self.until)


def _states(entries: list[tuple[str, int, str | None]]) -> list[State]:
    """One subject's states, from its rows in (at, seq) order, with their hour slots: a
    state begins at the hour it happened in (down) and takes that whole hour from the state
    before; going (a NULL body) ends the last state at the end of the hour under way (up);
    no state begins before the one before it began (a row read back late), and a state left
    with no hour yields to the next."""
    marks: list[tuple[str, int, str | None]] = []  # (at, first hour, body)
    alive = False
    for at, _, body in entries:
        h = hour_of(at, up=alive and body is None)
        if marks and h < marks[-1][1]:
            h = marks[-1][1]
        marks.append((at, h, body))
        alive = body is not None
    out = []
    for i, (at, h, body) in enumerate(marks):
        if body is None:
            continue
        nxt = marks[i + 1] if i + 1 < len(marks) else None
        out.append(State(at, None if nxt is None else nxt[0], json.loads(body), h,
                         None if nxt is None else nxt[1]))
    return out


@dataclass
class Record:
    """The dated record: every subject's states, oldest first."""

    states: dict[tuple[str, str], list[State]] = field(default_factory=dict)
    department: dict[tuple[str, str], str] = field(default_factory=dict)
    # (department, kind) → resource keys: the lookups of a department's settings and project
    kinds: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, db: Path) -> Record:
        con = sqlite3.connect(db)
        try:
            rows = con.execute("SELECT seq, at, subject, key, department, body FROM history"
                               ).fetchall()
        finally:
            con.close()
        return cls.of(rows)

    @classmethod
    def of(cls, rows: Iterable[tuple[int, str, str, str, str, str | None]]) -> Record:
        by: dict[tuple[str, str], list[tuple[str, int, str | None]]] = {}
        rec = cls()
        for seq, at, subject, key, dep, body in rows:
            by.setdefault((subject, key), []).append((canonical(at), seq, body))
            rec.department[(subject, key)] = dep
        for sk, entries in by.items():
            entries.sort()
            rec.states[sk] = out = _states(entries)
            if sk[0] == "resource" and out:
                kind = out[0].body.get("kind", "")
                rec.kinds.setdefault((rec.department[sk], kind), []).append(sk[1])
        return rec

    def of_subject(self, subject: str) -> Iterable[tuple[str, str, list[State]]]:
        for (s, key), states in self.states.items():
            if s == subject:
                yield key, self.department[(s, key)], states

    def state_at(self, subject: str, key: str, stamp: str) -> dict[str, Any] | None:
        for st in self.states.get((subject, key), []):
            if st.holds_at(stamp):
                return st.body
        return None


def _slots(rec: Record, keys: Iterable[str], win: Window, test: Any) -> list[range]:
    """The window's slots in which a state of one of ``keys`` holds that passes ``test``."""
    return merged(win.slots(st.first, st.end) for key in keys
                  for st in rec.states.get(("resource", key), []) if test(st.body))


def _enabled(rec: Record, dep: str, kind: str, win: Window) -> list[range]:
    """The slots in which a department's antivirus or backup is on (unless it says not)."""
    off = _slots(rec, rec.kinds.get((dep, kind), []), win,
                 lambda b: not b.get("enabled", True))
    return minus([win.slots(win.first, win.last)], off)


def quantities(rec: Record, win: Window) -> tuple[dict[str, dict[str, Fraction]],
                                                  dict[str, Fraction]]:
    """Department → item → unit-months (6 decimals), and department → membership months.
    An antivirus seat and protected data count hour by hour: in the hours the server (and
    its backup or antivirus flag) and the department's service were on."""
    raw: dict[str, dict[str, Fraction]] = {}
    member: dict[str, Fraction] = {}
    services: dict[tuple[str, str], list[range]] = {}
    backed: dict[str, list[range]] = {}
    for _, dep, states in rec.of_subject("resource"):
        for st in states:
            slots = win.slots(st.first, st.end)
            n = len(slots)
            if not n:
                continue
            row = raw.setdefault(dep, dict.fromkeys(ITEMS, ZERO))
            b = st.body
            kind = b.get("kind")
            for service in ("antivirus", "backup"):
                if (dep, service) not in services:
                    services[(dep, service)] = _enabled(rec, dep, service, win)
            if kind == "project":
                member[dep] = member.get(dep, ZERO) + n
            elif kind == "server":
                for item, attr in (("vcpu", "vcpus"), ("ram_gb", "ram_gb"),
                                   ("disk_gb", "disk_gb")):
                    row[item] += q(b[attr]) * n
                if b.get("antivirus", True):
                    row["antivirus_seat"] += overlap([slots], services[(dep, "antivirus")])
            elif kind == "volume":
                row["volume_gb"] += q(b["size_gb"]) * n
                server = f"{dep}/server/{b.get('server')}"
                if server not in backed:
                    backed[server] = intersect(
                        _slots(rec, [server], win, lambda x: x.get("backup", True)),
                        services[(dep, "backup")])
                row["backup_gb"] += q(b["size_gb"]) * overlap([slots], backed[server])
            elif kind == "website":
                row["website"] += n
                row["backup_gb"] += q(b.get("storage_gb", 0)) * overlap(
                    [slots], services[(dep, "backup")])
    qty = {d: {i: six(v / win.hours) for i, v in items.items()} for d, items in raw.items()}
    return qty, {d: six(n / win.hours) for d, n in member.items()}


def host_names(settings: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Host name → (zone, class), as the pool names them."""
    out = {}
    for zone, classes in sorted(settings["host_pool"]["hosts"].items()):
        for cls, n in sorted(classes.items()):
            for i in range(1, n + 1):
                out[f"{zone}-{cls}-{i:02d}"] = (zone, cls)
    return out


def merged(spans: Iterable[range]) -> list[range]:
    """Slot ranges as sorted, disjoint ranges."""
    out: list[range] = []
    for r in sorted((r for r in spans if r), key=lambda r: r.start):
        if out and r.start <= out[-1].stop:
            out[-1] = range(out[-1].start, max(out[-1].stop, r.stop))
        else:
            out.append(r)
    return out


def overlap(a: list[range], b: list[range]) -> int:
    """Slots in both (each sorted and disjoint)."""
    n, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        n += max(0, min(a[i].stop, b[j].stop) - max(a[i].start, b[j].start))
        if a[i].stop < b[j].stop:
            i += 1
        else:
            j += 1
    return n


def intersect(a: list[range], b: list[range]) -> list[range]:
    """The slots in both, as sorted disjoint ranges (each given so)."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i].start, b[j].start), min(a[i].stop, b[j].stop)
        if hi > lo:
            out.append(range(lo, hi))
        if a[i].stop < b[j].stop:
            i += 1
        else:
            j += 1
    return out


def minus(a: list[range], b: list[range]) -> list[range]:
    """The slots of ``a`` not in ``b`` (each sorted and disjoint)."""
    out = []
    for r in a:
        lo = r.start
        for x in b:
            if x.stop <= lo or x.start >= r.stop:
                continue
            if x.start > lo:
                out.append(range(lo, x.start))
            lo = max(lo, x.stop)
        if lo < r.stop:
            out.append(range(lo, r.stop))
    return out


def host_months(rec: Record, win: Window, settings: dict[str, Any]
                ) -> dict[tuple[str, str, str], Fraction]:
    """(state, zone, class) → host-months in the window (state: running, idle, off), to 6
    decimals as unit-months are."""
    busy: dict[str, list[range]] = {}
    for _, _, states in rec.of_subject("resource"):
        for st in states:
            host = st.body.get("host") if st.body.get("kind") == "server" else None
            if host:
                busy.setdefault(host, []).append(win.slots(st.first, st.end))
    out: dict[tuple[str, str, str], Fraction] = {}
    for name, (zone, cls) in host_names(settings).items():
        states = rec.states.get(("host", name), [])
        before = min((s.first for s in states), default=win.last)  # never recorded: on
        on = merged([win.slots(win.first, before)] + [
            win.slots(st.first, st.end) for st in states if st.body.get("enabled", True)])
        running = merged(busy.get(name, []))
        n_run = sum(len(r) for r in running)
        n_on = sum(len(r) for r in on)
        n_idle = n_on - overlap(on, running)
        for state, n in (("running", n_run), ("idle", n_idle),
                         ("off", win.last - win.first - n_run - n_idle)):
            out[(state, zone, cls)] = out.get((state, zone, cls), ZERO) + Fraction(n)
    return {k: six(v / win.hours) for k, v in out.items()}


# --- prices -------------------------------------------------------------------------------

def in_force(entries: list[dict[str, Any]], period: str, key: str = "yuan") -> Fraction:
    found = [e for e in entries if str(e["from"]) <= period]
    assert found, (entries, period)
    return q(max(found, key=lambda e: str(e["from"]))[key])


def as_of(base: dict[str, Any], period: str) -> dict[str, Fraction]:
    out = {k: q(v) for k, v in base.items() if not isinstance(v, list | dict)}
    for c in sorted(base.get("changes", []), key=lambda c: str(c["from"])):
        if str(c["from"]) <= period:
            out.update({k: q(v) for k, v in c.items() if k != "from"})
    return out


def rates(prices: dict[str, Any], period: str) -> dict[str, Fraction]:
    return {i: in_force(prices["units"][i], period) for i in ITEMS}


def power_kwh_yuan(prices: dict[str, Any], period: str, legacy: bool = False) -> Fraction:
    """Yuan of one watt drawn a month (730 h), with the PUE and the tariff in force."""
    power = as_of(prices["power"], period)
    pue = power.get("legacy_pue" if legacy else "pue",
                    Fraction(2) if legacy else Fraction(3, 2))
    tariff = in_force(prices["power"]["tariff"], period, "yuan_per_kwh")
    return 730 * pue / 1000 * tariff


# --- the chargeback -----------------------------------------------------------------------

def split(total_fen: int, weights: dict[str, Fraction]) -> dict[str, int]:
    """Largest remainder, exactly; ties to the name that sorts first."""
    total = sum(weights.values(), ZERO)
    if total <= 0:
        weights, total = {IDLE: Fraction(1)}, Fraction(1)
    exact = {n: total_fen * w / total for n, w in weights.items()}
    out = {n: math.floor(v) for n, v in exact.items()}
    left = total_fen - sum(out.values())
    for n in sorted(exact, key=lambda n: (-(exact[n] - out[n]), n))[:left]:
        out[n] += 1
    return out


@dataclass
class Month:
    """One month as the reference sees it."""

    window: Window
    qty: dict[str, dict[str, Fraction]]
    member: dict[str, Fraction]
    hosts: dict[tuple[str, str, str], Fraction]
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    charge: dict[str, Fraction] = field(default_factory=dict)  # adjustments included
    adjustment: dict[str, Fraction] = field(default_factory=dict)
    platform_cost: Fraction = ZERO
    idle: Fraction = ZERO

    def unadjusted(self, dep: str) -> Fraction:
        return self.charge.get(dep, ZERO) - self.adjustment.get(dep, ZERO)


def _owned(settings: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for classes in settings["host_pool"]["hosts"].values():
        for cls, n in classes.items():
            out[cls] = out.get(cls, 0) + n
    return out


def host_pool_cost(prices: dict[str, Any], settings: dict[str, Any], m: Month) -> Fraction:
    period = m.window.period
    watt = power_kwh_yuan(prices, period)
    cost = ZERO
    for cls, n in _owned(settings).items():
        c = as_of(prices["host_classes"][cls], period)
        monthly = c["purchase_yuan"] / c["years"] / 12 + \
            c.get("maintenance_yuan_per_year", ZERO) / 12
        cost += monthly * n * m.window.part
        on = sum((v for (state, _, k), v in m.hosts.items()
                  if k == cls and state in ("running", "idle")), ZERO)
        cost += on * c["power_w"] * watt
    return cost


def host_capacity(settings: dict[str, Any]) -> dict[str, Fraction]:
    pool = settings["host_pool"]
    sizes = {c["name"]: c for c in pool["classes"]}
    ratio_default = {"cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0,
                     "disk_allocation_ratio": 1.0}
    return {item: sum((q(sizes[cls][size]) * q(pool.get(r, ratio_default[r])) * n
                       for cls, n in _owned(settings).items()), ZERO)
            for item, (size, r) in HOST_ITEMS.items()}


def basis(pool: dict[str, Any], m: Month, price: dict[str, Fraction],
          cap: dict[str, Fraction]) -> dict[str, Fraction]:
    deps = sorted(m.qty)
    rule = pool["rule"]
    if rule == "even":
        return {d: m.member.get(d, Fraction(1)) for d in deps}
    if rule == "weight":
        weights = pool.get("weights", {})
        return {d: q(weights.get(d, pool.get("default_weight", 1)))
                * m.member.get(d, Fraction(1)) for d in deps}
    out = {d: sum((m.qty[d][i] * price[i] for i in pool["items"]), ZERO) for d in deps}
    idle = ZERO
    for i in pool["items"]:
        if i in HOST_ITEMS:
            capacity: Fraction | None = cap[i] * m.window.part
        elif i in pool.get("capacity", {}):
            capacity = q(pool["capacity"][i]) * m.window.part
        else:
            capacity = None
        if capacity is not None:
            used = sum((m.qty[d][i] for d in deps), ZERO)
            idle += max(capacity - used, ZERO) * price[i]
    out[IDLE] = idle
    return out


def chargeback(prices: dict[str, Any], settings: dict[str, Any], rec: Record, period: str,
               now: str, adjustments: dict[str, Fraction]) -> Month:
    win = Window.of(period, now)
    qty, member = quantities(rec, win)
    return priced(prices, settings, Month(win, qty, member, host_months(rec, win, settings)),
                  adjustments)


def priced(prices: dict[str, Any], settings: dict[str, Any], m: Month,
           adjustments: dict[str, Fraction]) -> Month:
    """The month's pools split and each department charged, from its quantities."""
    win, qty, period = m.window, m.qty, m.window.period
    price = rates(prices, period)
    cap = host_capacity(settings)
    for pool in prices["pools"]:
        if pool.get("cost", "fixed") == "hosts":
            raw = host_pool_cost(prices, settings, m)
        else:
            raw = in_force(pool["yuan_per_month"], period) * win.part
        cost = to_fen(raw)
        parts = split(int(cost * 100), basis(pool, m, price, cap))
        m.pools[pool["name"]] = {
            "cost": cost, "idle": Fraction(parts.get(IDLE, 0), 100),
            "shares": {d: Fraction(parts.get(d, 0), 100) for d in sorted(qty)}}
    for d in sorted(set(qty) | set(adjustments)):
        m.adjustment[d] = adjustments.get(d, ZERO)
        m.charge[d] = sum((p["shares"].get(d, ZERO) for p in m.pools.values()), ZERO) + \
            m.adjustment[d]
    m.platform_cost = sum((p["cost"] for p in m.pools.values()), ZERO)
    m.idle = sum((p["idle"] for p in m.pools.values()), ZERO)
    return m


# --- savings ------------------------------------------------------------------------------

def legacy_month(prices: dict[str, Any], period: str, legacy: dict[str, Any]
                 ) -> list[Fraction]:
    """A plan's legacy lines for a whole month, before rounding (savings.py's lines)."""
    watt = power_kwh_yuan(prices, period, legacy=True)
    staff = as_of(prices["staff"], period)
    out = []
    for s in legacy.get("servers", []):
        n = q(s.get("count", 0))
        if not n:
            continue
        c = as_of(prices["legacy_classes"][s.get("class") or s.get("host_class")], period)
        out.append(c["purchase_yuan"] / c["years"] / 12 * n)
        out.append(c["power_w"] * watt * n)
        if c.get("maintenance_yuan_per_year"):
            out.append(c["maintenance_yuan_per_year"] / 12 * n)
    if legacy.get("admin_staff"):
        out.append(q(legacy["admin_staff"]) * staff["admin_yuan_per_year"] / 12)
    for key in ("antivirus_yuan_per_year", "backup_yuan_per_year"):
        if legacy.get(key):
            out.append(q(legacy[key]) / 12)
    site = staff.get("legacy_website_yuan_per_year", ZERO)
    if legacy.get("websites") and site:
        out.append(q(legacy["websites"]) * site / 12)
    return out


def _member_slots(rec: Record, dep: str, win: Window) -> set[int]:
    out: set[int] = set()
    for key in rec.kinds.get((dep, "project"), []):
        for st in rec.states[("resource", key)]:
            out.update(win.slots(st.first, st.end))
    return out


def savings(prices: dict[str, Any], rec: Record, m: Month) -> dict[str, dict[str, Fraction]]:
    """Department → legacy, consolidated and saving for the month."""
    win = m.window
    legacy: dict[str, Fraction] = {}
    for dep, _, states in rec.of_subject("plan"):
        member = _member_slots(rec, dep, win)
        for st in states:
            n = len(member.intersection(win.slots(st.first, st.end)))
            if n:
                lines = legacy_month(prices, win.period, st.body.get("legacy") or {})
                legacy[dep] = legacy.get(dep, ZERO) + sum(
                    (to_fen(x * n / win.hours) for x in lines), ZERO)
    out = {}
    for dep in sorted(set(legacy) | set(m.charge)):
        lg, cons = legacy.get(dep, ZERO), m.unadjusted(dep)
        out[dep] = {"legacy": lg, "consolidated": cons, "saving": lg - cons}
    return out


def estate_saving(saved: dict[str, dict[str, Fraction]], m: Month) -> Fraction:
    return sum((x["legacy"] for x in saved.values()), ZERO) - \
        sum((x["consolidated"] for x in saved.values()), ZERO) - m.idle


# --- unit costs ---------------------------------------------------------------------------

def unit_costs(prices: dict[str, Any], m: Month) -> dict[str, dict[str, Fraction]]:
    """Item → units, cost (idle included) and paid (cost less idle)."""
    price = rates(prices, m.window.period)
    units = {i: sum((row[i] for row in m.qty.values()), ZERO) for i in ITEMS}
    cost = dict.fromkeys(ITEMS, ZERO)
    idle = dict.fromkeys(ITEMS, ZERO)
    rest = []
    for pool in prices["pools"]:
        got = m.pools[pool["name"]]
        weights = {i: units[i] * price[i] for i in pool.get("items", [])} \
            if pool["rule"] == "usage" else {}
        if sum(weights.values(), ZERO) <= 0:
            rest.append(got)
            continue
        for i, f in split(int(got["cost"] * 100), weights).items():
            cost[i] += Fraction(f, 100)
        for i, f in split(int(got["idle"] * 100), weights).items():
            idle[i] += Fraction(f, 100)
    over = {i: v for i, v in cost.items() if v > 0} or \
        {i: units[i] * price[i] for i in ITEMS if units[i] * price[i] > 0}
    for got in rest:
        for i, f in split(int(got["cost"] * 100), over).items():
            cost[i] += Fraction(f, 100)
        if got["idle"]:
            for i, f in split(int(got["idle"] * 100), over).items():
                idle[i] += Fraction(f, 100)
    return {i: {"units": units[i], "cost": cost[i], "paid": cost[i] - idle[i]}
            for i in ITEMS if units[i] or cost[i]}


# --- reading an estate --------------------------------------------------------------------

@dataclass(frozen=True)
class Estate:
    """What the reference reads of an estate folder."""

    root: Path

    @property
    def settings(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "govcloud.yaml").read_text(encoding="utf-8"))

    @property
    def prices(self) -> dict[str, Any]:
        return yaml.safe_load((self.root / "prices.yaml").read_text(encoding="utf-8"))

    @property
    def db(self) -> Path:
        return self.root / ".state" / "govcloud.db"

    def adjustments(self, period: str) -> dict[str, Fraction]:
        con = sqlite3.connect(self.db)
        try:
            rows = con.execute("SELECT department, yuan FROM adjustments WHERE period = ?",
                               (period,)).fetchall()
        except sqlite3.OperationalError:  # no adjustment was ever made
            rows = []
        finally:
            con.close()
        out: dict[str, Fraction] = {}
        for dep, yuan in rows:
            out[dep] = out.get(dep, ZERO) + q(yuan)
        return out

    def month(self, period: str, now: str, rec: Record | None = None,
              prices: dict[str, Any] | None = None) -> Month:
        return chargeback(prices or self.prices, self.settings, rec or Record.read(self.db),
                          period, now, self.adjustments(period))
