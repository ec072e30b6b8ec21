"""Two backup sites for real: the primary backup host and the disaster-recovery host (two
folders on this machine, both reached by ansible-runner), restic copy between them, restores
from the DR copy after the primary repository is destroyed, passwords that open only their
own repository, an RPO breach in the report, the exporter and a Prometheus alert rule."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.reports.test_exporter_prometheus import get
from tests.services.test_backup import department_files
from tests.support.components import free_port, wait_for
from tests.support.components import need as _need
from tests.support.estate import REPO
from tests.support.rig import Rig

# the rig runs every service playbook for real; the alert rule runs in promtool and Prometheus
pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic, pytest.mark.prometheus]


def need(binary: str) -> str:
    return _need(binary, component="prometheus")
# not the departments test_backup.py backs up (and damages)
DEPS = ("approval", "health")


def restic(rig: Rig, repo: Path, password: Path, *args: str
           ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RESTIC_REPOSITORY": str(repo), "RESTIC_PASSWORD_FILE": str(password),
           "RESTIC_CACHE_DIR": str(rig.base / "cache-test")}
    return subprocess.run([str(rig.path("restic_bin")), *args], capture_output=True,
                          text=True, env=env)


@pytest.fixture(scope="module")
def dr(rig: Rig) -> dict[str, object]:
    """The rig with a DR site (localhost again, its own folders), the two departments'
    backups taken and copied there: approval now, health three days ago."""
    inv = rig.estate / "inventories"
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    hosts["all"]["children"]["dr_backup_hosts"] = hosts["all"]["children"]["backup_hosts"]
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    site = rig.base / "srv-dr"
    values = {
        "restic_dr_repo_root": f"{site}/restic", "restic_dr_secrets_dir": f"{site}/secrets",
        "restic_dr_cache_dir": f"{site}/cache", "restic_dr_conf_dir": f"{site}/conf",
        "restic_dr_results_dir": f"{site}/results", "restic_dr_scratch_dir": f"{site}/scratch",
        # the primary repositories as the DR host reaches them (sftp: in production)
        "restic_dr_source_root": rig.vars["restic_repo_root"],
    }
    (inv / "group_vars" / "dr_backup_hosts.yml").write_text(yaml.safe_dump(values))
    rig.gc("services", "run", *[a for d in DEPS for a in ("--department", d)])
    files = {}
    for dep in DEPS:
        files[dep] = department_files(rig, dep)
        files[dep].update({p: p.read_bytes() for p in (rig.path("web_root") / dep).rglob("*")
                           if p.is_file()})
        when = {} if dep == "approval" else {"GOVCLOUD_BACKUP_TIME": (
            dt.datetime.now() - dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S")}
        subprocess.run([rig.bin("govcloud-backup"), "run", dep], check=True,
                       env={**os.environ, **when})
        subprocess.run([rig.bin("govcloud-backup-dr"), "copy", dep], check=True)
    return {"site": site, "values": values, "files": files}


def test_dr_copies_have_their_own_password(rig: Rig, dr: dict) -> None:
    site = Path(dr["site"])
    a, b = DEPS
    primary = {d: rig.path("restic_secrets_dir") / f"restic-{d}.pass" for d in DEPS}
    ours = {d: site / "secrets" / f"restic-{d}.pass" for d in DEPS}
    for d in DEPS:
        assert ours[d].read_text() != primary[d].read_text()
        assert len(ours[d].read_text()) >= 40
        assert oct(ours[d].stat().st_mode & 0o777) == "0o600"
        snaps = json.loads(restic(rig, site / "restic" / d, ours[d], "snapshots", "--json")
                           .stdout)
        assert len(snaps) == 1 and d in snaps[0]["tags"]
    # A's DR password opens neither B's DR repository nor any primary repository
    for repo in (site / "restic" / b, rig.path("restic_repo_root") / b,
                 rig.path("restic_repo_root") / a):
        wrong = restic(rig, repo, ours[a], "snapshots")
        assert wrong.returncode != 0 and "wrong password" in wrong.stderr, repo
    # the DR password never left the DR site's folder
    found = subprocess.run(["grep", "-rlF", ours[a].read_text(), str(rig.base)],
                           capture_output=True, text=True).stdout.split()
    assert found == [str(ours[a])]
    # the primary password travels to the DR host (to read the primary) but into no log
    found = subprocess.run(["grep", "-rlF", primary[a].read_text(), str(rig.base)],
                           capture_output=True, text=True).stdout.split()
    assert sorted(found) == sorted([str(primary[a]), str(site / "secrets" / f"primary-{a}.pass")])
    # a second copy moves nothing new; the DR retention is the larger of plan and site
    subprocess.run([rig.bin("govcloud-backup-dr"), "copy", a], check=True)
    snaps = json.loads(restic(rig, site / "restic" / a, ours[a], "snapshots", "--json").stdout)
    assert len(snaps) == 1
    conf = (site / "conf" / "backup-dr.conf").read_text()
    plan = rig.plans()[a]["services"]["backup"]["retention"]
    site_keep = {"daily": 14, "weekly": 8, "monthly": 24, "yearly": 5}  # the role's default
    for rule, n in site_keep.items():
        assert f"{a}.keep_{rule}={max(n, plan.get(rule, 0))}\n" in conf


def test_drills_at_both_sites(rig: Rig, dr: dict) -> None:
    drills = rig.gc_json("backup", "verify", "--department", "approval", "--site", "both")
    assert sorted(d["site"] for d in drills) == ["dr", "primary"]
    for d in drills:
        assert d["ok"], d
        assert d["files"] == len(dr["files"]["approval"])
        assert d["restore_seconds"] is not None and d["restored_bytes"] > 0


def test_rpo_breach_in_report_metric_and_alert(rig: Rig, dr: dict, tmp_path: Path) -> None:
    rows = rig.gc_json("report", "backup", ok_codes=(2,))
    by = {(r["department"], r["site"]): r for r in rows}
    assert not by[("approval", "dr")]["breach"] and by[("approval", "dr")]["age_hours"] < 1
    assert by[("approval", "dr")]["drill_ok"] is True  # the drill of the test before
    late = by[("health", "dr")]
    assert late["breach"] and 71.9 < late["age_hours"] < 72.5 and late["rpo_hours"] == 26
    assert late["size_bytes"] > 0 and late["drill_ok"] is None
    assert by[("health", "primary")]["breach"]
    text = rig.gc("report", "backup", check=False)
    assert text.returncode == 2 and "BREACH" in text.stdout

    # the exporter serves it, and a real Prometheus scraping it fires the alert rule
    port = free_port()
    elog = tmp_path / "exporter.log"
    with elog.open("w") as out:
        exporter = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(rig.estate),
                                     "exporter", "--port", str(port)],
                                    env={**os.environ, "PYTHONPATH": str(REPO),
                                         "PYTHONUNBUFFERED": "1"},
                                    stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
    try:
        def scraped() -> str:
            text = get(f"http://127.0.0.1:{port}/metrics", timeout=30).decode()
            return text if "govcloud_backup_rpo_breach{" in text else ""

        metrics = wait_for("the exporter's backup metrics", scraped, 120, exporter, elog)
        series = {}
        for line in metrics.splitlines():
            if line.startswith("govcloud_backup_"):
                name, value = line.rsplit(" ", 1)
                series[name] = float(value)
        breach = 'govcloud_backup_rpo_breach{department="%s",site="dr"}'
        assert series[breach % "health"] == 1.0 and series[breach % "approval"] == 0.0
        assert 71.9 < series['govcloud_backup_age_hours{department="health",site="dr"}'] < 72.5
        assert series['govcloud_backup_drill_ok{department="approval",site="dr"}'] == 1.0

        # promtool: the rule as written (15 minutes of breach before it fires)
        out = promtool_alert_test(series, tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        # a real Prometheus: the same rule, its 15 minutes cut to none, fires for exactly the
        # breaching department and site
        firing = alerts_in_prometheus(port, tmp_path)
        expected = sorted((n.split('department="')[1].split('"')[0],
                           n.split('site="')[1].split('"')[0])
                          for n, v in series.items()
                          if n.startswith("govcloud_backup_rpo_breach{") and v == 1.0)
        assert ("health", "dr") in expected and ("approval", "dr") not in expected
        assert firing == expected
    finally:
        exporter.terminate()
        exporter.wait(10)


def alerts_in_prometheus(exporter_port: int, folder: Path) -> list[tuple[str, str]]:
    """Start Prometheus with the repo's backup rules (``for:`` set to 0s) scraping the
    exporter; the (department, site) of every firing RPO alert once the set stops growing."""
    rules = yaml.safe_load((REPO / "docs/prometheus/govcloud-alerts.yml").read_text())
    group = next(g for g in rules["groups"] if g["name"] == "govcloud-backup")
    for rule in group["rules"]:
        rule["for"] = "0s"
    (folder / "rules.yml").write_text(yaml.safe_dump({"groups": [group]}))
    pport = free_port()
    (folder / "prometheus.yml").write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(folder / "rules.yml")],
        "scrape_configs": [{"job_name": "govcloud", "scrape_timeout": "1s",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}]}))
    plog = folder / "prometheus.log"
    with plog.open("w") as out:
        prom = subprocess.Popen([need("prometheus"), f"--config.file={folder / 'prometheus.yml'}",
                                 f"--storage.tsdb.path={folder / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{pport}"
    try:
        wait_for("Prometheus to be ready", lambda: b"Ready" in get(f"{base}/-/ready"), 60,
                 prom, plog)

        def firing() -> list[tuple[str, str]]:
            body = json.loads(get(f"{base}/api/v1/alerts"))
            return sorted((a["labels"]["department"], a["labels"]["site"])
                          for a in body["data"]["alerts"] if a["state"] == "firing"
                          and a["labels"]["alertname"] == "GovcloudBackupRPOBreach")

        wait_for("the RPO alert to fire", firing, 90, prom, plog)
        time.sleep(3)  # a few more evaluations: every breaching series has had its turn
        return firing()
    finally:
        prom.terminate()
        prom.wait(20)


def promtool_alert_test(series: dict[str, float], folder: Path
                        ) -> subprocess.CompletedProcess[str]:
    """``promtool test rules``: the breach series held for 30 minutes; the RPO alert must be
    silent at 10 minutes and firing at 20 for exactly the series at 1, with the rule's own
    annotations filled in."""
    rules = REPO / "docs/prometheus/govcloud-alerts.yml"
    rule = next(r for g in yaml.safe_load(rules.read_text())["groups"] for r in g["rules"]
                if r["alert"] == "GovcloudBackupRPOBreach")
    inputs, expected = [], []
    for name, value in series.items():
        if not name.startswith("govcloud_backup_rpo_breach{"):
            continue
        inputs.append({"series": name, "values": f"{value:g}x30"})
        if value != 1.0:
            continue
        labels = {k: v.strip('"') for k, v in
                  (kv.split("=", 1) for kv in name[name.index("{") + 1:-1].split(","))}
        notes = {}
        for key, text in rule["annotations"].items():
            for label, v in labels.items():
                text = text.replace("{{ $labels." + label + " }}", v)
            notes[key] = text
        expected.append({"exp_labels": {**labels, **rule["labels"]},
                         "exp_annotations": notes})
    tests = {"rule_files": [str(rules)], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": inputs, "alert_rule_test": [
                 {"eval_time": "10m", "alertname": "GovcloudBackupRPOBreach",
                  "exp_alerts": []},
                 {"eval_time": "20m", "alertname": "GovcloudBackupRPOBreach",
                  "exp_alerts": expected}]}]}
    (folder / "tests.yml").write_text(yaml.safe_dump(tests, allow_unicode=True))
    return subprocess.run([need("promtool"), "test", "rules", str(folder / "tests.yml")],
                          capture_output=True, text=True)


def test_restore_from_dr_after_the_primary_is_lost(rig: Rig, dr: dict) -> None:
    for dep in DEPS:
        shutil.rmtree(rig.path("restic_repo_root") / dep)
        for path in dr["files"][dep]:
            path.unlink()
    lost = rig.gc_json("backup", "verify", "--site", "primary", "--department", "approval",
                       ok_codes=(1,))
    assert not lost[0]["ok"]
    for dep in DEPS:
        rig.gc("backup", "restore", "--department", dep, "--site", "dr", "--to", "/")
        for path, data in dr["files"][dep].items():
            assert path.read_bytes() == data, path
    rehearsal = rig.gc_json("backup", "restore", "--department", "health", "--site", "dr",
                            "--rehearse")
    assert rehearsal["ok"] and rehearsal["site"] == "dr"
    assert rehearsal["seconds"] >= rehearsal["drill"]["restore_seconds"] > 0
    assert rehearsal["drill"]["files"] == len(dr["files"]["health"])
    # the primary site rebuilt as the backup playbook would (a new, empty repository with the
    # department's primary password): the rig the other service tests share is converged again
    for dep in DEPS:
        subprocess.run([rig.bin("govcloud-backup"), "init", dep], check=True)
        assert (rig.path("restic_repo_root") / dep / "config").is_file()
