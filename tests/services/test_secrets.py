"""No restic password or TLS private key appears anywhere but its own file: not in the
logs, the ansible-runner artifacts, the state store, the reports or the command output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.support.rig import Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real


def secret_folders(rig: Rig) -> list[Path]:
    """The backup hosts' password folders: the primary site's, and the DR site's when the
    rig has one (tests/services/test_disaster_recovery.py adds it). The DR host keeps the
    primary passwords it reads the primary with beside its own, in its own folder."""
    folders = [rig.path("restic_secrets_dir")]
    dr = rig.estate / "inventories" / "group_vars" / "dr_backup_hosts.yml"
    if dr.exists():
        folders.append(Path(yaml.safe_load(dr.read_text())["restic_dr_secrets_dir"]))
    return folders


def test_no_secret_leaks(rig: Rig) -> None:
    folders = secret_folders(rig)
    files = [p for folder in folders for p in folder.glob("*.pass")]
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in files)
    passwords = sorted({p.read_text().strip() for p in files})
    assert len(passwords) >= 10 and all(len(p) >= 40 for p in passwords)
    keys = []
    for key in rig.path("tls_dir").glob("*.key"):
        body = "".join(line for line in key.read_text().splitlines()
                       if "PRIVATE KEY" not in line)
        keys.append(body[:40])
    assert keys
    needles = [s.encode() for s in passwords + keys]
    # produce some more output first: a drill, a report, the inventory
    rig.gc("backup", "verify", "--department", "finance", check=False)
    rig.gc("report", "security", check=False)
    rig.gc("inventory", "--list")
    rig.gc("history")

    allowed = {*folders, rig.path("tls_dir")}
    searched = 0
    for path in rig.base.rglob("*"):
        if not path.is_file() or path.is_symlink() or any(path.is_relative_to(a)
                                                          for a in allowed):
            continue
        data = path.read_bytes()
        searched += 1
        for needle in needles:
            assert needle not in data, f"a secret leaked into {path}"
    for out in rig.outputs:
        for needle in needles:
            assert needle.decode() not in out
    state = rig.estate / ".state"
    assert any(Path(state).rglob("job_events/*.json"))  # the artifacts were searched
    assert searched > 100
