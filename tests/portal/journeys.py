"""What the portal's selenium journeys share: the screenshot kept as a CI artifact
(GOVCLOUD_ARTIFACTS, default test-artifacts/portal/; .ci/run and the README say where), a
click that waits for the page it leads to, signing in, a request asked for through the
forms and a step approved from the queue, and ``Walk``: one person's journey in one
language, which looks at each page at 1366 px and at 390 px (no page wider than a phone's
viewport), keeps a screenshot of each width and, in Chinese, checks that the page shows no
untranslated English word and no raw ISO timestamp (tests/portal/test_page_language.py's
checker)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.portal.i18n import Translator
from tests.portal.test_page_language import assert_chinese
from tests.support.chromium import png_pixels
from tests.support.estate import REPO

PASSWORD = "correct horse battery"
ARTIFACTS = Path(os.environ.get("GOVCLOUD_ARTIFACTS", REPO / "test-artifacts")) / "portal"
WIDTHS = (1366, 390)  # a desktop, a phone
HEIGHT = 900
SIGN_OUT = {"zh": "退出", "en": "Sign out"}
# The elements that reach past the viewport's right edge (the innermost first), to say which
WIDE = """const fits = document.documentElement.clientWidth;
return [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > fits + 0.5 &&
               !(e.parentElement && e.parentElement.closest('table')))
  .reverse().slice(0, 3)
  .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') + ' ' +
       Math.round(e.getBoundingClientRect().right) + 'px: ' +
       (e.textContent || '').trim().slice(0, 60)).join('; ')"""


def shot(driver: Any, name: str, least: tuple[int, int] = (1000, 800)) -> Path:
    """Save a screenshot as an artifact and check that it shows something (and is at least
    ``least`` pixels wide and high)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    width, height, rows = png_pixels(path.read_bytes())
    assert width >= least[0] and height >= least[1], (name, width, height)
    colours = {row[i:i + 3] for row in rows[::40] for i in range(0, len(row), 3 * 7)}
    dark = sum(1 for row in rows[::20] for i in range(0, len(row), 12)
               if sum(row[i:i + 3]) < 200)
    assert len(colours) >= 4 and dark > 50, f"{name}: the screenshot looks blank"
    return path


def keep(driver: Any, name: str, width: int) -> Path:
    """Keep the viewport's screenshot as an artifact: ``width`` pixels wide (its PNG header
    says), and not blank (a blank page's PNG is a few kilobytes; a page's, tens). Cheaper than
    ``shot``, which decodes every pixel (2 s a desktop screenshot on a busy machine)."""
    import struct

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    png = driver.get_screenshot_as_png()
    path.write_bytes(png)
    shown = struct.unpack(">I", png[16:20])[0]
    assert png[12:16] == b"IHDR" and shown == width and len(png) > 8000, \
        f"{name}: {shown} px wide (not {width}), or blank ({len(png)} bytes)"
    return path


def now_found(driver: Any, by: str, value: str) -> list[Any]:
    """The elements of the loaded page that match, without selenium's implicit wait (which
    spends its 5 s on every element that is, rightly, not there)."""
    driver.implicitly_wait(0)
    try:
        return list(driver.find_elements(by, value))
    finally:
        driver.implicitly_wait(5)


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


def sign_in(driver: Any, base: str, name: str, lang: str = "zh") -> None:
    """Sign ``name`` in through the sign-in form, in ``lang`` (the choice is kept in a
    cookie, so the pages after it are in that language too)."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/login?lang={lang}")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))
    assert SIGN_OUT[lang] in driver.page_source, driver.page_source[:500]


def ask(driver: Any, base: str, kind: str, fields: dict[str, str], reason: str,
        name: str, department: str = "finance") -> str:
    """Fill the form of ``kind``, check it, look at the verdict and file it (in Chinese);
    the verdict's monthly cost."""
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/departments/{department}/requests/new")  # the kinds first
    follow(driver, driver.find_element(By.XPATH, f"//a[contains(@href, '?kind={kind}')]"))
    fill(driver, fields, reason)
    assert "审核结果: 有效" in driver.page_source, driver.page_source[-3000:]
    cost = driver.find_element(By.CSS_SELECTOR, "dd.cost").text
    shot(driver, f"{name}-verdict")
    follow(driver, driver.find_element(By.XPATH, "//button[contains(., '提交申请')]"))
    return str(cost)


def fill(driver: Any, fields: dict[str, str], reason: str) -> None:
    """Fill the request form's ``fields`` (by id; a select by its value, whose label is
    translated) and its reason, and check it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    form = driver.find_element(By.ID, "request-form")
    for field_id, value in fields.items():
        element = form.find_element(By.ID, field_id)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    area = form.find_element(By.TAG_NAME, "textarea")
    area.clear()
    area.send_keys(reason)
    follow(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))


def approve_next(driver: Any, base: str, who: str, department: str = "finance") -> str:
    """``who`` signs in, opens the first of ``department``'s requests in their queue and
    approves the step it waits for: the state it is in then."""
    from selenium.webdriver.common.by import By

    sign_in(driver, base, who)
    driver.get(f"{base}/requests")
    follow(driver, driver.find_element(By.XPATH, "//td/a[starts-with(@href, "
                                                 f"'/departments/{department}/requests/')]"))
    follow(driver, driver.find_element(By.XPATH, "//button[@value='approve']"))
    return str(driver.find_element(By.CSS_SELECTOR, "dd.state").text)


@dataclass
class Walk:
    """One person's journey through the portal in one language: ``look`` at each page at
    both widths, ``said`` for what the page says in that language (the catalogue's text:
    a message left untranslated in Chinese is caught by the Chinese page check)."""

    driver: Any
    base: str
    lang: str
    person: str  # the journey's name in the screenshots' names: member, approver…
    allowed: set[str]  # words the Chinese page check lets through (the estate's names)
    steps: int = 0
    t: Translator = field(init=False)

    def __post_init__(self) -> None:
        self.t = Translator(self.lang)

    def said(self, text: str, **values: object) -> str:
        return self.t(text, **values)

    def sign_in(self, name: str) -> None:
        self.driver.set_window_size(WIDTHS[0], HEIGHT)
        sign_in(self.driver, self.base, name, self.lang)

    def go(self, path: str) -> None:
        self.driver.get(f"{self.base}{path}")

    def click(self, xpath: str) -> None:
        from selenium.webdriver.common.by import By

        follow(self.driver, self.driver.find_element(By.XPATH, xpath))

    def button(self, text: str) -> None:
        """Press the button that reads ``text`` (the catalogue's, in this language)."""
        self.click(f"//button[normalize-space(.)={_literal(self.said(text))}]")

    def find(self, css: str) -> Any:
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[Any]:
        """The loaded page's elements that match (none: at once, no implicit wait)."""
        from selenium.webdriver.common.by import By

        return now_found(self.driver, By.CSS_SELECTOR, css)

    def text(self, css: str = "main") -> str:
        return str(self.find(css).text)

    def url(self) -> str:
        return str(self.driver.current_url)

    def look(self, step: str, chinese: bool = True) -> str:
        """The page at 1366 px and at 390 px: at 390 nothing is wider than the viewport;
        a screenshot of each (journey-<person>-<lang>-<width>-<NN>-<step>.png); in Chinese,
        no English word and no raw ISO timestamp. The main text the person reads."""
        self.steps += 1
        where = f"{self.person} ({self.lang}) step {self.steps} '{step}' at {self.url()}"
        for width in WIDTHS:
            self.driver.set_window_size(width, HEIGHT)
            # the viewport less its vertical scroll bar (a desktop Chromium's takes 15 px of a
            # long page; a phone's overlays): what the page must fit into
            scroll, fits, inner = self.driver.execute_script(
                "const e = document.documentElement;"
                "return [e.scrollWidth, e.clientWidth, window.innerWidth]")
            keep(self.driver, f"journey-{self.person}-{self.lang}-{width}-{self.steps:02d}-"
                              f"{step}", width)
            if width < 1000:
                assert inner == width, f"{where}: the viewport is {inner} px, not {width}"
                assert scroll == fits, f"{where}: {scroll} px wide in a {fits} px viewport " \
                                       f"({self.driver.execute_script(WIDE)})"
        self.driver.set_window_size(WIDTHS[0], HEIGHT)
        if self.lang == "zh" and chinese:
            assert_chinese(self.driver.page_source, self.allowed, where)
        return str((self.all("main") or self.all("body"))[0].text)  # a statement has no main


def _literal(text: str) -> str:
    """``text`` as an XPath string literal."""
    return f'"{text}"' if '"' not in text else "'" + text + "'"


def amount(text: str) -> str:
    """The one amount (1,234.56) in ``text``, checked to be written as the portal writes
    amounts: thousands separated, to the fen."""
    found = re.findall(r"-?\d{1,3}(?:,\d{3})*\.\d\d", text)
    assert len(found) == 1, f"not one amount in {text!r}: {found}"
    return found[0]
