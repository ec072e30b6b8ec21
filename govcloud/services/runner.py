"""Running one playbook through ansible-runner: artifacts kept under an id, events streamed,
failures summarised (host, task, message, artifact path), stats kept for idempotence checks.

Host keys are checked on every SSH connection Ansible makes (``accept-new``: recorded on
first contact in the estate's known_hosts, refused when changed). A run stopped by SIGTERM
or SIGINT ends every process it started before govcloud goes on: the playbook and its
workers (each in a session of its own, so a process group does not hold them), modules and
ssh clients, all found by the mark in their environment (``GOVCLOUD_RUN``); asked to end
first, killed after a grace period.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.errors import GovcloudError, MissingExtra
from govcloud.services.recovery import printable

Line = Callable[[str], None]


MARK = "GOVCLOUD_RUN"  # in the environment of every process of a run: its ident
GRACE = 10.0  # seconds a run's processes have to end once asked, before they are killed


class PlaybookFailed(GovcloudError):
    """A service playbook failed; the message names host, task, error and artifacts."""


class PlaybookStopped(PlaybookFailed):
    """A run was stopped by a signal; every process it started has ended."""


@dataclass(frozen=True)
class Failure:
    host: str
    task: str
    message: str

    def render(self) -> str:
        return f"{self.host}: task '{self.task}': {self.message}"


@dataclass
class PlaybookRun:
    """What one ansible-runner run did."""

    playbook: str
    ident: str
    status: str
    rc: int
    artifacts: Path
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "successful" and self.rc == 0 and not self.failures

    @property
    def changed(self) -> int:
        return sum(self.stats.get("changed", {}).values())

    def as_dict(self) -> dict[str, Any]:
        return {"playbook": self.playbook, "ident": self.ident, "status": self.status,
                "rc": self.rc, "ok": self.ok, "changed": self.changed,
                "artifacts": str(self.artifacts), "seconds": round(self.seconds, 1),
                "failures": [f.__dict__ for f in self.failures]}

    def render_failure(self) -> str:
        lines = [f"{self.playbook} failed ({self.status}, rc {self.rc})"]
        lines += [f"  {f.render()}" for f in self.failures]
        lines.append(f"  artifacts: {self.artifacts}")
        return "\n".join(lines)


def _message(res: dict[str, Any]) -> str:
    for item in res.get("results") or []:  # a loop: the first failed item says why
        if isinstance(item, dict) and item.get("failed"):
            label = item.get("_ansible_item_label", item.get("item", ""))
            return f"item {label}: {_message(item)}" if label else _message(item)
    parts = []
    for key in ("msg", "stderr", "module_stderr", "reason"):
        value = res.get(key)
        if value and isinstance(value, str) and value.strip() not in parts:
            parts.append(value.strip())
    text = " | ".join(parts) or "failed"
    text = printable(" ".join(text.split()))  # names a department's files: no ESC through
    return text if len(text) <= 600 else text[:597] + "..."


def require_ansible() -> tuple[Any, str]:
    """ansible-runner (the side-effect edge: imported only here), and a PATH on which it
    finds the ansible-playbook of govcloud's own environment first (a virtualenv that is not
    activated included)."""
    try:  # imported here: ansible-runner is the services extra
        import ansible_runner
    except ImportError as exc:
        raise MissingExtra("running the service playbooks", "services",
                           "ansible-runner") from exc
    path = os.pathsep.join(filter(None, [str(Path(sys.executable).parent),
                                         os.environ.get("PATH", "")]))
    if shutil.which("ansible-playbook", path=path) is None:
        raise MissingExtra("running the service playbooks", "services",
                           "ansible-core (its ansible-playbook command)")
    return ansible_runner, path


def run_playbook(playbook: Path, inventory: dict[str, Any], extravars: dict[str, Any],
                 runs_dir: Path, tags: str | None = None, on_line: Line | None = None,
                 limit: str | None = None, known_hosts: Path | None = None) -> PlaybookRun:
    """Run ``playbook`` with ``inventory``; artifacts go to ``runs_dir/<ident>``. SSH host
    keys are recorded in and checked against ``known_hosts`` (default: the run's own file).
    Once a SIGTERM or SIGINT has ended the run's processes, raises PlaybookStopped
    (SIGTERM) or KeyboardInterrupt (SIGINT, as Ctrl-C anywhere else)."""
    ansible_runner, path = require_ansible()
    events = _Events(on_line or (lambda text: None))
    ident = f"{time.strftime('%Y%m%dT%H%M%S')}-{playbook.stem}-{uuid.uuid4().hex[:6]}"
    private = runs_dir / ident
    private.mkdir(parents=True, exist_ok=True)
    script = _inventory_script(private, inventory)
    cmdline = " ".join(([f"--tags {tags}"] if tags else [])
                       + ([f"--limit {limit}"] if limit else [])) or None
    env = {**_environment(playbook, private, path, known_hosts or private / "known_hosts"),
           MARK: ident}
    started = time.monotonic()
    with _stoppable(ident) as stop:
        try:
            r = ansible_runner.run(
                private_data_dir=str(private), artifact_dir=str(private / "artifacts"),
                ident=ident, playbook=str(playbook), inventory=str(script),
                extravars=extravars, envvars=env, cmdline=cmdline, quiet=True,
                event_handler=events, cancel_callback=stop,
                settings={"suppress_ansible_output": True, "pexpect_timeout": 1})
        except Exception as exc:  # ansible-runner raises plain exceptions for setup problems
            raise PlaybookFailed(f"could not start {playbook.name}: {exc}",
                                 f"see the run folder {private}") from exc
    artifacts = private / "artifacts" / ident
    stats = r.stats or {}
    run = PlaybookRun(playbook.name, ident, r.status, int(r.rc or 0), artifacts,
                      {k: dict(v) for k, v in stats.items() if isinstance(v, dict)},
                      events.failures, time.monotonic() - started)
    if not run.ok and not events.failures:
        run.failures.append(Failure("-", "-", _tail(artifacts / "stdout")))
    (private / "summary.json").write_text(json.dumps(run.as_dict(), indent=1))
    if stop.signal == "SIGINT":
        raise KeyboardInterrupt  # Ctrl-C: the run's processes have ended; govcloud exits 130
    if stop.signal:
        raise PlaybookStopped(
            f"{playbook.name} was stopped by {stop.signal} after {run.seconds:.0f}s: it and "
            f"every process it started have ended (artifacts {artifacts})",
            "run the command again to finish what the playbook had left to do")
    return run


class _Stop:
    """The cancel callback of one run: true once a SIGTERM or SIGINT came, by then every
    process of the run (those carrying its mark) has ended."""

    def __init__(self, ident: str) -> None:
        self.ident = ident
        self.signal = ""
        self.done = False

    def handle(self, number: int, frame: object) -> None:
        self.signal = signal.Signals(number).name

    def __call__(self) -> bool:
        if self.signal and not self.done:
            end_processes(self.ident)
            self.done = True
        return bool(self.signal)


@contextmanager
def _stoppable(ident: str) -> Iterator[_Stop]:
    """SIGTERM and SIGINT stop the run (in the main thread, where signals arrive); the
    handlers before are put back after it."""
    stop = _Stop(ident)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    before = {s: signal.signal(s, stop.handle) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for number, handler in before.items():
            signal.signal(number, handler)
        if stop.signal and not stop.done:  # came as the run ended: its stragglers end too
            end_processes(ident)


def marked(ident: str) -> list[int]:
    """The live processes whose environment carries the run's mark (a finished process
    waiting to be reaped has none)."""
    needle = f"{MARK}={ident}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = Path(entry.path, "environ").read_bytes()
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if needle in environ.split(b"\0"):
                found.append(int(entry.name))
    return found


def end_processes(ident: str, grace: float = GRACE) -> None:
    """Ask every process of the run to end (SIGTERM, once each, as new ones appear), kill
    what is left after ``grace`` seconds (SIGKILL) until none is found; one that even that
    cannot end within another ``grace`` (stuck in the kernel) is left."""
    if not os.path.isdir("/proc"):
        return
    started = time.monotonic()
    asked: set[int] = set()
    while pids := marked(ident):
        waited = time.monotonic() - started
        if waited > 2 * grace:
            return
        for pid in pids:
            if pid in asked and waited <= grace:
                continue
            try:
                os.kill(pid, signal.SIGTERM if waited <= grace else signal.SIGKILL)
            except OSError:  # gone meanwhile, or not ours to signal
                pass
            asked.add(pid)
        time.sleep(0.1)


def _inventory_script(private: Path, inventory: dict[str, Any]) -> Path:
    """The inventory as a dynamic-inventory script, exactly what govcloud inventory --list
    prints (ansible reads a plain JSON file as a YAML inventory, without _meta)."""
    (private / "inventory.json").write_text(json.dumps(inventory, ensure_ascii=False))
    script = private / "inventory.sh"
    script.write_text('#!/bin/sh\n# govcloud inventory: --list prints it all, --host nothing '
                      '(every host variable is under _meta)\n'
                      'case "$1" in --host) echo "{}";; *) exec cat "$(dirname "$0")/'
                      'inventory.json";; esac\n')
    script.chmod(0o700)
    return script


def _environment(playbook: Path, private: Path, path: str, known_hosts: Path
                 ) -> dict[str, str]:
    """ansible's settings for a run: the playbook's roles, no colour, no retry files, a
    temporary folder in the run folder, the script inventory only, ``path``, and host keys
    checked on every SSH connection: recorded in ``known_hosts`` on first contact, refused
    when one changes (``accept-new``; host key checking off would add
    StrictHostKeyChecking "no" ahead of it)."""
    return {
        "ANSIBLE_ROLES_PATH": str(playbook.parent / "roles"),
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s "
                            "-o StrictHostKeyChecking=accept-new "
                            f"-o UserKnownHostsFile={shlex.quote(str(known_hosts))}",
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "ANSIBLE_DISPLAY_SKIPPED_HOSTS": "False",
        "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_INVENTORY_ENABLED": "script",
        "PATH": path,
    }


class _Events:
    """ansible-runner's event handler for one run: says each play, change and failure, and
    keeps the failures."""

    def __init__(self, say: Line) -> None:
        self.say = say
        self.failures: list[Failure] = []

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {})
        host = data.get("host", "")
        task = data.get("task", "")
        if kind == "playbook_on_play_start":
            self.say(f"PLAY {data.get('play', '')}")
        elif kind == "runner_on_ok" and data.get("res", {}).get("changed"):
            self.say(f"  changed  {host}: {task}")
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            self.failures.append(Failure(host, task, _message(data.get("res", {}))))
            self.say(f"  FAILED   {host}: {task}: {self.failures[-1].message}")
        elif kind == "runner_on_unreachable":
            self.failures.append(Failure(host, task, "unreachable: "
                                         + _message(data.get("res", {}))))
            self.say(f"  UNREACHABLE {host}: {self.failures[-1].message}")
        return True


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no output"
    return " | ".join(text[-lines:]) or "no output"


def prune_runs(runs_dir: Path, keep: int = 50) -> None:
    """Keep the newest ``keep`` run folders."""
    if not runs_dir.is_dir():
        return
    runs = sorted((p for p in runs_dir.iterdir() if p.is_dir()), key=lambda p: p.name)
    for old in runs[:-keep]:
        for root, dirs, files in os.walk(old, topdown=False):
            for f in files:
                os.unlink(os.path.join(root, f))
            for d in dirs:
                os.rmdir(os.path.join(root, d))
        old.rmdir()
