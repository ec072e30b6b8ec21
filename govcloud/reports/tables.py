"""The three reports as header + rows, shared by the terminal, CSV and XLSX renderers.

Money cells are Decimal yuan to the fen; the last rows of chargeback and savings are the
idle line and the totals, so every table adds up on its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, Statement
from govcloud.finance.savings import Ledger
from govcloud.finance.utilization import Utilization

Table = tuple[list[str], list[list[Any]]]
Names = Mapping[str, tuple[str, str]]  # department → (name, English name)


def _name(names: Names, dep: str) -> str:
    return names.get(dep, (dep, ""))[0]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def utilization_table(data: Utilization) -> Table:
    header = ["department", "name", "servers", "vcpu", "vcpu_used", "vcpu_util", "ram_gb",
              "ram_gb_used", "ram_util", "disk_gb", "volumes", "volume_gb", "websites",
              "backup_gb", "antivirus_seats", "quota_cores", "quota_ram_gb"]
    rows = []
    for r in data.rows:
        a, u = r.allocated, r.used
        rows.append([r.department, r.name, int(a["servers"]), a["vcpu"], u.get("vcpu"),
                     _pct(r.ratio("vcpu")), a["ram_gb"], u.get("ram_gb"),
                     _pct(r.ratio("ram_gb")), a["disk_gb"], int(a["volumes"]), a["volume_gb"],
                     int(a["website"]), a["backup_gb"], int(a["antivirus_seat"]),
                     r.quota.get("cores", ""), r.quota.get("ram_gb", "")])
    return header, rows


def chargeback_table(names: Names, s: Statement) -> Table:
    pools = [p.name for p in s.pools]
    header = ["department", "name", "list_value", *pools, "total"]
    rows: list[list[Any]] = []
    for d in s.departments:
        rows.append([d.department, _name(names, d.department), d.list_value,
                     *[d.by_pool[p] for p in pools], d.total])
    rows.append(["(idle)", "idle capacity (charged to no department)", "",
                 *[p.idle for p in s.pools], s.idle])
    rows.append(["(total)", "platform cost", sum((d.list_value for d in s.departments), ZERO),
                 *[p.cost for p in s.pools], s.platform_cost])
    return header, rows


def savings_table(names: Names, ledger: Ledger) -> Table:
    header = ["department", "name", "legacy_servers", "legacy_cost", "consolidated_cost",
              "saving", "saving_per_year"]
    rows: list[list[Any]] = []
    for d in ledger.departments:
        rows.append([d.department, _name(names, d.department), d.legacy_servers,
                     d.legacy_total, d.consolidated, d.saving, d.saving_per_year])
    rows.append(["(idle)", "idle platform capacity", "", Decimal("0.00"), ledger.idle,
                 -ledger.idle, -ledger.idle * 12])
    rows.append(["(total)", "estate", sum(d.legacy_servers for d in ledger.departments),
                 ledger.legacy_total, ledger.consolidated_total + ledger.idle, ledger.saving,
                 ledger.saving * 12])
    return header, rows


def savings_detail(ledger: Ledger) -> Table:
    """Every legacy line with the plan and price lines it came from."""
    header = ["department", "line", "yuan_a_month", "plan_source", "price_source"]
    rows: list[list[Any]] = []
    for d in ledger.departments:
        for x in d.legacy:
            rows.append([d.department, x.label, x.yuan, x.plan_source, x.price_source])
        rows.append([d.department, "consolidated charge", -d.consolidated,
                     d.consolidated_source, "prices.yaml pools"])
    return header, rows


def cost_detail(s: Statement) -> Table:
    """Every line of the platform's cost with its price source."""
    header = ["pool", "rule", "line", "yuan", "source"]
    rows: list[list[Any]] = []
    for p in s.pools:
        for x in p.lines:
            rows.append([p.name, p.rule, x.label, x.yuan, x.source])
    return header, rows
