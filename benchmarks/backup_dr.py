"""Drill and restore timings for one department of a given size, at both backup sites.

A one-department estate with services on is set up as the service tests do (localhost plays
the backup host and the DR host, every location inside --work), the playbooks run for real,
then the department's data path is filled with incompressible files (random bytes, the
worst case for restic's deduplication and compression), backed up, and copied to the DR
site. Timed, once: the backup and the DR copy. Timed, --rounds times each, medians printed:
the restore drill at the primary and at the DR site (``govcloud backup verify``: restic
check, restore into scratch, every file checked against the manifest) and the DR restore
rehearsal (``govcloud backup restore --site dr --rehearse``: the measured recovery time).

    pip install -e '.[bench,services]'
    python3 benchmarks/backup_dr.py                      # 1 GB, 3 rounds
    python3 benchmarks/backup_dr.py --gb 0.1 --rounds 5 --work /tmp/bdr

Needs root, ansible-runner, restic, clamscan and nginx (what .ci/install-services installs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.estate import copy_estate  # noqa: E402
from tests.support.rig import local_services  # noqa: E402

DEP = "bench"
FILE_MB = 16


def govcloud(estate: Path, *args: str) -> tuple[Any, float]:
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    took = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"govcloud {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n"
                 f"{proc.stderr}")
    return (json.loads(proc.stdout) if "json" in args else proc.stdout), took


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def prepare(work: Path) -> tuple[Path, dict[str, Any]]:
    """The estate, its playbooks run, with a DR site: localhost again, folders of its own."""
    tools = {name: shutil.which(name) or f"/usr/sbin/{name}"
             for name in ("nginx", "clamscan", "restic")}
    estate = copy_estate(work / "estate", plans=False)
    shutil.copytree(REPO / "playbooks", estate / "playbooks")
    sigs = work / "signatures"
    sigs.mkdir()
    (sigs / "none.ndb").write_text("Govcloud.Bench.None:0:*:00ff00ff00ff00ff00ff\n")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["services"] = {"enabled": True, "signatures": str(sigs)}
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                          encoding="utf-8")
    (estate / "plans" / f"{DEP}.yaml").write_text(yaml.safe_dump({
        "department": {"id": DEP, "name": "benchmark bureau", "cost_centre": "CC-9999",
                       "zone": "intranet"},
        "quota": {"instances": 0, "cores": 0, "ram_gb": 0, "volumes": 0, "volume_gb": 0,
                  "websites": 0},
        "services": {"backup": {"schedule": "30 1 * * *", "paths": ["/srv/data"]}},
        "legacy": {"servers": [{"class": "tower-2u", "count": 1}], "admin_staff": 1},
    }), encoding="utf-8")
    values = local_services(estate, work / "srv", nginx=tools["nginx"],
                            clamscan=tools["clamscan"], restic=tools["restic"],
                            http_port=18080, https_port=18443)
    inv = estate / "inventories"
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    hosts["all"]["children"]["dr_backup_hosts"] = hosts["all"]["children"]["backup_hosts"]
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    site = work / "srv-dr"
    dr = {"restic_dr_repo_root": f"{site}/restic", "restic_dr_secrets_dir": f"{site}/secrets",
          "restic_dr_cache_dir": f"{site}/cache", "restic_dr_conf_dir": f"{site}/conf",
          "restic_dr_results_dir": f"{site}/results",
          "restic_dr_scratch_dir": f"{site}/scratch",
          "restic_dr_source_root": values["restic_repo_root"]}
    (inv / "group_vars" / "dr_backup_hosts.yml").write_text(yaml.safe_dump(dr))
    (work / "srv" / "run").mkdir(parents=True)
    govcloud(estate, "apply", "--yes")
    return estate, values


def fill(folder: Path, gb: float) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    total = int(gb * 1024**3)
    n, written = 0, 0
    while written < total:
        size = min(FILE_MB * 1024**2, total - written)
        (folder / f"part-{n:04d}.bin").write_bytes(os.urandom(size))
        written += size
        n += 1
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gb", type=float, default=1.0, help="the department's data, GiB")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--work", type=Path, help="folder to work in (default: a new temp one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="govcloud-bench-dr-", dir="/var/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"setting up in {work} (playbooks run for real) ...", flush=True)
        estate, values = prepare(work)
        size = fill(Path(values["backup_data_root"]) / DEP / "srv" / "data", args.gb)
        print(f"department {DEP}: {size / 1024**3:.2f} GiB in {FILE_MB} MiB random files")
        bin_dir = Path(values["govcloud_bin_dir"])
        backup = timed([str(bin_dir / "govcloud-backup"), "run", DEP])
        copy = timed([str(bin_dir / "govcloud-backup-dr"), "copy", DEP])
        print(f"backup (restic backup + manifest + forget): {backup:.1f} s")
        print(f"DR copy (restic copy to the DR repository): {copy:.1f} s")
        rows: dict[str, list[float]] = {}
        for r in range(args.rounds):
            for site in ("primary", "dr"):
                drills, wall = govcloud(estate, "backup", "verify", "--department", DEP,
                                        "--site", site, "--output", "json")
                d = drills[0]
                if not d["ok"]:
                    sys.exit(f"the {site} drill failed: {d}")
                rows.setdefault(f"drill {site}: restic restore", []).append(
                    float(d["restore_seconds"]))
                rows.setdefault(f"drill {site}: govcloud backup verify, end to end",
                                []).append(wall)
            rehearsal, wall = govcloud(estate, "backup", "restore", "--department", DEP,
                                       "--site", "dr", "--rehearse", "--output", "json")
            rows.setdefault("DR rehearsal: measured recovery time", []).append(
                float(rehearsal["seconds"]))
            rows.setdefault("DR rehearsal: restic restore", []).append(
                float(rehearsal["drill"]["restore_seconds"]))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
        print(f"\nmedians over {args.rounds} rounds, {size / 1024**3:.2f} GiB:")
        for name, values_ in rows.items():
            print(f"  {name:<55} {statistics.median(values_):7.1f} s   "
                  f"(all: {', '.join(f'{v:.1f}' for v in values_)})")
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
