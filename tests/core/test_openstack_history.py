"""How the openstack driver dates what nova did (drivers/openstack/history.py), from the
events nova 34 recorded on the test cloud for one server created, resized, confirmed and
live-migrated (``openstack server event show``). The driver reading them from nova is tested
on the test cloud (tests/openstack/test_history.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govcloud.drivers.openstack.history import DECIDED_BY, decided_at, nova_stamp


def _event(name: str, start: str, finish: str | None, result: str | None = "Success",
           host: str = "testcloud-compute-1") -> dict[str, str | None]:
    return {"event": name, "start_time": f"2026-12-06T14:21:{start}.000000",
            "finish_time": f"2026-12-06T14:21:{finish}.000000" if finish else None,
            "result": result, "host": host}


RESIZE = [_event("compute_finish_resize", "28", "29"),
          _event("compute_resize_instance", "28", "28", host="testcloud-compute-3"),
          _event("compute_prep_resize", "27", "28"),
          _event("cold_migrate", "27", "27", host="testcloud"),
          _event("conductor_migrate_server", "27", "27", host="testcloud")]
LIVE = [_event("compute_post_live_migration_at_destination", "33", "33",
               host="testcloud-compute-2"),
        _event("compute_pre_live_migration", "32", "33", host="testcloud-compute-2"),
        _event("compute_live_migration", "32", "32"),
        _event("compute_check_can_live_migrate_source", "32", "32"),
        _event("compute_check_can_live_migrate_destination", "32", "32",
               host="testcloud-compute-2"),
        _event("conductor_migrate_server", "32", "32", host="testcloud")]


def at(second: int) -> datetime:
    return datetime(2026, 12, 6, 14, 21, second, tzinfo=UTC)


@pytest.mark.parametrize(("action", "events", "want"), [
    ("create", [_event("compute__do_build_and_run_instance", "25", "26")], at(26)),
    ("resize", RESIZE, at(29)),  # the new flavor runs once the destination finished
    ("live-migration", LIVE, at(33)),  # the host is the destination from here
    ("delete", [_event("compute_terminate_instance", "42", "43")], at(43)),
])
def test_an_action_is_dated_by_the_finish_of_the_event_after_which_it_holds(
        action: str, events: list[dict[str, str | None]], want: datetime) -> None:
    assert decided_at(action, events) == want


def test_an_unfinished_or_failed_action_did_not_happen() -> None:
    running = [_event("compute_finish_resize", "28", None, result=None), *RESIZE[1:]]
    refused = [_event("compute_prep_resize", "27", "28", result="Error"),
               _event("conductor_migrate_server", "27", "27", result="Error")]
    failed = [_event("compute_post_live_migration_at_destination", "33", "34",
                     result="Error"), *LIVE[1:]]
    assert decided_at("resize", running) is None
    assert decided_at("resize", refused) is None  # no host could take it: no finish event
    assert decided_at("live-migration", failed) is None


def test_actions_that_change_nothing_billed_are_not_dated() -> None:
    """A confirm frees the source host's copy: the new flavor and host held since the
    resize finished, and a confirm made later must not date them."""
    assert decided_at("reboot", [_event("compute_reboot_instance", "10", "11")]) is None
    assert decided_at("confirmResize", [_event("compute_confirm_resize", "29", "30")]) is None
    assert set(DECIDED_BY) == {"create", "resize", "revertResize", "migrate",
                               "live-migration", "delete"}


def test_nova_times_are_utc_without_a_zone() -> None:
    assert nova_stamp("2026-12-06T14:21:28.000000") == datetime(2026, 12, 6, 14, 21, 28,
                                                                tzinfo=UTC)
    assert nova_stamp("2026-12-06T14:21:25Z") == datetime(2026, 12, 6, 14, 21, 25, tzinfo=UTC)
    assert nova_stamp(None) is None
