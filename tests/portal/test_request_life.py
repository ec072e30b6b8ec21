"""A request's whole life (#23 case 4): filed, each approval step with the approver's remark,
approved (still to be applied, said in words, no git hash), applied by which apply, live or
not yet; withdrawn by its requester while it waits; edited and filed again after a send-back;
a comment thread its department and its deciders share, never another department; a message
after each action. Every step is recorded as it happens, with who and when."""

from __future__ import annotations

import json
from html.parser import HTMLParser
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


class _Fields(HTMLParser):
    """The fields a browser would post from the form ``form_id`` of a page: inputs with
    their values (a checkbox only when ticked), each select's chosen option, textareas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self.action = ""
        self._select: str | None = None
        self._area: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
            self.action = a.get("action", "") if self.inside else self.action
        elif not self.inside:
            return
        elif tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "on" if a.get("type") ==
                                                 "checkbox" else "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a["value"]))
        elif tag == "textarea":
            self._area = a["name"]
            self.fields.append((self._area, ""))

    def handle_data(self, data: str) -> None:
        if self._area:
            self.fields[-1] = (self._area, self.fields[-1][1] + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        self._select = None if tag == "select" else self._select
        self._area = None if tag == "textarea" else self._area


def form_of(page: str, form_id: str = "request-form") -> tuple[str, dict[str, str]]:
    """The action and the fields of a page's form, as a browser would post them."""
    found = _Fields(form_id)
    found.feed(page)
    assert found.fields, f"no form {form_id} on the page"
    return found.action, dict(found.fields)


def _sent_back(root: Path) -> int:
    """The server request, approved by the department head and sent back by an operator."""
    r = _as(root, "li", lambda e, s, p: decisions.submit(e, s, p, SERVER, "test"))
    _as(root, "head", lambda e, s, p: decisions.approve(e, s, p, r.id, "同意", "test"))
    _as(root, "op1", lambda e, s, p: decisions.close(s, p, r.id, "returned", "用 m1.medium",
                                                     "test", e))
    return int(r.id)


def test_a_request_sent_back_is_edited_in_its_own_form_and_its_verdict_shown_first(
        estate: Path) -> None:
    """#23: after a send-back the requester edits the request in the form that filed it
    (the kind's form, filled with the request's values), sees the verdict, then files it
    again. On the old main the page offered the request as JSON in a text box."""
    n = _sent_back(estate)
    member = _client(estate, "li")
    url = f"/departments/finance/requests/{n}"
    page = member.get(url).text
    assert 'name="payload"' not in page  # no JSON text box to edit
    action, fields = form_of(page)
    assert action == "/departments/finance/requests/check"
    assert fields["kind"] == "servers" and fields["again"] == str(n)
    assert fields["server.name"] == "fin-report" and fields["server.flavor"] == "m1.small"
    assert fields["server.image"] == "kylin-v10-sp3" and fields["reason"] == "报表系统"
    assert "修改并重新提交" in page and "用 m1.medium" in page  # the send-back's reason

    checked = member.post(action, data={**fields, "server.flavor": "m1.medium"})
    assert checked.status_code == 200 and "有效" in checked.text
    assert f'href="{url}"' in checked.text  # which request it files again
    file_it, sent = form_of(checked.text, "file-request")
    assert file_it == f"{url}/resubmit" and "重新提交" in checked.text
    with engine.records(estate) as (_, store):
        assert records.find(store, n).state == "returned"  # the verdict filed nothing
    again = member.post(file_it, data=sent)
    assert again.status_code == 303 and again.headers["location"] == f"{url}?done=resubmitted"
    with engine.records(estate) as (_, store):
        r = records.find(store, n)
        assert r.state == "waiting" and r.payload["server"]["flavor"] == "m1.medium"
        assert r.payload["server"]["name"] == "fin-report"  # the rest as it was
        last = life.events(store, n)[-1]
        assert last.step == "resubmitted" and last.by == "li"
        assert last.detail["was"]["server"]["flavor"] == "m1.small"
    assert 'id="request-form"' not in member.get(url).text  # waiting: nothing to edit


def test_a_refused_resubmit_keeps_what_was_typed(estate: Path) -> None:
    n = _sent_back(estate)
    member = _client(estate, "li")
    url = f"/departments/finance/requests/{n}"
    action, fields = form_of(member.get(url).text)
    typed = {**fields, "server.name": "Fin Report!", "reason": "换个名字再试"}
    refused = member.post(action, data=typed)
    assert refused.status_code == 200 and "无效" in refused.text
    _, kept = form_of(refused.text)
    assert kept["server.name"] == "Fin Report!" and kept["reason"] == "换个名字再试"
    assert kept["again"] == str(n) and kept["server.flavor"] == "m1.small"
    assert f"{url}/resubmit" not in refused.text  # nothing to file
    # posted straight to resubmit (as a verdict page would after the estate changed):
    # refused, 422, and the form comes back with the fields as they were posted
    bad = {**SERVER, "server": {**SERVER["server"], "name": "Fin Report!"}}
    posted = member.post(f"{url}/resubmit", data={"csrf": fields["csrf"],
                                                   "payload": json.dumps(bad)})
    assert posted.status_code == 422
    _, kept = form_of(posted.text)
    assert kept["server.name"] == "Fin Report!" and kept["again"] == str(n)
    with engine.records(estate) as (_, store):
        assert records.find(store, n).state == "returned"
        assert records.find(store, n).payload == SERVER


def test_another_departments_member_cannot_file_it_again(estate: Path) -> None:
    n = _sent_back(estate)
    url = f"/departments/finance/requests/{n}"
    _, fields = form_of(_client(estate, "li").get(url).text)
    other = _client(estate, "wang")  # a member of health
    token = csrf_of(other.get("/departments/health/requests/new").text)
    assert other.get(url).status_code in (403, 404)
    edited = {**fields, "csrf": token, "server.flavor": "m1.medium"}
    assert other.post("/departments/finance/requests/check", data=edited).status_code == 403
    # through its own department's address the request is not found
    assert other.post("/departments/health/requests/check",
                      data=edited).status_code == 404
    sent = {"csrf": token, "payload": json.dumps({**SERVER, "server": {
        **SERVER["server"], "flavor": "m1.medium"}}, ensure_ascii=False)}
    assert other.post(f"{url}/resubmit", data=sent).status_code in (403, 404)
    assert other.post(f"/departments/health/requests/{n}/resubmit",
                      data=sent).status_code == 404
    with engine.records(estate) as (_, store):
        assert records.find(store, n).state == "returned"
        assert records.find(store, n).payload == SERVER
