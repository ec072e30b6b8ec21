"""The portal's journeys in a real headless Chromium driven by selenium (Debian's chromium and
chromium-driver), against ``govcloud serve`` (uvicorn) on an applied sim estate: a department
member signs in, asks for a PHP website and two more servers and sees each verdict and its
cost; an operator approves; the estate is applied; the member sees the new site, the new
servers and the higher bill; finance downloads the month's workbook, whose totals equal the
JSON report's to the fen. Screenshots are kept (GOVCLOUD_ARTIFACTS, default
test-artifacts/portal/) and checked not to be blank."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.portal import sessions
from tests.support.chromium import png_pixels
from tests.support.cli import NOW, _env, apply_and_collect, govcloud
from tests.support.estate import REPO, copy_estate
from tests.support.portal import chromium, serving

pytestmark = [pytest.mark.real, pytest.mark.chromium]
PASSWORD = "correct horse battery"
ARTIFACTS = Path(os.environ.get("GOVCLOUD_ARTIFACTS", REPO / "test-artifacts")) / "portal"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    estate = apply_and_collect(copy_estate(tmp_path_factory.mktemp("journey") / "estate"),
                               "2026-11")
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]
    try:
        with engine.records(estate) as (est, store):
            for name, role, dep in (("li.wei", "member", "finance"),
                                    ("zhou.head", "approver", "finance"),
                                    ("admin", "operator", None), ("qian", "finance", None)):
                users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    finally:
        del os.environ["GOVCLOUD_NOW"]
    with serving(estate, _env(NOW), estate / "serve.log") as base:
        yield base, estate


@pytest.fixture
def browser() -> Iterator[Any]:
    with chromium() as driver:
        yield driver


def shot(driver: Any, name: str, least: tuple[int, int] = (1000, 800)) -> Path:
    """Save a screenshot as an artifact and check that it shows something (and is at least
    ``least`` pixels wide and high)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    width, height, rows = png_pixels(path.read_bytes())
    assert width >= least[0] and height >= least[1]
    colours = {row[i:i + 3] for row in rows[::40] for i in range(0, len(row), 3 * 7)}
    dark = sum(1 for row in rows[::20] for i in range(0, len(row), 12)
               if sum(row[i:i + 3]) < 200)
    assert len(colours) >= 4 and dark > 50, f"{name}: the screenshot looks blank"
    return path


def follow(driver: Any, element: Any) -> None:
    """Click ``element`` and wait for the page it leads to: a click returns before the new
    page has loaded (a sign-in's argon2 check takes a while on a busy machine), so reading the
    page at once can read the old one. The old page is gone once its root element is stale,
    or Chromium says its node "does not belong to the document"."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def gone(_: Any) -> bool:
        try:
            old.is_enabled()
        except WebDriverException:  # stale, or no longer in the document
            return True
        return False

    WebDriverWait(driver, 60).until(gone)


def sign_in(driver: Any, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))
    assert "退出" in driver.page_source, driver.page_source[:500]


def ask(driver: Any, base: str, kind: str, fields: dict[str, str], reason: str,
        name: str) -> str:
    """Fill the form of ``kind``, check it, look at the verdict and file it; the verdict's
    monthly cost."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.get(f"{base}/departments/finance/requests/new")  # the kinds first, then one form
    follow(driver, driver.find_element(By.XPATH, f"//a[contains(@href, '?kind={kind}')]"))
    form = driver.find_element(By.ID, "request-form")
    for field_id, value in fields.items():
        element = form.find_element(By.ID, field_id)
        if element.tag_name == "select":
            Select(element).select_by_value(value)  # the label is translated
        else:
            element.clear()
            element.send_keys(value)
    form.find_element(By.TAG_NAME, "textarea").send_keys(reason)
    follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "审核结果: 有效" in driver.page_source, driver.page_source[-3000:]
    cost = driver.find_element(By.CSS_SELECTOR, "dd.cost").text
    shot(driver, f"{name}-verdict")
    follow(driver, driver.find_element(By.XPATH, "//button[contains(., '提交申请')]"))
    return cost


def approve_next(driver: Any, base: str, who: str) -> str:
    """``who`` signs in, opens the first of the finance department's requests in their
    queue and approves the step it waits for: the state it is in then."""
    from selenium.webdriver.common.by import By

    sign_in(driver, base, who)
    driver.get(f"{base}/requests")
    follow(driver, driver.find_element(By.XPATH, "//td/a[starts-with(@href, "
                                                 "'/departments/finance/requests/')]"))
    follow(driver, driver.find_element(By.XPATH, "//button[@value='approve']"))
    return str(driver.find_element(By.CSS_SELECTOR, "dd.state").text)


def _bill(driver: Any) -> Decimal:
    from selenium.webdriver.common.by import By

    return Decimal(driver.find_element(By.CSS_SELECTOR, "td.total").text.replace(",", ""))


def test_member_operator_and_finance_journeys(served: tuple[str, Path], browser: Any) -> None:
    from selenium.webdriver.common.by import By

    base, estate = served
    sign_in(browser, base, "li.wei")
    browser.get(f"{base}/departments/finance")
    before = _bill(browser)
    shot(browser, "1-member-department-before")

    cost = ask(browser, base, "website", {"w-domain": "czj-web.qingdao.gov.cn",
                                          "w-kind": "php"}, "新的财政公开网站", "2-website")
    assert re.match(r"\d{1,3}(,\d{3})*\.\d\d 元/月", cost), cost
    state = browser.find_element(By.CSS_SELECTOR, "dd.state").text
    assert state.startswith("已批准"), state  # small, inside quota: approved at once
    cost = ask(browser, base, "servers", {"s-name": "fin-report", "s-flavor": "m1.large",
                                          "s-image": "kylin-v10-sp3", "s-count": "2"},
               "两台报表服务器", "3-servers")
    assert Decimal(cost.split()[0].replace(",", "")) > 500
    assert browser.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("待审批")
    shot(browser, "4-member-request-waiting")

    # the example's rules: the department head signs new servers, then an operator
    assert approve_next(browser, base, "zhou.head").startswith("待审批")
    shot(browser, "5-head-approved")
    assert approve_next(browser, base, "admin").startswith("已批准")
    shot(browser, "6-operator-approved")
    plan = (estate / "plans" / "finance.yaml").read_text()
    assert "name: fin-report" in plan and "czj-web.qingdao.gov.cn" in plan

    govcloud("apply", "--yes", "--no-services", estate=estate, env=NOW, check=True)
    govcloud("usage", "collect", "--period", "2026-11", estate=estate, env=NOW, check=True)

    sign_in(browser, base, "li.wei")
    browser.get(f"{base}/departments/finance")
    page = browser.page_source
    assert "fin-report-2" in page
    row = browser.find_element(By.XPATH, "//tr[td='czj-web.qingdao.gov.cn']").text
    # applied with --no-services: not shown live before its playbooks ran (#23 case 4)
    assert row.endswith("否"), row
    after = _bill(browser)
    assert after > before, (before, after)
    shot(browser, "7-member-department-after")

    sign_in(browser, base, "qian")
    browser.get(f"{base}/finance/chargeback")
    shot(browser, "8-finance-chargeback")
    import httpx
    import openpyxl

    cookies = {c["name"]: c["value"] for c in browser.get_cookies()}
    with httpx.Client(base_url=base, cookies=cookies) as http:
        data = http.get("/api/finance/chargeback").json()
        xlsx = http.get("/finance/chargeback.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    from govcloud.reports.tables import TITLES, title_in

    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["费用分摊"]  # in Chinese
    rows = list(sheet.iter_rows(values_only=True))
    code = {title_in(c, True): c for c in TITLES}
    header = [code.get(h, h) for h in rows[0]]
    book = {str(r[0]): dict(zip(header, r, strict=True)) for r in rows[1:]}
    for d in data["departments"]:
        assert f"{book[d['department']]['total']:.2f}" == d["total"], d["department"]
    assert f"{book['（合计）']['total']:.2f}" == data["platform_cost"]
    assert f"{book['（闲置）']['total']:.2f}" == data["idle"]
    finance = next(d for d in data["departments"] if d["department"] == "finance")
    assert Decimal(finance["total"]) == after  # the bill the member saw


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


def test_a_person_ends_another_of_their_sessions(served: tuple[str, Path],
                                                 browser: Any) -> None:
    """#21: a person lists their sessions and ends another of their own (the phone they
    left signed in); that device is signed out at once, this one stays."""
    import urllib.error

    from selenium.webdriver.common.by import By

    base, estate = served
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]  # the served portal's clock
    try:
        with engine.records(estate) as (_, store):  # qian's sessions of the other journeys
            for s in sessions.listing(store, "qian"):
                sessions.end_listed(store, s.handle, "test", "qian")
    finally:
        del os.environ["GOVCLOUD_NOW"]
    phone = _second_session(base, "qian")
    sign_in(browser, base, "qian")
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
def test_an_idle_session_ends(served: tuple[str, Path], browser: Any, lang: str, width: int,
                              signed_out: str) -> None:
    """#21: a session left without use for 15 minutes ends; one used within them goes on.

    govcloud's one clock is ``GOVCLOUD_NOW``, so the test serves the same estate at three
    moments (a new ``govcloud serve`` each time, the browser keeping its cookie): signed in
    at 12:00, used at 12:14 (still signed in: the use slides the idle end to 12:29), then
    come back at 12:30: sent to the sign-in form, which says why, and the end is an audit
    record ("session end (idle)"). In Chinese on a desktop and in English on a phone."""
    from datetime import datetime, timedelta

    from selenium.webdriver.common.by import By

    from govcloud.audit import trail
    from govcloud.clock import stamp

    _, estate = served
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
        browser.get(f"{base}/departments/finance")
        assert signed_out in browser.page_source and "/login" not in browser.current_url
    with serving(estate, at(30), log) as base:
        browser.get(f"{base}/departments/finance")
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
