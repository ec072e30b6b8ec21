"""What ``pip install '.[portal]'`` gives is enough for every page the portal serves (issue #23
case 9: every XLSX link failed with "needs openpyxl" when installed as the README says)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from govcloud.portal.routes import ROUTES

REPO = Path(__file__).resolve().parents[2]


def _extra(name: str) -> set[str]:
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    return {re.split(r"[<>=\[ ]", req, maxsplit=1)[0].lower() for req in extras[name]}


def test_the_portal_extra_brings_what_its_xlsx_downloads_need() -> None:
    xlsx_routes = [r.path for r in ROUTES if r.path.endswith(".xlsx")]
    assert xlsx_routes, "the portal serves workbooks"
    missing = _extra("xlsx") - _extra("portal")
    assert not missing, f"{xlsx_routes} need {sorted(missing)}, not in the portal extra"
