"""The backup commands' refusals, as an operator meets them: every bad input is named with
where it is and how to fix it, before any playbook runs. No real component needed (a refused
command never reaches Ansible)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import govcloud
from tests.support.estate import copy_estate, edit

DR_HOST = "        dr-backup-01: {ansible_host: 10.30.0.31}\n"
PRIMARY_HOST = "        backup-01: {ansible_host: 10.20.0.31}\n"


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The example estate with no backup host at either site: a command that got as far as
    Ansible would fail there (no hosts), never reach a machine."""
    est = copy_estate(tmp_path / "estate")
    hosts = est / "inventories" / "hosts.yml"
    edit(hosts, DR_HOST, "")
    edit(hosts, PRIMARY_HOST, "")
    return est


@pytest.mark.parametrize("target", [
    "/srv/{{ lookup('pipe', 'id') }}",   # Ansible templates extra vars: code on the controller
    "/srv/restore/{{ 7 * 6 }}",
    "/srv/re store",
    "/srv/restore\nx",
    "/srv/$(id)",
])
def test_a_restore_target_that_could_reach_a_template_or_shell_is_refused(
        estate: Path, target: str) -> None:
    proc = govcloud("backup", "restore", "-d", "finance", "--to", target, estate=estate)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "restore target" in proc.stderr and "Traceback" not in proc.stderr
    assert "letters, digits" in proc.stderr  # the fix: which characters a target may hold
    assert "no hosts" not in proc.stderr     # refused before any playbook ran


@pytest.mark.parametrize("target, what", [
    ("srv/restore", "not an absolute path"),
    ("/srv/../etc", "'..'"),
])
def test_a_relative_or_climbing_target_is_named_for_what_it_is(
        estate: Path, target: str, what: str) -> None:
    proc = govcloud("backup", "restore", "-d", "finance", "--to", target, estate=estate)
    assert proc.returncode == 1 and what in proc.stderr, proc.stderr


@pytest.mark.parametrize("args, group", [
    (["backup", "verify", "--site", "dr", "-d", "finance"], "dr_backup_hosts"),
    (["backup", "verify", "--site", "both"], "dr_backup_hosts"),
    (["backup", "restore", "-d", "finance", "--site", "dr", "--rehearse"], "dr_backup_hosts"),
    (["backup", "restore", "-d", "finance", "--site", "dr", "--to", "/srv/r"],
     "dr_backup_hosts"),
    (["backup", "verify", "-d", "finance"], "backup_hosts"),
])
def test_a_site_without_a_backup_host_is_named_with_the_fix(
        estate: Path, args: list[str], group: str) -> None:
    proc = govcloud(*args, estate=estate)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"group {group}" in proc.stderr and "inventories/hosts.yml" in proc.stderr, \
        proc.stderr
    assert "no hosts to target" not in proc.stderr and "Traceback" not in proc.stderr


def test_a_department_with_backup_off_is_named_with_its_plan_file(estate: Path) -> None:
    """A department without servers may switch backup off (policy keeps it on for those
    with servers): the refusal names its plan file and the key."""
    govcloud("new", "department", "archives", estate=estate, check=True)
    plan = estate / "plans" / "archives.yaml"
    text = plan.read_text()
    start, end = text.index("\nservers:\n") + 1, text.index("\nwebsites: []") + 1
    plan.write_text(text[:start] + "servers: []\n" + text[end:])
    edit(plan, "  backup:\n", "  backup:\n    enabled: false\n")
    proc = govcloud("backup", "verify", "-d", "archives", estate=estate)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "plans/archives.yaml" in proc.stderr and "services.backup.enabled" in proc.stderr
    assert "switched off" in proc.stderr and "Traceback" not in proc.stderr
