"""The month the estate began in, as a trial finance officer met it: the example estate
applied on 7 December 2026 at 07:30 UTC, usage collected the same day. Before the fix the
charge counted every pool, the hosts' write-off and every capacity for the 152 hours since
the 1st while the legacy cost counted the 1 hour since the first apply: department approval
saved −2,125.39 (legacy 106.03 against 2,231.42), the estate −66,944.42, −3.9 M a year, under
an assumption saying both sides count the same hours.

The rule (docs/finance.md, "The month the estate began"): nothing of the estate ran before its
dated record began, so no hour before it is billed or saved — as no month before it is."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import govcloud
from tests.support.estate import copy_estate

APPLIED = "2026-12-07T07:30:00Z"  # hour 152 of December's 744 (07:00, begun)
EVENING = "2026-12-07T18:30:00Z"  # the same day: hours 152 to 163, 12 of them counted
JANUARY = "2027-01-02T01:00:00Z"  # December whole: the 593 hours since the first apply
COUNTED = {APPLIED: 1, EVENING: 12, JANUARY: 744 - 151}
December = tuple[Path, dict[str, Any], dict[str, Any]]  # the estate, savings, chargeback


def report(estate: Path, now: str, kind: str) -> dict[str, Any]:
    out = govcloud("report", kind, "--period", "2026-12", "-o", "json", estate=estate,
                   check=True, env={"GOVCLOUD_NOW": now}).stdout
    return json.loads(out)


def reports(estate: Path, now: str) -> dict[str, Any]:
    """December's savings and chargeback as they read at ``now``, usage collected then."""
    if now != APPLIED:  # apply collected the month to date itself
        govcloud("usage", "collect", "--period", "2026-12", estate=estate, check=True,
                 env={"GOVCLOUD_NOW": now})
    return {kind: report(estate, now, kind) for kind in ("savings", "chargeback")}


@pytest.fixture(scope="module")
def december(tmp_path_factory: pytest.TempPathFactory) -> December:
    """The example estate applied mid-month; its savings and chargeback right after the
    apply, that evening and for the whole month (each read when it was current)."""
    estate = copy_estate(tmp_path_factory.mktemp("first") / "estate")
    govcloud("apply", "--yes", estate=estate, check=True, env={"GOVCLOUD_NOW": APPLIED})
    got = {now: reports(estate, now) for now in (APPLIED, EVENING, JANUARY)}
    return estate, {k: v["savings"] for k, v in got.items()}, \
        {k: v["chargeback"] for k, v in got.items()}


def by_department(ledger: dict[str, Any]) -> dict[str, Decimal]:
    return {d["department"]: Decimal(d["saving"]) for d in ledger["departments"]}


def test_each_department_saves_what_the_whole_month_implies_for_the_hours_counted(
        december: December) -> None:
    _, got, _ = december
    month = by_department(got[JANUARY])
    assert month and all(v > 0 for v in month.values()), month  # every full month positive
    for now in (APPLIED, EVENING):
        part = by_department(got[now])
        assert part.keys() == month.keys()
        for dep, whole in month.items():
            # the same saving an hour, but for the fen: every legacy line and every pool's
            # share is rounded to the fen once (a department has up to 16 of them)
            expected = whole * COUNTED[now] / COUNTED[JANUARY]
            assert abs(part[dep] - expected) <= Decimal("0.10"), (now, dep, part[dep], expected)
            assert part[dep] > 0, (now, dep, part[dep])
    # the trial's department: legacy 106.03 for its 1 hour, against its 1 hour's charge
    approval = next(d for d in got[APPLIED]["departments"] if d["department"] == "approval")
    assert Decimal(approval["legacy_total"]) == Decimal("106.03")
    assert Decimal(approval["consolidated"]) < Decimal("106.03") / 2


def test_the_estate_saves_when_every_whole_month_does(
        december: December) -> None:
    _, got, _ = december
    assert Decimal(got[JANUARY]["saving"]) > 0
    for now in (APPLIED, EVENING):
        saving, year = Decimal(got[now]["saving"]), Decimal(got[now]["saving_per_year"])
        assert saving > 0 and year > 0, (now, saving, year)
        # a year: the hours counted normalised to the month's 744, × 12
        assert year == (saving * 744 * 12 / COUNTED[now]).quantize(Decimal("0.01"))


def test_the_charge_and_the_legacy_cost_count_the_same_hours_as_the_assumption_says(
        december: December) -> None:
    _, got, charged = december
    st = charged[EVENING]
    security = next(p for p in st["pools"] if p["name"] == "security")
    # 30,000 a month × 12/744: the pool for the hours since the first apply, not since the 1st
    assert Decimal(security["cost"]) == Decimal("483.87")
    assert security["lines"][0]["label"].endswith("× 0.016129 of the month")
    assert st["hours"] == [163, 744] and st["first_hour"] == 151
    ledger = got[EVENING]
    lines = [x["label"] for d in ledger["departments"] for x in d["legacy"]]
    assert lines and all(x.endswith("× 12/744 h") for x in lines)
    said = ledger["assumptions"][0]
    assert "(163 of 744 hours, 12 since the estate's dated record began 2026-12-07 07:00 UTC" \
        in said and "the legacy cost counts the same hours as the charge" in said, said
    whole = charged[JANUARY]
    assert whole["hours"] == [744, 744] and whole["first_hour"] == 151
    assert Decimal(next(p for p in whole["pools"] if p["name"] == "security")["cost"]) == \
        Decimal("23911.29")  # 30,000 × 593/744
    assert "count the 593 hours since, of the month's 744" in got[JANUARY]["assumptions"][0]


def test_the_month_before_and_a_month_the_estate_ran_whole_count_every_hour(
        december: December) -> None:
    estate, _, _ = december
    govcloud("usage", "collect", "--period", "2027-01", estate=estate, check=True,
             env={"GOVCLOUD_NOW": "2027-02-01T00:00:00Z"})
    jan = govcloud("report", "chargeback", "--period", "2027-01", "-o", "json", estate=estate,
                   check=True, env={"GOVCLOUD_NOW": "2027-02-01T00:00:00Z"}).stdout
    st = json.loads(jan)
    assert st["hours"] == [744, 744] and "first_hour" not in st
    assert Decimal(next(p for p in st["pools"] if p["name"] == "security")["cost"]) == 30000


def test_the_month_closes_with_its_hours_and_reads_back_as_it_was_shown(
        december: December) -> None:
    estate, got, charged = december
    env = {"GOVCLOUD_NOW": JANUARY}
    govcloud("statement", "close", "--period", "2026-12", estate=estate, check=True, env=env)
    frozen = report(estate, JANUARY, "savings")
    assert frozen["departments"] == got[JANUARY]["departments"]
    assert frozen["assumptions"] == got[JANUARY]["assumptions"]
    st = report(estate, JANUARY, "chargeback")
    assert st["first_hour"] == 151 and st["pools"] == charged[JANUARY]["pools"]
