"""An auditor's recompute: three generated estates run a year on the sim cloud (servers and
sites created and deleted mid-month, a mid-year change of the vCPU price, a host's power
draw, staff costs and the legacy PUE, an adjustment line), and tests/reports/reference.py —
plain Decimal from the documented rules, importing nothing of govcloud — reproduces every
figure of every month's chargeback and savings, to the fen."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from govcloud.cli import cli
from tests.reports import reference as ref

MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
AFTER = "2027-01-10T08:00:00Z"  # when the year is collected and reported: every month whole
FLAVORS = {"f1": {"vcpus": 2, "ram_gb": 4, "disk_gb": 20},
           "f2": {"vcpus": 4, "ram_gb": 16, "disk_gb": 40},
           "f3": {"vcpus": 8, "ram_gb": 32, "disk_gb": 80}}


def settings() -> dict[str, Any]:
    return {
        "estate": "recompute", "cloud": {"driver": "sim"},
        "state": {"url": "sqlite:///.state/govcloud.db"},
        "host_pool": {"cpu_allocation_ratio": 4.0, "ram_allocation_ratio": 1.0,
                      "disk_allocation_ratio": 1.0, "headroom": 1.0,
                      "classes": [{"name": "h1", "vcpus": 32, "ram_gb": 256, "disk_gb": 2000},
                                  {"name": "h2", "vcpus": 64, "ram_gb": 512,
                                   "disk_gb": 4000}],
                      "hosts": {"intranet": {"h1": 3, "h2": 1}}},
        "catalogue": {"flavors": [{"name": n, **f} for n, f in FLAVORS.items()],
                      "images": [{"name": "debian-12"}],
                      "website_suffixes": ["example.gov.cn"]},
        "prices": "prices.yaml",
    }


PRICES = """\
units:
  vcpu: [{from: "2026-01", yuan: 35}, {from: "2026-07", yuan: 32}]
  ram_gb: [{from: "2026-01", yuan: 12}]
  disk_gb: [{from: "2026-01", yuan: 0.5}]
  volume_gb: [{from: "2026-01", yuan: 0.6}]
  website: [{from: "2026-01", yuan: 300}]
  backup_gb: [{from: "2026-01", yuan: 0.3}]
  antivirus_seat: [{from: "2026-01", yuan: 15}]
power:
  tariff: [{from: "2026-01", yuan_per_kwh: 0.85}, {from: "2026-04", yuan_per_kwh: 0.91}]
  pue: 1.5
  legacy_pue: 2.0
  changes: [{from: "2026-10", legacy_pue: 1.8}]
host_classes:
  h1: {purchase_yuan: 95000, years: 5, power_w: 550, maintenance_yuan_per_year: 6000,
       changes: [{from: "2026-07", power_w: 500}]}
  h2: {purchase_yuan: 140000, years: 5, power_w: 650, maintenance_yuan_per_year: 8000}
legacy_classes:
  tower: {purchase_yuan: 25000, years: 5, power_w: 350, maintenance_yuan_per_year: 2000}
  rack: {purchase_yuan: 45000, years: 5, power_w: 450,
         changes: [{from: "2026-03", maintenance_yuan_per_year: 3500}]}
staff:
  admin_yuan_per_year: 150000
  legacy_website_yuan_per_year: 8000
  changes: [{from: "2026-09", admin_yuan_per_year: 158000}]
pools:
  - {name: hosts, cost: hosts, rule: usage, items: [vcpu, ram_gb, disk_gb]}
  - name: storage
    yuan_per_month: [{from: "2026-01", yuan: 6000}, {from: "2026-06", yuan: 6600}]
    rule: usage
    items: [volume_gb, backup_gb]
    capacity: {volume_gb: 20000, backup_gb: 40000}
  - {name: web, yuan_per_month: [{from: "2026-01", yuan: 2500}], rule: usage,
     items: [website], capacity: {website: 12}}
  - {name: security, yuan_per_month: [{from: "2026-01", yuan: 3000}], rule: usage,
     items: [antivirus_seat]}
  - {name: ops, yuan_per_month: [{from: "2026-01", yuan: 4000}], rule: even}
  - {name: net, yuan_per_month: [{from: "2026-01", yuan: 1000}], rule: weight,
     weights: {d1: 3}, default_weight: 1}
"""


def plans_for(rng: random.Random, n: int) -> dict[str, dict[str, Any]]:
    out = {}
    for i in range(1, n + 1):
        dep = f"d{i}"
        servers = [{"name": f"{dep}-s{j}", "flavor": rng.choice(list(FLAVORS)),
                    "image": "debian-12", "count": rng.randint(1, 3),
                    **({"volume_gb": rng.choice([50, 120, 500])} if rng.random() < 0.6 else {})}
                   for j in range(1, rng.randint(1, 2) + 1)]
        out[dep] = {
            "department": {"id": dep, "name": f"部门{i}", "cost_centre": f"CC-{i}",
                           "zone": "intranet"},
            "quota": {"instances": 20, "cores": 200, "ram_gb": 1000, "volumes": 20,
                      "volume_gb": 20000, "websites": 5},
            "servers": servers,
            "websites": [{"domain": f"{dep}.example.gov.cn", "kind": "static",
                          "storage_gb": rng.randint(1, 30), "public": False}]
            if rng.random() < 0.7 else [],
            "legacy": {"servers": [{"class": rng.choice(["tower", "rack"]),
                                    "count": rng.randint(1, 6)}],
                       "admin_staff": rng.choice([0, 0.5, 1, 2]),
                       "antivirus_yuan_per_year": rng.choice([0, 1200]),
                       "websites": rng.randint(0, 2)},
        }
    return out


def invoke(root: Path, *args: str, at: str) -> str:
    result = CliRunner().invoke(cli, ["-C", str(root), *args], env={"GOVCLOUD_NOW": at},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def write(root: Path, plans: dict[str, dict[str, Any]]) -> None:
    for dep, plan in plans.items():
        (root / "plans" / f"{dep}.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True))


def year(root: Path, seed: int) -> tuple[list[tuple[datetime, dict[str, Any]]], str]:
    """Build and run an estate for 2026; the timeline of applied plans and the adjusted
    department."""
    rng = random.Random(seed)
    (root / "plans").mkdir(parents=True)
    (root / "govcloud.yaml").write_text(yaml.safe_dump(settings()))
    (root / "prices.yaml").write_text(PRICES)
    plans = plans_for(rng, rng.randint(3, 6))
    timeline = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    moments = sorted(datetime(2026, rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                              rng.choice([0, 30]), tzinfo=UTC) for _ in range(5))
    for when in [start, *moments]:
        if when != start:
            dep = rng.choice(sorted(plans))
            s = rng.choice(plans[dep]["servers"])
            s["count"] = rng.choice([c for c in (1, 2, 3) if c != s["count"]])
            other = plans[rng.choice(sorted(plans))]
            other["websites"] = [] if other["websites"] else [{
                "domain": f"{other['department']['id']}.example.gov.cn", "kind": "static",
                "storage_gb": 7, "public": False}]
        write(root, plans)
        invoke(root, "apply", "--yes", "--no-services", at=when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        timeline.append((when, json.loads(json.dumps(plans))))
    for m in MONTHS:
        invoke(root, "usage", "collect", "--period", m, at=AFTER)
    adjusted = rng.choice(sorted(plans))
    invoke(root, "statement", "adjust", "--period", "2026-05", "--department", adjusted,
           "--yuan", "-123.45", "--reason", "outage credit", at=AFTER)
    return timeline, adjusted


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_reference_reproduces_every_figure_of_a_year(tmp_path: Path, seed: int) -> None:
    root = tmp_path / f"estate-{seed}"
    timeline, adjusted = year(root, seed)
    prices = yaml.safe_load(PRICES)
    lives = ref.lives(timeline, FLAVORS)
    assert any(life.deleted for life in lives), "the year deletes something"
    db = sqlite3.connect(root / ".state" / "govcloud.db")
    final_plans = timeline[-1][1]
    checked = 0
    month_totals: dict[str, list[Decimal]] = {}
    for i, m in enumerate(MONTHS):
        in_use: dict[str, int] = {}
        # Hosts that are on: running servers ('hosts:') or idle but powered on ('hosts_idle:').
        for item, n in db.execute("SELECT item, allocated FROM usage WHERE period = ? AND "
                                  "department = '_platform' AND (item LIKE 'hosts:%' OR "
                                  "substr(item, 1, 11) = 'hosts_idle:')", (m,)):
            cls = item.split(":")[2]
            in_use[cls] = in_use.get(cls, 0) + int(n)
        qty = ref.quantities(m, lives)
        adj = {adjusted: Decimal("-123.45")} if m == "2026-05" else {}
        want = ref.chargeback(m, prices, settings(), qty, in_use, adj)
        got = json.loads(invoke(root, "report", "chargeback", "--period", m, "-o", "json",
                                at=AFTER))
        assert Decimal(got["platform_cost"]) == want["platform_cost"], m
        assert Decimal(got["idle"]) == want["idle"], m
        for p in got["pools"]:
            w = want["pools"][p["name"]]
            assert Decimal(p["cost"]) == w["cost"], (m, p["name"])
            assert Decimal(p["idle"]) == w["idle"], (m, p["name"])
            assert {k: Decimal(v) for k, v in p["shares"].items()} == w["shares"], \
                (m, p["name"])
            checked += len(p["shares"]) + 2
        assert {x["department"]: Decimal(x["total"]) for x in got["departments"]} == \
            want["totals"], m
        for dep, total in want["totals"].items():
            month_totals.setdefault(dep, [Decimal(0)] * len(MONTHS))[i] = total
        units = json.loads(invoke(root, "report", "unit-costs", "--period", m, "-o", "json",
                                  at=AFTER))
        assert {x["item"]: {"units": Decimal(x["units"]), "cost": Decimal(x["cost"]),
                            "paid": Decimal(x["paid"])} for x in units["items"]} == \
            ref.unit_costs(m, prices, qty, want), m
        for x in units["items"]:  # unit cost × units = the item's cost, to the fen
            assert ref.fen(Decimal(x["per_unit"]) * Decimal(x["units"])) == Decimal(x["cost"])
        assert sum(Decimal(x["cost"]) for x in units["items"]) == want["platform_cost"], m
        sav = json.loads(invoke(root, "report", "savings", "--period", m, "-o", "json",
                                at=AFTER))
        legacy = {dep: ref.legacy(m, prices, plan) for dep, plan in final_plans.items()}
        # the consolidated charge is the total without adjustments: a credit is no saving
        shares = {d: t - adj.get(d, Decimal(0)) for d, t in want["totals"].items()}
        for x in sav["departments"]:
            assert Decimal(x["legacy_total"]) == legacy[x["department"]], (m, x["department"])
            assert Decimal(x["saving"]) == legacy[x["department"]] - \
                shares[x["department"]], (m, x["department"])
        assert Decimal(sav["saving"]) == sum(legacy.values(), Decimal(0)) - \
            sum(shares.values(), Decimal(0)) - want["idle"], m
        checked += 2 * len(sav["departments"]) + 1
    assert checked > 300
    # The year to date (computed without the statements' detail) gives the same months.
    ytd = json.loads(invoke(root, "report", "chargeback", "--from", MONTHS[0], "--to",
                            MONTHS[-1], "-o", "json", at=AFTER))
    assert {d: [Decimal(x) for x in v["months"]] for d, v in ytd["departments"].items()} == \
        month_totals
    assert adjusted in ytd["departments"]
