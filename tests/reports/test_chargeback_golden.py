"""The golden estate: two departments whose chargeback and savings are worked out by hand in
golden/small/README.md; every line of both reports is checked, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import GOLDEN, edit

EXPECTED = GOLDEN / "small"


def report(estate: Path, kind: str, period: str = "2026-10") -> dict:
    proc = govcloud("report", kind, "--period", period, "-o", "json", estate=estate,
                    check=True)
    return json.loads(proc.stdout)


# The golden estate with its idle host parked (the fixture ``golden``), and as applied, that
# host idle but powered on (``golden_idle_on``): golden/small/README.md works out both.
STATES = {"parked": "-parked", "idle-on": ""}


def _estate(request: pytest.FixtureRequest, state: str) -> Path:
    return request.getfixturevalue("golden" if state == "parked" else "golden_idle_on")


@pytest.mark.parametrize("state", STATES)
def test_chargeback_every_line(request: pytest.FixtureRequest, state: str) -> None:
    golden = _estate(request, state)
    want = json.loads((EXPECTED / f"expected-chargeback{STATES[state]}.json").read_text())
    got = report(golden, "chargeback")
    assert got["hosts"] == want["hosts"]
    assert got["period"] == want["period"]
    assert got["platform_cost"] == want["platform_cost"]
    assert got["idle"] == want["idle"]
    pools = {p["name"]: p for p in got["pools"]}
    assert list(pools) == list(want["pools"])
    for name, w in want["pools"].items():
        assert pools[name]["cost"] == w["cost"], name
        assert pools[name]["idle"] == w["idle"], name
        assert pools[name]["shares"] == w["shares"], name
    host_lines = [round(float(x["yuan"]), 2) for x in pools["hosts"]["lines"]]
    assert host_lines == [float(v) for v in want["host_cost_lines"]]
    deps = {d["department"]: d for d in got["departments"]}
    assert set(deps) == set(want["departments"])
    for dep, w in want["departments"].items():
        assert deps[dep]["list_value"] == w["list_value"], dep
        assert deps[dep]["total"] == w["total"], dep


@pytest.mark.parametrize("state", STATES)
def test_savings_every_line(request: pytest.FixtureRequest, state: str) -> None:
    golden = _estate(request, state)
    want = json.loads((EXPECTED / f"expected-savings{STATES[state]}.json").read_text())
    got = report(golden, "savings")
    for key in ("period", "legacy_total", "idle", "saving"):
        assert got[key] == want[key], key
    deps = {d["department"]: d for d in got["departments"]}
    for dep, w in want["departments"].items():
        d = deps[dep]
        assert (d["legacy_total"], d["consolidated"], d["saving"]) == \
            (w["legacy_total"], w["consolidated"], w["saving"]), dep
        assert len(d["legacy"]) == len(w["lines"]), dep
        for line, (label, yuan, plan_src, price_src) in zip(d["legacy"], w["lines"],
                                                             strict=True):
            assert line["label"].startswith(label)
            assert line["yuan"] == yuan, line
            assert line["plan_source"] == plan_src
            assert line["price_source"] == price_src
    consolidated = sum(float(d["consolidated"]) for d in got["departments"])
    assert f"{consolidated:.2f}" == want["consolidated_total"]
    note = [a for a in got["assumptions"] if a.startswith("Shared hosts:")]
    assert len(note) == 1 and ("consolidate --apply" in note[0]) == (state == "idle-on")


def test_adding_a_later_price_leaves_the_month_alone(golden: Path) -> None:
    before = report(golden, "chargeback")
    prices = golden / "prices.yaml"
    edit(prices, "vcpu: [{from: 2026-01, yuan: 10}]",
         "vcpu: [{from: 2026-01, yuan: 10}, {from: 2026-11, yuan: 400}]")
    edit(prices, "tariff: [{from: 2026-01, yuan_per_kwh: 1.0}]",
         "tariff: [{from: 2026-01, yuan_per_kwh: 1.0}, {from: 2026-11, yuan_per_kwh: 2.0}]")
    assert report(golden, "chargeback") == before
    govcloud("usage", "collect", "--period", "2026-11", estate=golden, check=True)
    nov = report(golden, "chargeback", "2026-11")
    # a whole November would cost 4,260.00 (power 730 → 1460 at the November tariff); at noon
    # on the 26th, 613 of its 720 hours have begun: month to date, 4260 × 613 / 720
    assert nov["hours"] == [613, 720]
    assert nov["platform_cost"] == "3626.92"


def test_closed_month_ignores_later_edits_to_its_own_prices(golden: Path) -> None:
    govcloud("statement", "close", "--period", "2026-10", estate=golden, check=True)
    before = report(golden, "chargeback")
    edit(golden / "prices.yaml", "yuan: 300", "yuan: 900")
    after = report(golden, "chargeback")
    assert after["closed_at"] and after == before
    again = govcloud("statement", "close", "--period", "2026-10", estate=golden)
    assert again.returncode == 1 and "already closed" in again.stderr
