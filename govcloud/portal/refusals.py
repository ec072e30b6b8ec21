"""Refusals of the portal recorded in the audit trail: a call not signed in (401), a role or
token scope that does not allow the route or a post without its CSRF token (403), an API
token that signs in nobody (401). A client that floods is sampled: at most PER_WINDOW records
per client address in each WINDOW, then one record that counts the refusals not recorded
one by one (written with the client's next refusal after the window; counted per worker
process)."""

from __future__ import annotations

import threading
import time

from govcloud.audit import trail
from govcloud.state.store import Store

PER_WINDOW = 10
WINDOW = 60.0  # seconds
MAX_CLIENTS = 10_000


class Refusals:
    """Records refusals, sampled per client (``record``)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._clients: dict[str, tuple[float, int, int]] = {}  # start, recorded, skipped

    def _admit(self, client: str) -> tuple[bool, int]:
        """Whether this refusal is recorded one by one, and how many of the client's last
        window were not (to record as their count now)."""
        at = time.monotonic()
        with self._lock:
            if len(self._clients) > MAX_CLIENTS:
                self._clients.clear()
            start, recorded, skipped = self._clients.get(client, (at, 0, 0))
            if at - start >= WINDOW:
                self._clients[client] = (at, 1, 0)
                return True, skipped
            if recorded < PER_WINDOW:
                self._clients[client] = (start, recorded + 1, skipped)
                return True, 0
            self._clients[client] = (start, recorded, skipped + 1)
            return False, 0

    def record(self, client: str, who: str, status: int, method: str, path: str,
               why: str) -> None:
        """A refusal of ``method path`` to ``who`` (a name, or "" for nobody signed in)
        from ``client``, with its status and why."""
        one, skipped = self._admit(client)
        actor = who or "(not signed in)"
        if skipped:
            trail.append(self.store, "portal", "refusals sampled", client, "", None,
                         {"not recorded one by one": skipped, "window seconds": WINDOW},
                         "", client)
        if one:
            trail.append(self.store, actor, "refused", path[:200], "", None,
                         {"status": status, "method": method, "why": why[:200]}, "", client)
