"""The state store: last applied state, the apply journal, the apply lock, and driver tables.

One SQLite file by default (embedded, nothing to set up); a PostgreSQL URL works the same.
The lock dies with its holder: an flock on a file beside the SQLite database, or a
session-level advisory lock on PostgreSQL, so a killed apply never leaves a stale lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pwd
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from govcloud.core.desired import Resource
from govcloud.errors import LockHeld, StateError

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS applied (
        key TEXT PRIMARY KEY, department TEXT NOT NULL, kind TEXT NOT NULL,
        body TEXT NOT NULL, applied_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS applies (
        id TEXT PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, holder TEXT NOT NULL,
        total INTEGER NOT NULL, result TEXT, summary TEXT)""",
    """CREATE TABLE IF NOT EXISTS journal (
        apply_id TEXT NOT NULL, seq INTEGER NOT NULL, key TEXT NOT NULL, action TEXT NOT NULL,
        phase TEXT NOT NULL, at TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (apply_id, seq))""",
    # Every resource govcloud's applies set out to create (claimed before the cloud is asked,
    # so a run killed in between still owns it); only these are ever deleted.
    """CREATE TABLE IF NOT EXISTS owned (key TEXT PRIMARY KEY, since TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS lock_holder (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, since TEXT NOT NULL)""",
]

LOCK_KEY = 7_031_942  # advisory lock id for PostgreSQL


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def holder_id() -> str:
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


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
    """A connection to the state store. Thread-safe: one connection, one lock around it."""

    def __init__(self, url: str, root: Path | None = None) -> None:
        self.url = url
        self._mutex = threading.RLock()
        self._lock_file: Any = None
        self._lock_conn: Any = None
        parts = urlsplit(url)
        if parts.scheme == "sqlite":
            raw = url[len("sqlite:///"):]
            path = Path(raw)
            if not path.is_absolute():
                path = (root or Path.cwd()) / path
            self.path: Path | None = path
            self.kind = "sqlite"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._conn: Any = sqlite3.connect(path, check_same_thread=False,
                                                  isolation_level=None, timeout=30)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.execute("PRAGMA busy_timeout=30000")
            except (OSError, sqlite3.Error) as exc:
                raise StateError(f"cannot open the state store {path}: {exc}",
                                 "check state.url in govcloud.yaml and the folder's "
                                 "permissions") from exc
        elif parts.scheme in ("postgresql", "postgres"):
            import psycopg  # imported here: the pure core never needs it

            self.path = None
            self.kind = "postgresql"
            try:
                self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise StateError(f"cannot connect to the state store {_redact(url)}: "
                                 f"{str(exc).strip().splitlines()[0]}",
                                 "check state.url and that PostgreSQL is running") from exc
        else:
            raise StateError(f"unsupported state store URL {_redact(url)}",
                             "use sqlite:///path or postgresql://user@host/db")
        self._in_tx = False
        for stmt in SCHEMA:
            self.execute(stmt)

    # --- plumbing -------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._mutex:
            self._conn.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._mutex:
            if self.kind == "sqlite":
                self._conn.executemany(sql, rows)
            else:
                with self._conn.cursor() as cur:
                    cur.executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._mutex:
            cur = self._conn.execute(self._sql(sql), tuple(params))
            return list(cur.fetchall())

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        with self._mutex:
            if self._in_tx:
                yield
                return
            self._in_tx = True
            try:
                if self.kind == "sqlite":
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield
                    except BaseException:
                        self._conn.execute("ROLLBACK")
                        raise
                    self._conn.execute("COMMIT")
                else:
                    with self._conn.transaction():
                        yield
            finally:
                self._in_tx = False

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

    # --- last applied state ---------------------------------------------------------------
    def applied(self) -> dict[str, Resource]:
        return {key: Resource.from_dict(json.loads(body))
                for key, body in self.query("SELECT key, body FROM applied")}

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

    def journal_of(self, apply_id: str) -> list[tuple[str, str, str, str]]:
        return [tuple(r) for r in self.query(
            "SELECT key, action, phase, detail FROM journal WHERE apply_id = ? ORDER BY seq",
            (apply_id,))]

    # --- lock -----------------------------------------------------------------------------
    def lock(self, timeout: float = 0.0, poll: float = 0.2) -> None:
        """Take the apply lock, waiting up to ``timeout`` seconds; LockHeld says who has it."""
        deadline = time.monotonic() + timeout
        while True:
            if self._try_lock():
                self.execute("INSERT INTO lock_holder (name, holder, since) VALUES ('apply',?,?) "
                             "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                             "since = excluded.since", (holder_id(), now()))
                return
            if time.monotonic() >= deadline:
                rows = self.query("SELECT holder, since FROM lock_holder WHERE name = 'apply'")
                who, since = rows[0] if rows else ("another process", "an unknown time")
                waited = f" after waiting {timeout:g}s" if timeout else ""
                raise LockHeld(f"the state store is locked by {who} since {since}{waited}",
                               "wait for that apply to finish, or pass --lock-timeout SECONDS "
                               "to wait for it")
            time.sleep(poll)

    def _try_lock(self) -> bool:
        if self.kind == "sqlite":
            assert self.path is not None
            handle = open(str(self.path) + ".lock", "a+")  # noqa: SIM115 - held while locked
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            self._lock_file = handle
            return True
        import psycopg

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


def _redact(url: str) -> str:
    """A URL safe to print: the password replaced."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def open_store(url: str, root: Path) -> Store:
    env = os.environ.get("GOVCLOUD_STATE_URL")
    return Store(env or url, root)
