"""axe-core (Deque's accessibility engine, the rules most accessibility audits run) on every
page kind of the portal's route table, in Chinese and in English, in a real headless Chromium
against ``govcloud serve``: no serious or critical violation (#23). Each page is opened by
the first role that may see it (as test_page_language does), plus the sign-in page. axe-core
is installed by .ci/install-reports (npm, pinned) and its script is injected by selenium;
under CI a missing axe-core fails the test."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.access import users
from govcloud.applying import engine
from govcloud.core.roles import DEPARTMENT_ROLES, ROLES
from govcloud.portal.routes import ROUTES
from govcloud.requests import decisions
from tests.portal.journeys import PASSWORD, follow
from tests.support.cli import NOW, _env, apply_and_collect
from tests.support.components import unavailable
from tests.support.estate import copy_estate
from tests.support.portal import chromium, serving
from tests.support.pyramid import require

pytestmark = [pytest.mark.real, pytest.mark.chromium]
AXE = Path(os.environ.get("GOVCLOUD_AXE_DIR", "/opt/govcloud-axe")) / \
    "node_modules/axe-core/axe.min.js"
OWN, PERIOD = "finance", "2026-11"
LOOKERS = ("member", "approver", "finance", "operator", "auditor")
SERIOUS = ("serious", "critical")


def _axe_script() -> str:
    require("chromium")
    if not AXE.exists():
        unavailable(f"axe-core is not installed at {AXE} (run .ci/install-reports)")
    return AXE.read_text()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The example estate applied, one account per role, one request waiting; served."""
    estate = apply_and_collect(copy_estate(tmp_path_factory.mktemp("axe") / "estate"),
                               PERIOD)
    os.environ["GOVCLOUD_NOW"] = NOW["GOVCLOUD_NOW"]
    try:
        with engine.records(estate) as (est, store):
            for role in ROLES:
                users.add(store, set(est.plans), f"{role}.one", role,
                          OWN if role in DEPARTMENT_ROLES else None, PASSWORD, "test")
            number = decisions.submit(est, store, users.find(store, "member.one"), {
                "kind": "quota", "department": OWN, "reason": "more cores for the census",
                "quota": {"cores": est.plans[OWN].quota.cores + 8}}).id
    finally:
        del os.environ["GOVCLOUD_NOW"]
    with serving(estate, _env(NOW), estate / "serve.log") as base:
        yield base, number


def pages_by_role(number: int) -> dict[str, list[str]]:
    """Each page kind's path, under the first role of LOOKERS that may open it."""
    out: dict[str, list[str]] = {role: [] for role in LOOKERS}
    for route in ROUTES:
        if route.kind != "page" or route.public or route.name == "second_factor_form":
            continue
        role = next(r for r in LOOKERS if r in route.roles)
        out[role].append(route.path.format(department=OWN, number=number, period=PERIOD,
                                           handle="x"))
    return out


def violations(driver: Any, script: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page loaded in ``driver``."""
    driver.execute_script(script)
    driver.set_script_timeout(60)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)),"
        " e => done(JSON.stringify([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: []}])));")
    return [v for v in json.loads(result) if v.get("impact") in SERIOUS]


def _describe(found: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for page, vs in found.items():
        for v in vs:
            targets = [n.get("target") for n in v.get("nodes", [])[:3]]
            lines.append(f"{page}: {v['impact']} {v['id']} — {v['help']} at {targets}")
    return "\n".join(lines)


def sign_in(driver: Any, base: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.delete_all_cookies()
    driver.get(f"{base}/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]"))


BROKEN = ("data:text/html,<html><body><img src='x.png'><input type=text></body></html>")


def test_no_serious_or_critical_violation_on_any_page_kind(served: tuple[str, int]) -> None:
    script = _axe_script()
    base, number = served
    found: dict[str, list[dict[str, Any]]] = {}
    seen = 0
    with chromium() as driver:
        driver.get(BROKEN)  # axe-core runs and sees: an image without alt, a field unlabelled
        assert {"image-alt", "label"} <= {v["id"] for v in violations(driver, script)}
        for lang in ("zh", "en"):
            driver.get(f"{base}/login?lang={lang}")
            found[f"/login [{lang}]"] = violations(driver, script)
        for role, paths in pages_by_role(number).items():
            sign_in(driver, base, f"{role}.one")
            for path in paths:
                for lang in ("zh", "en"):
                    driver.get(f"{base}{path}?lang={lang}")
                    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in driver.page_source
                    found[f"{path} [{lang}] ({role})"] = violations(driver, script)
                    seen += 1
    pages = [r for r in ROUTES if r.kind == "page" and not r.public]
    assert seen == 2 * (len(pages) - 1)  # every page kind but the second factor's, twice
    found = {page: vs for page, vs in found.items() if vs}
    assert not found, f"axe-core:\n{_describe(found)}"
