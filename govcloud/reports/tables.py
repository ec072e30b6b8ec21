"""The three reports as header + rows, shared by the terminal, CSV and XLSX renderers.

Money cells are Decimal yuan to the fen; the last rows of chargeback and savings are the
idle line and the totals, so every table adds up on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from govcloud.finance.chargeback import ZERO, Statement, fen
from govcloud.finance.rollup import Level, Ratio, ratio
from govcloud.finance.savings import Ledger
from govcloud.finance.unitcost import UnitCost
from govcloud.finance.utilization import Utilization

Table = tuple[list[str], list[list[Any]]]
Names = Mapping[str, tuple[str, str]]  # department → (name, English name)


def _name(names: Names, dep: str) -> str:
    return names.get(dep, (dep, ""))[0]


class Percent(float):
    """A ratio shown as a percentage: text "43.8%", a number with a percent format in XLSX,
    the ratio in CSV and JSON."""


def _pct(x: float | None) -> Percent | None:
    return None if x is None else Percent(x)


# Column titles in words, zh-CN first, for the HTML report and the workbook (CSV and JSON keep
# the code names machines read).
TITLES = {
    "department": "部门标识 Department id", "name": "部门 Department",
    "servers": "服务器数 Servers", "vcpu": "已分配vCPU vCPU allocated",
    "vcpu_used": "已用vCPU vCPU used", "vcpu_util": "vCPU使用率 vCPU utilization",
    "ram_gb": "已分配内存GiB RAM GiB allocated", "ram_gb_used": "已用内存GiB RAM GiB used",
    "ram_util": "内存使用率 RAM utilization", "disk_gb": "系统盘GB Root disk GB",
    "volumes": "数据卷数 Volumes", "volume_gb": "数据卷GB Volume GB",
    "websites": "网站数 Websites", "backup_gb": "备份GB Backup GB",
    "antivirus_seats": "防病毒点数 Antivirus seats", "quota_cores": "vCPU配额 Core quota",
    "quota_ram_gb": "内存配额GiB RAM quota GiB", "total": "合计（元） Total (yuan)",
    "to date": "至今（元） To date (yuan)", "forecast": "预测（元） Forecast (yuan)",
    "legacy_servers": "整合前服务器数 Servers before", "legacy_cost": "自建成本（元） Legacy cost",
    "consolidated_cost": "整合后费用（元） Consolidated cost", "saving": "节约（元） Saving",
    "saving_per_year": "年化节约（元） Saving a year", "line": "明细 Line",
    "yuan_a_month": "每月（元） Yuan a month", "plan_source": "规划来源 Plan line",
    "price_source": "价格来源 Price line", "pool": "资源池 Pool", "rule": "分摊规则 Split rule",
    "yuan": "金额（元） Yuan", "source": "来源 Source", "item": "计费项 Item",
    "list_price": "目录价（元/单位） List price", "units": "计费数量 Units billed",
    "charged": "部门分摊（元） Charged to departments",
    "yuan_per_unit": "部门实付单价（元/单位） What departments pay per unit",
    "adjustment": "调整（元） Adjustment",
    "usage_pools": "用量资源池成本（元，含闲置） Usage pools' cost (idle included)",
    "of_which_idle": "其中闲置（元） Of which idle", "fixed_pools": "固定分摊（元） Fixed pools",
    "cost": "成本合计（元） Cost", "cost_per_unit": "单位成本（元/单位） Cost per unit",
    "paid": "部门实付（元） Paid by departments",
    "paid_per_unit": "部门实付单价（元/单位） Paid per unit",
    "organisation": "机构标识 Organisation", "level": "层级 Level", "path": "上级 Path",
    "departments": "本级部门数 Own departments",
    "own_total": "本级部门合计（元） Own departments (yuan)",
    "children_total": "下级机构合计（元） Child organisations (yuan)",
    "own_legacy_cost": "本级自建成本（元） Own departments' legacy cost",
    "children_legacy_cost": "下级自建成本（元） Child organisations' legacy cost",
    "own_consolidated_cost": "本级整合后费用（元） Own departments' consolidated cost",
    "children_consolidated_cost": "下级整合后费用（元） Child organisations' consolidated cost",
    "own_saving": "本级节约（元） Own departments' saving",
    "children_saving": "下级节约（元） Child organisations' saving",
}


# A span's month column is headed by its basis (reports.views.span): recorded, to date, forecast.
BASIS_TITLES = {"": "", "(month to date)": " 本月至今 (month to date)",
                "(forecast)": " 预测 (forecast)"}


def title(code: str) -> str:
    """A column's title in words; a pool's share column is named after the pool."""
    if code in TITLES:
        return TITLES[code]
    month, _, basis = code.partition(" ")
    if len(month) == 7 and month[4] == "-" and basis in BASIS_TITLES:  # YYYY-MM (basis)
        return f"{month} 月 month{BASIS_TITLES[basis]}"
    words = code.replace("-", " ").replace("_", " ")
    return f"{words} 资源池分摊（元） {words} pool share (yuan)"


def title_in(code: str, chinese: bool) -> str | None:
    """A known column's title in one language (the Chinese or the English half of
    ``TITLES``, which writes the Chinese first, without a space, then the English); None for
    a column named after a pool or a month, which the caller names in its own words."""
    if code not in TITLES:
        return None
    zh, _, en = TITLES[code].partition(" ")
    return zh if chinese else en


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
    adjusted = any(d.adjustment for d in s.departments)
    header = ["department", "name", *pools, *(["adjustment"] if adjusted else []), "total"]
    rows: list[list[Any]] = []
    for d in s.departments:
        rows.append([d.department, _name(names, d.department),
                     *[d.by_pool[p] for p in pools],
                     *([d.adjustment] if adjusted else []), d.total])
    rows.append(["(idle)", "idle capacity (charged to no department)",
                 *[p.idle for p in s.pools], *([ZERO] if adjusted else []), s.idle])
    if not adjusted:
        rows.append(["(total)", "platform cost", *[p.cost for p in s.pools], s.platform_cost])
        return header, rows
    # Adjustments are neither usage nor platform cost: their own row, and a total that
    # says what it adds up (the department rows and idle above sum to it, column by column).
    rows.append(["(platform cost)", "platform cost (the pools)", *[p.cost for p in s.pools],
                 ZERO, s.platform_cost])
    rows.append(["(adjustments)", "adjustments (credits and debits, not usage)",
                 *[ZERO for _ in s.pools], s.adjusted(), s.adjusted()])
    rows.append(["(total)", "platform cost + adjustments", *[p.cost for p in s.pools],
                 s.adjusted(), s.billed()])
    return header, rows


def rate_card_table(s: Statement, card: list[dict[str, Any]]) -> Table:
    """Per billed item: the list price, the units billed, what departments were charged for
    it after the shared pools, and so what one unit really cost them."""
    header = ["item", "list_price", "units", "charged", "yuan_per_unit"]
    return header, [[r["item"], r["list_price"], r["units"], r["charged"], r["yuan_per_unit"]]
                    for r in card]


def unit_cost_table(costs: list[UnitCost]) -> Table:
    """Per billed item: units, list price, the usage pools' cost it carries (idle included),
    its share of the fixed pools, its cost and cost per unit, and what departments paid; a
    total row equal to the platform's cost."""
    header = ["item", "units", "list_price", "usage_pools", "of_which_idle", "fixed_pools",
              "cost", "cost_per_unit", "paid", "paid_per_unit"]
    def exact(v: Decimal | None) -> float | None:  # units: not to the fen
        return None if v is None else round(float(v), 6)

    rows: list[list[Any]] = [[c.item, exact(c.units), c.list_price, c.direct, c.idle,
                              c.fixed, c.cost, per_unit_shown(c.per_unit, c.units, c.cost),
                              c.paid, per_unit_shown(c.paid_per_unit, c.units, c.paid)]
                             for c in costs]
    rows.append(["(total)", None, None, sum((c.direct for c in costs), ZERO),
                 sum((c.idle for c in costs), ZERO), sum((c.fixed for c in costs), ZERO),
                 sum((c.cost for c in costs), ZERO), None, sum((c.paid for c in costs), ZERO),
                 None])
    return header, rows


def per_unit_shown(v: Decimal | None, units: Decimal, total: Decimal) -> float | None:
    """A yuan-per-unit figure with as few decimals (4 at least) as let it times ``units``
    come back to ``total`` to the fen, so a reader can redo the product from what is shown
    (116,365 GB × 0.4080 misses by 4.83 yuan; × 0.40803481 does not)."""
    if v is None:
        return None
    for places in range(4, 16):
        shown = round(v, places)
        if fen(shown * units) == total:
            return float(shown)
    return float(v)


def unit_cost_pools(costs: list[UnitCost]) -> Table:
    """Which pool's cost each item carries: item × pool, to the fen."""
    pools = list(dict.fromkeys(n for c in costs for n in c.by_pool))
    return ["item", *pools], [[c.item, *(c.by_pool.get(n, ZERO) for n in pools)]
                              for c in costs]


def savings_table(names: Names, ledger: Ledger) -> Table:
    header = ["department", "name", "legacy_servers", "legacy_cost", "consolidated_cost",
              "saving", "saving_per_year"]
    rows: list[list[Any]] = []
    for d in ledger.departments:
        rows.append([d.department, _name(names, d.department), d.legacy_servers,
                     d.legacy_total, d.consolidated, d.saving, d.saving_per_year])
    rows.append(["(idle)", "idle platform capacity", "", Decimal("0.00"), ledger.idle,
                 -ledger.idle, fen(-ledger.idle * ledger.per_year)])
    rows.append(["(total)", "estate", sum(d.legacy_servers for d in ledger.departments),
                 ledger.legacy_total, ledger.consolidated_total + ledger.idle, ledger.saving,
                 ledger.saving_per_year])
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


def rollup_table(levels: Sequence[Level], measures: tuple[str, ...],
                 tail: Sequence[tuple[str, str, tuple[Decimal, ...]]],
                 ratios: Sequence[Ratio] = ()) -> Table:
    """One row per organisation (top level first, then depth first): its level, path, how
    many departments of its own, and per measure its own departments', its children's and
    its total, then each ratio of its totals; then the ``tail`` rows (idle, the platform's
    total) in the total and ratio columns."""
    header = ["organisation", "name", "level", "path", "departments",
              *(f"own_{m}" for m in measures), *(f"children_{m}" for m in measures),
              *measures, *(r[0] for r in ratios)]

    def of(values: tuple[Decimal, ...]) -> list[float | None]:  # six decimals, as a number
        total = dict(zip(measures, values, strict=True))
        return [None if v is None else float(v) for v in (ratio(total, r) for r in ratios)]

    rows: list[list[Any]] = [[lv.code or "(top)", lv.name, lv.depth, "/".join(lv.path),
                              len(lv.departments), *lv.own, *lv.children, *lv.total,
                              *of(lv.total)] for lv in levels]
    blank = [None] * (2 * len(measures))
    rows += [[code, name, None, "", None, *blank, *values, *of(values)]
             for code, name, values in tail]
    return header, rows
