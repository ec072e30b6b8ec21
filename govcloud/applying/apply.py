"""Apply: carry out exactly the changes of a plan, journaled, concurrently where independent.

Within a department, deletes run first (children before parents), then creates and updates
in creation order (projects before networks before servers before volumes); a stage waits for
the one before it. Departments proceed independently. Every change is journaled before and
after, and the last applied state is recorded per resource, so an interrupted apply leaves
a journal the next run reports and a cloud the next plan finishes without duplicates.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from govcloud.core.desired import Resource
from govcloud.core.kinds import STAGE
from govcloud.core.planning import Change, Plan, fingerprint
from govcloud.drivers.base import Driver, retried
from govcloud.errors import GovcloudError, StalePlan
from govcloud.state.store import ApplyRecord, Store

Event = Callable[[str, Change, str], None]  # (phase, change, detail)
# A retryable failure is tried again after 2, 4, 8, 16, 30, 30 and 30 s: two minutes, the
# time nova's scheduler may take to learn that a deleted server left its host (a replaced
# member of an anti-affinity group is refused its old host until then).
RETRIES = 8


@dataclass
class ApplyResult:
    apply_id: str
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    resumed: list[ApplyRecord] = field(default_factory=list)
    rolled_back: dict[str, str] = field(default_factory=dict)  # department -> outcome
    seconds: float = 0.0
    services: Any = None  # services.ServicesOutcome, set by engine.apply
    usage: str = ""  # this month's usage collected after the apply; or why not

    @property
    def ok(self) -> bool:
        return not self.failed and not self.skipped

    def summary(self) -> dict[str, int]:
        return {"done": len(self.done), "failed": len(self.failed),
                "skipped": len(self.skipped)}

    def as_dict(self) -> dict[str, Any]:
        return {"apply_id": self.apply_id, "ok": self.ok, "summary": self.summary(),
                "seconds": self.seconds,
                "failed": [{"key": c.key, "error": m} for c, m in self.failed],
                "skipped": [c.key for c in self.skipped],
                "services": self.services.as_dict() if self.services else None,
                "usage": self.usage}


def _groups(changes: list[Change]) -> dict[str, list[list[Change]]]:
    """Per department, the ordered groups of changes that may run together."""
    per: dict[str, dict[tuple[int, int], list[Change]]] = defaultdict(lambda: defaultdict(list))
    for c in changes:
        if c.action == "delete":
            slot = (0, -STAGE[c.kind])
        else:
            slot = (1, STAGE[c.kind])
        per[c.department][slot].append(c)
    return {d: [slots[k] for k in sorted(slots)] for d, slots in per.items()}


def _units(group: list[Change]) -> list[list[Change]]:
    """The changes of one stage as units that run side by side: each change alone, except
    the members of a roll (the replicas of one server), which form one unit, in order."""
    rolls: dict[str, list[Change]] = {}
    units: list[list[Change]] = []
    for c in group:
        if c.roll and c.action in ("resize", "replace"):
            if c.roll not in rolls:
                rolls[c.roll] = []
                units.append(rolls[c.roll])
            rolls[c.roll].append(c)
        else:
            units.append([c])
    return units


def new_apply_id() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def apply_plan(plan: Plan, driver: Driver, store: Store, concurrency: int = 8,
               on_event: Event | None = None, check_fingerprint: bool = True,
               hosts: Mapping[str, str] | None = None,
               apply_id: str | None = None) -> ApplyResult:
    """Apply ``plan``; the caller holds the store's lock. Returns what was done, even on
    failure. ``hosts``: server key -> the host placement chose for a server to create (it
    travels to the driver in the server's ``computed["host"]``). ``apply_id``: the id to
    record it under (default: a new one), for a caller that shows its progress."""
    started = time.monotonic()
    actual = driver.read()
    if check_fingerprint and fingerprint(actual) != plan.state_fingerprint:
        raise StalePlan("the saved plan was made against a state that has changed since",
                        "run govcloud plan again and apply the new plan")
    apply_id = apply_id or new_apply_id()
    result = ApplyResult(apply_id, resumed=store.interrupted())
    if result.resumed:
        store.close_interrupted(apply_id)
    _reconcile_records(plan, actual, store)
    pending = plan.pending
    store.begin_apply(apply_id, len(pending))
    run = _Run(driver, store, result, on_event, hosts or {}, _attached_volumes(plan))
    run.carry_out(pending, concurrency)
    for department in sorted({c.department for c, _ in result.failed}):
        _roll_back_new_department(department, pending, result, driver, store, run.journal)
    result.seconds = time.monotonic() - started
    store.finish_apply(apply_id, "ok" if result.ok else "failed", result.summary())
    return result


def _attached_volumes(plan: Plan) -> dict[str, list[Resource]]:
    """Server key -> the volumes attached to it. A replaced server's volumes stay in the plan
    unchanged: they are attached to the new one."""
    attached: dict[str, list[Resource]] = {}
    for c in plan.changes:
        if c.kind == "volume" and c.action != "delete" and c.after is not None and \
                c.after.attrs.get("server"):
            attached.setdefault(f"{c.department}/server/{c.after.attrs['server']}",
                                []).append(c.after)
    return attached


Outcomes = list[tuple[Change, BaseException | None]]


class _Run:
    """One apply under way: the journal's sequence, each department's progress through its
    stages (the units running, a department broken by a failure), and the result being
    filled in. Changes run on a thread pool; the journal is written before and after each."""

    def __init__(self, driver: Driver, store: Store, result: ApplyResult,
                 on_event: Event | None, hosts: Mapping[str, str],
                 attached: Mapping[str, list[Resource]]) -> None:
        self.driver = driver
        self.store = store
        self.result = result
        self.hosts = hosts
        self.attached = attached
        self.emit: Event = on_event or (lambda phase, change, detail: None)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.groups: dict[str, list[list[Change]]] = {}
        self.position: dict[str, int] = {}  # department -> the stage it is at
        self.outstanding: dict[str, int] = {}  # department -> units of its stage still running
        self.broken: set[str] = set()
        self.futures: dict[Future[Outcomes], list[Change]] = {}

    def journal(self, change: Change, phase: str, detail: str = "") -> None:
        with self._seq_lock:
            self._seq += 1
            n = self._seq
        self.store.journal(self.result.apply_id, n, change.key, change.action, phase, detail)

    def carry_out(self, pending: list[Change], concurrency: int) -> None:
        """Run every department's stages, one stage after the other, departments side by
        side; a department stops at its first failure and skips the rest."""
        self.groups = _groups(pending)
        self.position = {d: 0 for d in self.groups}
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            for d in sorted(self.groups):
                self._launch(pool, d)
            try:
                while self.futures:
                    finished, _ = wait(list(self.futures), return_when=FIRST_COMPLETED)
                    for fut in finished:
                        self._finished(pool, fut)
            except BaseException:
                for fut in self.futures:
                    fut.cancel()
                raise

    def _launch(self, pool: ThreadPoolExecutor, department: str) -> None:
        if self.position[department] < len(self.groups[department]):
            units = _units(self.groups[department][self.position[department]])
            self.outstanding[department] = len(units)
            for unit in units:
                self.futures[pool.submit(self._run_unit, unit)] = unit

    def _finished(self, pool: ThreadPoolExecutor, fut: Future[Outcomes]) -> None:
        """Record a unit's outcomes; the department's next stage starts once its last unit
        of this stage is in, unless something of the department failed."""
        unit = self.futures.pop(fut)
        d = unit[0].department
        outcomes = fut.result()
        for change, exc in outcomes:
            if exc is None:
                self.result.done.append(change)
                continue
            message = exc.render() if isinstance(exc, GovcloudError) else \
                f"internal error: {exc!r}"
            self.result.failed.append((change, message))
            self.journal(change, "failed", message)
            self.emit("failed", change, message)
            self.broken.add(d)
        for change in unit[len(outcomes):]:
            self._skip(change, f"the roll stopped: {outcomes[-1][0].key} failed")
        self.outstanding[d] -= 1
        if self.outstanding[d] == 0:
            self.position[d] += 1
            if d in self.broken:
                for later in self.groups[d][self.position[d]:]:
                    for c in later:
                        self._skip(c, "an earlier change of the department failed")
                self.position[d] = len(self.groups[d])
            else:
                self._launch(pool, d)

    def _skip(self, change: Change, why: str) -> None:
        self.result.skipped.append(change)
        self.journal(change, "skipped", why)
        self.emit("skipped", change, "")

    def _run_unit(self, unit: list[Change]) -> Outcomes:
        """One change, or a roll: its members one at a time, each started only once the one
        before it is done (the driver returns when a server is ACTIVE again); a failure
        stops the roll and leaves the rest untouched."""
        out: Outcomes = []
        for change in unit:
            try:
                self._run(change)
            except Exception as exc:  # noqa: BLE001 - reported per change in _finished
                out.append((change, exc))
                return out
            out.append((change, None))
        return out

    def _run(self, change: Change) -> None:
        """One change, journaled before and after; a retryable failure is tried again."""
        self.journal(change, "started")
        self.emit("started", change, "")
        retried(lambda: _carry_out(change, self.driver, self.store,
                                   self.attached.get(change.key, []), self.hosts.get(change.key)),
                RETRIES)
        self.journal(change, "done")
        self.emit("done", change, "")


def _roll_back_new_department(department: str, pending: list[Change], result: ApplyResult,
                              driver: Driver, store: Store,
                              journal: Callable[[Change, str, str], None]) -> None:
    """A department this apply was creating from nothing, and that failed part way, is undone:
    no half-made department is left (the next apply creates it whole once the cause is fixed).
    A department that existed before keeps what was done: it is consistent and recorded."""
    mine = [c for c in pending if c.department == department]
    if not mine or any(c.action != "create" for c in mine) or \
            not any(c.kind == "project" for c in mine):
        return
    made = [c for c in result.done if c.department == department]
    made.sort(key=lambda c: STAGE[c.kind], reverse=True)
    try:
        for c in made:
            assert c.after is not None
            driver.delete(c.after)
            store.forget_applied(c.key)
            store.release(c.key)
            journal(c, "rolled-back", "the department failed part way")
    except GovcloudError as exc:
        result.rolled_back[department] = f"roll-back failed: {exc.render()}; run apply again"
        return
    result.done = [c for c in result.done if c.department != department]
    result.rolled_back[department] = f"rolled back {len(made)} change(s)"


def _reconcile_records(plan: Plan, actual: list[Resource], store: Store) -> None:
    """Bring the record of applied state in line with what an interrupted run did: a change
    the cloud finished but the record missed (killed in between) is recorded now."""
    applied = store.applied()
    in_cloud = {r.key: r for r in actual}
    touched = {c.key for c in plan.changes}
    for c in plan.changes:
        if c.action == "no-op" and c.after is not None:
            have = applied.get(c.key)
            if have is None or have.attrs != c.after.attrs or have.protected != c.after.protected:
                store.record_applied(_applied(c.after, in_cloud.get(c.key, c.after)))
    for key in applied:
        if key not in in_cloud and key not in touched:
            store.forget_applied(key)
            store.release(key)


def _carry_out(change: Change, driver: Driver, store: Store,
               volumes: Sequence[Resource] = (), host: str | None = None) -> None:
    if change.action == "create":
        assert change.after is not None
        store.claim(change.key)
        made = driver.create(_on(change.after, host))
        store.record_applied(_applied(change.after, made))
    elif change.action in ("update", "resize"):
        assert change.before is not None and change.after is not None
        made = driver.update(change.before, change.after)
        store.record_applied(_applied(change.after, made))
    elif change.action == "replace":
        assert change.before is not None and change.after is not None
        if change.before.protected:
            raise GovcloudError(f"{change.key} is protected and is never replaced",
                                "remove 'protected: true' from its plan first")
        store.claim(change.key)
        driver.delete(change.before)
        made = driver.create(change.after)
        store.record_applied(_applied(change.after, made))
        for volume in volumes:  # kept: detached as the old server went, attached again
            driver.create(volume)
    elif change.action == "delete":
        assert change.before is not None
        if change.before.protected:
            raise GovcloudError(f"{change.key} is protected and is never deleted",
                                "remove 'protected: true' from its plan first")
        driver.delete(change.before)
        store.forget_applied(change.key)
        store.release(change.key)
    else:
        raise GovcloudError(f"{change.key}: apply cannot carry out a '{change.action}' change",
                            "this is a bug: only pending changes are applied")


def _on(res: Resource, host: str | None) -> Resource:
    """``res`` asking the driver for ``host`` (see drivers.base.requested_host)."""
    if host is None:
        return res
    return Resource(res.kind, res.department, res.name, res.attrs, res.protected,
                    {**res.computed, "host": host}, res.roll)


def _applied(want: Resource, made: Resource) -> Resource:
    return Resource(want.kind, want.department, want.name, want.attrs, want.protected,
                    made.computed)
