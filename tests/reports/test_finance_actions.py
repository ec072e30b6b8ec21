"""Issue #20's finance actions (cases 6, 7 and 8) as a finance officer tries them on the golden
estate (tests/reports/golden/small: October collected, platform cost 3,530.00, alpha charged
561.87):

6. an adjustment is neither usage nor a saving: its own line in every total and report, the
   published release adds up to platform cost + adjustments, a bill below zero needs
   --allow-credit-balance with a reason;
7. every finance action in the hash-chained audit trail; a re-rate's baseline names who
   closed and when, its "why" knows a price line by what it prices and its month, and shows
   the savings the next close freezes;
8. a department that has left is adjusted for, and gets its statement, for the months it was
   billed.

The clock is GOVCLOUD_NOW (tests/reports/conftest.py), 2026-11-26 12:00 UTC unless a step
sets its own."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.cli import govcloud
from tests.support.estate import edit


def run(estate: Path, *args: str, **env: str) -> str:
    return govcloud(*args, estate=estate, check=True, env=env or None).stdout


def as_json(estate: Path, *args: str) -> Any:
    return json.loads(run(estate, *args, "-o", "json"))


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def credit(estate: Path, yuan: str, *more: str, department: str = "alpha",
           period: str = "2026-10") -> Any:
    return govcloud("statement", "adjust", "--period", period, "--department", department,
                    "--yuan", yuan, "--reason", "outage credit", *more, estate=estate)


def trail(estate: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in run(estate, "audit", "export").splitlines()]


# -- case 6 -------------------------------------------------------------------------------

def test_a_credit_that_takes_a_bill_below_zero_needs_a_reason(golden: Path) -> None:
    """`statement adjust --yuan -20000` made the bill negative without a word."""
    refused = credit(golden, "-600")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "would leave alpha's bill for 2026-10 at -38.13 yuan" in refused.stderr
    assert "credit at most 561.87" in refused.stderr
    assert "--allow-credit-balance" in refused.stderr
    blank = credit(golden, "-600", "--allow-credit-balance", " ")
    assert blank.returncode == 1 and "--allow-credit-balance needs a reason" in blank.stderr
    cb = as_json(golden, "report", "chargeback", "--period", "2026-10")
    assert cb["adjustments"] == []  # neither refusal recorded anything
    credit(golden, "-600", "--allow-credit-balance", "refund of the March overcharge")
    alpha = next(d for d in as_json(golden, "report", "chargeback", "--period", "2026-10")[
        "departments"] if d["department"] == "alpha")
    assert alpha["total"] == "-38.13" and alpha["adjustment"] == "-600.00"
    page = golden / "alpha.html"
    run(golden, "report", "statement", "--period", "2026-10", "--department", "alpha",
        "--out", str(page))
    html = page.read_text()
    assert "Pool shares" in html and "561.87" in html and "Credit balance" in html
    assert "refund of the March overcharge" in html


def test_an_adjustment_is_neither_usage_nor_saving_and_every_total_says_so(
        golden: Path, tmp_path: Path) -> None:
    before = as_json(golden, "report", "savings", "--period", "2026-10")
    assert credit(golden, "-61.87").returncode == 0
    # savings: the consolidated figure is the charge without adjustments
    after = as_json(golden, "report", "savings", "--period", "2026-10")
    assert after["saving"] == before["saving"]  # the platform cost did not change
    alpha = next(d for d in after["departments"] if d["department"] == "alpha")
    assert alpha["consolidated"] == "561.87"
    # the chargeback table: platform cost, adjustments and their sum, each its own row
    rows = {r["department"]: r for r in csv_rows(run(
        golden, "report", "chargeback", "--period", "2026-10", "-o", "csv"))}
    assert rows["(platform cost)"]["total"] == "3530.00"
    assert rows["(adjustments)"]["total"] == "-61.87"
    assert rows["(total)"]["name"] == "platform cost + adjustments"
    assert rows["(total)"]["total"] == "3468.13"
    deps = [r for d, r in rows.items() if not d.startswith("(")]
    assert sum(Decimal(r["total"]) for r in deps) + Decimal(rows["(idle)"]["total"]) == \
        Decimal("3468.13")
    text = run(golden, "report", "chargeback", "--period", "2026-10")
    assert "platform cost 3,530.00; + adjustments -61.87" in text
    # a span of months: the adjustments row, and the total is what it adds up to
    span = {r["department"]: r for r in csv_rows(run(
        golden, "report", "chargeback", "--from", "2026-10", "--to", "2026-10", "-o", "csv"))}
    assert span["(platform cost)"]["total"] == "3530.00"
    assert span["(adjustments)"]["2026-10"] == "-61.87"
    assert span["(total)"]["total"] == "3468.13"
    # statement close names them
    closed = run(golden, "statement", "close", "--period", "2026-10")
    assert "platform cost 3,530.00 yuan" in closed and "adjustments -61.87" in closed
    # the open-data release adds up to platform cost + adjustments, and says so
    out = tmp_path / "open"
    run(golden, "report", "publish", "--period", "2026-10", "--out", str(out))
    from frictionless import validate

    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    published = csv_rows((out / "spending-and-savings-2026-10.csv").read_text("utf-8"))
    assert sum(Decimal(r["monthly_charge_yuan"]) for r in published) == Decimal("3468.13")
    assert sum(Decimal(r["adjustment_yuan"]) for r in published) == Decimal("-61.87")
    assert sum(Decimal(r["saving_yuan"]) for r in published) == Decimal(before["saving"])
    data = json.loads((out / "spending-and-savings-2026-10.json").read_text("utf-8"))
    assert data["totals"]["platform_cost_plus_adjustments_yuan"] == 3468.13
    package = json.loads((out / "datapackage.json").read_text("utf-8"))
    assert "= platform cost + adjustments, to the fen" in package["description"]


# -- case 7 -------------------------------------------------------------------------------

def test_every_finance_action_is_in_the_hash_chained_trail(golden: Path, tmp_path: Path
                                                           ) -> None:
    run(golden, "statement", "close", "--period", "2026-10",
        GOVCLOUD_NOW="2026-11-01T01:00:00Z")
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "tariff wrong",
        GOVCLOUD_NOW="2026-11-03T09:00:00Z")
    assert credit(golden, "-10").returncode == 0
    run(golden, "statement", "rerate", "--period", "2026-10", "--yes", "--reason",
        "after the credit")
    run(golden, "statement", "close", "--period", "2026-10")
    run(golden, "report", "publish", "--period", "2026-10", "--out", str(tmp_path / "o"))
    finance = [e for e in trail(golden) if e["action"].startswith("statement ")]
    assert [e["action"] for e in finance] == [
        "statement close", "statement reopen", "statement adjust", "statement rerate",
        "statement close", "statement publish"]
    assert all(e["actor"] and e["at"] and e["subject"] == "statement 2026-10" for e in finance)
    reopen, adjust = finance[1], finance[2]
    assert reopen["reason"] == "tariff wrong" and reopen["at"].startswith("2026-11-03T09:00:00")
    assert reopen["before"]["closed_at"].startswith("2026-11-01T01:00:00")
    assert adjust["department"] == "alpha" and adjust["reason"] == "outage credit"
    assert adjust["after"]["yuan"] == "-10.00"
    assert finance[3]["reason"] == "after the credit"
    assert "whole" in run(golden, "audit", "verify")


def test_a_rerate_after_a_reopen_names_who_closed_and_when(golden: Path) -> None:
    """The baseline read "as closed at <the reopen's time> by <the reopen's pid>"."""
    run(golden, "statement", "close", "--period", "2026-10",
        GOVCLOUD_NOW="2026-11-01T01:00:00Z")
    closed_by = json.loads(run(golden, "statement", "audit", "-o", "json"))[0]["who"]
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "tariff wrong",
        GOVCLOUD_NOW="2026-11-03T09:00:00Z")
    diff = as_json(golden, "statement", "rerate", "--period", "2026-10")
    closed_at = json.loads(run(golden, "statement", "audit", "-o", "json"))[0]["at"]
    assert closed_at.startswith("2026-11-01T01:00:00")
    assert diff["baseline"].startswith(f"as closed at {closed_at} by {closed_by} "
                                       "(reopened at 2026-11-03T09:00:00")
    assert diff["baseline"].endswith(": tariff wrong)")


def test_a_reopen_recorded_by_an_earlier_version_still_names_who_closed(golden: Path) -> None:
    """Ratings kept by a reopen before this fix carry the reopen's time and who; a re-rate
    reads who closed from the finance audit trail instead (nothing stored is rewritten)."""
    run(golden, "statement", "close", "--period", "2026-10",
        GOVCLOUD_NOW="2026-11-01T01:00:00Z")
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "tariff wrong",
        GOVCLOUD_NOW="2026-11-03T09:00:00Z")
    db = sqlite3.connect(golden / ".state" / "govcloud.db")
    with db:  # the row as the earlier version wrote it
        (body,) = db.execute("SELECT body FROM ratings WHERE period = '2026-10'").fetchone()
        old = json.loads(body)
        reopen_at, reopener = old["reopened"]["at"], old["reopened"]["by"]
        del old["reopened"], old["ledger"]
        old["rated_at"], old["rated_by"] = reopen_at, reopener
        db.execute("UPDATE ratings SET body = ? WHERE period = '2026-10'", (json.dumps(old),))
    db.close()
    closed = json.loads(run(golden, "statement", "audit", "-o", "json"))[0]
    diff = as_json(golden, "statement", "rerate", "--period", "2026-10")
    assert diff["baseline"] == (f"as closed at {closed['at']} by {closed['who']} (reopened "
                                f"at {reopen_at} by {reopener}: tariff wrong)")


def test_a_rerate_knows_price_lines_by_identity_and_shows_the_savings(golden: Path) -> None:
    """One line inserted in prices.yaml listed every line below it as changed; the savings
    the next close would freeze were not shown."""
    run(golden, "statement", "close", "--period", "2026-10")
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "legacy recount")
    prices = golden / "prices.yaml"
    edit(prices, "power:\n", "# the tariff below is the 2026 contract's\npower:\n")
    diff = as_json(golden, "statement", "rerate", "--period", "2026-10")
    assert diff["why"]["price_lines"] == [] and diff["changed"] is False, diff["why"]
    edit(prices, "old: {purchase_yuan: 6000,", "old: {purchase_yuan: 9000,")
    edit(prices, "vcpu: [{from: 2026-01, yuan: 10}]", "vcpu: [{from: 2026-01, yuan: 11}]")
    diff = as_json(golden, "statement", "rerate", "--period", "2026-10")
    assert [c["what"] for c in diff["why"]["price_lines"]] == [
        "legacy_classes.old", "units.vcpu from 2026-01"]
    moved = {c["what"]: (c["old"], c["new"]) for c in diff["savings"]}
    assert "alpha legacy cost" in moved and "estate saving" in moved
    old, new = moved["alpha legacy cost"]
    assert Decimal(new) > Decimal(old)  # dearer legacy servers
    text = run(golden, "statement", "rerate", "--period", "2026-10")
    assert "Savings the next close would freeze:" in text and "alpha legacy cost" in text


# -- case 8 -------------------------------------------------------------------------------

def test_a_department_that_left_is_adjusted_for_the_months_it_was_billed(golden: Path) -> None:
    """`statement adjust --department statistics` said "no department 'statistics' in the
    estate" for a month it was billed."""
    (golden / "plans" / "beta.yaml").unlink()
    run(golden, "apply", "--yes", "--prune")
    assert credit(golden, "-5", department="beta").returncode == 0, "beta billed in October"
    beta = next(d for d in as_json(golden, "report", "chargeback", "--period", "2026-10")[
        "departments"] if d["department"] == "beta")
    assert beta["adjustment"] == "-5.00"
    page = golden / "beta.html"
    run(golden, "report", "statement", "--period", "2026-10", "--department", "beta",
        "--out", str(page))
    assert "outage credit" in page.read_text()
    never = credit(golden, "-5", department="gamma")
    assert never.returncode == 1 and "Traceback" not in never.stderr
    assert "'gamma' was not billed in 2026-10" in never.stderr
    assert "one of: alpha, beta" in never.stderr


# -- found by a trial ----------------------------------------------------------------------

def test_an_amount_beyond_a_trillion_is_refused_with_one_sentence(golden: Path) -> None:
    """27 digits crashed (exit 70); 23 were accepted, and the HTML report and the release
    then lost the fen (floats)."""
    for yuan in ("123456789012345678901234567", "12345678901234567890123", "1000000000000",
                 "-1000000000000.00"):
        got = credit(golden, yuan)
        assert got.returncode == 1, (yuan, got.stderr)
        assert "beyond what one adjustment may be" in got.stderr
        assert "Traceback" not in got.stderr and "Internal error" not in got.stderr
    assert credit(golden, "999999999999.99").returncode == 0


def test_a_debit_is_never_refused_as_a_credit_balance(golden: Path) -> None:
    """A bill in credit (allowed, with why) could not be debited back: 'credit at most
    -38.13'."""
    credit(golden, "-600", "--allow-credit-balance", "refund")
    back = credit(golden, "5")
    assert back.returncode == 0, back.stderr
    alpha = next(d for d in as_json(golden, "report", "chargeback", "--period", "2026-10")[
        "departments"] if d["department"] == "alpha")
    assert alpha["adjustment"] == "-595.00" and alpha["total"] == "-33.13"
