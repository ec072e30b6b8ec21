"""The example estate's approval rules (policies/approvals.yaml) route as a government's
requests are routed (#23 case 8): the department head signs new servers and anything over
1,000 yuan a month, finance signs above 5,000, the operators decide quota; small changes
inside quota are approved at once. Every role of the chain is used by some rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud.access import users
from govcloud.applying import engine
from govcloud.core.approvals import ORDER, chain, compile_approvals
from govcloud.core.documents import parse
from govcloud.requests import assessment, decisions
from tests.support.estate import REPO, copy_estate

PASSWORD = "correct horse battery"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = copy_estate(tmp_path / "estate")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("head", "approver", "finance"),
                                ("op1", "operator", None), ("fin", "finance", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    return root


def _chain(root: Path, payload: dict[str, Any]) -> tuple[list[str], float]:
    with engine.records(root) as (est, _):
        v = assessment.assess(est, "finance", {"department": "finance", "reason": "r",
                                               **payload})
    assert v.ok, v.errors
    return v.chain["roles"] if not v.chain["auto"] else ["auto"], float(v.cost_delta)


def _server(name: str, flavor: str, count: int) -> dict[str, Any]:
    return {"kind": "servers", "server": {"name": name, "flavor": flavor,
                                          "image": "kylin-v10-sp3", "count": count}}


def test_every_role_signs_something_in_the_example_rules() -> None:
    rules = yaml.safe_load((REPO / "policies" / "approvals.yaml").read_text())["rules"]
    assert {r["approve"] for r in rules} == {*ORDER, "auto"}


def test_the_department_head_signs_a_new_server_then_an_operator_places_it(
        estate: Path) -> None:
    roles, cost = _chain(estate, _server("fin-small", "m1.small", 1))
    assert roles == ["approver", "operator"] and cost < 1000
    with engine.records(estate) as (est, store):
        r = decisions.submit(est, store, users.find(store, "li"),
                             {"department": "finance", "reason": "报表",
                              **_server("fin-small", "m1.small", 1)}, "test")
        assert r.waiting_for() == "approver"
        with pytest.raises(decisions.RequestRefused, match="approver's approval"):
            decisions.approve(est, store, users.find(store, "op1"), r.id, "", "test")
        r = decisions.approve(est, store, users.find(store, "head"), r.id, "同意", "test")
        assert r.waiting_for() == "operator"
        assert decisions.approve(est, store, users.find(store, "op1"), r.id, "",
                                 "test").state == "approved"


def _rules_chain(kind: str, **facts: Any) -> list[str]:
    """The chain the example rules give a request of ``kind`` with verdict ``facts``."""
    doc, problems = parse((REPO / "policies" / "approvals.yaml").read_text(),
                          "policies/approvals.yaml")
    assert doc is not None and not problems
    stages, problems = compile_approvals(doc)
    assert not problems
    verdict = {"cost_delta": 0.0, "extra_hosts": 0, "changes": 1, "quota_raised": False,
               "new_public_website": False, "destroys": [], "destroyed_gb": 0, "shrinks": [],
               "weakens": [], "exposes": [], "blast_radius": 0, **facts}
    found, trouble = chain(stages, {"kind": kind, "department": "finance", "reason": "r"},
                           verdict)
    assert not trouble
    return ["auto"] if found.auto else list(found.roles)


def test_above_1000_the_head_signs_and_above_5000_finance_too(estate: Path) -> None:
    roles, cost = _chain(estate, {"kind": "servers", "server": {
        "name": "fin-yy", "flavor": "m1.medium", "image": "kylin-v10-sp3", "count": 2,
        "volume_gb": 1200}})
    assert cost > 1000 and roles == ["approver", "operator"], cost
    assert _rules_chain("resize", cost_delta=1200.0) == ["approver", "operator"]
    assert _rules_chain("resize", cost_delta=999.0, extra_hosts=0) == ["operator"]
    assert _rules_chain("replicas", cost_delta=300.0) == ["auto"]
    assert _rules_chain("replicas", cost_delta=6000.0) == ["approver", "finance", "operator"]
    assert _rules_chain("website", cost_delta=50.0, new_public_website=True) == [
        "approver", "operator"]


def test_quota_goes_to_the_operators_and_small_changes_are_approved_at_once(
        estate: Path) -> None:
    assert _chain(estate, {"kind": "quota", "quota": {"cores": 200}})[0] == ["operator"]
    roles, cost = _chain(estate, {"kind": "replicas", "server": "fin-budget-app",
                                  "count": 4})
    assert roles == ["auto"] and cost < 500
