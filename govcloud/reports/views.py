"""A finance report as one value every output format renders from: its tables (sheets), its
JSON, its terminal text and its notes. Pure: built from finance values, written by the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from govcloud.core.patterns import visible
from govcloud.finance import unitcost
from govcloud.finance.chargeback import Statement
from govcloud.finance.period import Month, Span
from govcloud.finance.rerate import Rerate
from govcloud.finance.rollup import Level, Ratio, ratio
from govcloud.finance.savings import Ledger
from govcloud.finance.span import FORECAST, FORECAST_METHOD, RECORDED, TO_DATE, SpanTotals
from govcloud.finance.utilization import Utilization
from govcloud.reports import tables
from govcloud.reports.tables import Names
from govcloud.reports.text import cell, columns, table

# What the terminal shows of the utilization table (CSV, JSON and XLSX carry every column).
UTILIZATION_TEXT = ("department", "name", "servers", "vcpu", "vcpu_used", "vcpu_util", "ram_gb",
                    "ram_gb_used", "ram_util", "volume_gb", "websites", "backup_gb",
                    "antivirus_seats")


@dataclass(frozen=True)
class Report:
    """One report: ``sheets`` in order, the first being the report itself; ``period`` is
    the month it covers, or the span of months."""

    period: Month | Span
    sheets: dict[str, tables.Table]
    data: Any
    text: str
    notes: tuple[str, ...] = field(default=())

    @property
    def main(self) -> tables.Table:
        return next(iter(self.sheets.values()))

    def with_sheets(self, others: dict[str, tables.Table]) -> Report:
        """This report's own sheet first, then the others (for a workbook)."""
        first = next(iter(self.sheets))
        sheets = {first: self.sheets[first]} | {k: v for k, v in others.items() if k != first}
        return Report(self.period, sheets, self.data, self.text, self.notes)


def _text(header: list[str], rows: list[list[Any]], align: str) -> str:
    return table(header, [[cell(v) for v in r] for r in rows], align)


def utilization(util: Utilization) -> Report:
    header, rows = tables.utilization_table(util)
    in_use = sum(n for z in util.hosts_in_use.values() for n in z.values())
    owned = sum(n for z in util.hosts_owned.values() for n in z.values())
    text = _text(*columns(header, rows, UTILIZATION_TEXT), "llrrrrrrrrrrr")
    text += f"\n\n{len(rows)} departments on {in_use} of {owned} shared hosts ({util.label})."
    return Report(util.period, {"Utilization": (header, rows)}, util.as_dict(), text)


def period_label(st: Statement) -> str:
    """The period and, for a month to date or the month the estate's record began in, its
    hours: run, and counted since the record began."""
    counted, full = st.counted
    since = f", {counted} since the estate's record began" if st.first_hour else ""
    if st.month_to_date and st.hours:
        return f"{st.period} month to date ({st.hours[0]} of {full} hours{since})"
    if st.first_hour:
        return f"{st.period} ({counted} of {full} hours, since the estate's record began)"
    return str(st.period)


def _card(v: Any) -> Any:
    return None if v is None else str(v)


def chargeback(names: Names, st: Statement) -> Report:
    header, rows = tables.chargeback_table(names, st)
    text = _text(header, rows, "ll" + "r" * (len(header) - 2))
    card = unitcost.rate_card(st)
    card_table = tables.rate_card_table(st, card)
    text += ("\n\nRate card: what departments paid per unit after the shared pools (charges "
             "less idle, attributed to items by priced usage), against the list price:\n"
             + _text(*card_table, "lrrrr"))
    status = f"closed {st.closed_at}" if st.closed_at else "open (prices may still change it)"
    if st.adjustments:
        text += "\n\nAdjustments:\n" + "\n".join(
            f"  {a.department}: {a.yuan:+,.2f} — {visible(a.reason)} ({a.by}, {a.at})"
            for a in st.adjustments)
    text += (f"\n\nPeriod {period_label(st)}, {status}. Pools: "
             + "; ".join(f"{p.name} split by {p.rule}" for p in st.pools)
             + ".\n" + check_sentence(st))
    if st.hosts_note():
        text += "\n" + st.hosts_note()
    data = {**st.as_dict(), "adjusted": str(st.adjusted()),
            "platform_cost_plus_adjustments": str(st.billed()),
            "rate_card": [{k: _card(v) for k, v in r.items()} for r in card]}
    return Report(st.period, {"Chargeback": (header, rows), "Rate card": card_table}, data,
                  text)


def check_sentence(st: Statement) -> str:
    """How the month adds up, in one sentence: adjustments apart from the pools' charges."""
    if not st.adjustments:
        return (f"Check: charges {st.shared():,.2f} + idle {st.idle:,.2f} = platform cost "
                f"{st.platform_cost:,.2f}.")
    return (f"Check: pool charges {st.shared():,.2f} + idle {st.idle:,.2f} = platform cost "
            f"{st.platform_cost:,.2f}; + adjustments {st.adjusted():,.2f} (credits and debits, "
            f"neither usage nor savings) = billed {st.billed():,.2f}, the departments' totals "
            f"{st.billed() - st.idle:,.2f} + idle.")


def _places(v: float) -> int:
    """The decimals a per-unit figure was given (tables.per_unit_shown), 4 at least."""
    exponent = Decimal(repr(v)).as_tuple().exponent
    return max(4, -exponent if isinstance(exponent, int) else 4)


def unit_costs(st: Statement) -> Report:
    """What one unit of each billed item really cost after the shared pools, reconciled to
    the platform's cost (govcloud.finance.unitcost states the rule)."""
    costs = unitcost.unit_costs(st)
    unitcost.check_reconciled(st, costs)
    header, rows = tables.unit_cost_table(costs)
    shown = [[f"{v:,.{_places(v)}f}" if k in (7, 9) and isinstance(v, float) else cell(v)
              for k, v in enumerate(r)] for r in rows]
    text = table(header, shown, "lrrrrrrrrr")
    by_pool = tables.unit_cost_pools(costs)
    text += "\n\nWhich pool's cost each item carries (yuan):\n" + _text(
        *by_pool, "l" + "r" * (len(by_pool[0]) - 1))
    text += ("\n\nCost per unit: each usage pool's whole cost (idle included) divided between "
             "its items by priced usage, the pools split evenly or by weight spread over the "
             "items in proportion, over the units billed; paid: what departments were charged "
             "(idle left out). Unit cost × units = cost, to the fen; the costs add up to the "
             f"platform cost {st.platform_cost:,.2f} ({period_label(st)}).")
    if st.adjustments:
        text += (f"\nAdjustments {st.adjusted():,.2f} (credits and debits) are no unit's cost "
                 "and are left out here; the chargeback shows them.")
    data = {"period": str(st.period), "platform_cost": str(st.platform_cost), "idle": str(st.idle),
            "method": unitcost.__doc__.split("\n\n", 1)[1].strip() if unitcost.__doc__
            else "", "items": [c.as_dict() for c in costs]}
    return Report(st.period, {"Unit costs": (header, rows), "Unit costs by pool": by_pool},
                  data, text)


def savings(names: Names, led: Ledger, detail: bool = False) -> Report:
    header, rows = tables.savings_table(names, led)
    text = _text(header, rows, "llrrrrr")
    if detail:
        text += "\n\n" + _text(*tables.savings_detail(led), "llrll")
    when = "a month" if led.per_year == 12 else "in the month to date"
    text += (f"\n\nEstate saving {led.saving:,.2f} yuan {when}, {led.saving_per_year:,.2f} a "
             f"year ({led.period}).\nAssumptions:\n"
             + "\n".join(f"  - {a}" for a in led.assumptions))
    return Report(led.period, {"Savings": (header, rows)}, led.as_dict(), text,
                  tuple(led.assumptions))


def workbook_sheets(names: Names, util: Utilization, st: Statement, led: Ledger
                    ) -> dict[str, tables.Table]:
    """Every sheet of the month's workbook (and of the HTML report's tables)."""
    return {"Utilization": tables.utilization_table(util),
            "Chargeback": tables.chargeback_table(names, st),
            "Rate card": tables.rate_card_table(st, unitcost.rate_card(st)),
            "Savings": tables.savings_table(names, led),
            "Savings sources": tables.savings_detail(led),
            "Platform cost": tables.cost_detail(st),
            "Unit costs": tables.unit_cost_table(unitcost.unit_costs(st))}


_HEADING = {RECORDED: "{}", TO_DATE: "{} (month to date)", FORECAST: "{} (forecast)"}


def span(names: Names, t: SpanTotals, months: Span, year: dict[str, Decimal] | None,
         early: Sequence[tuple[Month, int, int]] = ()) -> Report:
    """Charges per department month by month over a span, each month headed by its basis
    (recorded, month to date, forecast), with the idle and platform rows; with a forecast,
    the columns to date, forecast and total; for a span from January, the year's figure.
    ``early``: months gone by whose usage was collected before they ended (hours run, of)."""
    label = str(months)
    lines = t.lines()
    extra = ["to date", "forecast", "total"] if t.forecasting else ["total"]
    header = ["department", "name", *(_HEADING[b].format(m) for m, b in
                                      zip(t.months, t.basis, strict=True)), *extra]

    def tail(key: str) -> list[Decimal]:
        to_date, ahead = lines[key]
        return [to_date, ahead, to_date + ahead] if t.forecasting else [to_date]

    rows: list[list[Any]] = [[d, names.get(d, (d, ""))[0], *v, *tail(d)]
                             for d, v in t.charges.items()]
    rows.append(["(idle)", "idle capacity (charged to no department)", *t.idle,
                 *tail("(idle)")])
    if any(t.adjustments):
        adj = list(t.adjustments)
        adjusted = sum(adj, Decimal(0))
        adj_tail = [adjusted, Decimal(0), adjusted] if t.forecasting else [adjusted]
        rows.append(["(platform cost)", "platform cost (the pools)", *t.platform,
                     *tail("(total)")])
        rows.append(["(adjustments)", "adjustments (credits and debits, not usage)", *adj,
                     *adj_tail])
        billed = [p + a for p, a in zip(t.platform, adj, strict=True)]
        rows.append(["(total)", "platform cost + adjustments", *billed,
                     *(x + y for x, y in zip(tail("(total)"), adj_tail, strict=True))])
    else:
        rows.append(["(total)", "platform cost", *t.platform, *tail("(total)")])
    text = _text(header, rows, "ll" + "r" * (len(header) - 2))
    notes = _span_notes(t, year) + [
        f"{m} was collected before it ended ({run} of {full} hours): govcloud usage collect "
        f"--period {m} brings it up to date." for m, run, full in early]
    text += f"\n\n{label}: {len(t.months)} months." + "".join(f"\n{n}" for n in notes)
    data: dict[str, Any] = {"span": label, **t.as_dict()}
    if t.forecasting:
        data["forecast_method"] = FORECAST_METHOD
    if year is not None:
        data["forecast"] = {"year": t.months[0].year, "platform_cost": str(year["(total)"]),
                            "idle": str(year["(idle)"]), "method": FORECAST_METHOD,
                            "departments": {d: str(v) for d, v in year.items()
                                            if not d.startswith("(")}}
    return Report(months, {"Chargeback by month": (header, rows)}, data, text, tuple(notes))


def _span_notes(t: SpanTotals, year: dict[str, Decimal] | None) -> list[str]:
    """What the span's columns are: the months to date and forecast, the rest of the month
    under way, the forecast's base and method, the year's figure."""
    notes = []
    for basis, said in ((TO_DATE, "month to date"), (FORECAST, "forecast")):
        named = [str(m) for m, b in zip(t.months, t.basis, strict=True) if b == basis]
        if named:
            notes.append(f"{said.capitalize()}: {', '.join(named)}.")
    if t.rest is not None:
        notes.append(f"The rest of {t.rest.month} is forecast at its own hourly rate: "
                     f"platform cost {t.rest.platform_cost:,.2f} yuan (in the forecast "
                     "column, not in its month's).")
    if t.forecasting or year is not None:
        notes.append(f"Forecast from {t.base}'s charges; method: {FORECAST_METHOD}.")
    if year is not None:
        notes.append(f"Year {t.months[0].year}: platform cost {year['(total)']:,.2f} yuan "
                     "(recorded, then forecast).")
    return notes


def rerate(names: Names, r: Rerate, recorded: bool) -> Report:
    """A re-rate's diff: per department its charge old → new and the lines that moved, then
    why — the rates, pool cost lines and cited price lines that changed."""
    def money(v: Any) -> str:
        return "—" if v is None else cell(v)

    header = ["department", "name", "old", "new", "change", "what moved"]
    rows: list[list[Any]] = []
    for d in r.departments:
        moved = [f"{c.what} {money(c.old)} → {money(c.new)}" for c in d.lines]
        moved += [f"{c.what} units {money(c.old)} → {money(c.new)}" for c in d.usage]
        rows.append([d.department, names.get(d.department, (d.department, ""))[0], d.old,
                     d.new, d.delta, "; ".join(moved)])
    parts = [f"Re-rate of {r.period} against the month {r.baseline}."]
    if not r.changed:
        parts.append("Nothing changed.")
    else:
        if rows:
            parts.append(_text(header, rows, "llrrrl"))
        parts.append(f"Platform cost {money(r.platform.old)} → {money(r.platform.new)}; idle "
                     f"{money(r.idle.old)} → {money(r.idle.new)}.")
        why = [f"  rate {c.what}: {money(c.old)} → {money(c.new)} yuan" for c in r.rates]
        why += [f"  cost line {c.what}: {money(c.old)} → {money(c.new)}"
                for c in r.cost_lines]
        why += [f"  {c.what}: {c.old or '—'}  →  {c.new or '—'}" for c in r.price_lines]
        if why:
            parts.append("Why (price lines that changed):\n" + "\n".join(why))
        if r.savings:
            parts.append("Savings the next close would freeze:\n" + "\n".join(
                f"  {c.what}: {money(c.old)} → {money(c.new)}" for c in r.savings))
        if r.book.old != r.book.new:
            parts.append(f"Price book {r.book.old or '—'} → {r.book.new}.")
    parts.append("Recorded and audited." if recorded else
                 "Dry run: nothing recorded. Record it with --yes --reason \"…\".")
    return Report(r.period, {"Re-rate": (header, rows)},
                  {**r.as_dict(), "recorded": recorded}, "\n\n".join(parts))


def rollup(title: str, period: Month, levels: list[Level], measures: tuple[str, ...],
           tail: list[tuple[str, str, tuple[Decimal, ...]]], placed: dict[str, str],
           notes: list[str], ratios: tuple[Ratio, ...] = (),
           shown: tuple[str, ...] = ()) -> Report:
    """A report rolled up the organisation tree (``finance.rollup``): per organisation its
    own departments', its children's and its total, and each of ``ratios`` recomputed from
    its totals; ``placed``: department → the organisation it was counted under; ``tail``:
    the idle and platform rows. ``shown``: the columns the terminal shows (by default the
    headline measure's own and children's, and every total)."""
    header, rows = tables.rollup_table(levels, measures, tail, ratios)
    keep = list(shown) or ["departments", f"own_{measures[-1]}", f"children_{measures[-1]}",
                           *measures]
    head, picked = columns(header, rows, keep)
    fine = {i for i, h in enumerate(head) if h in {r[0] for r in ratios}}  # not to the fen
    shown_rows = [[("  " * (r[2] or 0)) + str(r[1]),
                   *(f"{v:,.4f}" if i in fine and v is not None else v
                     for i, v in enumerate(p))] for r, p in zip(rows, picked, strict=True)]
    text = _text(["name", *head], shown_rows, "l" + "r" * len(head))
    top = levels[0]
    text += (f"\n\n{title} by organisation, {period}: {len(levels)} organisations, each "
             "level's total its own departments' plus its child organisations', to the fen; "
             f"the top level's = every department's ({cell(top.total[-1])}).")
    if ratios:
        text += ("\nRatios (" + ", ".join(r[0] for r in ratios) + ") are each level's "
                 "rolled-up numerator over its rolled-up denominator, never an average.")
    text += "".join(f"\n{n}" for n in notes)
    data = {"period": str(period), "by": "organisation", "measures": list(measures),
            "ratios": {name: [num, den] for name, num, den in ratios},
            "organisations": [lv.as_dict(measures, ratios) for lv in levels],
            "departments": placed,
            **{code.strip("()"): _tail_dict(measures, values, ratios)
               for code, _, values in tail},
            "notes": notes}
    return Report(period, {f"{title} by organisation": (header, rows)}, data, text,
                  tuple(notes))


def _tail_dict(measures: tuple[str, ...], values: tuple[Decimal, ...],
               ratios: tuple[Ratio, ...]) -> dict[str, Any]:
    total = dict(zip(measures, values, strict=True))
    return {**{m: str(v) for m, v in total.items()},
            **{r[0]: _card(ratio(total, r)) for r in ratios}}
