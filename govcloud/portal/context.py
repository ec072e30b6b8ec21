"""What every request of one portal process shares: the estate, the state store and the
driver, all through the engine the CLI uses; and the figures derived from them (a
department's page, the estate overview, a month's chargeback), made once per change.

A change is a write of what a figure reads to the state store, by this worker or another
process (an apply, a usage collection, an approval, a closed month; not a sign-in nor a
session: ``Store.version``, shared by every worker on the store), or an edit of the
estate's files (plans, settings, prices, policies). The store is asked on every request; the
files, up to 2,000 plans, are looked at again when the store changed or at least every
``FILES_RECHECK`` seconds (a hand edit of a plan file shows within that). A cloud outside the
state store (the openstack driver) can also change behind govcloud's back: what was read from
it is read again at least every ``CLOUD_RECHECK`` seconds.

Figures made once are made again after a change by one thread, behind the requests: a
request waits for them at most ``REBUILD_WAIT`` seconds, and is otherwise given the last ones,
with the time they were made (``Late``; the page says so). At a province's size the figures
of the whole estate (every department's bill, what the cloud runs) take tens of seconds to
make, and every person's page would otherwise wait that long after each approval or usage
collection (issue #24)."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.core.model import Estate
from govcloud.drivers import Driver, open_driver
from govcloud.estate.loader import find_root
from govcloud.requests import records
from govcloud.state.store import Store, open_store

FILES_RECHECK = 1.0  # seconds
CLOUD_RECHECK = 30.0  # seconds
REBUILD_WAIT = 2.0  # seconds a request waits for figures being made again after a change
IN_STORE = frozenset({"sim"})  # drivers whose cloud lives in the state store
T = TypeVar("T")
Mark = tuple[int, str, int]


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file the estate is read from."""
    out = []
    for name in ("govcloud.yaml", "prices.yaml"):
        try:
            st = (root / name).stat()
        except OSError:
            continue
        out.append((name, st.st_size, st.st_mtime_ns))
    for folder in ("plans", "policies"):
        try:
            with os.scandir(root / folder) as found:
                for entry in found:
                    if entry.name.endswith(".yaml"):
                        try:
                            st = entry.stat()
                        except OSError:
                            continue
                        out.append((f"{folder}/{entry.name}", st.st_size, st.st_mtime_ns))
        except OSError:
            continue
    return tuple(sorted(out))


@dataclass
class Late:
    """The figures one request was given from before the last change, while they are made
    again: the oldest one's time (``time.time()``), or 0 when all were current."""

    made_at: float = 0.0

    def saw(self, made_at: float) -> None:
        self.made_at = min(self.made_at, made_at) if self.made_at else made_at


LATE: contextvars.ContextVar[Late | None] = contextvars.ContextVar("late", default=None)
_JOB = threading.local()  # ``inside``: this thread makes figures


@dataclass
class _Making:
    """Figures being made for one key: by one thread, awaited by any number of requests."""

    mark: Mark
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class Portal:
    """The estate, store and driver of one ``govcloud serve`` process, and its figures."""

    def __init__(self, root: Path) -> None:
        self.root = find_root(root)
        self._lock = threading.Lock()
        self._seen = _fingerprint(self.root)
        self._estate = engine.validate(self.root).estate()  # refuses an estate with errors
        self.store: Store = open_store(self._estate.settings.state_url, self._estate.root,
                                       self._estate.settings.estate,
                                       audit=self._estate.settings.audit)
        self.driver: Driver = open_driver(self._estate, self.store)
        # what every page's lists and counts read through
        records.ensure_indexes(self.store, (*records.INDEXES, trail.BY_DEPARTMENT))
        self.problem = ""  # set while the files on disk do not validate
        self._files = 0  # counts the changes of the estate's files seen
        self._files_checked = time.monotonic()
        self._store_seen = self.store.version()
        self._figures: dict[Hashable, tuple[Mark, Any, float]] = {}  # and when made
        self._making: dict[Hashable, _Making] = {}
        self._files_read: dict[Path, tuple[tuple[int, int] | None, Any]] = {}

    def mark(self) -> Mark:
        """What the figures are made from, as a value that changes with it: the estate's
        files, the state store and (for a cloud outside the store) the recheck period. The
        estate is read again here when its files changed."""
        with self._lock:
            store, now = self.store.version(), time.monotonic()
            if store != self._store_seen or now - self._files_checked >= FILES_RECHECK:
                self._store_seen, self._files_checked = store, now
                seen = _fingerprint(self.root)
                if seen != self._seen:
                    checked = engine.validate(self.root)
                    if not checked.errors and checked.settings is not None:
                        self._estate, self.problem = checked.estate(), ""
                    else:
                        self.problem = f"{len(checked.errors)} error(s) in the estate's " \
                                       "files; showing the last estate that validated"
                    self._seen = seen
                    self._files += 1
            cloud = 0 if self.driver.name in IN_STORE else int(now // CLOUD_RECHECK)
            return self._files, self._store_seen, cloud

    @property
    def estate(self) -> Estate:
        """The estate as its files are now; while an edit leaves them invalid, the last one
        that validated (``problem`` says so)."""
        self.mark()
        return self._estate

    def figures(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, made once per change (``mark``) for ``key``: the key names everything
        the figures depend on besides the estate and the store (a department, a month). One
        thread makes them while the others asking for the same key wait; for figures made
        before, at most ``REBUILD_WAIT`` seconds, after which they are given the last ones
        and the request's ``LATE`` records when those were made. Figures made from other
        figures always wait for those (``_JOB``): none is kept as current made from old."""
        mark = self.mark()
        kept = self._figures.get(key)
        if kept is not None and kept[0] == mark:
            return kept[1]  # type: ignore[no-any-return]
        patient = kept is None or getattr(_JOB, "inside", False)
        deadline = time.monotonic() + REBUILD_WAIT
        while True:
            job = self._made_again(key, mark, make)
            job.done.wait(None if patient else max(0.0, deadline - time.monotonic()))
            now = self._figures.get(key)
            if now is not None and now[0] == mark:
                return now[1]  # type: ignore[no-any-return]
            if job.done.is_set() and job.mark == mark and job.error is not None:
                raise job.error
            if now is not None and not patient and time.monotonic() >= deadline:
                break  # still being made: the last ones, said to be late
        late = LATE.get()
        if late is not None:
            late.saw(now[2])
        return now[1]  # type: ignore[no-any-return]

    def _made_again(self, key: Hashable, mark: Mark, make: Callable[[], Any]) -> _Making:
        """The job making ``key``'s figures: the one under way, or one started now for
        ``mark`` (made after the mark was taken: a change while they are made leaves them
        under the older mark, so a request after it makes them again)."""
        with self._lock:
            job = self._making.get(key)
            if job is not None and not job.done.is_set():
                return job
            job = self._making[key] = _Making(mark)

        def run() -> None:
            _JOB.inside = True
            try:
                made_at = time.time()
                value = make()
                self._figures[key] = (mark, value, made_at)
            except BaseException as exc:  # noqa: BLE001 - given to every request that waits
                job.error = exc
            finally:
                job.done.set()

        threading.Thread(target=run, name=f"figures {key!r}"[:60], daemon=True).start()
        return job

    def from_file(self, path: Path, read: Callable[[], T]) -> T:
        """``read()``, read again only when the file at ``path`` changed (its size and time
        of change; being absent is a state too): for a file the service commands leave in
        the state folder, which the mark does not watch. One value per path is kept."""
        try:
            st = path.stat()
            seen: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            seen = None
        kept = self._files_read.get(path)
        if kept is not None and kept[0] == seen:
            return kept[1]  # type: ignore[no-any-return]
        value = read()  # a change while it is read leaves it under the older stamp
        self._files_read[path] = (seen, value)
        return value

    def fresh_estate(self) -> Estate:
        """The estate as its files are at this moment: an apply, and the plan shown to
        confirm it, never use one read up to FILES_RECHECK ago."""
        with self._lock:
            self._files_checked = -FILES_RECHECK  # the next mark() looks at the files
        return self.estate

    def session(self, fresh: bool = False) -> engine.EstateSession:
        return engine.EstateSession(self.fresh_estate() if fresh else self.estate, self.store,
                              self.driver)

    def close(self) -> None:
        self.driver.close()
        self.store.close()
