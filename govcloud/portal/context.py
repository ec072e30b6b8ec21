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
it is read again at least every ``CLOUD_RECHECK`` seconds."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable
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
        self._figures: dict[Hashable, tuple[Mark, Any]] = {}
        self._making: dict[Hashable, threading.Lock] = {}
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
        thread makes them while the others asking for the same key wait."""
        mark = self.mark()
        kept = self._figures.get(key)
        if kept is not None and kept[0] == mark:
            return kept[1]  # type: ignore[no-any-return]
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            kept = self._figures.get(key)
            if kept is not None and kept[0] == mark:
                return kept[1]  # type: ignore[no-any-return]
            # Made after the mark was taken: a change while they are made leaves them under
            # the older mark, so the next request makes them again.
            value = make()
            self._figures[key] = (mark, value)
            return value

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
