"""Requests end to end on the example estate (no cloud needed: a request is judged against
the plans): each kind's edit keeps the file's comments, the approval rules as data (automatic,
finance, the department head, separation of duties), stale requests judged again, git
commits, and plan files that change only by an approved request."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.core.documents import parse
from govcloud.core.requests import Edit
from govcloud.errors import LockHeld
from govcloud.estate.planedit import apply_edits
from govcloud.requests import assessment, decisions, records
from tests.support.estate import REPO, copy_estate, edit

PASSWORD = "correct horse battery"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = copy_estate(tmp_path / "estate")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("op1", "operator", None),
                                ("op2", "operator", None), ("fin", "finance", None),
                                ("head", "approver", "culture-tourism"),
                                ("head2", "approver", "finance"),
                                ("zhao", "member", "culture-tourism")):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    return root


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def _repo(root: Path) -> None:
    _git(root, "init", "-q")
    _git(root, "add", "govcloud.yaml", "plans", "policies", "prices.yaml")
    _git(root, "-c", "user.name=ops", "-c", "user.email=ops@example", "commit", "-qm", "init")


def _file(root: Path, who: str, payload: dict[str, Any]) -> records.Request:
    with engine.records(root) as (est, store):
        return decisions.submit(est, store, users.find(store, who), payload, "test")


def _approve(root: Path, who: str, n: int) -> records.Request:
    with engine.records(root) as (est, store):
        return decisions.approve(est, store, users.find(store, who), n, "ok", "test")


def _plans(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "plans").glob("*.yaml"))}


def test_an_edit_with_nothing_to_do_keeps_every_plan_byte_for_byte() -> None:
    for path in sorted((REPO / "plans").glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        assert apply_edits(text, []) == text, path.name


def test_edits_change_what_they_say_and_keep_comments_and_sections_apart() -> None:
    text = (REPO / "plans" / "finance.yaml").read_text(encoding="utf-8")
    before = parse(text, "f")[0].data
    cases: list[tuple[list[Edit], Any]] = [
        ([Edit("set", ("servers", 1, "count"), 5)], lambda d: d["servers"][1].update(count=5)),
        ([Edit("append", ("websites",), {"domain": "x.qingdao.gov.cn", "kind": "php"})],
         lambda d: d["websites"].append({"domain": "x.qingdao.gov.cn", "kind": "php"})),
        ([Edit("delete", ("servers", 2))], lambda d: d["servers"].pop(2)),
        ([Edit("delete", ("websites", 0))], lambda d: d.pop("websites")),
        ([Edit("set", ("services", "backup", "enabled"), False)],
         lambda d: d["services"]["backup"].update(enabled=False)),
        ([Edit("set", ("quota", "cores"), 64)], lambda d: d["quota"].update(cores=64)),
    ]
    for edits, expect in cases:
        out = apply_edits(text, edits)
        data = parse(out, "f")[0].data
        want = parse(text, "f")[0].data
        expect(want)
        assert data == want, edits
        assert "# budget execution database" in out or edits[0].path == ("servers", 0)
        assert out.startswith("# yaml-language-server: $schema=")
        assert "\n\nservices:\n" in out and "\n\nlegacy:\n" in out, edits  # sections apart
        untouched = [line for line in text.splitlines() if "legacy" in line or "CC-1002" in line]
        assert all(line in out.splitlines() for line in untouched)
    assert parse(text, "f")[0].data == before


def test_every_kind_is_judged_with_its_diff_cost_capacity_and_chain(estate: Path) -> None:
    payloads = [
        {"kind": "website", "website": {"domain": "czj-new.qingdao.gov.cn", "kind": "php",
                                        "public": False}},
        {"kind": "servers", "server": {"name": "fin-report", "flavor": "m1.large",
                                       "image": "kylin-v10-sp3", "count": 2}},
        {"kind": "replicas", "server": "fin-budget-app", "count": 4},
        {"kind": "resize", "server": "fin-budget-app", "flavor": "m1.xlarge"},
        {"kind": "quota", "quota": {"cores": 64, "ram_gb": 256}},
        {"kind": "remove", "server": "fin-budget-app"},
        {"kind": "remove", "website": "czj-intra.qingdao.gov.cn"},
        {"kind": "backup", "backup": {"schedule": "0 1 * * *"}},
        {"kind": "antivirus", "antivirus": {"schedule": "0 4 * * *"}},
    ]
    with engine.records(estate) as (est, _):
        for p in payloads:
            v = assessment.assess(est, "finance", {**p, "department": "finance",
                                                  "reason": "test"})
            assert v.ok, (p, v.errors)
            assert v.diff.startswith("--- a/plans/finance.yaml"), p
            assert v.chain["roles"] or v.chain["auto"]
            assert v.capacity["hosts_after"] and "fits" in v.capacity
            if p["kind"] in ("servers", "replicas", "resize", "remove", "website"):
                assert v.changes, p
            if p["kind"] == "servers":
                assert float(v.cost_delta) > 0 and len(v.changes) >= 2
                assert v.cost["departments"]["finance"]["delta"] == v.cost_delta
            if p["kind"] == "remove":
                assert float(v.cost_delta) < 0 and v.chain["roles"] == ["operator"]
            if p["kind"] == "quota":
                assert v.facts["quota_raised"] and v.chain["roles"] == ["operator"]


def test_a_request_filed_with_a_token_is_committed_as_its_owner(estate: Path) -> None:
    """#22 residual: the commit of a request filed with an API token was authored by
    ``token:<id>``; it is the token's owner's, the token named in a trailer."""
    from govcloud.access import tokens

    _repo(estate)
    with engine.records(estate) as (est, store):
        token, text = tokens.add(store, set(est.plans), "li", "ci", "test", scope="write")
        found = tokens.find(store, text)
        assert found is not None
        r = decisions.submit(est, store, found.person(), {
            "kind": "replicas", "department": "finance", "reason": "年底",
            "server": "fin-budget-app", "count": 4}, "test")
    assert r.state == "approved" and r.requester == f"token:{token.id}"
    log = _git(estate, "log", "-1", "--format=%an <%ae>%n%b")
    assert log.startswith("li <li@finance.govcloud>\n"), log
    assert f"Filed-with: token:{token.id}" in log


def test_a_small_request_is_approved_at_once_and_committed_as_the_requester(
        estate: Path) -> None:
    _repo(estate)
    r = _file(estate, "li", {"kind": "replicas", "department": "finance", "reason": "年底",
                             "server": "fin-budget-app", "count": 4})
    assert r.state == "approved" and r.verdict["chain"] == {
        "roles": [], "rules": ["small-inside-quota"], "auto": True}
    assert 0 < float(r.verdict["cost_delta"]) < 500
    text = (estate / "plans" / "finance.yaml").read_text()
    assert "    count: 4\n" in text and "# treasury payment gateway" in text
    log = _git(estate, "log", "-1", "--format=%an <%ae>%n%s%n%b")
    assert log.startswith("li <li@finance.govcloud>\nfinance: replicas (request 1)\n年底")
    assert "Approved-by: govcloud (approval rule small-inside-quota) (auto)" in log
    assert _git(estate, "status", "--porcelain", "plans") == ""
    with engine.records(estate) as (_, store):
        actions = [e.action for e in trail.entries(store)]
        assert actions[-2:] == ["request new", "request approve"]
        assert trail.verify(store).whole


def test_a_costly_request_waits_for_finance_then_an_operator(estate: Path) -> None:
    edit(estate / "policies" / "approvals.yaml", "verdict.cost_delta > 5000.0",
         "verdict.cost_delta > 300.0")  # the rules are data: finance above 300 yuan here
    before = _plans(estate)
    r = _file(estate, "li", {"kind": "servers", "department": "finance", "reason": "报表",
                             "server": {"name": "fin-report", "flavor": "m1.large",
                                        "image": "kylin-v10-sp3", "count": 2}})
    # a new server: the department head first (the example rules, #23 case 8)
    assert r.verdict["chain"]["roles"] == ["approver", "finance", "operator"]
    r = _approve(estate, "head2", r.id)
    assert r.state == "waiting" and r.waiting_for() == "finance" and _plans(estate) == before
    with pytest.raises(decisions.RequestRefused, match="waits for a finance's approval"):
        _approve(estate, "op1", r.id)
    with pytest.raises(decisions.RequestRefused, match="separation of duties"):
        _approve(estate, "li", r.id)
    r = _approve(estate, "fin", r.id)
    assert r.state == "waiting" and r.waiting_for() == "operator" and _plans(estate) == before
    r = _approve(estate, "op1", r.id)
    assert r.state == "approved"
    assert "name: fin-report" in (estate / "plans" / "finance.yaml").read_text()
    assert [a["role"] for a in r.approvals] == ["approver", "finance", "operator"]


def test_nobody_approves_their_own_request(estate: Path) -> None:
    r = _file(estate, "op1", {"kind": "quota", "department": "finance", "reason": "more",
                              "quota": {"cores": 60}})
    assert r.waiting_for() == "operator"
    with pytest.raises(decisions.RequestRefused, match="separation of duties"):
        _approve(estate, "op1", r.id)
    assert _approve(estate, "op2", r.id).state == "approved"


def test_a_public_website_needs_its_own_departments_head(estate: Path) -> None:
    r = _file(estate, "zhao", {"kind": "website", "department": "culture-tourism",
                               "reason": "展览", "website": {"domain": "expo.qingdao.gov.cn",
                                                            "kind": "static",
                                                            "public": True}})
    assert r.verdict["chain"]["roles"] == ["approver", "operator"]
    assert r.verdict["facts"]["new_public_website"] is True
    with pytest.raises(decisions.RequestRefused, match="own department"):
        _approve(estate, "head2", r.id)  # finance's head
    assert _approve(estate, "head", r.id).waiting_for() == "operator"
    assert _approve(estate, "op1", r.id).state == "approved"


def test_a_stale_request_is_judged_again_before_it_is_written(estate: Path) -> None:
    plan = estate / "plans" / "finance.yaml"
    keep = _file(estate, "li", {"kind": "quota", "department": "finance", "reason": "a",
                                "quota": {"cores": 60}})
    broken = _file(estate, "li", {"kind": "remove", "department": "finance", "reason": "b",
                                  "server": "fin-budget-app"})
    assert broken.waiting_for() == "operator"
    # Someone edits the plan by hand meanwhile: a comment, and the server renamed.
    edit(plan, "  - name: fin-budget-app\n", "  - name: fin-budget-api   # renamed by hand\n")
    done = _approve(estate, "op1", keep.id)
    assert done.state == "approved" and "judged again" in done.note
    text = plan.read_text()
    assert "cores: 60" in text and "# renamed by hand" in text
    back = _approve(estate, "op1", broken.id)
    assert back.state == "returned" and "no server fin-budget-app" in back.note
    assert "fin-budget-api   # renamed by hand" in plan.read_text()


def test_rejecting_and_sending_back_need_a_reason_and_write_nothing(estate: Path) -> None:
    before = _plans(estate)
    a = _file(estate, "li", {"kind": "quota", "department": "finance", "reason": "a",
                             "quota": {"cores": 60}})
    b = _file(estate, "li", {"kind": "quota", "department": "finance", "reason": "b",
                             "quota": {"cores": 70}})
    with engine.records(estate) as (_, store):
        op = users.find(store, "op1")
        with pytest.raises(decisions.RequestRefused, match="needs a reason"):
            decisions.close(store, op, a.id, "rejected", " ")
        assert decisions.close(store, op, a.id, "rejected", "too much").state == "rejected"
        assert decisions.close(store, op, b.id, "returned", "split it").state == "returned"
        with pytest.raises(decisions.RequestRefused, match="is rejected"):
            decisions.approve(engine.validate(estate).estate(), store, op, a.id)
    assert _plans(estate) == before


def test_an_approval_meeting_the_lock_does_not_offer_lock_timeout(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`govcloud request approve` (or the portal) meeting an apply's lock was told to 'pass
    --lock-timeout SECONDS', an option approve does not have."""
    a = _file(estate, "li", {"kind": "quota", "department": "finance", "reason": "a",
                             "quota": {"cores": 60}})
    assert a.waiting_for() == "operator"
    monkeypatch.setattr(decisions, "LOCK_SECONDS", 0.0)
    with engine.records(estate) as (_, holder):
        holder.lock(doing="apply")  # as govcloud apply holds it
        try:
            with pytest.raises(LockHeld) as err:
                _approve(estate, "op1", a.id)
        finally:
            holder.unlock()
    assert ", for apply, since " in str(err.value)
    assert "--lock-timeout" not in err.value.hint
    assert f"approve request {a.id} again" in err.value.hint
    assert _approve(estate, "op1", a.id).state == "approved"


def test_a_request_without_a_kind_says_the_kind_is_missing() -> None:
    """The #21 trial: a dry run of ``{}`` said "unknown kind of request 'None'"."""
    from govcloud.core.requests import check_request
    (found,) = check_request({})
    assert (found.path, found.message) == ("kind", "the kind of request is missing")
    assert "website" in found.hint
    (other,) = check_request({"kind": "castle"})
    assert other.message == "unknown kind of request 'castle'"
