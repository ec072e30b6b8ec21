"""The second factor's journeys in a real headless Chromium (selenium) against ``govcloud
serve`` with the example's ``portal.second_factor`` (operators among the roles) and the real
clock: an operator enrols a second factor (the test computes its codes with pyotp from the
secret the page shows) and signs in with it; a stolen password alone signs nobody in — no
page of the portal is reached, the API answers 403. In Chinese and English, at desktop and
phone width; screenshots kept as test_journey's are (``sf-<lang>-<width>-…``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from govcloud.access import second_factor, users
from govcloud.applying import engine
from tests.portal.journeys import PASSWORD, follow, now_found
from tests.portal.journeys import shot as journey_shot
from tests.support.cli import _env
from tests.support.estate import copy_estate
from tests.support.portal import chromium, serving

pytestmark = [pytest.mark.real, pytest.mark.chromium]
VIEWS = [("zh", 1280, 1600), ("en", 1280, 1600), ("zh", 390, 844), ("en", 390, 844)]
SIGN_OUT = {"zh": "退出", "en": "Sign out"}
HEADING = {"zh": "第二认证因素", "en": "Second factor"}
PAGES = ("/", "/estate", "/operations", "/operations/apply", "/users", "/departments",
         "/finance/chargeback", "/sessions", "/requests")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    estate = copy_estate(tmp_path_factory.mktemp("factor-journey") / "estate",
                         second_factor=True)
    with engine.records(estate) as (est, store):
        for lang, width, _ in VIEWS:
            for kind in ("enrols", "stolen"):
                users.add(store, set(est.plans), f"op-{kind}-{lang}-{width}", "operator",
                          None, PASSWORD, "test")
    env = {k: v for k, v in _env(None).items() if k != "GOVCLOUD_NOW"}  # the real clock
    with serving(estate, env, estate / "serve.log") as base:
        yield base, estate


def views(*chosen: int) -> Any:
    """The journey in the chosen VIEWS (each journey takes two, so that between them all
    four language × width pairs are seen and CI's time stays short)."""
    picked = [VIEWS[i] for i in chosen]
    return pytest.mark.parametrize("browser", picked, indirect=True,
                                   ids=[f"{lang}-{w}" for lang, w, _ in picked])


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[tuple[Any, str, str]]:
    lang, width, height = request.param
    with chromium() as driver:
        driver.set_window_size(width, height)
        yield driver, lang, f"sf-{lang}-{width}"


def shot(driver: Any, name: str) -> Path:
    """test_journey's screenshot, at phone width too."""
    return journey_shot(driver, name, least=(300, 600))


def password(driver: Any, base: str, lang: str, name: str) -> None:
    """The sign-in form, in ``lang``, with ``name``'s (right) password."""
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/login?lang={lang}")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))
    assert "/login/second-factor" in driver.current_url, driver.current_url
    assert HEADING[lang] in driver.page_source


def give(driver: Any, code: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, "code").send_keys(code)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))


def signed_in(driver: Any, lang: str) -> bool:
    from selenium.webdriver.common.by import By

    # the URL first: on a sign-in page the header's sign-out form is, rightly, never found,
    # and looking for it spends selenium's implicit wait (5 s) each time
    if "/login" in driver.current_url:
        return False
    return bool(driver.find_elements(By.CSS_SELECTOR, "header form.signout")) and \
        SIGN_OUT[lang] in driver.page_source


@views(0, 3)
def test_an_operator_enrols_a_second_factor_and_signs_in_with_it(
        served: tuple[str, Path], browser: tuple[Any, str, str]) -> None:
    from selenium.webdriver.common.by import By

    base, estate = served
    driver, lang, prefix = browser
    name = f"op-enrols-{prefix[3:]}"
    password(driver, base, lang, name)
    secret = driver.find_element(By.ID, "secret").text
    uri = driver.find_element(By.ID, "otpauth").text
    assert pyotp.parse_uri(uri).secret == secret  # the URI an app scans, and its text
    assert not signed_in(driver, lang)
    shot(driver, f"{prefix}-1-enrol")
    totp = pyotp.TOTP(secret)
    give(driver, totp.now())
    codes = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#recovery-codes code")]
    assert len(codes) == 10 and len(set(codes)) == 10
    shot(driver, f"{prefix}-2-recovery-codes")
    follow(driver, driver.find_element(By.ID, "continue"))
    assert signed_in(driver, lang)

    follow(driver, driver.find_element(By.CSS_SELECTOR, "header form.signout button"))
    password(driver, base, lang, name)
    assert not now_found(driver, By.ID, "secret")  # never shown again
    shot(driver, f"{prefix}-3-code")
    give(driver, totp.at(time.time() + 30))  # the next step: the enrolment's is used
    assert signed_in(driver, lang), driver.page_source[:800]
    driver.get(f"{base}/estate")
    assert signed_in(driver, lang) and driver.current_url.endswith("/estate")
    shot(driver, f"{prefix}-4-signed-in")
    logged = (estate / "serve.log").read_text() + "".join(
        p.read_text() for p in (estate / ".state").glob("govcloud-crash-*"))
    assert secret not in logged and "secret=" not in logged  # never in the log or a crash


@views(1, 2)
def test_a_stolen_password_alone_signs_nobody_in(
        served: tuple[str, Path], browser: tuple[Any, str, str]) -> None:
    from selenium.webdriver.common.by import By

    base, estate = served
    driver, lang, prefix = browser
    name = f"op-stolen-{prefix[3:]}"
    with engine.records(estate) as (_, store):  # the owner enrolled on their phone
        person = users.find(store, name)
        assert person is not None
        if not second_factor.enrolled(store, name):
            secret, _ = second_factor.begin(store, name)
            second_factor.confirm(store, person, pyotp.TOTP(secret).now(), "test")
        totp = pyotp.TOTP(store.query("SELECT secret FROM second_factors WHERE name = ?",
                                      (name,))[0][0])
    password(driver, base, lang, name)  # the thief has the password, not the phone
    assert not now_found(driver, By.ID, "secret")  # and is given no secret to enrol
    for page in PAGES:
        driver.get(f"{base}{page}")
        assert "/login/second-factor" in driver.current_url, (page, driver.current_url)
        assert not signed_in(driver, lang), page
    driver.get(f"{base}/api/me")
    answer = json.loads(driver.find_element(By.TAG_NAME, "body").text)
    assert answer["code"] == "second_factor_required" and "name" not in answer
    driver.get(f"{base}/login/second-factor")
    near = {totp.at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    give(driver, next(c for c in ("000000", "111111", "222222") if c not in near))  # a guess
    assert "/login/second-factor" in driver.current_url and not signed_in(driver, lang)
    assert driver.find_elements(By.CSS_SELECTOR, "p.error[role=alert]")
    shot(driver, f"{prefix}-5-stolen-password-refused")
    driver.get(f"{base}/estate")
    assert "/login/second-factor" in driver.current_url and not signed_in(driver, lang)
