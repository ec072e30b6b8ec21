"""The real CLI, run as a user would: in a subprocess, on the checkout under test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.estate import REPO


def _env(extra: dict[str, str] | None) -> dict[str, str]:
    # The checkout under test, whatever govcloud pip installed elsewhere.
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path, **(extra or {})}


def govcloud(*args: str, estate: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``govcloud ARGS`` (on ``estate`` with -C) and return what it printed."""
    cmd = [sys.executable, "-m", "govcloud"]
    if estate is not None:
        cmd += ["-C", str(estate)]
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, env=_env(env),
                          timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise AssertionError(f"govcloud {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def one_line(proc: subprocess.CompletedProcess[str], *said: str) -> str:
    """Exit 1, one line on stderr ("Error: …" with its fix after "—"), no traceback (an
    apply's progress lines, "[n/total] done …", aside)."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.strip().splitlines()
             if not re.match(r"\[\d+/\d+\] ", line)]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ") and " — " in lines[0], lines[0]
    for words in said:
        assert words in lines[0], lines[0]
    return lines[0]


def help_text(*args: str) -> str:
    """What ``govcloud ARGS --help`` prints, rendered in this process by click (the same
    text; a subprocess would only add half a second of imports per command)."""
    from click.testing import CliRunner

    from govcloud.cli import cli

    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"govcloud {' '.join(args)} --help: {result.output}"
    return result.output


# The clock of every finance test: the estate was applied on New Year's Day 2026 and it is
# now 26 November 2026, noon (GOVCLOUD_NOW), so months up to October are whole and November
# is month to date, whatever the machine's date.
BUILT = {"GOVCLOUD_NOW": "2026-01-01T00:00:00Z"}
NOW = {"GOVCLOUD_NOW": "2026-11-26T12:00:00Z"}


def apply_and_collect(estate: Path, *periods: str) -> Path:
    """Apply the estate as of BUILT, then collect usage for each of ``periods`` (YYYY-MM) as
    of NOW."""
    govcloud("apply", "--yes", "-o", "json", estate=estate, check=True, env=BUILT)
    for p in periods:
        govcloud("usage", "collect", "--period", p, estate=estate, check=True, env=NOW)
    return estate


applied = apply_and_collect


def start_apply(estate: Path, *args: str, env: dict[str, str] | None = None
                ) -> subprocess.Popen[str]:
    """``govcloud apply --yes ARGS`` started in the background."""
    return subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "apply",
                             "--yes", *args], env=_env(env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def apply_killed_after(estate: Path, finished: int, *args: str,
                       env: dict[str, str] | None = None) -> int:
    """Start ``govcloud apply --yes ARGS`` and SIGKILL it as soon as it reports ``finished``
    changes done (others are in flight then); return its exit status (-9 if killed).

    The kill lands some time after the line is read: a caller that wants the apply cut short
    picks ``finished`` with cloud calls still to make after it, not only the store's own rows
    (websites, antivirus, backup take milliseconds, and the run may record its end first)."""
    proc = start_apply(estate, *args, env=env)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(f"[{finished}/"):
            proc.send_signal(signal.SIGKILL)
            total = int(line.split("/", 1)[1].split("]", 1)[0])
            assert finished < total, f"{finished} is the last of {total} changes: nothing to cut"
            break
    return proc.wait()


def consolidate_killed_after(estate: Path, finished: int, *args: str,
                             env: dict[str, str] | None = None) -> int:
    """Start ``govcloud consolidate --apply --yes ARGS`` and SIGKILL it as soon as it reports
    ``finished`` migrations done; return its exit status (-9 if killed)."""
    proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "consolidate",
                             "--apply", "--yes", *args], env=_env(env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith(f"[{finished}/"):
            proc.send_signal(signal.SIGKILL)
            break
    return proc.wait()
