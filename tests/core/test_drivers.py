"""What a driver declares it can do is what it really does (drivers/base.py's abilities)."""

from __future__ import annotations

import pytest

from govcloud.drivers.base import METHODS, Ability, Driver, Unsupported
from govcloud.drivers.openstack.driver import OpenStackDriver
from govcloud.drivers.sim import SimDriver

DRIVERS = [SimDriver, OpenStackDriver]


def _overridden(cls: type[Driver]) -> set[str]:
    names = {n for a in METHODS.values() for n in a}
    return {n for n in names if getattr(cls, n) is not getattr(Driver, n)}


@pytest.mark.parametrize("cls", DRIVERS, ids=lambda c: c.name)
def test_declared_abilities_match_the_methods_a_driver_overrides(cls: type[Driver]) -> None:
    overridden = _overridden(cls)
    for ability, methods in METHODS.items():
        if not methods:
            continue
        has = set(methods) <= overridden
        partly = bool(set(methods) & overridden)
        assert has == (ability in cls.abilities), \
            f"{cls.name}: '{ability}' declared {ability in cls.abilities} but implemented {has}"
        assert has or not partly, f"{cls.name} implements only part of '{ability}'"


def test_both_drivers_resize_in_place() -> None:
    assert all(Ability.RESIZE in cls.abilities for cls in DRIVERS)


def test_a_missing_ability_is_a_plain_error_with_the_fix() -> None:
    class Bare(Driver):
        name = "bare"

        def read(self):  # type: ignore[no-untyped-def]
            return []

        create = update = delete = read  # type: ignore[assignment]

    with pytest.raises(Unsupported) as err:
        Bare().issue_credential("finance")
    assert err.value.render() == ("the bare driver cannot issue department credentials (it "
                                  "lacks the 'credentials' ability) — set cloud.driver: "
                                  "openstack in govcloud.yaml")
    assert not Bare().can(Ability.PLACEMENT)


def test_the_openstack_driver_reads_makes_and_deletes_every_kind_it_does_not_record() -> None:
    """Each kind of the cloud's own has its reader beside its create, update (when something
    of it changes in place) and delete (a quota is read with its project); the kinds the
    service playbooks configure are records."""
    from govcloud.core.kinds import KINDS

    for kind in KINDS:
        if kind.recorded:
            continue
        for verb in ("create", "delete", *(("update",) if kind.updatable else ())):
            assert callable(getattr(OpenStackDriver, f"_{verb}_{kind.name}", None)), \
                f"openstack has no _{verb}_{kind.name}"
        reader = "_read_projects" if kind.name == "quota" else f"_read_{kind.name}s"
        assert callable(getattr(OpenStackDriver, reader, None)), f"openstack has no {reader}"


def test_retried_tries_a_transient_failure_again_and_stops_at_a_terminal_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud.drivers import base
    from govcloud.errors import DriverError

    waits: list[float] = []
    monkeypatch.setattr(base.time, "sleep", waits.append)
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise DriverError("busy", retryable=True)
        return "made"

    assert base.retried(flaky, 8) == "made" and len(calls) == 3 and waits == [2.0, 4.0]
    calls.clear()
    waits.clear()

    def always_busy() -> None:
        calls.append(1)
        raise DriverError("busy", retryable=True)

    with pytest.raises(DriverError, match="busy"):
        base.retried(always_busy, 7)
    assert len(calls) == 7 and waits == [2.0, 4.0, 8.0, 16.0, 30, 30]
    calls.clear()

    def refused() -> None:
        calls.append(1)
        raise DriverError("quota exceeded")

    with pytest.raises(DriverError, match="quota"):
        base.retried(refused, 8)
    assert len(calls) == 1
