"""Backup for real: restic repositories per department, a restore drill, restores that give
byte-identical files back, passwords that open only their own repository, retention that
keeps exactly what the plan's rules say."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.rig import Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real


def restic(rig: Rig, dep: str, *args: str, password_of: str | None = None
           ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESTIC_REPOSITORY": str(rig.path("restic_repo_root") / dep),
           "RESTIC_PASSWORD_FILE": str(rig.path("restic_secrets_dir")
                                       / f"restic-{password_of or dep}.pass"),
           "RESTIC_CACHE_DIR": str(rig.path("restic_cache_dir"))}
    return subprocess.run([str(rig.path("restic_bin")), *args], capture_output=True,
                          text=True, env=env)


def department_files(rig: Rig, dep: str) -> dict[Path, bytes]:
    """Write some data into the department's data paths (as mounted on the backup host)."""
    plan = rig.plans()[dep]
    paths = plan.get("services", {}).get("backup", {}).get("paths", ["/srv/data"])
    out = {}
    for i, p in enumerate(paths):
        folder = rig.path("backup_data_root") / dep / p.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        f = folder / f"ledger-{i}.csv"
        f.write_bytes(f"{dep},{i},".encode() + os.urandom(2048))
        out[f] = f.read_bytes()
        sub = folder / "年度" / "报告.txt"
        sub.parent.mkdir(exist_ok=True)
        sub.write_text(f"{dep} 年度报告 {i}\n" * 50, encoding="utf-8")
        out[sub] = sub.read_bytes()
    return out


@pytest.fixture(scope="module")
def two(rig: Rig) -> dict[str, dict[Path, bytes]]:
    plans = rig.plans()
    deps = [d for d in ("finance", "education") if d in plans]
    assert len(deps) == 2
    files = {}
    for dep in deps:
        files[dep] = department_files(rig, dep)
        # the department's docroots are backed up too
        files[dep].update({p: p.read_bytes() for p in (rig.path("web_root") / dep).rglob("*")
                           if p.is_file()})
        subprocess.run([rig.bin("govcloud-backup"), "run", dep], check=True)
    return files


def test_backup_verify_restore_gives_identical_files(rig: Rig, two: dict) -> None:
    for files in two.values():
        items = sorted(files)
        items[0].unlink()  # deleted
        items[1].write_bytes(b"corrupted by ransomware")  # corrupted
    # every department with backup on is drilled; those never backed up fail the drill
    drills = rig.gc_json("backup", "verify", ok_codes=(1,))
    by_dep = {d["department"]: d for d in drills}
    for dep, files in two.items():
        assert by_dep[dep]["ok"], by_dep[dep]
        assert by_dep[dep]["files"] == len(files)
    never = [d for d in drills if d["department"] not in two and d["department"] != "statistics"]
    assert never and all(d["status"] == "failed: no snapshot" for d in never), never
    one = rig.gc_json("backup", "verify", "--department", "finance")
    assert [d["department"] for d in one] == ["finance"] and one[0]["ok"]

    for dep, files in two.items():
        rig.gc("backup", "restore", "--department", dep, "--to", "/")
        for path, data in files.items():
            assert path.read_bytes() == data, path


def test_a_password_opens_only_its_own_repository(rig: Rig, two: dict) -> None:
    a, b = sorted(two)
    assert restic(rig, a, "snapshots", "--json").returncode == 0
    assert restic(rig, b, "snapshots", "--json").returncode == 0
    wrong = restic(rig, b, "snapshots", password_of=a)
    assert wrong.returncode != 0
    assert "wrong password" in wrong.stderr
    pa = (rig.path("restic_secrets_dir") / f"restic-{a}.pass").read_text()
    pb = (rig.path("restic_secrets_dir") / f"restic-{b}.pass").read_text()
    assert pa != pb and len(pa) >= 40
    assert oct((rig.path("restic_secrets_dir") / f"restic-{a}.pass").stat().st_mode & 0o777) \
        == "0o600"


def expected_kept(times: list[dt.datetime], rules: dict[str, int]) -> set[dt.datetime]:
    """restic's keep rules, written out independently: the newest snapshot of each of the
    last N days / ISO weeks / months / years that have snapshots."""
    keys = {"daily": lambda t: t.strftime("%Y-%m-%d"),
            "weekly": lambda t: t.isocalendar()[:2],
            "monthly": lambda t: t.strftime("%Y-%m"),
            "yearly": lambda t: t.year}
    kept: set[dt.datetime] = set()
    for rule, n in rules.items():
        last = None
        for t in sorted(times, reverse=True):
            if n <= 0:
                break
            k = keys[rule](t)
            if k != last:
                kept.add(t)
                last = k
                n -= 1
    return kept


def test_retention_keeps_exactly_what_the_rules_say(rig: Rig) -> None:
    dep = "statistics"
    rules = rig.plans()[dep]["services"]["backup"]["retention"]
    assert rules == {"daily": 7, "weekly": 2, "monthly": 2, "yearly": 1}
    department_files(rig, dep)
    start = dt.datetime(2026, 1, 1, 12, 0, 0)
    # backups on 40 days spread over ten months, some days twice
    times = sorted({start + dt.timedelta(days=d, hours=h) for d in
                    [*range(0, 300, 13), *range(280, 298)] for h in ((0, 3) if d % 5 == 0
                                                                     else (0,))})
    for t in times:
        proc = restic(rig, dep, "backup", "--quiet", "--host", "govcloud", "--tag", "govcloud",
                      "--time", t.strftime("%Y-%m-%d %H:%M:%S"),
                      str(rig.path("backup_data_root") / dep))
        assert proc.returncode == 0, proc.stderr
    subprocess.run([rig.bin("govcloud-backup"), "forget", dep], check=True)
    snaps = json.loads(restic(rig, dep, "snapshots", "--json").stdout)
    kept = sorted(dt.datetime.fromisoformat(s["time"]).replace(tzinfo=None, microsecond=0)
                  for s in snaps)
    assert kept == sorted(expected_kept(times, rules))
    assert 7 <= len(kept) < len(times)


def test_a_damaged_repository_fails_the_drill(rig: Rig, two: dict) -> None:
    dep = sorted(two)[1]
    packs = sorted((rig.path("restic_repo_root") / dep / "data").rglob("*"))
    pack = max((p for p in packs if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(pack.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pack.write_bytes(bytes(data))
    proc = rig.gc("backup", "verify", "--department", dep, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    drills = rig.gc_json("backup", "verify", "--department", dep, ok_codes=(1,))
    assert not drills[0]["ok"]
