"""govcloud's own state store backed up like a department (#26), with the real restic and a
real PostgreSQL: an estate with history (applied on New Year's Day, October's usage collected
and the month closed, people added: a trail of audit records) is backed up, rehearsed,
restored from the DR copy after the primary repository is gone, and moved from SQLite to
PostgreSQL. A restored or moved store gives the byte-identical chargeback of the closed month,
a whole audit trail and every table's rows; plan --detailed-exitcode accepts it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import NOW, _env, apply_and_collect, one_line
from tests.support.estate import copy_estate

pytestmark = [pytest.mark.real, pytest.mark.restic, pytest.mark.postgres]

PERIOD = "2026-10"
PASSWORD = "correct horse battery staple"


def _cli(estate: Path, *args: str, url: str | None = None, stdin: str = "",
         path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**NOW, **({"GOVCLOUD_STATE_URL": url} if url else {}),
           **({"PATH": path} if path else {})}
    proc = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          input=stdin, capture_output=True, text=True, env=_env(env),
                          timeout=180)
    assert "restic password" not in proc.stdout + proc.stderr  # never shown
    return proc


def _ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate with a closed month and a trail, and restic passwords beside it."""
    base = tmp_path_factory.mktemp("state-backup")
    estate = apply_and_collect(copy_estate(base / "estate"), PERIOD)
    _ok(_cli(estate, "statement", "close", "--period", PERIOD))
    for name, role in (("admin", "operator"), ("cfo", "finance")):
        _ok(_cli(estate, "users", "add", name, "--role", role, "--password-stdin",
                 stdin=PASSWORD + "\n"))
    for site in ("primary", "dr"):
        secret = base / f"{site}.pass"
        secret.write_text(f"{site} restic password\n")
        secret.chmod(0o600)
    return estate


REPORTS = ("chargeback", "utilization", "savings", "unit-costs")
_live: dict[str, str] = {}


def _report(estate: Path, name: str, url: str | None = None) -> str:
    """``report NAME -o json`` of the closed month, on the store at ``url`` (else the live
    one, read once)."""
    if url is None and name in _live:
        return _live[name]
    text = _ok(_cli(estate, "report", name, "-o", "json", "--period", PERIOD, url=url))
    assert json.loads(text)
    if url is None:
        _live[name] = text
    return text


def _backup(estate: Path, tag: str, url: str | None = None) -> dict[str, object]:
    base = estate.parent
    return json.loads(_ok(_cli(
        estate, "state", "backup", "--init", "-o", "json",
        "--repository", str(base / f"repo-{tag}"), "--password-file", str(base / "primary.pass"),
        "--copy-to", str(base / f"dr-{tag}"), "--copy-password-file", str(base / "dr.pass"),
        url=url)))


def _restore(estate: Path, tag: str, *args: str, site: str = "primary",
             url: str | None = None) -> subprocess.CompletedProcess[str]:
    base = estate.parent
    repo = base / (f"repo-{tag}" if site == "primary" else f"dr-{tag}")
    return _cli(estate, "state", "restore", "-o", "json", "--site", site, "--repository",
                str(repo), "--password-file", str(base / f"{site}.pass"), *args, url=url)


def _whole(estate: Path, url: str) -> dict[str, object]:
    proc = _cli(estate, "audit", "verify", "-o", "json", url=url)
    verdict = json.loads(_ok(proc))
    assert verdict["whole"] and verdict["records"] >= 4 and not verdict["problems"], verdict
    return verdict


def test_sqlite_backup_rehearsed_and_restored_from_dr_after_the_primary_is_destroyed(
        history: Path, tmp_path: Path) -> None:
    taken = _backup(history, "sqlite")
    assert taken["kind"] == "sqlite" and taken["copied_to"]
    rows = taken["rows"]
    assert isinstance(rows, dict) and rows["audit"] >= 4 and rows["usage"] > 100

    rehearsed = json.loads(_ok(_restore(history, "sqlite", "--rehearse")))
    assert rehearsed["ok"] and rehearsed["rows"] == rows and rehearsed["audit"]["whole"]
    assert rehearsed["audit"]["records"] == rows["audit"]

    wrong = _cli(history, "state", "restore", "--rehearse", "--repository",
                 str(history.parent / "repo-sqlite"), "--password-file",
                 str(history.parent / "dr.pass"))
    one_line(wrong, "wrong password (read from", "dr.pass", "point the password file")

    shutil.rmtree(history.parent / "repo-sqlite")  # the primary site is gone
    gone = _restore(history, "sqlite", "--rehearse")
    one_line(gone, "there is no restic repository at", "--init")

    target = tmp_path / "restored" / "govcloud.db"
    restored = json.loads(_ok(_restore(history, "sqlite", "--into", str(target), "--yes",
                                       site="dr")))
    assert restored["ok"] and restored["rows"] == rows
    url = f"sqlite:///{target}"
    assert _report(history, "chargeback", url) == _report(history, "chargeback")
    live = _whole(history, f"sqlite:///{history}/.state/govcloud.db")
    assert _whole(history, url)["head"] == live["head"]
    plan = _cli(history, "plan", "--detailed-exitcode", url=url)
    assert plan.returncode == 0, plan.stdout + plan.stderr

    again = _restore(history, "sqlite", "--into", str(target), "--yes", site="dr")
    one_line(again, "will not restore over a store", "already exists", "give a new file")

    # A record written after the backup: the restored store verifies against the anchors
    # taken with the backup, the live anchors are left alone (they hold the lost record's
    # head) and the backup's are put beside them.
    _ok(_cli(history, "users", "add", "late", "--role", "auditor", "--password-stdin",
             stdin=PASSWORD + "\n"))
    later = tmp_path / "later.db"
    restored = json.loads(_ok(_restore(history, "sqlite", "--into", str(later), "--yes",
                                       site="dr")))
    assert restored["ok"] and restored["audit"]["whole"], restored
    beside = history / ".state-keys" / f"audit.anchors.from-{restored['snapshot']}"
    assert any(str(beside) in note for note in restored["notes"]), restored["notes"]
    assert beside.stat().st_mode & 0o777 == 0o600
    lost = _cli(history, "audit", "verify", url=f"sqlite:///{later}")
    assert lost.returncode == 1, lost.stdout + lost.stderr
    beside.unlink()


def test_move_to_postgresql_then_its_backup_rehearsed_and_restored(
        history: Path, fresh_pg: str, postgres_url: str, tmp_path: Path) -> None:
    moved = json.loads(_ok(_cli(history, "state", "move", "--to", fresh_pg, "-o", "json")))
    assert moved["ok"] and moved["rows"] == moved["target_rows"] and not moved["differing"]
    assert moved["rows"]["usage"] > 100 and moved["audit"]["whole"]
    for report in REPORTS:
        assert _report(history, report, fresh_pg) == _report(history, report), report
    head = _whole(history, fresh_pg)["head"]
    plan = _cli(history, "plan", "--detailed-exitcode", url=fresh_pg)
    assert plan.returncode == 0, plan.stdout + plan.stderr
    refused = _cli(history, "state", "move", "--to", fresh_pg)
    one_line(refused, "holds something", "give an empty database")

    only_restic = tmp_path / "bin"
    only_restic.mkdir()
    (only_restic / "restic").symlink_to(shutil.which("restic") or "restic")
    no_pg_dump = _cli(history, "state", "backup", "--init", "--repository",
                      str(tmp_path / "r"), "--password-file",
                      str(history.parent / "primary.pass"), url=fresh_pg,
                      path=str(only_restic))
    one_line(no_pg_dump, "pg_dump is not installed", "postgresql-client")

    taken = _backup(history, "pg", url=fresh_pg)
    assert taken["kind"] == "postgresql" and taken["rows"] == moved["target_rows"]
    rehearsed = json.loads(_ok(_restore(history, "pg", "--rehearse", url=fresh_pg)))
    assert rehearsed["ok"] and rehearsed["audit"]["whole"]
    _rehearse_weekly_in_one_scratch_database(history, postgres_url, fresh_pg)

    shutil.rmtree(history.parent / "repo-pg")
    import uuid

    import psycopg

    name = "restored_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    target = postgres_url.rsplit("/", 1)[0] + "/" + name
    restored = json.loads(_ok(_restore(history, "pg", "--into", target, "--yes", site="dr",
                                       url=fresh_pg)))
    assert restored["ok"] and restored["rows"] == taken["rows"]
    assert _report(history, "chargeback", target) == _report(history, "chargeback")
    assert _whole(history, target)["head"] == head


def _rehearse_weekly_in_one_scratch_database(history: Path, postgres_url: str,
                                             live: str) -> None:
    """The scratch given with --scratch is emptied after each rehearsal (the next week's
    finds it empty); one that held a table before is refused and left as it was."""
    import uuid

    import psycopg

    name = "scratch_" + uuid.uuid4().hex[:8]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    scratch = postgres_url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("CREATE FUNCTION theirs() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    for week in (1, 2):
        rehearsed = json.loads(_ok(_restore(history, "pg", "--rehearse", "--scratch", scratch,
                                            url=live)))
        assert rehearsed["ok"], (week, rehearsed)
        with psycopg.connect(scratch) as conn:
            left = conn.execute("SELECT count(*) FROM information_schema.tables WHERE "
                                "table_schema = current_schema()").fetchone()
            assert left == (0,), (week, left)
            assert conn.execute("SELECT theirs()").fetchone() == (1,)  # not ours: kept
    with psycopg.connect(scratch, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
    refused = _restore(history, "pg", "--rehearse", "--scratch", scratch, url=live)
    one_line(refused, "will not restore over a store", "already holds 1 table(s)")
    with psycopg.connect(scratch) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_an_unreachable_remote_repository_says_so(estate: Path, tmp_path: Path) -> None:
    """A real restic asked to copy to an sftp site nobody answers at (port 1 of loopback):
    the fix is the address, the network and the credentials, not "restic check"."""
    secret = tmp_path / "p.pass"
    secret.write_text("primary restic password\n")
    secret.chmod(0o600)
    common = ("--repository", str(tmp_path / "primary"), "--password-file", str(secret))
    _ok(_cli(estate, "state", "backup", "--init", *common))
    site = "sftp://nobody@127.0.0.1:1//r"
    proc = _cli(estate, "state", "backup", *common, "--copy-to", site,
                "--copy-password-file", str(secret))
    line = one_line(proc, f"cannot reach the dr repository {site}",
                    "check the address, the network", "credentials")
    assert "restic check" not in line


def test_a_lost_dr_repository_still_leaves_the_primary_snapshot(
        estate: Path, tmp_path: Path) -> None:
    secret = tmp_path / "p.pass"
    secret.write_text("primary restic password\n")
    secret.chmod(0o600)
    primary = tmp_path / "primary"
    common = ("--repository", str(primary), "--password-file", str(secret))
    _ok(_cli(estate, "state", "backup", "--init", *common))
    proc = _cli(estate, "state", "backup", *common, "--copy-to", str(tmp_path / "gone"),
                "--copy-password-file", str(secret))
    line = one_line(proc, "backed up as snapshot", f"the primary repository {primary}",
                    "the copy to the DR site failed", "no restic repository at",
                    "state_backup.dr_repository", "--init")
    env = {"RESTIC_REPOSITORY": str(primary), "RESTIC_PASSWORD_FILE": str(secret),
           "PATH": "/usr/bin:/bin"}
    listed = json.loads(subprocess.run(["restic", "snapshots", "--json"], env=env,
                                       capture_output=True, text=True, check=True).stdout)
    assert len(listed) == 2 and listed[-1]["short_id"] in line
