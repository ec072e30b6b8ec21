"""Running playbooks: a failure names host, task, message and artifact path; services are
skipped (and say why) when the estate has not switched them on."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from govcloud.services.runner import run_playbook
from tests.support.cli import govcloud
from tests.support.estate import copy_estate


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
