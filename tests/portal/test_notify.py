"""The portal's e-mail, received by a real SMTP server (aiosmtpd) on loopback: the people a
request waits for hear of it, then its requester of the decision; the right recipients, and
nothing secret in any mail."""

from __future__ import annotations

import email
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.requests import decisions
from tests.support.components import free_port
from tests.support.estate import copy_estate, edit

PASSWORD = "correct horse battery"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.mails.append((list(envelope.rcpt_tos),
                           email.message_from_bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    from aiosmtpd.controller import Controller

    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def _estate(tmp_path: Path, port: int) -> Path:
    root = copy_estate(tmp_path / "estate")
    edit(root / "govcloud.yaml", "\nestate: qingdao\n",
         f"\nestate: qingdao\nnotify:\n  smtp_host: 127.0.0.1\n  smtp_port: {port}\n"
         "  sender: govcloud@qingdao.gov.cn\n  portal_url: https://cloud.qingdao.gov.cn\n")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("op1", "operator", None),
                                ("op2", "operator", None), ("fin", "finance", None),
                                ("aud", "auditor", None), ("head", "approver", "finance")):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test",
                       email=f"{name}@qingdao.gov.cn")
        users.add(store, set(est.plans), "op3", "operator", None, PASSWORD, "test")  # no mail
    return root


def _text(m: Message) -> str:
    body = m.get_payload(decode=True)
    assert isinstance(body, bytes)
    return str(m) + body.decode("utf-8")


def test_mails_go_to_whom_a_request_waits_for_then_to_its_requester(
        tmp_path: Path, inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    root = _estate(tmp_path, port)
    edit(root / "policies" / "approvals.yaml", "verdict.cost_delta > 5000.0",
         "verdict.cost_delta > 300.0")
    with engine.records(root) as (est, store):
        li = users.find(store, "li")
        small = decisions.submit(est, store, li, {
            "kind": "replicas", "department": "finance", "reason": "x",
            "server": "fin-budget-app", "count": 4})
        assert small.state == "approved" and box.mails[0][0] == ["li@qingdao.gov.cn"]
        # more replicas, not a new server: a new server goes to the department head first
        # (the example rules, #23 case 8)
        r = decisions.submit(est, store, li, {
            "kind": "replicas", "department": "finance", "reason": "报表",
            "server": "fin-budget-app", "count": 6})
        assert r.waiting_for() == "finance"
        assert box.mails[1][0] == ["fin@qingdao.gov.cn"]
        decisions.approve(est, store, users.find(store, "fin"), r.id)
        assert sorted(box.mails[2][0]) == ["op1@qingdao.gov.cn", "op2@qingdao.gov.cn"]
        decisions.approve(est, store, users.find(store, "op1"), r.id)
        assert box.mails[3][0] == ["li@qingdao.gov.cn"]
        asked = decisions.submit(est, store, users.find(store, "op1"), {
            "kind": "quota", "department": "finance", "reason": "y", "quota": {"cores": 60}})
        assert box.mails[4][0] == ["op2@qingdao.gov.cn"]  # never the requester itself
        decisions.close(store, users.find(store, "op2"), asked.id, "rejected", "not now",
                        "test", est)
        assert box.mails[5][0] == ["op1@qingdao.gov.cn"]
        hashes = [row[0] for row in store.query("SELECT password FROM users")]
        sessions = [row[0] for row in store.query("SELECT value FROM meta")]
    assert len(box.mails) == 6
    first = box.mails[1][1]
    assert first["From"] == "govcloud@qingdao.gov.cn"
    assert "fin <fin@qingdao.gov.cn>" in first["To"]
    assert f"申请 #{r.id} (finance, replicas)" in str(email.header.make_header(
        email.header.decode_header(first["Subject"])))
    body = _text(box.mails[3][1])
    assert "已批准" in body and "报表" in body
    assert f"https://cloud.qingdao.gov.cn/departments/finance/requests/{r.id}" in body
    assert "not now" in _text(box.mails[5][1])
    for _, m in box.mails:
        text = _text(m)
        assert PASSWORD not in text and "$argon2" not in text
        assert not any(h in text for h in hashes) and not any(
            s in text for s in sessions if len(s) >= 32)
        assert "csrf" not in text.lower() and "cookie" not in text.lower()


def test_an_unreachable_smtp_server_never_stops_a_request(tmp_path: Path) -> None:
    root = _estate(tmp_path, free_port())  # nothing listens there
    with engine.records(root) as (est, store):
        r = decisions.submit(est, store, users.find(store, "li"), {
            "kind": "quota", "department": "finance", "reason": "y", "quota": {"cores": 60}})
        assert r.state == "waiting"
        failed = trail.latest(store, 1, "notify failed")
        assert failed and "op1, op2" in failed[0].reason and failed[0].subject == \
            f"request {r.id}"
