"""The finance commands as a user runs them: plan's cost delta, open-data publish, CSV,
price-book diagnostics, and plain errors when something is missing."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from tests.conftest import govcloud
from tests.reports.conftest import golden_estate


def test_plan_shows_monthly_cost_delta_per_department(golden: Path) -> None:
    plan = golden / "plans" / "beta.yaml"
    plan.write_text(plan.read_text().replace("count: 2", "count: 3"))
    out = govcloud("plan", estate=golden, check=True).stdout
    # one more f1 server: priced usage 2×10 + 4×5 + 10×1 = 50 of the hosts pool's 800 → +183.12
    # (the idle line shrinks by as much; the even and weight pools do not move)
    assert "# beta" in out
    line = next(x for x in out.splitlines() if "monthly cost" in x)
    assert "+183.1" in line and "yuan" in line
    assert "alpha" not in out


def test_plan_works_without_a_price_book(golden: Path) -> None:
    (golden / "prices.yaml").unlink()
    plan = golden / "plans" / "beta.yaml"
    plan.write_text(plan.read_text().replace("count: 2", "count: 3"))
    proc = govcloud("plan", estate=golden)
    assert proc.returncode == 0, proc.stderr
    assert "monthly cost" not in proc.stdout and "b-app-3" in proc.stdout
    report = govcloud("report", "chargeback", "--period", "2026-10", estate=golden)
    assert report.returncode == 1 and "no price book" in report.stderr
    assert "Traceback" not in report.stderr


def test_publish_writes_open_data_without_private_fields(golden: Path, tmp_path: Path) -> None:
    out = tmp_path / "open-data"
    govcloud("statement", "close", "--period", "2026-10", estate=golden, check=True)
    govcloud("report", "publish", "--period", "2026-10", "--out", str(out), estate=golden,
             check=True)
    data = json.loads((out / "spending-and-savings-2026-10.json").read_text(encoding="utf-8"))
    assert data["closed"] is True
    assert {f["name"] for f in data["dictionary"]} == set(data["records"][0])
    assert all(f["description"] and f["title_zh"] for f in data["dictionary"])
    by = {r["department_id"]: r for r in data["records"]}
    assert by["alpha"]["department_name"] == "甲局"
    assert by["alpha"]["monthly_charge_yuan"] == 561.87 and by["beta"]["saving_yuan"] == -95.25
    assert data["totals"]["saving_yuan"] == 2908.0
    rows = list(csv.DictReader(io.StringIO(
        (out / "spending-and-savings-2026-10.csv").read_text(encoding="utf-8-sig"))))
    assert [r["department_id"] for r in rows] == ["alpha", "beta", "(idle)"]
    # the CSV adds up to the estate's figures on its own (issue #12 case 7: it overstated
    # savings by leaving idle out)
    assert sum(Decimal(r["saving_yuan"]) for r in rows) == Decimal("2908.00")
    assert sum(Decimal(r["monthly_charge_yuan"]) for r in rows) == \
        Decimal(data["totals"]["platform_cost_yuan"]).quantize(Decimal("0.01"))
    assert {r["closed"] for r in rows} == {"true"}
    everything = "".join(p.read_text(encoding="utf-8-sig") for p in out.iterdir())
    for private in ("CC-1", "a-app", "b-app", "intranet", "h1", "10.20.", "cost_centre",
                    "contact", "alpha.example.gov.cn"):
        assert private not in everything, private


def test_csv_output_is_machine_readable(golden: Path) -> None:
    out = govcloud("report", "chargeback", "--period", "2026-10", "-o", "csv", estate=golden,
                   check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["department"] == "alpha" and rows[0]["total"] == "561.87"
    assert rows[-1]["department"] == "(total)" and rows[-1]["total"] == "3530.00"
    util = govcloud("report", "utilization", "--period", "2026-10", "-o", "csv",
                    estate=golden, check=True).stdout
    u = {r["department"]: r for r in csv.DictReader(io.StringIO(util))}
    assert u["alpha"]["vcpu"] == "2.0" and u["beta"]["antivirus_seats"] == "2"


def test_missing_usage_is_one_plain_sentence(tmp_path: Path) -> None:
    root = golden_estate(tmp_path)
    proc = govcloud("report", "savings", "--period", "2026-03", estate=root)
    assert proc.returncode == 1
    assert "no usage is recorded for 2026-03" in proc.stderr
    assert "govcloud usage collect --period 2026-03" in proc.stderr
    bad = govcloud("report", "savings", "--period", "2026-13", estate=root)
    assert bad.returncode != 0 and "YYYY-MM" in bad.stderr


def test_price_book_problems_come_with_file_and_line(golden: Path) -> None:
    prices = golden / "prices.yaml"
    text = prices.read_text()
    text = text.replace("vcpu: [{from: 2026-01, yuan: 10}]", "vcpu: [{from: 2026-1, yuan: 10}]")
    text = text.replace("rule: even", "rule: evenly")
    text = text.replace("  old: {purchase_yuan", "  older: {purchase_yuan")
    prices.write_text(text)
    proc = govcloud("report", "chargeback", "--period", "2026-10", estate=golden)
    assert proc.returncode == 1
    err = proc.stderr
    lines = text.splitlines()
    vcpu_line = next(i for i, x in enumerate(lines, 1) if "vcpu:" in x)
    rule_line = next(i for i, x in enumerate(lines, 1) if "evenly" in x)
    assert f"prices.yaml:{vcpu_line}: units.vcpu[0].from:" in err
    assert f"prices.yaml:{rule_line}:" in err and "did you mean 'even'" in err


def test_unpriced_legacy_class_is_named(golden: Path) -> None:
    prices = golden / "prices.yaml"
    prices.write_text(prices.read_text().replace("  old: {", "  older: {"))
    proc = govcloud("report", "savings", "--period", "2026-10", estate=golden)
    assert proc.returncode == 1
    assert "no price for legacy_class 'old'" in proc.stderr


def test_every_finance_command_has_help_with_an_example() -> None:
    for args in (["report", "utilization"], ["report", "chargeback"], ["report", "savings"],
                 ["report", "html"], ["report", "publish"], ["statement", "close"],
                 ["usage", "collect"], ["exporter"]):
        out = govcloud(*args, "--help", check=True).stdout
        assert "Example" in out, args
