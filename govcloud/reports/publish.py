"""The open-data release (政务公开) of a closed month's per-department spending and savings.

A Frictionless data package: ``datapackage.json`` (licence, publisher, the price book's
digest, and a Table Schema per table with zh-CN-first bilingual field titles), the month's
CSV (UTF-8 with a BOM, so Excel on Chinese Windows reads it) and a JSON copy with the
totals and assumptions. The CSV adds up on its own: its idle row carries the platform
capacity charged to no department, and adjustments (credits and debits, neither usage nor
savings) are a column of their own, so Σ monthly_charge_yuan = the platform cost + the
adjustments, Σ adjustment_yuan = the adjustments, and Σ saving_yuan = the estate's saving.
Only what is meant for the public goes out: department names, monthly charges and
adjustments, the legacy cost counterfactual and the saving. Left out on purpose:
contacts, cost centres, server and host names, addresses, networks, zones, quotas and
per-server detail.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import Statement
from govcloud.finance.rollup import Level
from govcloud.finance.savings import Ledger
from govcloud.reports.tables import Names

IDLE_ID = "(idle)"
LICENSE = {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
           "path": "https://creativecommons.org/licenses/by/4.0/"}

# name, type, unit, zh-CN title, English title, description
PUBLIC_FIELDS: list[tuple[str, str, str, str, str, str]] = [
    ("period", "string", "YYYY-MM", "期间", "Period", "Month the figures are for."),
    ("department_id", "string", "", "部门标识", "Department id",
     "Stable identifier of the department; '(idle)' for the platform capacity charged to no "
     "department."),
    ("department_name", "string", "", "部门名称", "Department name",
     "Official name of the department (Chinese)."),
    ("department_name_en", "string", "", "部门英文名称", "Department name (English)",
     "English name of the department."),
    ("monthly_charge_yuan", "number", "yuan", "月度分摊费用（元）", "Monthly charge (yuan)",
     "The department's charge for the month: its share of the shared cloud's cost plus its "
     "adjustments (adjustment_yuan); on the idle row, the cost of capacity nobody used. "
     "The column adds up to the platform cost plus the adjustments."),
    ("adjustment_yuan", "number", "yuan", "调整金额（元）", "Adjustment (yuan)",
     "Of monthly_charge_yuan, the credits (negative) and debits (positive) made by hand: "
     "neither usage nor a saving. The column adds up to the month's adjustments."),
    ("legacy_cost_yuan", "number", "yuan", "自建成本（元）", "Legacy cost (yuan)",
     "What running its own servers, staff, antivirus and backup would cost the department "
     "for the month (see assumptions)."),
    ("saving_yuan", "number", "yuan", "节约金额（元）", "Saving (yuan)",
     "legacy_cost_yuan minus the charge without adjustments (monthly_charge_yuan minus "
     "adjustment_yuan): a credit is not a saving."),
    ("saving_per_year_yuan", "number", "yuan", "年化节约（元）", "Saving a year (yuan)",
     "saving_yuan × 12."),
    ("legacy_servers", "integer", "servers", "整合前服务器数", "Servers before",
     "Servers the department ran before consolidation."),
    ("closed", "boolean", "", "已结账", "Closed",
     "True: the month is closed and its figures can no longer change."),
]
ADDS_UP = ("Σ monthly_charge_yuan (idle row included) = platform cost + adjustments, to the "
           "fen; Σ adjustment_yuan = adjustments; Σ saving_yuan = the estate's saving "
           "(adjustments are neither usage nor savings).")
FORBIDDEN = ("contact", "cost_centre", "host", "server_name", "address", "cidr", "zone",
             "quota")


# The roll-up's table (``report publish --by organisation``): one row per organisation at
# every level of the directory's tree as it stood at the month's end, then the idle row.
ORG_FIELDS: list[tuple[str, str, str, str, str, str]] = [
    ("period", "string", "YYYY-MM", "期间", "Period", "Month the figures are for."),
    ("organisation_id", "string", "", "机构标识", "Organisation id",
     "The organisation's code in the directory; '(top)' for the whole estate, '(idle)' for "
     "the platform capacity charged to no department."),
    ("organisation_name", "string", "", "机构名称", "Organisation name",
     "Its name in the directory (Chinese)."),
    ("parent_id", "string", "", "上级机构标识", "Parent organisation id",
     "The organisation it belonged to at the month's end; '(top)' for a top-level one."),
    ("level", "integer", "", "层级", "Level", "1 for a top-level organisation, 2 below it…; "
     "0 for the estate."),
    ("monthly_charge_yuan", "number", "yuan", "月度分摊费用（元）", "Monthly charge (yuan)",
     "Its own departments' charges plus its child organisations' (adjustments included)."),
    ("adjustment_yuan", "number", "yuan", "调整金额（元）", "Adjustment (yuan)",
     "Of monthly_charge_yuan, the credits and debits made by hand."),
    ("legacy_cost_yuan", "number", "yuan", "自建成本（元）", "Legacy cost (yuan)",
     "Its departments' legacy cost counterfactual, all levels below it included."),
    ("saving_yuan", "number", "yuan", "节约金额（元）", "Saving (yuan)",
     "Its departments' saving, all levels below it included."),
    ("closed", "boolean", "", "已结账", "Closed", "True: the month is closed."),
]
ORG_MEASURES = ("monthly_charge_yuan", "adjustment_yuan", "legacy_cost_yuan", "saving_yuan")
ORG_ADDS_UP = ("Each organisation's figure = its own departments' + its child "
               "organisations', to the fen; the estate's row (level 0) + the idle row = the "
               "month's totals.")


def _num(v: Decimal) -> float:
    return float(v.quantize(Decimal("0.01")))


def records(names: Names, statement: Statement, ledger: Ledger) -> list[dict[str, Any]]:
    """One row per department, then the idle row; the columns add up to the estate's
    totals."""
    charged = {d.department: d.total for d in statement.departments}
    adjusted = {d.department: d.adjustment for d in statement.departments}
    closed = statement.closed_at is not None
    out = []
    for d in ledger.departments:
        name, name_en = names.get(d.department, (d.department, ""))
        out.append({
            "period": str(statement.period), "department_id": d.department,
            "department_name": name, "department_name_en": name_en,
            "monthly_charge_yuan": _num(charged.get(d.department, Decimal(0))),
            "adjustment_yuan": _num(adjusted.get(d.department, Decimal(0))),
            "legacy_cost_yuan": _num(d.legacy_total), "saving_yuan": _num(d.saving),
            "saving_per_year_yuan": _num(d.saving_per_year), "legacy_servers": d.legacy_servers,
            "closed": closed,
        })
    out.append({"period": str(statement.period), "department_id": IDLE_ID,
                "department_name": "空闲容量（未分摊）",
                "department_name_en": "idle capacity (charged to no department)",
                "monthly_charge_yuan": _num(statement.idle), "adjustment_yuan": 0.0,
                "legacy_cost_yuan": 0.0,
                "saving_yuan": _num(-statement.idle),
                "saving_per_year_yuan": _num(-statement.idle * 12), "legacy_servers": 0,
                "closed": closed})
    return out


def department_figures(statement: Statement, ledger: Ledger
                       ) -> dict[str, tuple[Decimal, ...]]:
    """Department → ``ORG_MEASURES`` (what a roll-up of the release adds up)."""
    saved = {d.department: d for d in ledger.departments}
    zero = Decimal(0)
    return {d.department: (d.total, d.adjustment,
                           saved[d.department].legacy_total if d.department in saved else zero,
                           saved[d.department].saving if d.department in saved else zero)
            for d in statement.departments}


def organisation_records(levels: list[Level], statement: Statement) -> list[dict[str, Any]]:
    """One row per organisation (``finance.rollup``'s levels), then the idle row."""
    period, closed = str(statement.period), statement.closed_at is not None
    out = [{"period": period, "organisation_id": lv.code or "(top)", "organisation_name":
            lv.name, "parent_id": lv.path[-2] if len(lv.path) > 1 else "(top)" if lv.path
            else "", "level": lv.depth,
            **{m: _num(v) for m, v in zip(ORG_MEASURES, lv.total, strict=True)},
            "closed": closed} for lv in levels]
    return [*out, {"period": period, "organisation_id": IDLE_ID,
                   "organisation_name": "空闲容量（未分摊）", "parent_id": "", "level": 0,
                   "monthly_charge_yuan": _num(statement.idle), "adjustment_yuan": 0.0,
                   "legacy_cost_yuan": 0.0, "saving_yuan": _num(-statement.idle),
                   "closed": closed}]


def table_schema(fields: list[tuple[str, str, str, str, str, str]] = PUBLIC_FIELDS,
                 key: str = "department_id") -> dict[str, Any]:
    return {"fields": [{"name": n, "type": t, "title": f"{zh} {en}",
                        "description": d, **({"unit": u} if u else {})}
                       for n, t, u, zh, en, d in fields],
            "primaryKey": ["period", key]}


def dataset(title: str, names: Names, statement: Statement, ledger: Ledger) -> dict[str, Any]:
    return {
        "title": f"{title} shared e-government cloud: spending and savings per department, "
                 f"{statement.period}",
        "title_zh": f"政务云各部门费用与节约情况 {statement.period}",
        "period": str(statement.period), "currency": "CNY",
        "closed": statement.closed_at is not None,
        "totals": {"platform_cost_yuan": _num(statement.platform_cost),
                   "charged_to_departments_yuan": _num(statement.billed() - statement.idle),
                   "idle_capacity_yuan": _num(statement.idle),
                   "adjustments_yuan": _num(statement.adjusted()),
                   "platform_cost_plus_adjustments_yuan": _num(statement.billed()),
                   "legacy_cost_yuan": _num(ledger.legacy_total),
                   "saving_yuan": _num(ledger.saving),
                   "saving_per_year_yuan": _num(ledger.saving * 12)},
        "check": ADDS_UP,
        "records": records(names, statement, ledger),
        "dictionary": [{"name": n, "type": t, "unit": u, "title_zh": zh, "title_en": en,
                        "description": d} for n, t, u, zh, en, d in PUBLIC_FIELDS],
        "assumptions": list(ledger.assumptions),
    }


def package(title: str, statement: Statement, book_digest: str, data_name: str
            ) -> dict[str, Any]:
    """The Frictionless data package descriptor."""
    period = str(statement.period)
    return {
        "name": f"govcloud-spending-and-savings-{period}",
        "title": f"政务云各部门费用与节约情况 {period} / {title} shared e-government cloud: "
                 f"spending and savings per department, {period}",
        "description": "每个部门的月度分摊费用、调整、自建成本与节约；空闲容量单列一行。Per "
                       "department: the monthly charge, its adjustments, the legacy cost and "
                       "the saving; idle capacity is its own row. " + ADDS_UP,
        "licenses": [LICENSE],
        "contributors": [{"title": f"{title} 政务云平台 / {title} e-government cloud",
                          "role": "publisher"}],
        "created": statement.closed_at or "",
        "keywords": ["政务公开", "open government", "chargeback", "savings"],
        "govcloud": {"period": period, "closed_at": statement.closed_at,
                     "price_book_digest": book_digest},
        "resources": [{
            "name": "spending-and-savings", "path": data_name, "profile": "tabular-data-resource",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8-sig",
            "schema": table_schema()}],
    }


def release(title: str, names: Names, statement: Statement, ledger: Ledger,
            book_digest: str = "", levels: list[Level] | None = None) -> dict[str, bytes]:
    """The release's files by name; with ``levels`` (the month rolled up the organisation
    tree), also its table per organisation. Writing them is the caller's."""
    data = dataset(title, names, statement, ledger)
    period = str(statement.period)
    columns = [f[0] for f in PUBLIC_FIELDS]
    data_name = f"spending-and-savings-{period}.csv"
    rows = [[_csv_value(r[n]) for n in columns] for r in data["records"]]
    pkg = package(title, statement, book_digest, data_name)
    files = {
        data_name: _csv([columns, *rows]),
        "data-dictionary.csv": _csv([["name", "type", "unit", "title_zh", "title_en",
                                      "description"], *PUBLIC_FIELDS]),
    }
    if levels is not None:
        org_name = f"spending-and-savings-by-organisation-{period}.csv"
        data["organisations"] = organisation_records(levels, statement)
        data["organisations_check"] = ORG_ADDS_UP
        files[org_name] = _csv([[f[0] for f in ORG_FIELDS],
                                *([_csv_value(r[f[0]]) for f in ORG_FIELDS]
                                  for r in data["organisations"])])
        pkg["resources"].append({
            "name": "spending-and-savings-by-organisation", "path": org_name,
            "profile": "tabular-data-resource", "format": "csv", "mediatype": "text/csv",
            "encoding": "utf-8-sig", "description": ORG_ADDS_UP,
            "schema": table_schema(ORG_FIELDS, "organisation_id")})
    files[f"spending-and-savings-{period}.json"] = json.dumps(
        data, ensure_ascii=False, indent=2).encode("utf-8")
    files["datapackage.json"] = json.dumps(pkg, ensure_ascii=False, indent=2).encode("utf-8")
    return files


def _csv_value(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:.2f}"
    return v


def _csv(rows: Any) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
