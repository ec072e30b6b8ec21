"""A real Prometheus (the Debian package) scrapes ``govcloud exporter`` on loopback, and every
PromQL expression of the Grafana dashboard returns data through Prometheus' HTTP API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.components import free_port, need, wait_for
from tests.support.estate import REPO

pytestmark = [pytest.mark.real, pytest.mark.prometheus]

DASHBOARD = REPO / "docs" / "grafana" / "govcloud.json"


def get(url: str, timeout: float = 5) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
        return r.read()


def expressions(panels: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for p in panels:
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p["title"], t["expr"]
        yield from expressions(p.get("panels", []))


@pytest.fixture
def exporter(example: Path, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    # What `govcloud report backup` keeps for the exporter: finance at both sites, the DR
    # copy a little late (the dashboard's backup panel needs a drill result and an age).
    status = example / ".state" / "services" / "backup-status.json"
    status.parent.mkdir(parents=True, exist_ok=True)
    status.write_text(json.dumps([
        {"department": "finance", "site": site, "host": "backup-01",
         "last_snapshot": "2026-01-01T01:30:00.5+08:00", "snapshots": 3, "size_bytes": 4096,
         "drill_at": "2026-01-01T02:00:00Z", "drill_status": "ok"}
        for site in ("primary", "dr")]))
    log = tmp_path / "exporter.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(example),
                                 "exporter", "--port", str(port)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for("the exporter", lambda: b"govcloud_exporter_ok 1.0" in
                 get(f"http://127.0.0.1:{port}/metrics"), 60, proc, log)
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def prometheus(exporter: int, tmp_path: Path) -> Iterator[str]:
    binary = need("prometheus", component="prometheus")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "govcloud", "scrape_timeout": "1s",
                            "static_configs": [{"targets": [f"127.0.0.1:{exporter}"]}]}]}))
    log = tmp_path / "prometheus.log"
    with log.open("w") as out:
        proc = subprocess.Popen([binary, f"--config.file={config}",
                                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus to be ready", lambda: b"Ready" in get(f"{base}/-/ready"), 60,
                 proc, log)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def query(base: str, expr: str) -> list[Any]:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    body = json.loads(get(url))
    assert body["status"] == "success", body
    result = body["data"]["result"]
    return result if isinstance(result, list) else [result]


def test_every_dashboard_expression_returns_data(prometheus: str) -> None:
    wait_for("a successful scrape", lambda: any(
        r["value"][1] == "1" for r in query(prometheus, 'up{job="govcloud"}')), 60)
    wait_for("the exporter's metrics in Prometheus",
             lambda: query(prometheus, "govcloud_department_monthly_cost_yuan"), 30)
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = list(expressions(dashboard["panels"]))
    assert len(exprs) >= 10
    empty = []
    for title, expr in exprs:
        if not query(prometheus, expr):
            empty.append(f"{title}: {expr}")
    assert not empty, "expressions with no data:\n" + "\n".join(empty)
    names = {r["metric"]["__name__"] for r in query(prometheus, '{__name__=~"govcloud_.*"}')}
    for metric in ("govcloud_department_allocated", "govcloud_department_used",
                   "govcloud_department_quota", "govcloud_department_monthly_cost_yuan",
                   "govcloud_department_savings_yuan", "govcloud_last_apply_timestamp_seconds",
                   "govcloud_last_apply_success", "govcloud_drift_count",
                   "govcloud_host_utilization_ratio"):
        assert metric in names
    names_zh = {r["metric"].get("name") for r in
                query(prometheus, "govcloud_department_monthly_cost_yuan")}
    assert "青岛市财政局" in names_zh
