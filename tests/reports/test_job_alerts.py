"""govcloud's own periodic jobs alerted on (#26): the exporter serves when each job last
succeeded and failed, from the traces the deploy playbook's job units leave
(tests/services/test_deploy.py runs those units), and the rules of docs/prometheus's group
govcloud-control pass promtool and fire, in promtool's rule evaluation, for a failed job, a
job that stopped running, a failed audit verify and a state backup too old or missing."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from govcloud.metrics import exporter
from tests.support.components import need
from tests.support.estate import REPO

RULES = REPO / "docs" / "prometheus" / "govcloud-alerts.yml"


def test_the_exporter_serves_each_jobs_last_success_and_failure(tmp_path: Path) -> None:
    for name, stamp in (("usage.succeeded", 1000), ("usage.failed", 400),
                        ("audit-verify.failed", 2000), ("notes.txt", 5), ("state-backup", 9)):
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (stamp, stamp))
    (tmp_path / "escalate.succeeded").mkdir()  # not a job's trace
    got = {(f.name, s.labels["timer"], s.value) for f in exporter.job_families(tmp_path)
           for s in f.samples}
    assert got == {("govcloud_job_last_success_timestamp_seconds", "usage", 1000.0),
                   ("govcloud_job_last_failure_timestamp_seconds", "usage", 400.0),
                   ("govcloud_job_last_failure_timestamp_seconds", "audit-verify", 2000.0)}
    # a folder that is not there (the exporter started before the playbook made it): empty
    families = list(exporter.job_families(tmp_path / "missing"))
    assert [f.name for f in families] == ["govcloud_job_last_success_timestamp_seconds",
                                          "govcloud_job_last_failure_timestamp_seconds"]
    assert all(not f.samples for f in families)


def test_a_trace_not_named_as_a_timer_is_skipped_and_one_from_the_future_is_now(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """#26 trial: any file name became a label, and a time in the future was served as is,
    which kept that job's alerts quiet until the clock caught up."""
    import time

    future = time.time() + 86400
    for name, stamp in (("usage.succeeded", future), ('Bad"Name.succeeded', 1000.0),
                        ("report backup.failed", 1000.0), ("escalate.failed", 1000.0)):
        (tmp_path / name).touch()
        os.utime(tmp_path / name, (stamp, stamp))
    before = time.time()
    got = {(f.name, s.labels["timer"]): s.value for f in exporter.job_families(tmp_path)
           for s in f.samples}
    assert set(got) == {("govcloud_job_last_success_timestamp_seconds", "usage"),
                        ("govcloud_job_last_failure_timestamp_seconds", "escalate")}
    assert before <= got[("govcloud_job_last_success_timestamp_seconds", "usage")] <= time.time()
    said = [r.getMessage() for r in caplog.records]
    assert any("usage.succeeded is dated in the future" in m and "served as now" in m
               for m in said), said
    assert sum("not a timer's name" in m for m in said) == 2, said


def test_a_new_trace_is_on_the_very_next_scrape(tmp_path: Path) -> None:
    """#26 trial: the page is rebuilt in the background after it is served, so a job's new
    trace appeared only on the scrape after the next; the traces are read for every page."""
    import gzip

    from govcloud.applying import engine
    from tests.support.estate import copy_estate

    root = copy_estate(tmp_path / "estate", plans=False)
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    with engine.session(root) as s:
        snapshot = exporter.Snapshot(s, 3600.0, jobs)
        assert b'timer="usage"' not in snapshot.page().body
        (jobs / "usage.succeeded").touch()
        page = snapshot.page()
    line = b'govcloud_job_last_success_timestamp_seconds{timer="usage"}'
    assert line in page.body and b"govcloud_audit_head" in page.body
    assert gzip.decompress(page.gzipped) == page.body
    assert page.body.count(b"# TYPE govcloud_job_last_success_timestamp_seconds") == 1


HOUR = 3600


def _series(timer: str, outcome: str, values: str) -> dict[str, str]:
    return {"series": f'govcloud_job_last_{outcome}_timestamp_seconds{{job="govcloud",'
                      f'instance="control:9464",timer="{timer}"}}', "values": values}


def _rules() -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"]
            for r in g["rules"] if g["name"] == "govcloud-control"}


def _alert(name: str, at: str, *timers: str, age: str = "", target: bool = True
           ) -> dict[str, Any]:
    """The test that alert ``name`` fires at ``at`` for ``timers``, with the rule's severity
    and its annotations as written (the job's name and ``age``, its value, put in); with the
    scrape target's labels unless ``target`` is false (absent() has none)."""
    scraped = {"job": "govcloud", "instance": "control:9464"} if target else {}
    rule = _rules()[name]

    def text(template: str, timer: str) -> str:
        return template.replace("{{ $labels.timer }}", timer).replace(
            "{{ $value | humanizeDuration }}", age)

    return {"eval_time": at, "alertname": name, "exp_alerts": [
        {"exp_labels": {**scraped, "timer": t, "severity": rule["labels"]["severity"]},
         "exp_annotations": {k: text(v, t) for k, v in rule["annotations"].items()}}
        for t in timers]}


@pytest.mark.real
@pytest.mark.prometheus
def test_the_job_rules_pass_promtool_and_fire_as_the_runbook_says(tmp_path: Path) -> None:
    promtool = need("promtool", component="prometheus")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    # promtool's clock starts at 0: a timestamp of T is a run at T seconds into the test.
    # Samples every 10 minutes for 30 hours (181 samples): "a+bxN" climbs by b each sample.
    series = [
        # hourly, and runs: its last success follows the clock
        _series("escalate", "success", "0+600x180"),
        # hourly, ran once at the start, never again: stale after 3 hours
        _series("usage", "success", "0x180"),
        # succeeded at the start, failed at 1 h and on
        _series("report-backup", "success", "0x180"),
        _series("report-backup", "failure", "_x5 3600+600x174"),
        # failed once at 20 min, then succeeded at 30 min: no alert
        _series("usage-last-month", "failure", "_x1 1200x179"),
        _series("usage-last-month", "success", "_x2 1800x178"),
        # the audit verify succeeded at the start, failed at 2 h
        _series("audit-verify", "success", "0x180"),
        _series("audit-verify", "failure", "_x12 7200x168"),
        # the state backup: one at the start, none after
        _series("state-backup", "success", "0x180"),
    ]
    test = {"rule_files": [str(RULES)], "evaluation_interval": "10m", "tests": [
        {"interval": "10m", "input_series": series, "alert_rule_test": [
            _alert("GovcloudJobFailed", "30m"),
            _alert("GovcloudJobFailed", "1h10m", "report-backup"),
            _alert("GovcloudJobNotRun", "2h"),
            # 3 h without a success, then 10 minutes of it
            _alert("GovcloudJobNotRun", "3h30m", "report-backup", "usage", age="3h 30m 0s"),
            _alert("GovcloudAuditVerifyFailed", "1h50m"),
            _alert("GovcloudAuditVerifyFailed", "2h10m", "audit-verify"),
            _alert("GovcloudStateBackupTooOld", "25h"),
            _alert("GovcloudStateBackupTooOld", "26h30m", "state-backup",
                   age="1d 2h 30m 0s"),
            _alert("GovcloudStateBackupMissing", "27h"),
        ]},
        # an exporter that never saw a state backup succeed, for 26 hours
        {"interval": "10m", "input_series": [_series("usage", "success", "0+600x180")],
         "alert_rule_test": [
             {"eval_time": "25h", "alertname": "GovcloudStateBackupMissing", "exp_alerts": []},
             _alert("GovcloudStateBackupMissing", "26h30m", "state-backup",
                    target=False),
             # the other timers never enabled: escalate, report-backup, audit-verify
             {"eval_time": "25h", "alertname": "GovcloudJobNeverRun", "exp_alerts": []},
             _alert("GovcloudJobNeverRun", "26h30m", "escalate", "report-backup",
                    "audit-verify", target=False)]}]}
    # the monthly collection never enabled, every other job running: evaluated every 6 hours
    # over 33 days (every 10 minutes would take promtool seconds more)
    monthly = {"rule_files": [str(RULES)], "evaluation_interval": "6h", "tests": [
        {"interval": "1d", "input_series": [
            _series(name, "success", "0+86400x40") for name in _timers()
            if name != "usage-last-month"], "alert_rule_test": [
             {"eval_time": "31d", "alertname": "GovcloudMonthlyUsageNeverRun", "exp_alerts": []},
             {"eval_time": "31d", "alertname": "GovcloudJobNeverRun", "exp_alerts": []},
             _alert("GovcloudMonthlyUsageNeverRun", "33d", "usage-last-month",
                    target=False)]}]}
    for name, tests in (("tests.yml", test), ("monthly.yml", monthly)):
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tests))
        run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr


def _timers() -> list[str]:
    jobs = yaml.safe_load((REPO / "playbooks/roles/govcloud_control/vars/main.yml")
                          .read_text())["govcloud_control_jobs"]
    return [str(job["name"]) for job in jobs]


def test_every_timer_the_role_installs_has_a_never_run_rule() -> None:
    """#26 trial: GovcloudJobNotRun measures from a success, so a timer never enabled (no
    trace, no series) fired nothing; only the state backup had an absent() rule."""
    absent = {timer for rule in _rules().values()
              for timer in re.findall(r'absent\(govcloud_job_last_success_timestamp_seconds'
                                      r'\{timer="([a-z0-9-]+)"\}\)', rule["expr"])}
    assert sorted(absent) == sorted(_timers())


def test_each_rule_of_the_group_is_in_the_runbook() -> None:
    group = next(g for g in yaml.safe_load(RULES.read_text())["groups"]
                 if g["name"] == "govcloud-control")
    runbook = (REPO / "docs" / "operations.md").read_text()
    for rule in group["rules"]:
        assert f"| `{rule['alert']}` |" in runbook, rule["alert"]
