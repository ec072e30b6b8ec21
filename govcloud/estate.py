"""Loading an estate folder and checking all of it at once: schema, references, policy.

An estate is a folder with ``govcloud.yaml`` (settings), ``plans/`` (one tenancy plan per
department), ``policies/`` and ``inventories/``.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.documents import Document, load
from govcloud.errors import Diagnostic, GovcloudError, ValidationFailed
from govcloud.model import (
    Estate,
    Settings,
    TenancyPlan,
    plan_from,
    replica_names,
    settings_from,
)
from govcloud.policy import PolicyEngine, load_rules
from govcloud.schema import PLAN_SCHEMA, SETTINGS_SCHEMA, check, with_defaults

SETTINGS_FILE = "govcloud.yaml"


@dataclass
class Checked:
    """The outcome of checking an estate: the model where it could be built, and findings."""

    root: Path
    settings: Settings | None = None
    plans: dict[str, TenancyPlan] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def estate(self) -> Estate:
        """The estate, or ValidationFailed with every error."""
        if self.errors or self.settings is None:
            raise ValidationFailed(diagnostics=self.diagnostics)
        return Estate(self.root, self.settings, self.plans)


def find_root(start: Path) -> Path:
    """The estate folder: ``start`` itself if it holds govcloud.yaml."""
    if (start / SETTINGS_FILE).is_file():
        return start
    raise GovcloudError(f"{start} is not an estate: it has no {SETTINGS_FILE}",
                        "run govcloud in the estate folder or pass --estate PATH")


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (plans parsed
    into plain dicts and frozen dataclasses): its passes over millions of new objects find
    nothing to free and cost a quarter of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def check_estate(root: Path, extra_plans: list[Path] | None = None,
                 policies: bool = True) -> Checked:
    """Check every file of the estate and collect every problem."""
    with quiet_gc():
        return _check_estate(root, extra_plans, policies)


def _check_estate(root: Path, extra_plans: list[Path] | None, policies: bool) -> Checked:
    out = Checked(root)
    out.settings = _settings(root, out)
    plan_files = sorted([*root.joinpath("plans").glob("*.yaml"),
                         *root.joinpath("plans").glob("*.yml")])
    plan_files += extra_plans or []
    if not plan_files:
        out.diagnostics.append(Diagnostic("plans/", 0, "", "no tenancy plans found",
                                          "add one YAML file per department under plans/"))
    engine = None
    if policies:
        rules, problems = load_rules(root / "policies", root)
        out.diagnostics += problems
        engine = PolicyEngine(rules, out.settings)
    owners: dict[str, dict[str, tuple[str, int]]] = {"department": {}, "server": {},
                                                     "domain": {}, "cost centre": {}}
    for path in plan_files:
        out.files += 1
        name = _display(path, root)
        doc, diags = load(path, name)
        out.diagnostics += diags
        if doc is None:
            continue
        found = check(doc, PLAN_SCHEMA)
        out.diagnostics += found
        if found or diags:
            continue
        data = with_defaults(doc.data, PLAN_SCHEMA)
        before = len(out.diagnostics)
        _unique(doc, data, owners, out.diagnostics)
        if out.settings is not None:
            _references(doc, data, out.settings, out.diagnostics)
        if engine is not None:
            out.diagnostics += engine.evaluate(doc, data)
        if not any(d.severity == "error" for d in out.diagnostics[before:]):
            plan = plan_from(data, name)
            out.plans.setdefault(plan.id, plan)
    out.diagnostics.sort(key=lambda d: (d.file, d.line, d.path))
    return out


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _settings(root: Path, out: Checked) -> Settings | None:
    doc, diags = load(root / SETTINGS_FILE, SETTINGS_FILE)
    out.diagnostics += diags
    if doc is None:
        return None
    found = check(doc, SETTINGS_SCHEMA)
    out.diagnostics += found
    if found:
        return None
    data = with_defaults(doc.data, SETTINGS_SCHEMA)
    problems: list[Diagnostic] = []
    classes = {c["name"] for c in data["host_pool"]["classes"]}
    for zone, counts in data["host_pool"]["hosts"].items():
        for cls in counts:
            if cls not in classes:
                problems.append(doc.diag(("host_pool", "hosts", zone, cls),
                                         f"unknown host class '{cls}'",
                                         _suggest(cls, classes, "host_pool.classes")))
    for kind in ("flavors", "images"):
        seen: set[str] = set()
        for i, item in enumerate(data["catalogue"][kind]):
            if item["name"] in seen:
                problems.append(doc.diag(("catalogue", kind, i, "name"),
                                         f"duplicate {kind[:-1]} '{item['name']}'",
                                         "give each entry its own name"))
            seen.add(item["name"])
    out.diagnostics += problems
    return None if problems else settings_from(data, SETTINGS_FILE)


def _suggest(value: str, choices: Any, where: str) -> str:
    close = difflib.get_close_matches(value, list(choices), 1, 0.5)
    listed = ", ".join(sorted(choices)[:12])
    prefix = f"did you mean '{close[0]}'? " if close else ""
    return f"{prefix}use one of {where}: {listed}"


def _unique(doc: Document, data: dict[str, Any], owners: dict[str, dict[str, tuple[str, int]]],
            out: list[Diagnostic]) -> None:
    def claim(kind: str, value: str, path: tuple[Any, ...], fix: str) -> None:
        line = doc.line(path)
        if value in owners[kind]:
            file, first = owners[kind][value]
            out.append(doc.diag(path, f"duplicate {kind} '{value}' (also in {file}:{first})",
                                fix))
        else:
            owners[kind][value] = (doc.file, line)

    claim("department", data["department"]["id"], ("department", "id"),
          "each department needs its own id; rename one")
    claim("cost centre", data["department"]["cost_centre"], ("department", "cost_centre"),
          "finance charges each cost centre to one department; correct one of them")
    for i, s in enumerate(data["servers"]):
        for name in replica_names(s["name"], s["count"]):
            claim("server", name, ("servers", i, "name"),
                  "server names are host names and must be unique in the estate; rename one")
    for i, w in enumerate(data["websites"]):
        claim("domain", w["domain"], ("websites", i, "domain"),
              "one domain is served by one department; remove or rename one")


def _references(doc: Document, data: dict[str, Any], settings: Settings,
                out: list[Diagnostic]) -> None:
    for i, w in enumerate(data["websites"]):
        if w["kind"] == "proxy" and not w.get("upstream"):
            out.append(doc.diag(("websites", i, "kind"), "a proxy site needs an upstream",
                                "add 'upstream: http://host:port/'"))
        if w["kind"] != "proxy" and w.get("upstream"):
            out.append(doc.diag(("websites", i, "upstream"),
                                f"upstream is only for proxy sites, this one is {w['kind']}",
                                "remove upstream or set kind: proxy"))
