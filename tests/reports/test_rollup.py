"""Issue #25, roll-ups: `report chargeback --by organisation` (and savings) for a year of the
example estate grouped into districts, every level checked against an independent recompute:
the department rows of the month's own report summed by walking each department's parents
up the tree as the test itself keeps it (not the report's paths), to the fen. A department
moves districts in March: January and February count it under its old district, March on
under its new one.

The tree is written through the directory sync's own store function
(``estate.organisations.record``: what ``govcloud directory sync --yes`` records), dated
with GOVCLOUD_NOW; no slapd is needed for it (tests/core/test_directory.py holds the sync
against a real one)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.books import accounts, metering
from govcloud.books.accounts import report
from govcloud.books.rollups import rollup_report
from govcloud.clock import stamp
from govcloud.core.directory import Change, Organisation
from govcloud.estate import organisations
from govcloud.finance.measures import BUDGET
from govcloud.finance.period import Month
from govcloud.finance.rollup import Node, roll_up
from govcloud.state.store import Store
from tests.support.cli import BUILT, NOW, apply_and_collect, govcloud, one_line
from tests.support.estate import copy_estate

MONTHS = [f"2026-{m:02d}" for m in range(1, 12)]  # January to November (to date)
MOVED = "2026-03-15T09:00:00Z"
# The city, three districts, a street office under one of them: four levels with the
# departments.
LEVELS = {"qingdao": ("", "青岛市"), "shinan": ("qingdao", "市南区"),
          "shibei": ("qingdao", "市北区"), "laoshan": ("qingdao", "崂山区"),
          "shinan-west": ("shinan", "市南区西部街道")}
HOMES = ("qingdao", "shinan", "shibei", "laoshan", "shinan-west")


def _org(code: str, name: str, parent: str, cost_centre: str = "") -> Organisation:
    return Organisation(code, name, parent, cost_centre, f"ou={code},dc=qingdao")


def _grouping(departments: list[str]) -> dict[str, str]:
    """Department → its organisation at first: round robin over the levels, the last one
    left out of the directory (an estate's department the directory does not hold: the
    top level)."""
    return {d: HOMES[i % len(HOMES)] for i, d in enumerate(departments[:-1])}


def _sync(root: Path, at: str, changes: list[Change]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", at)
        with engine.session(root) as s, s.store.transaction():
            organisations.record(s.store, changes)


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], str]:
    """The example estate applied on 1 January, January to November collected, grouped
    into districts on 1 January; one department moved from 市南区 to 市北区 on 15 March.
    Returns the estate, the first grouping and the department moved."""
    root = apply_and_collect(copy_estate(tmp_path_factory.mktemp("rollup") / "estate"))
    with pytest.MonkeyPatch.context() as mp:  # collected in one process: a few seconds less
        mp.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
        with engine.session(root) as s:
            for month in MONTHS:
                metering.collect(s.estate, s.store, s.driver, Month.parse(month))
    deps = sorted(p.stem for p in (root / "plans").glob("*.yaml"))
    homes = _grouping(deps)
    moved = next(d for d, home in homes.items() if home == "shinan")
    prices = root / "prices.yaml"  # budgets for some: the moved one, one of each district
    budgeted = {moved, *(next(d for d, h in homes.items() if h == o) for o in HOMES)}
    prices.write_text(prices.read_text() + "\nbudgets:\n" + "".join(
        f"  {d}: [{{year: 2026, yuan: {40000 + 1000 * k}.50}}]\n"
        for k, d in enumerate(sorted(budgeted))))
    first = [Change("add", c, None, _org(c, n, p), "new") for c, (p, n) in LEVELS.items()]
    first += [Change("add", d, None, _org(d, d, home, f"CC-{d}"), "new")
              for d, home in homes.items()]
    _sync(root, BUILT["GOVCLOUD_NOW"], first)
    _sync(root, MOVED, [Change("move", moved, _org(moved, moved, "shinan", f"CC-{moved}"),
                               _org(moved, moved, "shibei", f"CC-{moved}"), "moved")])
    return root, homes, moved


@pytest.fixture
def estate(year: tuple[Path, dict[str, str], str]) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
        with engine.session(year[0]) as s:
            yield s


def _recompute(rows: dict[str, Decimal], parents: dict[str, str]) -> dict[str, Decimal]:
    """Every organisation's total, and the top level's (""), by walking each department's
    parents up to the top: written apart from govcloud.finance.rollup."""
    out: dict[str, Decimal] = {"": Decimal(0)}
    for dep, value in rows.items():
        at = parents.get(dep, "")
        out[""] += value
        while at:
            out[at] = out.get(at, Decimal(0)) + value
            at = parents[at]
    return out


def _parents(homes: dict[str, str], moved: str, month: str) -> dict[str, str]:
    """The tree as the test keeps it for ``month``: the move counts from March."""
    parents = {c: p for c, (p, _) in LEVELS.items()} | homes
    if month >= "2026-03":
        parents[moved] = "shibei"
    return parents


def _check_levels(data: dict[str, Any], measure: str) -> None:
    """Each level's total = its own departments' + its children's; its children's = the
    sum of the rows one level below it (a row's path: the top level's codes down to its
    own)."""
    rows = data["organisations"]
    for r in rows:
        assert Decimal(r[measure]) == Decimal(r[f"own_{measure}"]) + Decimal(
            r[f"children_{measure}"]), r
        kids = [k for k in rows if k["path"] and k["path"][:-1] == r["path"]]
        assert Decimal(r[f"children_{measure}"]) == sum(
            (Decimal(k[measure]) for k in kids), Decimal(0)), r


def test_every_level_of_a_year_adds_up_to_its_children_to_the_fen(
        year: tuple[Path, dict[str, str], str], estate: Any) -> None:
    _, homes, moved = year
    for month in MONTHS:
        m = Month.parse(month)
        flat = report(estate.estate, estate.store, "chargeback", m).data
        rows = {d["department"]: Decimal(d["total"]) for d in flat["departments"]}
        want = _recompute(rows, _parents(homes, moved, month))
        got = rollup_report(estate.estate, estate.store, "chargeback", m).data
        totals = {r["organisation"]: Decimal(r["total"]) for r in got["organisations"]}
        assert totals == want, month
        _check_levels(got, "total")
        # the top level and idle make the month's bill: nothing rated again
        assert totals[""] + Decimal(got["idle"]["total"]) == Decimal(got["total"]["total"]) \
            == Decimal(flat["platform_cost_plus_adjustments"]), month
        assert all(v == v.quantize(Decimal("0.01")) for v in totals.values())
        assert {r["organisation"]: r["path"] for r in got["organisations"]}["shinan-west"] \
            == ["qingdao", "shinan", "shinan-west"]


def test_a_department_moved_in_march_counts_under_its_old_district_before(
        year: tuple[Path, dict[str, str], str], estate: Any) -> None:
    _, _, moved = year
    placed = {month: rollup_report(estate.estate, estate.store, "chargeback",
                                   Month.parse(month)).data["departments"][moved]
              for month in ("2026-01", "2026-02", "2026-03", "2026-10")}
    assert placed == {"2026-01": "shinan", "2026-02": "shinan", "2026-03": "shibei",
                      "2026-10": "shibei"}


def test_savings_roll_up_likewise(year: tuple[Path, dict[str, str], str], estate: Any
                                  ) -> None:
    _, homes, moved = year
    for month in ("2026-02", "2026-10"):
        m = Month.parse(month)
        flat = report(estate.estate, estate.store, "savings", m).data
        rows = {d["department"]: Decimal(d["saving"]) for d in flat["departments"]}
        got = rollup_report(estate.estate, estate.store, "savings", m).data
        _check_levels(got, "saving")
        assert {r["organisation"]: Decimal(r["saving"]) for r in got["organisations"]} \
            == _recompute(rows, _parents(homes, moved, month))
        assert Decimal(got["total"]["saving"]) == Decimal(flat["saving"])


def test_the_roll_up_in_text_csv_and_json(year: tuple[Path, dict[str, str], str]) -> None:
    root = year[0]
    args = ("report", "chargeback", "--period", "2026-10", "--by", "organisation")
    text = govcloud(*args, estate=root, env=NOW, check=True).stdout
    assert "    市南区西部街道" in text and "by organisation, 2026-10" in text
    rows = list(csv.DictReader(io.StringIO(govcloud(*args, "-o", "csv", estate=root,
                                                    env=NOW, check=True).stdout.lstrip("\ufeff"))))
    data = json.loads(govcloud(*args, "-o", "json", estate=root, env=NOW, check=True).stdout)
    assert [r["organisation"] for r in rows] == [
        r["organisation"] or "(top)" for r in data["organisations"]] + ["(idle)", "(total)"]
    assert rows[0]["total"] == data["organisations"][0]["total"]
    refused = govcloud("report", "chargeback", "--from", "2026-01", "--to", "2026-02", "--by",
                       "organisation", estate=root, env=NOW)
    assert refused.returncode == 2 and "give --period" in refused.stderr


def test_an_estate_without_a_directory_is_one_level(tmp_path: Path) -> None:
    root = apply_and_collect(copy_estate(tmp_path / "estate"), "2026-10")
    data = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "--by",
                               "organisation", "-o", "json", estate=root, env=NOW,
                               check=True).stdout)
    flat = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "-o", "json",
                               estate=root, env=NOW, check=True).stdout)
    [top] = data["organisations"]
    assert top["path"] == [] and sorted(top["departments"]) == sorted(
        d["department"] for d in flat["departments"])
    assert Decimal(top["total"]) == sum((Decimal(d["total"]) for d in flat["departments"]),
                                        Decimal(0))
    # no budget in the price book: every charge is unbudgeted, nothing is used of nothing
    budgets = json.loads(govcloud("report", "budgets", "--period", "2026-10", "--by",
                                  "organisation", "-o", "json", estate=root, env=NOW,
                                  check=True).stdout)
    months = json.loads(govcloud("report", "budgets", "--period", "2026-10", "-o", "json",
                                 estate=root, env=NOW, check=True).stdout)["months"]
    bills = [json.loads(govcloud("report", "chargeback", "--period", m, "-o", "json",
                                 estate=root, env=NOW, check=True).stdout) for m in months]
    charged = sum((Decimal(b["platform_cost_plus_adjustments"]) - Decimal(b["idle"])
                   for b in bills), Decimal(0))
    [top] = budgets["organisations"]
    assert "2026-10" in months
    assert Decimal(top["unbudgeted_spent"]) == Decimal(top["spent"]) == charged
    assert top["budget_used"] is None and Decimal(top["budget"]) == 0


def test_a_parent_unknown_or_a_loop_is_the_top_level_and_said() -> None:
    tree = {"a": Node("b", "A"), "b": Node("a", "B"), "c": Node("gone", "C")}
    figures = {"d1": (Decimal("1.01"),), "a": (Decimal("2.00"),), "c": (Decimal("0.99"),)}
    levels, notes = roll_up(tree | {"d1": Node("c", "D1")}, figures, "city")
    by = {lv.code: lv for lv in levels}
    assert by[""].total == (Decimal("4.00"),)
    assert any("loop" in n for n in notes) and any("gone" in n for n in notes)


def test_a_move_is_dated_and_a_store_synced_before_keeps_the_old_parent_before_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An organisation an older sync recorded (its row, no dated parent) moves in March:
    its parent until then is kept from its row's last sync, and the move is appended, never
    written over: a second move adds a third row."""
    store = Store(f"sqlite:///{tmp_path}/state.db", tmp_path)
    store.execute(organisations.TABLE)
    store.execute("INSERT INTO organisations (code, name, parent, cost_centre, dn, left_at, "
                  "synced_at) VALUES ('d1', 'D1', 'north', 'CC1', 'ou=d1', '', "
                  "'2026-01-01T00:00:00.000000Z')")
    north, south, west = (_org("d1", "D1", p, "CC1") for p in ("north", "south", "west"))
    for at, before, after in ((MOVED, north, south), ("2026-06-01T00:00:00Z", south, west)):
        monkeypatch.setenv("GOVCLOUD_NOW", at)
        with store.transaction():
            organisations.record(store, [Change("move", "d1", before, after, "moved")])
    parent = {m: organisations.tree_at(store, stamp(Month.parse(m).end))["d1"].parent
              for m in ("2026-02", "2026-03", "2026-05", "2026-06")}
    assert parent == {"2026-02": "north", "2026-03": "south", "2026-05": "south",
                      "2026-06": "west"}
    assert store.query("SELECT parent FROM organisation_parents ORDER BY at") == [
        ("north",), ("south",), ("west",)]


# Unit costs, utilization and budgets (#25): the same year, every level against a recompute
# written apart from govcloud (each department's figures walked up the test's own parents),
# each ratio the level's rolled-up numerator over its rolled-up denominator.
SIX = Decimal("0.000001")


def _ratio(num: Decimal, den: Decimal) -> str | None:
    return None if not den else str((num / den).quantize(SIX))


def test_unit_costs_roll_up_and_each_level_s_unit_cost_is_its_own_paid_over_units(
        year: tuple[Path, dict[str, str], str], estate: Any) -> None:
    _, homes, moved = year
    for month in ("2026-01", "2026-03", "2026-10"):
        m = Month.parse(month)
        flat = report(estate.estate, estate.store, "chargeback", m).data
        items = report(estate.estate, estate.store, "unit-costs", m).data["items"]
        got = rollup_report(estate.estate, estate.store, "unit-costs", m).data
        parents = _parents(homes, moved, month)
        by = {r["organisation"]: r for r in got["organisations"]}
        shares = {d["department"]: sum((Decimal(v) for v in d["by_pool"].values()),
                                       Decimal(0)) for d in flat["departments"]}
        assert {o: Decimal(r["paid"]) for o, r in by.items()} == _recompute(shares, parents)
        for c in (c for c in items if c["item"] != "(no units)"):
            i = c["item"]
            units = {d["department"]: Decimal(repr(float(d["usage"].get(i, 0))))
                     for d in flat["departments"]}
            assert {o: Decimal(r[f"{i}_units"]) for o, r in by.items()} == _recompute(
                units, parents), (month, i)
            _check_levels(got, f"{i}_paid")
            assert Decimal(by[""][f"{i}_units"]) == Decimal(c["units"]), (month, i)
            for r in got["organisations"]:
                assert r[f"{i}_per_unit"] == _ratio(Decimal(r[f"{i}_paid"]),
                                                    Decimal(r[f"{i}_units"])), (month, i, r)
        # the top level's pool shares + the idle row = report unit-costs' platform cost
        assert Decimal(by[""]["paid"]) + Decimal(got["idle"]["paid"]) == Decimal(
            got["total"]["paid"]) == sum((Decimal(c["cost"]) for c in items), Decimal(0))
        # every measure's parts make each level's pool shares, to the fen
        for r in got["organisations"]:
            parts = [m for m in got["measures"] if m.endswith("_paid")]
            assert sum((Decimal(r[p]) for p in parts), Decimal(0)) == Decimal(r["paid"]), r


def test_utilization_rolls_up_and_is_recomputed_never_averaged(
        year: tuple[Path, dict[str, str], str], estate: Any) -> None:
    _, homes, moved = year
    for month in ("2026-02", "2026-03", "2026-11"):
        m = Month.parse(month)
        flat = report(estate.estate, estate.store, "utilization", m).data["departments"]
        got = rollup_report(estate.estate, estate.store, "utilization", m).data
        by = {r["organisation"]: r for r in got["organisations"]}
        parents = _parents(homes, moved, month)
        for i in ("vcpu", "ram_gb", "disk_gb"):
            alloc = {d["department"]: Decimal(repr(d["allocated"].get(i, 0))).quantize(
                Decimal("0.001")) for d in flat}
            used = {d["department"]: Decimal(repr(d["used"].get(i) or 0)).quantize(
                Decimal("0.001")) for d in flat}
            want_alloc, want_used = _recompute(alloc, parents), _recompute(used, parents)
            assert {o: Decimal(r[i]) for o, r in by.items()} == want_alloc, (month, i)
            assert {o: Decimal(r[f"{i}_used"]) for o, r in by.items()} == want_used
            _check_levels(got, f"{i}_used")
            for o, r in by.items():
                assert r[f"{i}_utilization"] == _ratio(want_used[o], Decimal(
                    r[f"{i}_measured"])), (month, i, o)
    # a district's utilization is not the mean of its departments' (weighted by size)
    top = by["qingdao"]
    assert top["vcpu_utilization"] == _ratio(Decimal(top["vcpu_used"]),
                                             Decimal(top["vcpu_measured"]))


def test_budgets_roll_up_each_month_under_the_parent_of_that_month(
        year: tuple[Path, dict[str, str], str], estate: Any) -> None:
    """The year to date of October: each month's charge walked up that month's parents
    (the moved department's January and February under 市南区, March on under 市北区),
    the budgets under October's."""
    _, homes, moved = year
    budgets = {d: years[2026].yuan for d, years in
               accounts.book_for(estate.estate).budgets.items()}
    assert moved in budgets
    want = {m: {o: Decimal(0) for o in ("",)} for m in BUDGET}
    for month in MONTHS[:10]:
        flat = report(estate.estate, estate.store, "chargeback", Month.parse(month)).data
        spent = {d["department"]: Decimal(d["total"]) for d in flat["departments"]}
        parents = _parents(homes, moved, month)
        for measure, rows in (("spent", spent),
                              ("budgeted_spent", {d: v for d, v in spent.items()
                                                  if d in budgets}),
                              ("unbudgeted_spent", {d: v for d, v in spent.items()
                                                    if d not in budgets}),
                              ("left", {d: -v for d, v in spent.items() if d in budgets})):
            for o, v in _recompute(rows, parents).items():
                want[measure][o] = want[measure].get(o, Decimal(0)) + v
    for measure, rows in (("budget", budgets), ("left", budgets)):
        for o, v in _recompute(dict(rows), _parents(homes, moved, "2026-10")).items():
            want[measure][o] = want[measure].get(o, Decimal(0)) + v
    got = rollup_report(estate.estate, estate.store, "budgets", Month.parse("2026-10")).data
    for measure in BUDGET:
        have = {r["organisation"]: Decimal(r[measure]) for r in got["organisations"]}
        assert have == {o: want[measure].get(o, Decimal(0)) for o in have}, measure
        assert {o for o, v in want[measure].items() if v} <= set(have), measure
        _check_levels(got, measure)
    for r in got["organisations"]:
        assert r["budget_used"] == _ratio(Decimal(r["budgeted_spent"]), Decimal(r["budget"]))
    # the moved department's months: its district's spend moved with it in March
    assert got["departments"][moved] == "shibei"
    flat = json.loads(govcloud("report", "budgets", "--period", "2026-10", "-o", "json",
                               estate=year[0], env=NOW, check=True).stdout)
    mine = next(d for d in flat["departments"] if d["department"] == moved)
    assert Decimal(mine["budget"]) == budgets[moved]
    assert Decimal(mine["left"]) == budgets[moved] - Decimal(mine["spent"])
    assert sum((Decimal(d["spent"]) for d in flat["departments"]), Decimal(0)) == \
        Decimal(next(r for r in got["organisations"] if r["organisation"] == "")["spent"])


@pytest.mark.parametrize("kind", ["unit-costs", "utilization", "budgets"])
def test_the_new_roll_ups_on_the_command_line(year: tuple[Path, dict[str, str], str],
                                              kind: str) -> None:
    args = ("report", kind, "--period", "2026-10", "--by", "organisation")
    text = govcloud(*args, estate=year[0], env=NOW, check=True).stdout
    assert "    市南区西部街道" in text and "never an average" in text
    data = json.loads(govcloud(*args, "-o", "json", estate=year[0], env=NOW,
                               check=True).stdout)
    assert data["by"] == "organisation" and data["ratios"]


def test_the_open_data_release_by_organisation_adds_up_each_level(
        year: tuple[Path, dict[str, str], str], tmp_path: Path) -> None:
    """February closed and published with --by organisation: a valid Frictionless package
    whose organisation table is the department table walked up February's parents (the
    moved department still under 市南区), and whose estate row + idle = the month's totals."""
    root, homes, moved = year
    govcloud("statement", "close", "--period", "2026-02", estate=root, env=NOW, check=True)
    out = tmp_path / "open"
    govcloud("report", "publish", "--period", "2026-02", "--out", str(out), "--by",
             "organisation", estate=root, env=NOW, check=True)
    from frictionless import validate

    checked = validate(str(out / "datapackage.json"))
    assert checked.valid, checked.flatten(["rowNumber", "fieldName", "type", "note"])

    def rows(name: str) -> list[dict[str, str]]:
        text = (out / name).read_text("utf-8").lstrip("\ufeff")
        return list(csv.DictReader(io.StringIO(text)))

    departments = [r for r in rows("spending-and-savings-2026-02.csv")
                   if r["department_id"] != "(idle)"]
    orgs = {r["organisation_id"]: r for r in rows(
        "spending-and-savings-by-organisation-2026-02.csv")}
    parents = _parents(homes, moved, "2026-02")
    for field in ("monthly_charge_yuan", "adjustment_yuan", "legacy_cost_yuan",
                  "saving_yuan"):
        want = _recompute({r["department_id"]: Decimal(r[field]) for r in departments},
                          parents)
        assert {o.replace("(top)", ""): Decimal(r[field]) for o, r in orgs.items()
                if o != "(idle)"} == want, field
        total = Decimal(orgs["(top)"][field]) + Decimal(orgs["(idle)"][field])
        assert total == sum((Decimal(r[field]) for r in rows(
            "spending-and-savings-2026-02.csv")), Decimal(0)), field
    assert orgs["shinan-west"]["parent_id"] == "shinan" and orgs["shinan"]["level"] == "2"
    assert orgs["qingdao"]["parent_id"] == "(top)"
    published = " ".join((out / n).read_text("utf-8") for n in (
        "spending-and-savings-by-organisation-2026-02.csv", "datapackage.json"))
    assert not any(f"CC-{d}" in published for d in homes)  # cost centres stay out


def _lines(page: str) -> dict[str, Decimal]:
    """A statement page's lines: kind:code → its total (the third figure of the row)."""
    import re

    return {m[0]: Decimal(re.findall(r'<td class="num">([-\d,.]+)</td>', m[1])[2]
                          .replace(",", ""))
            for m in re.findall(r'<tr data-line="([^"]+)">(.*?)</tr>', page)}


def _total(page: str) -> Decimal:
    """The 合计 Total of a department's or an organisation's statement page."""
    import re

    found = re.search(r'<tfoot>.*?<td class="num"(?: data-total="total")?>([-\d,.]+)</td>'
                      r'(?:<td class="num" data-total="saving">|</tr>)', page, re.S)
    assert found, page[-800:]
    return Decimal(found[1].replace(",", ""))


def test_a_district_statement_is_its_children_and_own_departments_to_the_fen(
        year: tuple[Path, dict[str, str], str], estate: Any, tmp_path: Path) -> None:
    """March: the moved department's line is on 市北区's statement, no longer on 市南区's;
    each department's line is its own statement's total, each child's line its roll-up
    total, and the lines add up to the district's total."""
    from govcloud.books.rollups import organisation_statement

    root, homes, moved = year
    m = Month.parse("2026-03")
    rolled = {r["organisation"]: Decimal(r["total"]) for r in rollup_report(
        estate.estate, estate.store, "chargeback", m).data["organisations"]}
    parents = _parents(homes, moved, "2026-03")
    for org in ("qingdao", "shinan", "shibei"):
        page = organisation_statement(estate.estate, estate.store, m, org)
        lines = _lines(page)
        own = sorted(d for d, p in parents.items() if p == org and d in homes)
        kids = sorted(c for c, (p, _) in LEVELS.items() if p == org)
        assert sorted(k for k in lines if k.startswith("department:")) == [
            f"department:{d}" for d in own]
        assert sorted(k for k in lines if k.startswith("organisation:")) == [
            f"organisation:{c}" for c in kids]
        assert _total(page) == sum(lines.values(), Decimal(0)) == rolled[org], org
        for c in kids:
            assert lines[f"organisation:{c}"] == rolled[c]
        for d in own:
            mine = accounts.statement_page(estate.estate, estate.store, m, d)
            assert lines[f"department:{d}"] == _total(mine), d
    assert f"department:{moved}" in _lines(organisation_statement(
        estate.estate, estate.store, m, "shibei"))
    assert f"department:{moved}" in _lines(organisation_statement(
        estate.estate, estate.store, Month.parse("2026-02"), "shinan"))
    out = tmp_path / "shinan.html"
    govcloud("report", "statement", "--period", "2026-03", "--organisation", "shinan",
             "--out", str(out), estate=root, env=NOW, check=True)
    assert "市南区 政务云月度对账单" in out.read_text("utf-8")
    wrong = govcloud("report", "statement", "--period", "2026-03", "--organisation", "nowhere",
                     estate=root, env=NOW)
    assert wrong.returncode == 1 and "no organisation 'nowhere'" in wrong.stderr \
        and "shinan" in wrong.stderr and "Traceback" not in wrong.stderr
    both = govcloud("report", "statement", "--period", "2026-03", estate=root, env=NOW)
    assert both.returncode == 2 and "--organisation CODE" in both.stderr


@pytest.mark.parametrize("by", [(), ("--by", "organisation")], ids=["departments", "levels"])
def test_budgets_before_the_record_are_refused_like_every_report(
        year: tuple[Path, dict[str, str], str], by: tuple[str, ...]) -> None:
    """Trial of #25: report budgets for a month before the estate's record began answered
    a table of zeros (exit 0) where the other reports say the month is before the record."""
    one_line(govcloud("report", "budgets", "--period", "2025-12", *by, estate=year[0],
                      env=NOW), "before the estate's record began")
