"""A small supervisor for systemd units where systemd is not PID 1 (this machine, CI's
containers): it reads a unit file the deploy playbook wrote and starts what its [Service]
section says — each ExecStart= line as written (parsed, never retyped), as its User= and
Group=, in its WorkingDirectory=, with the environment systemd would give it (a clean PATH,
Environment=, EnvironmentFile=) — and honours Type=oneshot and SuccessExitStatus=.

What it does not do is systemd's sandbox (ProtectSystem=, PrivateTmp=, the system-call
filter...): those lines are checked by ``systemd-analyze verify`` and ``security --offline``.

One thing of this machine is worked around, not copied: its Python lives under /root (mode
0700), which no system user may enter, so the venv's interpreter is out of the service
user's reach. A unit's process then runs in a mount namespace of its own in which that
folder is an empty tmpfs with only the Python's own tree bound back at its path (nothing of
the machine changes; a Python in /usr, as on a control host, needs none of it)."""

from __future__ import annotations

import pwd
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CLEAN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Unit:
    path: Path
    sections: dict[str, dict[str, list[str]]]

    @classmethod
    def read(cls, path: Path) -> Unit:
        sections: dict[str, dict[str, list[str]]] = {}
        current: dict[str, list[str]] = {}
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                current = sections.setdefault(line[1:-1], {})
                continue
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
        return cls(path, sections)

    def get(self, key: str, default: str = "", section: str = "Service") -> str:
        values = self.sections.get(section, {}).get(key, [])
        return values[-1] if values else default

    def commands(self, key: str = "ExecStart") -> list[list[str]]:
        """Each ``key`` line (ExecStart=, ExecStopPost=) as an argument list, as systemd
        splits it: specifiers (``%%``) first, then quoting, then ``$$`` to ``$``."""
        out = []
        for line in self.sections["Service"].get(key, []):
            line = line.lstrip("-@:+!")
            assert "%" not in line.replace("%%", ""), f"{self.path.name}: a specifier in {line}"
            out.append([word.replace("$$", "$") for word in shlex.split(line.replace("%%", "%"))])
        return out

    def environment(self) -> dict[str, str]:
        """The environment systemd gives the unit's processes."""
        user = pwd.getpwnam(self.get("User"))
        env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "USER": user.pw_name,
               "LOGNAME": user.pw_name, "HOME": user.pw_dir, "SHELL": user.pw_shell}
        for name in self.sections["Service"].get("EnvironmentFile", []):
            env.update(env_file(Path(name.lstrip("-")).read_text(encoding="utf-8")))
        for line in self.sections["Service"].get("Environment", []):
            for item in shlex.split(line):
                key, _, value = item.partition("=")
                env[key] = value
        return env


_DOUBLE_QUOTED_ESCAPES = '"\\`$'


def env_file(text: str) -> dict[str, str]:
    """An EnvironmentFile's assignments as systemd.exec(5) reads them: blank lines, lines
    without "=" and lines starting with # or ; ignored; a value's surrounding whitespace
    dropped; a '…' value verbatim; a "…" value with backslash keeping any of " \\ ` $ (and
    dropping a newline), other backslashes kept as written; an unquoted value with backslash
    keeping the next character (dropping a newline), interior whitespace kept. Values that
    span lines inside quotes are read too."""
    env: dict[str, str] = {}
    i = 0
    while i < len(text):
        end = text.find("\n", i)
        line = text[i:] if end < 0 else text[i:end]
        stripped = line.lstrip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            i = len(text) if end < 0 else end + 1
            continue
        key, _, rest = stripped.partition("=")
        start = i + (len(line) - len(stripped)) + len(key) + 1
        value, i = _env_value(text, start)
        env[key.strip()] = value
    return env


def _env_value(text: str, i: int) -> tuple[str, int]:
    """The value starting at ``text[i]`` and where the next line begins."""
    while i < len(text) and text[i] in " \t\r":
        i += 1
    out: list[str] = []
    quote = text[i] if i < len(text) and text[i] in "'\"" else ""
    i += bool(quote)
    while i < len(text):
        c = text[i]
        if quote and c == quote:
            quote, i = "", i + 1
            end = text.find("\n", i)
            return "".join(out), len(text) if end < 0 else end + 1
        if c == "\n" and not quote:
            break
        if c == "\\" and quote != "'" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "\n":
                pass
            elif quote and nxt not in _DOUBLE_QUOTED_ESCAPES:
                out.append(c + nxt)
            else:
                out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out).rstrip(" \t\r"), i + 1


def _hidden(path: Path) -> Path | None:
    """The first folder on ``path`` that others may not enter, if any."""
    for folder in [*reversed(path.parents), path]:
        if folder.is_dir() and not folder.stat().st_mode & 0o001:
            return folder
    return None


class Supervisor:
    """Starts units' processes as systemd would (see the module's docstring), and stops
    the long-running ones at the end. ``stage``: an empty folder of the test's."""

    def __init__(self, stage: Path, logs: Path) -> None:
        self.stage, self.logs = stage, logs
        self.running: list[subprocess.Popen[bytes]] = []
        logs.mkdir(parents=True, exist_ok=True)

    def _argv(self, unit: Unit, argv: list[str]) -> list[str]:
        user = pwd.getpwnam(unit.get("User"))
        group = unit.get("Group") or str(user.pw_gid)
        drop = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={group}", "--init-groups", "--",
                *argv]
        python = Path(sys.base_prefix).resolve()
        blocked = _hidden(python)
        if blocked is None:
            return drop
        self.stage.mkdir(parents=True, exist_ok=True)
        script = ('set -e; mount --bind "$1" "$2"; mount -t tmpfs -o mode=0755 tmpfs "$3"; '
                  'mkdir -p "$1"; mount --bind "$2" "$1"; shift 3; exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
                "sh", str(python), str(self.stage), str(blocked), *drop]

    def start(self, path: Path) -> subprocess.Popen[bytes]:
        """Start a long-running unit's (one) ExecStart; its output goes to logs/<unit>.log."""
        unit = Unit.read(path)
        (argv,) = unit.commands()
        log = (self.logs / f"{path.name}.log").open("wb")
        proc = subprocess.Popen(self._argv(unit, argv), env=unit.environment(),
                                cwd=unit.get("WorkingDirectory") or "/", stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.running.append(proc)
        return proc

    def run(self, path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run a Type=oneshot unit: its ExecStart lines in order, stopping at the first that
        fails (an exit code SuccessExitStatus= does not list), then its ExecStopPost lines
        with the outcome in $SERVICE_RESULT, $EXIT_CODE and $EXIT_STATUS, as systemd sets
        them. The result of the first ExecStart line (the job's command), or of the line that
        failed."""
        unit = Unit.read(path)
        assert unit.get("Type") == "oneshot", f"{path.name} is no oneshot service"
        ok = {0, *map(int, unit.get("SuccessExitStatus").split())}
        results = []
        for argv in unit.commands():
            results.append(self.exec(unit, argv, timeout=timeout))
            if results[-1].returncode not in ok:
                break
        proc = results[-1] if results[-1].returncode not in ok else results[0]
        outcome = {"SERVICE_RESULT": "success" if proc.returncode in ok else "exit-code",
                   "EXIT_CODE": "exited", "EXIT_STATUS": str(proc.returncode)}
        for argv in unit.commands("ExecStopPost"):
            post = self.exec(unit, argv, env=outcome, timeout=timeout)
            assert post.returncode == 0, f"{path.name} ExecStopPost {argv}: {post.stderr}"
        return proc

    def exec(self, unit: Unit, argv: list[str], *, env: dict[str, str] | None = None,
             stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as ``unit``'s user, in its folder and environment (plus ``env``): what
        an operator does with `sudo -u govcloud`."""
        return subprocess.run(self._argv(unit, argv), env={**unit.environment(), **(env or {})},
                              cwd=unit.get("WorkingDirectory") or "/", input=stdin,
                              capture_output=True, text=True, timeout=timeout)

    def stop(self) -> None:
        for proc in self.running:
            proc.terminate()
        for proc in self.running:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
