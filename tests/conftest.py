"""Shared fixtures: example estates in temporary folders, the CLI as a subprocess, and a real
PostgreSQL server started for the suite on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
ESTATE_PARTS = ("govcloud.yaml", "policies", "plans", "inventories", "prices.yaml")


def copy_estate(dest: Path, plans: bool = True) -> Path:
    """A copy of the repo's example estate (settings, policies, optionally plans)."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in ESTATE_PARTS:
        src = REPO / part
        if not src.exists() or (part == "plans" and not plans):
            continue
        if src.is_dir():
            shutil.copytree(src, dest / part)
        else:
            shutil.copy(src, dest / part)
    (dest / "plans").mkdir(exist_ok=True)
    return dest


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The full example estate, in a temporary folder with its own state."""
    return copy_estate(tmp_path / "estate")


@pytest.fixture
def empty_estate(tmp_path: Path) -> Path:
    """The example settings and policies with no plans."""
    return copy_estate(tmp_path / "estate", plans=False)


def govcloud(*args: str, estate: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the real CLI as a user would, in a subprocess."""
    cmd = [sys.executable, "-m", "govcloud"]
    if estate is not None:
        cmd += ["-C", str(estate)]
    # The checkout under test, whatever govcloud pip installed elsewhere.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(env or {})}
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=full_env,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"govcloud {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


CI = os.environ.get("CI", "").lower() == "true"


def need(binary: str, *alternatives: str, install: str = ".ci/run") -> str:
    """The path of a real component's binary; fail under CI, skip elsewhere, when missing."""
    for name in (binary, *alternatives):
        path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                      else None)
        if path:
            return path
    message = f"{binary} is not installed (run {install})"
    if CI:
        pytest.fail(message)
    pytest.skip(message)


def apply_killed_after(estate: Path, finished: int, *args: str,
                       env: dict[str, str] | None = None) -> int:
    """Start ``govcloud apply --yes ARGS`` and SIGKILL it as soon as it reports ``finished``
    changes done (others are in flight then); return its exit status (-9 if killed)."""
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "apply",
                             "--yes", *args], env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(f"[{finished}/"):
            proc.send_signal(signal.SIGKILL)
            break
    return proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql "
                       "(.ci/run does this)")


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server on 127.0.0.1 for the suite; fails (never skips) if it
    cannot start."""
    bindir = _pg_bin()
    # Not under pytest's tmp folders: they are private to root, and the server runs as postgres.
    base = Path(tempfile.mkdtemp(prefix="govcloud-pg-"))
    data = base / "data"
    sock = base / "sock"
    sock.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data.parent, "postgres")
        shutil.chown(sock, "postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-U", "govcloud",
                    "--auth=trust", "-E", "UTF8", "--locale=C"], check=True,
                   capture_output=True)
    log = data.parent / "pg.log"
    if os.geteuid() == 0:
        log.touch()
        shutil.chown(log, "postgres")
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 "
                    "-c fsync=off", "start"], check=True, capture_output=True)
    url = f"postgresql://govcloud@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    import psycopg

    while True:
        try:
            psycopg.connect(url).close()
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError("PostgreSQL did not start:\n" + log.read_text()) from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast",
                        "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def fresh_pg(postgres_url: str) -> str:
    """A new, empty database on the suite's PostgreSQL server."""
    import uuid

    import psycopg

    name = "t_" + uuid.uuid4().hex[:10]
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name
