"""The driver interface: four verbs every driver has, and the abilities some drivers add.

Every driver reads the actual state and creates, updates and deletes resources. What only
some clouds can do is declared here too, as an :class:`Ability` and a method: a driver lists
the abilities it has in ``abilities`` and overrides their methods; the caller asks
``driver.can(Ability.X)`` (or just calls, and gets :class:`Unsupported`, a plain error with
the fix). Nothing is discovered with ``getattr``; ``tests/core/test_drivers.py`` checks that
each driver's ``abilities`` matches the methods it really overrides.

Where a new server runs is govcloud's decision: the engine packs the estate and hands the
host it chose to ``create`` in the server's ``computed["host"]`` (read it with
:func:`requested_host`). A driver with PLACEMENT honours it (the sim always; openstack asks
nova for that host, compute API 2.74, and takes nova's choice with a warning when refused)
and returns the host the server really runs on in ``computed["host"]``. No request (None):
the driver chooses.

Consolidation (MIGRATION): ``migrate`` live-migrates one server to a named host;
``set_host_enabled`` disables a host a consolidation freed, with the reason
:func:`consolidated_reason` (``govcloud: consolidated YYYY-MM-DD``), so nothing is scheduled
there, and enables it again when apply needs its capacity. ``hosts()`` reports every host
with ``enabled`` set accordingly.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

from govcloud.core.catalogue import CloudCatalogue
from govcloud.core.desired import Resource
from govcloud.core.grants import Grant, Identity, KeystoneSettings, Refused
from govcloud.core.model import Catalogue, Flavor
from govcloud.errors import DriverError, GovcloudError
from govcloud.placement.hosts import Host

T = TypeVar("T")


def retried(call: Callable[[], T], attempts: int) -> T:
    """``call()``, tried again while it raises a retryable ``DriverError``: at most
    ``attempts`` times in all, 2, 4, 8 and 16 s apart and then every 30 s. A terminal error,
    or the last attempt's, is raised."""
    attempt = 0
    while True:
        try:
            return call()
        except DriverError as exc:
            attempt += 1
            if not exc.retryable or attempt >= attempts:
                raise
            time.sleep(min(2.0 ** attempt, 30))


class Rows(Protocol):
    """What a driver may do with the state store: keep its own tables (the sim's cloud, the
    openstack driver's records) and read a row back as a Resource. Declared here, beside the
    drivers, so that no driver imports the store; ``state.store.Store`` is one."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def resource(self, table: str, key: str, body: Any) -> Resource: ...

    def transaction(self, durable: bool = True) -> AbstractContextManager[None]: ...


class Ability(StrEnum):
    """What a driver may be able to do beyond the four verbs."""

    RESIZE = "resize"  # update() changes a server's flavor in place
    PLACEMENT = "placement"  # servers_on_hosts() and hosts(): where every server runs
    USAGE = "usage"  # usage(): measured CPU and RAM hours per department
    CREDENTIALS = "credentials"  # issue_credential(): department-scoped cloud credentials
    MIGRATION = "migration"  # migrate(), set_host_enabled(): move servers, park freed hosts
    CATALOGUE = "catalogue"  # cloud_catalogue() and make_flavors(): the estate's flavors
    SIGN_IN = "sign-in"  # identify(), grants_of(), token_identity(): the cloud's accounts
    HISTORY = "history"  # happened(): when the cloud resized, moved or parked what, dated


# The method each ability stands for (a driver with the ability overrides them).
METHODS: dict[Ability, tuple[str, ...]] = {
    Ability.RESIZE: (),
    Ability.PLACEMENT: ("servers_on_hosts", "hosts"),
    Ability.USAGE: ("usage",),
    Ability.CREDENTIALS: ("issue_credential",),
    Ability.MIGRATION: ("migrate", "set_host_enabled"),
    Ability.CATALOGUE: ("cloud_catalogue", "make_flavors"),
    Ability.SIGN_IN: ("identify", "grants_of", "token_identity"),
    Ability.HISTORY: ("happened",),
}

WHAT = {
    Ability.PLACEMENT: "report where servers run",
    Ability.USAGE: "measure usage",
    Ability.CREDENTIALS: "issue department credentials",
    Ability.MIGRATION: "migrate servers between hosts or disable hosts",
    Ability.RESIZE: "resize servers in place",
    Ability.CATALOGUE: "read or make the cloud's flavors",
    Ability.SIGN_IN: "sign people in with the cloud's accounts",
    Ability.HISTORY: "say when it changed a server or a host",
}

FIX = {
    Ability.PLACEMENT: "run it against the sim driver's estate",
    Ability.USAGE: "usage is then counted from allocations only",
    Ability.CREDENTIALS: "set cloud.driver: openstack in govcloud.yaml",
    Ability.MIGRATION: "move the server by hand, or use a driver that can migrate",
    Ability.RESIZE: "replace the server instead",
    Ability.CATALOGUE: "the embedded sim cloud offers every catalogue flavor and image",
    Ability.SIGN_IN: "add local accounts with govcloud users add",
    Ability.HISTORY: "changes are then dated when govcloud sees them",
}


# A host that consolidation freed is disabled with this reason, followed by the date.
CONSOLIDATED = "govcloud: consolidated"


def consolidated_reason(day: date) -> str:
    """The disable reason of a host consolidation freed on ``day``."""
    return f"{CONSOLIDATED} {day.isoformat()}"


def requested_host(res: Resource) -> str | None:
    """The host govcloud's placement chose for a server being created (None: any host)."""
    host = res.computed.get("host") if res.kind == "server" else None
    return str(host) if host else None


@dataclass(frozen=True)
class Happening:
    """Something the cloud did, dated by the cloud: ``subject`` "resource" (``key`` a
    resource key; ``action`` resize, migrate, live-migration, create, delete, …) or "host"
    (``key`` a host name; ``action`` enable or disable). The dated record
    (``books/history``) dates a change it sees by the latest happening of its subject."""

    at: datetime
    subject: str
    key: str
    action: str


class Unsupported(GovcloudError):
    """The driver lacks an ability the command needs."""

    def __init__(self, driver: str, ability: Ability) -> None:
        super().__init__(f"the {driver} driver cannot {WHAT[ability]} (it lacks the "
                         f"'{ability.value}' ability)", FIX[ability])
        self.ability = ability


class Driver(ABC):
    """A cloud, seen as resources keyed ``department/kind/name``.

    Every call is idempotent by key: creating a resource that already exists returns it,
    deleting one that is gone does nothing. That is what lets an interrupted apply be
    finished by the next run without duplicates.
    """

    name: ClassVar[str] = "abstract"
    abilities: ClassVar[frozenset[Ability]] = frozenset()

    def can(self, ability: Ability) -> bool:
        return ability in self.abilities

    @abstractmethod
    def read(self) -> list[Resource]:
        """Every resource govcloud manages in this cloud (of every department)."""

    def read_by_department(self) -> Iterator[tuple[str, list[Resource]]]:
        """Every resource govcloud manages, a department's at a time (each department once,
        with all of its resources): for a reader that needs one department at once (the
        exporter's drift). By default :meth:`read` grouped; a driver that can read one
        department cheaply does, so the reader holds one department, not the cloud."""
        groups: dict[str, list[Resource]] = {}
        for res in self.read():
            groups.setdefault(res.department, []).append(res)
        for department in sorted(groups):
            yield department, groups.pop(department)

    @abstractmethod
    def create(self, res: Resource) -> Resource:
        """Create ``res``; return it with what the cloud decided in ``computed``.

        A server may carry the host govcloud chose for it (:func:`requested_host`); a driver
        with PLACEMENT puts it there, or says why not (a warning) and lets the cloud choose.
        The returned server's ``computed["host"]`` is where it really runs."""

    @abstractmethod
    def update(self, before: Resource, after: Resource) -> Resource:
        """Change ``before`` in place to match ``after``."""

    @abstractmethod
    def delete(self, res: Resource) -> None:
        """Delete ``res`` (a no-op when it is already gone)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def retired(self, since: datetime) -> list[Resource]:
        """Resources deleted at or after ``since``, each with ``computed`` ``created_at`` and
        ``deleted_at``, so usage bills them for the hours they lived. None by default."""
        return []

    # --- abilities: override together with listing the ability in ``abilities`` ----------
    def servers_on_hosts(self) -> dict[str, str]:
        """Server key → the host it runs on."""
        raise Unsupported(self.name, Ability.PLACEMENT)

    def hosts(self) -> list[Host]:
        """The cloud's compute hosts, disabled ones included (``Host.enabled`` False)."""
        raise Unsupported(self.name, Ability.PLACEMENT)

    def usage(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        """Department → ``vcpu_hours`` and ``ram_mb_hours`` measured in [start, end)."""
        raise Unsupported(self.name, Ability.USAGE)

    def issue_credential(self, department: str, days: int | None = 90) -> dict[str, str]:
        """A credential scoped to one department's project; its secret is returned once."""
        raise Unsupported(self.name, Ability.CREDENTIALS)

    def migrate(self, server_key: str, host: str) -> Resource:
        """Live-migrate a running server to ``host``; return it as it runs there (its
        ``computed["host"]`` read back from the cloud). Idempotent: a server already on
        ``host`` is returned as it is. A transient failure raises a retryable DriverError."""
        raise Unsupported(self.name, Ability.MIGRATION)

    def set_host_enabled(self, host: str, enabled: bool, reason: str) -> None:
        """Enable or disable scheduling onto ``host`` (nova: the compute service's status,
        with ``reason`` as its disabled reason). Idempotent. Consolidation disables the hosts
        it freed with :func:`consolidated_reason`; apply enables them when it needs room."""
        raise Unsupported(self.name, Ability.MIGRATION)

    def happened(self, since: datetime) -> list[Happening]:
        """What the cloud did at or after ``since`` to servers (resize, migration) and hosts
        (enabled, disabled), oldest first, each with the cloud's own time (nova: the
        server's instance actions and the compute services)."""
        raise Unsupported(self.name, Ability.HISTORY)

    def cloud_catalogue(self, declared: Catalogue) -> CloudCatalogue:
        """The cloud's flavors (with sizes), images, and which of the declared flavors whose
        sizes differ servers use."""
        raise Unsupported(self.name, Ability.CATALOGUE)

    def make_flavors(self, create: list[Flavor], recreate: list[Flavor]) -> None:
        """Make the missing flavors; make again (delete, create) those no server uses whose
        sizes differ."""
        raise Unsupported(self.name, Ability.CATALOGUE)

    def identify(self, name: str, password: str,
                 keystone: KeystoneSettings) -> Identity | Refused:
        """The cloud account ``name`` with its grants if ``password`` is its password (the
        cloud checks it; it is kept nowhere), else Refused. An unreachable identity service
        is a DriverError."""
        raise Unsupported(self.name, Ability.SIGN_IN)

    def grants_of(self, user_id: str, keystone: KeystoneSettings) -> tuple[Grant, ...] | None:
        """The grants the account ``user_id`` holds now (None: it is gone or disabled), read
        with the driver's own credentials, so a signed-in person's role follows the cloud."""
        raise Unsupported(self.name, Ability.SIGN_IN)

    def token_identity(self, token: str, keystone: KeystoneSettings) -> Identity | None:
        """The cloud account a valid token of the cloud's identity service (a Keystone
        token) belongs to, with its grants; None for a token that is not valid (any more)."""
        raise Unsupported(self.name, Ability.SIGN_IN)
