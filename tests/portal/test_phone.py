"""#23 case 13: pages that fit a phone. At 390 px every page scrolled sideways (the department
page 512 px wide, the chargeback 866 px), the navigation broke words per character (首/页) and
request links were bare numbers. One headless Chromium, emulating a 390 px phone, walks every
page of the route table (and the verdict page a form leads to) as a role that reaches it, in
Chinese and in English, and checks that ``document.documentElement.scrollWidth`` equals the
viewport: a wide table scrolls inside its own box. Each page's screenshot is kept with the
journeys' (GOVCLOUD_ARTIFACTS, default test-artifacts/portal/)."""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.portal.routes import ROUTES, Route
from govcloud.requests import decisions
from tests.portal.journeys import ARTIFACTS, PASSWORD, follow
from tests.support.cli import NOW, _env, apply_and_collect
from tests.support.estate import copy_estate
from tests.support.portal import chromium, serving

pytestmark = [pytest.mark.real, pytest.mark.chromium]
WIDTH = 390
# Who walks the pages each role reaches: the first of these the route allows.
WALKERS = (("member", "li.wei"), ("operator", "admin"), ("finance", "qian"),
           ("auditor", "shen"), ("approver", "head"))
PARAMS = {"department": "finance", "period": "2026-11"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    estate = apply_and_collect(copy_estate(tmp_path_factory.mktemp("phone") / "estate"),
                               "2026-11")
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]
    try:
        with engine.records(estate) as (est, store):
            for role, name in WALKERS:
                users.add(store, set(est.plans), name, role,
                          "finance" if role in ("member", "approver") else None, PASSWORD,
                          "test")
            # a covering quota request (its page has the longest heading: the trial saw it
            # 400 px wide at 390)
            filed = decisions.submit(est, store, users.find(store, "li.wei"), {
                "kind": "quota", "department": "finance", "reason": "两台报表服务器的配额",
                "quota": {"cores": 64}, "covers": json.dumps({
                    "kind": "servers", "department": "finance", "reason": "两台报表服务器",
                    "server": {"name": "fin-report", "flavor": "c1.xlarge",
                               "image": "debian-12", "count": 2}}, ensure_ascii=False)})
    finally:
        del os.environ["GOVCLOUD_NOW"]
    with serving(estate, _env(NOW), estate / "serve.log") as base:
        yield base, filed.id


def _walker(route: Route) -> str | None:
    return next((name for role, name in WALKERS if role in route.roles), None)


def _pages(number: int) -> dict[str, list[tuple[str, str]]]:
    """Each walker's pages: (name, path) of every page of the route table it reaches."""
    out: dict[str, list[tuple[str, str]]] = {}
    for r in ROUTES:
        if r.method != "GET" or not (r.kind == "page" or r.path.endswith(".html")):
            continue
        walker = _walker(r) if r.roles else ""
        assert walker is not None, f"no walker reaches {r.path}"
        path = r.path.format(**PARAMS, number=number)
        out.setdefault(walker, []).append((r.name, path))
        if r.name == "request_form":
            out[walker].append(("request_form-servers", f"{path}?kind=servers"))
    return out


def _keep(driver: Any, name: str) -> Path:
    """Keep the page's screenshot: the phone's width (its PNG header says), and not blank (a
    blank page's PNG is a few hundred bytes)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"phone-{name}.png"
    png = driver.get_screenshot_as_png()
    path.write_bytes(png)
    width = struct.unpack(">I", png[16:20])[0]
    assert png[12:16] == b"IHDR" and width == WIDTH and len(png) > 8000, (name, width, len(png))
    return path


def _sign_in(driver: Any, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))


def _verdict(driver: Any, base: str) -> None:
    """The verdict of a request refused over quota: the verdict, the diff, the form again."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    form = driver.find_element(By.ID, "request-form")
    form.find_element(By.ID, "s-name").send_keys("fin-wide-report-server")
    Select(form.find_element(By.ID, "s-flavor")).select_by_value("c1.xlarge")
    count = form.find_element(By.ID, "s-count")
    count.clear()
    count.send_keys("3")
    form.find_element(By.TAG_NAME, "textarea").send_keys("三台报表服务器")
    follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def test_every_page_fits_a_phone(served: tuple[str, int]) -> None:
    base, number = served
    started, wide, seen = time.monotonic(), [], 0
    width = "return [document.documentElement.scrollWidth, window.innerWidth]"
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        for walker, pages in _pages(number).items():
            if walker:
                _sign_in(driver, base, walker)
            for lang in ("zh", "en"):
                for name, path in pages:
                    driver.get(f"{base}{path}{'&' if '?' in path else '?'}lang={lang}")
                    if name == "request_form-servers":
                        _verdict(driver, base)
                        name = "request_check"
                    scroll, inner = driver.execute_script(width)
                    seen += 1
                    if scroll != inner or inner != WIDTH:
                        wide.append(f"{path} ({lang}, as {walker or 'nobody'}): {scroll} px "
                                    f"wide in a {inner} px viewport")
                    _keep(driver, f"{lang}-{name}")
    assert seen >= 40, seen
    assert not wide, "pages wider than a phone:\n" + "\n".join(wide)
    print(f"{seen} pages in {time.monotonic() - started:.1f} s")
