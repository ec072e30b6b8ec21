"""A damaged or misplaced state store is refused with the way out, never taken for a new
estate; a damaged row names its table and key; files are owner-only; crash logs are private.
Through the real CLI, on the sim cloud."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import REPO, copy_estate, edit

NO_SERVICES = "--no-services"


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Path:
    estate = copy_estate(tmp_path_factory.mktemp("damaged") / "estate")
    govcloud("apply", "--yes", NO_SERVICES, estate=estate, check=True)
    return estate


@pytest.fixture
def estate(applied: Path, tmp_path: Path) -> Path:
    """A copy of the applied example estate, its state store included."""
    return Path(shutil.copytree(applied, tmp_path / "estate"))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def clean(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr and "Internal error" not in proc.stderr, proc.stderr


# --- 7: an emptied, foreign or misplaced store ---------------------------------------------

def test_an_emptied_store_is_refused_until_started_anew_on_purpose(estate: Path) -> None:
    db = estate / ".state" / "govcloud.db"
    os.truncate(db, 0)
    for args in (["drift"], ["plan"], ["show"], ["apply", "--yes", NO_SERVICES]):
        proc = govcloud(*args, estate=estate)
        assert proc.returncode == 1, args
        clean(proc)
        assert ("Error: the state store .state/govcloud.db is empty (0 bytes): its applied "
                "state, journal and sim cloud are gone — restore it from a backup; to start a "
                "new, empty estate on purpose, run govcloud state init") in \
            proc.stderr.replace(str(estate) + "/", ""), proc.stderr
    assert db.stat().st_size == 0  # nothing was written over it
    assert "state init" in govcloud("state", "--help", estate=estate, check=True).stdout
    proc = govcloud("state", "init", estate=estate, check=True)
    assert proc.stdout.startswith("Started a new, empty state store at ")
    assert "already this estate's state store" in govcloud("state", "init", estate=estate,
                                                           check=True).stdout
    assert mode(db) == 0o600
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 2


def test_a_deleted_store_is_not_silently_made_anew(estate: Path) -> None:
    state = estate / ".state"
    for path in state.glob("govcloud.db*"):
        if path.name != "govcloud.db.lock":  # the lock file shows a store was there
            path.unlink()
    proc = govcloud("plan", estate=estate)
    assert proc.returncode == 1
    clean(proc)
    assert "govcloud.db is missing, though its lock file is there: it was deleted or moved " \
           "— restore it from a backup; to start a new, empty estate on purpose, run " \
           "govcloud state init" in proc.stderr
    assert not (state / "govcloud.db").exists()
    govcloud("state", "init", estate=estate, check=True)
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 2


@pytest.mark.parametrize("content, says", [
    (b"this is not a database, it is a note\n" * 200, "is not a govcloud state store: file "
     "is not a database"),
    (None, "is not a govcloud state store (it holds the tables orders, people)"),
], ids=["not-sqlite", "another-programs-database"])
def test_a_foreign_file_is_refused_and_left_alone(estate: Path, content: bytes | None,
                                                  says: str) -> None:
    db = estate / ".state" / "govcloud.db"
    for extra in db.parent.glob("govcloud.db-*"):
        extra.unlink()
    db.unlink()
    if content is None:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE people (name TEXT)")
            conn.execute("CREATE TABLE orders (id INTEGER)")
        conn.close()
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    for args in (["plan"], ["drift"], ["state", "init"]):
        proc = govcloud(*args, estate=estate)
        assert proc.returncode == 1, args
        clean(proc)
        assert says in proc.stderr, proc.stderr
        assert "restore the store from a backup" in proc.stderr
        assert "move" in proc.stderr and "govcloud state init" in proc.stderr
    assert db.read_bytes() == before


def test_a_store_in_a_missing_folder_is_refused_not_created(estate: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nonexistent" / "dir"
    env = {"GOVCLOUD_STATE_URL": f"sqlite:///{folder}/govcloud.db"}
    proc = govcloud("plan", estate=estate, env=env)
    assert proc.returncode == 1
    clean(proc)
    assert (f"Error: the folder of the state store {folder}/govcloud.db does not exist — fix "
            "state.url in govcloud.yaml (or GOVCLOUD_STATE_URL) if it is a typo; to start a "
            "new store there, run govcloud state init") in proc.stderr
    assert not (tmp_path / "nonexistent").exists()
    govcloud("state", "init", estate=estate, env=env, check=True)
    assert mode(folder) == 0o700 and mode(folder / "govcloud.db") == 0o600
    assert govcloud("plan", "--detailed-exitcode", estate=estate, env=env).returncode == 2


def test_another_estates_store_is_refused(estate: Path, tmp_path: Path) -> None:
    other = copy_estate(tmp_path / "other")
    settings = other / "govcloud.yaml"
    edit(settings, "estate: qingdao", "estate: yantai")
    env = {"GOVCLOUD_STATE_URL": f"sqlite:///{estate}/.state/govcloud.db"}
    proc = govcloud("plan", estate=other, env=env)
    assert proc.returncode == 1
    clean(proc)
    assert (f"Error: the state store {estate}/.state/govcloud.db belongs to estate 'qingdao', "
            "not 'yantai' — point state.url at this estate's own store") in proc.stderr


# --- 8: a damaged row ----------------------------------------------------------------------

KEY = "finance/server/fin-budget-db"


def damage(estate: Path, table: str, body: str) -> None:
    with sqlite3.connect(estate / ".state" / "govcloud.db") as conn:
        assert conn.execute(f"UPDATE {table} SET body = ? WHERE key = ?", (body, KEY)).rowcount
    conn.close()


@pytest.mark.parametrize("table, commands", [
    ("sim_resources", (["plan"], ["show"], ["drift"], ["apply", "--yes", NO_SERVICES])),
    ("applied", (["drift"], ["apply", "--yes", NO_SERVICES])),
])
@pytest.mark.parametrize("body, why", [
    ("{not json", "invalid JSON: Expecting property name enclosed in double quotes"),
    ("[1, 2]", "a JSON list, not an object"),
    ('{"kind": "server"}', "no 'department' field"),
    ('{"kind": "server", "department": "health", "name": "x", "attrs": {}}',
     "its body describes 'health/server/x'"),
], ids=["invalid-json", "a-list", "missing-field", "another-key"])
def test_a_damaged_row_names_its_table_key_and_the_way_out(
        estate: Path, table: str, commands: tuple[list[str], ...], body: str, why: str) -> None:
    plan = estate / "plans" / "finance.yaml"  # so apply has a change to make
    edit(plan, "    count: 3\n", "    count: 4\n")
    damage(estate, table, body)
    delete = f"DELETE FROM {table} WHERE key = '{KEY}'"
    for args in commands:
        proc = govcloud(*args, estate=estate)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        clean(proc)
        assert f"Error: the state store's {table} row '{KEY}' is damaged ({why}" in \
            proc.stderr, proc.stderr
        assert f'restore the store (.state/govcloud.db) from a backup, or delete that row ' \
               f'(sqlite3 .state/govcloud.db "{delete}")' in \
            proc.stderr.replace(str(estate) + "/", ""), proc.stderr
    # The way out works: delete the row, and apply brings back what it held.
    with sqlite3.connect(estate / ".state" / "govcloud.db") as conn:
        conn.execute(delete)
    conn.close()
    govcloud("apply", "--yes", NO_SERVICES, estate=estate, check=True)
    assert govcloud("plan", "--detailed-exitcode", estate=estate).returncode == 0
    assert govcloud("drift", estate=estate).returncode == 0


# --- 11: a malformed PostgreSQL URL ----------------------------------------------------------

@pytest.mark.parametrize("url, why", [
    ("postgresql://gc:pw@[::1/db", "Invalid IPv6 URL"),
    ("postgresql://gc:pw@db.example:99999/govcloud", "Port out of range 0-65535"),
    ("postgresql://gc:pw@db.example:5432/govcloud?sslmode=maybe&nonsense=1",
     'invalid URI query parameter'),
], ids=["open-bracket", "port", "query"])
def test_a_malformed_postgresql_url_is_refused_at_validate(estate: Path, url: str,
                                                           why: str) -> None:
    settings = estate / "govcloud.yaml"
    text = settings.read_text()
    edit(settings, "url: sqlite:///.state/govcloud.db", f'url: "{url}"')
    line = text.splitlines().index("  url: sqlite:///.state/govcloud.db") + 1
    proc = govcloud("validate", estate=estate)
    assert proc.returncode == 1
    clean(proc)
    assert (f"govcloud.yaml:{line}: state.url: malformed PostgreSQL URL: {why}") in \
        proc.stderr, proc.stderr
    assert "USER:PASSWORD@HOST:PORT/DATABASE" in proc.stderr
    proc = govcloud("plan", estate=estate)
    assert proc.returncode == 1 and "does not validate; nothing was done" in proc.stderr
    clean(proc)
    # Given in the environment, it is refused when the store is opened, the password hidden.
    settings.write_text(text)
    proc = govcloud("plan", estate=estate, env={"GOVCLOUD_STATE_URL": url})
    assert proc.returncode == 1
    clean(proc)
    assert "Error: the state store URL postgresql://gc:***@" in proc.stderr
    assert f"cannot be used: malformed PostgreSQL URL: {why}" in proc.stderr
    assert ":pw@" not in proc.stderr


# --- 12: owner-only files, private crash logs ------------------------------------------------

def test_state_files_are_owner_only_and_old_ones_are_tightened(estate: Path) -> None:
    state = estate / ".state"
    assert mode(state) == 0o700
    assert mode(state / "govcloud.db") == 0o600 and mode(state / "govcloud.db.lock") == 0o600
    state.chmod(0o755)  # as an older govcloud left them
    (state / "govcloud.db").chmod(0o644)
    (state / "govcloud.db.lock").chmod(0o644)
    govcloud("plan", estate=estate, check=True)
    assert mode(state) == 0o700
    assert mode(state / "govcloud.db") == 0o600 and mode(state / "govcloud.db.lock") == 0o600


def test_a_new_estates_state_is_private_from_the_start(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "new")
    govcloud("plan", estate=estate, check=True)
    assert mode(estate / ".state") == 0o700 and mode(estate / ".state" / "govcloud.db") == 0o600


def crash(estate: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``govcloud show`` with a bug planted in it, so the last line of defence runs."""
    code = ("import sys; from govcloud.applying import engine\n"
            "def broken(s): raise RuntimeError('planted bug')\n"
            "engine.show = broken\n"
            "from govcloud.cli import main; main(sys.argv[1:])")
    return subprocess.run([sys.executable, "-c", code, "-C", str(estate), "show"],
                          capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})


def logged(proc: subprocess.CompletedProcess[str]) -> Path:
    assert proc.returncode == 70
    assert "Internal error: RuntimeError('planted bug'). This is a bug in govcloud; the " \
           "details are in " in proc.stderr
    return Path(proc.stderr.split("the details are in ")[1].split(". Please report")[0])


def test_crash_logs_are_owner_only_under_the_state_folder(estate: Path, tmp_path: Path) -> None:
    log = logged(crash(estate))
    assert log.parent == estate / ".state"
    assert mode(log) == 0o600 and "planted bug" in log.read_text()
    folder = tmp_path / "logs"
    log = logged(crash(estate, {"GOVCLOUD_LOG_DIR": str(folder)}))
    assert log.parent == folder and mode(log) == 0o600 and mode(folder) == 0o700


# --- #22 case 14: a read-only, full or forbidden .state is an I/O problem, not a foreign file

# The state folder on a tmpfs of the test's own (in a private mount namespace, so nothing of
# the machine's is touched): made read-only, or filled up, before govcloud runs.
_ON_TMPFS = r"""
set -e
state="$1"; shift
cp -a "$state" "$state.copy"
mount -t tmpfs -o size=8m tmpfs "$state"
cp -a "$state.copy/." "$state/"
rm -rf "$state.copy"
case "$DISK" in
  read-only) mount -o remount,ro "$state" ;;
  full) dd if=/dev/zero of="$state/filler" bs=64k 2>/dev/null || true ;;
esac
exec "$@"
"""


def _namespaces() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    return probe.returncode == 0


def _in_namespace(estate: Path, disk: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DISK": disk, "PYTHONPATH": str(REPO)}
    return subprocess.run(["unshare", "-rm", "sh", "-c", _ON_TMPFS, "sh",
                           str(estate / ".state"), sys.executable, "-m", "govcloud", "-C",
                           str(estate), *args], capture_output=True, text=True, env=env,
                          timeout=120)


needs_namespaces = pytest.mark.skipif(not _namespaces(), reason="needs unshare -rm (user and "
                                      "mount namespaces) to give .state a disk of its own")
KEEP = "the store itself is untouched; do not move it away or run govcloud state init"


@needs_namespaces
@pytest.mark.parametrize(("disk", "said", "fix"), [
    ("read-only", "is on a read-only file system (Read-only file system)",
     "remount {state} read-write (or point state.url at a writable copy) and run the "
     "command again"),
    ("full", "the disk holding the state store {db} is full (No space left on device)",
     "free space on the file system of {state} and run the command again"),
])
def test_a_read_only_or_full_state_disk_is_named_with_a_fix_that_keeps_the_store(
        estate: Path, disk: str, said: str, fix: str) -> None:
    state, db = estate / ".state", estate / ".state" / "govcloud.db"
    before = db.read_bytes()
    for args in (["show"], ["apply", "--yes", NO_SERVICES]):
        proc = _in_namespace(estate, disk, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        clean(proc)
        assert "not a govcloud state store" not in proc.stderr
        assert said.format(db=db) in proc.stderr, proc.stderr
        assert f"— {fix.format(state=state)}; {KEEP}" in proc.stderr, proc.stderr
    assert db.read_bytes() == before  # the tmpfs was the namespace's; the store is as it was


@pytest.mark.skipif(os.geteuid() == 0 and not _namespaces(),
                    reason="root enters any folder; needs unshare -r to be a user who cannot")
def test_a_state_folder_govcloud_may_not_enter_is_named_with_a_fix_that_keeps_the_store(
        estate: Path) -> None:
    """A folder govcloud may not enter (EACCES): root, in a user namespace, is refused one
    owned by a user the namespace does not map; any other user one of mode 000."""
    state = estate / ".state"
    command = [sys.executable, "-m", "govcloud", "-C", str(estate), "show"]
    if os.geteuid() == 0:
        for path in [state, *state.iterdir()]:
            os.chown(path, 12345, 12345)
        command = ["unshare", "-r", *command]
    else:
        os.chmod(state, 0)
    try:
        proc = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    finally:
        os.chmod(state, 0o700)
    assert proc.returncode == 1, proc.stderr
    clean(proc)
    assert f"govcloud may not read or write the state store {state / 'govcloud.db'} or its " \
           "folder: Permission denied" in proc.stderr, proc.stderr
    assert f"— give the user running govcloud read and write access to {state} and the " \
           f"govcloud.db* files in it; {KEEP}" in proc.stderr
