"""Upgrades (#26): a store made by the release before this issue, by that release's own code
(checked out of this repository's history, run from its tree), is opened by this checkout's:
migrated forward with a copy taken first, nothing lost (every table's rows, the closed month's
chargeback byte for byte, a whole audit trail), the copy still the old release's store; the
old release then refuses the migrated store (exit 1, one line, no traceback)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from govcloud.state.tables import SCHEMA_VERSION
from tests.support.cli import BUILT, NOW, one_line
from tests.support.estate import ESTATE_PARTS, REPO

pytestmark = [pytest.mark.real]

# The release before #26: main just before its first merge (199ceb1, "Merge h26-s: govcloud
# state backup, restore and move (#26)"), schema version 3. A commit of main's history: it
# never changes. A shallow clone lacks it, and this test then fails saying to fetch it.
RELEASE = "9444d37dbc9bada66de6be4b153fe80d1cc68d49"
RELEASE_SCHEMA = 3
PERIOD = "2026-10"
PASSWORD = "correct horse battery staple"
QUOTA = {"kind": "quota", "department": "statistics", "reason": "census season",
         "quota": {"volumes": 6}}


def _git(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                          timeout=60)


def _release_tree(dest: Path) -> Path:
    """The release's govcloud and example estate, from git (never by hand)."""
    found = _git("cat-file", "-e", f"{RELEASE}^{{commit}}")
    if found.returncode != 0:
        pytest.fail(f"commit {RELEASE} (the release before #26) is not in this clone: fetch "
                    "the history (git fetch --unshallow, or actions/checkout with "
                    "fetch-depth: 0)", pytrace=False)
    tables = _git("show", f"{RELEASE}:govcloud/state/tables.py").stdout
    assert f"\nSCHEMA_VERSION = {RELEASE_SCHEMA}\n" in tables
    archive = dest.with_suffix(".tar")
    made = _git("archive", "--format=tar", "-o", str(archive), RELEASE, "govcloud",
                *ESTATE_PARTS)
    assert made.returncode == 0, made.stderr
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _run(code: Path, estate: Path, *args: str, env: dict[str, str] = NOW, stdin: str = "",
         url: str | None = None) -> subprocess.CompletedProcess[str]:
    """``govcloud ARGS`` on ``estate`` by the code in the tree ``code`` (run there: ``-m``
    puts the working folder first on the path)."""
    extra = {"GOVCLOUD_STATE_URL": url} if url else {}
    full = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(code), **env, **extra}
    return subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          input=stdin, capture_output=True, text=True, env=full, timeout=180,
                          cwd=code)


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def _history(old: Path, estate: Path, url: str | None = None) -> None:
    """An estate with history, made by the release: applied on New Year's Day, October's
    usage collected and the month closed, people added, a request filed and approved."""
    _ok(_run(old, estate, "apply", "--yes", env=BUILT, url=url))
    _ok(_run(old, estate, "usage", "collect", "--period", PERIOD, url=url))
    _ok(_run(old, estate, "statement", "close", "--period", PERIOD, url=url))
    for name, role, dep in (("li", "member", "statistics"), ("op1", "operator", "")):
        _ok(_run(old, estate, "users", "add", name, "--role", role,
                 *(("--department", dep) if dep else ()), "--password-stdin",
                 stdin=PASSWORD + "\n", url=url))
    _git("init", "-q", cwd=estate)
    _git("add", "govcloud.yaml", "plans", "policies", "prices.yaml", cwd=estate)
    assert _git("-c", "user.name=ops", "-c", "user.email=ops@example", "commit", "-qm", "init",
                cwd=estate).returncode == 0
    request = estate.parent / "request.json"
    request.write_text(json.dumps(QUOTA))
    filed = json.loads(_ok(_run(old, estate, "request", "new", str(request), "--as", "li",
                                "-o", "json", url=url)))
    _ok(_run(old, estate, "request", "approve", str(filed["id"]), "--as", "op1", url=url))


def _rows(db: Path | str) -> dict[str, list[tuple[object, ...]]]:
    """Every table's rows, in order (the meta table without its schema version), of a SQLite
    file or a PostgreSQL URL."""
    if isinstance(db, str):
        import psycopg

        with psycopg.connect(db) as pg:
            names = [n for (n,) in pg.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "current_schema()").fetchall()]
            out = {n: sorted(pg.execute(f"SELECT * FROM {n}").fetchall(), key=repr)
                   for n in names}
    else:
        with sqlite3.connect(db) as conn:
            names = [n for (n,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%'")]
            out = {n: sorted(conn.execute(f"SELECT * FROM {n}").fetchall(), key=repr)
                   for n in names}
    out["meta"] = [r for r in out["meta"] if r[0] != "schema_version"]
    return out


def _version(db: Path | str) -> str:
    if isinstance(db, str):
        import psycopg

        with psycopg.connect(db) as pg:
            row = pg.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
            return str(row[0] if row else None)
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT value FROM meta WHERE name = 'schema_version'")
                   .fetchone()[0])


def _estate(tmp_path: Path) -> tuple[Path, Path]:
    """The release's tree, and its example estate beside it."""
    old = _release_tree(tmp_path / "release")
    estate = tmp_path / "estate"
    estate.mkdir()
    for part in ESTATE_PARTS:
        if (old / part).exists():
            (old / part).rename(estate / part)
    return old, estate


def test_the_previous_releases_sqlite_store_is_copied_migrated_and_not_downgraded(
        tmp_path: Path) -> None:
    old, estate = _estate(tmp_path)
    _history(old, estate)
    db = estate / ".state" / "govcloud.db"
    assert _version(db) == str(RELEASE_SCHEMA)
    before = _rows(db)
    assert len(before["usage"]) > 100 and len(before["requests"]) == 1
    assert len(before["statements"]) == 1 and len(before["audit"]) >= 4
    chargeback = _ok(_run(old, estate, "report", "chargeback", "-o", "json", "--period",
                          PERIOD))
    assert json.loads(_ok(_run(old, estate, "audit", "verify", "-o", "json")))["whole"]

    # This checkout opens it: the copy first, then the migration.
    first = _run(REPO, estate, "report", "chargeback", "-o", "json", "--period", PERIOD)
    new_chargeback = _ok(first)
    assert _version(db) == str(SCHEMA_VERSION) != str(RELEASE_SCHEMA)
    copies = sorted((db.parent / "backups").iterdir())
    assert [c.name for c in copies] == [f"govcloud-v{RELEASE_SCHEMA}-20261126T120000Z.db"]
    copy = copies[0]
    assert first.stderr == (f"govcloud: the state store {db} was migrated from schema "  # said
                            f"{RELEASE_SCHEMA} to {SCHEMA_VERSION}; a copy of the old store "
                            f"is at {copy}\n")
    assert copy.stat().st_mode & 0o777 == 0o600
    assert copy.parent.stat().st_mode & 0o777 == 0o700
    assert _version(copy) == str(RELEASE_SCHEMA) and _rows(copy) == before

    after = _rows(db)
    assert {t: after[t] for t in before} == before  # nothing lost, nothing changed
    assert all(not after[t] for t in set(after) - set(before)), "new tables start empty"
    assert new_chargeback == chargeback
    verdict = json.loads(_ok(_run(REPO, estate, "audit", "verify", "-o", "json")))
    assert verdict["whole"] and verdict["records"] == len(before["audit"]), verdict

    # The copy is still the release's store: the release reads it as before.
    url = f"sqlite:///{copy}"
    assert _ok(_run(old, estate, "report", "chargeback", "-o", "json", "--period", PERIOD,
                    url=url)) == chargeback

    # Downgrade: the release refuses the migrated store, in one line with what to do.
    refused = _run(old, estate, "report", "chargeback", "--period", PERIOD)
    one_line(refused, f"has schema version {SCHEMA_VERSION}",
             f"this govcloud knows {RELEASE_SCHEMA}", "use the govcloud release")
    assert _version(db) == str(SCHEMA_VERSION)

    # Opened again, nothing more is copied or migrated (the release's reading of the copy
    # left its -wal and -shm beside it).
    _ok(_run(REPO, estate, "report", "chargeback", "--period", PERIOD))
    assert sorted((db.parent / "backups").glob("*.db")) == copies


@pytest.mark.postgres
def test_the_previous_releases_postgresql_store_is_copied_migrated_and_not_downgraded(
        tmp_path: Path, fresh_pg: str, postgres_url: str) -> None:
    old, estate = _estate(tmp_path)
    _history(old, estate, fresh_pg)
    assert _version(fresh_pg) == str(RELEASE_SCHEMA)
    before = _rows(fresh_pg)
    assert len(before["usage"]) > 100 and len(before["requests"]) == 1
    chargeback = _ok(_run(old, estate, "report", "chargeback", "-o", "json", "--period",
                          PERIOD, url=fresh_pg))

    new_chargeback = _ok(_run(REPO, estate, "report", "chargeback", "-o", "json",
                              "--period", PERIOD, url=fresh_pg))
    assert _version(fresh_pg) == str(SCHEMA_VERSION)
    [copy] = (estate / ".state" / "backups").iterdir()
    assert copy.name.startswith(f"govcloud-v{RELEASE_SCHEMA}-") and copy.suffix == ".pgdump"
    assert copy.stat().st_mode & 0o777 == 0o600
    after = _rows(fresh_pg)
    assert {t: after[t] for t in before} == before
    assert all(not after[t] for t in set(after) - set(before)), "new tables start empty"
    assert new_chargeback == chargeback
    verdict = json.loads(_ok(_run(REPO, estate, "audit", "verify", "-o", "json",
                                  url=fresh_pg)))
    assert verdict["whole"] and verdict["records"] == len(before["audit"]), verdict

    # The copy restores into an empty database that the release reads as before.
    import psycopg

    name = "copy_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    target = postgres_url.rsplit("/", 1)[0] + "/" + name
    restored = subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", "--dbname",
                               target, str(copy)], capture_output=True, text=True, timeout=60)
    assert restored.returncode == 0, restored.stderr
    assert _rows(target) == before
    assert _ok(_run(old, estate, "report", "chargeback", "-o", "json", "--period", PERIOD,
                    url=target)) == chargeback

    refused = _run(old, estate, "report", "chargeback", "--period", PERIOD, url=fresh_pg)
    one_line(refused, f"has schema version {SCHEMA_VERSION}",
             f"this govcloud knows {RELEASE_SCHEMA}")
