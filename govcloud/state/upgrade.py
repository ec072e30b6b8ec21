"""A store written by an older govcloud brought up to this version on first use, after a
copy of it is taken: SQLite's online backup (or ``pg_dump``) into ``backups/`` beside the
store (the estate's ``.state/backups/`` for PostgreSQL), owner-only, named by the schema
version it had and the time (``govcloud-v3-20261126T120000Z.db``). With that copy and the
older release, the upgrade can be undone; without it being taken, nothing is migrated.
``store.Store`` calls these when it opens a store whose schema version is older."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from govcloud.clock import clock
from govcloud.errors import StateError
from govcloud.state import dump
from govcloud.state.tables import (
    ADDED_COLUMNS,
    RETYPED_COLUMNS,
    SCHEMA_VERSION,
    private_folder,
    schema,
)

if TYPE_CHECKING:
    from govcloud.state.store import Store

BACKUPS = "backups"


def copy_folder(store: Store) -> Path:
    """Where the copy taken before an upgrade goes."""
    if store.path is not None:
        return store.path.parent / BACKUPS
    return store.root / ".state" / BACKUPS


def copy_before(store: Store, version: str | None) -> Path:
    """A consistent copy of ``store`` as it is (schema ``version``; None: made before the
    store held one) in its backups folder; StateError, and nothing migrated, when it cannot
    be taken."""
    folder = copy_folder(store)
    private_folder(folder)
    when = clock().strftime("%Y%m%dT%H%M%SZ")
    suffix = ".db" if store.kind == "sqlite" else ".pgdump"
    base = f"govcloud-v{version or 0}-{when}"
    name, n = base + suffix, 1
    while (folder / name).exists():
        n += 1
        name = f"{base}-{n}{suffix}"
    return dump.dump(store, folder, name)


def refuse(store: Store, version: str) -> None:
    """StateError for a store whose recorded schema version this govcloud cannot open: not a
    version at all (its meta row damaged), or a newer release's."""
    if not (version.isascii() and version.isdigit()):
        raise StateError(f"the state store {store.where} records the schema version "
                         f"{version!r}, which is not a valid version (meta.schema_version "
                         "is damaged); nothing was changed", "restore the store from a "
                         "backup (govcloud state restore; docs/operations.md), or put back "
                         f"the copy the last upgrade took (in {copy_folder(store)}) as the "
                         "store")
    raise StateError(f"the state store {store.where} has schema version {version}; this "
                     f"govcloud knows {SCHEMA_VERSION}: a newer release migrated it",
                     "use that release (or newer); to go back to this one, put back the "
                     f"copy the upgrade took first (govcloud-v{SCHEMA_VERSION}-*, in "
                     f"{copy_folder(store)}) as the store")


def announce(store: Store) -> None:
    """One line on stderr once a store has been migrated: the old and new schema versions
    and where the copy of the old store is."""
    print(f"govcloud: the state store {store.where} was migrated from schema "
          f"{store.upgraded_from} to {SCHEMA_VERSION}; a copy of the old store is at "
          f"{store.pre_upgrade}", file=sys.stderr)


def bring_up_to_date(store: Store) -> None:
    """Every table and trigger of this version, the columns added to tables an older
    govcloud made (the audit trail's ``alg``, version 3), and PostgreSQL columns an older
    govcloud declared too narrow; each step idempotent."""
    for stmt in schema(store.kind):
        store.execute(stmt)
    for table, columns in ADDED_COLUMNS.items():
        have = columns_of(store, table)
        for name, kind in columns.items():
            if name not in have:
                store.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    for table, column, kind in too_narrow(store):  # each value as govcloud read it: the
        # float4's shortest text (0.012097), not its binary value (0.012097000144…)
        store.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {kind} "
                      f"USING {column}::text::{kind}")
    store.set_meta("schema_version", str(SCHEMA_VERSION))


def too_narrow(store: Store) -> list[tuple[str, str, str]]:
    """(table, column, type) of each PostgreSQL column still of an older, narrower type: the
    usage figures were ``real`` (4 bytes, 6 digits) before they were double precision."""
    if store.kind != "postgresql":
        return []
    out = []
    for table, columns in RETYPED_COLUMNS.items():
        for column, (old, new) in columns.items():
            rows = store.query("SELECT data_type FROM information_schema.columns WHERE "
                               "table_schema = current_schema() AND table_name = ? AND "
                               "column_name = ?", (table, column))
            if rows and rows[0][0] == old:
                out.append((table, column, new))
    return out


def columns_of(store: Store, table: str) -> set[str]:
    if store.kind == "sqlite":
        return {r[1] for r in store.query(f"PRAGMA table_info({table})")}
    return {r[0] for r in store.query("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_schema = current_schema() AND "
                                      "table_name = ?", (table,))}
