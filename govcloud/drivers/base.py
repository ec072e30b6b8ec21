"""The driver interface: read the actual state, create, update, delete."""

from __future__ import annotations

from abc import ABC, abstractmethod

from govcloud.desired import Resource


class Driver(ABC):
    """A cloud, seen as resources keyed ``department/kind/name``.

    Every call is idempotent by key: creating a resource that already exists returns it,
    deleting one that is gone does nothing. That is what lets an interrupted apply be
    finished by the next run without duplicates.
    """

    name: str = "abstract"

    @abstractmethod
    def read(self) -> list[Resource]:
        """Every resource govcloud manages in this cloud (of every department)."""

    @abstractmethod
    def create(self, res: Resource) -> Resource:
        """Create ``res``; return it with what the cloud decided in ``computed``."""

    @abstractmethod
    def update(self, before: Resource, after: Resource) -> Resource:
        """Change ``before`` in place to match ``after``."""

    @abstractmethod
    def delete(self, res: Resource) -> None:
        """Delete ``res`` (a no-op when it is already gone)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
