"""The state store: last applied state, the apply journal, the apply lock, and driver tables.

One SQLite file by default (embedded, nothing to set up); a PostgreSQL URL works the same.
The lock dies with its holder: an flock on a file beside the SQLite database, or a
session-level advisory lock on PostgreSQL, so a killed apply never leaves a stale lock.

The store knows it is govcloud's: its ``meta`` table holds a schema version and the estate's
name. A store that is missing is made on first use: the estate's own ``.state/`` folder is
created (owner-only), any other folder must exist; an empty PostgreSQL database is set up.
A SQLite file that was deleted (its lock file is left), is empty (0 bytes), not a database,
another program's, or another estate's is refused with the way out, never taken for a new
estate; ``govcloud state init`` starts a new, empty store on purpose. Files are owner-only
(0700 folder, 0600 files). The tables themselves, and the making of a new SQLite file, are
``state.tables``.
"""

from __future__ import annotations

import contextlib
import contextvars
import fcntl
import json
import os
import pwd
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.clock import now
from govcloud.core.desired import Resource
from govcloud.core.model import AuditSettings
from govcloud.errors import DamagedState, LockHeld, MissingExtra, StateError
from govcloud.state import disk, upgrade
from govcloud.state.tables import (
    AFTER_DELETE,
    KNOWN_TABLES,
    LEGACY,
    SCHEMA_VERSION,
    create_sqlite,
    private_folder,
    tighten,
)
from govcloud.state.url import locate, redact

# SQLite's names for a statement the disk failed (SQLITE_IOERR_WRITE and the like included).
_DISK_FAULTS = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")
# Tables whose rows no derived figure reads: sessions, the audit trail (and its head in
# meta, with the schema version, the estate's name and the session secret), accounts and
# their second factors, API tokens, the lock's holder. Writing them leaves ``Store.version``
# (the meta row VERSION, set anew in the transaction of a write of any other table) alone.
VERSION = "figures_version"
BOOKKEEPING = frozenset({"sessions", "audit", "meta", "users", "second_factors", "tokens",
                         "lock_holder"})
_WRITE = re.compile(r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|REPLACE\s+INTO|UPDATE|"
                    r"DELETE\s+FROM)\s+(\w+)", re.IGNORECASE)
# The schema made sure of before a read (``records.ensure_tables``, ``tokens``): at most an
# empty table, which changes no figure; counted, it made every statement a write and so
# emptied the portal's figures on each page.
_ENSURE = re.compile(r"\s*CREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX)\s+IF\s+NOT\s+EXISTS\s",
                     re.IGNORECASE)

STATE_FOLDER = ".state"
DEFAULT_AUDIT = AuditSettings()  # the audit key and anchors in the estate's .state-keys/
LOCK_KEY = 7_031_942  # advisory lock id for PostgreSQL


# The person an apply runs for when it is not the shell's user: an operator in the portal.
_ACTING_FOR: contextvars.ContextVar[str | None] = contextvars.ContextVar("acting_for",
                                                                         default=None)


@contextlib.contextmanager
def acting_for(name: str) -> Iterator[None]:
    """Within this block (this thread), locks and applies are taken for ``name``: the lock's
    holder, the apply's record in ``govcloud history`` and its audit record name them."""
    token = _ACTING_FOR.set(name)
    try:
        yield
    finally:
        _ACTING_FOR.reset(token)


def acting() -> str | None:
    """The person set by ``acting_for``, if any."""
    return _ACTING_FOR.get()


def holder_id() -> str:
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    process = f"{user}@{socket.gethostname()} pid {os.getpid()}"
    person = acting()
    return f"{person} (portal, {process})" if person else process


@dataclass(frozen=True)
class ApplyRecord:
    id: str
    started_at: str
    finished_at: str | None
    holder: str
    total: int
    result: str | None
    done: int


class Store:
    """A connection to the state store. Thread-safe: one connection, one lock around it.

    ``estate`` is the estate's name: recorded in a new store, checked against an existing
    one. ``init`` starts a new store on purpose: it creates missing folders and sets up an
    empty file (never one that holds anything). ``audit`` says where the audit trail keeps
    its key and anchors, outside the store (``audit.custody``; relative to ``root``)."""

    def __init__(self, url: str, root: Path | None = None, estate: str | None = None,
                 init: bool = False, audit: AuditSettings = DEFAULT_AUDIT) -> None:
        self.url = url
        self.where = locate(url, root)
        self.root = root or Path.cwd()
        self.audit = audit
        self._after_commit: list[Callable[[], None]] = []
        self._mutex = threading.RLock()
        self._changed = False  # the open transaction wrote what a figure reads
        self._lock_file: Any = None
        self._lock_conn: Any = None
        self._in_tx = False
        self.created = False  # this open made the store (first use or init)
        self.pre_upgrade: Path | None = None  # the copy taken before this open migrated it
        self.upgraded_from: str | None = None  # the schema version it migrated from
        self.path: Path | None = self.where.path
        if self.path is not None:
            self.kind = "sqlite"
            try:
                self._conn: Any = self._open_sqlite(self.path, root, init)
            except OSError as exc:
                raise disk.os_error(self.path, exc) from exc
        else:
            try:  # imported here: the pure core never needs it, nor a SQLite estate
                import psycopg
            except ImportError as exc:
                raise MissingExtra("a PostgreSQL state store (state.url postgresql://…)",
                                   "postgres", "psycopg",
                                   "leave state.url and GOVCLOUD_STATE_URL unset for the "
                                   "SQLite store") from exc

            self.kind = "postgresql"
            try:
                self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise StateError(f"cannot connect to the state store {redact(url)}: "
                                 f"{str(exc).strip().splitlines()[0]}",
                                 "check state.url and that PostgreSQL is running") from exc
        self._identify(estate, init)
        if self.kind == "sqlite":  # only once it is known to be ours: this writes the file
            self.execute("PRAGMA journal_mode=WAL")
            self.execute("PRAGMA synchronous=NORMAL")

    # --- opening --------------------------------------------------------------------------
    def _open_sqlite(self, path: Path, root: Path | None, init: bool) -> Any:
        folder = path.parent
        if not folder.is_dir():
            own = ((root or Path.cwd()) / STATE_FOLDER).resolve()
            ours = folder.resolve() == own and folder.parent.is_dir()
            if not (ours or init):
                raise StateError(f"the folder of the state store {path} does not exist",
                                 "fix state.url in govcloud.yaml (or GOVCLOUD_STATE_URL) if "
                                 "it is a typo; to start a new store there, run govcloud "
                                 "state init")
            private_folder(folder)
        elif folder.name == STATE_FOLDER:  # ours: owner-only even if an older govcloud made it
            tighten(folder, 0o700)
            for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}.lock"):
                tighten(folder / name, 0o600)
        if path.exists() or path.is_symlink():
            if not path.is_file():
                raise StateError(f"the state store {path} is not a regular file",
                                 "point state.url at the govcloud.db file")
            if path.stat().st_size == 0 and not init:
                raise StateError(
                    f"the state store {path} is empty (0 bytes): its applied state, journal "
                    "and sim cloud are gone",
                    "restore it from a backup; to start a new, empty estate on purpose, run "
                    "govcloud state init")
            if init:
                tighten(path, 0o600)
        elif Path(f"{path}.lock").exists() and not init:
            raise StateError(f"the state store {path} is missing, though its lock file is "
                             "there: it was deleted or moved",
                             "restore it from a backup; to start a new, empty estate on "
                             "purpose, run govcloud state init")
        else:
            self.created = create_sqlite(path)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            if disk.damaged(exc):
                raise StateError(f"{path} is not a govcloud state store: {exc}",
                                 "restore the store from a backup, or check state.url; to "
                                 "start anew, move the file away and run govcloud state "
                                 "init") from exc
            raise disk.io_error(path, exc) from exc
        except OSError as exc:
            raise StateError(f"cannot open the state store {path}: {exc}",
                             "check state.url in govcloud.yaml and the folder's "
                             "permissions") from exc
        return conn

    def _tables(self) -> set[str]:
        if self.kind == "sqlite":
            rows = self.query("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            rows = self.query("SELECT table_name FROM information_schema.tables "
                              "WHERE table_schema = current_schema()")
        return {r[0] for r in rows if not str(r[0]).startswith("sqlite_")}

    def _identify(self, estate: str | None, init: bool) -> None:
        """Make sure this is a govcloud store (of this estate); set up a new one. Read first,
        so opening a store that is already set up never waits for a write lock."""
        try:
            if self._check(estate, init, write=False):
                with self.transaction():
                    if self.kind == "postgresql":  # one set-up at a time
                        self.execute("SELECT pg_advisory_xact_lock(?)", (LOCK_KEY + 1,))
                    self._check(estate, init, write=True)
                if self.pre_upgrade is not None:  # said once it is committed
                    upgrade.announce(self)
        except sqlite3.DatabaseError as exc:
            if self.path is not None and not disk.damaged(exc):
                raise disk.io_error(self.path, exc) from exc
            raise StateError(f"{self.where} is not a govcloud state store: {exc}",
                             "restore the store from a backup, or check state.url; to start "
                             "anew, move the file away and run govcloud state init") from exc

    def _check(self, estate: str | None, init: bool, write: bool) -> bool:
        """Refuse a store that is not this estate's govcloud store; True when it has to be
        set up or stamped (done only when ``write``)."""
        tables = self._tables()
        version = self.get_meta("schema_version") if "meta" in tables else None
        if version is None:
            if not tables - {"meta"}:
                if self.kind == "sqlite" and not init and not self.created:
                    raise StateError(f"the state store {self.where} holds no govcloud tables",
                                     "restore it from a backup; to start a new, empty estate "
                                     "on purpose, run govcloud state init")
                self.created = True
            elif not (LEGACY <= tables and tables <= KNOWN_TABLES):
                shown = ", ".join(sorted(tables)[:6])
                raise StateError(f"{self.where} is not a govcloud state store (it holds the "
                                 f"tables {shown})", "check state.url in govcloud.yaml (or "
                                 "GOVCLOUD_STATE_URL); restore the store from a backup, or "
                                 "move it away and run govcloud state init")
            if not write:
                return True
            if self.created:
                upgrade.bring_up_to_date(self)
            else:  # made before stores held a version
                self._upgrade(None)
        elif not (version.isascii() and version.isdigit()) or int(version) > SCHEMA_VERSION:
            upgrade.refuse(self, version)
        elif int(version) < SCHEMA_VERSION or upgrade.too_narrow(self):  # an older store
            if not write:
                return True
            self._upgrade(version)
        owner = self.get_meta("estate")
        if estate and owner is not None and owner != estate:
            raise StateError(f"the state store {self.where} belongs to estate '{owner}', not "
                             f"'{estate}'", "point state.url at this estate's own store; if "
                             f"you renamed the estate, set estate: {owner} back")
        if estate and owner is None:
            if not write:
                return True
            self.set_meta("estate", estate)
        return False

    def _upgrade(self, version: str | None) -> None:
        """An older govcloud's store (``version``; None: from before stores held one):
        copied first (``state/upgrade``), then brought up to this version."""
        self.pre_upgrade = upgrade.copy_before(self, version)
        self.upgraded_from = version or "0"
        upgrade.bring_up_to_date(self)

    # --- plumbing -------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    def _changes_figures(self, sql: str) -> bool:
        """Whether ``sql`` writes a table a figure reads (not BOOKKEEPING, nor a schema
        made sure of); inside a transaction it is noted, and the transaction moves
        ``version`` when it commits."""
        match = None if _ENSURE.match(sql) else _WRITE.match(sql)
        changes = match is not None and match.group(1).lower() not in BOOKKEEPING
        self._changed |= changes and self._in_tx
        return changes

    @contextlib.contextmanager
    def _disk(self) -> Iterator[None]:
        """A SQLite statement the disk failed (full, read-only, an I/O error) after the store
        was opened — mid-apply, after a change was recorded — is the disk's StateError with
        its fix (``state/disk``), never an internal error."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            name = getattr(exc, "sqlite_errorname", "") or ""
            if self.path is None or not name.startswith(_DISK_FAULTS):
                raise
            raise disk.io_error(self.path, exc) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._mutex:
            if self._changes_figures(sql) and not self._in_tx:
                with self.transaction():  # the write and the version's move, together
                    self.execute(sql, params)
                return
            with self._disk():
                self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._mutex:
            if self._changes_figures(sql) and not self._in_tx:
                with self.transaction():
                    self.executemany(sql, rows)
                return
            with self._disk(), contextlib.closing(self._conn.cursor()) as cur:
                cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex, self._disk():
            cur = self._conn.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall())

    @contextlib.contextmanager
    def transaction(self, durable: bool = True, batched: bool = False) -> Iterator[None]:
        """All statements inside commit together or not at all. On PostgreSQL, ``durable=False``
        commits without waiting for the disk, as SQLite does (a SIGKILL loses nothing, a host's
        crash the last such commits); ``batched`` sends writes without waiting for answers."""
        with self._mutex:
            if self._in_tx:
                yield
                return
            self._in_tx = True
            try:
                if self.kind == "sqlite":
                    with self._disk():
                        self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield
                        self._move_version()
                    except BaseException:
                        with contextlib.suppress(sqlite3.OperationalError):
                            self._conn.execute("ROLLBACK")  # none left when SQLite undid it
                        raise
                    with self._disk():
                        self._conn.execute("COMMIT")
                else:
                    with self._conn.pipeline() if batched else contextlib.nullcontext(), \
                            self._conn.transaction():
                        if not durable:
                            self._conn.execute("SET LOCAL synchronous_commit TO OFF")
                        yield
                        self._move_version()
            except BaseException:
                self._after_commit.clear()
                raise
            finally:
                self._in_tx = self._changed = False
            self._committed()

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the transaction this is called in has committed (at once
        outside one); never when it rolls back."""
        with self._mutex:
            self._after_commit.append(action)
            if not self._in_tx:
                self._committed()

    def _committed(self) -> None:
        actions, self._after_commit = self._after_commit, []
        for action in actions:
            action()

    def _move_version(self) -> None:  # in the transaction that wrote what a figure reads
        if self._changed:
            self.set_meta(VERSION, os.urandom(8).hex())

    def version(self) -> str:
        """A value that moves with every write of what a derived figure reads, by any
        connection (an apply, a usage collection, an approval; any worker or process), and
        with nothing else: a sign-in, a session or an audit record keeps every worker's
        figures. The meta row VERSION, set in the writing transaction (``_move_version``);
        random, so a store restored from a backup never repeats a value meaning other rows."""
        return self.get_meta(VERSION) or ""

    def close(self) -> None:
        self.unlock()
        with self._mutex:
            self._conn.close()

    def get_meta(self, name: str) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_meta(self, name: str, value: str) -> None:
        self.execute("INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) "
                     "DO UPDATE SET value = excluded.value", (name, value))

    # --- rows holding JSON -----------------------------------------------------------------
    def damaged(self, table: str, key: str, why: str,
                columns: dict[str, str] | None = None, after: str = "") -> DamagedState:
        """The error for a row that cannot be read: its table, its key and the way out.
        ``columns`` is the row's key as column -> value when the table's key is not the one
        column ``key``; ``after``, what to do once it is deleted, when the table's usual
        words do not say."""
        where = " AND ".join(f"""{c} = '{v.replace("'", "''")}'"""
                             for c, v in (columns or {"key": key}).items())
        sql = f"DELETE FROM {table} WHERE {where}"
        how = f'sqlite3 {self.path} "{sql}"' if self.path is not None else f"psql: {sql}"
        after = after or AFTER_DELETE.get(table, "govcloud apply rebuilds it")
        return DamagedState(f"the state store's {table} row '{key}' is damaged ({why})",
                            f"restore the store ({self.where}) from a backup, or delete that "
                            f"row ({how}): {after}", table, key)

    def document(self, table: str, key: str, body: Any,
                 columns: dict[str, str] | None = None) -> dict[str, Any]:
        """A row's JSON body as a mapping, or DamagedState naming the row (``columns``: see
        :meth:`damaged`)."""
        try:
            data = json.loads(body)
        except (TypeError, ValueError, RecursionError) as exc:
            raise self.damaged(table, key, f"invalid JSON: {exc}", columns) from None
        if not isinstance(data, dict):
            raise self.damaged(table, key, f"a JSON {type(data).__name__}, not an object",
                               columns)
        return data

    def resource(self, table: str, key: str, body: Any) -> Resource:
        """A row's body read back as a Resource, or DamagedState naming the row."""
        data = self.document(table, key, body)
        try:
            res = Resource.from_dict(data)
        except KeyError as exc:
            raise self.damaged(table, key, f"no {exc.args[0]!r} field") from None
        if not (isinstance(res.kind, str) and isinstance(res.department, str) and
                isinstance(res.name, str) and isinstance(res.attrs, dict) and
                isinstance(res.computed, dict) and isinstance(res.protected, bool)):
            raise self.damaged(table, key, "a field has the wrong type")
        if res.key != key:
            raise self.damaged(table, key, f"its body describes {res.key!r}")
        return res

    # --- last applied state ---------------------------------------------------------------
    def applied(self) -> dict[str, Resource]:
        return {key: self.resource("applied", key, body)
                for key, body in self.query("SELECT key, body FROM applied")}

    def applied_of(self, department: str) -> list[Resource]:
        """One department's resources of the last applied state."""
        return [self.resource("applied", key, body) for key, body in self.query(
            "SELECT key, body FROM applied WHERE department = ? ORDER BY key", (department,))]

    def record_applied(self, res: Resource) -> None:
        self.execute(
            "INSERT INTO applied (key, department, kind, body, applied_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET body = excluded.body, "
            "applied_at = excluded.applied_at",
            (res.key, res.department, res.kind, json.dumps(res.as_dict(), sort_keys=True,
                                                          ensure_ascii=False), now()))

    def forget_applied(self, key: str) -> None:
        self.execute("DELETE FROM applied WHERE key = ?", (key,))

    # --- ownership: what govcloud created -------------------------------------------------
    def claim(self, key: str) -> None:
        """Record that an apply is creating ``key`` (before it asks the cloud)."""
        self.execute("INSERT INTO owned (key, since) VALUES (?, ?) ON CONFLICT (key) "
                     "DO NOTHING", (key, now()))

    def release(self, key: str) -> None:
        """``key`` was deleted: govcloud no longer owns anything by that name."""
        self.execute("DELETE FROM owned WHERE key = ?", (key,))

    def owned(self) -> set[str]:
        """Keys of every resource govcloud's applies created (or recorded as applied)."""
        return {k for (k,) in self.query("SELECT key FROM owned UNION SELECT key FROM applied")}

    # --- journal --------------------------------------------------------------------------
    def begin_apply(self, apply_id: str, total: int) -> None:
        self.execute("INSERT INTO applies (id, started_at, holder, total) VALUES (?,?,?,?)",
                     (apply_id, now(), holder_id(), total))

    def journal(self, apply_id: str, seq: int, key: str, action: str, phase: str,
                detail: str = "") -> None:
        self.execute("INSERT INTO journal (apply_id, seq, key, action, phase, at, detail) "
                     "VALUES (?,?,?,?,?,?,?)", (apply_id, seq, key, action, phase, now(),
                                                detail))

    def finish_apply(self, apply_id: str, result: str, summary: dict[str, Any]) -> None:
        self.execute("UPDATE applies SET finished_at = ?, result = ?, summary = ? WHERE id = ?",
                     (now(), result, json.dumps(summary), apply_id))

    def applies(self, limit: int = 20) -> list[ApplyRecord]:
        rows = self.query(
            "SELECT a.id, a.started_at, a.finished_at, a.holder, a.total, a.result, "
            "(SELECT COUNT(*) FROM journal j WHERE j.apply_id = a.id AND j.phase = 'done') "
            "FROM applies a ORDER BY a.started_at DESC LIMIT ?", (limit,))
        return [ApplyRecord(*r) for r in rows]

    def interrupted(self) -> list[ApplyRecord]:
        """Applies that started and never finished (killed or crashed)."""
        return [a for a in self.applies(1000) if a.finished_at is None]

    def close_interrupted(self, by: str) -> None:
        self.execute("UPDATE applies SET finished_at = ?, result = ? WHERE finished_at IS NULL",
                     (now(), f"interrupted; finished by {by}"))

    def close_interrupted_apply(self, apply_id: str, why: str) -> None:
        """One interrupted run's record closed, with why (``interrupted; …``)."""
        self.execute("UPDATE applies SET finished_at = ?, result = ? WHERE id = ? AND "
                     "finished_at IS NULL", (now(), f"interrupted; {why}", apply_id))

    def journal_of(self, apply_id: str) -> list[tuple[str, str, str, str]]:
        return [tuple(r) for r in self.query(
            "SELECT key, action, phase, detail FROM journal WHERE apply_id = ? ORDER BY seq",
            (apply_id,))]

    # --- lock -----------------------------------------------------------------------------
    def lock(self, timeout: float = 0.0, poll: float = 0.2, doing: str = "apply") -> None:
        """Take the apply lock, waiting up to ``timeout`` seconds; LockHeld says who has it
        and what for (``doing``: the command holding it, such as apply or consolidate)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._try_lock():
                self.execute("INSERT INTO lock_holder (name, holder, since) VALUES ('apply',?,?) "
                             "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                             "since = excluded.since", (f"{holder_id()}, for {doing}", now()))
                return
            if time.monotonic() >= deadline:
                rows = self.query("SELECT holder, since FROM lock_holder WHERE name = 'apply'")
                who, since = rows[0] if rows else ("another process", "an unknown time")
                waited = f" after waiting {timeout:g}s" if timeout else ""
                raise LockHeld(f"the state store is locked by {who}, since {since}{waited}",
                               "wait for it to finish, or pass --lock-timeout SECONDS to wait "
                               "for it")
            time.sleep(poll)

    def _try_lock(self) -> bool:
        if self.kind == "sqlite":
            assert self.path is not None
            fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
            handle = os.fdopen(fd, "a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._lock_file = handle
            return True
        import psycopg  # the postgres extra: loaded by __init__ for this store already

        if self._lock_conn is None:
            self._lock_conn = psycopg.connect(self.url, autocommit=True)
        row = self._lock_conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
        return bool(row and row[0])

    def unlock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
        if self._lock_conn is not None:
            self._lock_conn.close()
            self._lock_conn = None


def store_url(url: str) -> str:
    """The state store's URL: GOVCLOUD_STATE_URL over the settings' state.url."""
    return os.environ.get("GOVCLOUD_STATE_URL") or url


def open_store(url: str, root: Path, estate: str | None = None, init: bool = False,
               audit: AuditSettings = DEFAULT_AUDIT) -> Store:
    return Store(store_url(url), root, estate, init, audit)


def never_made(url: str, root: Path) -> bool:
    """Whether the estate has no state store yet: a SQLite store whose file, link and lock
    file are all absent (a store that was there and is gone leaves its lock file, and opening
    it says so). A PostgreSQL store is always there to ask."""
    path = locate(store_url(url), root).path
    return path is not None and not path.exists() and not path.is_symlink() \
        and not Path(f"{path}.lock").exists()
