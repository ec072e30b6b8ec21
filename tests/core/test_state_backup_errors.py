"""What `govcloud state backup|restore|move` say when they cannot do it (#26): each refusal is
one line naming what is wrong and the fix, exit 1 (2 for a command-line mistake), and never
shows a password. The real restic and PostgreSQL runs are tests/core/test_state_backup.py."""

from __future__ import annotations

from pathlib import Path

from govcloud.state.dump import libpq
from govcloud.state.move import in_order
from tests.support.cli import govcloud, one_line


def test_no_repository_configured_names_the_setting(estate: Path) -> None:
    proc = govcloud("state", "backup", estate=estate)
    one_line(proc, "no restic repository", "state_backup.repository", "--repository")
    proc = govcloud("state", "backup", "--repository", "/srv/none", estate=estate)
    one_line(proc, "no password file", "state_backup.password_file")


def test_settings_give_the_repositories(estate: Path, tmp_path: Path) -> None:
    settings = estate / "govcloud.yaml"
    settings.write_text(settings.read_text() + "state_backup:\n  repository: /srv/nowhere\n"
                        "  password_file: secrets/restic.pass\n")
    proc = govcloud("state", "backup", estate=estate, env={"PATH": str(tmp_path)})
    line = one_line(proc, "restic is not installed", "apt-get install restic")
    assert "secrets" not in line


def test_restic_missing_is_one_line(estate: Path, tmp_path: Path) -> None:
    proc = govcloud("state", "restore", "--rehearse", "--repository", "/srv/r",
                    "--password-file", "/etc/p", estate=estate, env={"PATH": str(tmp_path)})
    one_line(proc, "restic is not installed", "apt-get install restic")


def test_restore_asks_for_one_way_and_for_yes(estate: Path) -> None:
    both = govcloud("state", "restore", estate=estate)
    assert both.returncode == 2 and "give --rehearse, or --into" in both.stderr
    proc = govcloud("state", "restore", "--into", "postgresql://gc:s3cret@db/gc",
                    estate=estate)
    line = one_line(proc, "needs --yes", "add --yes")
    assert "s3cret" not in line and "gc:***@db" in line


def test_move_is_sqlite_to_postgresql_only(estate: Path, tmp_path: Path) -> None:
    proc = govcloud("state", "move", "--to", f"sqlite:///{tmp_path}/other.db", estate=estate)
    one_line(proc, "copies a SQLite store into PostgreSQL", "--to postgresql://")


def test_the_postgresql_password_goes_in_the_environment_not_the_command_line() -> None:
    bare, env = libpq("postgresql://govcloud:p%40ss@db.internal:5433/gc?sslmode=require")
    assert bare == "postgresql://govcloud@db.internal:5433/gc?sslmode=require"
    assert env["PGPASSWORD"] == "p@ss"
    assert libpq("postgresql://govcloud@db/gc")[0] == "postgresql://govcloud@db/gc"


def test_the_move_compares_rows_value_by_value_in_any_order() -> None:
    sqlite = [("usage", 730, None), ("meta", 3.5, "x")]
    postgres = [("meta", 3.5, "x"), ("usage", 730.0, None)]  # REAL read back as a float
    assert in_order(sqlite) == in_order(postgres)
    assert in_order(sqlite) != in_order([("meta", 3.5, "x"), ("usage", 731.0, None)])
    assert in_order(sqlite) != in_order([("meta", 3.5, "y"), ("usage", 730, None)])
