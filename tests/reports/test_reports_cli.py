"""The finance commands as a user runs them: plan's cost delta, open-data publish, CSV,
price-book diagnostics, and plain errors when something is missing."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from tests.support.cli import NOW, govcloud, help_text
from tests.support.estate import edit, golden_estate, line_of


def test_plan_shows_monthly_cost_delta_per_department(golden: Path) -> None:
    edit(golden / "plans" / "beta.yaml", "count: 2", "count: 3")
    out = govcloud("plan", estate=golden, check=True).stdout
    # one more f1 server: priced usage 2×10 + 4×5 + 10×1 = 50 of the hosts pool's 800 → +183.12
    # (the idle line shrinks by as much; the even and weight pools do not move)
    assert "# beta" in out
    line = next(x for x in out.splitlines() if "monthly cost" in x)
    assert "+183.1" in line and "yuan" in line
    assert "alpha" not in out


def test_plan_works_without_a_price_book(golden: Path) -> None:
    (golden / "prices.yaml").unlink()
    edit(golden / "plans" / "beta.yaml", "count: 2", "count: 3")
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
    # a BOM first, so Excel on Chinese Windows reads the UTF-8 names (issue #12 case 8)
    assert out.startswith("\ufeffdepartment,")
    rows = list(csv.DictReader(io.StringIO(out.removeprefix("\ufeff"))))
    assert rows[0]["department"] == "alpha" and rows[0]["total"] == "561.87"
    assert rows[-1]["department"] == "(total)" and rows[-1]["total"] == "3530.00"
    assert "list_value" not in rows[0]  # neither a cost nor a charge (case 9)
    util = govcloud("report", "utilization", "--period", "2026-10", "-o", "csv",
                    estate=golden, check=True).stdout
    u = {r["department"]: r for r in csv.DictReader(io.StringIO(util.removeprefix("\ufeff")))}
    assert u["alpha"]["vcpu"] == "2.0" and u["beta"]["antivirus_seats"] == "2"
    assert 0 < float(u["alpha"]["vcpu_util"]) < 1  # a ratio, not "43.8%"


def test_rate_card_states_what_departments_pay(golden: Path) -> None:
    data = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "-o", "json",
                               estate=golden, check=True).stdout)
    card = {r["item"]: r for r in data["rate_card"]}
    # README.md of the golden estate: the hosts pool charges alpha 183.12 + beta 366.25 =
    # 549.37 for priced usage vCPU 6×10, RAM 12×5, disk 30×1 = 150 → vCPU gets 60/150 of it
    assert card["vcpu"]["charged"] == "219.75" and card["vcpu"]["units"] == "6"
    assert card["vcpu"]["yuan_per_unit"] == "36.62" and card["vcpu"]["list_price"] == "10"
    # the web pool (100 a month) has one site and no declared capacity
    assert card["website"]["yuan_per_unit"] == "100.00"
    per_dep = card["ops (per department-month, even)"]
    assert per_dep["yuan_per_unit"] == "50.00" and per_dep["units"] == "2"
    charged = sum(Decimal(r["charged"]) for r in data["rate_card"])
    assert abs(charged - Decimal(data["charged"])) <= Decimal("0.05")  # fen rounding only
    text = govcloud("report", "chargeback", "--period", "2026-10", estate=golden,
                    check=True).stdout
    assert "Rate card: what departments paid per unit" in text


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
    edit(prices, "vcpu: [{from: 2026-01, yuan: 10}]", "vcpu: [{from: 2026-1, yuan: 10}]")
    edit(prices, "rule: even", "rule: evenly")
    edit(prices, "  old: {purchase_yuan", "  older: {purchase_yuan")
    proc = govcloud("report", "chargeback", "--period", "2026-10", estate=golden)
    assert proc.returncode == 1
    err = proc.stderr
    vcpu_line = line_of(prices, "vcpu:")
    rule_line = line_of(prices, "evenly")
    assert f"prices.yaml:{vcpu_line}: units.vcpu[0].from:" in err
    assert f"prices.yaml:{rule_line}:" in err and "did you mean 'even'" in err


def test_unpriced_legacy_class_is_named(golden: Path) -> None:
    edit(golden / "prices.yaml", "  old: {", "  older: {")
    proc = govcloud("report", "savings", "--period", "2026-10", estate=golden)
    assert proc.returncode == 1
    assert "no price for legacy_class 'old'" in proc.stderr


def test_every_finance_command_has_help_with_an_example() -> None:
    for args in (["report", "utilization"], ["report", "chargeback"], ["report", "savings"],
                 ["report", "html"], ["report", "publish"], ["statement", "close"],
                 ["usage", "collect"], ["exporter"]):
        assert "Example" in help_text(*args), args


def test_report_tables_have_captions_scopes_and_titles_in_words(golden: Path,
                                                               tmp_path: Path) -> None:
    import re

    page = tmp_path / "report.html"
    govcloud("report", "html", "--period", "2026-10", "--out", str(page), estate=golden,
             check=True)
    text = page.read_text(encoding="utf-8")
    tables = re.findall(r"<table>.*?</table>", text, re.S)
    assert len(tables) >= 5
    for t in tables:
        assert re.match(r"<table><caption>[^<]+2026-10</caption>", t), t[:120]
        heads = re.findall(r'<th scope="col">([^<]*)</th>', t)
        assert heads and '<th scope="row">' in t
        for h in heads:  # words, zh-CN first: no bare code names
            assert re.search(r"[\u4e00-\u9fff]", h) and " " in h, h
    assert "<th scope=\"col\">list_value</th>" not in text
    assert "storage 资源池分摊（元） storage pool share (yuan)" in text


def test_printable_statement_per_department_carries_its_digest(golden: Path,
                                                               tmp_path: Path) -> None:
    import re

    def statement() -> str:
        out = tmp_path / "s.html"
        govcloud("report", "statement", "--period", "2026-10", "--department", "alpha",
                 "--out", str(out), estate=golden, check=True)
        return out.read_text(encoding="utf-8")

    open_page = statement()
    assert "未结账 open" in open_page and "561.87" in open_page and "@media print" in open_page
    govcloud("statement", "close", "--period", "2026-10", estate=golden, check=True)
    closed = statement()
    digest = re.search(r"Statement digest (sha256:[0-9a-f]{64})", closed)
    book = re.search(r"Price book digest (sha256:[0-9a-f]{64})", closed)
    assert digest and book and "已结账 closed" in closed
    # shares: hosts 183.12, storage 153.75, web 100, ops 50, net 75 (the golden README)
    for share in ("183.12", "153.75", "100.00", "50.00", "75.00", "561.87"):
        assert f'<td class="num">{share}</td>' in closed, share
    prices = golden / "prices.yaml"
    edit(prices, "yuan: 300", "yuan: 900", count=None)
    assert statement() == closed  # the frozen month: same page, same digest
    missing = govcloud("report", "statement", "--period", "2026-10", "--department", "nobody",
                       estate=golden)
    assert missing.returncode == 1 and "no charge for 'nobody'" in missing.stderr


def test_unit_costs_in_every_format_reconcile(golden: Path, tmp_path: Path) -> None:
    """What one unit really cost after the shared pools: the golden estate's web pool (100 a
    month, one site) plus its share of ops and net (200 a month, spread by the usage pools'
    costs: 100 of 3,330 → 6.00) makes one website cost 106.00; every format carries it and
    the costs add up to the platform's cost."""
    import openpyxl

    data = json.loads(govcloud("report", "unit-costs", "--period", "2026-10", "-o", "json",
                               estate=golden, check=True).stdout)
    items = {x["item"]: x for x in data["items"]}
    site = items["website"]
    assert site["by_pool"] == {"web": "100.00", "ops": "3.00", "net": "3.00"}
    assert site["cost"] == "106.00" and Decimal(site["per_unit"]) == Decimal("106")
    assert sum(Decimal(x["cost"]) for x in items.values()) == Decimal(data["platform_cost"])
    cb = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "-o", "json",
                             estate=golden, check=True).stdout)
    assert sum(Decimal(x["paid"]) for x in items.values()) == Decimal(cb["charged"])
    for x in items.values():
        if Decimal(x["units"]):
            got = (Decimal(x["per_unit"]) * Decimal(x["units"])).quantize(Decimal("0.01"))
            assert got == Decimal(x["cost"]), x
    rows = list(csv.DictReader(io.StringIO(govcloud(
        "report", "unit-costs", "--period", "2026-10", "-o", "csv", estate=golden,
        check=True).stdout.lstrip("\ufeff"))))
    assert rows[-1]["item"] == "(total)" and rows[-1]["cost"] == data["platform_cost"]
    text = govcloud("report", "unit-costs", "--period", "2026-10", estate=golden,
                    check=True).stdout
    assert "website" in text and "106.0000" in text and "Which pool's cost" in text
    book = tmp_path / "units.xlsx"
    govcloud("report", "unit-costs", "--period", "2026-10", "-o", "xlsx", "--out", str(book),
             estate=golden, check=True)
    assert openpyxl.load_workbook(book).sheetnames[0] == "Unit costs"


def test_unit_costs_as_shown_reconcile_to_the_fen_at_scale(example: Path, tmp_path: Path
                                                           ) -> None:
    """"Unit cost × units = cost, to the fen" held only in the JSON: text showed 4 decimals,
    CSV 6 and the workbook 2, so 116,365 backup GB × the shown 0.4080 came to 47,476.92
    against a cost of 47,481.75. Every format now shows enough decimals for the product."""
    import openpyxl

    def check(units: str | float, per_unit: str | float, cost: str | float, what: str) -> None:
        u, p = Decimal(str(units).replace(",", "")), Decimal(str(per_unit).replace(",", ""))
        got = (u * p).quantize(Decimal("0.01"))
        assert got == Decimal(str(cost).replace(",", "")), (what, units, per_unit, cost)

    args = ("report", "unit-costs", "--period", "2026-10")
    data = json.loads(govcloud(*args, "-o", "json", estate=example, check=True).stdout)
    items = {x["item"]: x for x in data["items"] if Decimal(x["units"])}
    assert max(Decimal(x["units"]) for x in items.values()) > 10_000  # the scale that shows it
    rows = list(csv.DictReader(io.StringIO(govcloud(*args, "-o", "csv", estate=example,
                                                    check=True).stdout.lstrip("\ufeff"))))
    for r in rows:
        if r["item"] in items:
            check(r["units"], r["cost_per_unit"], r["cost"], f"csv {r['item']}")
            check(r["units"], r["paid_per_unit"], r["paid"], f"csv paid {r['item']}")
    text = govcloud(*args, estate=example, check=True).stdout
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in items and len(cells) == 10:
            check(cells[1], cells[7], cells[6], f"text {cells[0]}")
            check(cells[1], cells[9], cells[8], f"text paid {cells[0]}")
    book = tmp_path / "units.xlsx"
    govcloud(*args, "-o", "xlsx", "--out", str(book), estate=example, check=True)
    ws = openpyxl.load_workbook(book)["Unit costs"]
    for row in ws.iter_rows(min_row=2):
        if row[0].value in items:
            shown = row[7].value if row[7].number_format == "General" else \
                Decimal(str(row[7].value)).quantize(Decimal("0.01"))
            check(row[1].value, shown, row[6].value, f"xlsx {row[0].value}")


def test_a_past_months_statement_keeps_the_cost_centre_recorded_then(golden: Path,
                                                                      tmp_path: Path) -> None:
    """History, not snapshots: October's statement names the cost centre alpha's plan had in
    October, not the one a later edit of the plan gave it (#23 case 10 put the cost centre
    on the statement)."""
    edit(golden / "plans" / "alpha.yaml", "cost_centre: CC-1,", "cost_centre: CC-9,")
    govcloud("apply", "--yes", estate=golden, check=True, env=NOW)  # the record learns CC-9
    page = tmp_path / "alpha.html"
    govcloud("report", "statement", "--period", "2026-10", "--department", "alpha",
             "--out", str(page), estate=golden, check=True, env=NOW)
    text = page.read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if "Cost centre" in x)
    assert "Cost centre: CC-1" in line and "CC-9" not in text, line
