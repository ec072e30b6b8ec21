"""Apply: carry out exactly the changes of a plan, journaled, concurrently where independent.

Within a department, deletes run first (children before parents), then creates and updates
in creation order (projects before networks before servers before volumes); a stage waits for
the one before it. Departments proceed independently. Every change is journaled before and
after, and the last applied state is recorded per resource, so an interrupted apply leaves
a journal the next run reports and a cloud the next plan finishes without duplicates.

What must be in the store before the cloud is asked (the journal's ``started``, the claim of
a name to create) is committed before the call, in one commit with those of the changes
issued at the same time (a group commit); what follows a change (its applied state, the
journal's ``done``, ``failed``, ``skipped``) waits for the next such commit, or at most
about twice ``FLUSH_SECONDS`` (``_Records``). A SIGKILL loses only what waited:
changes the cloud made whose record is missing, which the next run records from the cloud
(``_reconcile_records``) as it would after a kill between a change and its record.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
# What follows a change is committed with the next change's start, or once this old.
FLUSH_SECONDS = 0.25


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
        _roll_back_new_department(department, run.groups[department], result, driver, store,
                                  run.journal)
    run.records.now()
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
Write = Callable[[], None]  # one statement on the store


class _Records:
    """The store's writes of one apply, in as few commits as are safe: ``later`` queues a
    write that may wait; ``now`` commits the writes given, and everything queued before them,
    in one transaction, in order, before it returns. Callers of ``now`` at the same time share
    one commit (a group commit): while one commit is under way the others' writes gather, and
    the next commit takes them all. So the changes issued side by side pay for one commit
    between them, not one each (a PostgreSQL commit waits for its log to reach the disk: 20
    changes a second, one commit each, issue #24), and none is asked of the cloud before its
    own writes are committed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: list[Write] = []
        self._queue_lock = threading.Lock()  # held only to add or take the queue
        self._write_lock = threading.Lock()  # one commit at a time, in queue order
        self._filling = 0  # the number of the commit that will take the writes queued now
        self._committed = -1  # the number of the last commit made
        self._last = time.monotonic()

    def later(self, write: Write) -> None:
        with self._queue_lock:
            self._waiting.append(write)

    def now(self, *writes: Write) -> None:
        with self._queue_lock:
            self._waiting.extend(writes)
            mine = self._filling
        with self._write_lock:
            if self._committed >= mine:
                return  # the commit made while this call waited took its writes
            with self._queue_lock:
                batch, self._waiting = self._waiting, []
                number, self._filling = self._filling, self._filling + 1
            try:
                with self.store.transaction(batched=True):
                    for write in batch:
                        write()
            except BaseException:
                own = {id(w) for w in writes}  # failed with the caller; the rest kept for
                with self._queue_lock:  # the next commit (another caller's, or its retry)
                    self._waiting[:0] = [w for w in batch if id(w) not in own]
                raise
            self._committed = number
            self._last = time.monotonic()

    def due(self) -> None:
        """Commit what waits if the last commit is ``FLUSH_SECONDS`` old (a slow cloud: its
        changes' records are not held back until the next one starts)."""
        if self._waiting and time.monotonic() - self._last >= FLUSH_SECONDS:
            self.now()


class _Run:
    """One apply under way: the journal's sequence, each department's progress through its
    stages (the units running, a department broken by a failure), and the result being
    filled in. Changes run on a thread pool; the journal is written before and after each.

    The units ready to run wait in ``ready``; at most ``window`` are handed to the pool at a
    time, and each that finishes puts itself on the ``completed`` queue, which the loop reads
    one at a time: the cost of a completion does not grow with the units under way (waiting
    on every outstanding future for each completion made apply quadratic, issue #24)."""

    def __init__(self, driver: Driver, store: Store, result: ApplyResult,
                 on_event: Event | None, hosts: Mapping[str, str],
                 attached: Mapping[str, list[Resource]]) -> None:
        self.driver = driver
        self.store = store
        self.result = result
        self.hosts = hosts
        self.attached = attached
        self.emit: Event = on_event or (lambda phase, change, detail: None)
        self.records = _Records(store)
        self._seq = 0
        self._seq_lock = threading.Lock()
        self.groups: dict[str, list[list[Change]]] = {}
        self.position: dict[str, int] = {}  # department -> the stage it is at
        self.outstanding: dict[str, int] = {}  # department -> units of its stage still running
        self.broken: set[str] = set()
        self.ready: deque[list[Change]] = deque()  # units whose stage has come, not yet run
        self.futures: dict[Future[Outcomes], list[Change]] = {}  # the units in the pool
        self.completed: queue.SimpleQueue[Future[Outcomes]] = queue.SimpleQueue()
        self.window = 1

    def journal(self, change: Change, phase: str, detail: str = "") -> None:
        """Journal a change's phase, with the next commit (``_Records``)."""
        self.records.later(self._row(change, phase, detail))

    def _row(self, change: Change, phase: str, detail: str = "") -> Write:
        with self._seq_lock:
            self._seq += 1
            n = self._seq
        return lambda: self.store.journal(self.result.apply_id, n, change.key, change.action,
                                          phase, detail)

    def carry_out(self, pending: list[Change], concurrency: int) -> None:
        """Run every department's stages, one stage after the other, departments side by
        side; a department stops at its first failure and skips the rest."""
        self.groups = _groups(pending)
        self.position = {d: 0 for d in self.groups}
        workers = max(1, concurrency)
        self.window = 2 * workers  # enough that no worker waits for the loop
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for d in sorted(self.groups):
                self._launch(d)
            try:
                self._submit(pool)
                while self.futures:
                    fut = self._next()
                    if fut is not None:
                        self._finished(fut)
                        self._submit(pool)
                    self.records.due()
            except BaseException:
                self.ready.clear()
                for fut in self.futures:
                    fut.cancel()
                with contextlib.suppress(Exception):  # the first error is the one to tell
                    self.records.now()
                raise
        self.records.now()

    def _next(self) -> Future[Outcomes] | None:
        """The next unit to finish; None when none did for ``FLUSH_SECONDS`` (the records
        waiting are then committed all the same)."""
        try:
            return self.completed.get(timeout=FLUSH_SECONDS)
        except queue.Empty:
            return None

    def _submit(self, pool: ThreadPoolExecutor) -> None:
        """Hand ready units to the pool, up to the window."""
        while self.ready and len(self.futures) < self.window:
            unit = self.ready.popleft()
            fut = pool.submit(self._run_unit, unit)
            self.futures[fut] = unit
            fut.add_done_callback(self.completed.put)

    def _launch(self, department: str) -> None:
        if self.position[department] < len(self.groups[department]):
            units = _units(self.groups[department][self.position[department]])
            self.outstanding[department] = len(units)
            self.ready.extend(units)

    def _finished(self, fut: Future[Outcomes]) -> None:
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
                self._launch(d)

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
        """One change, journaled before and after; a retryable failure is tried again. Its
        start, and the claim of a name it creates, are committed before the cloud is asked."""
        refused = _refusal(change)
        claim = refused is None and change.action in ("create", "replace")
        self.records.now(self._row(change, "started"),
                         *([lambda: self.store.claim(change.key)] if claim else []))
        self.emit("started", change, "")
        if refused is not None:
            raise refused
        retried(lambda: _carry_out(change, self.driver, self.store, self.records.later,
                                   self.attached.get(change.key, []), self.hosts.get(change.key)),
                RETRIES)
        self.journal(change, "done")
        self.emit("done", change, "")


def _roll_back_new_department(department: str, stages: list[list[Change]],
                              result: ApplyResult, driver: Driver, store: Store,
                              journal: Callable[[Change, str, str], None]) -> None:
    """A department this apply was creating from nothing, and that failed part way, is undone:
    no half-made department is left (the next apply creates it whole once the cause is fixed).
    A department that existed before keeps what was done: it is consistent and recorded."""
    mine = [c for stage in stages for c in stage]  # the department's pending changes
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
    the cloud finished but the record missed (killed in between) is recorded now, in one
    commit."""
    applied = store.applied()
    in_cloud = {r.key: r for r in actual}
    touched = {c.key for c in plan.changes}
    with store.transaction(batched=True):
        for c in plan.changes:
            if c.action == "no-op" and c.after is not None:
                have = applied.get(c.key)
                if have is None or have.attrs != c.after.attrs or \
                        have.protected != c.after.protected:
                    store.record_applied(_applied(c.after, in_cloud.get(c.key, c.after)))
        for key in applied:
            if key not in in_cloud and key not in touched:
                store.forget_applied(key)
                store.release(key)


def _refusal(change: Change) -> GovcloudError | None:
    """Why ``change`` is never carried out (a protected resource replaced or deleted)."""
    if change.action in ("replace", "delete") and change.before is not None and \
            change.before.protected:
        verb = "replaced" if change.action == "replace" else "deleted"
        return GovcloudError(f"{change.key} is protected and is never {verb}",
                             "remove 'protected: true' from its plan first")
    return None


def _carry_out(change: Change, driver: Driver, store: Store, record: Callable[[Write], None],
               volumes: Sequence[Resource] = (), host: str | None = None) -> None:
    """Ask the cloud for ``change``; what the store then records goes to ``record`` (the
    caller has committed the claim of a name to create)."""
    before, after = change.before, change.after
    if change.action == "delete":
        assert before is not None
        driver.delete(before)
        record(lambda: store.forget_applied(change.key))
        record(lambda: store.release(change.key))
        return
    if change.action == "create":
        assert after is not None
        made = driver.create(_on(after, host))
    elif change.action in ("update", "resize", "replace"):
        assert before is not None and after is not None
        if change.action == "replace":
            driver.delete(before)
            made = driver.create(after)
        else:
            made = driver.update(before, after)
    else:
        raise GovcloudError(f"{change.key}: apply cannot carry out a '{change.action}' change",
                            "this is a bug: only pending changes are applied")
    record(lambda: store.record_applied(_applied(after, made)))
    if change.action == "replace":
        for volume in volumes:  # kept: detached as the old server went, attached again
            driver.create(volume)


def _on(res: Resource, host: str | None) -> Resource:
    """``res`` asking the driver for ``host`` (see drivers.base.requested_host)."""
    if host is None:
        return res
    return Resource(res.kind, res.department, res.name, res.attrs, res.protected,
                    {**res.computed, "host": host}, res.roll)


def _applied(want: Resource, made: Resource) -> Resource:
    return Resource(want.kind, want.department, want.name, want.attrs, want.protected,
                    made.computed)
