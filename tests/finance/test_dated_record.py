"""Finance reads what ran when, not the estate as it is now (#20, cases 1–3): each case is the
reproduction from the issue, run through the real CLI on the sim with the clock set, and
each figure checked against the hours worked out by hand here."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit


def at(when: str) -> dict[str, str]:
    return {"GOVCLOUD_NOW": when}


def run(estate: Path, when: str, *args: str) -> str:
    return govcloud(*args, estate=estate, env=at(when), check=True).stdout


def chargeback(estate: Path, when: str, period: str) -> dict:
    return json.loads(run(estate, when, "report", "chargeback", "--period", period, "-o",
                          "json"))


def pool(report: dict, name: str) -> dict:
    return next(p for p in report["pools"] if p["name"] == name)


def department(report: dict, dep: str) -> dict:
    return next(d for d in report["departments"] if d["department"] == dep)


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = copy_estate(tmp_path / "estate")
    run(root, "2026-01-01T00:00:00Z", "apply", "--yes")
    return root


def test_consolidation_is_dated(tmp_path: Path) -> None:
    """Case 1: hosts parked on 15 February at noon draw power for the 348 hours before; and
    collecting January again after the consolidation does not move it."""
    root = copy_estate(tmp_path / "estate")
    spread = {"GOVCLOUD_SIM_SPREAD": "1"}
    govcloud("apply", "--yes", estate=root, env={**at("2026-01-01T00:00:00Z"), **spread},
             check=True)
    run(root, "2026-02-01T00:00:00Z", "usage", "collect", "--period", "2026-01")
    january = chargeback(root, "2026-02-01T00:00:00Z", "2026-01")
    govcloud("consolidate", "--apply", "--yes", estate=root,
             env={**at("2026-02-15T12:00:00Z"), **spread}, check=True)
    run(root, "2026-03-01T00:00:00Z", "usage", "collect", "--period", "2026-02")
    february = chargeback(root, "2026-03-01T00:00:00Z", "2026-02")
    hosts = pool(february, "hosts")
    # Every host on for the first 348 h (14 days and 12 hours), only those left running after.
    power = [x for x in hosts["lines"] if "power" in x["label"]]
    assert power and all("host-months" in x["label"] for x in power)
    assert hosts["cost"] == "73250.53"  # 67,370.18 when billed as parked all month
    run(root, "2026-03-01T00:00:00Z", "usage", "collect", "--period", "2026-01")
    again = chargeback(root, "2026-03-01T00:00:00Z", "2026-01")
    assert again["platform_cost"] == january["platform_cost"] == "333725.33"
    assert pool(again, "hosts")["lines"] == pool(january, "hosts")["lines"]


def test_a_resize_is_billed_from_the_hour_it_happened(estate: Path) -> None:
    """Case 2: fin-treasury-gw (2 replicas) m1.medium (2 vCPU) → m1.xlarge (8 vCPU) on 20
    May: May bills 456 h at 2 vCPU and 288 h at 8, not 744 h at 8."""
    january = vcpu_months(estate, "2026-01")  # a whole month at the plan's sizes
    plan = estate / "plans" / "finance.yaml"
    edit(plan, "# treasury payment gateway\n    flavor: m1.medium",
         "# treasury payment gateway\n    flavor: m1.xlarge")
    run(estate, "2026-05-20T00:00:00Z", "apply", "--yes")
    may = vcpu_months(estate, "2026-05")
    others = january - 2 * 2  # finance's other servers, unchanged
    want = others + Decimal(2 * (2 * 456 + 8 * 288)) / 744
    assert may == want.quantize(Decimal("0.000001"))
    assert may != others + 2 * 8  # the new size all month, as billed before the record


def vcpu_months(estate: Path, period: str) -> Decimal:
    """Finance's vCPU-months in ``period``, collected just after it ended."""
    y, m = map(int, period.split("-"))
    after = f"{y + m // 12}-{m % 12 + 1:02d}-01T00:00:00Z"
    run(estate, after, "usage", "collect", "--period", period)
    return Decimal(str(department(chargeback(estate, after, period), "finance")["usage"]
                       ["vcpu"]))


WATER = """department:
  id: water
  name: 青岛市水务管理局
  name_en: Qingdao Municipal Water Affairs Bureau
  cost_centre: CC-4520
  zone: intranet
  contact: xxzx@swglj.qingdao.gov.cn
quota: {instances: 2, cores: 8, ram_gb: 16, volumes: 1, volume_gb: 200, websites: 0}
servers:
  - {name: sw-scada-gw, flavor: m1.large, image: kylin-v10-sp3, volume_gb: 100}
services:
  antivirus: {schedule: "0 4 * * *"}
  backup:
    schedule: "0 1 * * *"
    retention: {daily: 14, weekly: 8, monthly: 12, yearly: 5}
    paths: [/srv/data]
legacy:
  servers: [{class: tower-2u, count: 3}]
  admin_staff: 0.5
  antivirus_yuan_per_year: 3000
  backup_yuan_per_year: 6000
  websites: 0
"""


def test_pools_split_by_the_hours_a_department_was_in_the_estate(estate: Path) -> None:
    """Case 3: statistics leaves on 9 April at 10:30 (203 of 720 h), water joins on 17 April
    at 13:00 (323 h): the even network pool and the weighted staff pool are split by those
    hours, not a whole month each."""
    (estate / "plans" / "statistics.yaml").unlink()
    run(estate, "2026-04-09T10:30:00Z", "apply", "--yes", "--prune")
    (estate / "plans" / "water.yaml").write_text(WATER)
    run(estate, "2026-04-17T13:00:00Z", "apply", "--yes")
    run(estate, "2026-05-01T00:00:00Z", "usage", "collect", "--period", "2026-04")
    april = chargeback(estate, "2026-05-01T00:00:00Z", "2026-04")
    db = sqlite3.connect(estate / ".state" / "govcloud.db")
    rows = dict(db.execute("SELECT department, allocated FROM usage WHERE period = '2026-04' "
                           "AND item = 'member'").fetchall())
    assert rows["statistics"] == pytest.approx(203 / 720, abs=1e-6)
    assert rows["water"] == pytest.approx(323 / 720, abs=1e-6)
    assert rows["finance"] == 1.0
    network = pool(april, "network")
    basis = {d: Decimal(v) for d, v in network["basis"].items()}
    assert basis["statistics"] == Decimal(str(round(203 / 720, 6)))
    total = sum(basis.values())
    cost = Decimal(network["cost"])
    for dep in ("statistics", "water", "finance"):
        assert abs(Decimal(network["shares"][dep]) - cost * basis[dep] / total) < \
            Decimal("0.01")
    # A whole month's share is finance's; the issue saw statistics pay all of it.
    whole = Decimal(network["shares"]["finance"])
    assert abs(Decimal(network["shares"]["statistics"]) - whole * 203 / 720) < Decimal("0.02")
    assert abs(Decimal(network["shares"]["water"]) - whole * 323 / 720) < Decimal("0.02")
    staff = pool(april, "operations-staff")
    assert staff["rule"] == "weight"
    assert Decimal(staff["shares"]["statistics"]) < Decimal(staff["shares"]["finance"]) / 2


def savings(estate: Path, when: str, period: str) -> dict:
    return json.loads(run(estate, when, "report", "savings", "--period", period, "-o",
                          "json"))


def test_savings_use_the_months_own_plans(estate: Path) -> None:
    """Case 4: January closed on 1 May, after statistics left, water joined and finance
    edited its legacy hardware in April, freezes January's own savings: water is not in it,
    statistics is with its legacy cost, finance's legacy is what its plan said in January."""
    run(estate, "2026-02-01T00:00:00Z", "usage", "collect", "--period", "2026-01")
    january = savings(estate, "2026-02-01T00:00:00Z", "2026-01")
    (estate / "plans" / "statistics.yaml").unlink()
    run(estate, "2026-04-09T10:30:00Z", "apply", "--yes", "--prune")
    (estate / "plans" / "water.yaml").write_text(WATER)
    edit(estate / "plans" / "finance.yaml", "{class: tower-2u, count: 9}",
         "{class: tower-2u, count: 12}")
    run(estate, "2026-04-17T13:00:00Z", "apply", "--yes")
    run(estate, "2026-05-01T01:00:00Z", "statement", "close", "--period", "2026-01")
    closed = savings(estate, "2026-05-02T00:00:00Z", "2026-01")
    deps = {d["department"]: d for d in closed["departments"]}
    assert "water" not in deps
    assert Decimal(deps["statistics"]["legacy_total"]) > 0
    before = {d["department"]: d for d in january["departments"]}
    for dep in ("statistics", "finance"):
        assert deps[dep]["legacy_total"] == before[dep]["legacy_total"], dep
        assert deps[dep]["saving"] == before[dep]["saving"], dep
    assert closed["saving"] == january["saving"]
    assert any("tower-2u × 9" in x["label"] for x in deps["finance"]["legacy"])


def test_month_to_date_savings_compare_like_with_like(estate: Path) -> None:
    """Case 5: one hour after the first apply, the legacy cost counts one hour too, and the
    year's figure is that hour's saving over the year's hours, not a whole month × 12."""
    run(estate, "2026-01-01T00:30:00Z", "usage", "collect", "--period", "2026-01")
    hour = savings(estate, "2026-01-01T00:30:00Z", "2026-01")
    run(estate, "2026-02-01T00:00:00Z", "usage", "collect", "--period", "2026-01")
    whole = savings(estate, "2026-02-01T00:00:00Z", "2026-01")
    legacy_hour, legacy_month = Decimal(hour["legacy_total"]), Decimal(whole["legacy_total"])
    # Each legacy line is the month's × 1/744, to the fen.
    assert abs(legacy_hour * 744 - legacy_month) < Decimal("0.01") * 744 * 100
    assert legacy_hour < legacy_month / 700
    saving_hour, saving_month = Decimal(hour["saving"]), Decimal(whole["saving"])
    assert abs(saving_hour * 744 - saving_month) / saving_month < Decimal("0.01")
    per_year = Decimal(hour["saving_per_year"])
    assert per_year == (saving_hour * 8760).quantize(Decimal("0.01"))
    assert abs(per_year - saving_month * 12) / (saving_month * 12) < Decimal("0.02")
