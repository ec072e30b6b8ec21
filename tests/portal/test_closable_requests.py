"""Every request can be closed, and its commit carries only its change (#22 cases 8 and 9).

8a: when nobody but the requester may act on a step (big-data's only approver files a public
site), the step goes to the next role up (operators), the request says who can act, and its
escalation mails them. 8b: a request the rules approve at once while its plan file cannot be
written (an apply holds the lock; ``plans/`` read-only) is shown as approved and waiting to be
written, never "waiting for None", and the next command that can writes it; nobody is told
to approve it again. 9: an operator's uncommitted edit of the plan file blocks the write (the
request waits, approved) instead of being committed under the member's name."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.core.approvals import Acting, Holder, acting
from govcloud.errors import GovcloudError
from govcloud.requests import decisions, records
from tests.portal.test_notify import Inbox, _text, inbox  # noqa: F401 (the fixture)
from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit

PASSWORD = "correct horse battery"
PUBLIC_SITE = {"kind": "website", "department": "big-data", "reason": "开放数据新站",
               "website": {"domain": "open2.qingdao.gov.cn", "kind": "static",
                           "public": True}}
REPLICAS = {"kind": "replicas", "department": "finance", "reason": "年底",
            "server": "fin-budget-app", "count": 4}
PEOPLE = (("bd-head", "approver", "big-data"), ("op1", "operator", None),
          ("op2", "operator", None), ("fin", "finance", None), ("li", "member", "finance"))


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=ops", "-c",
                           "user.email=ops@example", *args], capture_output=True, text=True,
                          check=True).stdout


def _people(root: Path, email: bool = False) -> Path:
    with engine.records(root) as (est, store):
        for name, role, dep in PEOPLE:
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test",
                      email=f"{name}@qingdao.gov.cn" if email else "")
    return root


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    root = _people(copy_estate(tmp_path / "estate"))
    _git(root, "init", "-q")
    _git(root, "add", "govcloud.yaml", "plans", "policies", "prices.yaml")
    _git(root, "commit", "-qm", "init")
    return root


def _file(root: Path, who: str, payload: dict[str, Any]) -> records.Request:
    with engine.records(root) as (est, store):
        return decisions.submit(est, store, users.find(store, who), dict(payload), "test")


def _approve(root: Path, who: str, n: int) -> records.Request:
    with engine.records(root) as (est, store):
        return decisions.approve(est, store, users.find(store, who), n, "ok", "test")


def _reject(root: Path, who: str, n: int, back: bool = False) -> records.Request:
    with engine.records(root) as (est, store):
        return decisions.close(store, users.find(store, who), n,
                               "returned" if back else "rejected", "not now", "test", est)


def _find(root: Path, n: int) -> records.Request:
    with engine.records(root) as (_, store):
        found = records.find(store, n)
    assert found is not None
    return found


# 8a ----------------------------------------------------------------------------------------

def test_a_step_only_the_requester_could_take_goes_to_the_operators(estate: Path) -> None:
    """The issue's case: big-data's only approver files a public site. Before, approve,
    reject and send back were refused for everyone."""
    r = _file(estate, "bd-head", PUBLIC_SITE)
    others = [_file(estate, "bd-head", {**PUBLIC_SITE, "website": {
        **PUBLIC_SITE["website"], "domain": f"open{n}.qingdao.gov.cn"}}) for n in (3, 4)]
    assert r.verdict["chain"]["roles"] == ["approver", "operator"]
    assert r.waiting_for() == "approver"
    with pytest.raises(decisions.RequestRefused, match="separation of duties"):
        _approve(estate, "bd-head", r.id)
    with pytest.raises(decisions.RequestRefused, match="waits for an operator's approval"):
        _approve(estate, "fin", r.id)
    r = _approve(estate, "op1", r.id)  # the head's step, taken by an operator
    assert r.state == "waiting" and r.waiting_for() == "operator"
    assert r.approvals[0]["role"] == "approver" and r.approvals[0]["as"] == "operator"
    with pytest.raises(decisions.RequestRefused, match="approved an earlier step"):
        _approve(estate, "op1", r.id)  # two steps, two people
    done = _approve(estate, "op2", r.id)
    assert done.state == "approved"
    assert "open2.qingdao.gov.cn" in (estate / "plans" / "big-data.yaml").read_text()
    log = _git(estate, "log", "-1", "--format=%an%n%b")
    assert log.startswith("bd-head\n")
    assert "Approved-by: op1 (operator, for the approver)" in log
    assert "Approved-by: op2 (operator)" in log

    assert _reject(estate, "op1", others[0].id).state == "rejected"
    assert _reject(estate, "op2", others[1].id, back=True).state == "returned"


def test_the_step_stays_with_the_head_when_another_head_can_take_it(estate: Path) -> None:
    with engine.records(estate) as (est, store):
        users.add(store, set(est.plans), "bd-head2", "approver", "big-data", PASSWORD, "test")
    r = _file(estate, "bd-head", PUBLIC_SITE)
    with pytest.raises(decisions.RequestRefused, match="waits for an approver's approval"):
        _approve(estate, "op1", r.id)
    assert _approve(estate, "bd-head2", r.id).waiting_for() == "operator"


def test_the_request_says_who_can_act(estate: Path) -> None:
    r = _file(estate, "bd-head", PUBLIC_SITE)
    shown = govcloud("request", "show", str(r.id), estate=estate, check=True).stdout
    assert "waiting for an operator (op1, op2): big-data has no approver other than " \
        "the requester" in shown, shown
    listed = govcloud("request", "list", estate=estate, check=True).stdout
    assert "None" not in listed and "waiting for operator" in listed
    shown_json = json.loads(govcloud("request", "show", str(r.id), "-o", "json",
                                     estate=estate, check=True).stdout)
    assert shown_json["acting"] == {
        "step": "approver", "role": "operator", "names": ["op1", "op2"],
        "why": "big-data has no approver other than the requester"}

    from starlette.testclient import TestClient

    from govcloud.portal.app import create_app

    app = create_app(estate, secret="test-secret")
    try:
        for name, may in (("op1", True), ("fin", False)):
            c = TestClient(app, base_url="http://testserver", follow_redirects=False)
            form = c.get("/login").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf
            c.post("/login", data={"name": name, "password": PASSWORD,
                                   "csrf": csrf.group(1), "next": "/"})
            page = c.get(f"/departments/big-data/requests/{r.id}?lang=en").text
            assert "Who can act" in page and "op1, op2" in page, page
            assert "big-data has no approver other than the requester" in page
            assert ('action="/departments/big-data/requests/1/approve"' in page) is may
            if name == "op1":
                queue = c.get("/requests?lang=en").text
                assert f"/requests/{r.id}\"" in queue
    finally:
        app.state.portal.close()  # type: ignore[attr-defined]


def test_the_escalation_mails_the_people_who_can_act(
        tmp_path: Path, inbox: tuple[Inbox, int]) -> None:  # noqa: F811 (the fixture)
    box, port = inbox
    root = copy_estate(tmp_path / "estate")
    edit(root / "govcloud.yaml", "\nestate: qingdao\n",
         f"\nestate: qingdao\nnotify:\n  smtp_host: 127.0.0.1\n  smtp_port: {port}\n"
         "  sender: govcloud@qingdao.gov.cn\n")
    _people(root, email=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GOVCLOUD_NOW", "2026-11-20T09:00:00Z")
        r = _file(root, "bd-head", PUBLIC_SITE)
    assert sorted(box.mails[-1][0]) == ["op1@qingdao.gov.cn", "op2@qingdao.gov.cn"]
    late = govcloud("request", "escalate", "-o", "json", estate=root,
                    env={"GOVCLOUD_NOW": "2026-11-26T09:00:00Z"}, check=True)
    [escalated] = json.loads(late.stdout)
    assert (escalated["request"], escalated["step"], escalated["to"]) == (r.id, "approver",
                                                                         "operator")
    assert sorted(escalated["told"]) == ["op1", "op2"]
    mail = _text(box.mails[-1][1])
    assert "op1, op2" in mail and "bd-head@" not in str(box.mails[-1][0])


def test_the_next_role_up_is_the_operators_and_above_them_nobody() -> None:
    """``acting`` as data: a step with someone other than the requester stays; an approver's
    or finance's step nobody else can take goes to the operators; an operator's step has no
    role above it and names the fix."""
    people = [Holder("head", "approver", "big-data"), Holder("head2", "approver", "finance"),
              Holder("op1", "operator", None), Holder("op2", "operator", None)]
    assert acting("approver", "finance", "li", [], people) == Acting(
        "approver", "approver", ("head2",))
    assert acting("approver", "big-data", "head", [], people) == Acting(
        "approver", "operator", ("op1", "op2"),
        "big-data has no approver other than the requester")
    assert acting("finance", "big-data", "zhao", [], people) == Acting(
        "finance", "operator", ("op1", "op2"),
        "there is no finance other than the requester")
    assert acting("operator", "big-data", "op1", [], people).names == ("op2",)
    alone = acting("operator", "big-data", "op1", ["op2"], people)
    assert alone.names == () and alone.role == "operator"
    assert alone.why == "nobody holds the operator role but the requester and whoever " \
        "approved an earlier step: add one (govcloud users add NAME --role operator)"


# 8b ----------------------------------------------------------------------------------------

def test_an_approval_by_rule_meeting_the_lock_is_written_by_the_next_command(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The issue's case: filed while an apply held the lock longer than the 30 s a write
    waits, the request stayed "waiting for None"; the error said "approve request 1 again",
    and approve and reject both answered "needs no more approval"."""
    monkeypatch.setattr(decisions, "LOCK_SECONDS", 0.0)
    plan = estate / "plans" / "finance.yaml"
    before = plan.read_text()
    with engine.records(estate) as (_, holder):
        holder.lock(doing="apply")  # as a long apply holds it
        try:
            with pytest.raises(GovcloudError) as err:
                _file(estate, "li", REPLICAS)
            said = err.value.render()
            assert "request 1 is approved (rule small-inside-quota)" in said, said
            assert "not written yet" in said and ", for apply, since " in said
            assert "again" not in said and "govcloud request show 1" in said
            shown = govcloud("request", "show", "1", estate=estate, check=True).stdout
            assert "State: approved, waiting to be written" in shown, shown
            assert "None" not in shown
            listed = govcloud("request", "list", estate=estate, check=True).stdout
            assert "approved, waiting to be written" in listed and "None" not in listed
            for refused in (govcloud("request", "approve", "1", "--as", "op1",
                                     estate=estate),
                            govcloud("request", "reject", "1", "--as", "op1", "--reason",
                                     "x", estate=estate)):
                assert refused.returncode == 1, refused.stdout
                assert "needs no more approval" not in refused.stderr
                assert "approved (rule small-inside-quota)" in refused.stderr
                assert "waits only to be written" in refused.stderr
                assert "again" not in refused.stderr and "Traceback" not in refused.stderr
            assert plan.read_text() == before
        finally:
            holder.unlock()
    shown = govcloud("request", "show", "1", estate=estate, check=True).stdout
    assert "State: approved" in shown and "waiting to be written" not in shown, shown
    assert "    count: 4\n" in plan.read_text()
    r = _find(estate, 1)
    assert r.state == "approved" and r.approvals[0]["by"] == \
        "govcloud (approval rule small-inside-quota)"
    log = _git(estate, "log", "-1", "--format=%an%n%b")
    assert log.startswith("li\n")
    assert "Approved-by: govcloud (approval rule small-inside-quota) (auto)" in log
    with engine.records(estate) as (_, store):
        assert [e.action for e in trail.entries(store)][-2:] == ["request new",
                                                                 "request approve"]
        assert trail.verify(store).whole


def test_an_approval_by_rule_written_late_is_judged_by_the_rules_as_they_are_then(
        estate: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not written while the lock was held, and the rules changed meanwhile so that they no
    longer approve it at once: it waits for the people they name now."""
    monkeypatch.setattr(decisions, "LOCK_SECONDS", 0.0)
    with engine.records(estate) as (_, holder):
        holder.lock(doing="apply")
        try:
            with pytest.raises(decisions.NotWritten):
                _file(estate, "li", REPLICAS)
        finally:
            holder.unlock()
    edit(estate / "policies" / "approvals.yaml", "verdict.cost_delta < 500.0",
         "verdict.cost_delta < 1.0")
    shown = govcloud("request", "show", "1", estate=estate, check=True).stdout
    assert "State: waiting for an operator (op1, op2)" in shown, shown
    r = _find(estate, 1)
    assert r.verdict["chain"] == {"roles": ["operator"], "rules": ["operator"], "auto": False}
    assert "now needs operator" in r.note
    assert "    count: 3\n" in (estate / "plans" / "finance.yaml").read_text()
    assert _approve(estate, "op1", 1).state == "approved"


@pytest.fixture
def read_only_plans(estate: Path) -> Iterator[Path]:
    """``plans/`` that even root cannot write into: the folder made immutable (chattr +i:
    root can create no file in it, so the atomic write's temporary file fails), or, not
    running as root, a folder without write permission."""
    import os

    plans = estate / "plans"
    if os.geteuid() != 0:
        plans.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(plans)], capture_output=True).returncode != 0:
        pytest.skip("root here cannot make a folder immutable (chattr +i)")
    try:
        yield plans
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(plans)], check=True)
        plans.chmod(0o755)


def test_an_approval_by_rule_on_read_only_plans_is_written_once_they_are_writable(
        estate: Path, read_only_plans: Path) -> None:
    plan = read_only_plans / "finance.yaml"
    before = plan.read_text()
    payload = estate.parent / "request.json"
    payload.write_text(json.dumps(REPLICAS))
    filed = govcloud("request", "new", str(payload), "--as", "li", estate=estate)
    assert filed.returncode == 1, filed.stdout
    assert "request 1 is approved (rule small-inside-quota)" in filed.stderr, filed.stderr
    assert "plans/finance.yaml cannot be written" in filed.stderr
    assert "again" not in filed.stderr and "Traceback" not in filed.stderr
    shown = govcloud("request", "show", "1", estate=estate, check=True).stdout
    assert "State: approved, waiting to be written: plans/finance.yaml cannot be written" \
        in shown, shown
    assert plan.read_text() == before
    subprocess.run(["chattr", "-i", str(read_only_plans)], capture_output=True)
    read_only_plans.chmod(0o755)
    planned = govcloud("plan", estate=estate)  # a cloud session writes it first
    assert planned.returncode in (0, 2), planned.stderr
    assert "    count: 4\n" in plan.read_text()
    assert _find(estate, 1).state == "approved"
    assert "fin-budget-app" in planned.stdout  # and plans with it


# 9 -----------------------------------------------------------------------------------------

def test_an_uncommitted_edit_is_never_committed_under_a_members_name(estate: Path) -> None:
    """The issue's case: an operator raised volume_gb 6000 → 9000 without committing; a
    member's request approved by rule was committed with that edit inside, the member as
    author and the rule's Approved-by trailer."""
    plan = estate / "plans" / "finance.yaml"
    edit(plan, "  volume_gb: 6000\n", "  volume_gb: 9000\n")
    with pytest.raises(GovcloudError) as err:
        _file(estate, "li", REPLICAS)
    said = err.value.render()
    assert "plans/finance.yaml has changes not committed" in said, said
    assert "commit or stash your edit first" in said and "again" not in said
    assert _git(estate, "log", "--format=%s") == "init\n"
    assert "volume_gb: 9000" in plan.read_text() and "    count: 3\n" in plan.read_text()
    r = _find(estate, 1)
    assert r.unwritten() and "has changes not committed" in r.note
    assert govcloud("request", "list", estate=estate, check=True).returncode == 0
    assert _git(estate, "log", "--format=%s") == "init\n"  # still dirty: still not written

    _git(estate, "commit", "-qam", "finance: more volume space (ops)")
    shown = govcloud("request", "show", "1", estate=estate, check=True).stdout
    assert "State: approved" in shown and "waiting to be written" not in shown
    log = _git(estate, "log", "--format=%an %s")
    assert log.splitlines() == ["li finance: replicas (request 1)",
                                "ops finance: more volume space (ops)", "ops init"]
    changed = [line for line in _git(estate, "show", "--format=", "HEAD").splitlines()
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-    count: 3", "+    count: 4"]
    assert _git(estate, "status", "--porcelain", "plans") == ""


def test_a_last_approval_on_a_dirty_plan_is_refused_with_the_fix(estate: Path) -> None:
    r = _file(estate, "li", {"kind": "quota", "department": "finance", "reason": "more",
                             "quota": {"cores": 60}})
    assert r.waiting_for() == "operator"
    plan = estate / "plans" / "finance.yaml"
    edit(plan, "  volume_gb: 6000\n", "  volume_gb: 9000\n")
    with pytest.raises(decisions.RequestRefused) as err:
        _approve(estate, "op1", r.id)
    said = err.value.render()
    assert "plans/finance.yaml has changes not committed" in said
    assert f"then approve request {r.id} again" in said
    assert _find(estate, r.id).waiting_for() == "operator"
    _git(estate, "commit", "-qam", "finance: more volume space (ops)")
    assert _approve(estate, "op1", r.id).state == "approved"
    changed = [line for line in _git(estate, "show", "--format=", "HEAD").splitlines()
               if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ["-  cores: 48", "+  cores: 60"]
