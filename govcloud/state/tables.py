"""The state store's tables: the schema every store is brought up to (``SCHEMA``, version
``SCHEMA_VERSION``), the audit trail's append-only triggers, the tables a store may hold and
still be govcloud's, what deleting a damaged row of a table costs, and the making of a new
SQLite store file already set up. ``store.Store`` opens, checks and migrates a store with
them."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import uuid
from pathlib import Path

from govcloud.clock import now
from govcloud.errors import StateError

# 1: applied state, journal, ownership, lock. 2: people and the audit trail (issue #14).
# 3: the audit trail keyed, each record naming its algorithm (issue #21). 4: the audit
# trail's delete trigger lets govcloud audit prune remove the records below its mark; the
# second factor (second_factors, and whether a session still waits for it: sessions.factor).
SCHEMA_VERSION = 4
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
    # Version 2. The people who sign in to the portal (local accounts; passwords argon2
    # hashes) and the append-only, hash-chained audit trail (govcloud.core.trail).
    """CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY, role TEXT NOT NULL, department TEXT, password TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
        changed_at TEXT NOT NULL, email TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
        subject TEXT NOT NULL, department TEXT NOT NULL, before TEXT NOT NULL,
        after TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, prev TEXT NOT NULL,
        hash TEXT NOT NULL, alg TEXT NOT NULL DEFAULT '')""",
    """CREATE INDEX IF NOT EXISTS audit_by_action ON audit (action, subject, at)""",
    # The portal's sign-in sessions: the SHA-256 of each session's random token (the cookie
    # holds the token, signed), so reading the store gives no usable cookie.
    """CREATE TABLE IF NOT EXISTS sessions (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL, created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL, factor TEXT NOT NULL DEFAULT '')""",
    # Departments' requests: a proposed edit of one plan file, its verdict, who must approve
    # and who has (govcloud.requests.records).
    """CREATE TABLE IF NOT EXISTS requests (
        id BIGINT PRIMARY KEY, department TEXT NOT NULL, kind TEXT NOT NULL,
        requester TEXT NOT NULL, state TEXT NOT NULL, payload TEXT NOT NULL,
        base TEXT NOT NULL, verdict TEXT NOT NULL, approvals TEXT NOT NULL,
        created_at TEXT NOT NULL, changed_at TEXT NOT NULL, note TEXT NOT NULL)""",
    # Version 4. Each person's second factor (govcloud.access.second_factor): the TOTP
    # secret (a secret: protected as the store is), when they enrolled ('' while not yet),
    # the last time-step used (no replay) and the SHA-256 of each unused recovery code.
    """CREATE TABLE IF NOT EXISTS second_factors (
        name TEXT PRIMARY KEY, secret TEXT NOT NULL, enrolled_at TEXT NOT NULL,
        last_step BIGINT NOT NULL, recovery TEXT NOT NULL)""",
]
# The audit trail refuses UPDATE and DELETE (and TRUNCATE) from any client: govcloud only
# appends. The one exception is ``govcloud audit prune`` (audit.retention): in one transaction
# it sets the meta row PRUNE_BELOW, deletes the records numbered below it (all older than the
# retention), removes the row again and appends its own record. Someone with the database's
# owner rights can still drop these or set that row; the keyed chain and the prune anchors
# kept outside the store are what detect that (govcloud audit verify).
PRUNE_BELOW = "audit_prune_below"
APPEND_ONLY = {
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
        # Version 4: deleting below the prune's mark is let through (made again on migration).
        """DROP TRIGGER IF EXISTS audit_no_delete""",
        f"""CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
           WHEN OLD.seq >= COALESCE((SELECT CAST(value AS INTEGER) FROM meta
                                     WHERE name = '{PRUNE_BELOW}'), 1)
           BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END""",
    ],
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION govcloud_audit_append_only() RETURNS trigger
           LANGUAGE plpgsql AS $$ BEGIN
             IF TG_OP = 'DELETE' THEN
               IF OLD.seq < COALESCE((SELECT value::bigint FROM meta
                                      WHERE name = '{PRUNE_BELOW}'), 1) THEN
                 RETURN OLD;
               END IF;
             END IF;
             RAISE EXCEPTION 'the audit trail is append-only'; END $$""",
        """CREATE OR REPLACE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
           FOR EACH ROW EXECUTE FUNCTION govcloud_audit_append_only()""",
        """CREATE OR REPLACE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
           FOR EACH STATEMENT EXECUTE FUNCTION govcloud_audit_append_only()""",
    ],
}


# Columns added to a table after it was first made: an older store gets them when it is
# brought up to date (an empty ``alg``: the record was sealed before the trail was keyed).
# A session's ``factor`` (its second factor: '' not asked, "enrol" or "code" waiting, "given"),
# version 4.
ADDED_COLUMNS = {"audit": {"alg": "TEXT NOT NULL DEFAULT ''"},
                 "sessions": {"factor": "TEXT NOT NULL DEFAULT ''"}}
# PostgreSQL columns an older govcloud declared narrower, as (its type as the server names
# it, the type now): the usage figures were REAL, 4 bytes there (6 significant digits).
RETYPED_COLUMNS = {"usage": {"allocated": ("real", "DOUBLE PRECISION"),
                             "used": ("real", "DOUBLE PRECISION")}}


def schema(kind: str) -> list[str]:
    """Every statement that sets up (or brings up to date) a store of ``kind``: each one
    idempotent, so an older store is migrated by running them all again."""
    return SCHEMA + APPEND_ONLY[kind]


# Every table govcloud makes (drivers and records add theirs); a store made before the meta
# table held a schema version has at least LEGACY.
KNOWN_TABLES = {"meta", "applied", "applies", "journal", "lock_holder", "sim_resources",
                "os_records", "usage", "statements", "owned", "users", "audit", "sessions",
                "requests", "tokens", "second_factors", "organisations", "request_life",
                "request_forms",
                "organisation_parents", "user_subtrees"}
LEGACY = {"applied", "applies", "journal"}
# What deleting a damaged row of a table costs, and what brings it back.
AFTER_DELETE = {
    "applied": "it only records the last apply; govcloud drift lists the resource as never "
               "applied until the next apply that changes anything records it again",
    "sim_resources": "that resource is gone from the sim cloud; govcloud plan shows it and "
                     "govcloud apply creates it again",
    "statements": "the month is open again; close it with govcloud statement close",
    "ratings": "a re-rate of the month compares with the rating before it, or none",
    "os_records": "govcloud apply records the resource again",
}


def create_sqlite(path: Path) -> bool:
    """Make a new, set-up store file, owner-only; atomically, so a second process opening
    the store at the same moment never sees a half-made (empty) file. False when another
    process made it first."""
    tmp = path.with_name(f".{path.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        conn = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN")
            for stmt in schema("sqlite"):
                conn.execute(stmt)
            conn.execute("INSERT INTO meta (name, value) VALUES ('schema_version', ?)",
                         (str(SCHEMA_VERSION),))
            conn.execute("INSERT INTO meta (name, value) VALUES ('created_at', ?)", (now(),))
            conn.execute("COMMIT")
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"cannot create the state store {path}: {exc}",
                         "check the folder's permissions and free space") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def private_folder(folder: Path) -> None:
    """Create a folder (and missing parents) only its owner can enter."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise StateError(f"cannot create the state folder {folder}: {exc.strerror}",
                         "check the permissions of its parent folder") from exc


def tighten(path: Path, mode: int) -> None:
    """Take away group and other access from a path of ours that has it."""
    with contextlib.suppress(OSError):
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o077:
            path.chmod(mode)
