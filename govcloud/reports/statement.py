"""A department's monthly statement as one printable HTML page (对账单): its share of every
shared pool, its adjustments, its total, what it saved, and the digest that identifies the
figures (a closed month's stored figures, or the open statement as computed); and an
organisation's (a district's): a line per child organisation and per department of its
own, adding up to its total to the fen. Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from govcloud.finance.chargeback import Statement
from govcloud.finance.rollup import Level
from govcloud.finance.savings import Ledger
from govcloud.reports.views import period_label

STYLE = """<style>
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", sans-serif; margin: 24px;
       max-width: 900px; color: #111; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #999;
       padding: 4px 8px; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td, tfoot th { font-weight: bold; } .digest { font-family: monospace;
       font-size: 11px; word-break: break-all; }
@media print { body { margin: 0; } @page { size: A4; margin: 18mm; } }
@media screen and (max-width: 40rem) { body { margin: 12px; }
       table { display: block; overflow-x: auto; } }
</style>"""  # a phone sees it at its own width
# An organisation's statement: per line its pool shares, adjustments, charge and saving.
LINE = ("shares", "adjustment", "total", "saving")


def digest(statement: Statement) -> str:
    """The statement's fingerprint: sha256 of its figures as JSON (sorted keys)."""
    body = json.dumps(statement.as_dict(), sort_keys=True, ensure_ascii=False)
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()




def closed_on(at: str) -> str:
    """When a month was closed, as a printed statement says it: to the minute, with its zone
    (2026年11月26日 12:00 UTC), not the stored ISO text with microseconds (#23 case 3)."""
    try:
        moment = datetime.fromisoformat(at.strip())
    except ValueError:
        return at
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return f"{moment.year}年{moment.month}月{moment.day}日 {moment:%H:%M} UTC"


def page(title: str, department: str, name: str, st: Statement, ledger: Ledger,
         book_digest: str = "", cost_centre: str = "") -> str:
    """``title``: the estate's; ``name``: the department's, which leads the page's title."""
    charge = next((d for d in st.departments if d.department == department), None)
    saved = next((d for d in ledger.departments if d.department == department), None)
    if charge is None:
        raise ValueError(f"{department} has no charge in {st.period}")
    status = (f"已结账 closed {closed_on(st.closed_at)}" if st.closed_at
              else "未结账 open: the figures may still change")
    rows = []
    for p in st.pools:
        share = charge.by_pool.get(p.name, Decimal(0))
        basis = p.basis.get(department, Decimal(0))
        whole = sum(p.basis.values(), Decimal(0))
        rows.append(f'<tr><th scope="row">{escape(p.name)}</th><td>{escape(p.rule)}</td>'
                    f'<td class="num">{p.cost:,.2f}</td>'
                    f'<td class="num">{basis:,.6g} / {whole:,.6g}</td>'
                    f'<td class="num">{share:,.2f}</td></tr>')
    mine = [a for a in st.adjustments if a.department == department]
    if mine:
        rows.append(f'<tr><th scope="row" colspan="4">资源池分摊小计 Pool shares</th>'
                    f'<td class="num">{charge.shares:,.2f}</td></tr>')
    for a in mine:
        rows.append(f'<tr><th scope="row">调整 adjustment</th><td colspan="3">'
                    f'{escape(a.reason)} ({escape(a.by)}, {escape(a.at)})</td>'
                    f'<td class="num">{a.yuan:+,.2f}</td></tr>')
    note = " (pool shares; adjustments are not savings)" if mine else ""
    credit = ("" if charge.total >= 0 else
              f"<p>贷方余额 Credit balance: the adjustments exceed the charge by "
              f"{-charge.total:,.2f} yuan.</p>")
    saving = credit if saved is None else credit + (
        f"<p>自建成本 Legacy cost {saved.legacy_total:,.2f} yuan − charge "
        f"{saved.consolidated:,.2f}{note} = 节约 saving <b>{saved.saving:,.2f}</b> yuan.</p>")
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(name)} {escape(str(st.period))} 政务云月度对账单 monthly statement</title>
{STYLE}</head><body>
<h1>{escape(name)} 政务云月度对账单 / monthly statement</h1>
<p>部门 Department: {escape(department)} · 成本中心 Cost centre: {escape(cost_centre or "—")}
· 期间 Period: {escape(period_label(st))} · {escape(status)} · 平台 Estate: {escape(title)}</p>
<table><caption>各资源池分摊 Share of each shared pool (yuan)</caption>
<thead><tr><th scope="col">资源池 Pool</th><th scope="col">分摊规则 Rule</th>
<th scope="col">资源池成本 Pool cost</th><th scope="col">本部门权重 / 合计 Basis</th>
<th scope="col">本部门分摊 Share</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
<tfoot><tr><th scope="row" colspan="4">合计 Total</th>
<td class="num">{charge.total:,.2f}</td></tr></tfoot></table>
{saving}
<p class="digest">Statement digest {escape(digest(st))}<br>
Price book digest {escape(book_digest or "(open month: the price book as it is now)")}</p>
</body></html>
"""


def line_figures(st: Statement, ledger: Ledger) -> dict[str, tuple[Decimal, ...]]:
    """Department → ``LINE``: what its own statement says (its pool shares, adjustments,
    total and saving), the figures an organisation's statement rolls up."""
    saved = {d.department: d.saving for d in ledger.departments}
    return {d.department: (d.shares, d.adjustment, d.total, saved.get(d.department,
                                                                      Decimal(0)))
            for d in st.departments}


def _line(kind: str, code: str, name: str, values: tuple[Decimal, ...], what: str) -> str:
    cells = "".join(f'<td class="num">{v:,.2f}</td>' for v in values)
    return (f'<tr data-line="{kind}:{escape(code)}"><th scope="row">{escape(name)}</th>'
            f"<td>{escape(code)}</td><td>{escape(what)}</td>{cells}</tr>")


def organisation_page(title: str, org: Level, children: list[Level],
                      lines: Mapping[str, tuple[Decimal, ...]],
                      names: Mapping[str, tuple[str, str]], st: Statement,
                      book_digest: str = "") -> str:
    """An organisation's statement for the month (a district's 对账单): a line per child
    organisation (its total, every level below it included), a line per department of its
    own (what that department's statement says), and the total = the sum of the lines, to
    the fen. ``org`` and ``children``: ``finance.rollup`` levels of ``LINE``; ``lines``:
    its own departments' (``line_figures``)."""
    status = (f"已结账 closed {closed_on(st.closed_at)}" if st.closed_at
              else "未结账 open: the figures may still change")
    by_dep = {d: lines[d] for d in org.departments}
    rows = [_line("organisation", c.code, c.name, c.total,
                  "下级机构 organisation") for c in children]
    rows += [_line("department", d, names.get(d, (d, ""))[0], v, "部门 department")
             for d, v in by_dep.items()]
    kids = [c.total for c in children]
    check = (f"合计 Total {org.total[2]:,.2f} = 下级机构 child organisations "
             f"{sum((k[2] for k in kids), Decimal(0)):,.2f} + 本级部门 own departments "
             f"{sum((v[2] for v in by_dep.values()), Decimal(0)):,.2f}, to the fen; each "
             "department's line is its own statement's total.")
    cells = "".join(f'<td class="num" data-total="{m}">{v:,.2f}</td>'
                    for m, v in zip(LINE, org.total, strict=True))
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<title>{escape(org.name)} {escape(str(st.period))} 政务云月度对账单 monthly statement</title>
{STYLE}</head><body>
<h1>{escape(org.name)} 政务云月度对账单 / monthly statement</h1>
<p>机构 Organisation: {escape(org.code or "(top)")} · 上级 Parent:
{escape(" / ".join(org.path[:-1]) or "—")} · 期间 Period: {escape(period_label(st))} ·
{escape(status)} · 平台 Estate: {escape(title)}</p>
<table><caption>下级机构与本级部门 Child organisations and own departments (yuan)</caption>
<thead><tr><th scope="col">名称 Name</th><th scope="col">标识 Id</th>
<th scope="col">类别 Kind</th><th scope="col">资源池分摊 Pool shares</th>
<th scope="col">调整 Adjustments</th><th scope="col">合计 Total</th>
<th scope="col">节约 Saving</th></tr></thead>
<tbody>{"".join(rows)}</tbody>
<tfoot><tr><th scope="row" colspan="3">合计 Total</th>{cells}</tr></tfoot></table>
<p>{escape(check)}</p>
<p class="digest">Statement digest {escape(digest(st))}<br>
Price book digest {escape(book_digest or "(open month: the price book as it is now)")}</p>
</body></html>
"""

