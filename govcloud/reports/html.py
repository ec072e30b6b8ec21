"""One self-contained HTML report: tables and inline SVG charts, no script, no CDN.

Charts: each department's monthly cost, legacy cost against consolidated cost (savings),
allocated and used vCPU and RAM over the recorded months, and hosts before and after
consolidation. Chinese names are plain UTF-8 text in a CJK-capable font stack.
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Any

from govcloud.finance.chargeback import Statement
from govcloud.finance.period import Month
from govcloud.finance.savings import Ledger
from govcloud.finance.utilization import Utilization
from govcloud.reports.tables import Names, Percent, Table, title

FONT = ("'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei', "
        "'Microsoft YaHei', 'PingFang SC', sans-serif")
COLOURS = {"cost": "#2f6db5", "legacy": "#c0504d", "saving": "#4f9a3a", "idle": "#9a9a9a",
           "alloc": "#2f6db5", "used": "#e0902f", "ram": "#7a4fb5", "ram_used": "#3aa6a6"}


def _n(v: Any) -> float:
    return float(v) if isinstance(v, Decimal | int | float) else 0.0


def _money(v: Any) -> str:
    return f"{_n(v):,.2f}"


def hbar_chart(chart_id: str, title: str, rows: list[tuple[str, list[tuple[str, float, str]]]],
               unit: str = "yuan") -> str:
    """Horizontal bars: one group per row, one bar per (label, value, colour)."""
    per = max((len(b) for _, b in rows), default=1)
    bar_h, gap, label_w, width = 14, 10, 210, 860
    plot_w = width - label_w - 120
    top = 34
    height = top + len(rows) * (per * bar_h + gap) + 60
    vmax = max((v for _, bars in rows for _, v, _ in bars), default=0) or 1
    out = [f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}">',
           f'<text x="0" y="18" class="title">{escape(title)}</text>']
    y = top
    for label, bars in rows:
        out.append(f'<text x="{label_w - 8}" y="{y + per * bar_h / 2 + 4}" '
                   f'text-anchor="end" class="label">{escape(label)}</text>')
        for name, value, colour in bars:
            w = max(0.0, value) / vmax * plot_w
            out.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w:.1f}" '
                       f'height="{bar_h - 2}" fill="{colour}"><title>{escape(label)} '
                       f'{escape(name)}: {value:,.2f} {unit}</title></rect>')
            out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + bar_h - 4}" '
                       f'class="value">{value:,.0f}</text>')
            y += bar_h
        y += gap
    legend: dict[str, str] = {}
    for _, bars in rows:
        for name, _, colour in bars:
            legend.setdefault(name, colour)
    out += _legend(legend, label_w, height - 22, width)
    out.append("</svg>")
    return "\n".join(out)


def _text_width(text: str) -> int:
    return sum(13 if ord(ch) > 0x2E80 else 7 for ch in text)


def _legend(items: dict[str, str], x0: int, y0: int, width: int) -> list[str]:
    """Legend entries left to right, wrapping above the bottom line when the row is full."""
    rows: list[list[tuple[str, str, int]]] = [[]]
    x = x0
    for name, colour in items.items():
        w = 16 + _text_width(name) + 24
        if rows[-1] and x + w > width:
            rows.append([])
            x = x0
        rows[-1].append((name, colour, x))
        x += w
    out = []
    for i, row in enumerate(rows):
        y = y0 - (len(rows) - 1 - i) * 18
        for name, colour, x in row:
            out.append(f'<rect class="legend" x="{x}" y="{y}" width="12" height="12" '
                       f'fill="{colour}"/><text x="{x + 16}" y="{y + 10}" '
                       f'class="label">{escape(name)}</text>')
    return out


def line_chart(chart_id: str, title: str, periods: list[str],
               series: list[tuple[str, list[float], str]]) -> str:
    width, height, left, right, top, bottom = 860, 300, 60, 20, 34, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = max((v for _, vals, _ in series for v in vals), default=0) or 1
    n = max(len(periods), 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        x = left + (plot_w * (i + 0.5) / n)
        return x, top + plot_h - v / vmax * plot_h

    out = [f'<svg class="chart" id="{chart_id}" xmlns="http://www.w3.org/2000/svg" '
           f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
           f'aria-label="{escape(title)}">',
           f'<text x="0" y="18" class="title">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
           'stroke="#888"/>',
           f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#888"/>',
           f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" class="value">'
           f'{vmax:,.0f}</text>',
           f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" class="value">0</text>']
    for i, p in enumerate(periods):
        x, _ = xy(i, 0)
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                   f'class="value">{escape(p)}</text>')
    for name, vals, colour in series:
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v in enumerate(vals)))
        out.append(f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2.5" '
                   f'points="{pts}"><title>{escape(name)}</title></polyline>')
        for i, v in enumerate(vals):
            x, y = xy(i, v)
            out.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" '
                       f'fill="{colour}"><title>{escape(name)} {escape(periods[i])}: '
                       f'{v:,.1f}</title></circle>')
    out += _legend({name: colour for name, _, colour in series}, left, height - 22, width)
    out.append("</svg>")
    return "\n".join(out)


def _table(header: list[str], rows: list[list[Any]], caption: str = "") -> str:
    """A table with a caption, column headers in words (zh-CN first) scoped to their columns,
    and each row's first cell as the row's header."""
    out = [f"<table><caption>{escape(caption)}</caption><thead><tr>" if caption
           else "<table><thead><tr>"]
    out += [f'<th scope="col">{escape(title(h))}</th>' for h in header]
    out.append("</tr></thead><tbody>")
    for r in rows:
        cls = ' class="total"' if str(r[0]).startswith("(") else ""
        out.append(f"<tr{cls}>")
        for i, v in enumerate(r):
            if i == 0:
                out.append(f'<th scope="row">{escape("" if v is None else str(v))}</th>')
            elif isinstance(v, Decimal):
                out.append(f'<td class="num">{_money(v)}</td>')
            elif isinstance(v, Percent):
                out.append(f'<td class="num">{v * 100:.1f}%</td>')
            elif isinstance(v, int | float) and not isinstance(v, bool):
                out.append(f'<td class="num">{v:,.6g}</td>')
            else:
                out.append(f"<td>{escape('' if v is None else str(v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


_STYLE = f"""<style>
body {{ font-family: {FONT}; margin: 24px; color: #222; max-width: 1200px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 18px; margin-top: 32px; }}
.summary {{ display: flex; gap: 24px; flex-wrap: wrap; }}
.summary div {{ border: 1px solid #ccd; border-radius: 6px; padding: 10px 16px; }}
.summary b {{ display: block; font-size: 20px; }}
svg.chart {{ font-family: {FONT}; display: block; margin: 12px 0; }}
svg .title {{ font-size: 15px; font-weight: bold; }} svg .label {{ font-size: 12px; }}
svg .value {{ font-size: 11px; fill: #444; }}
table {{ border-collapse: collapse; font-size: 12px; margin: 8px 0; }}
th, td {{ border: 1px solid #ccd; padding: 3px 6px; }} th {{ background: #ddebf7; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
tr.total td {{ font-weight: bold; background: #f4f4f4; }}
ul.notes li {{ margin: 4px 0; }}
</style></head><body>"""

TABLE_TITLES = {"chargeback": "Chargeback 计费分摊", "savings": "Savings 节约台账",
                "utilization": "Utilization 资源使用", "savings_detail": "Where each legacy "
                "figure comes from 数据来源", "cost_detail": "Platform cost lines 平台成本明细",
                "unit_costs": "Unit costs after the shared pools 单位成本（含共享资源池分摊）"}


def _head(title: str, month: Month) -> str:
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — 政务云资源使用、计费与节约报告 {month}</title>
""" + _STYLE


def _summary(statement: Statement, ledger: Ledger) -> list[str]:
    """The month's figures in five boxes, the last the check charges + idle = cost."""
    ok = "✓" if statement.billed() == sum((d.total for d in statement.departments),
                                         Decimal(0)) + statement.idle else "✗"
    adjusted = [f"<div>Adjustments 调整<b>¥{_money(statement.adjusted())}</b>credits and "
                "debits, not usage</div>"] if statement.adjustments else []
    return [
        '<div class="summary">',
        f"<div>Platform cost 平台成本<b>¥{_money(statement.platform_cost)}</b>a month</div>",
        "<div>Charged to departments 部门分摊"
        f"<b>¥{_money(statement.platform_cost - statement.idle)}</b></div>",
        f"<div>Idle capacity 空闲容量<b>¥{_money(statement.idle)}</b></div>",
        *adjusted,
        f"<div>Saving 节约<b>¥{_money(ledger.saving)}</b>a month, "
        f"¥{_money(ledger.saving_per_year)} a year</div>",
        f"<div>Check 核对<b>{ok}</b>charges + idle = platform cost"
        + (" + adjustments" if statement.adjustments else "") + "</div>",
        "</div>",
    ]


def _money_charts(names: Names, month: Month, statement: Statement, ledger: Ledger
                  ) -> list[str]:
    """Each department's charge (and idle), and its legacy cost against consolidated."""
    def label(dep: str) -> str:
        return names.get(dep, (dep, ""))[0]

    charges = sorted(statement.departments, key=lambda d: -d.total)
    cost_rows = [(label(d.department), [("monthly charge", _n(d.total), COLOURS["cost"])])
                 for d in charges]
    cost_rows.append(("空闲容量 idle", [("monthly charge", _n(statement.idle), COLOURS["idle"])]))
    sav_rows = [(label(d.department), [("legacy (own servers)", _n(d.legacy_total),
                                        COLOURS["legacy"]),
                                       ("consolidated", _n(d.consolidated), COLOURS["cost"]),
                                       ("saving", _n(max(d.saving, Decimal(0))),
                                        COLOURS["saving"])])
                for d in sorted(ledger.departments, key=lambda d: -d.saving)]
    return [
        "<h2>Monthly cost per department 各部门月度费用</h2>",
        hbar_chart("chart-cost", f"Monthly charge per department, yuan ({month})", cost_rows),
        "<h2>Savings against running their own servers 与自建机房相比的节约</h2>",
        hbar_chart("chart-savings", "Legacy cost, consolidated cost and saving a month, yuan",
                   sav_rows),
    ]


def _estate_charts(month: Month, ledger: Ledger, util: Utilization,
                   history: list[dict[str, Any]]) -> list[str]:
    """Allocated and used vCPU and RAM month by month, and hosts before and after."""
    periods = [h["period"] for h in history] or [str(month)]
    util_series = [
        ("vCPU allocated", [h["vcpu"] for h in history], COLOURS["alloc"]),
        ("vCPU used", [h["vcpu_used"] for h in history], COLOURS["used"]),
        ("RAM GiB allocated", [h["ram_gb"] for h in history], COLOURS["ram"]),
        ("RAM GiB used", [h["ram_gb_used"] for h in history], COLOURS["ram_used"]),
    ]
    legacy_servers = sum(d.legacy_servers for d in ledger.departments)
    in_use = sum(n for z in util.hosts_in_use.values() for n in z.values())
    owned = sum(n for z in util.hosts_owned.values() for n in z.values())
    host_rows = [("整合前 before", [("departments' own servers 自有服务器",
                                    float(legacy_servers), COLOURS["legacy"])]),
                 ("整合后 after", [("shared hosts in use 在用共享主机", float(in_use),
                                   COLOURS["cost"])]),
                 ("共享主机 owned", [("shared hosts owned 共享主机总数", float(owned),
                                     COLOURS["idle"])])]
    return [
        "<h2>Utilization over time 资源使用趋势</h2>",
        line_chart("chart-utilization", "Allocated and used vCPU and RAM per month", periods,
                   util_series),
        "<h2>Hosts before and after consolidation 整合前后服务器数量</h2>",
        hbar_chart("chart-hosts", "Physical servers", host_rows, unit="servers"),
    ]


def report(title: str, names: Names, month: Month, statement: Statement, ledger: Ledger,
           util: Utilization, history: list[dict[str, Any]], tables: dict[str, Table]
           ) -> str:
    """The month's page: summary, charts, then ``tables`` (key → its table) and the
    assumptions."""
    body = [
        _head(title, month),
        f"<h1>{escape(title)} 政务云 — utilization, chargeback and savings, {month}</h1>",
        *_summary(statement, ledger),
        *_money_charts(names, month, statement, ledger),
        *_estate_charts(month, ledger, util, history),
    ]
    for key, (header, rows) in tables.items():
        body.append(f"<h2>{escape(TABLE_TITLES.get(key, key))}</h2>")
        body.append(_table(header, rows, f"{TABLE_TITLES.get(key, key)} — {month}"))
    body.append("<h2>Assumptions 假设</h2><ul class=\"notes\">")
    body += [f"<li>{escape(a)}</li>" for a in ledger.assumptions]
    body.append("</ul>")
    if statement.closed_at:
        body.append(f"<p>Statement closed at {escape(statement.closed_at)}.</p>")
    body.append("</body></html>")
    return "\n".join(body)
