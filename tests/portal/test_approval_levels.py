"""Approval rules naming a level (#25): ``approve: approver@district`` asks the approver
scoped to the department's district — not another district's, not the department's own head
— and validate refuses a level directory.levels does not name, saying where and how to fix
it."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.core.directory import Change, Organisation
from govcloud.errors import GovcloudError
from govcloud.estate import organisations
from tests.support.cli import NOW, govcloud
from tests.support.estate import copy_estate

PASSWORD = "correct horse battery"
RULE = """rules:
  - id: district-head-for-quota
    description: A district's head signs its departments' quota raises.
    when: verdict.quota_raised
    approve: approver@{level}
  - id: operator
    when: "true"
    approve: operator
"""
TREE = [("qingdao", ""), ("shinan", "qingdao"), ("laoshan", "qingdao"),
        ("finance", "shinan"), ("health", "laoshan")]


def _estate(tmp_path: Path, level: str = "district") -> Path:
    estate = copy_estate(tmp_path / "estate")
    (estate / "policies" / "approvals.yaml").write_text(RULE.format(level=level),
                                                        encoding="utf-8")
    return estate


def test_validate_refuses_a_level_that_is_not_named(tmp_path: Path) -> None:
    estate = _estate(tmp_path, level="distrct")
    proc = govcloud("validate", estate=estate, env=NOW)
    assert proc.returncode != 0, proc.stdout
    said = proc.stdout + proc.stderr
    assert "policies/approvals.yaml" in said and "'distrct'" in said, said
    assert "directory.levels" in said and "approver@district" in said, said
    assert "Traceback" not in said
    assert govcloud("validate", estate=_estate(tmp_path / "ok"), env=NOW).returncode == 0


def test_the_districts_approver_signs_its_departments_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud.applying import engine
    from govcloud.requests import deciders, decisions, records

    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    estate = _estate(tmp_path)
    with engine.records(estate) as (est, store):
        organisations.record(store, [Change("add", c, None, Organisation(c, c, p, "", c), "t")
                                     for c, p in TREE])
        known = set(organisations.parents(store))
        deps = set(est.plans)
        users.add(store, deps, "staff", "member", "finance", PASSWORD, "test")
        users.add(store, deps, "head", "approver", "finance", PASSWORD, "test")
        for name, district in (("shinan.head", "shinan"), ("laoshan.head", "laoshan")):
            users.add(store, deps, name, "approver", None, PASSWORD, "test", scope=district,
                      organisations=known)
        users.add(store, deps, "ops", "operator", None, PASSWORD, "test")
        cores = est.plans["finance"].quota.cores
        filed = decisions.submit(est, store, users.find(store, "staff"), {
            "kind": "quota", "department": "finance", "reason": "more",
            "quota": {"cores": cores + 8}})
        assert filed.verdict["chain"]["roles"] == ["approver@district", "operator"]
        takes = deciders.taker(store, filed)
        assert takes is not None and takes.names == ("shinan.head",), takes
        for wrong in ("laoshan.head", "head", "ops"):
            with pytest.raises(GovcloudError, match="cannot decide"):
                decisions.approve(est, store, users.find(store, wrong), filed.id)
        done = decisions.approve(est, store, users.find(store, "shinan.head"), filed.id)
        assert done.waiting_for() == "operator"
        assert done.approvals[0]["by"] == "shinan.head"
        assert records.find(store, filed.id).state == "waiting"


def test_a_district_without_its_approver_goes_to_the_operators(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from govcloud.applying import engine
    from govcloud.requests import deciders, decisions

    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    estate = _estate(tmp_path)
    with engine.records(estate) as (est, store):
        organisations.record(store, [Change("add", c, None, Organisation(c, c, p, "", c), "t")
                                     for c, p in TREE])
        deps = set(est.plans)
        users.add(store, deps, "staff", "member", "health", PASSWORD, "test")
        users.add(store, deps, "ops", "operator", None, PASSWORD, "test")
        filed = decisions.submit(est, store, users.find(store, "staff"), {
            "kind": "quota", "department": "health", "reason": "more",
            "quota": {"cores": est.plans["health"].quota.cores + 8}})
        takes = deciders.taker(store, filed)
        assert takes is not None and takes.role == "operator" and takes.names == ("ops",)
        assert "laoshan" not in takes.why and "district" in takes.why, takes.why

