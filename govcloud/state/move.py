"""A SQLite state store moved to PostgreSQL: every table made on the target as SQLite has
it, every row copied in one transaction from one consistent read of the source, the rows
per table compared after, and the audit trail verified on the target. The target must hold
nothing; the source is left as it was (govcloud keeps using it until state.url changes)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.audit import trail
from govcloud.core.model import AuditSettings
from govcloud.errors import StateError
from govcloud.state import dump
from govcloud.state.backup import row_counts
from govcloud.state.store import Store
from govcloud.state.tables import APPEND_ONLY
from govcloud.state.url import locate, redact

# SQLite's REAL is 8 bytes; PostgreSQL's is 4. The copy keeps every digit.
_REAL = re.compile(r"\bREAL\b", re.IGNORECASE)
_BATCH = 5000


@dataclass
class Moved:
    source: str
    target: str
    rows: dict[str, int]
    target_rows: dict[str, int]
    audit: trail.ChainCheck
    differing: list[str]  # tables whose rows on the target are not the source's

    @property
    def ok(self) -> bool:
        return self.rows == self.target_rows and self.audit.whole and not self.differing

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "target": self.target, "ok": self.ok,
                "rows": self.rows, "target_rows": self.target_rows,
                "differing": self.differing, "audit": self.audit.as_dict()}


def _schema(source: Store) -> list[tuple[str, str, str]]:
    """(type, name, CREATE statement) of every table and index of the source, tables
    first."""
    rows = source.query("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                        "AND type IN ('table', 'index') AND name NOT LIKE 'sqlite_%' "
                        "ORDER BY type = 'index', name")
    return [(str(t), str(n), str(s)) for t, n, s in rows]


def _if_not_exists(sql: str) -> str:
    sql = re.sub(r"^\s*CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+(?!IF\s)", r"CREATE \1\2 IF NOT "
                 r"EXISTS ", sql, count=1, flags=re.IGNORECASE)
    return _REAL.sub("DOUBLE PRECISION", sql)


def _text_columns(source: Store, table: str) -> list[bool]:
    return [str(r[2]).upper() == "TEXT" for r in source.query(f'PRAGMA table_info("{table}")')]


def _rows(source: Store, table: str) -> list[tuple[Any, ...]]:
    """The table's rows, a value SQLite keeps as a number in a TEXT column as its text."""
    text = _text_columns(source, table)
    return [tuple(str(v) if t and v is not None and not isinstance(v, str) else v
                  for v, t in zip(row, text, strict=True))
            for row in source.query(f'SELECT * FROM "{table}"')]


def move(source: Store, target_url: str, root: Path, estate: str,
         audit: AuditSettings) -> Moved:
    """Copy ``source`` (SQLite) into the empty PostgreSQL database at ``target_url``."""
    if "://" not in target_url:
        raise StateError(f"--to {target_url} is not a PostgreSQL URL",
                         "give --to postgresql://USER@HOST/DATABASE (an empty database)")
    where = locate(target_url, root)
    if source.kind != "sqlite" or where.kind != "postgresql":
        raise StateError("state move copies a SQLite store into PostgreSQL "
                         f"(this is {source.kind} → {where.kind})",
                         "give --to postgresql://USER@HOST/DATABASE, with state.url the "
                         "SQLite store")
    problem = dump.target_problem(where)
    if problem:
        raise StateError(f"will not move the state store into a database that holds "
                         f"something: {problem}",
                         "give an empty database (createdb NAME), or drop the one there")
    source.lock(doing="state move")
    try:
        with source.transaction():  # one read of every table, none written meanwhile
            tables = _schema(source)
            counts = row_counts(source)
            data = {name: _rows(source, name) for kind, name, _ in tables if kind == "table"}
        _copy(tables, data, target_url)
    finally:
        source.unlock()
    target = Store(target_url, root, estate, audit=audit)
    try:
        differing = [name for name, rows in data.items()
                     if in_order(rows) != in_order(target.query(f'SELECT * FROM "{name}"'))]
        return Moved(str(source.where), redact(target_url), counts, row_counts(target),
                     trail.verify(target), differing)
    finally:
        target.close()


def in_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in one order whatever the database (a number and its float compare equal)."""
    def key(row: tuple[Any, ...]) -> tuple[tuple[int, Any], ...]:
        return tuple((0, "") if v is None else (1, float(v)) if isinstance(v, int | float)
                     else (2, str(v)) for v in row)
    return sorted(rows, key=key)


def _copy(tables: list[tuple[str, str, str]], data: dict[str, list[tuple[Any, ...]]],
          url: str) -> None:
    """Every table, index and row in one transaction on the target."""
    import psycopg  # the postgres extra: the target is PostgreSQL

    try:
        with psycopg.connect(url, connect_timeout=10) as conn, conn.transaction():
            for _, _, sql in tables:
                conn.execute(_if_not_exists(sql))
            for name, rows in data.items():
                if not rows:
                    continue
                marks = ", ".join(["%s"] * len(rows[0]))
                with conn.cursor() as cur:
                    for start in range(0, len(rows), _BATCH):
                        cur.executemany(f'INSERT INTO "{name}" VALUES ({marks})',
                                        rows[start:start + _BATCH])
            for stmt in APPEND_ONLY["postgresql"]:
                conn.execute(stmt)
    except psycopg.Error as exc:
        raise StateError(f"the move into {redact(url)} failed and nothing was kept there: "
                         f"{str(exc).strip().splitlines()[0]}",
                         "fix what PostgreSQL said, then run govcloud state move again (the "
                         "database is still empty)") from exc
