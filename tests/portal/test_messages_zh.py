"""What a person reads on a Chinese page in their own terms (#23 case 1, a trial user's
findings): a request form's field errors in Chinese, naming the field by its label on the
form (the request's path kept as a small detail for operators); refusals, states, notices
and the audit trail in Chinese. The command line keeps its English."""

from __future__ import annotations

import re
from typing import Any

import pytest

from govcloud.portal.i18n import translator
from tests.portal.conftest import OWN, Site, account, csrf_of, sign_in
from tests.portal.test_page_language import english, estate_words, visible

SERVER = {"kind": "servers", "server.name": "fin-extra", "server.flavor": "m1.small",
          "server.image": "debian-12", "server.count": "1", "reason": "再加一台服务器"}
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def member(site: Site) -> Any:
    return sign_in(site, account("member"))


def errors_html(html: str) -> str:
    """A verdict's list of errors."""
    found = re.search(r'<div class="error" role="alert">(.*?)</div>', html, re.DOTALL)
    assert found, f"no list of errors on the page:\n{visible(html)[:1500]}"
    return found.group(1)


def errors_of(html: str) -> str:
    """The visible text of a verdict's list of errors (code left out)."""
    return visible(errors_html(html))


def check(member: Any, fields: dict[str, str], lang: str = "zh") -> Any:
    form = member.get(f"/departments/{OWN}/requests/new?kind=servers&lang={lang}")
    return member.post(f"/departments/{OWN}/requests/check?lang={lang}",
                       data={**fields, "csrf": csrf_of(form.text)})


# (the fields changed from a good new server, the field's label in Chinese, its path)
CASES = [
    ({"server.name": "统计服务器"}, "名称", "server.name"),
    ({"server.name": "<img src=x onerror=alert(1)>"}, "名称", "server.name"),
    ({"server.name": "fin-budget-db"}, "名称", "server.name"),
    ({"server.name": ""}, "名称", "server.name"),
    ({"server.name": "x" * 70}, "名称", "server.name"),
    ({"server.count": "-5"}, "数量", "server.count"),
    ({"server.count": "500"}, "数量", "server.count"),
    ({"server.count": "三"}, "数量", "server.count"),
    ({"server.count": "99999999999999999999"}, "数量", "server.count"),
    ({"server.volume_gb": "1.5"}, "每台数据盘", "server.volume_gb"),
    ({"server.volume_gb": "-100"}, "每台数据盘", "server.volume_gb"),
    ({"server.flavor": "m1.huge"}, "规格", "server.flavor"),
    ({"reason": "   "}, "原因", "reason"),
    ({"reason": "a;b"}, "原因", "reason"),
    ({"kind": "rocket"}, "申请类型", "kind"),
]


@pytest.mark.parametrize(("change", "label", "path"), CASES,
                         ids=[f"{p}={v[:12]!r}" for c, _, p in CASES for v in c.values()])
def test_a_field_error_is_chinese_and_names_the_field(site: Site, member: Any,
                                                     change: dict[str, str], label: str,
                                                     path: str) -> None:
    r = check(member, {**SERVER, **change})
    said = errors_of(r.text)
    assert said.startswith(label), said
    detail = re.compile(r'<small class="path">\(<code>[^<]*' + re.escape(path.split(".")[-1])
                        + r"</code>\)</small>")
    assert detail.search(errors_html(r.text)), f"the path is kept as a detail: {said}"
    # what the person typed is quoted back as it is; the rest is Chinese
    words = english(re.sub(r"'[^']*'", " ", said), estate_words(site.estate))
    assert words == [], f"English in the Chinese error: {words}\n{said}"
    assert CHINESE.search(said), said


def test_the_english_page_keeps_the_english_message(member: Any) -> None:
    said = errors_of(check(member, {**SERVER, "server.count": "-5"}, "en").text)
    assert "How many" in said and "-5 is below the minimum 1" in said, said


@pytest.mark.parametrize(("message", "fragment"), [
    ("-5 is below the minimum 1", "最小值"),
    ("101 is above the maximum 100", "最大值"),
    ("expected a whole number, got '三' (text)", "整数"),
    ("expected true or false, got 'x' (text)", "是或否"),
    ("missing required key 'name'", "必填"),
    ("'x' is not allowed", "不在可选范围"),
    ("is 70 characters, over 63", "63"),
    ("unknown kind of request 'rocket'", "rocket"),
    ("Refused: a form without a length, or larger than 64 KB.", "64 KB"),
    ("Refused: a form without this session's CSRF token (reload the page).", "刷新"),
    ("Refused: a post from another origin (http://evil.example).", "http://evil.example"),
    ("add 'name:' (Server name, unique in the estate; replicas after the first get -2, -3 "
     "… appended)", "名称"),
    ("write a whole number, e.g. 1", "整数"),
])
def test_each_kind_of_diagnostic_has_its_chinese(message: str, fragment: str) -> None:
    said = translator("zh")(message)
    assert said != message and fragment in said and CHINESE.search(said), said
    assert translator("en")(message) == message


def test_a_pattern_is_not_taken_half_translated() -> None:
    """A text that matches a pattern but carries English the catalogue does not know is left
    whole, never half Chinese."""
    text = "expected a fish, got 'x' (text)"
    assert translator("zh")(text) == text


@pytest.mark.parametrize("fields", [
    {"reason": "x" * 61_000},  # more than 64 KB of form once encoded
    {"csrf": "wrong"},
], ids=["too-large", "no-csrf"])
def test_a_refused_post_is_chinese(site: Site, member: Any, fields: dict[str, str]) -> None:
    form = member.get(f"/departments/{OWN}/requests/new?kind=servers&lang=zh")
    data = {**SERVER, "csrf": csrf_of(form.text), **fields}
    if "reason" in fields:
        data["reason"] = "原" * 22_000  # 9 bytes a character once percent-encoded
    r = member.post(f"/departments/{OWN}/requests/check?lang=zh", data=data)
    assert r.status_code == 403, r.text[:300]
    text = visible(r.text)
    assert CHINESE.search(text.split("拒绝", 1)[-1]), text
    assert "Refused:" not in text and "a form without" not in text, text


def test_the_audit_trail_speaks_chinese(site: Site, member: Any) -> None:
    """Case 4 and 5: the request life's actions and a refusal of no one signed in read in
    Chinese; the date filter's labels are days (起始日期), not "move out" (迁出)."""
    from tests.portal.conftest import client

    n = site.requests[OWN]
    page = member.get(f"/departments/{OWN}/requests/{n}?lang=zh")
    r = member.post(f"/departments/{OWN}/requests/{n}/comment",
                    data={"csrf": csrf_of(page.text), "text": "请尽快处理"})
    assert r.status_code == 303, r.text[:300]
    client(site).get(f"/departments/{OWN}")  # refused: no one signed in
    auditor = sign_in(site, account("auditor"))
    trail = visible(auditor.get("/audit?lang=zh&action=request+comment").text)
    assert "申请留言" in trail and "request comment" not in trail, trail
    refused = visible(auditor.get("/audit?lang=zh&action=refused").text)
    assert "（未登录）" in refused and "not signed in)" not in refused, refused
    assert "起始日期" in trail and "截止日期" in trail and "迁出" not in trail, trail
    zh = translator("zh")
    for action in ("request comment", "request withdraw", "request resubmit"):
        assert CHINESE.search(zh(action)), action
    assert zh("admin (portal, root@vm pid 16615)") == "admin（门户，root@vm pid 16615）"


def test_a_day_that_is_no_day_keeps_the_audit_page(site: Site) -> None:
    """Case 2: /audit?from=2026-99-01 was a 404 page in English without the filter form."""
    auditor = sign_in(site, account("auditor"))
    r = auditor.get("/audit?from=2026-99-01&department=finance&lang=zh")
    assert r.status_code == 400, r.text[:300]
    assert 'name="from" type="date" value="2026-99-01"' in r.text
    assert 'name="department" value="finance"' in r.text
    text = visible(r.text)
    assert "起始日期 '2026-99-01' 不是有效的日期" in text and "YYYY-MM-DD" in text, text
    assert "no day" not in text, text
    api = auditor.get("/api/audit?from=2026-99-01")
    assert api.status_code == 404 and "no day" in api.json()["error"], api.text


def test_a_second_approval_says_you_already_approved() -> None:
    """Case 2: the approver clicking 批准 twice was told the request waits for an operator,
    not an approver — true, but not what happened."""
    from govcloud.core import approvals

    chain = approvals.Chain(("approver", "operator"), (), False)
    why = approvals.may_approve("approver", OWN, "fin.head", "fin.clerk", OWN, chain,
                                ["approver"], None, ["fin.head"])
    assert why == "you have already approved this request: it now waits for an operator's " \
                  "approval", why
    said = translator("zh")(f"fin.head cannot decide request 2: {why}")
    assert said == "fin.head 现在不能审批申请 2：您已经批准过这个申请，现在等待运维人员审批", said


@pytest.mark.parametrize("message", [
    "stat.head cannot decide request 2: the request waits for an operator's approval, not "
    "an approver's",
    "the request shows who it waits for",
    "request 2 is approved",
    "2026-12 is already closed",
    "a closed month cannot change; reopen it (govcloud statement reopen) or adjust a later "
    "month",
    "2027-01 is not over yet (2027-01 month to date (100 of 744 hours, to 2027-01-05 04:00 "
    "UTC))",
    "close it after 2027-02-01",
    "2026-11 is before the estate's record began (2026-12): nothing of it ran then — give a "
    "month from 2026-12 to 2026-12",
    "no usage is recorded for 2026-12 — run govcloud usage collect --period 2026-12 first",
])
def test_a_refusal_is_chinese(site: Site, message: str) -> None:
    said = translator("zh")(message)
    words = english(said, estate_words(site.estate) | {"stat.head", "UTC"})
    assert CHINESE.search(said) and words == [], (said, words)


def test_a_month_before_the_record_is_chinese(site: Site) -> None:
    """Case 2: the chargeback of a month before the record began said why in English."""
    finance = sign_in(site, account("finance"))
    text = visible(finance.get("/finance/chargeback?period=2020-01&lang=zh").text)
    assert "早于本平台开始记录的月份" in text, text
    assert "record began" not in text and "give a month" not in text, text


def test_a_change_reason_names_quota_items_by_their_labels() -> None:
    """Case 6: the apply review's reasons read ``cores 16 → 44, ram_gb 64 → 80``."""
    zh = translator("zh")
    assert zh("cores 16 → 44, ram_gb 64 → 80") == "vCPU 16 → 44，内存 (GB) 64 → 80"
    assert zh("flavor m1.small → m1.large") == "规格 m1.small → m1.large"
    assert translator("en")("cores 16 → 44, ram_gb 64 → 80") == "cores 16 → 44, ram_gb 64 → 80"


def test_the_apply_review_says_yuan(site: Site) -> None:
    """Case 6: 每月费用变化 46.17 had no unit."""
    operator = sign_in(site, account("operator"))
    html = operator.get("/operations/apply?lang=zh").text
    found = re.search(r"每月费用变化</dt><dd class=\"num\">([^<]*)</dd>", html)
    assert found and found.group(1).endswith("元/月"), visible(html)[:800]


@pytest.mark.parametrize(("lang", "said"), [
    ("zh", "审核结果还会加上本部门分摊的固定费用"),
    ("en", "the verdict adds your department's share of the fixed pools"),
])
def test_the_flavour_list_says_the_verdict_adds_fixed_shares(member: Any, lang: str,
                                                             said: str) -> None:
    """Case 7: the list said m1.small — 66.00 元/月, the verdict 261.62 元/月."""
    for kind in ("servers", "resize"):
        page = member.get(f"/departments/{OWN}/requests/new?kind={kind}&lang={lang}").text
        assert said in page.replace("&#39;", "'"), kind


def test_the_printable_statement_says_when_it_closed_in_the_estates_time(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """Case 8: 已结账 closed 2027-01-02T02:00:00.000000Z (UTC, to the microsecond)."""
    from dataclasses import replace

    from govcloud.applying import engine
    from govcloud.books import accounts
    from govcloud.finance.period import Month
    from govcloud.reports.statement import page
    from tests.support.cli import NOW

    assert accounts.local("2027-01-02T02:00:00.000000Z", "Asia/Shanghai") == \
        "2027年1月2日 10:00 (Asia/Shanghai)"
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    with engine.records(site.estate) as (est, store):
        m = accounts.figures(est, store, Month.parse("2026-11"))
        st = replace(m.statement, closed_at="2026-12-01T16:05:09.123456Z")
        html = page(m.title, OWN, OWN, st, m.ledger, "",
                    closed=accounts.local(st.closed_at, est.settings.time_zone))
    assert "已结账 closed 2026年12月2日 00:05 (Asia/Shanghai)" in html, visible(html)[:500]
    assert "T16:05" not in html


def test_a_statement_is_viewed_not_downloaded(member: Any) -> None:
    """Case 8: the department page's link read 下载 and saved the printable page."""
    html = member.get(f"/departments/{OWN}?lang=zh").text
    links = re.findall(r'<a href="/departments/[^"]+/statements/[^"]+\.html"[^>]*>[^<]*</a>',
                       html)
    assert links, visible(html)[:800]
    for link in links:
        assert " download" not in link and link.endswith(">查看</a>"), link


def test_a_request_reads_without_a_git_hash_and_says_it_was_applied_from_the_portal(
        tmp_path: Any) -> None:
    """Case 3: 状态 read "已批准 — committed 7766f66" beside 阶段 "已上线", the life said
    "已实施 — govcloud apply" for an apply from the portal, and govcloud request list said
    approved where request show said failed."""
    from starlette.testclient import TestClient

    from govcloud.access import users
    from govcloud.applying import engine
    from govcloud.portal.app import create_app
    from govcloud.requests import decisions
    from govcloud.state.store import acting_for
    from tests.portal.conftest import PASSWORD
    from tests.support.cli import BUILT, govcloud
    from tests.support.estate import copy_estate

    root = copy_estate(tmp_path / "estate")
    govcloud("apply", "--yes", estate=root, check=True, env=BUILT)
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", OWN), ("op1", "operator", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
        quota = {"kind": "quota", "department": OWN, "reason": "年底扩容",
                 "quota": {"cores": est.plans[OWN].quota.cores + 8}}
        n = decisions.submit(est, store, users.find(store, "li"), quota, "test").id
        done = decisions.approve(est, store, users.find(store, "op1"), n, "", "test")
        assert done.state == "approved"
        # a plan kept in git: the approval's note names the commit that wrote it
        store.execute("UPDATE requests SET note = ? WHERE id = ?",
                      ("judged again: the plan file had changed; committed 42fd135", n))
    with engine.session(root) as s, acting_for("op1"):
        s.store.lock(doing="apply")
        try:
            engine.apply(s, s.plan(), services=False)
        finally:
            s.store.unlock()
    c = TestClient(create_app(root, secret="k"), base_url="http://testserver",
                   follow_redirects=False)
    assert c.post("/login", data={"name": "li", "password": PASSWORD,
                                  "csrf": csrf_of(c.get("/login").text)}).status_code == 303
    html = c.get(f"/departments/{OWN}/requests/{n}?lang=zh").text
    state = re.search(r'<dd class="state">(.*?)</dd>', html, re.DOTALL)
    assert state and visible(state.group(1)) == "已批准 — 计划文件已变动，已重新审核", state
    assert not re.search(r"committed|\b[0-9a-f]{7}\b", visible(html)), visible(html)
    life = visible(re.search(r'<ol class="life">(.*?)</ol>', html, re.DOTALL).group(1))
    assert "op1 (在门户中操作)" in life or "op1," in life and "在门户中操作" in life, life
    assert "govcloud apply" not in life, life
    listed = govcloud("request", "list", estate=root, check=True).stdout
    shown = govcloud("request", "show", str(n), estate=root, check=True).stdout
    row = next(line for line in listed.splitlines() if line.split()[:1] == [str(n)])
    stage = shown.split("State: ")[1].split(":")[0].split(";")[0].strip()
    assert stage in row and stage == "live", (row, shown)
