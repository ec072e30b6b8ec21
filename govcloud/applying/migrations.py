"""Carrying out a consolidation: live migrations in order, then parking the hosts left empty.

The edge beside ``apply``: the same lock (the caller holds it), the same journal and progress.
A run writes its whole plan to the journal first (one ``planned`` row per migration, in
order), then each migration's ``started`` and ``done``. Every migration is verified before
the next one starts: the server is read back from the driver on its target, and its
anti-affinity group still has every member on a distinct host. A transient failure (a
retryable DriverError) is tried again; a lasting one stops the run, with what was done.

A run that was killed is finished by the next ``consolidate --apply`` from its journal: the
migrations not done are carried on, in order, when they are still valid from where servers
run now (a server the killed run already moved is not moved again); else a fresh plan is
made from the current placement.

Afterwards every host of a zone the run consolidated that runs no server and is still
enabled is disabled with the reason ``govcloud: consolidated YYYY-MM-DD``: nothing is
scheduled there, and the finance reports stop billing its power. Apply enables such a host
again when the estate needs its capacity.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from govcloud.clock import clock
from govcloud.drivers.base import Ability, Driver, Unsupported, consolidated_reason, retried
from govcloud.errors import DriverError, GovcloudError
from govcloud.placement.capacity import demands as demands_of
from govcloud.placement.cloud import zoned
from govcloud.placement.consolidation import Migration, MigrationPlan, repack, replay
from govcloud.placement.hosts import Ratios
from govcloud.state.store import Store

PREFIX = "consolidate-"
RESUMED = "finishing the killed run"
RETRIES = 6  # a retryable failure is tried again after 2, 4, 8, 16 and 30 s

# (phase, migration or None for a host, detail)
Progress = Callable[[str, Migration | None, str], None]


@dataclass
class MigrationResult:
    run_id: str
    plan: MigrationPlan
    done: list[Migration] = field(default_factory=list)
    failed: list[tuple[Migration, str]] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    resumed: str = ""  # the killed run this one finished, if any
    from_journal: bool = False  # whether the killed run's plan was carried on
    seconds: float = 0.0
    usage: str = ""  # this month's usage recorded afterwards, as apply does (one sentence)

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "ok": self.ok, "resumed": self.resumed or None,
                "from_journal": self.from_journal,
                "done": [{"server": m.server, "from": m.source, "to": m.target}
                         for m in self.done],
                "failed": [{"server": m.server, "error": e} for m, e in self.failed],
                "parked": self.parked, "seconds": round(self.seconds, 3),
                "usage": self.usage or None,
                "plan": self.plan.as_dict()}


def unfinished(store: Store) -> tuple[str, list[Migration]] | None:
    """The latest killed consolidation run and the migrations it planned but did not do."""
    runs = [a for a in store.interrupted() if a.id.startswith(PREFIX)]
    if not runs:
        return None
    run = max(runs, key=lambda a: a.started_at)
    planned: list[Migration] = []
    done: set[int] = set()
    for key, _action, phase, detail in store.journal_of(run.id):
        if phase == "planned":
            source, _, target = detail.partition(" -> ")
            planned.append(Migration(key, source, target))
        elif phase == "done" and detail.startswith("step "):
            done.add(int(detail.split()[1]))
    return run.id, [m for n, m in enumerate(planned, 1) if n not in done]


def consolidate(driver: Driver, store: Store, ratios: Ratios, plan: MigrationPlan,
                progress: Progress | None = None) -> MigrationResult:
    """Carry out ``plan`` (or finish a killed run first); the caller holds the lock."""
    if not driver.can(Ability.MIGRATION):
        raise Unsupported(driver.name, Ability.MIGRATION)
    started = time.monotonic()
    emit = progress or (lambda phase, step, detail: None)
    run_id = f"{PREFIX}{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    result = MigrationResult(run_id, plan)
    steps = list(plan.steps)
    left = unfinished(store)
    if left is not None:  # fresh_or_resumed made ``plan`` from its journal when it could
        result.resumed = left[0]
        result.from_journal = plan.note.startswith(RESUMED)
        store.close_interrupted(run_id)
    servers = demands_of(driver.read())
    store.begin_apply(run_id, len(steps))
    seq = [0]

    def journal(key: str, action: str, phase: str, detail: str = "") -> None:
        seq[0] += 1
        store.journal(run_id, seq[0], key, action, phase, detail)

    for m in steps:
        journal(m.server, "migrate", "planned", f"{m.source} -> {m.target}")
    groups = {d.key: d.group for d in servers}
    for n, m in enumerate(steps, 1):
        journal(m.server, "migrate", "started", f"step {n}")
        emit("started", m, "")
        try:
            _migrate(driver, m, groups)
        except GovcloudError as exc:
            message = exc.render()
            journal(m.server, "migrate", "failed", message)
            result.failed.append((m, message))
            emit("failed", m, message)
            break
        journal(m.server, "migrate", "done", f"step {n}")
        result.done.append(m)
        emit("done", m, "")
    if result.ok:
        running = set(driver.servers_on_hosts().values())
        hosts = driver.hosts()
        zones = {h.zone for h in hosts if h.name in running}
        reason = consolidated_reason(clock().date())
        for h in hosts:
            if h.zone in zones and h.enabled and h.name not in running:
                # "parked", not "done": history counts the run's migrations done.
                driver.set_host_enabled(h.name, False, reason)
                journal(h.name, "disable", "parked", reason)
                result.parked.append(h.name)
                emit("parked", None, h.name)
    result.seconds = time.monotonic() - started
    store.finish_apply(run_id, "ok" if result.ok else "failed",
                       {"done": len(result.done), "failed": len(result.failed),
                        "parked": len(result.parked)})
    return result


def _migrate(driver: Driver, m: Migration, groups: dict[str, str | None]) -> None:
    """One migration, retried when the failure is transient, then verified."""
    retried(lambda: driver.migrate(m.server, m.target), RETRIES)
    where = driver.servers_on_hosts()  # read back from the cloud, not from what we sent
    if where.get(m.server) != m.target:
        raise DriverError(f"{m.server} was migrated to {m.target} but runs on "
                          f"{where.get(m.server) or 'no host'}",
                          "run govcloud consolidate again: it plans from where servers "
                          "run now", retryable=False)
    group = groups.get(m.server)
    if group:
        members = [k for k, g in groups.items() if g == group and k in where]
        hosts = [where[k] for k in members]
        if len(set(hosts)) < len(hosts):
            raise DriverError(f"anti-affinity group {group} has two members on one host after "
                              f"migrating {m.server}", "move one member by hand, then run "
                              "govcloud consolidate again", retryable=False)


def fresh_or_resumed(driver: Driver, store: Store, ratios: Ratios,
                     target_hosts: int | None, max_migrations: int | None) -> MigrationPlan:
    """The plan a run would carry out: a killed run's remaining steps when they are still
    valid (shown so), else a fresh plan from where servers run now."""
    current = driver.servers_on_hosts()
    hosts = driver.hosts()
    servers = zoned(demands_of(driver.read()), hosts)  # in the cloud's zones (a real cloud)
    left = unfinished(store)
    if left is not None:
        todo = tuple(m for m in left[1] if current.get(m.server) != m.target)
        if not replay(current, servers, hosts, ratios, todo):
            fresh = repack(current, servers, hosts, ratios, target_hosts, max_migrations)
            final = dict(current)
            for m in todo:
                final[m.server] = m.target
            after = set(final.values())
            before = set(current.values())
            return MigrationPlan(todo, tuple(sorted(before - after)), fresh.nodes,
                                 len(before), len(after), fresh.repacked, fresh.target,
                                 f"{RESUMED} {left[0]} from its journal")
    return repack(current, servers, hosts, ratios, target_hosts, max_migrations)
