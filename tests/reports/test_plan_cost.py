"""Issue #10, case 6: the plan's cost is the chargeback's own arithmetic. A kept protected
resource is no saving; a new department's figure includes its fixed shares; and what the plan
says equals the difference between two months' statements, to the fen, department by
department."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

from tests.support.cli import BUILT, NOW, govcloud
from tests.support.estate import REPO, copy_estate


def _estate(tmp_path: Path, *plans: str) -> Path:
    estate = copy_estate(tmp_path / "estate", plans=False)
    for name in plans:
        shutil.copy(REPO / "plans" / f"{name}.yaml", estate / "plans")
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True, env=BUILT)
    return estate


def _cost(estate: Path) -> dict:
    return json.loads(govcloud("plan", "-o", "json", estate=estate, check=True).stdout)["cost"]


def _without(text: str, block: str) -> str:
    assert block in text
    return text.replace(block, "")


ESIGN = """  - name: sp-esign               # electronic seal and signature service
    flavor: m1.medium
    image: kylin-v10-sp3
    count: 2
    anti_affinity: true
    load: {cpu: 0.2, ram: 0.35}
    protected: true
"""
SITE = """  - domain: xzsp.qingdao.gov.cn
    kind: php
    storage_gb: 20
"""


def test_a_kept_protected_server_is_no_saving(tmp_path: Path) -> None:
    estate = _estate(tmp_path, "approval", "statistics")
    path = estate / "plans" / "approval.yaml"
    original = path.read_text()
    path.write_text(_without(original, SITE))
    site_alone = _cost(estate)
    path.write_text(_without(_without(original, SITE), ESIGN))
    both = _cost(estate)
    saving = Decimal(site_alone["departments"]["approval"]["delta"])
    assert saving < 0
    assert both["departments"] == site_alone["departments"]
    assert both["charged"] == site_alone["charged"]
    text = govcloud("plan", estate=estate).stdout
    assert f"monthly cost {saving:+,.2f} yuan" in text
    assert "! blocked server         sp-esign" in text
    assert f"Cost a month at {both['period']} prices: charged {saving:+,.2f} yuan" in text


def _statement(estate: Path, period: str) -> dict[str, Decimal]:
    govcloud("usage", "collect", "--period", period, estate=estate, check=True, env=NOW)
    data = json.loads(govcloud("report", "chargeback", "--period", period, "-o", "json",
                               estate=estate, check=True, env=NOW).stdout)
    return {d["department"]: Decimal(d["total"]) for d in data["departments"]} | \
        {"(idle)": Decimal(data["idle"]), "(platform)": Decimal(data["platform_cost"])}


def test_plan_cost_is_next_months_chargeback_difference(tmp_path: Path) -> None:
    """`govcloud new department water` → validates → plans a cost; applied on 1 October,
    October's statement differs from September's by exactly that, for every department,
    the idle line and the platform; water's first bill, fixed shares and all, is its figure.
    (The clock is GOVCLOUD_NOW: the estate was applied on New Year's Day, it is now late
    November, so September and October are whole months.)"""
    estate = _estate(tmp_path, "approval", "statistics", "finance", "health")
    before = _statement(estate, "2026-09")
    govcloud("new", "department", "water", estate=estate, check=True)
    october = {"GOVCLOUD_NOW": "2026-10-01T00:00:00Z"}
    cost = json.loads(govcloud("plan", "-o", "json", estate=estate, check=True,
                               env=october).stdout)["cost"]
    assert cost["period"] == "2026-10"
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True, env=october)
    after = _statement(estate, "2026-10")
    for dep in sorted(set(before) | set(after)):
        got = after.get(dep, Decimal(0)) - before.get(dep, Decimal(0))
        if dep == "(idle)":
            want = Decimal(cost["idle"]["delta"])
        elif dep == "(platform)":
            want = Decimal(cost["platform"]["delta"])
        else:
            want = Decimal(cost["departments"].get(dep, {"delta": "0"})["delta"])
        assert got == want, f"{dep}: the statements differ by {got}, the plan said {want}"
    assert Decimal(cost["departments"]["water"]["delta"]) == after["water"]
    # Its fixed shares (network split evenly, staff by weight) are part of that figure.
    pools = next(d["by_pool"] for d in json.loads(govcloud(
        "report", "chargeback", "--period", "2026-10", "-o", "json", estate=estate,
        check=True, env=NOW).stdout)["departments"] if d["department"] == "water")
    fixed = Decimal(pools["network"]) + Decimal(pools["operations-staff"])
    assert fixed > 0 and sum(map(Decimal, pools.values())) == after["water"]
    others = [d for d in before if not d.startswith("(")]
    assert all(Decimal(cost["departments"][d]["delta"]) < 0 for d in others)
