"""Real components on loopback: finding their binaries, free ports, waiting for them to
answer. Under CI=true (what .ci/run sets) a component that is missing or does not start fails
the run; on a developer machine it skips the test, with the command that installs it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest

from tests.support.pyramid import CI, require

INSTALL = {"nginx": ".ci/install-services", "clamav": ".ci/install-services",
           "restic": ".ci/install-services", "sshd": ".ci/install-services",
           "prometheus": ".ci/install-reports",
           "chromium": ".ci/install-reports", "slapd": ".ci/install-directory"}
T = TypeVar("T")


def unavailable(message: str) -> NoReturn:
    """A real component the test needs is not there: fail under CI, skip elsewhere."""
    if CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def need(binary: str, *alternatives: str, component: str) -> str:
    """The path of the real ``component``'s binary (``binary`` or an alternative). The
    running test must be marked ``real`` and ``component``."""
    require(component)
    for name in (binary, *alternatives):
        path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                      else None)
        if path:
            return path
    unavailable(f"{binary} is not installed (run {INSTALL.get(component, '.ci/run')})")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` different TCP ports on 127.0.0.1 that nothing listens on now: each held until
    all are found (``free_port()`` twice may give the same port twice: CI's rig once got its
    nginx's http and https ports equal, "a duplicate listen")."""
    held = [socket.socket() for _ in range(n)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in held]
    finally:
        for s in held:
            s.close()


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log and log.exists() else ""


def wait_for(what: str, check: Callable[[], T], timeout: float,
             proc: subprocess.Popen | None = None, log: Path | None = None,
             every: float = 0.2) -> T:
    """Call ``check`` until it returns something true (OSError counts as not yet) and return
    that; fail the test after ``timeout`` seconds, or at once when ``proc`` exits, with the
    tail of ``log``."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"{what}: the process exited with {proc.returncode}\n{_tail(log)}",
                        pytrace=False)
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})\n"
                        f"{_tail(log)}", pytrace=False)
        time.sleep(every)


def wait_port(port: int, what: str, timeout: float = 20, proc: subprocess.Popen | None = None,
              log: Path | None = None) -> None:
    """Wait until something accepts connections on 127.0.0.1:``port``."""

    def accepts() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True

    wait_for(f"{what} on 127.0.0.1:{port}", accepts, timeout, proc, log, every=0.1)
