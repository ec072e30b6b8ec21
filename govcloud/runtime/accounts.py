"""Reports from the state store: utilization, chargeback and savings for one month.

This is the edge between the pure accounting modules (``usage``, ``pricebook``,
``chargeback``, ``savings``) and the state store and drivers: it collects usage from the
driver into the store, and builds reports from the store alone, so no cloud is needed.
The renderers (xlsx, html, publish) live beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.core.model import Estate
from govcloud.drivers.base import Ability, Driver
from govcloud.errors import GovcloudError
from govcloud.finance import usage
from govcloud.finance.chargeback import Platform, Statement, chargeback, check_invariant
from govcloud.finance.chargeback import plan_cost as plan_cost_of
from govcloud.finance.pricebook import PriceBook, check_period
from govcloud.finance.savings import Ledger, ledger
from govcloud.placement import hosts as placement
from govcloud.reports import views
from govcloud.runtime import records as stored
from govcloud.runtime.files import read_document, write_bytes
from govcloud.runtime.loader import load_book
from govcloud.runtime.store import Store, holder_id


def book_for(estate: Estate) -> PriceBook:
    """The estate's price book, checked against the host and legacy classes it uses."""
    path = estate.root / estate.settings.prices
    if not path.is_file():
        raise GovcloudError(f"the estate has no price book {estate.settings.prices}",
                            "write one (docs/schema/price-book.json is its schema) or point "
                            "prices: in govcloud.yaml at it")
    legacy = {s.host_class for p in estate.plans.values() for s in p.legacy.servers}
    hosts = {c for zone in estate.settings.host_pool.hosts.values() for c, n in zone.items()
             if n}
    return load_book(path, estate.settings.prices, hosts, legacy)


def hosts_in_use(estate: Estate, resources: list[Any], driver: Driver | None = None
                 ) -> tuple[dict[str, dict[str, int]], str]:
    """Zone → class → hosts in use: the placement engine's count for the servers running,
    or (when it cannot place them) the hosts the driver put them on."""
    pool = estate.settings.host_pool
    hosts = placement.pool_hosts(pool)
    servers = [r for r in resources if r.kind == "server"]
    try:
        demands = [placement.Demand(
            r.key, r.department, r.attrs["zone"], r.attrs["vcpus"], r.attrs["ram_gb"],
            r.attrs["disk_gb"],
            f"{r.department}/{r.attrs['server_group']}" if r.attrs.get("server_group")
            else None) for r in servers]
        ratios = placement.Ratios.of(pool)
        packed: dict[str, dict[str, int]] = {}
        for zone in sorted(pool.hosts):
            zone_demands = tuple(sorted((d for d in demands if d.zone == zone),
                                        key=lambda d: d.key))
            used = _zone_hosts(zone_demands, tuple(h for h in hosts if h.zone == zone), ratios)
            if used:
                packed[zone] = used
        return packed, "placement"
    except GovcloudError:
        pass
    by_name = {h.name: h for h in hosts}
    where = driver.servers_on_hosts() if driver is not None and driver.can(Ability.PLACEMENT) \
        else {r.key: r.computed.get("host") for r in servers}
    out: dict[str, dict[str, int]] = {}
    for host in sorted({h for h in where.values() if h}):
        h = by_name.get(host)
        if h is not None:
            out.setdefault(h.zone, {})
            out[h.zone][h.host_class] = out[h.zone].get(h.host_class, 0) + 1
    return out, "driver"


_PLACED: dict[tuple[Any, ...], dict[str, int]] = {}


def _zone_hosts(demands: tuple[Any, ...], hosts: tuple[Any, ...], ratios: Any
                ) -> dict[str, int]:
    """Host class → hosts one zone's servers are packed onto. Zones are packed apart, and a
    plan asks for the same zone before and after when it changes another: a zone is packed
    once per process."""
    key = (demands, hosts, ratios)
    if key not in _PLACED:
        if len(_PLACED) > 8:
            _PLACED.clear()
        _PLACED[key] = placement.place(demands, hosts, ratios).by_class()
    return dict(_PLACED[key])


def measured_records(resources: list[Any], driver: Driver, period: str) -> list[usage.Record]:
    """Allocations from the cloud's resources; measured vCPU and RAM from the driver's usage
    API (nova os-simple-tenant-usage: hours in the month, averaged over the month)."""
    import calendar
    from datetime import UTC, datetime

    year, month = (int(x) for x in period.split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    days = calendar.monthrange(year, month)[1]
    end = min(datetime(year, month, days, 23, 59, 59, tzinfo=UTC), datetime.now(UTC))
    hours = max((end - start).total_seconds() / 3600, 1.0)
    measured = driver.usage(start, end) if driver.can(Ability.USAGE) and end > start else {}
    source = driver.name
    out = []
    for d, items in sorted(usage.allocations(resources).items()):
        m = measured.get(d)
        for item, v in items.items():
            used = None
            if m is not None and item == "vcpu":
                used = round(min(m["vcpu_hours"] / hours, v), 3)
            elif m is not None and item == "ram_gb":
                used = round(min(m["ram_mb_hours"] / 1024 / hours, v), 3)
            out.append(usage.Record(period, d, item, v, used, source))
    return out


def collect(estate: Estate, store: Store, driver: Driver, period: str) -> dict[str, Any]:
    """Read the cloud and store the month's usage samples and hosts in use."""
    check_period(period)
    resources = driver.read()
    if driver.name == "sim":
        records = usage.sim_samples(resources, period)
    else:
        records = measured_records(resources, driver, period)
    in_use, source = hosts_in_use(estate, resources, driver)
    records += usage.host_records(period, in_use, source)
    n = stored.record(store, records, replace_period=period)
    return {"period": period, "records": n,
            "departments": len({r.department for r in records} - {usage.PLATFORM}),
            "hosts_in_use": sum(c for z in in_use.values() for c in z.values()),
            "hosts_source": source}


def records_for(store: Store, period: str) -> list[usage.Record]:
    check_period(period)
    records = stored.load(store, period)
    if not records:
        raise GovcloudError(f"no usage is recorded for {period}",
                            f"run govcloud usage collect --period {period} first")
    return records


def statement_for(estate: Estate, store: Store, period: str,
                  book: PriceBook | None = None) -> Statement:
    """The month's chargeback: the frozen one when the month is closed."""
    check_period(period)
    closed = stored.statement(store, period)
    if closed is not None:
        body, at = closed
        s = Statement.from_dict(body)
        return Statement(s.period, s.departments, s.pools, s.rates, s.platform_cost, s.idle,
                         at, s.notes)
    records = records_for(store, period)
    platform = Platform.of(estate.settings.host_pool, usage.hosts_in_use(records))
    s = chargeback(book or book_for(estate), period, usage.by_department(records), platform)
    check_invariant(s)
    return s


def close(estate: Estate, store: Store, period: str) -> Statement:
    """Freeze the month: later price edits cannot change its statement."""
    if stored.statement(store, period) is not None:
        raise GovcloudError(f"{period} is already closed",
                            "a closed month cannot change; correct it in a later month")
    s = statement_for(estate, store, period)
    stored.save_statement(store, period, s.as_dict(), holder_id())
    return statement_for(estate, store, period)


def _line_of(estate: Estate) -> Any:
    cache: dict[str, Any] = {}

    def for_plan(plan: Any) -> Any:
        if plan.file not in cache:
            doc, _ = read_document(estate.root / plan.file, plan.file)
            cache[plan.file] = doc
        doc = cache[plan.file]
        return (lambda path: doc.line(path)) if doc is not None else (lambda path: 0)

    return for_plan


def savings_for(estate: Estate, store: Store, period: str,
                statement: Statement | None = None) -> Ledger:
    book = book_for(estate)
    return ledger(estate.plans, book, statement or statement_for(estate, store, period, book),
                  _line_of(estate))


@dataclass(frozen=True)
class Month:
    """Every figure of one month, each computed once: what the workbook and HTML need."""

    period: str
    utilization: dict[str, Any]
    statement: Statement
    ledger: Ledger

    def sheets(self, estate: Estate) -> dict[str, Any]:
        return views.workbook_sheets(estate, self.utilization, self.statement, self.ledger)


def month(estate: Estate, store: Store, period: str) -> Month:
    st = statement_for(estate, store, period)
    return Month(period, utilization(estate, store, period), st,
                 savings_for(estate, store, period, st))


def report(estate: Estate, store: Store, kind: str, period: str, detail: bool = False,
           workbook: bool = False) -> views.Report:
    """One finance report (utilization, chargeback or savings) for a month. Only its own
    figures are computed, unless ``workbook`` asks for every sheet beside it."""
    if workbook:
        m = month(estate, store, period)
        rep = {"utilization": lambda: views.utilization(m.utilization, period),
               "chargeback": lambda: views.chargeback(estate, m.statement),
               "savings": lambda: views.savings(estate, m.ledger, period, detail)}[kind]()
        return views.Report(period, rep.sheets, rep.data, rep.text, tuple(m.ledger.assumptions)
                            ).with_sheets(m.sheets(estate))
    if kind == "utilization":
        return views.utilization(utilization(estate, store, period), period)
    if kind == "chargeback":
        return views.chargeback(estate, statement_for(estate, store, period))
    return views.savings(estate, savings_for(estate, store, period), period, detail)


def publish(estate: Estate, store: Store, period: str, folder: Path) -> tuple[list[Path], bool]:
    """Write the month's open-data release into ``folder``; the paths, and whether the month
    is closed."""
    from govcloud.reports.publish import release

    st = statement_for(estate, store, period)
    files = release(estate, st, savings_for(estate, store, period, st))
    for name, data in files.items():
        write_bytes(folder / name, data)
    return [folder / name for name in files], st.closed_at is not None


def html_page(estate: Estate, store: Store, period: str) -> str:
    """The month's self-contained HTML report."""
    from govcloud.reports.html import report as render

    m = month(estate, store, period)
    sheets = m.sheets(estate)
    return render(estate, period, m.statement, m.ledger, m.utilization, history(estate, store),
                  {"chargeback": sheets["Chargeback"], "savings": sheets["Savings"],
                   "utilization": sheets["Utilization"],
                   "savings_detail": sheets["Savings sources"],
                   "cost_detail": sheets["Platform cost"]})


def name_of(estate: Estate, dep: str) -> str:
    p = estate.plans.get(dep)
    return p.department.name if p else dep


@dataclass(frozen=True)
class UtilRow:
    department: str
    name: str
    allocated: dict[str, float]
    used: dict[str, float | None]
    quota: dict[str, float]

    def ratio(self, item: str) -> float | None:
        a, u = self.allocated.get(item, 0), self.used.get(item)
        return None if u is None or not a else u / a

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "name": self.name,
                "allocated": self.allocated, "used": self.used, "quota": self.quota,
                "utilization": {i: self.ratio(i) for i in ("vcpu", "ram_gb", "disk_gb")}}


def utilization(estate: Estate, store: Store, period: str) -> dict[str, Any]:
    records = records_for(store, period)
    alloc = usage.by_department(records)
    used = usage.used_by_department(records)
    rows = []
    for dep in sorted(alloc):
        p = estate.plans.get(dep)
        q = p.quota if p else None
        rows.append(UtilRow(dep, name_of(estate, dep), alloc[dep], used.get(dep, {}),
                            {"instances": q.instances, "cores": q.cores, "ram_gb": q.ram_gb,
                             "volumes": q.volumes, "volume_gb": q.volume_gb,
                             "websites": q.websites} if q else {}))
    in_use = usage.hosts_in_use(records)
    return {"period": period, "rows": rows, "hosts_in_use": in_use,
            "hosts_owned": {z: dict(c) for z, c in estate.settings.host_pool.hosts.items()}}


def history(estate: Estate, store: Store) -> list[dict[str, Any]]:
    """Per recorded month: allocated and used vCPU and RAM, and hosts in use (for charts)."""
    out = []
    for period in stored.periods(store):
        records = stored.load(store, period)
        tot: dict[str, float] = {"vcpu": 0, "vcpu_used": 0, "ram_gb": 0, "ram_gb_used": 0}
        for r in records:
            if r.item in ("vcpu", "ram_gb"):
                tot[r.item] += r.allocated
                tot[r.item + "_used"] += r.used or 0
        hosts = sum(n for z in usage.hosts_in_use(records).values() for n in z.values())
        out.append({"period": period, **tot, "hosts": hosts})
    return out


def plan_cost(plan: Any, estate: Estate, period: str | None = None) -> dict[str, Any] | None:
    """The plan's effect on the monthly bill at ``period``'s prices (this month's by default),
    computed as ``usage collect`` and the chargeback would compute the statements before and
    after; None when the estate has no (valid) price book, so a plan never fails for want
    of one."""
    import datetime

    period = period or datetime.date.today().strftime("%Y-%m")
    before, after = plan.state_before(), plan.state_after()
    pool = estate.settings.host_pool
    try:
        book = book_for(estate)
        book.rates(period)
    except GovcloudError:  # no price book, or no price for the month
        return None
    in_use_before = hosts_in_use(estate, before)[0]
    same_servers = _servers(before) == _servers(after)
    in_use_after = in_use_before if same_servers else hosts_in_use(estate, after)[0]
    cost = plan_cost_of(book, period, usage.allocations(before), usage.allocations(after),
                        Platform.of(pool, in_use_before), Platform.of(pool, in_use_after))
    return cost.as_dict()


def _servers(resources: list[Any]) -> list[tuple[Any, ...]]:
    """What placement sees of the servers: equal lists place on the same hosts."""
    return sorted((r.key, r.attrs.get("zone"), r.attrs.get("vcpus"), r.attrs.get("ram_gb"),
                   r.attrs.get("disk_gb"), r.attrs.get("server_group"))
                  for r in resources if r.kind == "server")
