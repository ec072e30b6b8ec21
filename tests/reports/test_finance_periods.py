"""Issue #12's cases as a finance officer tries them: periods that mean something, prorated
usage, closed months that no edit can change, audited reopen and adjustments, the price book
in validate, open data that adds up, and the README's first command giving a chargeback.

The clock is GOVCLOUD_NOW (tests/reports/conftest.py): applied on 2026-01-01, now
2026-11-26 12:00 UTC."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import NOW, govcloud
from tests.support.estate import copy_estate, edit

FORMATS = ("text", "json", "csv")


def run(estate: Path, *args: str, **env: str) -> str:
    return govcloud(*args, estate=estate, check=True, env=env or None).stdout


def test_usage_only_for_months_that_have_begun_and_had_something(golden: Path) -> None:
    future = govcloud("usage", "collect", "--period", "2027-03", estate=golden)
    assert future.returncode == 1 and "2027-03 has not begun" in future.stderr
    before = govcloud("usage", "collect", "--period", "2025-12", estate=golden)
    assert before.returncode == 1 and "2025-12 is before the estate's record began " \
        "(2026-01): nothing of it ran then — give a month from 2026-01" in before.stderr
    assert "Traceback" not in future.stderr + before.stderr
    periods = {p for (p,) in sqlite3.connect(golden / ".state/govcloud.db").execute(
        "SELECT DISTINCT period FROM usage")}
    assert periods == {"2026-01", "2026-10"}  # the apply's own month, and October


@pytest.mark.parametrize("args", [("report", "chargeback"), ("report", "savings"),
                                  ("report", "utilization"), ("report", "unit-costs"),
                                  ("report", "publish"), ("statement", "close")])
def test_a_month_not_begun_is_named_so_not_sent_to_usage_collect(golden: Path,
                                                                args: tuple[str, ...]) -> None:
    """A report of a future month said "run govcloud usage collect --period 2027-03 first",
    which usage collect then refuses: the officer is sent round in a circle."""
    out = govcloud(*args, "--period", "2027-03", estate=golden)
    assert out.returncode == 1
    assert "2027-03 has not begun" in out.stderr and "give a month up to 2026-11" in out.stderr
    assert "usage collect" not in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args, said", [
    (("--period", "2026-10", "--from", "2026-01"), "--period 2026-10 and --from"),
])
def test_a_range_says_which_option_is_wrong(golden: Path, args: tuple[str, ...],
                                            said: str) -> None:
    """--period beside --from was dropped without a word (the range printed instead). (A
    --to not begun is no longer wrong: its months are forecast, tests/reports/
    test_span_forecast.py.)"""
    out = govcloud("report", "chargeback", *args, estate=golden)
    assert out.returncode == 2 and said in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


def test_the_current_month_is_month_to_date_and_says_so(golden: Path) -> None:
    out = run(golden, "usage", "collect", "--period", "2026-11")
    assert "2026-11 month to date (613 of 720 hours" in out
    text = run(golden, "report", "chargeback", "--period", "2026-11")
    assert "month to date (613 of 720 hours)" in text
    data = json.loads(run(golden, "report", "chargeback", "--period", "2026-11", "-o", "json"))
    october = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o",
                             "json"))
    # the estate did not change: November to date is October's fixed pools × 613/720 hours
    by = {p["name"]: p for p in data["pools"]}
    assert by["ops"]["cost"] == "85.14"  # 100 × 613 / 720 = 85.138…
    assert data["hours"] == [613, 720] and october["hours"] == [744, 744]


def test_servers_are_billed_from_the_hour_created_to_the_hour_deleted(golden: Path) -> None:
    plan = golden / "plans" / "beta.yaml"
    three = plan.read_text().replace("count: 2", "count: 3")
    two = plan.read_text()
    plan.write_text(three)
    run(golden, "apply", "--yes", GOVCLOUD_NOW="2026-10-24T09:30:00Z")
    plan.write_text(two)
    run(golden, "apply", "--yes", GOVCLOUD_NOW="2026-10-28T09:10:00Z")
    run(golden, "usage", "collect", "--period", "2026-10")
    util = json.loads(run(golden, "report", "utilization", "--period", "2026-10", "-o", "json"))
    beta = next(d for d in util["departments"] if d["department"] == "beta")
    # b-app-3 (2 vCPU) lived from 09:00 on the 24th to 10:00 on the 28th: 97 of 744 hours
    assert beta["allocated"]["vcpu"] == pytest.approx(4 + 2 * 97 / 744, abs=5e-4)
    assert beta["allocated"]["servers"] == pytest.approx(2 + 97 / 744, abs=5e-4)
    cb = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o", "json"))
    hosts = next(p for p in cb["pools"] if p["name"] == "hosts")
    # hosts pool basis: priced unit-months (each rounded to 6 decimals), vCPU 10, RAM 5,
    # disk 1 yuan; b-app-3 is 2 vCPU, 4 GiB, 10 GB for 97 of 744 hours
    def months(units: int, extra: int) -> Decimal:
        return round(Decimal(units) + Decimal(extra * 97) / 744, 6)

    want = months(4, 2) * 10 + months(8, 4) * 5 + months(20, 10) * 1
    assert Decimal(hosts["basis"]["beta"]) == want == Decimal("106.518818")


def test_only_finished_months_close(golden: Path) -> None:
    run(golden, "usage", "collect", "--period", "2026-11")
    proc = govcloud("statement", "close", "--period", "2026-11", estate=golden)
    assert proc.returncode == 1 and "2026-11 is not over yet" in proc.stderr


def _every_report(estate: Path, period: str, out: Path) -> dict[str, bytes]:
    got = {}
    for kind in ("chargeback", "savings", "utilization", "unit-costs"):
        for fmt in FORMATS if kind != "unit-costs" else ("json",):
            got[f"{kind}.{fmt}"] = govcloud("report", kind, "--period", period, "-o", fmt,
                                            estate=estate, check=True).stdout.encode()
    got["savings.detail"] = govcloud("report", "savings", "--period", period, "--detail",
                                     estate=estate, check=True).stdout.encode()
    page = out.parent / f"{out.name}-statement-alpha.html"
    govcloud("report", "statement", "--period", period, "--department", "alpha", "--out",
             str(page), estate=estate, check=True)
    got["statement-alpha.html"] = page.read_bytes()
    govcloud("report", "publish", "--period", period, "--out", str(out), estate=estate,
             check=True)
    for f in sorted(out.iterdir()):
        got[f"publish/{f.name}"] = f.read_bytes()
    return got


EDITS = [
    ("prices.yaml", "admin_yuan_per_year: 120000", "admin_yuan_per_year: 999000"),
    ("prices.yaml", "yuan_per_kwh: 1.0", "yuan_per_kwh: 3.7"),
    ("prices.yaml", "old: {purchase_yuan: 6000", "old: {purchase_yuan: 66000"),
    ("prices.yaml", "vcpu: [{from: 2026-01, yuan: 10}]", "vcpu: [{from: 2026-01, yuan: 77}]"),
    ("prices.yaml", "pue: 1.0", "pue: 1.9"),
    ("prices.yaml", "yuan: 300}]", "yuan: 3000}]"),
    ("plans/beta.yaml", "name: 乙委员会", "name: 乙委员会（改名）"),
    ("plans/beta.yaml", "{class: old, count: 1}", "{class: old, count: 7}"),
    ("plans/alpha.yaml", "admin_staff: 1", "admin_staff: 4"),
    # issue #20: what the dated record must not carry back into a closed month
    ("plans/alpha.yaml", "admin_staff: 0.5", "admin_staff: 3"),  # a legacy edit
    ("plans/alpha.yaml", "{class: old, count: 2}", "{class: old, count: 9}"),
    # a resize: a second flavor in the catalogue, beta's servers moved onto it
    ("govcloud.yaml", "disk_gb: 10}\n  images:",
     "disk_gb: 10}\n    - {name: f2, vcpus: 4, ram_gb: 8, disk_gb: 20}\n  images:"),
    ("plans/beta.yaml", "flavor: f1", "flavor: f2"),
]
GAMMA = """department: {id: gamma, name: 丙办, cost_centre: CC-3, zone: intranet}
quota: {instances: 2, cores: 4, ram_gb: 8, volumes: 1, volume_gb: 100, websites: 1}
servers:
  - {name: g-app, flavor: f1, image: debian-12}
legacy:
  servers:
    - {class: old, count: 3}
"""


def _change(estate: Path, what: str) -> None:
    """One change to the estate after the close that is not a file edit: a department added
    or removed, a consolidation, a credit in the month after, the host parked or woken."""
    plans = estate / "plans"
    if what == "add gamma":
        (plans / "gamma.yaml").write_text(GAMMA, encoding="utf-8")
    elif what == "remove beta":
        (plans / "beta.yaml").unlink(missing_ok=True)
    elif what == "consolidate":
        govcloud("consolidate", "--apply", "--yes", estate=estate)  # nothing to do is fine
    elif what == "credit november":
        run(estate, "statement", "adjust", "--period", "2026-11", "--department", "alpha",
            "--yuan", "-12.34", "--reason", "after the close")
    elif what == "collect november":
        run(estate, "usage", "collect", "--period", "2026-11")


RESIZE = EDITS[-2:]
# Each round a random subset of the edits, in a random order, and these changes among them:
# beta resized, then the hosts consolidated and November credited, then beta removed.
CHANGES = [RESIZE, ["consolidate", "credit november", "collect november"],
           ["remove beta", "add gamma", "credit november"]]


def test_a_closed_month_is_the_same_in_every_report_after_any_edits(golden: Path,
                                                                    tmp_path: Path) -> None:
    """Property: whatever prices and plans are edited, servers resized, departments added or
    removed, hosts consolidated and later months credited (a random subset, in a random
    order), every report of a closed month is byte for byte what it was when closed."""
    run(golden, "statement", "close", "--period", "2026-10")
    first = _every_report(golden, "2026-10", tmp_path / "first")
    assert b"month to date" not in first["chargeback.text"]
    closed = json.loads(first["chargeback.json"])
    assert closed["price_book"]["digest"].startswith("sha256:")
    assert all(re.match(r"prices\.yaml:\d+$", k) for k in closed["price_book"]["lines"])
    rng = random.Random(12)
    for round_, changes in enumerate(CHANGES):
        picked = rng.sample(EDITS[:-2], k=rng.randint(2, len(EDITS) - 2)) + changes
        rng.shuffle(picked)
        for step in picked:
            if isinstance(step, str):
                _change(golden, step)
                continue
            path = golden / step[0]
            if path.exists():  # beta's plan may be gone
                text = path.read_text(encoding="utf-8")
                path.write_text(text.replace(step[1], step[2]), encoding="utf-8")  # or done
        run(golden, "apply", "--yes", "--prune", "--no-services")
        again = _every_report(golden, "2026-10", tmp_path / f"again-{round_}")
        assert again == first, [k for k in first if again.get(k) != first[k]]
    assert not (golden / "plans" / "beta.yaml").exists()
    assert "f2" in (golden / "govcloud.yaml").read_text(encoding="utf-8")
    run(golden, "usage", "collect", "--period", "2026-11")
    november = json.loads(run(golden, "report", "chargeback", "--period", "2026-11", "-o",
                              "json"))
    charged = {d["department"]: d for d in november["departments"]}
    assert "gamma" in charged and charged["alpha"]["adjustment"] == "-24.68"
    # usage of a closed month cannot be re-collected (case 5), nor a closed month credited
    recollect = govcloud("usage", "collect", "--period", "2026-10", estate=golden)
    assert recollect.returncode == 1 and "2026-10 is closed" in recollect.stderr
    credit = govcloud("statement", "adjust", "--period", "2026-10", "--department", "alpha",
                      "--yuan", "-1", "--reason", "x", estate=golden)
    assert credit.returncode == 1 and "2026-10 is closed" in credit.stderr


def test_reopen_and_adjust_are_explicit_and_audited(golden: Path) -> None:
    run(golden, "statement", "close", "--period", "2026-10")
    before = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o",
                            "json"))
    refused = govcloud("statement", "adjust", "--period", "2026-10", "--department", "alpha",
                       "--yuan", "-10", "--reason", "x", estate=golden)
    assert refused.returncode == 1 and "2026-10 is closed" in refused.stderr
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "backup counted twice")
    run(golden, "statement", "adjust", "--period", "2026-10", "--department", "alpha",
        "--yuan", "-61.87", "--reason", "outage credit")
    cb = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o", "json"))
    alpha = next(d for d in cb["departments"] if d["department"] == "alpha")
    assert alpha["total"] == "500.00" and alpha["adjustment"] == "-61.87"  # 561.87 − 61.87
    assert Decimal(cb["charged"]) == Decimal(before["charged"]) - Decimal("61.87")
    assert cb["platform_cost"] == before["platform_cost"] == "3530.00"
    run(golden, "statement", "close", "--period", "2026-10")
    trail = json.loads(run(golden, "statement", "audit", "--period", "2026-10", "-o", "json"))
    assert [t["action"] for t in trail] == ["close", "reopen", "adjust alpha -61.87", "close"]
    assert trail[1]["reason"] == "backup counted twice" and trail[1]["who"]
    assert trail[0]["digest"] == trail[1]["digest"] != trail[3]["digest"]


def test_validate_checks_the_price_book(golden: Path) -> None:
    prices = golden / "prices.yaml"
    edit(prices, "tariff: [{from: 2026-01,", "tariff: [{from: 2026-01-01,")
    proc = govcloud("validate", estate=golden)
    assert proc.returncode == 1
    assert re.search(r"prices\.yaml:11: power\.tariff\[0\]\.from: expected text, got the date "
                     r"2026-01-01 .* — write the month in quotes: \"2026-01\"",
                     proc.stdout + proc.stderr)


def test_publishing_needs_a_closed_month_and_validates_as_a_data_package(
        golden: Path, tmp_path: Path) -> None:
    from frictionless import Package, validate

    out = tmp_path / "open"
    early = govcloud("report", "publish", "--period", "2026-10", "--out", str(out),
                     estate=golden)
    assert early.returncode == 1 and "2026-10 is not closed" in early.stderr
    assert not out.exists()
    run(golden, "statement", "close", "--period", "2026-10")
    run(golden, "report", "publish", "--period", "2026-10", "--out", str(out))
    report = validate(str(out / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    package = Package(str(out / "datapackage.json"))
    assert package.licenses and package.licenses[0]["name"] == "CC-BY-4.0"
    assert package.contributors[0]["role"] == "publisher"
    fields = package.resources[0].schema.fields
    assert fields[4].title == "月度分摊费用（元） Monthly charge (yuan)"  # zh-CN first
    rows = package.resources[0].read_rows()
    assert sum(Decimal(r["monthly_charge_yuan"]) for r in rows) == Decimal("3530.00")
    assert rows[-1]["department_id"] == "(idle)"


def test_readme_first_command_then_chargeback_prints_month_to_date(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    for cmd in (["validate"], ["plan"], ["apply", "--yes"], ["show"]):
        govcloud(*cmd, estate=estate, check=True, timeout=600)
    out = govcloud("report", "chargeback", estate=estate, check=True).stdout
    # 613 hours of November have run; the estate, made at noon, ran 1 of them, and its
    # figures count that one (nothing of it ran before its record began)
    assert "2026-11 month to date (613 of 720 hours, 1 since the estate's record began)" \
        in out, out[-600:]
    rows = list(csv.DictReader(io.StringIO(govcloud(
        "report", "chargeback", "-o", "csv", estate=estate, check=True).stdout.lstrip("\ufeff"))))
    assert len([r for r in rows if not r["department"].startswith("(")]) == 16
    assert all(float(r["total"]) > 0 for r in rows if not r["department"].startswith("("))
    assert NOW["GOVCLOUD_NOW"].startswith("2026-11-26T12")


def test_every_price_is_effective_dated(golden: Path) -> None:
    """Host and legacy classes, staff and PUE changed from November leave October alone and
    change November (case 2: an edit used to rewrite every open month)."""
    run(golden, "usage", "collect", "--period", "2026-11")
    before = {m: json.loads(run(golden, "report", kind, "--period", m, "-o", "json"))
              for m in ("2026-10", "2026-11") for kind in ("savings",)}
    prices = golden / "prices.yaml"
    text = prices.read_text()
    text = text.replace(
        "h1: {purchase_yuan: 12000, years: 1, power_w: 1000, maintenance_yuan_per_year: 1200}",
        "h1: {purchase_yuan: 12000, years: 1, power_w: 1000, maintenance_yuan_per_year: 1200,"
        " changes: [{from: \"2026-11\", purchase_yuan: 24000}]}")
    text = text.replace(
        "old: {purchase_yuan: 6000, years: 5, power_w: 100, maintenance_yuan_per_year: 1200}",
        "old: {purchase_yuan: 6000, years: 5, power_w: 100, maintenance_yuan_per_year: 1200,"
        " changes: [{from: \"2026-11\", power_w: 300}]}")
    text = text.replace("  legacy_website_yuan_per_year: 1200\n",
                        "  legacy_website_yuan_per_year: 1200\n"
                        "  changes: [{from: \"2026-11\", admin_yuan_per_year: 240000}]\n")
    text = text.replace("  legacy_pue: 2.0\n",
                        "  legacy_pue: 2.0\n  changes: [{from: \"2026-11\", legacy_pue: 3.0}]\n")
    prices.write_text(text)
    run(golden, "validate")
    after = {m: json.loads(run(golden, "report", "savings", "--period", m, "-o", "json"))
             for m in ("2026-10", "2026-11")}
    def figures(led: dict[str, Any]) -> Any:  # the money, not the (moved) citations
        return (led["saving"], [(d["department"], d["legacy_total"], d["saving"],
                                 [x["yuan"] for x in d["legacy"]]) for d in led["departments"]])

    # October is open, yet untouched: every change is dated November
    assert figures(after["2026-10"]) == figures(before["2026-10"])
    assert figures(after["2026-11"]) != figures(before["2026-11"])
    nov = {d["department"]: d for d in after["2026-11"]["departments"]}
    assert any("PUE 3.0" in x["label"] and "300 W" in x["label"]
               for x in nov["alpha"]["legacy"])
    assert any("240000" in x["label"] for x in nov["alpha"]["legacy"])
    cb = json.loads(run(golden, "report", "chargeback", "--period", "2026-11", "-o", "json"))
    hosts = next(p for p in cb["pools"] if p["name"] == "hosts")
    assert any("24000 / 1 years" in x["label"] and "changes[0]" in x["source"]
               for x in hosts["lines"])


def test_the_exporter_schedule_collects_this_month_and_finishes_last_month(
        golden: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud.applying import engine
    from govcloud.books import metering

    # October as last collected on the 15th (the fixture collected it whole: set that aside,
    # since collecting with the clock set back is refused for a month recorded further).
    db = sqlite3.connect(golden / ".state/govcloud.db")
    db.execute("DELETE FROM usage WHERE period = '2026-10'")
    db.commit()
    run(golden, "usage", "collect", "--period", "2026-10", GOVCLOUD_NOW="2026-10-15T06:20:00Z")
    with engine.session(golden) as s:
        notes = metering.collect_due(s.estate, s.store, s.driver)
    assert notes == ["usage collected for 2026-11 month to date (613 of 720 hours, to "
                     "2026-11-26 13:00 UTC)", "usage collected for 2026-10"]
    hours = dict(sqlite3.connect(golden / ".state/govcloud.db").execute(
        "SELECT period, allocated FROM usage WHERE department = '_platform' AND item = 'hours'"))
    assert hours["2026-10"] == 744 and hours["2026-11"] == 613


def test_rerate_shows_what_changed_and_why_and_is_audited(golden: Path) -> None:
    """Re-rating an open month: a dry run shows per department old → new, the pool lines
    that moved and the price lines that changed; --yes records it (audited); a closed month
    is refused, and after a reopen the diff is against the closed figures."""
    def rerate(*args: str) -> dict[str, Any]:
        return json.loads(run(golden, "statement", "rerate", "--period", "2026-10", "-o",
                              "json", *args))

    first = rerate()
    assert first["baseline"] == "never rated before" and not first["recorded"]
    assert run(golden, "statement", "audit", "--period", "2026-10") == ""  # a dry run
    rerate("--yes", "--reason", "first rating")
    assert rerate()["changed"] is False
    assert "Nothing changed." in run(golden, "statement", "rerate", "--period", "2026-10")
    before = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o",
                            "json"))
    edit(golden / "prices.yaml", "vcpu: [{from: 2026-01, yuan: 10}]",
         "vcpu: [{from: 2026-01, yuan: 77}]")
    diff = rerate()
    after = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o",
                           "json"))
    old = {d["department"]: d["total"] for d in before["departments"]}
    new = {d["department"]: d["total"] for d in after["departments"]}
    assert {d["department"]: (d["old"], d["new"]) for d in diff["departments"]} == \
        {d: (old[d], new[d]) for d in new if old[d] != new[d]}
    assert diff["departments"], "a price change moves some charge"
    for d in diff["departments"]:  # the lines that moved add up to the change
        moved = sum(Decimal(c["new"] or 0) - Decimal(c["old"] or 0) for c in d["lines"])
        assert moved == Decimal(d["delta"]) != 0, d
    assert {"what": "vcpu", "old": "10", "new": "77"} in diff["why"]["rates"]
    assert any("yuan: 10}" in (c["old"] or "") and "yuan: 77}" in (c["new"] or "")
               for c in diff["why"]["price_lines"]), diff["why"]["price_lines"]
    text = run(golden, "statement", "rerate", "--period", "2026-10")
    assert "rate vcpu: 10.00 → 77.00 yuan" in text and "Dry run" in text
    refused = govcloud("statement", "rerate", "--period", "2026-10", "--yes", estate=golden)
    assert refused.returncode == 2 and "--reason" in refused.stderr
    rerate("--yes", "--reason", "vCPU price corrected")
    trail = json.loads(run(golden, "statement", "audit", "--period", "2026-10", "-o", "json"))
    assert [(t["action"], t["reason"]) for t in trail] == [
        ("rerate", "first rating"), ("rerate", "vCPU price corrected")]
    assert trail[0]["digest"] != trail[1]["digest"]
    # closed: refused; reopened: compared with what was closed
    run(golden, "statement", "close", "--period", "2026-10")
    closed = govcloud("statement", "rerate", "--period", "2026-10", estate=golden)
    assert closed.returncode == 1 and "2026-10 is closed" in closed.stderr
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "tariff wrong")
    edit(golden / "prices.yaml", "yuan_per_kwh: 1.0", "yuan_per_kwh: 3.7")
    reopened = rerate()
    assert reopened["baseline"].startswith("as closed at")
    assert reopened["why"]["cost_lines"] and reopened["departments"]


def test_a_month_closed_by_the_earlier_format_loads_and_stays_closed(golden: Path) -> None:
    """A statement closed by govcloud before closing froze every figure (the bare chargeback,
    tests/reports/golden/old-closing, written by that version) is brought over on first use:
    its chargeback exactly as frozen then, savings and utilization frozen now, audited; no
    later edit changes it, and it reopens like any closed month."""
    old = json.loads((Path(__file__).parent / "golden" / "old-closing" /
                      "statements-2026-10.json").read_text(encoding="utf-8"))
    frozen = json.loads(old["body"])
    assert "statement" not in frozen and "departments" in frozen  # the earlier format
    db = sqlite3.connect(golden / ".state" / "govcloud.db")
    db.execute("INSERT INTO statements (period, body, closed_at, closed_by) VALUES (?,?,?,?)",
               (old["period"], old["body"], old["closed_at"], old["closed_by"]))
    db.commit()
    db.close()
    # prices change after it was closed: the frozen chargeback must not follow
    edit(golden / "prices.yaml", "vcpu: [{from: 2026-01, yuan: 10}]",
         "vcpu: [{from: 2026-01, yuan: 77}]")
    cb = json.loads(run(golden, "report", "chargeback", "--period", "2026-10", "-o", "json"))
    assert cb["closed_at"] == old["closed_at"]
    assert {d["department"]: d["total"] for d in cb["departments"]} == \
        {d["department"]: d["total"] for d in frozen["departments"]}
    assert (cb["platform_cost"], cb["idle"]) == (frozen["platform_cost"], frozen["idle"])
    assert cb["price_book"]["digest"].startswith("not recorded")
    trail = json.loads(run(golden, "statement", "audit", "--period", "2026-10", "-o", "json"))
    assert [t["action"] for t in trail] == ["migrate"]
    reports = {kind: run(golden, "report", kind, "--period", "2026-10", "-o", "json")
               for kind in ("chargeback", "savings", "utilization", "unit-costs")}
    edit(golden / "prices.yaml", "admin_yuan_per_year: 120000", "admin_yuan_per_year: 999000")
    assert reports == {kind: run(golden, "report", kind, "--period", "2026-10", "-o", "json")
                       for kind in reports}, "a closed month changed after its migration"
    refused = govcloud("usage", "collect", "--period", "2026-10", estate=golden)
    assert refused.returncode == 1 and "2026-10 is closed" in refused.stderr
    run(golden, "statement", "reopen", "--period", "2026-10", "--reason", "re-rate it")
    rerate = json.loads(run(golden, "statement", "rerate", "--period", "2026-10", "-o",
                            "json"))
    assert rerate["baseline"].startswith("as closed at")
    assert {"what": "vcpu", "old": "10", "new": "77"} in rerate["why"]["rates"]


def test_the_exporter_schedule_has_a_session_of_its_own(
        golden: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hourly collection runs beside the scrapes' rebuild thread: it must not share the
    serving session's cloud connection (openstacksdk connections are not thread-safe), so
    each run opens its own session — its own store connection and driver — and closes it."""
    from govcloud.applying import engine
    from govcloud.books import metering
    from govcloud.metrics import exporter

    seen: list[tuple[int, int]] = []
    real = metering.collect_due

    def spy(estate: Any, store: Any, driver: Any) -> list[str]:
        seen.append((id(store), id(driver)))
        return real(estate, store, driver)

    monkeypatch.setattr(metering, "collect_due", spy)
    with engine.session(golden) as serving:
        snapshot = exporter.Snapshot(serving, 3600.0)
        notes = exporter.collect_once(golden)
        assert notes and notes[0].startswith("usage collected for 2026-11")
        assert seen and seen[0] != (id(serving.store), id(serving.driver))
        assert seen[0][0] != id(serving.store) and seen[0][1] != id(serving.driver)
        assert b"govcloud_department_monthly_cost_yuan" in snapshot.page().body
    # a failure is logged, not raised (the schedule keeps going)
    (golden / "govcloud.yaml").write_text("cloud: [", encoding="utf-8")
    assert exporter.collect_once(golden) == []


@pytest.mark.parametrize("value", ["'abc'", "-5", "9e999"], ids=["text", "negative", "inf"])
def test_a_damaged_usage_row_is_named_with_a_way_out_that_works(golden: Path,
                                                                value: str) -> None:
    """A usage row whose amount is not a number was an internal error (AttributeError); a
    negative or infinite one was billed as if true."""
    db = golden / ".state" / "govcloud.db"
    with sqlite3.connect(db) as conn:
        dept, item = conn.execute("SELECT department, item FROM usage WHERE period = "
                                  "'2026-10' AND item = 'vcpu' LIMIT 1").fetchone()
        conn.execute(f"UPDATE usage SET allocated = {value} WHERE period = '2026-10' AND "
                     "department = ? AND item = ?", (dept, item))
    conn.close()
    delete = (f"DELETE FROM usage WHERE period = '2026-10' AND department = '{dept}' AND "
              f"item = '{item}'")
    for report in ("chargeback", "utilization", "savings"):
        proc = govcloud("report", report, "--period", "2026-10", estate=golden)
        assert proc.returncode == 1, (report, proc.stdout)
        assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr
        assert f"the state store's usage row '2026-10/{dept}/{item}' is damaged" in \
            proc.stderr, proc.stderr
        assert delete in proc.stderr and "govcloud usage collect --period 2026-10" in \
            proc.stderr
    with sqlite3.connect(db) as conn:  # the way out works
        conn.execute(delete)
    conn.close()
    run(golden, "usage", "collect", "--period", "2026-10")
    assert "Check:" in run(golden, "report", "chargeback", "--period", "2026-10")


@pytest.mark.parametrize("body, why", [
    ("not json", "invalid JSON"), ('{"x": 1}', "no 'statement' field")],
    ids=["invalid-json", "missing-field"])
def test_a_damaged_closed_month_is_named_with_a_delete_that_works(golden: Path, body: str,
                                                                  why: str) -> None:
    """A statement body without its fields was an internal error (KeyError), and the way out
    printed for a damaged one, "DELETE FROM statements WHERE key = …", fails: the table has
    no column key."""
    run(golden, "statement", "close", "--period", "2026-10")
    db = golden / ".state" / "govcloud.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE statements SET body = ? WHERE period = '2026-10'", (body,))
    conn.close()
    proc = govcloud("report", "chargeback", "--period", "2026-10", estate=golden)
    assert proc.returncode == 1 and "Internal error" not in proc.stderr, proc.stderr
    assert f"the state store's statements row '2026-10' is damaged ({why}" in proc.stderr
    delete = "DELETE FROM statements WHERE period = '2026-10'"
    assert delete in proc.stderr, proc.stderr
    with sqlite3.connect(db) as conn:  # the way out works: the month is open again
        conn.execute(delete)
    conn.close()
    assert "open (prices may still change it)" in run(golden, "report", "chargeback",
                                                      "--period", "2026-10")


def test_a_year_to_date_before_the_estate_existed_says_where_to_start(tmp_path: Path) -> None:
    """Right after the README's first command, in November, the year to date (--from
    2026-01) said "run govcloud usage collect --period 2026-01 first", which usage collect
    refuses ("nothing ran in 2026-01"): the officer is told where the recorded months begin."""
    root = copy_estate(tmp_path / "estate")
    run(root, "apply", "--yes", "--no-services", **NOW)
    out = govcloud("report", "chargeback", "--from", "2026-01", estate=root, env=NOW)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "no usage is recorded for 2026-01 to 2026-10" in out.stderr, out.stderr
    assert "the first month with usage is 2026-11" in out.stderr
    assert "--from 2026-11" in out.stderr
    assert "2026-11" in run(root, "report", "chargeback", "--from", "2026-11", **NOW)


@pytest.mark.parametrize("yuan", ["Infinity", "-inf", "sNaN", "1e9", "1_000", "0x10"])
def test_an_adjustment_is_a_plain_amount_to_the_fen(golden: Path, yuan: str) -> None:
    """--yuan Infinity was an internal error (decimal.InvalidOperation), and 1e9 was taken as
    a debit of 1,000,000,000.00: an amount is written as yuan to the fen, as the hint says."""
    out = govcloud("statement", "adjust", "--period", "2026-11", "--department", "alpha",
                   "--yuan", yuan, "--reason", "typo", estate=golden)
    assert out.returncode == 1, out.stdout
    assert "Internal error" not in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert f"--yuan {yuan!r} is not an amount" in out.stderr, out.stderr
    trail = json.loads(run(golden, "statement", "audit", "-o", "json"))
    assert not [t for t in trail if t["action"].startswith("adjust")]
