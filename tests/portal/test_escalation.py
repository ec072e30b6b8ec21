"""Escalation after N days (issue #14, item 4), on a fixed clock (GOVCLOUD_NOW): a request
waiting for an operator longer than the shipped rule's three days is overdue in the queue,
``govcloud request escalate`` mails finance (the role escalated to) once, and says so in the
audit trail; a rule that cannot wait is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.core.approvals import compile_approvals
from govcloud.core.documents import parse
from govcloud.requests import decisions, escalation
from tests.portal.test_notify import PASSWORD, Inbox, _estate, _text, inbox  # noqa: F401
from tests.support.cli import govcloud

FILED = "2026-11-20T09:00:00Z"


def _queue(app: object, name: str) -> str:
    from starlette.testclient import TestClient

    c = TestClient(app, base_url="http://testserver", follow_redirects=False)  # type: ignore[arg-type]
    form = c.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf
    r = c.post("/login", data={"name": name, "password": PASSWORD, "csrf": csrf.group(1),
                               "next": "/"})
    assert r.status_code == 303
    return str(c.get("/requests?lang=en").text)


def test_a_request_waiting_too_long_is_escalated_once(
        tmp_path: Path, inbox: tuple[Inbox, int],  # noqa: F811 (the fixture)
        monkeypatch: pytest.MonkeyPatch) -> None:
    box, port = inbox
    root = _estate(tmp_path, port)
    monkeypatch.setenv("GOVCLOUD_NOW", FILED)
    with engine.records(root) as (est, store):
        r = decisions.submit(est, store, users.find(store, "li"), {
            "kind": "quota", "department": "finance", "reason": "年底", "quota": {"cores": 60}})
        # the example rules: a raise of quota is the operators' (#23 case 8)
        assert r.waiting_for() == "operator" and r.verdict["chain"]["rules"] == [
            "operators-for-quota", "operator"]
    assert sorted(box.mails[0][0]) == ["op1@qingdao.gov.cn", "op2@qingdao.gov.cn"]

    at = {"GOVCLOUD_NOW": "2026-11-23T08:59:00Z"}  # 2 days 23:59 hours: not yet
    quiet = govcloud("request", "escalate", "-o", "json", estate=root, env=at, check=True)
    assert json.loads(quiet.stdout) == [] and len(box.mails) == 1

    late = {"GOVCLOUD_NOW": "2026-11-23T09:01:00Z"}  # more than the rule's 3 days
    done = govcloud("request", "escalate", "-o", "json", estate=root, env=late, check=True)
    assert json.loads(done.stdout) == [{
        "request": r.id, "department": "finance", "kind": "quota",
        "rule": "operators-for-quota",
        "step": "operator", "to": "finance", "after_days": 3, "waited_days": 3,
        "told": ["fin"], "problem": ""}]
    assert len(box.mails) == 2 and box.mails[1][0] == ["fin@qingdao.gov.cn"]
    mail = _text(box.mails[1][1])
    assert "overdue" in mail and "waiting 3 days for operator" in mail and "年底" in mail

    again = govcloud("request", "escalate", estate=root,
                     env={"GOVCLOUD_NOW": "2026-11-25T09:00:00Z"}, check=True)
    assert "No request is overdue" in again.stdout
    assert len(box.mails) == 2  # told once

    with engine.records(root) as (est, store):
        record = trail.latest(store, 1, escalation.ACTION)[0]
        assert (record.actor, record.subject) == ("govcloud (approval rule "
                                                  "operators-for-quota)",
                                                  f"request {r.id}")

    monkeypatch.setenv("GOVCLOUD_NOW", late["GOVCLOUD_NOW"])
    from govcloud.portal.app import create_app

    app = create_app(root, secret="test-secret")
    try:
        for name in ("fin", "op1"):  # finance sees it now too; both see it overdue
            page = _queue(app, name)
            assert f"/requests/{r.id}\"" in page, name
            assert "overdue: 3 days, escalated to finance" in page, name
    finally:
        app.state.portal.close()  # type: ignore[attr-defined]
    monkeypatch.setenv("GOVCLOUD_NOW", "2026-11-21T09:00:00Z")  # a day after filing
    app = create_app(root, secret="test-secret")
    try:
        assert "overdue" not in _queue(app, "op1")
        assert f"/requests/{r.id}\"" not in _queue(app, "fin")  # not escalated yet
    finally:
        app.state.portal.close()  # type: ignore[attr-defined]


def test_a_rule_that_approves_at_once_cannot_escalate() -> None:
    doc, _ = parse("rules:\n  - id: quick\n    when: 'true'\n    approve: auto\n"
                "    escalate: {after_days: 2, to: operator}\n", "policies/approvals.yaml")
    assert doc is not None
    stages, problems = compile_approvals(doc)
    assert stages == [] and len(problems) == 1
    assert problems[0].line == 5 and "approves at once" in problems[0].message
    zero, _ = parse("rules:\n  - id: ops\n    when: 'true'\n    approve: operator\n"
                 "    escalate: {after_days: 0, to: finance}\n", "policies/approvals.yaml")
    assert zero is not None
    assert compile_approvals(zero)[1], "after_days 0 must be refused"
