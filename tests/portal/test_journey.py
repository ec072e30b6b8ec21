"""The five journeys of #23 in a real headless Chromium driven by selenium (Debian's chromium
and chromium-driver), against ``govcloud serve`` (uvicorn) on an applied sim estate: a member
of 统计局 (statistics), the department's head (its approver), an operator, a finance officer
and an auditor each do their work in the portal end to end, in Chinese and in English. Each
page is looked at 1366 px and at 390 px: at 390 no page is wider than the viewport
(``document.documentElement.scrollWidth``); a screenshot of each width is kept
(journey-<person>-<lang>-<width>-<step>.png under GOVCLOUD_ARTIFACTS, default
test-artifacts/portal/); a Chinese page shows no English word and no raw ISO timestamp.

One estate is served for the module. Each journey acts on requests of its own (named after
its language): the fixture files, as the portal's people would, what each journey needs
before it starts (a request sent back to the member, two waiting for the head, one
waiting for an operator…), so a journey never depends on another having passed."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.portal import sessions
from govcloud.requests import decisions
from tests.portal.journeys import PASSWORD, Walk, amount, fill, follow, shot, sign_in
from tests.portal.test_page_language import ISO, estate_words
from tests.support.cli import NOW, _env, apply_and_collect
from tests.support.estate import copy_estate, edit
from tests.support.portal import chromium, serving

pytestmark = [pytest.mark.real, pytest.mark.chromium]
LANGS = ("zh", "en")
TJ = "statistics"  # 统计局
ROLES = {"member": "wang", "approver": "zhou", "operator": "admin", "finance": "qian",
         "auditor": "shen"}
CLOSES = {"zh": "2026-10", "en": "2026-09"}  # the month each finance officer closes
SIGN_INS = 60  # old sign-ins, hidden from the audit trail unless asked for


def who(role: str, lang: str) -> str:
    """The person of ``role`` in the ``lang`` journeys: wang.zh, zhou.en…"""
    return f"{ROLES[role]}.{lang}"


@dataclass
class Served:
    base: str
    estate: Path
    allowed: set[str]  # the estate's own words, let through on a Chinese page
    filed: dict[tuple[str, str], int]  # (lang, what) -> the request set up for a journey


def _servers(name: str, reason: str, flavor: str = "m1.small") -> dict[str, Any]:
    return {"kind": "servers", "department": TJ, "reason": reason,
            "server": {"name": name, "flavor": flavor, "image": "kylin-v10-sp3", "count": 1}}


def _prepare(est: Any, store: Any, lang: str) -> dict[tuple[str, str], int]:
    """What the journeys of ``lang`` start from, done as the people would in the portal:
    for the member, a request the head sent back with a remark; for the head, two new
    servers waiting; for an operator, a raise of quota and a new server the head signed."""
    member, head = (users.find(store, who(r, lang)) for r in ("member", "approver"))
    assert member is not None and head is not None

    def file(what: str, payload: dict[str, Any]) -> int:
        return decisions.submit(est, store, member, payload).id

    out = {
        "returned": file("returned", _servers(f"tj-{lang}-etl", f"数据清洗 {lang}-etl")),
        "head-back": file("head-back", _servers(f"tj-{lang}-api", f"接口服务 {lang}-api")),
        "head-yes": file("head-yes", _servers(f"tj-{lang}-cache", f"缓存 {lang}-cache")),
        "quota": file("quota", {"kind": "quota", "department": TJ,
                                "reason": f"普查季扩容 {lang}-quota",
                                "quota": {"volumes" if lang == "zh" else "volume_gb":
                                          6 if lang == "zh" else 4000}}),
        "report": file("report", _servers(f"tj-{lang}-report", f"报表服务 {lang}-report")),
    }
    decisions.close(store, head, out["returned"], "returned", f"请改用 m1.medium {lang}-remark",
                    estate=est)
    decisions.approve(est, store, head, out["report"], f"同意 {lang}-signed")
    return {(lang, k): n for k, n in out.items()}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    estate = copy_estate(tmp_path_factory.mktemp("journey") / "estate")
    # room for both languages' new servers (the over-quota refusal still refuses)
    edit(estate / "plans" / f"{TJ}.yaml", "  instances: 5\n  cores: 16\n",
         "  instances: 16\n  cores: 32\n")
    apply_and_collect(estate, "2026-09", "2026-10", "2026-11")
    filed: dict[tuple[str, str], int] = {}
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]
    try:
        with engine.records(estate) as (est, store):
            for lang in LANGS:
                for role in ROLES:
                    users.add(store, set(est.plans), who(role, lang), role,
                              TJ if role in ("member", "approver") else None, PASSWORD, "test")
            for name, role, dep in (("li.wei", "member", TJ), ("sun.cw", "finance", None)):
                users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
            for lang in LANGS:
                filed |= _prepare(est, store, lang)
            for i in range(SIGN_INS):  # a busy portal's sign-ins
                trail.append(store, "li.wei", "sign-in", "li.wei", TJ, None, {"n": i}, "",
                             "portal")
    finally:
        del os.environ["GOVCLOUD_NOW"]
    allowed = estate_words(estate)
    with serving(estate, _env(NOW), estate / "serve.log") as base:
        yield Served(base, estate, allowed, filed)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module (each journey signs in afresh: cookies cleared)."""
    with chromium() as driver:
        yield driver


def walk(served: Served, browser: Any, lang: str, role: str) -> Walk:
    w = Walk(browser, served.base, lang, role, served.allowed)
    w.sign_in(who(role, lang))
    return w


def _request(w: Walk, n: int) -> str:
    w.go(f"/departments/{TJ}/requests/{n}")
    return w.text()


def _state(w: Walk) -> str:
    return w.text("dd.state")


def _life(w: Walk) -> list[str]:
    return [e.text for e in w.all("ol.life li")]


# --- The member of 统计局


@pytest.mark.parametrize("lang", LANGS)
def test_member(served: Served, browser: Any, lang: str) -> None:
    w = walk(served, browser, lang, "member")
    said = w.said
    page = w.look("home")
    assert said("Your department's requests") in page

    w.go(f"/departments/{TJ}/requests/new")  # the kind first
    kinds = w.look("kinds")
    assert said("More quota") in kinds, kinds
    link = w.find("ul.kinds a[href$='?kind=servers']")
    assert link.text == said("New servers")
    follow(w.driver, link)
    options = [o.text for o in w.all("#s-flavor option")]
    small = next(o for o in options if o.startswith("m1.small"))
    assert re.search(r"1 vCPU, 2 GiB, [\d,]+\.\d\d " + re.escape(said("yuan a month")), small)
    assert said("Left in the quota") in w.look("servers-form")

    # the form, filled and checked: its verdict before anything is filed
    fill(w.driver, {"s-name": f"tj-{lang}-web", "s-flavor": "m1.small",
                    "s-image": "kylin-v10-sp3", "s-count": "1"}, f"网上直报 {lang}-web")
    verdict = w.look("verdict")
    assert f"{said('Verdict')}: {said('valid')}" in verdict, verdict[:600]
    cost = Decimal(amount(w.text("dd.cost")).replace(",", ""))
    assert 0 < cost < 500, cost
    assert f"{said('approver')} → {said('operator')}" in verdict  # the head signs first
    w.button("File the request")
    filed = int(w.url().split("/requests/")[1].split("?")[0])
    page = w.look("filed")
    assert said("The request is filed.") in page
    assert _state(w).startswith(said("waiting")) and said("approver") in _state(w)
    assert said("filed") in _life(w)[0]

    # over quota: refused, what was typed kept, and one click files the quota it needs
    w.go(f"/departments/{TJ}/requests/new?kind=servers")
    fill(w.driver, {"s-name": f"tj-{lang}-big", "s-flavor": "c1.xlarge",
                    "s-image": "kylin-v10-sp3", "s-count": "3"}, f"普查汇总 {lang}-big")
    refused = w.look("over-quota")
    assert f"{said('Verdict')}: {said('invalid')}" in refused
    assert said("This request cannot be filed: fix the fields in the form below; what you "
                "typed is kept.") in refused
    assert w.find("#s-name").get_attribute("value") == f"tj-{lang}-big"
    assert w.find("#s-count").get_attribute("value") == "3"
    assert f"{lang}-big" in w.find("#request-form textarea").get_attribute("value")
    w.button("File the quota request it needs")
    quota = w.look("quota-filed")
    assert said("The request is filed.") in quota and said("quota") in w.text("dl")
    assert said("Asked for a request refused over quota") in quota and f"{lang}-big" in quota
    assert _state(w).startswith(said("waiting")) and said("operator") in _state(w)

    # withdraw the request filed above
    _request(w, filed)
    w.find("#withdraw-reason").send_keys(f"不需要了 {lang}-gone")
    w.button("Withdraw the request")
    page = w.look("withdrawn")
    assert said("The request is withdrawn.") in page and _state(w).startswith(said("withdrawn"))
    assert said("withdrawn by the requester") in _life(w)[-1] and f"{lang}-gone" in _life(w)[-1]

    # the request the head sent back: its remark, then edited and filed again
    n = served.filed[(lang, "returned")]
    _request(w, n)
    life = _life(w)
    assert _state(w).startswith(said("returned")), _state(w)
    assert said("sent back to the requester") in life[-1] and f"{lang}-remark" in life[-1]
    assert who("approver", lang) in life[-1]
    old_box = w.all("#resubmit-payload")  # main before the form of its kind (h23s) came
    w.look("sent-back", chinese=not old_box)  # the old box's JSON keys are English
    if old_box:
        payload = json.loads(old_box[0].get_attribute("value"))
        payload["server"]["flavor"] = "m1.medium"
        old_box[0].clear()
        old_box[0].send_keys(json.dumps(payload, ensure_ascii=False))
    else:  # edited in the form of its kind, checked, its verdict seen, then filed again
        fill(w.driver, {"s-flavor": "m1.medium"}, f"数据清洗，改用 m1.medium {lang}-etl")
        assert f"{said('Verdict')}: {said('valid')}" in w.look("resubmit-verdict")
    w.button("File it again")
    page = w.look("resubmitted")
    assert said("The request is filed again.") in page
    assert _state(w).startswith(said("waiting")), _state(w)
    assert said("edited and filed again") in _life(w)[-1] and "m1.medium" in page

    w.find("#comment-text").send_keys(f"已改为 m1.medium {lang}-comment")
    w.button("Add the comment")
    page = w.look("commented")
    assert said("Your comment is added.") in page
    comment = w.text("ul.comments")
    assert f"{lang}-comment" in comment and who("member", lang) in comment

    w.go("/notices")  # what happened to the department's requests, in the portal
    notices = w.look("notices")
    returned = next(li for li in w.all("ul.notices li") if f"{lang}-remark" in li.text)
    assert said("request return") in returned.text and who("approver", lang) in returned.text
    assert returned.find_element("tag name", "a").get_attribute("href").endswith(
        f"/requests/{n}")
    assert said("{count} new since you last looked.", count=0) not in notices


# --- The department head (approver)


@pytest.mark.parametrize("lang", LANGS)
def test_approver(served: Served, browser: Any, lang: str) -> None:
    w = walk(served, browser, lang, "approver")
    said = w.said
    back, yes = served.filed[(lang, "head-back")], served.filed[(lang, "head-yes")]
    w.go("/requests")
    queue = w.look("queue")
    pending = int(w.text("nav a[href='/requests'] .count"))
    assert said("{total} found; page {page} of {pages}.", total=pending, page=1,
                pages=1) in queue, queue[:400]
    listed = {a.text for a in w.all("main tbody td:first-child a")}
    assert {said("request {number}", number=back), said("request {number}", number=yes)} \
        <= listed

    _request(w, back)
    page = w.look("request")
    assert f"{said('Verdict')}: {said('valid')}" in page
    assert Decimal(amount(w.text("dd.cost")).replace(",", "")) > 0
    assert who("approver", lang) in w.text("dd.acting")
    w.find("#reject-reason").send_keys(f"先说明接口调用量 {lang}-why")
    w.find("#send-back").click()
    w.button("Reject")
    page = w.look("sent-back")
    assert said("The request is sent back.") in page
    assert _state(w).startswith(said("returned")) and f"{lang}-why" in _life(w)[-1]

    _request(w, yes)
    w.find("#approve-reason").send_keys(f"同意，注意备份 {lang}-ok")
    w.click("//button[@value='approve']")
    page = w.look("approved")
    assert said("Your approval is recorded.") in page
    assert _state(w).startswith(said("waiting")) and said("operator") in _state(w)
    step = _life(w)[-1]
    assert said("one step approved") in step and f"{lang}-ok" in step
    counts = w.all("nav a[href='/requests'] .count")  # none shown when nothing waits
    assert (int(counts[0].text) if counts else 0) == pending - 2
    w.go("/")
    assert said("{count} requests wait for your decision.", count=pending - 2) in \
        w.look("home")


# --- An operator


@pytest.mark.parametrize("lang", LANGS)
def test_operator(served: Served, browser: Any, lang: str) -> None:
    w = walk(served, browser, lang, "operator")
    said = w.said
    quota, report = served.filed[(lang, "quota")], served.filed[(lang, "report")]
    w.go("/requests")
    everything = w.look("queue")
    assert said("request {number}", number=quota) in everything
    w.find("#q").send_keys(f"{lang}-report")
    w.button("Search")
    found = w.look("queue-search")
    assert said("{total} found; page {page} of {pages}.", total=1, page=1, pages=1) in found
    w.click(f"//td/a[contains(@href, '/requests/{report}')]")
    assert said("one step approved") in _life(w)[-1] and f"{lang}-signed" in _life(w)[-1]
    w.click("//button[@value='approve']")
    w.look("server-approved")
    assert _state(w).startswith(said("approved")), _state(w)
    assert w.text("dd.stage") == said("approved: the plan file is changed; it still has to "
                                      "be applied (an operator's apply)")
    _request(w, quota)
    w.find("#approve-reason").send_keys(f"容量够 {lang}-capacity")
    w.click("//button[@value='approve']")
    assert said("Your approval is recorded.") in w.look("quota-approved")
    assert _state(w).startswith(said("approved"))

    w.go("/operations/apply")  # the plan, reconciled with the approved verdicts
    review = w.look("apply-review")
    reconciled = w.text("p.reconciled")
    assert f"#{report}" in reconciled and f"#{quota}" in reconciled, reconciled
    digest = w.text("dd code")
    assert re.fullmatch(r"[0-9a-f]{16,}", digest), digest
    assert f"tj-{lang}-report" in review
    w.button("Apply these changes")
    deadline = time.monotonic() + 120
    while said("running") == w.text("dd.state") and time.monotonic() < deadline:
        time.sleep(1)
        w.go("/operations/apply/progress")
    progress = w.look("apply-done")
    assert w.text("dd.state") == said("ok"), progress[:800]
    apply_id = w.find("main dd").text

    _request(w, report)
    page = w.look("request-live")
    # a server's antivirus and backup are not converged from the portal (govcloud services run)
    assert w.text("dd.stage") == said("applied; its services are not converged yet (govcloud "
                                      "services run)")
    applied = next(e for e in _life(w) if e.startswith(said("applied")))
    assert apply_id in applied, (apply_id, applied)
    assert f"tj-{lang}-report" in page
    link = w.all(f"ol.life a[href='/operations/apply/progress?apply={apply_id}']")
    assert link, "the request's life does not link the apply that carried it"
    follow(w.driver, link[0])
    w.look("apply-of-request")
    assert w.find("main dd").text == apply_id
    assert any(f"tj-{lang}-report" in r.text for r in w.all("main tbody tr"))


# --- A finance officer


def _cookies(w: Walk) -> dict[str, str]:
    return {c["name"]: c["value"] for c in w.driver.get_cookies()}


@pytest.mark.parametrize("lang", LANGS)
def test_finance(served: Served, browser: Any, lang: str) -> None:
    import httpx
    import openpyxl

    w = walk(served, browser, lang, "finance")
    said, month = w.said, CLOSES[lang]
    w.go(f"/finance/chargeback?period={month}")
    page = w.look("chargeback-open")
    assert f"{said('Chargeback')} {month}" in w.text("caption")
    row = next(r for r in w.all("main tbody tr") if r.text.split()[0] == TJ)
    charged = row.find_elements("css selector", "td")[-1].text
    amount(charged)

    w.go("/finance/statements")
    w.look("statements")
    w.click(f"//a[@href='/finance/statements/{month}/close']")
    w.look("close-form")
    w.click("//form[contains(@action, '/close')]//button")
    page = w.look("closed")
    assert said("{period} is closed: its figures are frozen.", period=month) in page
    closed = next(r for r in w.all("main tbody tr") if r.text.startswith(month))
    assert said("closed") in closed.text and who("finance", lang) in closed.text

    w.go(f"/finance/chargeback?period={month}")  # a closed month, in the browser
    w.look("chargeback-closed")
    row = next(r for r in w.all("main tbody tr") if r.text.split()[0] == TJ)
    assert row.find_elements("css selector", "td")[-1].text == charged

    w.go(f"/departments/{TJ}")  # the department's last twelve months
    page = w.look("department")
    bill = next(r for r in w.all("main tr") if r.text.startswith(month))
    assert said("closed") in bill.text and amount(charged) in bill.text
    bars = [t.get_attribute("textContent") for t in w.all("svg.bills g.bar title")]
    billed = [r for r in w.all("main tr") if re.match(r"\d{4}-\d\d \S+ .*\d\.\d\d", r.text)]
    assert f"{month}: {charged}" in bars and len(bars) == len(billed) >= 3, bars
    w.go(f"/departments/{TJ}/statements/{month}.html")  # printable, with the cost centre
    statement = w.look("statement", chinese=False)  # bilingual: 部门 Department, …
    assert not ISO.findall(statement), statement  # its closing time said as a person would
    assert "CC-4610" in statement and "青岛市统计局" in statement and charged in statement

    with httpx.Client(base_url=served.base, cookies=_cookies(w)) as http:
        got = http.get(f"/finance/statements/{month}/chargeback.csv")
        xlsx = http.get(f"/finance/statements/{month}/chargeback.xlsx")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert rows[0][0] == said("department"), rows[0]
    csv_row = next(r for r in rows if r[0] == TJ)
    assert Decimal(csv_row[-1]) == Decimal(charged.replace(",", ""))
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = book[book.sheetnames[0]]
    cells = next(r for r in sheet.iter_rows(values_only=True) if r[0] == TJ)
    assert f"{Decimal(str(cells[-1])):.2f}" == csv_row[-1]


# --- An auditor


@pytest.mark.parametrize("lang", LANGS)
def test_auditor(served: Served, browser: Any, lang: str) -> None:
    import httpx

    w = walk(served, browser, lang, "auditor")
    said = w.said
    n = served.filed[(lang, "returned")]
    w.go("/audit")
    page = w.look("audit")
    assert said("The chain is whole.") in page
    actions = [r.find_elements("css selector", "td")[3].text for r in w.all("main tbody tr")]
    assert said("sign-in") not in actions and said("request new") in actions, actions
    hidden = int(re.search(r"\d+", w.text("nav.pager")).group())  # type: ignore[union-attr]

    w.find("input[name=sign_ins]").click()
    w.button("Search")
    w.look("audit-sign-ins")
    pager = w.text("nav.pager")
    total, pages = (int(x) for x in re.findall(r"\d+", pager)[::2][:2])
    assert total >= hidden + SIGN_INS and pages >= 2, pager
    w.click("//a[@rel='next']")
    assert said("{total} found; page {page} of {pages}.", total=total, page=2,
                pages=pages) in w.look("audit-page-2")

    from selenium.webdriver.support.ui import Select
    w.go("/audit")
    Select(w.find("#action")).select_by_value("request return")
    w.find("#department").send_keys(TJ)
    w.find("#person").send_keys(who("approver", lang))
    w.find("#q").send_keys(f"{lang}-remark")
    w.button("Search")
    found = w.look("audit-filtered")
    assert said("{total} found; page {page} of {pages}.", total=1, page=1, pages=1) in found
    link = w.find("main tbody td a")
    assert link.text == said("Request {number}", number=n)
    csv_href = w.find("nav.pager a[download]").get_attribute("href")
    with httpx.Client(cookies=_cookies(w)) as http:
        got = http.get(csv_href)
    rows = list(csv.reader(io.StringIO(got.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and f"{lang}-remark" in ",".join(rows[1]), rows
    follow(w.driver, link)
    page = w.look("request")
    assert w.url().endswith(f"/departments/{TJ}/requests/{n}")
    assert said("sent back to the requester") in page and f"{lang}-remark" in page
    assert not w.all("#comment-text")  # an auditor reads, and does not take part


# --- Sessions


def _second_session(base: str, name: str) -> Any:
    """Sign ``name`` in once more, as from another device (urllib with its own cookies)."""
    import http.cookiejar
    import urllib.parse
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(f"{base}/login", timeout=30) as r:
        csrf = re.search(r'name="csrf" value="([^"]+)"', r.read().decode()).group(1)  # type: ignore[union-attr]
    data = urllib.parse.urlencode({"name": name, "password": PASSWORD, "csrf": csrf,
                                   "next": "/"}).encode()
    with opener.open(f"{base}/login", data=data, timeout=60) as r:
        assert r.status == 200 and "退出" in r.read().decode()
    return opener


def test_a_person_ends_another_of_their_sessions(served: Served, browser: Any) -> None:
    """#21: a person lists their sessions and ends another of their own (the phone they
    left signed in); that device is signed out at once, this one stays."""
    import urllib.error

    from selenium.webdriver.common.by import By

    base, estate = served.base, served.estate
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]  # the served portal's clock
    try:
        with engine.records(estate) as (_, store):  # sun.cw's sessions of other tests
            for s in sessions.listing(store, "sun.cw"):
                sessions.end_listed(store, s.handle, "test", "sun.cw")
    finally:
        del os.environ["GOVCLOUD_NOW"]
    phone = _second_session(base, "sun.cw")
    browser.set_window_size(1280, 1600)
    sign_in(browser, base, "sun.cw")
    browser.get(f"{base}/sessions")
    rows = browser.find_elements(By.CSS_SELECTOR, "main tbody tr")
    assert len(rows) == 2, browser.page_source[-2000:]
    shot(browser, "7-sessions")
    other = next(r for r in rows if "当前会话" not in r.text)  # the phone's
    follow(browser, other.find_element(By.TAG_NAME, "button"))
    assert browser.current_url.endswith("/sessions")
    assert len(browser.find_elements(By.CSS_SELECTOR, "main tbody tr")) == len(rows) - 1
    assert "当前会话" in browser.page_source  # still signed in here
    try:
        with phone.open(f"{base}/api/me", timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status == 401


@pytest.mark.parametrize(("lang", "width", "signed_out"), [("zh", 1280, "退出"),
                                                          ("en", 390, "Sign out")])
def test_an_idle_session_ends(served: Served, browser: Any, lang: str, width: int,
                              signed_out: str) -> None:
    """#21: a session left without use for 15 minutes ends; one used within them goes on.

    govcloud's one clock is ``GOVCLOUD_NOW``, so the test serves the same estate at three
    moments (a new ``govcloud serve`` each time, the browser keeping its cookie): signed in
    at 12:00, used at 12:14 (still signed in: the use slides the idle end to 12:29), then
    come back at 12:30: sent to the sign-in form, which says why, and the end is an audit
    record ("session end (idle)"). In Chinese on a desktop and in English on a phone."""
    from datetime import datetime, timedelta

    from selenium.webdriver.common.by import By

    from govcloud.clock import stamp

    estate = served.estate
    browser.set_window_size(width, 1600)
    start = datetime.fromisoformat(NOW["GOVCLOUD_NOW"].replace("Z", "+00:00"))

    def at(minutes: int) -> dict[str, str]:
        return _env({"GOVCLOUD_NOW": stamp(start + timedelta(minutes=minutes))})

    log = estate / f"idle-{lang}.log"
    with serving(estate, at(0), log) as base:
        browser.delete_all_cookies()
        browser.get(f"{base}/login?lang={lang}")
        browser.find_element(By.ID, "name").send_keys("li.wei")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        follow(browser, browser.find_element(By.CSS_SELECTOR,
                                             "form.login button[type=submit]"))
        assert signed_out in browser.page_source, browser.page_source[:500]
    with serving(estate, at(14), log) as base:
        browser.get(f"{base}/departments/{TJ}")
        assert signed_out in browser.page_source and "/login" not in browser.current_url
    with serving(estate, at(30), log) as base:
        browser.get(f"{base}/departments/{TJ}")
        assert "/login" in browser.current_url, browser.current_url
        notice = browser.find_element(By.CSS_SELECTOR, "p.notice").text
        assert ("15" in notice and
                ("minutes without use" if lang == "en" else "分钟无操作") in notice), notice
        assert signed_out not in browser.page_source
        shot(browser, f"8-idle-{lang}-{width}", least=(width - 40, 800))
        browser.get(f"{base}/api/me")
        assert "not signed in" in browser.page_source
    with engine.records(estate) as (_, store):
        ends = [e for e in trail.latest(store, 200, "session end (idle)")
                if e.subject == "li.wei"]
    assert ends and ends[0].actor == "portal", ends

