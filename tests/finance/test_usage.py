"""finance.usage: resources into each department's units, prorated to the hours they lived,
and the platform's rows (hosts, hours run) as the state store keeps them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from govcloud.core.desired import Resource
from govcloud.finance import usage
from govcloud.finance.period import Month, Window

OCTOBER = Window.of(Month(2026, 10), datetime(2026, 11, 26, 12, tzinfo=UTC))


def server(dep: str, name: str, vcpus: int = 4, ram_gb: int = 8, disk_gb: int = 40,
           **computed: Any) -> Resource:
    return Resource("server", dep, name, {"vcpus": vcpus, "ram_gb": ram_gb,
                                          "disk_gb": disk_gb}, computed=computed)


def test_a_server_and_its_volume_are_counted_with_antivirus_and_backup() -> None:
    got = usage.allocations([server("a", "db"),
                             Resource("volume", "a", "db-data", {"size_gb": 100,
                                                                 "server": "db"})])
    a = got["a"]
    assert (a["vcpu"], a["ram_gb"], a["disk_gb"]) == (4, 8, 40)
    assert a["antivirus_seat"] == 1  # antivirus on unless the department turns it off
    assert (a["volume_gb"], a["volumes"]) == (100, 1)
    assert a["backup_gb"] == 100  # its server's data volume is protected


def test_a_department_without_backup_or_antivirus_is_not_billed_for_them() -> None:
    got = usage.allocations([
        server("a", "db"), Resource("volume", "a", "v", {"size_gb": 100, "server": "db"}),
        Resource("backup", "a", "backup", {"enabled": False}),
        Resource("antivirus", "a", "antivirus", {"enabled": False})])
    assert got["a"]["backup_gb"] == 0 and got["a"]["antivirus_seat"] == 0


def test_a_website_bills_one_site_and_its_storage_as_backup() -> None:
    got = usage.allocations([Resource("website", "b", "www", {"storage_gb": 5})])
    assert got["b"]["website"] == 1 and got["b"]["backup_gb"] == 5


def test_a_server_that_lived_a_quarter_of_the_month_is_a_quarter_of_its_units() -> None:
    # 4 vCPU for 186 of October's 744 hours: 4 × 186 / 744 = 1 vCPU-month
    s = server("a", "x", created_at="2026-10-24T06:00:00", deleted_at=None)
    got = usage.prorated([s], OCTOBER)
    assert got["a"]["vcpu"] == 1.0
    assert got["a"]["ram_gb"] == 2.0  # 8 GiB × 186 / 744
    assert got["a"]["servers"] == 0.25


def test_a_resource_outside_the_month_is_not_billed_at_all() -> None:
    gone = server("a", "x", created_at="2026-01-01T00:00:00",
                  deleted_at="2026-09-30T23:00:00")
    assert usage.prorated([gone], OCTOBER) == {}


def test_the_platform_rows_of_a_month_come_back_as_they_were_recorded() -> None:
    month = Month(2026, 11)
    counts = usage.HostCounts(running={"z": {"std": 2}}, idle={"z": {"std": 1}},
                              off={"z": {"big": 1}}, needed={"z": {"std": 1}})
    window = Window.of(month, datetime(2026, 11, 26, 12, tzinfo=UTC))
    rows = usage.host_records(month, counts, "sim") + [usage.window_record(window, "sim")]
    assert {r.month for r in rows} == {month}
    assert [(r.item, r.allocated) for r in rows] == [
        ("hosts:z:std", 2), ("hosts_idle:z:std", 1), ("hosts_off:z:big", 1),
        ("hosts_needed:z:std", 1), ("hours", 25 * 24 + 13)]  # at 12:00 the 13th hour began
    got = usage.allocated(month, [(r.department, r.item, r.allocated) for r in rows]
                          + [("a", "vcpu", 3.0)])
    assert got.hosts_in_use == {"z": {"std": 2}}
    assert got.hosts == counts
    assert got.hours == (613, 720)  # hours run, hours in November (30 × 24)
    assert got.by_department["a"]["vcpu"] == 3.0


def test_a_month_recorded_before_idle_and_parked_hosts_has_no_host_counts() -> None:
    got = usage.allocated(Month(2026, 10), [("_platform", "hosts:z:std", 2.0)])
    assert got.hosts is None and got.hours is None
    assert got.hosts_in_use == {"z": {"std": 2}}


def test_average_over_the_hours_run_scales_a_month_to_date_up() -> None:
    # 1 vCPU-month recorded after 186 of 744 hours: on average 1 × 744 / 186 = 4 vCPU ran
    month = Month(2026, 10)
    rows = [usage.Record(month, "a", "vcpu", 1.0, 0.5, "sim"),
            usage.Record(month, usage.PLATFORM, "hours", 186.0, 744.0, "sim")]
    assert usage.hours_run(rows) == (186, 744)
    assert usage.average(rows)["a"]["vcpu"] == 4.0
    assert usage.by_department(rows) == {"a": {**usage.empty(), "vcpu": 1.0}}
    assert usage.used_by_department(rows) == {"a": {"vcpu": 0.5}}


def test_the_hours_before_the_estate_s_record_began_are_kept_and_not_averaged_over() -> None:
    # the record began at hour 150 of October; 186 hours run: 1 vCPU-month is 36 hours'
    # worth, so on average 1 × 744 / 36 vCPU ran in them
    month = Month(2026, 10)
    window = Window(month, month.start.replace(day=8, hour=18))
    rows = [usage.Record(month, "a", "vcpu", 1.0, 0.5, "sim"), usage.window_record(window, "sim"),
            *usage.first_record(window, 150, "sim")]
    assert usage.hours_run(rows) == (186, 744) and usage.first_hour(rows) == 150
    assert usage.hours_counted(rows) == (36, 744)
    assert usage.average(rows)["a"]["vcpu"] == round(744 / 36, 3)
    got = usage.allocated(month, [(r.department, r.item, r.allocated) for r in rows])
    assert got.hours == (186, 744) and got.first_hour == 150
    assert usage.first_record(window, 0, "sim") == []  # began before: no row


@pytest.mark.parametrize("item", ["vcpu_hours", "ram_mb_hours", "disk_gb_hours"])
def test_the_cloud_s_measured_hours_are_never_billed(item: str) -> None:
    rows = [usage.Record(Month(2026, 10), "a", item, 744.0, None, "openstack")]
    assert usage.by_department(rows) == {}


def test_the_sim_measures_the_same_figures_for_the_same_month() -> None:
    res = [Resource("server", "a", "x", {"vcpus": 4, "ram_gb": 8, "disk_gb": 40,
                                          "load": {"cpu": 0.5, "ram": 0.5}})]
    first, again = usage.sim_samples(res, OCTOBER), usage.sim_samples(res, OCTOBER)
    assert first == again
    vcpu = next(r for r in first if r.item == "vcpu")
    # 4 vCPU all month × load 0.5 = 2, times noise in [0.9, 1.1)
    assert vcpu.allocated == 4 and vcpu.used is not None and 1.8 <= vcpu.used < 2.2


def test_a_month_collected_before_the_record_splits_even_and_weighted_pools_as_before() -> None:
    """A month whose usage was collected before govcloud kept the dated record has no
    ``member`` rows: each department counts 1 in the even and weighted pools (found by
    benchmarks/chargeback.py's year to date: the rows read back gave every department a
    membership of 0, and the network and staff pools went to the idle line)."""
    from govcloud.finance.chargeback import chargeback
    from tests.finance.small import book, platform

    rows = [("a", "vcpu", 32.0), ("a", "ram_gb", 32.0), ("b", "vcpu", 16.0)]
    got = usage.allocated(Month(2026, 9), rows)
    assert "member" not in got.by_department["a"]
    s = chargeback(book(), Month(2026, 9), got.by_department, platform())
    network = next(p for p in s.pools if p.name == "network")
    assert network.shares == {"a": 450, "b": 450} and network.idle == 0
    with_rows = usage.allocated(Month(2026, 9), [*rows, ("a", "member", 0.5),
                                                 ("b", "member", 1.0)])
    network = next(p for p in chargeback(book(), Month(2026, 9), with_rows.by_department,
                                         platform()).pools if p.name == "network")
    assert network.shares == {"a": 300, "b": 600}
