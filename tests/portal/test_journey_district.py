"""A district's operator in a real headless Chromium (#25): the example directory synced into
the example estate, a person of 市南区 (shinan) in the directory group
``govcloud-org-operators`` signs in with their directory password, sees only the district's
departments, approves a request of one of them and reads the district's chargeback. Against
``govcloud serve`` and the suite's slapd."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from govcloud.access import users
from govcloud.applying import engine
from tests.portal.journeys import follow, shot
from tests.support.cli import NOW, _env, apply_and_collect, govcloud
from tests.support.directory import (
    PEOPLE_PASSWORD,
    SERVICE_PASSWORD,
    SUFFIX,
    Slapd,
    admin,
    point_at,
)
from tests.support.estate import copy_estate
from tests.support.portal import chromium, serving

pytestmark = [pytest.mark.real, pytest.mark.chromium, pytest.mark.slapd]
ENV = {"GOVCLOUD_DIRECTORY_PASSWORD": SERVICE_PASSWORD}
PERSON = f"uid=zhou.qiang,ou=people,{SUFFIX}"
GROUP = f"cn=govcloud-org-operators,ou=groups,{SUFFIX}"


@pytest.fixture(scope="module")
def district_operator(slapd: Slapd) -> Iterator[str]:
    """周强, an operator of 市南区 in the directory (removed afterwards)."""
    with admin(slapd) as conn:
        conn.add(PERSON, ["inetOrgPerson"], {"uid": "zhou.qiang", "cn": "周强", "sn": "周",
                                             "departmentNumber": "shinan",
                                             "userPassword": PEOPLE_PASSWORD})
        conn.add(GROUP, ["groupOfNames"], {"cn": "govcloud-org-operators",
                                           "member": [PERSON]})
    try:
        yield "zhou.qiang"
    finally:
        with admin(slapd) as conn:
            conn.delete(GROUP)
            conn.delete(PERSON)


@pytest.fixture(scope="module")
def served(slapd: Slapd, district_operator: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    estate = point_at(copy_estate(tmp_path_factory.mktemp("district") / "estate"), slapd)
    done = govcloud("directory", "sync", "--yes", estate=estate, env={**NOW, **ENV})
    assert done.returncode == 0, done.stdout + done.stderr
    apply_and_collect(estate, "2026-11")
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]
    try:
        with engine.records(estate) as (est, store):
            from govcloud.requests import decisions

            users.add(store, set(est.plans), "edu.staff", "member", "shinan-edu",
                      "correct horse battery", "test")
            filed = decisions.submit(est, store, users.find(store, "edu.staff"), {
                "kind": "quota", "department": "shinan-edu", "reason": "district journey",
                "quota": {"cores": est.plans["shinan-edu"].quota.cores + 8}})
            assert filed.waiting_for() == "operator"
    finally:
        del os.environ["GOVCLOUD_NOW"]
    with serving(estate, _env({**NOW, **ENV}), estate / "serve.log") as base:
        yield base, filed.id


def test_a_district_operator_sees_approves_and_reads_only_the_district(
        served: tuple[str, int], district_operator: str) -> None:
    from selenium.webdriver.common.by import By

    base, number = served
    with chromium() as browser:
        browser.get(f"{base}/login")
        browser.find_element(By.ID, "name").send_keys(district_operator)
        browser.find_element(By.ID, "password").send_keys(PEOPLE_PASSWORD)
        follow(browser, browser.find_element(By.CSS_SELECTOR,
                                             "form.login button[type=submit]"))
        assert "退出" in browser.page_source, browser.page_source[:500]

        browser.get(f"{base}/departments")
        shown = {a.get_attribute("href").rsplit("/", 1)[-1] for a in browser.find_elements(
            By.XPATH, "//main//a[starts-with(@href, '/departments/')]")}
        assert shown == {"shinan-edu", "shinan-health"}, shown
        shot(browser, "district-1-departments")
        browser.get(f"{base}/departments/laoshan-edu")
        assert "崂山区教育局" not in browser.page_source

        browser.get(f"{base}/requests")
        follow(browser, browser.find_element(
            By.XPATH, f"//td/a[@href='/departments/shinan-edu/requests/{number}']"))
        follow(browser, browser.find_element(By.XPATH, "//button[@value='approve']"))
        assert browser.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("已批准")
        shot(browser, "district-2-approved")

        browser.get(f"{base}/finance/chargeback")
        page = browser.page_source
        assert "shinan-edu" in page and "shinan-health" in page
        assert "laoshan-edu" not in page and "/departments/finance" not in page
        assert "（本辖区）" in page  # the district's own total row
        shot(browser, "district-3-chargeback")
