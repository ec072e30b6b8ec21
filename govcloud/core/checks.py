"""Checking an estate's parsed documents: schema, references, uniqueness across plans, policy.

Pure: the documents arrive parsed (``govcloud.runtime.loader`` reads the files); every
problem is collected as a diagnostic rather than raised.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.core.documents import Document, dotted
from govcloud.core.model import (
    Estate,
    Settings,
    TenancyPlan,
    plan_from,
    replica_names,
    settings_from,
)
from govcloud.core.policy import PolicyEngine
from govcloud.core.schema import PLAN_SCHEMA, SETTINGS_SCHEMA, check, with_defaults
from govcloud.errors import Diagnostic, ValidationFailed


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

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "departments": len(self.plans),
                "errors": len(self.errors), "warnings": len(self.warnings),
                "diagnostics": [d.as_dict() for d in self.diagnostics]}

    def estate(self) -> Estate:
        """The estate, or ValidationFailed with every error."""
        if self.errors or self.settings is None:
            raise ValidationFailed(diagnostics=self.diagnostics)
        return Estate(self.root, self.settings, self.plans)


@dataclass
class FileResult:
    """One plan file checked on its own; what needs the other files (uniqueness) is left as
    claims for the caller."""

    name: str
    diagnostics: list[Diagnostic]
    claims: list[Claim] = field(default_factory=list)
    plan: TenancyPlan | None = None


@dataclass(frozen=True)
class Claim:
    kind: str
    value: str
    file: str
    line: int
    path: str
    fix: str


def check_plan(doc: Document, parsed: list[Diagnostic], settings: Settings | None,
               engine: PolicyEngine | None) -> FileResult:
    """One parsed plan checked on its own: schema, references, policy. What needs the other
    plans (uniqueness) is returned as claims."""
    result = FileResult(doc.file, list(parsed))
    found = check(doc, PLAN_SCHEMA)
    result.diagnostics += found
    if found or parsed:
        return result
    data = with_defaults(doc.data, PLAN_SCHEMA)
    result.claims = claims(doc, data)
    if settings is not None:
        references(doc, data, settings, result.diagnostics)
    if engine is not None:
        result.diagnostics += engine.evaluate(doc, data)
    if not any(d.severity == "error" for d in result.diagnostics):
        result.plan = plan_from(data, doc.file)
    return result


def check_settings(doc: Document, out: Checked) -> Settings | None:
    """The estate settings from their parsed file, or None with the problems in ``out``."""
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
    return None if problems else settings_from(data, doc.file)


def _suggest(value: str, choices: Any, where: str) -> str:
    close = difflib.get_close_matches(value, list(choices), 1, 0.5)
    listed = ", ".join(sorted(choices)[:12])
    prefix = f"did you mean '{close[0]}'? " if close else ""
    return f"{prefix}use one of {where}: {listed}"


def claims(doc: Document, data: dict[str, Any]) -> list[Claim]:
    """What this plan claims for itself alone across the estate."""
    out = []

    def claim(kind: str, value: str, path: tuple[Any, ...], fix: str) -> None:
        out.append(Claim(kind, value, doc.file, doc.line(path), dotted(path), fix))

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
    return out


def unique(claims: list[Claim], owners: dict[str, dict[str, tuple[str, int]]]) -> \
        list[Diagnostic]:
    """Duplicates of what earlier files already claimed (the first file keeps it)."""
    out = []
    for c in claims:
        seen = owners.setdefault(c.kind, {})
        if c.value in seen:
            file, first = seen[c.value]
            out.append(Diagnostic(c.file, c.line, c.path,
                                  f"duplicate {c.kind} '{c.value}' (also in {file}:{first})",
                                  c.fix))
        else:
            seen[c.value] = (c.file, c.line)
    return out


def references(doc: Document, data: dict[str, Any], settings: Settings,
                out: list[Diagnostic]) -> None:
    for i, w in enumerate(data["websites"]):
        if w["kind"] == "proxy" and not w.get("upstream"):
            out.append(doc.diag(("websites", i, "kind"), "a proxy site needs an upstream",
                                "add 'upstream: http://host:port/'"))
        if w["kind"] != "proxy" and w.get("upstream"):
            out.append(doc.diag(("websites", i, "upstream"),
                                f"upstream is only for proxy sites, this one is {w['kind']}",
                                "remove upstream or set kind: proxy"))
