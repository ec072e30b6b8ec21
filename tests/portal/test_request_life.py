"""A request's whole life (#23 case 4): filed, each approval step with the approver's remark,
approved (still to be applied, said in words, no git hash), applied by which apply, live or
not yet; withdrawn by its requester while it waits; edited and filed again after a send-back;
a comment thread its department and its deciders share, never another department; a message
after each action. Every step is recorded as it happens, with who and when."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from govcloud.access import users
from govcloud.applying import engine
from govcloud.requests import decisions, followups, life, records
from tests.portal.conftest import csrf_of
from tests.support.cli import BUILT, govcloud
from tests.support.estate import copy_estate

PASSWORD = "correct horse battery"
SERVER = {"kind": "servers", "department": "finance", "reason": "报表系统",
          "server": {"name": "fin-report", "flavor": "m1.small", "image": "kylin-v10-sp3"}}
QUOTA = {"kind": "quota", "department": "finance", "reason": "年底扩容",
         "quota": {"cores": 56}}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = copy_estate(tmp_path / "estate")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("head", "approver", "finance"),
                                ("op1", "operator", None), ("fin", "finance", None),
                                ("healthhead", "approver", "health"),
                                ("wang", "member", "health"), ("aud", "auditor", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    return root


def _as(root: Path, who: str, act: Any) -> Any:
    with engine.records(root) as (est, store):
        return act(est, store, users.find(store, who))


def _steps(root: Path, n: int) -> list[tuple[str, str]]:
    with engine.records(root) as (_, store):
        return [(e.step, e.by) for e in life.events(store, n)]


def test_a_new_server_lives_from_filed_to_applied_each_step_with_who_and_when(
        estate: Path) -> None:
    govcloud("apply", "--yes", estate=estate, check=True, env=BUILT)
    r = _as(estate, "li", lambda e, s, p: decisions.submit(e, s, p, SERVER, "test"))
    q = _as(estate, "li", lambda e, s, p: decisions.submit(e, s, p, QUOTA, "test"))
    _as(estate, "head", lambda e, s, p: decisions.approve(e, s, p, r.id, "同意，预算已列", "test"))
    done = _as(estate, "op1", lambda e, s, p: decisions.approve(e, s, p, r.id, "放在 A 区",
                                                                "test"))
    _as(estate, "op1", lambda e, s, p: decisions.approve(e, s, p, q.id, "", "test"))
    assert done.state == "approved"
    assert _steps(estate, r.id) == [("filed", "li"), ("step", "head"), ("approved", "op1")]
    shown = govcloud("request", "show", str(r.id), estate=estate, check=True).stdout
    assert "it still has to be applied" in shown and "committed" not in shown
    assert "step by head — role approver; remark: 同意，预算已列" in shown
    assert "approved by op1 — role operator; remark: 放在 A 区" in shown

    applied = json.loads(govcloud("apply", "--yes", "-o", "json", estate=estate,
                                  check=True, env=BUILT).stdout)
    with engine.records(estate) as (_, store):
        server, quota = life.events(store, r.id), life.events(store, q.id)
        assert [e.step for e in server] == ["filed", "step", "approved", "applied"]
        assert server[-1].detail == {"apply": applied["apply_id"], "source": "cli"}
        # the example estate runs no service playbooks: the new server is not live yet
        assert life.stage(server) == "applied"
        # a quota needs no playbook: live once applied, by the same apply
        assert [e.step for e in quota][-2:] == ["applied", "live"]
        assert life.carried(store, applied["apply_id"]) == [r.id, q.id]
        assert all(e.at and e.by for e in server + quota)
    shown = govcloud("request", "show", str(r.id), estate=estate, check=True).stdout
    assert f"applied by govcloud apply — apply {applied['apply_id']}" in shown
    assert "State: applied; its services are not converged yet" in shown
    # an apply with nothing new carries nothing again: the life is never rewritten
    govcloud("apply", "--yes", estate=estate, env=BUILT)
    assert [s for s, _ in _steps(estate, r.id)] == ["filed", "step", "approved", "applied"]


def test_the_requester_withdraws_a_waiting_request_and_nobody_else_can(estate: Path) -> None:
    r = _as(estate, "li", lambda e, s, p: decisions.submit(e, s, p, QUOTA, "test"))
    with pytest.raises(decisions.RequestRefused, match="only li, who filed request 1"):
        _as(estate, "head", lambda e, s, p: followups.withdraw(s, p, r.id, "", "test"))
    done = _as(estate, "li", lambda e, s, p: followups.withdraw(s, p, r.id, "算错了", "test"))
    assert done.state == "withdrawn"
    with pytest.raises(decisions.RequestRefused, match="request 1 is withdrawn"):
        _as(estate, "op1", lambda e, s, p: decisions.approve(e, s, p, r.id, "", "test"))
    assert _steps(estate, r.id) == [("filed", "li"), ("withdrawn", "li")]


def test_a_request_sent_back_is_edited_and_filed_again_its_approvals_starting_over(
        estate: Path) -> None:
    r = _as(estate, "li", lambda e, s, p: decisions.submit(e, s, p, SERVER, "test"))
    _as(estate, "head", lambda e, s, p: decisions.approve(e, s, p, r.id, "同意", "test"))
    _as(estate, "op1", lambda e, s, p: decisions.close(s, p, r.id, "returned",
                                                       "用 m1.medium", "test", e))
    edited = {**SERVER, "server": {**SERVER["server"], "flavor": "m1.medium"}}
    with pytest.raises(decisions.RequestRefused, match="only li"):
        _as(estate, "head", lambda e, s, p: followups.resubmit(e, s, p, r.id, edited, "test"))
    again = _as(estate, "li", lambda e, s, p: followups.resubmit(e, s, p, r.id, edited,
                                                                  "test"))
    assert again.id == r.id and again.state == "waiting" and again.approvals == []
    assert again.payload["server"]["flavor"] == "m1.medium" and again.waiting_for() == "approver"
    assert [s for s, _ in _steps(estate, r.id)] == ["filed", "step", "returned",
                                                    "resubmitted"]
    with engine.records(estate) as (_, store):
        was = life.events(store, r.id)[-1].detail["was"]
        assert was["server"]["flavor"] == "m1.small"  # what was sent back is kept
        assert records.find(store, r.id).state == "waiting"


def _client(root: Path, who: str) -> TestClient:
    from govcloud.portal.app import create_app

    c = TestClient(create_app(root, secret="k"), base_url="http://testserver",
                   follow_redirects=False)
    assert c.post("/login", data={"name": who, "password": PASSWORD,
                                  "csrf": csrf_of(c.get("/login").text)}).status_code == 303
    return c


def test_the_request_page_shows_the_life_remarks_comments_and_a_message_after_each_action(
        estate: Path) -> None:
    member = _client(estate, "li")
    form = member.get("/departments/finance/requests/new").text
    filed = member.post("/departments/finance/requests", data={
        "csrf": csrf_of(form), "payload": json.dumps(SERVER, ensure_ascii=False)})
    assert filed.status_code == 303 and filed.headers["location"].endswith("?done=filed")
    page = member.get(filed.headers["location"]).text
    assert "申请已提交。" in page and "撤回申请" in page  # the message; withdraw offered
    url = filed.headers["location"].split("?")[0]

    head = _client(estate, "head")
    done = head.post(f"{url}/approve", data={"csrf": csrf_of(head.get(url).text),
                                             "reason": "预算已列"})
    assert done.headers["location"].endswith("?done=approved")
    assert "您的审批意见已记录。" in head.get(done.headers["location"]).text

    said = member.post(f"{url}/comment", data={"csrf": csrf_of(member.get(url).text),
                                               "text": "下周一前需要"})
    assert said.headers["location"].endswith("?done=commented")
    op = _client(estate, "op1")
    page = op.get(url).text  # the operator who decides reads the thread and the remark
    assert "下周一前需要" in page and "预算已列" in page and "一级审批通过" in page
    # another department's approver reaches neither the request nor its thread
    other = _client(estate, "healthhead")
    assert other.get(url).status_code in (403, 404)
    assert other.post(f"{url}/comment", data={"csrf": csrf_of(other.get("/").text),
                                              "text": "x"}).status_code in (403, 404)
    auditor = _client(estate, "aud")
    assert "下周一前需要" in auditor.get(url).text
    assert auditor.post(f"{url}/comment", data={"csrf": csrf_of(auditor.get(url).text),
                                                "text": "x"}).status_code == 403

    back = op.post(f"{url}/reject", data={"csrf": csrf_of(op.get(url).text),
                                          "reason": "换个名字", "send_back": "on"})
    assert back.headers["location"].endswith("?done=returned")
    page = member.get(url).text
    assert "已退回申请人" in page and "重新提交" in page
    renamed = {**SERVER, "server": {**SERVER["server"], "name": "fin-report2"}}
    again = member.post(f"{url}/resubmit", data={
        "csrf": csrf_of(page), "payload": json.dumps(renamed, ensure_ascii=False)})
    assert again.headers["location"].endswith("?done=resubmitted")
    gone = member.post(f"{url}/withdraw", data={"csrf": csrf_of(member.get(url).text)})
    assert gone.headers["location"].endswith("?done=withdrawn")
    page = member.get(gone.headers["location"]).text
    assert "申请已撤回。" in page and "申请人已撤回" in page and "修改后重新提交" in page
    # the message is one of the portal's own sentences, never the query's text
    assert "<script>" not in member.get(url + "?done=%3Cscript%3E").text


def test_a_new_site_is_not_shown_live_before_its_playbooks_ran(estate: Path) -> None:
    govcloud("apply", "--yes", estate=estate, check=True, env=BUILT)
    site = {"kind": "website", "department": "finance", "reason": "新网站",
            "website": {"domain": "czj-new.qingdao.gov.cn", "kind": "php", "public": False}}
    r = _as(estate, "li", lambda e, s, p: decisions.submit(e, s, p, site, "test"))
    assert r.state == "approved"  # small, inside quota: approved at once by the rule
    govcloud("apply", "--yes", estate=estate, check=True, env=BUILT)
    assert [s for s, _ in _steps(estate, r.id)] == ["filed", "approved", "applied"]
    page = _client(estate, "li").get("/departments/finance").text
    row = page[page.index("<td>czj-new.qingdao.gov.cn</td>"):].split("</tr>")[0]
    # made in the cloud, but the example estate ran no playbook for it: not live (否)
    assert row.endswith("<td>否</td>"), row
