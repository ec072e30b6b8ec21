"""The operations the CLI offers, each one call: validate, plan, apply, drift, show.

This is the edge where the pure core meets the state store and the drivers.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.applying.apply import ApplyResult, Event, apply_plan
from govcloud.applying.migrations import PREFIX as MIGRATION_PREFIX
from govcloud.applying.migrations import MigrationResult, Progress, fresh_or_resumed
from govcloud.applying.migrations import consolidate as run_migrations
from govcloud.audit import trail
from govcloud.books import closing
from govcloud.books import history as dated
from govcloud.books.accounts import line_of, parked_hosts, plan_cost
from govcloud.books.metering import collect_quietly
from govcloud.core import jsontext
from govcloud.core.catalogue import compare
from govcloud.core.checks import Checked
from govcloud.core.desired import Resource, desired_state
from govcloud.core.drift import Drift, find_drift
from govcloud.core.model import Estate
from govcloud.core.planning import Plan, make_plan
from govcloud.core.savedplan import check_saved
from govcloud.drivers import Driver, open_driver
from govcloud.drivers.base import CONSOLIDATED, Ability
from govcloud.errors import GovcloudError, ValidationFailed
from govcloud.estate import planwrites
from govcloud.estate.files import quiet_gc, read_bytes, write_bytes
from govcloud.estate.loader import check_book, check_estate, find_root
from govcloud.finance.reconcile import Priced, Reconciliation, reconcile
from govcloud.placement import cloud
from govcloud.placement.arrival import Arrivals, arrivals
from govcloud.placement.capacity import CapacityReport, WhatIf, demands, what_if
from govcloud.placement.capacity import report as capacity_report
from govcloud.placement.consolidation import MigrationPlan
from govcloud.placement.hosts import Host, Ratios
from govcloud.requests import decisions, life
from govcloud.requests.records import Request, listing
from govcloud.services.playbooks import after_apply
from govcloud.state.store import ApplyRecord, Store, acting, holder_id, open_store


def validate(root: Path, extra_plans: list[Path] | None = None,
             prices: bool = False) -> Checked:
    """Check the estate; with ``prices``, its price book too (what ``govcloud validate``
    does: a broken price book breaks only the finance reports, so other commands go on)."""
    checked = check_estate(find_root(root), extra_plans)
    if prices and checked.settings is not None:
        checked.diagnostics += check_book(checked.root, checked.settings.prices, checked)
        checked.diagnostics.sort(key=lambda d: (d.file, d.line, d.path))
    return checked


@dataclass
class EstateSession:
    """An estate with its state store and driver open."""

    estate: Estate
    store: Store
    driver: Driver
    _desired: dict[str, Resource] | None = None

    def desired(self) -> dict[str, Resource]:
        """What the plans ask for (made once: the estate does not change in a session)."""
        if self._desired is None:
            with quiet_gc():
                self._desired = desired_state(self.estate)
        return self._desired

    def plan(self, prune: bool = False, delete_unmanaged: Collection[str] = (),
             cost: bool = True) -> Plan:
        """The plan, with what it does to the monthly bill (``cost``).

        ``delete_unmanaged`` names resources govcloud did not create that the operator wants
        deleted (by key ``department/kind/name`` or by name); each must be one of them.
        """
        desired, actual = self.desired(), self.driver.read()
        planned = {d: p.file for d, p in self.estate.plans.items()}
        owned, can_resize = self.store.owned(), self.driver.can(Ability.RESIZE)
        with quiet_gc():
            plan = make_plan(desired, actual, planned, prune, owned=owned,
                             can_resize=can_resize)
            if delete_unmanaged:
                plan = make_plan(desired, actual, planned, prune, owned=owned,
                                 can_resize=can_resize,
                                 delete_unmanaged=_unmanaged_keys(plan, delete_unmanaged))
            if self.driver.can(Ability.CATALOGUE):
                declared = self.estate.settings.catalogue
                plan = plan.with_catalogue(compare(
                    declared, self.driver.cloud_catalogue(declared), plan.needed_images()))
            self._check_hosts(plan)
            if not cost:
                return plan
            return plan.with_cost(plan_cost(plan, self.estate,
                                            parked=parked_hosts(self.driver)))

    def cloud_hosts(self) -> tuple[list[Host], list[Host]] | None:
        """A real cloud's hypervisors (all, and those apply may use: enabled, or disabled by
        a consolidation and so enabled again when needed); None for the sim, whose hosts are
        the settings' host_pool model."""
        if self.driver.name == "sim" or not self.driver.can(Ability.PLACEMENT):
            return None
        hosts = self.driver.hosts()
        return hosts, [h for h in hosts if h.enabled or
                       h.disabled_reason.startswith(CONSOLIDATED)]

    def _check_hosts(self, plan: Plan) -> None:
        """A plan that places servers on a real cloud must fit its hypervisors (capacity with
        placement's allocation ratios, one host per anti-affinity member): said here, before
        apply makes its first call."""
        placing = any(c.kind == "server" and c.action in ("create", "replace", "update")
                      for c in plan.changes)
        found = self.cloud_hosts() if placing else None
        if found is None:
            return
        hosts, usable = found
        cloud.check(demands(self.desired().values()), usable,
                    Ratios.of(self.estate.settings.host_pool),
                    [h for h in hosts if h not in usable])


def _unmanaged_keys(plan: Plan, names: Collection[str]) -> set[str]:
    """The keys of the unmanaged resources ``names`` name (by key, or by name if unique)."""
    keys = set()
    for name in names:
        found = [o.resource.key for o in plan.unmanaged
                 if name in (o.resource.key, o.resource.name)]
        if len(found) != 1:
            known = ", ".join(o.resource.key for o in plan.unmanaged) or "none"
            what = "names several" if found else "is not"
            raise GovcloudError(f"--delete-unmanaged {name} {what} unmanaged resource(s) "
                                f"(unmanaged now: {known})",
                                "give the full key department/kind/name of a resource "
                                "govcloud did not create (govcloud plan lists them)")
        keys.add(found[0])
    return keys


@contextmanager
def session(root: Path) -> Iterator[EstateSession]:
    """Open the estate at ``root`` (it must validate), its store and its driver. An approval
    killed mid-way is settled first, and requests approved by a rule but not written yet are
    written (``decisions.write_approved``): the plans are then read again as they left
    them."""
    estate = validate(root).estate()
    store = open_store(estate.settings.state_url, estate.root, estate.settings.estate,
                       audit=estate.settings.audit)
    try:
        settled = planwrites.settle(store, estate.root)
        if decisions.write_approved(estate, store, f"cli {holder_id()}") or settled:
            estate = validate(root).estate()
        _bring_over(estate, store)
        driver = open_driver(estate, store)
        try:
            yield EstateSession(estate, store, driver)
        finally:
            driver.close()
    finally:
        store.close()


def plan_on(estate: Estate, store: Store) -> Plan:
    """The plan of ``estate`` against ``store`` (a restored copy, say), with its driver,
    nothing settled or written first: what ``plan`` would say if the store were the live
    one."""
    driver = open_driver(estate, store)
    try:
        return EstateSession(estate, store, driver).plan(cost=False)
    finally:
        driver.close()


def _bring_over(estate: Estate, store: Store) -> None:
    """Months closed by an earlier govcloud, in this version's format (once; see
    books.closing.migrate). A price book that does not load leaves them for later: such a
    month then says so when read, and nothing else is held up."""
    try:
        closing.migrate(estate, store)
    except GovcloudError:
        pass


@contextmanager
def records(root: Path) -> Iterator[tuple[Estate, Store]]:
    """Open the estate at ``root`` (it must validate) and its state store, without a cloud:
    for the accounts, the audit trail and the requests, which live in the store."""
    estate = validate(root).estate()
    store = open_store(estate.settings.state_url, estate.root, estate.settings.estate,
                       audit=estate.settings.audit)
    try:
        yield estate, store
    finally:
        store.close()


def init_state(root: Path) -> tuple[str, bool]:
    """Start a new, empty state store for the estate at ``root`` (at its state.url): where it
    is, and whether it was made now (False: it already was this estate's store)."""
    checked = validate(root)
    if checked.settings is None:
        raise ValidationFailed(diagnostics=checked.diagnostics)
    settings = checked.settings
    store = open_store(settings.state_url, checked.root, settings.estate, init=True,
                       audit=settings.audit)
    try:
        return str(store.where), store.created
    finally:
        store.close()


def save_plan(plan: Plan, path: Path) -> None:
    """Save ``plan`` as JSON at ``path``, as every ``--out`` is written (``write_bytes``: a
    regular file only, never through a link or onto a pipe or device, atomically)."""
    write_bytes(path, jsontext.dumps(plan.as_dict()))


MAX_PLAN_BYTES = 512 * 1024 * 1024  # a saved plan of tens of thousands of departments fits


def read_saved(path: Path) -> Any:
    """A saved plan file's JSON, not yet trusted: a regular file, size-capped."""
    # The estate's one reader: a regular file only (no link, FIFO or device), size-capped.
    raw, problems = read_bytes(path, f"the saved plan {path}", None, limit=MAX_PLAN_BYTES)
    if raw is None:
        p = problems[0]
        raise GovcloudError(f"{p.file} {p.message}",
                            "check the path given to apply; save a plan with govcloud plan "
                            "--out FILE")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GovcloudError(f"{path}:{exc.lineno}: not a saved govcloud plan (invalid JSON)",
                            "save a plan with govcloud plan --out FILE") from exc
    except (ValueError, RecursionError) as exc:
        raise GovcloudError(f"{path} is not a saved govcloud plan ({type(exc).__name__})",
                            "save a plan with govcloud plan --out FILE") from exc


def saved_plan(s: EstateSession, path: Path, prune: bool = False) -> Plan:
    """The plan to apply for a saved plan file: made afresh from the current cloud, plans,
    policies and settings, and only if the file shows exactly it (else StalePlan or
    PlanMismatch naming the first difference). A file is data to check, never to trust.
    --prune and --delete-unmanaged belong to the saved plan, not to apply."""
    if prune:
        raise GovcloudError("--prune and --delete-unmanaged apply to fresh plans only",
                            "make the saved plan with govcloud plan --prune (or "
                            "--delete-unmanaged KEY) --out FILE")
    data = read_saved(path)
    saved = data if isinstance(data, dict) else {}
    saved_prune = saved.get("prune", False)
    named = saved.get("delete_unmanaged", [])
    named = [k for k in named if isinstance(k, str)] if isinstance(named, list) else []
    fresh = s.plan(saved_prune if isinstance(saved_prune, bool) else False, named)
    check_saved(data, fresh, str(path))
    return fresh


@contextmanager
def locked(s: EstateSession, timeout: float = 0.0, doing: str = "apply") -> Iterator[None]:
    """Hold the state store's apply lock: plan, confirm and apply inside it (``doing``: the
    command, as whoever waits for the lock is told)."""
    s.store.lock(timeout, doing=doing)
    try:
        yield
    finally:
        s.store.unlock()


def settle_interrupted(s: EstateSession) -> list[ApplyRecord]:
    """Applies killed after their last change (the caller holds the lock and the plan has
    nothing left to do): their records are closed now, and returned so that the operator is
    told. Interrupted consolidations are left to ``consolidate --apply``, which resumes them."""
    found = [a for a in s.store.interrupted() if not a.id.startswith(MIGRATION_PREFIX)]
    for a in found:
        s.store.close_interrupted_apply(a.id, "nothing was left to do")
    return found


def apply(s: EstateSession, plan: Plan, on_event: Event | None = None, services: bool = True,
          on_service: Callable[[str], None] | None = None,
          apply_id: str | None = None) -> ApplyResult:
    """Carry out ``plan`` (the caller holds the lock); refused if the state has moved on.
    Then the service playbooks run for the departments it changed (``result.services``).

    The catalogue comes first: a problem the plan found (an image a server needs that the
    cloud lacks, a flavor in use that differs) stops the apply before any change; the
    flavors the cloud lacks are made before the servers that use them."""
    catalogue = plan.catalogue
    if catalogue is not None and catalogue.problems:
        more = f" (and {len(catalogue.problems) - 1} more)" if len(catalogue.problems) > 1 \
            else ""
        what, _, fix = catalogue.problems[0].partition(" — ")
        raise GovcloudError(f"the catalogue stops this apply before any change: {what}{more}",
                            fix or "see govcloud plan")
    if catalogue is not None and catalogue.pending:
        s.driver.make_flavors(list(catalogue.create), list(catalogue.recreate))
    chosen = where_new_servers_go(s, plan)
    pending = life.waiting_to_go_live(s.store, [
        (r.id, r.department, r.kind) for r in listing(s.store, state="approved",
                                                      limit=100_000)])
    # The dated record: what changed outside govcloud since it last looked, then each change.
    dated.observe(s.estate, s.store, s.driver, "observed", line_of(s.estate))
    result = apply_plan(plan, s.driver, s.store, s.estate.settings.concurrency, on_event,
                        hosts=chosen.hosts, apply_id=apply_id)
    dated.observe(s.estate, s.store, s.driver, "apply", line_of(s.estate))
    if result.done or result.failed:  # the audit trail: who changed the cloud, and how
        person = acting()  # an operator applying from the portal, or the shell's user
        trail.append(s.store, person or holder_id(), "apply", f"apply {result.apply_id}", "",
                     None, {**result.summary(),
                            "departments": sorted({c.department for c in result.done})},
                     "", "portal" if person else "cli")
    result.services = after_apply(s.estate, s.store, result.done, services, on_service)
    _carried(s.store, result, pending, acting())
    if result.done:  # this month's usage, so the finance reports work at once
        result.usage = collect_quietly(s.estate, s.store, s.driver)
    return result


def _carried(store: Store, result: ApplyResult, pending: list[tuple[int, str, str]],
             person: str | None) -> None:
    """The approved requests this apply carried: applied (or failed), and live once their
    services converged (``requests.life``), by ``person`` from the portal or else by
    govcloud apply."""
    failed = {c.department: m for c, m in result.failed}
    failed.update({c.department: "not reached: an earlier change of its department failed"
                   for c in result.skipped if c.department not in failed})
    outcome = result.services
    ran: dict[str, str | None] = {}
    if outcome is not None and not outcome.skipped:
        for d in outcome.departments:
            ran[d] = "" if outcome.ok else (outcome.error or "a service playbook failed: "
                                            "see govcloud services run")
    with store.transaction():
        life.carry(store, pending, result.apply_id, failed, ran, person or "govcloud apply",
                   "portal" if person else "cli")


def reconciled(store: Store, plan: Plan) -> Reconciliation:
    """The plan's monthly cost change beside the approved requests it carries (approved,
    not applied yet, or their last apply failed), and why they differ
    (``finance.reconcile``)."""
    approved = listing(store, state="approved", limit=100_000)
    pending = {n for n, _, _ in life.waiting_to_go_live(
        store, [(r.id, r.department, r.kind) for r in approved])}
    return reconcile(plan.cost, [Priced.of(r.id, r.department, r.verdict)
                                 for r in approved if r.id in pending])


def where_new_servers_go(s: EstateSession, plan: Plan) -> Arrivals:
    """The hosts the packer gives the servers ``plan`` creates (nothing when the driver
    cannot report where servers run). Disabled hosts they need are enabled now: a host a
    consolidation parked goes back to work when the estate needs its capacity."""
    if not s.driver.can(Ability.PLACEMENT):
        return Arrivals({}, ())
    new = demands(c.after for c in plan.pending if c.action == "create" and c.after is not None
                  and c.kind == "server")
    if not new:
        return Arrivals({}, ())
    found = s.cloud_hosts()  # a real cloud: only hosts that work or that govcloud parked
    hosts = found[1] if found is not None else s.driver.hosts()
    chosen = arrivals(cloud.zoned(new, hosts), cloud.zoned(demands(s.driver.read()), hosts),
                      s.driver.servers_on_hosts(), hosts,
                      Ratios.of(s.estate.settings.host_pool))
    if chosen.enable and s.driver.can(Ability.MIGRATION):
        for host in chosen.enable:
            s.driver.set_host_enabled(host, True, "govcloud: capacity needed by apply")
    elif chosen.enable:  # cannot enable them: let the cloud choose among the enabled
        return Arrivals({k: h for k, h in chosen.hosts.items() if h not in chosen.enable}, ())
    return chosen


def history(s: EstateSession, limit: int) -> list[dict[str, Any]]:
    """The most recent applies, newest first, each with the requests whose approved plan
    edits it applied (``requests``: who asked, who approved)."""
    approved = listing(s.store, state="approved", limit=10_000)
    out = []
    for r in s.store.applies(limit):
        before = s.store.query("SELECT started_at FROM applies WHERE result = 'ok' AND "
                               "started_at < ? ORDER BY started_at DESC LIMIT 1",
                               (r.started_at,))
        since = before[0][0] if before else ""
        out.append({**r.__dict__, "requests": applied_requests(approved, since, r.started_at)})
    return out


def applied_requests(approved: list[Request], since: str, until: str
                     ) -> list[dict[str, Any]]:
    """The approved requests an apply started at ``until`` applied: those whose last approval
    (which wrote the plan file) came after the previous apply that finished ok started
    (``since``; "" for none) and before this one started. An apply that failed names them, and
    so does the next one, which applies them again."""
    out = []
    for q in sorted(approved, key=lambda q: q.id):
        at = q.approvals[-1]["at"] if q.approvals else q.changed_at
        if since < at <= until:
            out.append({"id": q.id, "department": q.department, "kind": q.kind,
                        "requester": q.requester,
                        "approvers": [f"{a['by']} ({a['role']})" for a in q.approvals],
                        "approved_at": at})
    return out


def journal(s: EstateSession, apply_id: str) -> list[dict[str, Any]]:
    """One apply's journal: every change's phases in order."""
    if not s.store.query("SELECT 1 FROM applies WHERE id = ?", (apply_id,)):
        recent = ", ".join(r.id for r in s.store.applies(3)) or "none yet"
        raise GovcloudError(f"no apply with id {apply_id!r} in the state store (the latest: "
                            f"{recent})", "copy an id from govcloud history")
    return [dict(zip(("key", "action", "phase", "detail"), r, strict=True))
            for r in s.store.journal_of(apply_id)]


def drift(s: EstateSession) -> list[Drift]:
    return find_drift(s.driver.read(), s.store.applied(), s.desired())


def show(s: EstateSession) -> dict[str, Any]:
    """The applied estate per department, as read from the cloud."""
    actual = s.driver.read()
    deps: dict[str, dict[str, Any]] = {}
    for res in actual:
        d = deps.setdefault(res.department, {"servers": [], "volumes": 0, "volume_gb": 0,
                                             "websites": [], "network": None, "vcpus": 0,
                                             "ram_gb": 0.0})
        if res.kind == "project":
            d["name"] = res.attrs.get("name", "")
            d["zone"] = res.attrs.get("zone", "")
        elif res.kind == "server":
            d["servers"].append({"name": res.name, "flavor": res.attrs.get("flavor"),
                                 "host": res.computed.get("host")})
            d["vcpus"] += res.attrs.get("vcpus", 0)
            d["ram_gb"] += res.attrs.get("ram_gb", 0)
        elif res.kind == "volume":
            d["volumes"] += 1
            d["volume_gb"] += res.attrs.get("size_gb", 0)
        elif res.kind == "website":
            d["websites"].append(res.name)
        elif res.kind == "network":
            d["network"] = res.computed.get("cidr")
    hosts = sorted({s_["host"] for d in deps.values() for s_ in d["servers"] if s_["host"]})
    last = s.store.applies(1)
    out = {"departments": dict(sorted(deps.items())), "hosts_used": hosts,
           "last_apply": last[0].__dict__ if last else None}
    found = s.cloud_hosts()
    if found is not None:  # a real cloud: its hypervisors, used or not
        running = Counter(s_["host"] for d in deps.values() for s_ in d["servers"])
        out["hypervisors"] = [cloud.HostRow(h, running.get(h.name, 0)).as_dict()
                              for h in found[0]]
    return out


def capacity(root: Path, added: list[Path]) -> CapacityReport | WhatIf | cloud.CloudCapacity:
    """Hosts the estate needs; with ``added`` plan files, what changes if they join (files
    outside plans/ are validated with the estate as if they were in it). On a real cloud
    (a driver with PLACEMENT other than the sim) the hosts are its hypervisors; what-if
    stays on the settings' host_pool model."""
    root = find_root(root)
    files = [p.resolve() for p in added]
    inside = (root / "plans").resolve()
    after = validate(root, [p for p in files if p.parent != inside]).estate()
    if not files:
        if after.settings.driver != "sim":
            with session(root) as s:
                found = s.cloud_hosts()
                if found is not None:
                    return cloud.report(after.settings.estate, s.driver.name,
                                        demands(s.desired().values()), found[0],
                                        s.driver.servers_on_hosts(),
                                        Ratios.of(after.settings.host_pool), found[1])
        return capacity_report(after)
    before = Estate(after.root, after.settings, {
        k: p for k, p in after.plans.items() if (after.root / p.file).resolve() not in files})
    return what_if(before, after)


def consolidation(s: EstateSession, target_hosts: int | None = None,
                  max_migrations: int | None = None) -> MigrationPlan:
    """Live migrations that bring the hosts in use down to the target (the re-pack floor
    by default), from where the driver says servers run; a killed consolidate --apply's
    remaining migrations when they are still valid."""
    return fresh_or_resumed(s.driver, s.store, Ratios.of(s.estate.settings.host_pool),
                            target_hosts, max_migrations)


def consolidate(s: EstateSession, plan: MigrationPlan, progress: Progress | None = None
                ) -> MigrationResult:
    """Carry out ``plan`` (the caller holds the lock): migrations in order, each verified,
    then the hosts left empty parked. Like apply, it then records this month's usage, so the
    chargeback bills the hosts that run now and none a run parked."""
    result = run_migrations(s.driver, s.store, Ratios.of(s.estate.settings.host_pool), plan,
                            progress)
    # The dated record: where servers run now, which hosts are parked, since when.
    dated.observe(s.estate, s.store, s.driver, "consolidate")
    if result.done or result.parked:
        result.usage = collect_quietly(s.estate, s.store, s.driver)
    return result
