"""One cost figure on the apply page (#23 case 7): two approved requests whose verdicts sum
differently from the plan's monthly cost change, and the page says line by line why."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.requests import decisions
from tests.portal.test_request_life import _client
from tests.support.cli import NOW, govcloud
from tests.support.estate import copy_estate

PASSWORD = "correct horse battery"


def test_the_apply_page_reconciles_the_plans_cost_with_two_approved_verdicts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])  # one month's prices throughout
    root = copy_estate(tmp_path / "estate")
    govcloud("apply", "--yes", estate=root, check=True, env=NOW)
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("wang", "member", "health"),
                                ("op1", "operator", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
        a = decisions.submit(est, store, users.find(store, "li"), {
            "kind": "replicas", "department": "finance", "reason": "年底",
            "server": "fin-budget-app", "count": 4}, "test")
        b = decisions.submit(est, store, users.find(store, "wang"), {
            "kind": "replicas", "department": "health", "reason": "挂号高峰",
            "server": "wj-booking-web", "count": 3}, "test")
    assert a.state == b.state == "approved"  # both small: approved at once by the rule
    said = Decimal(a.verdict["cost_delta"]) + Decimal(b.verdict["cost_delta"])

    op = _client(root, "op1")
    data = op.get("/api/operations/plan").json()
    r = data["reconciled"]
    assert r["requests"] == [a.id, b.id] and Decimal(r["verdicts"]) == said
    assert Decimal(r["plan"]) == Decimal(data["plan"]["cost_delta"]) != said
    # every department the plan moves is a line, and the lines add up to the difference
    assert sum(Decimal(x["difference"]) for x in r["lines"]) == Decimal(r["difference"])
    lines = {x["department"]: x for x in r["lines"]}
    assert "#2" in lines["finance"]["said"][0] and "#1" in lines["health"]["said"][0]
    assert lines["statistics"]["said"] == [
        "its share of the shared pool moves with other departments' requests (#1, #2); "
        "their verdicts count only their own bill"]
    page = op.get("/operations/apply").text
    assert "计划与已批准申请的每月费用为何不同" in page
    assert "其他部门的申请（#1, #2）" in page
