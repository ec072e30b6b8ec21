"""Budgets per department per year, alerted by Prometheus: the rule file in the repo passes
promtool, its unit test passes promtool's rule evaluation, and in a real Prometheus scraping
``govcloud exporter`` the over-budget alert fires for the department over its budget and for
no other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.reports.test_exporter_prometheus import get, wait_for
from tests.support.cli import applied, govcloud
from tests.support.components import free_port
from tests.support.components import need as _need
from tests.support.estate import copy_estate


def need(binary: str) -> str:
    return _need(binary, component="prometheus")

pytestmark = [pytest.mark.real, pytest.mark.prometheus]

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "docs" / "prometheus" / "govcloud-alerts.yml"


def test_rule_file_passes_promtool_and_its_unit_test(tmp_path: Path) -> None:
    promtool = need("promtool")
    check = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True,
                           text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    series = [
        {"series": 'govcloud_department_spend_year_to_date_yuan{department="a",name="A",'
                   'year="2026"}', "values": "120x5"},
        {"series": 'govcloud_department_budget_yuan{department="a",name="A",year="2026"}',
         "values": "100x5"},
        {"series": 'govcloud_department_spend_year_to_date_yuan{department="b",name="B",'
                   'year="2026"}', "values": "95x5"},
        {"series": 'govcloud_department_budget_yuan{department="b",name="B",year="2026"}',
         "values": "100x5"},
    ]
    test = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": series,
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "GovcloudDepartmentOverBudget",
             "exp_alerts": [{"exp_labels": {"department": "a", "name": "A", "year": "2026",
                                            "severity": "warning"},
                             "exp_annotations": {
                                 "summary": "A (a) is over its 2026 cloud budget",
                                 "description": "Spent 120 yuan so far in 2026, more than "
                                                "the budget in prices.yaml budgets."}}]},
            {"eval_time": "2m", "alertname": "GovcloudDepartmentNearBudget",
             "exp_alerts": [
                 {"exp_labels": {"department": "a", "name": "A", "year": "2026",
                                 "severity": "info"},
                  "exp_annotations": {"summary": "A (a) has spent 90 % of its 2026 cloud "
                                                 "budget"}},
                 {"exp_labels": {"department": "b", "name": "B", "year": "2026",
                                 "severity": "info"},
                  "exp_annotations": {"summary": "B (b) has spent 90 % of its 2026 cloud "
                                                 "budget"}}]}]}]}
    path = tmp_path / "test.yml"
    path.write_text(yaml.safe_dump(test))
    run = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.fixture
def budgeted(tmp_path: Path) -> tuple[Path, dict[str, float]]:
    """The example estate with two months of usage, finance over its budget and statistics
    well under it."""
    root = applied(copy_estate(tmp_path / "estate"), "2026-09", "2026-10")
    ytd = json.loads(govcloud("report", "chargeback", "--from", "2026-09", "--to", "2026-10",
                              "-o", "json", estate=root, check=True).stdout)
    spend = {d: float(v["total"]) for d, v in ytd["departments"].items()}
    prices = root / "prices.yaml"
    prices.write_text(prices.read_text() + (
        "\nbudgets:\n"
        f"  finance: [{{year: 2026, yuan: {spend['finance'] / 2:.2f}}}]\n"
        f"  statistics: [{{year: 2026, yuan: {spend['statistics'] * 3:.2f}}}]\n"))
    govcloud("validate", estate=root, check=True)
    return root, spend


@pytest.fixture
def prometheus_with_rules(budgeted: tuple[Path, dict[str, float]], tmp_path: Path
                          ) -> Iterator[str]:
    root, _ = budgeted
    port = free_port()
    elog = tmp_path / "exporter.log"
    with elog.open("w") as out:
        exporter = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(root),
                                     "exporter", "--port", str(port)], stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1",
                                         "PYTHONPATH": str(REPO)})
    binary = need("prometheus")
    pport = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "govcloud", "scrape_timeout": "1s",
                            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]}))
    plog = tmp_path / "prometheus.log"
    with plog.open("w") as out:
        prom = subprocess.Popen([binary, f"--config.file={config}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{pport}"
    try:
        wait_for("the exporter", lambda: b"govcloud_department_budget_yuan{" in
                 get(f"http://127.0.0.1:{port}/metrics", timeout=30), 90, exporter, elog)
        wait_for("Prometheus to be ready", lambda: b"Ready" in get(f"{base}/-/ready"), 60,
                 prom, plog)
        yield base
    finally:
        prom.terminate()
        exporter.terminate()
        prom.wait(20)
        exporter.wait(10)


def test_the_budget_alert_fires_in_prometheus_only_for_the_department_over_budget(
        prometheus_with_rules: str) -> None:
    base = prometheus_with_rules

    def firing() -> list[dict[str, str]]:
        body = json.loads(get(f"{base}/api/v1/alerts"))
        return [a["labels"] for a in body["data"]["alerts"]
                if a["state"] == "firing" and a["labels"]["alertname"] ==
                "GovcloudDepartmentOverBudget"]

    alerts = wait_for("the over-budget alert to fire", firing, 90)
    assert [(a["department"], a["year"]) for a in alerts] == [("finance", "2026")]
    assert alerts[0]["name"] == "青岛市财政局"
