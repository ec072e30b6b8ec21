"""The dynamic golden month: October 2026 of the small golden estate, in which a third
department (gamma) joins on the 8th at 09:30, resizes its server to a bigger flavor on the
15th at 14:20 (it moves to the second host), leaves on the 20th at 17:15, and the emptied
host is parked on the 25th at 06:00. golden/dynamic/README.md works every figure out by hand;
each step runs through the real CLI with its own GOVCLOUD_NOW, and every line of the month's
usage, chargeback and savings is checked against the hand figures (and the dated record's
rows, one change at a time, against what docs/finance.md says it keeps)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import GOLDEN, edit, golden_estate

EXPECTED = GOLDEN / "dynamic"
AFTER = "2026-11-02T00:00:00Z"  # October has ended: a whole month
# (when, what was done): each step of golden/dynamic/README.md, in order.
STEPS = ("2026-01-01T00:00:00Z", "2026-10-08T09:30:00Z", "2026-10-15T14:20:00Z",
         "2026-10-20T17:15:00Z", "2026-10-25T06:00:00Z")


def run(estate: Path, when: str, *args: str) -> str:
    return govcloud(*args, estate=estate, env={"GOVCLOUD_NOW": when}, check=True).stdout


def history_rows(estate: Path) -> list[tuple[str, str, str, str | None]]:
    db = sqlite3.connect(estate / ".state" / "govcloud.db")
    try:
        return db.execute("SELECT at, subject, key, body FROM history ORDER BY seq").fetchall()
    finally:
        db.close()


# The chargeback and savings of October to date, read right after the resize (its apply
# collected the month under way: 351 of 744 hours), before later steps collect it again.
MONTH_TO_DATE: dict[str, dict] = {}


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int]]:
    """The estate after October 2026 as golden/dynamic/README.md tells it, October
    collected after it ended; and the dated record's row count after each step."""
    root = golden_estate(tmp_path_factory.mktemp("dynamic"), "dynamic")
    plan = root / "plans" / "gamma.yaml"
    counts = []
    MONTH_TO_DATE.clear()
    run(root, STEPS[0], "apply", "--yes")
    counts.append(len(history_rows(root)))
    shutil.copy(root / "joining" / "gamma.yaml", plan)
    run(root, STEPS[1], "apply", "--yes")
    counts.append(len(history_rows(root)))
    edit(plan, "flavor: f1", "flavor: f2")
    run(root, STEPS[2], "apply", "--yes")
    counts.append(len(history_rows(root)))
    for kind in ("chargeback", "savings"):
        MONTH_TO_DATE[kind] = report(root, kind, STEPS[2])
    plan.unlink()
    run(root, STEPS[3], "apply", "--yes", "--prune")
    counts.append(len(history_rows(root)))
    parked = run(root, STEPS[4], "consolidate", "--apply", "--yes")
    assert "Parked 1 empty host(s)" in parked and "intranet-h1-02" in parked
    counts.append(len(history_rows(root)))
    run(root, AFTER, "usage", "collect", "--period", "2026-10")
    return root, counts


def report(estate: Path, kind: str, when: str = AFTER) -> dict:
    return json.loads(run(estate, when, "report", kind, "--period", "2026-10", "-o", "json"))


def test_the_record_keeps_each_change_dated_by_when_it_happened(
        month: tuple[Path, list[int]]) -> None:
    """The rows each step appends (docs/finance.md, 'How big it grows'): the join 6 (the
    plan, the project, server, volume, antivirus and backup), the resize 1, the departure 5
    (each resource gone: no body), the parking 1; each dated by the step's clock."""
    estate, counts = month
    assert [b - a for a, b in zip(counts, counts[1:], strict=False)] == [6, 1, 5, 1]
    rows = history_rows(estate)
    october = [r for r in rows if r[0].startswith("2026-10")]
    by_day = {}
    for at, subject, key, body in october:
        by_day.setdefault(at[:16], []).append((subject, key, body is None))
    assert sorted(by_day) == ["2026-10-08T09:30", "2026-10-15T14:20", "2026-10-20T17:15",
                              "2026-10-25T06:00"]
    assert ("plan", "gamma", False) in by_day["2026-10-08T09:30"]
    assert by_day["2026-10-15T14:20"] == [("resource", "gamma/server/g-app", False)]
    assert all(gone for _, _, gone in by_day["2026-10-20T17:15"])
    assert by_day["2026-10-25T06:00"] == [("host", "intranet-h1-02", False)]
    resized = next(json.loads(b) for at, _, k, b in october
                   if k == "gamma/server/g-app" and at.startswith("2026-10-15"))
    assert (resized["flavor"], resized["vcpus"], resized["host"]) == ("f2", 6, "intranet-h1-02")
    # Nothing recorded earlier was rewritten: January's rows are still first, unchanged.
    assert rows[:counts[0]] == history_rows(estate)[:counts[0]]


def test_usage_rows_of_the_month(month: tuple[Path, list[int]]) -> None:
    """gamma's unit-months from its hours (177 → 350 at f1, 350 → 474 at f2), its months of
    membership (297/744), and the hosts' host-months running, idle and parked."""
    estate, _ = month
    want = json.loads((EXPECTED / "expected-chargeback.json").read_text())
    db = sqlite3.connect(estate / ".state" / "govcloud.db")
    try:
        rows = db.execute("SELECT department, item, allocated FROM usage "
                          "WHERE period = '2026-10'").fetchall()
    finally:
        db.close()
    got = {(d, i): v for d, i, v in rows}
    for dep, items in want["usage"].items():
        for item, v in items.items():
            assert got.get((dep, item), 0.0) == v, (dep, item)
    for dep, v in want["member"].items():
        assert got[(dep, "member")] == v, dep
    for state, v in want["host_months"].items():
        assert got[("_platform", f"host_months:{state}:intranet:h1")] == v, state
    assert got[("_platform", "hours")] == 744.0


def test_chargeback_every_line(month: tuple[Path, list[int]]) -> None:
    estate, _ = month
    want = json.loads((EXPECTED / "expected-chargeback.json").read_text())
    got = report(estate, "chargeback")
    assert got["period"] == want["period"] and got["hours"] == want["hours"]
    assert got["hosts"] == want["hosts"]
    assert (got["platform_cost"], got["idle"]) == (want["platform_cost"], want["idle"])
    pools = {p["name"]: p for p in got["pools"]}
    assert list(pools) == list(want["pools"])
    for name, w in want["pools"].items():
        assert pools[name]["cost"] == w["cost"], name
        assert pools[name]["idle"] == w["idle"], name
        assert pools[name]["basis"] == w["basis"], name
        assert pools[name]["shares"] == w["shares"], name
    lines = pools["hosts"]["lines"]
    assert len(lines) == len(want["host_cost_lines"])
    for line, (label, yuan) in zip(lines, want["host_cost_lines"], strict=True):
        assert line["label"].startswith(label), line
        assert f"{float(line['yuan']):.2f}" == yuan, line
    deps = {d["department"]: d for d in got["departments"]}
    assert set(deps) == set(want["departments"])
    for dep, w in want["departments"].items():
        assert (deps[dep]["list_value"], deps[dep]["total"]) == \
            (w["list_value"], w["total"]), dep
        assert deps[dep]["adjustment"] == "0", dep
        for item, v in want["usage"][dep].items():
            assert deps[dep]["usage"][item] == v, (dep, item)


def test_savings_every_line(month: tuple[Path, list[int]]) -> None:
    estate, _ = month
    want = json.loads((EXPECTED / "expected-savings.json").read_text())
    got = report(estate, "savings")
    for key in ("period", "legacy_total", "consolidated_total", "idle", "saving",
                "saving_per_year"):
        assert got[key] == want[key], key
    deps = {d["department"]: d for d in got["departments"]}
    assert set(deps) == set(want["departments"])
    for dep, w in want["departments"].items():
        d = deps[dep]
        assert (d["legacy_total"], d["consolidated"], d["saving"]) == \
            (w["legacy_total"], w["consolidated"], w["saving"]), dep
        assert len(d["legacy"]) == len(w["lines"]), dep
        for line, (label, yuan, plan_src) in zip(d["legacy"], w["lines"], strict=True):
            assert line["label"].startswith(label), line
            # a department in the estate part of the month says for how many hours
            part = w.get("hours")
            assert line["label"].endswith(f" × {part}") if part else "/744 h" not in \
                line["label"], line
            assert line["yuan"] == yuan, line
            assert line["plan_source"] == plan_src, line


def test_month_to_date_every_line(month: tuple[Path, list[int]]) -> None:
    """October to date at 14:20 on the 15th (351 of 744 hours): fixed pools, write-off,
    maintenance and capacities × 351/744; usage, membership and host-months counted in
    hours; each department's legacy for its hours so far, its year figure × 744 / 351 × 12."""
    assert MONTH_TO_DATE, "the fixture reads October to date after the resize"
    want = json.loads((EXPECTED / "expected-month-to-date.json").read_text())
    got, saved = MONTH_TO_DATE["chargeback"], MONTH_TO_DATE["savings"]
    assert got["hours"] == want["hours"] and got["hosts"] == want["hosts"]
    assert (got["platform_cost"], got["idle"]) == (want["platform_cost"], want["idle"])
    pools = {p["name"]: p for p in got["pools"]}
    for name, w in want["pools"].items():
        assert (pools[name]["cost"], pools[name]["idle"], pools[name]["shares"]) == \
            (w["cost"], w["idle"], w["shares"]), name
    lines = pools["hosts"]["lines"]
    assert len(lines) == len(want["host_cost_lines"])
    for line, (label, yuan) in zip(lines, want["host_cost_lines"], strict=True):
        assert line["label"].startswith(label), line
        assert f"{float(line['yuan']):.2f}" == yuan, line
    assert all("× 0.471774 of the month" in x["label"] for p in got["pools"]
               for x in p["lines"] if "host-months" not in x["label"])
    charged = {d["department"]: d for d in got["departments"]}
    deps = {d["department"]: d for d in saved["departments"]}
    for dep, w in want["departments"].items():
        assert (charged[dep]["list_value"], charged[dep]["total"]) == \
            (w["list_value"], w["total"]), dep
        for item, v in want["usage"][dep].items():
            assert charged[dep]["usage"][item] == v, (dep, item)
        d = deps[dep]
        assert (d["legacy_total"], d["consolidated"], d["saving"], d["saving_per_year"]) == \
            (w["legacy_total"], w["total"], w["saving"], w["saving_per_year"]), dep
        assert all(x["label"].endswith(f" × {w['hours']}") for x in d["legacy"]), dep
    for key in ("legacy_total", "consolidated_total", "idle", "saving", "saving_per_year"):
        assert saved[key] == want[key], key
