"""What the services need of the state store, declared beside them so that no service imports
the store: the resources the last apply made (for the inventory) and the store's file, whose
folder holds the services' run artifacts and the estate's SSH key. ``state.store.Store`` is
one."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from govcloud.core.desired import Resource


class AppliedState(Protocol):
    @property
    def path(self) -> Path | None: ...

    def applied(self) -> dict[str, Resource]: ...
