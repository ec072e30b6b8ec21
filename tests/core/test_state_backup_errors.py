"""What `govcloud state backup|restore|move` say when they cannot do it (#26): each refusal is
one line naming what is wrong and the fix, exit 1 (2 for a command-line mistake), and never
shows a password. The real restic and PostgreSQL runs are tests/core/test_state_backup.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from govcloud.errors import StateError
from govcloud.state import restic
from govcloud.state.dump import connect_fix, libpq
from govcloud.state.move import in_order
from govcloud.state.restic import Repository
from tests.support.cli import govcloud, help_text, one_line


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


# The trial user's findings (#26): each refusal names the right setting and fix.

def _repo(tmp_path: Path, site: str = "primary", secret: str = "pw\n",
          location: str | None = None) -> Repository:
    pw = tmp_path / f"{site}.pass"
    pw.write_text(secret)
    pw.chmod(0o600)
    return Repository(location or str(tmp_path / f"repo-{site}"), pw, site)


def test_a_wrong_dr_password_names_the_dr_settings(tmp_path: Path) -> None:
    said = "Fatal: wrong password or no key found\n"
    dr = restic._problem(_repo(tmp_path, "dr"), said, "open the repository")
    assert "state_backup.dr_password_file" in dr.hint and "--copy-password-file" in dr.hint
    primary = restic._problem(_repo(tmp_path), said, "open the repository")
    assert "state_backup.password_file" in primary.hint and "dr_" not in primary.hint


def test_what_restic_would_only_grumble_about_is_checked_first(tmp_path: Path) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("")
    with pytest.raises(StateError, match="is not a folder") as exc:
        restic.check(_repo(tmp_path, location=str(a_file)))
    assert "--repository" in exc.value.hint
    with pytest.raises(StateError, match="is empty") as exc:
        restic.check(_repo(tmp_path, secret=""))
    with pytest.raises(StateError, match="is empty"):
        restic.check(_repo(tmp_path, secret="\n"))
    folder = tmp_path / "pw-folder"
    folder.mkdir()
    with pytest.raises(StateError, match="is not a file") as exc:
        restic.check(Repository(str(tmp_path / "r"), folder, "dr"))
    assert "dr_password_file" in exc.value.hint
    restic.check(_repo(tmp_path))  # a folder not made yet and a good password file: fine


def test_a_password_file_others_can_read_is_warned_about(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _repo(tmp_path)
    repo.password_file.chmod(0o640)  # group-only, as a deploy may mean it: no warning
    restic.check(repo)
    assert capsys.readouterr().err == ""
    repo.password_file.chmod(0o644)
    restic.check(repo)
    err = capsys.readouterr().err
    assert f"{repo.password_file} " in err and f"chmod 600 {repo.password_file}" in err


def test_restore_help_gives_an_absolute_sqlite_url() -> None:
    text = help_text("state", "restore")
    assert "sqlite:////srv/govcloud/restored.db" in text
    assert "sqlite:///srv/" not in text.replace("sqlite:////srv/", "")
    assert "relative to the estate" in " ".join(text.split())


def test_move_to_a_path_or_with_a_wrong_password_says_what_to_give() -> None:
    assert "check the user and password" in connect_fix(
        'connection failed: FATAL:  password authentication failed for user "gc"')
    assert "createdb" in connect_fix('FATAL:  database "gc26" does not exist')


def test_move_to_a_plain_path_asks_for_a_postgresql_url(estate: Path, tmp_path: Path) -> None:
    proc = govcloud("state", "move", "--to", str(tmp_path / "x.db"), estate=estate)
    line = one_line(proc, "not a PostgreSQL URL", "--to postgresql://")
    assert "state.url" not in line


def test_restore_refuses_an_existing_empty_file_and_an_empty_repository(
        estate: Path, tmp_path: Path) -> None:
    empty = tmp_path / "there.db"
    empty.write_text("")
    proc = govcloud("state", "restore", "--into", str(empty), "--yes", "--repository",
                    str(tmp_path / "r"), "--password-file", "/etc/p", estate=estate)
    one_line(proc, "will not restore over a store", f"{empty} already exists")
    assert empty.read_text() == ""
    proc = govcloud("state", "backup", "--repository", "", "--password-file", "/etc/p",
                    estate=estate)
    one_line(proc, "primary repository given is empty", "--repository")
    proc = govcloud("state", "backup", "--repository", str(tmp_path / "r"), "--password-file",
                    "/etc/p", "--copy-to", "", estate=estate)
    one_line(proc, "dr repository given is empty", "--copy-to")


def test_a_killed_backups_copy_of_the_store_is_removed_by_the_next(tmp_path: Path) -> None:
    import os
    import subprocess

    from govcloud.state import backup

    gone = subprocess.Popen(["true"])
    gone.wait()  # a process no longer running: its folder is stale
    stale = tmp_path / f"{backup.PREFIX}{gone.pid}-abcd1234"
    running = tmp_path / f"{backup.PREFIX}{os.getppid()}-efgh5678"  # a live process's
    mine = tmp_path / f"{backup.PREFIX}{os.getpid()}-ijkl9012"
    other = tmp_path / f"{backup.PREFIX}old-style"  # no process id: left alone
    for folder in (stale, running, mine, other):
        folder.mkdir()
        (folder / "govcloud-state.db").write_text("a copy of the store")
    assert backup.remove_stale_folders(tmp_path) == [stale]
    assert not stale.exists() and running.exists() and mine.exists() and other.exists()
    with backup.scratch_folder() as folder:
        assert folder.name.startswith(f"{backup.PREFIX}{os.getpid()}-")
