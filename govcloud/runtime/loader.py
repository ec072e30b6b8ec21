"""Loading an estate folder and checking all of it at once: schema, references, policy.

An estate is a folder with ``govcloud.yaml`` (settings), ``plans/`` (one tenancy plan per
department), ``policies/`` and ``inventories/``. This module reads the files (through
``govcloud.runtime.files``) and hands the parsed documents to the pure checks in
``govcloud.core.checks``; estates of hundreds of plans are checked by one process per core.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from govcloud.core.checks import Checked, FileResult, check_plan, check_settings, unique
from govcloud.core.model import Settings
from govcloud.core.policy import PolicyEngine, Rule, compile_rules
from govcloud.errors import Diagnostic, GovcloudError, ValidationFailed
from govcloud.finance.pricebook import PriceBook, parse_book
from govcloud.runtime.files import quiet_gc, read_document

SETTINGS_FILE = "govcloud.yaml"


def find_root(start: Path) -> Path:
    """The estate folder: ``start`` itself if it holds govcloud.yaml."""
    if (start / SETTINGS_FILE).is_file():
        return start
    raise GovcloudError(f"{start} is not an estate: it has no {SETTINGS_FILE}",
                        "run govcloud in the estate folder or pass --estate PATH")


def check_estate(root: Path, extra_plans: list[Path] | None = None,
                 policies: bool = True) -> Checked:
    """Check every file of the estate and collect every problem."""
    with quiet_gc():
        return _check_estate(root, extra_plans, policies)


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
        duplicates = unique(result.claims, owners)
        out.diagnostics += duplicates
        if result.plan is not None and not duplicates:
            out.plans.setdefault(result.plan.id, result.plan)
    out.diagnostics.sort(key=lambda d: (d.file, d.line, d.path))
    return out


def workers(files: int) -> int:
    """Processes to check ``files`` plans with: one per idle core for a large estate, or 1.

    A core another program keeps busy is not idle: there, a second process only adds the
    cost of sending every result back (measured: more CPU, no sooner done)."""
    if files < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    idle = cores - os.getloadavg()[0] if hasattr(os, "getloadavg") else cores
    return max(1, min(cores, int(idle + 0.5)))


def _check_files(paths: list[Path], root: Path, settings: Settings | None,
                 engine: PolicyEngine | None) -> Iterator[FileResult]:
    """Each file checked on its own, in order; by one process per idle core for large
    estates."""
    processes = workers(len(paths))
    if processes < 2:
        for path in paths:
            yield _check_file(path, root, settings, engine)
        return
    global _WORKER
    _WORKER = (root, settings, engine)
    chunks = [paths[i:i + 64] for i in range(0, len(paths), 64)]
    try:
        with ProcessPoolExecutor(max_workers=processes,
                                 mp_context=multiprocessing.get_context("fork")) as pool:
            for results in pool.map(_check_chunk, chunks):
                yield from results
    finally:
        _WORKER = None


def _check_chunk(paths: list[Path]) -> list[FileResult]:
    assert _WORKER is not None
    root, settings, engine = _WORKER
    gc.disable()
    return [_check_file(path, root, settings, engine) for path in paths]


def _check_file(path: Path, root: Path, settings: Settings | None,
                engine: PolicyEngine | None) -> FileResult:
    name = _display(path, root)
    doc, diags = read_document(path, name)
    if doc is None:
        return FileResult(name, list(diags))
    return check_plan(doc, list(diags), settings, engine)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _settings(root: Path, out: Checked) -> Settings | None:
    doc, diags = read_document(root / SETTINGS_FILE, SETTINGS_FILE)
    out.diagnostics += diags
    if doc is None:
        return None
    return check_settings(doc, out)


def load_rules(folder: Path, root: Path) -> tuple[list[Rule], list[Diagnostic]]:
    """Read every policy file in ``folder``; compile every expression; report every problem."""
    docs = []
    problems: list[Diagnostic] = []
    for path in sorted(folder.glob("*.y*ml")):
        doc, diags = read_document(path, str(path.relative_to(root)))
        problems += diags
        if doc is not None:
            docs.append(doc)
    rules, found = compile_rules(docs)
    return rules, problems + found


def load_book(path: Path, display: str | None = None,
              host_classes: set[str] | None = None,
              legacy_classes: set[str] | None = None) -> PriceBook:
    """Read and check the price book; ValidationFailed lists every problem at once.

    ``host_classes``/``legacy_classes``, when given, are the classes the estate uses: each
    must have a price.
    """
    name = display or path.name
    doc, diags = read_document(path, name)
    if doc is None:
        raise ValidationFailed(diagnostics=diags)
    book, problems = parse_book(doc, host_classes, legacy_classes)
    problems = diags + problems
    if any(d.severity == "error" for d in problems) or book is None:
        raise ValidationFailed(diagnostics=sorted(problems))
    return book
