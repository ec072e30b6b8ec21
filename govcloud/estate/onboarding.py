"""Onboarding: a new estate (``govcloud init``) and a new department's plan (``govcloud new
department ID``), written from the templates shipped in ``govcloud/templates`` and the pure
skeleton in ``govcloud.core.skeleton``; both validate as written."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from govcloud.core.approvals import APPROVALS_SCHEMA
from govcloud.core.checks import Checked
from govcloud.core.patterns import IDENT
from govcloud.core.policy import POLICY_SCHEMA
from govcloud.core.schema import PLAN_SCHEMA, SETTINGS_SCHEMA
from govcloud.core.skeleton import cost_centre_for, department_plan
from govcloud.errors import GovcloudError
from govcloud.estate.files import write_text
from govcloud.estate.loader import SETTINGS_FILE, check_estate, find_root
from govcloud.finance.pricebook import PRICE_SCHEMA
from govcloud.state.store import never_made, open_store

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Estate file → the template it starts as.
ESTATE_FILES = {SETTINGS_FILE: "govcloud.yaml", "prices.yaml": "prices.yaml",
                "policies/defaults.yaml": "policies.yaml"}
SCHEMAS = {"docs/schema/tenancy-plan.json": PLAN_SCHEMA,
           "docs/schema/estate-settings.json": SETTINGS_SCHEMA,
           "docs/schema/price-book.json": PRICE_SCHEMA,
           "docs/schema/policy.json": POLICY_SCHEMA,
           "docs/schema/approvals.json": APPROVALS_SCHEMA}


def init(dest: Path) -> list[str]:
    """Write a new estate into ``dest`` (missing or empty); return the files written."""
    # A folder just made by `git init` counts as empty: an estate is kept in git.
    if dest.exists() and (not dest.is_dir() or any(p.name != ".git" for p in dest.iterdir())):
        raise GovcloudError(f"{dest} is not an empty folder",
                            "give govcloud init a new or empty folder (a git repository "
                            "with nothing but .git will do)")
    written = []
    try:
        for name, template in ESTATE_FILES.items():
            _write(dest / name, (TEMPLATES / template).read_text(encoding="utf-8"))
            written.append(name)
        for name, schema in SCHEMAS.items():
            _write(dest / name, json.dumps(schema, ensure_ascii=False, indent=2) + "\n")
            written.append(name)
        _write(dest / "plans" / ".keep", "")
        _write(dest / ".gitignore", ".state/\n.state-keys/\n")
        written += ["plans/", ".gitignore"]
    except OSError as exc:
        raise GovcloudError(f"cannot write the estate into {dest}: {exc.strerror}",
                            "choose a folder you can write to") from exc
    return written


@dataclass(frozen=True)
class NewDepartment:
    file: str
    checked: Checked


def new_department(root: Path, department: str) -> NewDepartment:
    """Write the skeleton plan of ``department`` into the estate's plans/ and check it."""
    root = find_root(root)
    if not re.fullmatch(IDENT, department):
        raise GovcloudError(f"'{department}' is not a department id",
                            "use 2-40 lowercase letters, digits and '-', starting with a "
                            "letter, e.g. 'water'")
    name = f"plans/{department}.yaml"
    path = root / name
    if path.exists():
        raise GovcloudError(f"{name} already exists", "edit it, or choose another id")
    before = check_estate(root)
    if before.settings is None:
        raise GovcloudError(f"{SETTINGS_FILE} does not validate, so the plan cannot be "
                            "written from its catalogue", "run govcloud validate and fix it")
    if department in before.plans:
        raise GovcloudError(f"department {department} already has a plan "
                            f"({before.plans[department].file})", "edit that plan")
    left, protected = _applied_of(before, department)
    if left:
        # --prune never deletes a protected resource (nor what it stands on): after a prune
        # those are still there, and pointing at --prune again would go round in circles
        delete = ("delete the department's resources first with govcloud apply --prune"
                  if not protected else
                  f"to delete them, restore it with 'protected: false' on its {protected} "
                  "protected resource(s), apply, then remove it and run govcloud apply "
                  "--prune (--prune never deletes a protected resource)")
        raise GovcloudError(
            f"department {department} has no plan, but the state store holds {left} "
            f"resource(s) govcloud applied for it (was {name} removed?); a new skeleton plan "
            "would replace or delete them at the next apply",
            f"restore its plan (for example: git checkout -- {name}), or {delete}")
    taken = {p.department.cost_centre for p in before.plans.values()}
    text = department_plan(department, before.settings, cost_centre_for(department, taken))
    try:
        _write(path, text)
    except OSError as exc:
        raise GovcloudError(f"cannot write {name}: {exc.strerror}",
                            "check the plans/ folder's permissions") from exc
    return NewDepartment(name, check_estate(root))


def _applied_of(checked: Checked, department: str) -> tuple[int, int]:
    """How many resources the state store records as applied for ``department``, and how
    many of those are protected ((0, 0) when the estate has no store yet: writing a skeleton
    does not make one). A store that was there and is gone (its lock file left behind) is
    refused as every other command refuses it: it cannot say what was applied."""
    settings = checked.settings
    assert settings is not None
    if never_made(settings.state_url, checked.root):
        return 0, 0
    store = open_store(settings.state_url, checked.root, settings.estate, audit=settings.audit)
    try:
        mine = store.applied_of(department)
        return len(mine), sum(1 for r in mine if r.protected)
    finally:
        store.close()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
