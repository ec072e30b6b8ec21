"""A state store as one file and back: SQLite's online backup API (a consistent copy of a
live database, never a file copy of one being written) or ``pg_dump`` in its custom format;
loaded again into a new store (a copy of the file, or ``pg_restore``). A store is only ever
loaded into a target that holds nothing. A PostgreSQL password goes to pg_dump and
pg_restore in their environment (``PGPASSWORD``), never on their command line."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from govcloud.errors import StateError
from govcloud.state.tables import private_folder, tighten
from govcloud.state.url import Location, locate, redact

if TYPE_CHECKING:  # store.py opens older stores with state/upgrade, which dumps with this
    from govcloud.state.store import Store

SQLITE_FILE = "govcloud-state.db"
PG_FILE = "govcloud-state.pgdump"
TIMEOUT = 6 * 3600
PG_INSTALL = "install the PostgreSQL client tools of the server's version or newer " \
             "(apt-get install postgresql-client) on this host"


def dump_name(kind: str) -> str:
    return SQLITE_FILE if kind == "sqlite" else PG_FILE


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that carries the password."""
    parts = urlsplit(url)
    env = dict(os.environ)
    if parts.password is None:
        return url, env
    env["PGPASSWORD"] = unquote(parts.password)
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}")), env


def _pg_tool(args: list[str], url: str, doing: str) -> None:
    bare, env = libpq(url)
    try:
        proc = subprocess.run([*args, "--dbname", bare], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise StateError(f"{args[0]} is not installed: it is needed to {doing}",
                         PG_INSTALL) from None
    if proc.returncode != 0:
        said = (proc.stderr.strip().splitlines() or ["no message"])[-1][:300]
        fix = PG_INSTALL if "version mismatch" in said else \
            "check the URL and that PostgreSQL is running and lets this user in"
        raise StateError(f"{args[0]} failed to {doing} ({redact(url)}): {said}", fix)


def dump(store: Store, folder: Path, name: str | None = None) -> Path:
    """Write ``store`` as one file in ``folder`` (named ``name``, else by its kind): a
    consistent copy even while govcloud writes to it."""
    out = folder / (name or dump_name(store.kind))
    if store.path is not None:
        try:
            _owner_only_file(out)
            with contextlib.closing(sqlite3.connect(store.path)) as src, \
                    contextlib.closing(sqlite3.connect(out)) as dst:
                src.backup(dst)
        except sqlite3.Error as exc:
            raise StateError(f"cannot copy the state store {store.path}: {exc}",
                             f"check free space in {folder} and that the store opens "
                             "(govcloud history)") from exc
        return out
    _owner_only_file(out)  # pg_dump writes into it (its own file would follow the umask)
    _pg_tool(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", "--file",
              str(out)], store.url, "dump the state store")
    tighten(out, 0o600)
    return out


def target_problem(where: Location) -> str | None:
    """Why a store cannot be loaded at ``where`` (it holds something), or None."""
    if where.path is not None:
        p = where.path
        if p.is_symlink() or p.exists():  # even an empty file: it may be someone's
            return f"{p} already exists"
        return None
    import psycopg  # the postgres extra: the URL names a PostgreSQL store

    try:
        with psycopg.connect(where.url, autocommit=True, connect_timeout=10) as conn:
            rows = conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                "table_schema = current_schema()").fetchone()
    except psycopg.Error as exc:
        said = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise StateError(f"cannot connect to {redact(where.url)}: {said}",
                         connect_fix(said)) from exc
    if rows and rows[0]:
        return f"the database {redact(where.url)} already holds {rows[0]} table(s)"
    return None


def connect_fix(said: str) -> str:
    """The fix for libpq's complaint ``said`` about connecting to a target database."""
    if "authentication failed" in said or "no password supplied" in said:
        return ("the password or authentication failed: check the user and password in the "
                "URL (postgresql://USER:PASSWORD@HOST/DB, or PGPASSWORD / ~/.pgpass)")
    if "does not exist" in said and "database" in said:
        return "create the database first (createdb NAME) and check the URL"
    return ("check the URL (host, port, database) and that PostgreSQL is running and lets "
            "this user in")


def load(dumped: Path, kind: str, url: str, root: Path) -> Location:
    """Load a dump of a ``kind`` store into the new store at ``url``, which must hold
    nothing."""
    where = locate(url, root)
    if where.kind != kind:
        raise StateError(f"this backup is of a {kind} store; {where} is {where.kind}",
                         "restore it into a store of its kind, then move it with govcloud "
                         "state move --to postgresql://…" if kind == "sqlite" else
                         "restore it into an empty PostgreSQL database")
    problem = target_problem(where)
    if problem:
        raise StateError(f"will not restore over a store: {problem}",
                         "give a new file or an empty database (createdb NAME), or move the "
                         "old one away first")
    if where.path is None:
        _pg_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error",
                  "--single-transaction", str(dumped)], url, "restore the state store")
        return where
    if not where.path.parent.exists():
        private_folder(where.path.parent)
    try:
        _owner_only_file(where.path)
        with contextlib.closing(sqlite3.connect(dumped)) as src, \
                contextlib.closing(sqlite3.connect(where.path)) as dst:
            src.backup(dst)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(f"cannot write the restored store {where.path}: {exc}",
                         "check the folder's permissions and free space") from exc
    return where


def _owner_only_file(path: Path) -> None:
    """An empty file only its owner may read, made before SQLite writes into it."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    tighten(path, 0o600)
