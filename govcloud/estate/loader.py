"""Loading an estate folder and checking all of it at once: schema, references, policy.

An estate is a folder with ``govcloud.yaml`` (settings), ``plans/`` (one tenancy plan per
department), ``policies/`` and ``inventories/``. This module reads the files (through
``govcloud.estate.files``) and hands the parsed documents to the pure checks in
``govcloud.core.checks``; estates of hundreds of plans are checked by one process per core.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from govcloud.core.approvals import APPROVALS_FILE, Stage, compile_approvals
from govcloud.core.checks import (
    Checked,
    FileResult,
    Owners,
    check_plan,
    check_settings,
    pool_room,
    unique,
)
from govcloud.core.hierarchy import LEVELS
from govcloud.core.model import Settings
from govcloud.core.policy import PolicyEngine, Rule, Watch, compile_rules
from govcloud.errors import Diagnostic, GovcloudError, ValidationFailed
from govcloud.estate import rulelimits
from govcloud.estate.files import display, proposed_document, quiet_gc, read_document
from govcloud.finance.pricebook import PriceBook, parse_book
from govcloud.state.url import url_problem

SETTINGS_FILE = "govcloud.yaml"


def find_root(start: Path) -> Path:
    """The estate folder: ``start`` itself if it holds govcloud.yaml."""
    if (start / SETTINGS_FILE).is_file():
        return start
    raise GovcloudError(f"{start} is not an estate: it has no {SETTINGS_FILE}",
                        "run govcloud in the estate folder or pass --estate PATH")


def check_estate(root: Path, extra_plans: list[Path] | None = None,
                 policies: bool = True, proposed: dict[str, str] | None = None) -> Checked:
    """Check every file of the estate and collect every problem. ``proposed`` maps plan files
    (as diagnostics name them, e.g. plans/finance.yaml) to a text checked in the file's place:
    the estate as it would be with that edit, without writing it."""
    with quiet_gc():
        return _check_estate(root, extra_plans, policies, proposed or {})


# Estates this large are checked by one process per core (fork: the compiled policies are
# inherited, not pickled). Below it, starting the processes costs more than it saves.
PARALLEL_FROM = 300
_WORKER: tuple[Path, Settings | None, PolicyEngine | None] | None = None
# A plan file: its path, whether it was named explicitly (on the command line) and so may
# lie outside the estate, and the text to check instead of the file's (a proposed edit of it,
# a portal request) or None.
PlanFile = tuple[Path, bool, str | None]


def _check_estate(root: Path, extra_plans: list[Path] | None, policies: bool,
                  proposed: dict[str, str]) -> Checked:
    out = Checked(root)
    out.settings = _settings(root, out)
    plan_files: list[PlanFile] = [(p, False, proposed.get(display(p, root))) for p in sorted(
        [*root.joinpath("plans").glob("*.yaml"), *root.joinpath("plans").glob("*.yml")])]
    plan_files += [(p, True, None) for p in extra_plans or []]
    unknown = set(proposed) - {display(p, root) for p, _, _ in plan_files}
    if unknown:
        raise GovcloudError(f"no plan file {sorted(unknown)[0]} to propose an edit of",
                            "a proposed edit changes an existing plan file")
    if not plan_files:
        # A warning: an estate whose last department left must still plan its prune.
        out.diagnostics.append(Diagnostic(
            "plans/", 0, "", "no tenancy plans found",
            "add one YAML file per department under plans/ (govcloud new department ID); "
            "until then every department in the cloud is one without a plan",
            severity="warning"))
    rules: list[Rule] = []
    engine = None
    if policies:
        rules, problems = load_rules(root / "policies", root)
        out.diagnostics += problems + load_approvals(
            root, out.settings.directory.levels if out.settings else LEVELS)[1]
        engine = PolicyEngine(rules, out.settings)
        if engine.skipped:
            out.diagnostics.append(Diagnostic(
                SETTINGS_FILE, 0, "", f"{len(engine.skipped)} policy rule(s) that use the "
                f"catalogue were not evaluated ({', '.join(r.id for r in engine.skipped)}), "
                f"as {SETTINGS_FILE} has errors", f"fix {SETTINGS_FILE} first", "warning"))
    owners = Owners()
    for result in _check_files(plan_files, root, out, rules, engine):
        out.files += 1
        out.diagnostics += result.diagnostics
        duplicates = unique(result.claims, owners)
        out.diagnostics += duplicates
        if result.plan is not None and not duplicates:
            out.plans.setdefault(result.plan.id, result.plan)
    out.diagnostics += pool_room(out)
    out.diagnostics.sort(key=lambda d: (d.file, d.line, d.path))
    return out


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1


def workers(files: int) -> int:
    """Processes to check ``files`` plans with: one per idle core for a large estate, or 1.

    A core another program keeps busy is not idle: there, a second process only adds the
    cost of sending every result back (measured: more CPU, no sooner done)."""
    if files < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    cores = _cores()
    idle = cores - os.getloadavg()[0] if hasattr(os, "getloadavg") else cores
    return max(1, min(cores, int(idle + 0.5)))


def _check_files(paths: list[PlanFile], root: Path, out: Checked, rules: list[Rule],
                 engine: PolicyEngine | None) -> Iterator[FileResult]:
    """Each file checked on its own, in order: under a budget when a policy may be costly
    (``govcloud.estate.rulelimits``), else here, or by one process per idle core for large
    estates."""
    settings = out.settings
    forks = "fork" in multiprocessing.get_all_start_methods()
    if engine is not None and engine.unbounded and forks:
        yield from _check_budgeted(paths, root, out, rules)
        return
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


def _check_budgeted(paths: list[PlanFile], root: Path, out: Checked, rules: list[Rule]
                    ) -> Iterator[FileResult]:
    settings = out.settings

    def make_job(disabled: frozenset[str]) -> rulelimits.Job:
        engine = PolicyEngine(rules, settings, disabled)
        return lambda i, watch: _check_file(paths[i], root, settings, engine, watch)

    workers = _cores() if len(paths) >= PARALLEL_FROM else 1
    results, overruns = rulelimits.run(len(paths), make_job, rules, workers)
    for overrun in overruns:
        out.diagnostics.append(overrun.diagnostic(display(paths[overrun.item][0], root)))
    yield from results


def _check_chunk(paths: list[PlanFile]) -> list[FileResult]:
    assert _WORKER is not None
    root, settings, engine = _WORKER
    gc.disable()
    return [_check_file(path, root, settings, engine) for path in paths]


def _check_file(plan_file: PlanFile, root: Path, settings: Settings | None,
                engine: PolicyEngine | None, watch: Watch | None = None) -> FileResult:
    path, explicit, text = plan_file
    name = display(path, root)
    if text is not None:
        doc, diags = proposed_document(text, name)
    else:
        doc, diags = read_document(path, name, root, outside=explicit)
    if doc is None:
        return FileResult(name, list(diags))
    return check_plan(doc, list(diags), settings, engine, watch)


def _settings(root: Path, out: Checked) -> Settings | None:
    doc, diags = read_document(root / SETTINGS_FILE, SETTINGS_FILE, root)
    out.diagnostics += diags
    if doc is None:
        return None
    settings = check_settings(doc, out)
    problem = url_problem(settings.state_url) if settings is not None else None
    if problem:  # parsed here, not first when plan opens the store
        out.diagnostics.append(doc.diag(("state", "url"), *problem))
    return settings


def load_rules(folder: Path, root: Path) -> tuple[list[Rule], list[Diagnostic]]:
    """Read every policy file in ``folder``; compile every expression; report every problem."""
    docs = []
    problems: list[Diagnostic] = []
    for path in sorted(folder.glob("*.y*ml")):
        if path.name == "approvals.yaml":  # who approves requests: govcloud.core.approvals
            continue
        doc, diags = read_document(path, str(path.relative_to(root)), root)
        problems += diags
        if doc is not None:
            docs.append(doc)
    rules, found = compile_rules(docs)
    return rules, problems + found


def load_approvals(root: Path, levels: tuple[str, ...] = LEVELS
                   ) -> tuple[list[Stage], list[Diagnostic]]:
    """The estate's approval rules (policies/approvals.yaml; none without the file);
    ``levels``: directory.levels, what approver@LEVEL may name."""
    path = root / APPROVALS_FILE
    if not os.path.lexists(path):
        return [], []
    doc, diags = read_document(path, APPROVALS_FILE, root)
    if doc is None:
        return [], diags
    stages, problems = compile_approvals(doc, levels)
    return stages, diags + problems


def load_book(path: Path, display: str | None = None,
              host_classes: set[str] | None = None,
              legacy_classes: set[str] | None = None, root: Path | None = None,
              outside: bool = False) -> PriceBook:
    """Read and check the price book; ValidationFailed lists every problem at once.

    ``host_classes``/``legacy_classes``, when given, are the classes the estate uses: each
    must have a price. ``root``: the estate the book must lie in, unless ``outside`` (its
    path was written as an absolute path in govcloud.yaml).
    """
    name = display or path.name
    doc, diags = read_document(path, name, root, outside=outside,
                               outside_hint="write an absolute path in 'prices:' in "
                               "govcloud.yaml to use a price book kept outside the estate")
    if doc is None:
        raise ValidationFailed(diagnostics=diags)
    book, problems = parse_book(doc, host_classes, legacy_classes)
    problems = diags + problems
    if any(d.severity == "error" for d in problems) or book is None:
        raise ValidationFailed(diagnostics=sorted(problems))
    return book


def check_book(root: Path, name: str, checked: Checked) -> list[Diagnostic]:
    """Every problem of the estate's price book (none when it has none: prices are optional
    until a finance report asks for them)."""
    path = root / name
    if not path.is_file():
        return []
    doc, diags = read_document(path, name)
    if doc is None:
        return diags
    s = checked.settings
    hosts = {c for zone in s.host_pool.hosts.values() for c, n in zone.items() if n} \
        if s is not None else None
    legacy = {x.host_class for p in checked.plans.values() for x in p.legacy.servers}
    _, problems = parse_book(doc, hosts, legacy)
    return diags + problems
