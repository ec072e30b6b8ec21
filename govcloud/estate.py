"""Loading an estate folder and checking all of it at once: schema, references, policy.

An estate is a folder with ``govcloud.yaml`` (settings), ``plans/`` (one tenancy plan per
department), ``policies/`` and ``inventories/``.
"""

from __future__ import annotations

import contextlib
import difflib
import gc
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.documents import Document, dotted, load
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


@dataclass
class _FileResult:
    """One plan file checked on its own; what needs the other files (uniqueness) is left as
    claims for the caller."""

    name: str
    diagnostics: list[Diagnostic]
    claims: list[_Claim] = field(default_factory=list)
    plan: TenancyPlan | None = None


@dataclass(frozen=True)
class _Claim:
    kind: str
    value: str
    file: str
    line: int
    path: str
    fix: str


# Estates this large are checked by one process per core (fork: the compiled policies are
# inherited, not pickled). Below it, starting the processes costs more than it saves.
PARALLEL_FROM = 300
_WORKER: tuple[Path, Settings | None, PolicyEngine | None] | None = None


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
    owners: dict[str, dict[str, tuple[str, int]]] = {}
    for result in _check_files(plan_files, root, out.settings, engine):
        out.files += 1
        out.diagnostics += result.diagnostics
        duplicates = _unique(result.claims, owners)
        out.diagnostics += duplicates
        if result.plan is not None and not duplicates:
            out.plans.setdefault(result.plan.id, result.plan)
    out.diagnostics.sort(key=lambda d: (d.file, d.line, d.path))
    return out


def _check_files(paths: list[Path], root: Path, settings: Settings | None,
                 engine: PolicyEngine | None) -> Iterator[_FileResult]:
    """Each file checked on its own, in order; by one process per core for large estates."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if len(paths) < PARALLEL_FROM or cores < 2 or \
            "fork" not in multiprocessing.get_all_start_methods():
        for path in paths:
            yield _check_file(path, root, settings, engine)
        return
    global _WORKER
    _WORKER = (root, settings, engine)
    chunks = [paths[i:i + 64] for i in range(0, len(paths), 64)]
    try:
        with ProcessPoolExecutor(max_workers=cores,
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            for results in pool.map(_check_chunk, chunks):
                yield from results
    finally:
        _WORKER = None


def _check_chunk(paths: list[Path]) -> list[_FileResult]:
    assert _WORKER is not None
    root, settings, engine = _WORKER
    gc.disable()
    return [_check_file(path, root, settings, engine) for path in paths]


def _check_file(path: Path, root: Path, settings: Settings | None,
                engine: PolicyEngine | None) -> _FileResult:
    name = _display(path, root)
    doc, diags = load(path, name)
    result = _FileResult(name, list(diags))
    if doc is None:
        return result
    found = check(doc, PLAN_SCHEMA)
    result.diagnostics += found
    if found or diags:
        return result
    data = with_defaults(doc.data, PLAN_SCHEMA)
    result.claims = _claims(doc, data)
    if settings is not None:
        _references(doc, data, settings, result.diagnostics)
    if engine is not None:
        result.diagnostics += engine.evaluate(doc, data)
    if not any(d.severity == "error" for d in result.diagnostics):
        result.plan = plan_from(data, name)
    return result


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


def _claims(doc: Document, data: dict[str, Any]) -> list[_Claim]:
    """What this plan claims for itself alone across the estate."""
    out = []

    def claim(kind: str, value: str, path: tuple[Any, ...], fix: str) -> None:
        out.append(_Claim(kind, value, doc.file, doc.line(path), dotted(path), fix))

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


def _unique(claims: list[_Claim], owners: dict[str, dict[str, tuple[str, int]]]) -> \
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
