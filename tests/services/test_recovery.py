"""The backup report from status reports, pure: ages against each department's RPO."""

from __future__ import annotations

from datetime import UTC, datetime

from govcloud.services.recovery import backup_report, parse_status, parse_time

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
PRIMARY = """site primary
checked_at 2026-03-10T11:59:00Z
snapshots 4
last_snapshot 2026-03-10T17:30:00.123456789+08:00
size_bytes 1048576
drill_at 2026-03-09T02:00:00Z
drill_status ok
drill_restore_seconds 3.25
"""


def test_a_status_report_parses() -> None:
    s = parse_status("finance", "primary", "backup-01", PRIMARY)
    assert (s.snapshots, s.size_bytes, s.drill_status, s.drill_restore_seconds) == \
        (4, 1048576, "ok", 3.25)
    assert parse_time(s.last_snapshot) == datetime(2026, 3, 10, 9, 30, 0, 123456, tzinfo=UTC)
    assert parse_time("") is None and parse_time("yesterday") is None


def test_age_against_rpo_per_site() -> None:
    late = parse_status("health", "dr", "dr-02", "last_snapshot 2026-03-08T12:00:00Z\n"
                        "snapshots 1\ndrill_status failed: restic check found damage\n")
    ok = parse_status("finance", "primary", "backup-01", PRIMARY)
    rows = {(r.department, r.site): r for r in
            backup_report([ok, late], {"finance": 26, "health": 48}, NOW)}
    assert len(rows) == 4
    f = rows[("finance", "primary")]
    assert (f.age_hours, f.breach, f.drill_ok) == (2.5, False, True)
    h = rows[("health", "dr")]
    assert (h.age_hours, h.rpo_hours, h.breach, h.drill_ok) == (48.0, 48, False, False)
    # no report from a site, or no snapshot there: the RPO cannot be met from it
    assert rows[("finance", "dr")].breach and rows[("finance", "dr")].age_hours is None
    assert rows[("health", "primary")].breach and rows[("health", "primary")].error
    one_more = backup_report([late], {"health": 47}, NOW, sites=["dr"])
    assert [r.breach for r in one_more] == [True]


def test_a_status_reports_text_reaches_the_terminal_escaped() -> None:
    s = parse_status("finance", "dr", "dr-backup-01",
                     "error Fatal: unable to open repo at /srv/\x1b[2Jx\ty\n"
                     "drill_status failed: \x9b31m\n")
    assert s.error == "Fatal: unable to open repo at /srv/\\x1b[2Jx\\x09y"
    assert s.drill_status == "failed: \\x9b31m"
