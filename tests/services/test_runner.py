"""Running playbooks: a failure names host, task, message and artifact path; services are
skipped (and say why) when the estate has not switched them on."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from govcloud.services.runner import run_playbook
from tests.support.cli import _env, govcloud
from tests.support.components import free_port
from tests.support.estate import REPO, copy_estate


@pytest.mark.real
@pytest.mark.ansible
def test_a_failure_names_host_task_message_and_artifacts(tmp_path: Path) -> None:
    book = tmp_path / "playbooks" / "broken.yml"
    book.parent.mkdir()
    book.write_text("- name: Broken\n  hosts: webhosts\n  gather_facts: false\n  tasks:\n"
                    "    - name: Step that works\n      ansible.builtin.command: /bin/true\n"
                    "      changed_when: false\n"
                    "    - name: Step that breaks\n      ansible.builtin.command:\n"
                    "        argv: [/bin/sh, -c, 'echo disk full >&2; exit 3']\n")
    inventory = {"all": {"children": ["webhosts"]},
                 "webhosts": {"hosts": ["localhost"]},
                 "_meta": {"hostvars": {"localhost": {
                     "ansible_connection": "local",
                     "ansible_python_interpreter": sys.executable}}}}
    lines: list[str] = []
    run = run_playbook(book, inventory, {}, tmp_path / "runs", on_line=lines.append)
    assert not run.ok and run.status == "failed"
    assert [(f.host, f.task) for f in run.failures] == [("localhost", "Step that breaks")]
    assert "disk full" in run.failures[0].message
    assert run.artifacts.is_dir() and run.artifacts.is_relative_to(tmp_path / "runs")
    text = run.render_failure()
    assert "localhost: task 'Step that breaks'" in text and str(run.artifacts) in text
    assert any("FAILED" in line and "Step that breaks" in line for line in lines)
    assert json.loads((run.artifacts.parent.parent / "summary.json").read_text())["rc"] != 0


def test_services_are_skipped_unless_switched_on(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    proc = govcloud("apply", "--yes", estate=estate, check=True)
    assert "Service playbooks skipped: services.enabled is off" in proc.stdout
    out = json.loads(govcloud("apply", "--yes", "--output", "json", estate=estate).stdout)
    assert out["summary"] == {"done": 0}  # nothing changed: nothing to run
    inv = json.loads(govcloud("inventory", "--list", estate=estate, check=True).stdout)
    assert "approval" in inv["all"]["vars"]["govcloud_departments"]
    assert inv["webhosts"]["hosts"]
    assert {s["domain"] for s in inv["all"]["vars"]["govcloud_websites"]} >= \
        {"zwfw.qingdao.gov.cn", "czj-intra.qingdao.gov.cn"}


# --- host keys (#22, case 11) ---------------------------------------------------------------

HOST_KEY_OFF = re.compile(r"StrictHostKeyChecking[= ]+no\b|HOST_KEY_CHECKING[\"' :=]+False"
                          r"|host_key_checking\s*[:=]\s*(false|no)\b", re.IGNORECASE)


def test_no_host_key_check_is_switched_off_anywhere() -> None:
    """Grep over the playbooks and the services code: no StrictHostKeyChecking=no, no host
    key checking False."""
    files = [*sorted((REPO / "playbooks").rglob("*")), *sorted(
        (REPO / "govcloud" / "services").glob("*.py"))]
    found = [f"{f.relative_to(REPO)}:{n}: {line.strip()}" for f in files if f.is_file()
             for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
             if HOST_KEY_OFF.search(line)]
    assert found == []
    # the pattern does find what it looks for
    assert HOST_KEY_OFF.search('"ANSIBLE_HOST_KEY_CHECKING": "False",')
    assert HOST_KEY_OFF.search("-o StrictHostKeyChecking=no")


@pytest.mark.real
@pytest.mark.ansible
def test_every_ssh_connection_checks_host_keys_in_the_estates_known_hosts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ssh command Ansible runs for a shared host (backup-01 here, at a closed port)
    carries accept-new and the known_hosts file given, never StrictHostKeyChecking=no."""
    book = tmp_path / "playbooks" / "reach.yml"
    book.parent.mkdir()
    book.write_text("- name: Reach\n  hosts: backup_hosts\n  gather_facts: false\n  tasks:\n"
                    "    - name: Ping\n      ansible.builtin.ping:\n")
    inventory = {"all": {"children": ["backup_hosts"]},
                 "backup_hosts": {"hosts": ["backup-01"]},
                 "_meta": {"hostvars": {"backup-01": {
                     "ansible_host": "127.0.0.1", "ansible_port": free_port(),
                     "ansible_user": "govcloud"}}}}
    known = tmp_path / "state" / "services" / "ssh" / "known_hosts"
    known.parent.mkdir(parents=True)
    known.touch()
    monkeypatch.setenv("ANSIBLE_VERBOSITY", "3")  # ansible prints the ssh command it runs
    run = run_playbook(book, inventory, {}, tmp_path / "runs", known_hosts=known)
    assert not run.ok and "unreachable" in run.failures[0].message
    ssh = [line for line in (run.artifacts / "stdout").read_text().splitlines()
           if "SSH: EXEC" in line]
    assert ssh, (run.artifacts / "stdout").read_text()[-2000:]
    for line in ssh:
        assert "StrictHostKeyChecking=accept-new" in line
        assert f"UserKnownHostsFile={known}" in line
        assert not HOST_KEY_OFF.search(line), line


# --- a cancelled run (#22, case 12) ---------------------------------------------------------

SLEEP = str(3000 + os.getpid() % 1000)  # this test's sleep, told apart from any other


def _processes() -> dict[int, tuple[int, str, list[str]]]:
    """Every live process (one that has ended and waits to be reaped is not): its parent,
    its start time (to tell a reused pid) and its argv."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            out[int(entry.name)] = (int(fields[1]), fields[19], [a for a in argv if a])
    return out


def _descendants(pid: int) -> dict[int, tuple[int, str, list[str]]]:
    procs = _processes()
    found: dict[int, tuple[int, str, list[str]]] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for child, info in procs.items():
            if info[0] == parent and child not in found:
                found[child] = info
                todo.append(child)
    return found


def _sleeping_estate(tmp_path: Path) -> Path:
    """An estate with services on, localhost as every shared host, and its own playbooks:
    web hosting sleeps (in a task, as a long restore does), the others do nothing."""
    estate = copy_estate(tmp_path / "estate")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["services"] = {"enabled": True, "signatures": str(tmp_path)}
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (estate / "inventories" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        group: {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": sys.executable}}}
        for group in ("webhosts", "av_mirror", "backup_hosts")}}}))
    books = estate / "playbooks"
    books.mkdir()
    (books / "webhosting.yml").write_text(
        "- name: Long\n  hosts: webhosts\n  gather_facts: false\n  tasks:\n"
        f"    - name: Sleep\n      ansible.builtin.command: sleep {SLEEP}\n")
    for name in ("antivirus", "backup"):
        (books / f"{name}.yml").write_text(
            f"- name: {name}\n  hosts: webhosts\n  gather_facts: false\n  tasks:\n"
            "    - name: Touch\n      ansible.builtin.file:\n"
            f"        path: {tmp_path / name}\n        state: touch\n")
    return estate


@pytest.mark.real
@pytest.mark.ansible
def test_sigterm_ends_every_process_of_the_run_and_releases_the_lock(tmp_path: Path) -> None:
    estate = _sleeping_estate(tmp_path)
    govcloud("apply", "--yes", "--no-services", estate=estate, check=True)
    proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "services",
                             "run"], env=_env(None), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not any(argv == ["sleep", SLEEP] for _, _, argv in
                      _descendants(proc.pid).values()):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        started = _descendants(proc.pid)
        assert any("ansible-playbook" in " ".join(argv) for _, _, argv in started.values())
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    now = _processes()
    alive = [(pid, argv) for pid, (_, start, argv) in started.items()
             if pid in now and now[pid][1] == start]
    assert alive == []
    assert not any(argv == ["sleep", SLEEP] for _, _, argv in now.values())
    assert proc.returncode == 1, (out, err)
    assert "webhosting.yml was stopped by SIGTERM" in err and "have ended" in err, err
    assert "Traceback" not in err
    # the next playbooks never started, and the lock is free
    assert not (tmp_path / "antivirus").exists() and not (tmp_path / "backup").exists()
    again = govcloud("apply", "--yes", "--no-services", "--lock-timeout", "0", estate=estate)
    assert again.returncode == 0, again.stdout + again.stderr


def test_a_process_of_the_run_that_left_its_session_or_ignores_sigterm_is_ended() -> None:
    """What a process group misses (a child in a session of its own, as ansible's workers
    are) and what SIGTERM does not end (a trap) are ended by the run's mark: asked first,
    killed after the grace period."""
    from govcloud.services.runner import end_processes, marked

    ident = f"test-{os.getpid()}-{time.monotonic_ns()}"
    env = {**os.environ, "GOVCLOUD_RUN": ident}
    stubborn = subprocess.Popen(["sh", "-c", "trap '' TERM; sleep 600 & wait"], env=env)
    away = subprocess.Popen(["setsid", "sleep", "600"], env=env)  # a session of its own
    try:
        deadline = time.monotonic() + 10
        # sh, its sleep, and the sleep in its own session (once setsid has made it: until
        # then the child is still in this session)
        while (len(marked(ident)) < 3 or os.getsid(away.pid) == os.getsid(0)) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(marked(ident)) >= 3
        assert os.getsid(away.pid) != os.getsid(0)
        started = time.monotonic()
        end_processes(ident, grace=1.0)
        assert marked(ident) == []
        assert 1.0 <= time.monotonic() - started < 5  # the trap held until SIGKILL
        assert stubborn.wait(5) == -signal.SIGKILL and away.wait(5) == -signal.SIGTERM
    finally:
        for p in (stubborn, away):
            if p.poll() is None:
                p.kill()
