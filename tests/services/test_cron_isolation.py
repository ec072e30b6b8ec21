"""A service failure for one department never stops another's (#22, case 1), on the real rig.

Debian's cron (3.0pl1) ignores a whole file of /etc/cron.d for one line it cannot read, and
every file whose name run-parts refuses (anything but letters, digits, '_' and '-'). The
playbooks write one cron file per department, so a bad line (validate refuses one since
core.cron; here it is written straight into the file, as a hand edit or an older govcloud
would) costs its own department only. The rig has no cron daemon to point at its folder: the
folder is read as Debian's cron reads /etc/cron.d (its parser's port, in
test_validation_gate.py), and the commands it would run are run.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.services.test_validation_gate import debian_cron_reads
from tests.support.rig import Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real

BAD = "60 24 32 13 8"  # the reported schedule: cron refuses the file that holds it


def cron_reads(folder: Path) -> tuple[dict[str, list[list[str]]], list[str]]:
    """What Debian's cron takes from ``folder``: the commands of each file it reads, and the
    files it ignores (a name run-parts refuses, or a line it cannot read)."""
    read: dict[str, list[list[str]]] = {}
    ignored = []
    for f in sorted(folder.iterdir()):
        if not re.fullmatch(r"[A-Za-z0-9_-]+", f.name):
            ignored.append(f.name)
            continue
        commands = []
        for line in f.read_text().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = line.split()
            if len(fields) < 7 or not debian_cron_reads(" ".join(fields[:5])):
                ignored.append(f.name)  # "Syntax error, this crontab file will be ignored"
                break
            commands.append(fields[6:])  # after the five times and the user
        else:
            read[f.name] = commands
    return read, ignored


def snapshots(rig: Rig, dep: str) -> int:
    env = {**os.environ, "RESTIC_REPOSITORY": str(rig.path("restic_repo_root") / dep),
           "RESTIC_PASSWORD_FILE": str(rig.path("restic_secrets_dir") / f"restic-{dep}.pass"),
           "RESTIC_CACHE_DIR": str(rig.path("restic_cache_dir"))}
    out = subprocess.run([str(rig.path("restic_bin")), "snapshots", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return len(json.loads(out))


def test_a_bad_line_in_one_departments_cron_stops_no_other_departments_scans_or_backups(
        rig: Rig) -> None:
    folder = rig.path("cron_dir")
    plans = rig.plans()
    scanned = sorted(d for d, p in plans.items() if p.get("websites")
                     and p.get("services", {}).get("antivirus", {}).get("enabled", True))
    backed_up = sorted(d for d, p in plans.items()
                       if p.get("services", {}).get("backup", {}).get("enabled", True))
    victim = scanned[len(scanned) // 2]
    others = [d for d in scanned if d != victim and d in backed_up]
    assert victim in backed_up and len(others) >= 2
    scan, backup = rig.bin("govcloud-avscan"), rig.bin("govcloud-backup")
    every = sorted([[scan, d] for d in scanned] + [[backup, "run", d] for d in backed_up])

    def commands() -> list[list[str]]:
        """The scans and backups cron would run (the DR site's copy, when a test put the DR
        role on this host, aside)."""
        read, _ = cron_reads(folder)
        return sorted(c for cs in read.values() for c in cs if c[0] in (scan, backup))

    assert cron_reads(folder)[1] == [] and commands() == every

    # the victim's lines are broken where they are written
    before = {f.name: f.read_text() for f in folder.iterdir()}
    for f in folder.iterdir():
        text = f.read_text()
        for line in text.splitlines():
            if line.endswith((f"govcloud-avscan {victim}", f"govcloud-backup run {victim}")):
                text = text.replace(line, f"{BAD} {line.split(' ', 5)[5]}")
        f.write_text(text)
    # every other department's scan and backup is still read: only the victim's stop
    assert commands() == [c for c in every if c[-1] != victim]
    broken = sorted(n for n in before if (folder / n).read_text() != before[n])
    assert broken == [f"govcloud-antivirus_{victim}", f"govcloud-backup_{victim}"]
    assert cron_reads(folder)[1] == broken

    # the others' scans and backups run, as cron runs them
    for dep in others[:2]:
        logs = rig.path("clamav_results_dir") / dep
        had = set(logs.glob("*.log")) if logs.is_dir() else set()
        count = snapshots(rig, dep) if (rig.path("restic_repo_root") / dep / "config"
                                         ).is_file() else 0
        for command in ([scan, dep], [backup, "run", dep]):
            assert command in commands()
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (command, done.stdout, done.stderr)
        assert len(set(logs.glob("*.log")) - had) == 1
        assert snapshots(rig, dep) == count + 1

    # the playbooks mend the victim's files, remove the shared files of earlier versions
    # and those of a department that left, and leave the others' files as they were
    for stale in ("govcloud-antivirus", "govcloud-backup", "govcloud-antivirus_gone",
                  "govcloud-backup_gone"):
        (folder / stale).write_text(f"# written by an earlier govcloud\n0 3 * * * root "
                                    f"{scan} gone\n")
    rig.gc("services", "run", "--department", victim)
    after = {f.name: f.read_text() for f in folder.iterdir()}
    assert after == before
