"""One cost figure (#23 case 7): the apply plan's monthly change beside the approved
verdicts it carries, and line by line why they differ. The issue's figures: two verdicts of
208.71 and 342.12 (550.83) under a plan of 301.05."""

from __future__ import annotations

from decimal import Decimal

from govcloud.finance.period import Month
from govcloud.finance.reconcile import Priced, reconcile, said


def _cost(period: str, **departments: str) -> dict[str, object]:
    total = sum((Decimal(v) for v in departments.values()), Decimal(0))
    return {"period": period, "departments": {d: {"delta": v} for d, v in departments.items()},
            "charged": {"delta": str(total)}}


def test_two_verdicts_that_sum_to_more_than_the_plan_are_explained_line_by_line() -> None:
    verdicts = [Priced(1, "statistics", Decimal("208.71"), Decimal("-120.00"),
                       Month(2026, 12)),
                Priced(2, "health", Decimal("342.12"), Decimal("-129.78"), Month(2026, 11))]
    plan = _cost("2026-12", statistics="90.33", health="210.72")  # 301.05 in all
    r = reconcile(plan, verdicts)
    assert (r.plan, r.verdicts, r.difference) == (Decimal("301.05"), Decimal("550.83"),
                                                   Decimal("-249.78"))
    lines = {x.department: x for x in r.lines}
    assert sum((x.difference for x in r.lines), Decimal(0)) == r.difference
    assert lines["statistics"].difference == Decimal("-118.38")
    assert said(lines["statistics"].why[0]) == (
        "its share of the shared pool moves with other departments' requests (#2); their "
        "verdicts count only their own bill")
    assert [said(w) for w in lines["health"].why] == [
        "its share of the shared pool moves with other departments' requests (#1); their "
        "verdicts count only their own bill",
        "#2 priced at 2026-11's prices; the plan at 2026-12's"]


def test_a_change_with_no_request_and_one_already_in_the_cloud_say_so() -> None:
    r = reconcile(_cost("2026-12", finance="0.00", ecology="55.10"),
                  [Priced(3, "finance", Decimal("40.00"), Decimal(0), Month(2026, 12))])
    lines = {x.department: [said(w) for w in x.why] for x in r.lines}
    assert lines == {
        "ecology": ["no approved request changes it: its plan file was edited directly, or "
                    "the cloud differs from it (govcloud drift)"],
        "finance": ["#3: nothing left to apply (the change is already in the cloud, or "
                    "another request superseded it)"]}


def test_verdicts_that_match_the_plan_need_no_line() -> None:
    r = reconcile(_cost("2026-12", finance="40.00"),
                  [Priced(3, "finance", Decimal("40.00"), Decimal(0), Month(2026, 12))])
    assert r.difference == 0 and r.lines == ()
