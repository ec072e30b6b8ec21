"""Metering: the month's usage put in the books from the dated record.

``collect`` brings the dated record (``books/history``) up to date with the cloud, then
computes the month from it — each resource for the hours of each of its states, each
department's months in the estate, each host's hours running, idle and parked — with the
cloud's measured hours beside where the driver measures (OpenStack), and stores the month's
usage records (``books/records``). Apply and consolidate collect the month under way after
they change the cloud; the exporter collects hourly (``collect_due``).
"""

from __future__ import annotations

from typing import Any

from govcloud.books import history as dated
from govcloud.books import records as stored
from govcloud.books.accounts import (
    all_on,
    before_record,
    host_counts,
    hosts_in_use,
    line_of,
    window,
)
from govcloud.clock import clock
from govcloud.core.model import Estate
from govcloud.drivers.base import Ability, Driver
from govcloud.errors import GovcloudError
from govcloud.finance import history as record
from govcloud.finance import usage
from govcloud.finance.period import Month, Window
from govcloud.placement import hosts as placement
from govcloud.state.store import Store


def measured_records(resources: list[Any], driver: Driver, window: Window
                     ) -> list[usage.Record]:
    """Prorated allocations from the cloud's resources (billed by the hour begun); measured
    vCPU and RAM from the driver's usage API (nova os-simple-tenant-usage: hours in the
    window), in unit-months; and nova's own CPU hours, RAM MB-hours and disk GB-hours as it
    gives them (to the second, up to the moment asked), beside the billed figures."""
    month = window.month
    asked = clock()
    measured = driver.usage(window.start, window.end) \
        if driver.can(Ability.USAGE) and window.hours else {}
    month_hours = month.hours
    out = []
    if measured:  # nova counts up to when it was asked (the window's end is later)
        out.append(usage.Record(month, usage.PLATFORM, "measured_to", asked.timestamp(),
                                clock().timestamp(), driver.name))
    for d, items in sorted(usage.prorated(resources, window).items()):
        m = measured.get(d)
        for item, v in items.items():
            used = None
            if m is not None and item == "vcpu":
                used = round(min(m["vcpu_hours"] / month_hours, v), 6)
            elif m is not None and item == "ram_gb":
                used = round(min(m["ram_mb_hours"] / 1024 / month_hours, v), 6)
            out.append(usage.Record(month, d, item, v, used, driver.name))
    for d, m in sorted(measured.items()):
        out += [usage.Record(month, d, item, float(m[key]), None, driver.name)
                for item, key in usage.MEASURED.items()]
    return out


def collect(estate: Estate, store: Store, driver: Driver, month: Month) -> dict[str, Any]:
    """Bring the dated record up to date with the cloud, then store the month's usage from
    the record: each resource for the hours of each of its states (a resize splits it),
    each department's months in the estate, each host's hours running, idle and parked, and
    in the month the record began, the hours before it (not counted: nothing ran). A
    closed month is refused: reopen it first. Collecting a past month again gives the same
    figures whatever changed since: they are read from what ran then."""
    win = window(month)
    if stored.closing(store, month) is not None:
        raise GovcloudError(f"{month} is closed; its usage cannot change",
                            f"govcloud statement reopen --period {month} --reason … first")
    run = usage.hours_run(stored.load(store, month))
    if run is not None and run[0] > win.hours:
        raise GovcloudError(f"usage of {month} is recorded to {run[0]} of {run[1]} hours, and "
                            f"the clock now reads {clock():%Y-%m-%d %H:%M} UTC, "
                            f"{win.hours} hours in: collecting now would shrink it",
                            "check the system clock (or GOVCLOUD_NOW); the month's usage "
                            "is left as it was")
    dated.observe(estate, store, driver, "collect", line_of(estate))
    hosts = _hosts_of(estate, driver)
    first = dated.first_hour(store, win)
    records, alive, last, months = _from_record(store, driver, win, hosts, first)
    if not any(r.allocated for r in records if r.item in usage.BILLED):
        before_record(store, month)
        raise GovcloudError(f"nothing ran in {month}: no resource lived in it",
                            "collect a month in which the estate existed")
    counts, source = _counts(estate, driver, alive, last, win)
    records += usage.host_month_records(month, months, source)
    records += usage.host_records(month, counts, source)
    records.append(usage.window_record(win, source))
    records += usage.first_record(win, first, source)
    n = stored.record(store, records, replacing=month)
    return {"period": str(month), "label": win.label(), "records": n,
            "month_to_date": win.month_to_date, "hours": win.hours,
            "departments": len({r.department for r in records} - {usage.PLATFORM}),
            "hosts_in_use": counts.total("running"), "hosts_idle_on": counts.total("idle"),
            "hosts_off": counts.total("off"), "hosts_needed": counts.total("needed"),
            "hosts_source": source}


def _hosts_of(estate: Estate, driver: Driver) -> dict[str, tuple[str, str]]:
    """Host name → (zone, class): the cloud's hosts, or the settings' pool when the driver
    cannot say where servers run."""
    hosts = driver.hosts() if driver.can(Ability.PLACEMENT) else \
        placement.pool_hosts(estate.settings.host_pool)
    return {h.name: (h.zone, h.host_class) for h in hosts}


def _from_record(store: Store, driver: Driver, win: Window, hosts: dict[str, tuple[str, str]],
                 first: int) -> tuple[list[usage.Record], list[Any], Any, Any]:
    """The month's usage records from the dated record, with what the host counts need of
    it: the resources alive at the window's end and the hosts' states in its last hour (a
    month that has ended), and the host-months. Only these leave: the record's stretches
    and resources are let go before the host counts read the cloud (at 10,000 departments
    each is some hundreds of MB)."""
    found = dated.in_window(store, win)
    resources = record.resources(found, win)
    if driver.name == "sim":
        records = usage.sim_samples(resources, win)
    else:
        records = measured_records(resources, driver, win)
    months = record.host_months(found, win, hosts, first)
    if win.month_to_date:
        return records, [], None, months
    alive = [r for r in resources if r.computed.get("deleted_at") == win.end.isoformat()]
    last = record.host_states_at(found, win.hours - 1, hosts) \
        if driver.can(Ability.PLACEMENT) else None
    return records, alive, last, months


def _counts(estate: Estate, driver: Driver, alive: list[Any], last: Any, win: Window
            ) -> tuple[usage.HostCounts, str]:
    """The hosts in each state at the end of the window: as the cloud is now for the month
    under way (its servers read a department at a time: the placement needs no more), from
    the record's last hour (``alive``, ``last``) for a month that has ended."""
    if win.month_to_date:
        servers = [r for _, found in driver.read_by_department() for r in found
                   if r.kind == "server"]
        return host_counts(estate, servers, driver)
    needed, how = hosts_in_use(estate, alive)
    if not driver.can(Ability.PLACEMENT):
        return all_on(estate.settings.host_pool, needed), how
    return usage.HostCounts(last["running"], last["idle"], last["off"],
                            needed if how == "placement" else {}), "driver"


def collect_quietly(estate: Estate, store: Store, driver: Driver) -> str:
    """After an apply: this month's usage, so reports work at once. A failure here never
    fails the apply; it is returned as one sentence."""
    try:
        got = collect(estate, store, driver, Month.of(clock()))
    except GovcloudError as exc:
        return f"usage not collected: {exc.render()}"
    return f"usage collected for {got['label']}"


def collect_due(estate: Estate, store: Store, driver: Driver) -> list[str]:
    """The exporter's hourly schedule: this month to date, and last month in full when what
    was recorded of it stopped before its end (and it is not closed)."""
    this = Month.of(clock())
    notes = [collect_quietly(estate, store, driver)]
    last = this.previous()
    run = usage.hours_run(stored.load(store, last))
    if run and run[0] < run[1] and stored.closing(store, last) is None:
        try:
            got = collect(estate, store, driver, last)
            notes.append(f"usage collected for {got['label']}")
        except GovcloudError as exc:
            notes.append(f"usage of {last} not collected: {exc.render()}")
    return notes
