"""The dated record's hours (finance/history): the rule of docs/finance.md on made-up rows —
the first state from the hour begun, each change taking the hour it happened in, an end
counting the hour under way; services billed hour by hour; hosts running, idle, parked."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction

from govcloud.finance import history as record
from govcloud.finance import usage
from govcloud.finance.history import Entry
from govcloud.finance.period import Month, Window

APRIL = Month(2026, 4)  # 720 hours
WHOLE = Window(APRIL, APRIL.end)


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 4, day, hour, minute, tzinfo=UTC)


def server(at: datetime, vcpus: int | None, **extra: object) -> Entry:
    body = None if vcpus is None else {"kind": "server", "vcpus": vcpus, "ram_gb": 4,
                                       "disk_gb": 10, "host": "h1", **extra}
    return Entry(at, "resource", "d/server/s", "d", body)


def hours(entries: list[Entry]) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in record.stretches(entries, WHOLE)]


def test_a_resize_takes_the_hour_it_happened_in_and_the_life_keeps_its_hours() -> None:
    rows = [server(t(1, 10, 30), 2), server(t(3, 5, 45), 8), server(t(4, 0, 10), None)]
    assert hours(rows) == [(10, 53), (53, 73)]  # created 10:00 down, deleted 01:00 up
    got = usage.prorated(record.resources(record.stretches(rows, WHOLE), WHOLE), WHOLE)
    assert got["d"]["vcpu"] == round((2 * 43 + 8 * 20) / 720, 6)
    assert got["d"]["servers"] == round(63 / 720, 6)


def test_two_changes_in_one_hour_the_later_wins_and_a_re_creation_follows_the_end() -> None:
    rows = [server(t(1, 0), 2), server(t(2, 6, 10), 4), server(t(2, 6, 50), 8),
            server(t(5, 9, 20), None), server(t(5, 9, 40), 2)]
    got = record.stretches(rows, WHOLE)
    assert [(s.start, s.end, s.body["vcpus"]) for s in got] == \
        [(0, 30, 2), (30, 106, 8), (106, 720, 2)]


def test_rows_out_of_order_are_read_by_their_time() -> None:
    late = [server(t(1, 0), 2), server(t(10, 0), 8)]
    late[1] = Entry(t(10, 0), "resource", "d/server/s", "d", late[1].body, seq=1)
    early = Entry(t(5, 0), "resource", "d/server/s", "d", {**late[1].body, "vcpus": 4},
                  seq=2)  # read back later from the cloud, dated earlier
    got = record.stretches([*late, early], WHOLE)
    assert [(s.start, s.end, s.body["vcpus"]) for s in got] == \
        [(0, 96, 2), (96, 216, 4), (216, 720, 8)]


def test_antivirus_switched_off_mid_month_bills_the_seat_for_the_hours_it_was_on() -> None:
    rows = [Entry(t(1, 0), "resource", "d/project/d", "d", {"kind": "project"}),
            server(t(1, 0), 2),
            Entry(t(1, 0), "resource", "d/antivirus/d", "d", {"kind": "antivirus",
                                                               "enabled": True}),
            Entry(t(11, 0), "resource", "d/antivirus/d", "d", {"kind": "antivirus",
                                                                "enabled": False})]
    got = usage.prorated(record.resources(record.stretches(rows, WHOLE), WHOLE), WHOLE)
    assert got["d"]["antivirus_seat"] == round(240 / 720, 6)
    assert got["d"]["servers"] == 1.0 and got["d"]["member"] == 1.0


def test_a_volume_is_protected_while_its_server_and_the_backup_service_are_on() -> None:
    vol = Entry(t(1, 0), "resource", "d/volume/v", "d",
                {"kind": "volume", "size_gb": 100, "server": "s"})
    rows = [server(t(1, 0), 2, backup=True), vol, server(t(6, 0), 2, backup=False),
            Entry(t(1, 0), "resource", "d/backup/d", "d", {"kind": "backup",
                                                            "enabled": True}),
            Entry(t(3, 0), "resource", "d/backup/d", "d", {"kind": "backup",
                                                            "enabled": False}),
            Entry(t(4, 0), "resource", "d/backup/d", "d", {"kind": "backup",
                                                            "enabled": True})]
    got = usage.prorated(record.resources(record.stretches(rows, WHOLE), WHOLE), WHOLE)
    # On days 1–2 and 4–5: 96 hours of 100 GB.
    assert got["d"]["backup_gb"] == round(100 * 96 / 720, 6)
    assert got["d"]["volume_gb"] == 100.0


def test_hosts_running_idle_and_parked_by_the_hour() -> None:
    rows = [server(t(1, 0), 2), server(t(11, 0), None),
            Entry(t(21, 12, 30), "host", "h1", "", {"zone": "z", "class": "c",
                                                   "enabled": False})]
    got = record.host_months(record.stretches(rows, WHOLE), WHOLE,
                             {"h1": ("z", "c"), "h2": ("z", "c")})
    assert got["running"] == {"z": {"c": Fraction(240, 720)}}
    # h1 idle from day 11 to 21 12:00 (the parking takes the hour it happened in); h2 all
    # month.
    assert got["idle"] == {"z": {"c": Fraction(252 + 720, 720)}}
    assert got["off"] == {"z": {"c": Fraction(720 - 492, 720)}}


def test_a_service_made_during_the_month_protects_nothing_before_it_was_made() -> None:
    """Found by a trial: backup made at 05:00 (an apply re-run after a kill) was billed for
    the hours before it existed."""
    rows = [server(t(1, 0), 2, backup=True),
            Entry(t(1, 0), "resource", "d/volume/v", "d",
                  {"kind": "volume", "size_gb": 100, "server": "s"}),
            Entry(t(1, 5), "resource", "d/backup/d", "d", {"kind": "backup",
                                                            "enabled": True})]
    got = usage.prorated(record.resources(record.stretches(rows, WHOLE), WHOLE), WHOLE)
    assert got["d"]["backup_gb"] == round(100 * 715 / 720, 6)


def test_a_host_is_not_counted_before_the_estate_s_record_began() -> None:
    """The record began on day 11 (hour 240): an unrecorded host counts as on from then, not
    from the 1st, and nothing before is counted off either."""
    rows = [server(t(11, 0), 2)]
    got = record.host_months(record.stretches(rows, WHOLE), WHOLE,
                             {"h1": ("z", "c"), "h2": ("z", "c")}, first=240)
    assert got["running"] == {"z": {"c": Fraction(480, 720)}}
    assert got["idle"] == {"z": {"c": Fraction(480, 720)}}  # h2, from hour 240
    assert got["off"] == {}
