"""Issue #20, case 9: the year a finance officer asks for (``report chargeback --from 2026-01
--to 2026-12``), its months recorded, to date and forecast, each labelled, and the forecast
calendar-aware — a month costs a month's charges whether it has 672, 720 or 744 hours.

The golden estate (golden/small): applied on 2026-01-01 and unchanged since, so every whole
month costs the same (4,260.00 yuan of platform cost)."""

from __future__ import annotations

import csv
import io
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import BUILT, NOW, govcloud
from tests.support.estate import golden_estate

FEN = Decimal("0.01")
MID_FEBRUARY = {"GOVCLOUD_NOW": "2026-02-15T12:00:00Z"}


def run(estate: Path, *args: str, env: dict[str, str] = NOW) -> str:
    return govcloud(*args, estate=estate, check=True, env=env).stdout


def span(estate: Path, first: str, last: str, env: dict[str, str] = NOW) -> Any:
    return json.loads(run(estate, "report", "chargeback", "--from", first, "--to", last,
                          "-o", "json", env=env))


def month(estate: Path, period: str, env: dict[str, str] = NOW) -> Any:
    return json.loads(run(estate, "report", "chargeback", "--period", period, "-o", "json",
                          env=env))


def charges(report: Any) -> dict[str, Decimal]:
    return {d["department"]: Decimal(d["total"]) for d in report["departments"]}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = golden_estate(tmp_path)
    run(root, "apply", "--yes", "-o", "json", env=BUILT)
    return root


def test_the_year_asked_for_shows_the_months_ahead_as_a_forecast(estate: Path) -> None:
    """The issue's case: on 26 November, January to October recorded, `report chargeback
    --from 2026-01 --to 2026-12` exited 2 ("--to 2026-12 has not begun"). November (no usage
    collected yet) and December are forecast at October's rate; the year is 12 × a month,
    to the fen (the old run rate put February's 672 hours at a whole month's cost and ran
    above it)."""
    for m in range(1, 11):
        run(estate, "usage", "collect", "--period", f"2026-{m:02d}")
    october = month(estate, "2026-10")
    out = govcloud("report", "chargeback", "--from", "2026-01", "--to", "2026-12",
                   estate=estate, env=NOW)
    assert out.returncode == 0, out.stderr
    assert "2026-11 (forecast)" in out.stdout and "2026-12 (forecast)" in out.stdout
    assert "Forecast: 2026-11, 2026-12." in out.stdout
    assert "Year 2026: platform cost 51,120.00 yuan" in out.stdout  # 12 × 4,260.00
    data = span(estate, "2026-01", "2026-12")
    assert data["basis"] == ["recorded"] * 10 + ["forecast"] * 2
    assert data["forecast_base"] == "2026-10" and data["hours"][10] == [0, 720]
    month_cost = Decimal(october["platform_cost"])
    assert Decimal(data["forecast"]["platform_cost"]) == 12 * month_cost
    for d, v in charges(october).items():
        row = data["departments"][d]
        assert row["months"][10:] == [str(v)] * 2  # November and December: October's charge
        assert Decimal(row["to_date"]) == 10 * v and Decimal(row["forecast"]) == 2 * v
        assert Decimal(data["forecast"]["departments"][d]) == 12 * v
    assert sum(Decimal(x) for x in data["platform_cost"]) == 12 * month_cost


def test_a_forecast_is_the_bill_a_steady_month_then_gets(estate: Path) -> None:
    """January recorded (744 h), the clock mid-February with February not collected: every
    month ahead is forecast at January's charge ÷ 744 × 744 — March (744 h), and April (720 h)
    too, not × 720 / 744. Collected later, February, March and April are billed exactly
    that."""
    run(estate, "usage", "collect", "--period", "2026-01", env=MID_FEBRUARY)
    january = charges(month(estate, "2026-01", env=MID_FEBRUARY))
    data = span(estate, "2026-01", "2026-04", env=MID_FEBRUARY)
    assert data["basis"] == ["recorded", "forecast", "forecast", "forecast"]
    forecast = {d: [Decimal(x) for x in v["months"][1:]] for d, v in data["departments"].items()}
    assert forecast == {d: [v] * 3 for d, v in january.items()}
    for period in ("2026-02", "2026-03", "2026-04"):
        run(estate, "usage", "collect", "--period", period)
        assert charges(month(estate, period)) == january, period


def test_the_month_under_way_is_to_date_and_its_rest_forecast(estate: Path) -> None:
    """Mid-February with February collected: January recorded, February month to date
    (349 of 672 hours), March forecast at February's own rate for a whole February; the
    rest of February (323 hours) is forecast in the forecast column."""
    for period in ("2026-01", "2026-02"):
        run(estate, "usage", "collect", "--period", period, env=MID_FEBRUARY)
    feb = month(estate, "2026-02", env=MID_FEBRUARY)
    data = span(estate, "2026-01", "2026-03", env=MID_FEBRUARY)
    assert data["basis"] == ["recorded", "month-to-date", "forecast"]
    assert data["hours"][1] == [349, 672]
    for d, v in charges(feb).items():
        row = data["departments"][d]
        whole = (v * 672 / 349).quantize(FEN, ROUND_HALF_UP)
        rest = (v * 323 / 349).quantize(FEN, ROUND_HALF_UP)
        assert Decimal(row["months"][2]) == whole
        assert Decimal(data["rest_of_month"]["departments"][d]) == rest
        assert Decimal(row["forecast"]) == whole + rest
        assert Decimal(row["total"]) == Decimal(row["to_date"]) + Decimal(row["forecast"])
    text = run(estate, "report", "chargeback", "--from", "2026-01", "--to", "2026-03",
               env=MID_FEBRUARY)
    assert "2026-02 (month to date)" in text and "2026-03 (forecast)" in text
    assert "The rest of 2026-02 is forecast at its own hourly rate" in text
    assert "Forecast from 2026-02's charges; method:" in text


def test_csv_and_xlsx_label_each_month(estate: Path, tmp_path: Path) -> None:
    run(estate, "usage", "collect", "--period", "2026-10")
    out = run(estate, "report", "chargeback", "--from", "2026-10", "--to", "2026-12", "-o",
              "csv")
    rows = list(csv.reader(io.StringIO(out.lstrip("\ufeff"))))
    assert rows[0] == ["department", "name", "2026-10", "2026-11 (forecast)",
                       "2026-12 (forecast)", "to date", "forecast", "total"]
    total = next(r for r in rows if r[0] == "(total)")
    assert total[2:] == ["4260.00", "4260.00", "4260.00", "4260.00", "8520.00", "12780.00"]
    openpyxl = pytest.importorskip("openpyxl")
    book = tmp_path / "span.xlsx"
    run(estate, "report", "chargeback", "--from", "2026-10", "--to", "2026-12", "-o", "xlsx",
        "--out", str(book))
    wb = openpyxl.load_workbook(book)
    header = [c.value for c in wb["Chargeback by month"][1]]
    assert header[3] == "2026-11 月 month 预测 (forecast)"
    assert header[-3:] == ["至今（元） To date (yuan)", "预测（元） Forecast (yuan)",
                           "合计（元） Total (yuan)"]
    notes = [r[0].value for r in wb["Assumptions"].iter_rows(min_row=2)]
    assert any(n.startswith("Forecast from 2026-10's charges; method:") for n in notes)


def test_a_month_gone_by_without_usage_is_still_refused(estate: Path) -> None:
    run(estate, "usage", "collect", "--period", "2026-10")
    out = govcloud("report", "chargeback", "--from", "2026-09", "--to", "2026-12",
                   estate=estate, env=NOW)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no usage is recorded for 2026-09" in out.stderr
    assert "govcloud usage collect --period 2026-09" in out.stderr


def test_a_span_all_recorded_reads_as_before(estate: Path) -> None:
    for period in ("2026-09", "2026-10"):
        run(estate, "usage", "collect", "--period", period)
    data = span(estate, "2026-09", "2026-10")
    assert data["basis"] == ["recorded", "recorded"] and "forecast" not in data
    assert "to_date" not in data and "rest_of_month" not in data
    assert data["departments"]["alpha"] == {"months": ["607.50", "607.50"], "total": "1215.00"}


def test_the_year_to_date_forecasts_a_steady_year_at_twelve_months(estate: Path) -> None:
    """The year to date on 26 November (November to date, 613 of 720 hours): the year's
    figure is 12 months of a steady estate's cost, to the rounding of November's lines scaled
    to its whole month (documented: each line to the fen). The old run rate (spend ÷ 7,909
    hours run × 8,760) gave 51,200.89 — above, as February's 672 hours cost a whole month."""
    for m in range(1, 12):
        run(estate, "usage", "collect", "--period", f"2026-{m:02d}")
    data = json.loads(run(estate, "report", "chargeback", "--from", "2026-01", "-o", "json"))
    lines = len(data["departments"]) + 1  # each department and the idle line
    year = Decimal(data["forecast"]["platform_cost"])
    assert abs(year - 12 * Decimal("4260.00")) <= lines * Decimal("0.01"), year
    assert data["basis"] == ["recorded"] * 10 + ["month-to-date"]


def test_a_month_collected_before_it_ended_says_how_to_complete_it(estate: Path) -> None:
    """The apply records its own month's first hour; on 15 February January is still 1 of
    744 hours: it is month to date, its rest forecast, and the report says how to complete
    it."""
    data = span(estate, "2026-01", "2026-02", env=MID_FEBRUARY)
    assert data["basis"] == ["month-to-date", "forecast"] and data["hours"][0] == [1, 744]
    assert data["rest_of_month"]["month"] == "2026-01"
    text = run(estate, "report", "chargeback", "--from", "2026-01", "--to", "2026-02",
               env=MID_FEBRUARY)
    assert ("2026-01 was collected before it ended (1 of 744 hours): govcloud usage collect "
            "--period 2026-01 brings it up to date.") in text
