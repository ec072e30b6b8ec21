"""The open-data release (政务公开) of per-department spending and savings.

Writes CSV files and one JSON file with a data dictionary. Only what is meant for the public
goes out: department names, monthly charges, the legacy cost counterfactual and the saving,
the estate's totals and the assumptions. Left out on purpose: contacts, cost centres, server
and host names, addresses, networks, zones, quotas and per-server detail.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from govcloud.core.model import Estate
from govcloud.finance.chargeback import Statement
from govcloud.finance.savings import Ledger

PUBLIC_FIELDS: list[tuple[str, str, str, str]] = [
    # name, type, unit, description
    ("period", "string", "YYYY-MM", "Month the figures are for."),
    ("department_id", "string", "", "Stable identifier of the department."),
    ("department_name", "string", "", "Official name of the department (Chinese)."),
    ("department_name_en", "string", "", "English name of the department."),
    ("monthly_charge_yuan", "number", "yuan", "The department's share of the shared cloud's "
     "cost for the month."),
    ("legacy_cost_yuan", "number", "yuan", "What running its own servers, staff, antivirus "
     "and backup would cost the department for the month (see assumptions)."),
    ("saving_yuan", "number", "yuan", "legacy_cost_yuan minus monthly_charge_yuan."),
    ("saving_per_year_yuan", "number", "yuan", "saving_yuan × 12."),
    ("legacy_servers", "integer", "servers", "Servers the department ran before "
     "consolidation."),
]
FORBIDDEN = ("contact", "cost_centre", "host", "server_name", "address", "cidr", "zone",
             "quota")


def records(estate: Estate, statement: Statement, ledger: Ledger) -> list[dict[str, Any]]:
    charged = {d.department: d.total for d in statement.departments}
    out = []
    for d in ledger.departments:
        p = estate.plans.get(d.department)
        out.append({
            "period": statement.period, "department_id": d.department,
            "department_name": p.department.name if p else d.department,
            "department_name_en": p.department.name_en if p else "",
            "monthly_charge_yuan": _num(charged.get(d.department, Decimal(0))),
            "legacy_cost_yuan": _num(d.legacy_total), "saving_yuan": _num(d.saving),
            "saving_per_year_yuan": _num(d.saving_per_year), "legacy_servers": d.legacy_servers,
        })
    return out


def _num(v: Decimal) -> float:
    return float(v.quantize(Decimal("0.01")))


def dataset(estate: Estate, statement: Statement, ledger: Ledger) -> dict[str, Any]:
    return {
        "title": f"{estate.settings.estate} shared e-government cloud: spending and savings "
                 f"per department, {statement.period}",
        "title_zh": f"政务云各部门费用与节约情况 {statement.period}",
        "period": statement.period, "currency": "CNY",
        "closed": statement.closed_at is not None,
        "totals": {"platform_cost_yuan": _num(statement.platform_cost),
                   "charged_to_departments_yuan": _num(statement.platform_cost - statement.idle),
                   "idle_capacity_yuan": _num(statement.idle),
                   "legacy_cost_yuan": _num(ledger.legacy_total),
                   "saving_yuan": _num(ledger.saving),
                   "saving_per_year_yuan": _num(ledger.saving * 12)},
        "records": records(estate, statement, ledger),
        "dictionary": [{"name": n, "type": t, "unit": u, "description": d}
                       for n, t, u, d in PUBLIC_FIELDS],
        "assumptions": list(ledger.assumptions),
    }


def release(estate: Estate, statement: Statement, ledger: Ledger) -> dict[str, bytes]:
    """The release's files by name: the month's CSV (with a BOM, so Excel reads UTF-8), the
    data dictionary, and the JSON with totals and assumptions. Writing them is the caller's."""
    data = dataset(estate, statement, ledger)
    period = statement.period
    names = [f[0] for f in PUBLIC_FIELDS]
    return {
        f"spending-and-savings-{period}.csv":
            _csv([names, *([r[n] for n in names] for r in data["records"])]),
        "data-dictionary.csv": _csv([["name", "type", "unit", "description"],
                                     *PUBLIC_FIELDS]),
        f"spending-and-savings-{period}.json":
            json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"),
    }


def _csv(rows: Any) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
