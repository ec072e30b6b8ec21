"""Issue #21 case 6: the exporter's ``govcloud_audit_head`` gauge (the trail's newest record
number, by the algorithm that sealed it), so Prometheus holds the head's history outside the
state store; and the alert that fires when the head goes back (promtool)."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
import yaml

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.metrics import exporter
from govcloud.state.store import Store
from tests.support.components import need
from tests.support.estate import REPO, copy_estate

RULES = REPO / "docs" / "prometheus" / "govcloud-alerts.yml"


def _head_lines(root: Path) -> list[str]:
    with engine.session(root) as s:
        body = exporter.Snapshot(s, 3600.0).page().body.decode()
    return [line for line in body.splitlines() if line.startswith("govcloud_audit_head")]


def test_the_exporter_serves_the_audit_head_and_its_fall(tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate", plans=False)
    assert _head_lines(root) == ['govcloud_audit_head{algorithm="none"} 0.0']
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root)
    for i in range(3):
        trail.append(store, "admin", "user add", f"user{i}")
    store.close()
    assert _head_lines(root) == ['govcloud_audit_head{algorithm="hmac-sm3"} 3.0']
    with sqlite3.connect(root / ".state" / "govcloud.db") as conn:  # the newest records cut
        conn.execute("DROP TRIGGER audit_no_delete")
        conn.execute("DELETE FROM audit WHERE seq > 1")
    conn.close()
    assert _head_lines(root) == ['govcloud_audit_head{algorithm="hmac-sm3"} 1.0']


@pytest.mark.real
@pytest.mark.prometheus
def test_the_alert_fires_when_the_head_goes_back(tmp_path: Path) -> None:
    promtool = need("promtool", component="prometheus")
    rule = next(r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
                if r["alert"] == "GovcloudAuditTrailShrank")
    # the head climbs to 12 records, an upgrade moves it to a keyed series, then a cut takes
    # it back to 4
    series = [{"series": 'govcloud_audit_head{algorithm="sha256"}', "values": "1+1x5"},
              {"series": 'govcloud_audit_head{algorithm="hmac-sm3"}',
               "values": "_x5 7+1x5 4x5"}]
    description = " ".join(rule["annotations"]["description"].split())
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "GovcloudAuditTrailShrank", "exp_alerts": []},
            {"eval_time": "13m", "alertname": "GovcloudAuditTrailShrank",
             "exp_alerts": [{"exp_labels": {"severity": "critical"},
                             "exp_annotations": {
                                 "summary": "The audit trail went back to record 4",
                                 "description": description}}]}]}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test))
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
