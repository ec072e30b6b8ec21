"""What every request of one portal process shares: the estate (read again when one of its
files changes), the state store and the driver, all through the engine the CLI uses."""

from __future__ import annotations

import threading
from pathlib import Path

from govcloud.core.model import Estate
from govcloud.drivers import Driver, open_driver
from govcloud.runtime import engine
from govcloud.runtime.loader import find_root
from govcloud.runtime.store import Store, open_store


def _fingerprint(root: Path) -> tuple[tuple[str, int, int], ...]:
    """Name, size and modification time of every file the estate is read from."""
    files = [root / "govcloud.yaml", root / "prices.yaml",
             *sorted((root / "plans").glob("*.yaml")),
             *sorted((root / "policies").glob("*.yaml"))]
    out = []
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append((f.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


class Portal:
    """The estate, store and driver of one ``govcloud serve`` process."""

    def __init__(self, root: Path) -> None:
        self.root = find_root(root)
        self._lock = threading.Lock()
        self._seen = _fingerprint(self.root)
        self._estate = engine.validate(self.root).estate()  # refuses an estate with errors
        self.store: Store = open_store(self._estate.settings.state_url, self._estate.root,
                                       self._estate.settings.estate)
        self.driver: Driver = open_driver(self._estate, self.store)
        self.problem = ""  # set while the files on disk do not validate

    @property
    def estate(self) -> Estate:
        """The estate as its files are now; while an edit leaves them invalid, the last one
        that validated (``problem`` says so)."""
        seen = _fingerprint(self.root)
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    checked = engine.validate(self.root)
                    if not checked.errors and checked.settings is not None:
                        self._estate, self.problem = checked.estate(), ""
                    else:
                        self.problem = f"{len(checked.errors)} error(s) in the estate's " \
                                       "files; showing the last estate that validated"
                    self._seen = seen
        return self._estate

    def session(self) -> engine.Session:
        return engine.Session(self.estate, self.store, self.driver)

    def close(self) -> None:
        self.driver.close()
        self.store.close()
