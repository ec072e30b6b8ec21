"""The savings ledger: what each department would pay running its own servers, against its
consolidated charge. Pure; every figure keeps the plan line and the price line it came from.

Legacy counterfactual for one month, per department (plan ``legacy``, prices ``prices.yaml``):
  own servers     count × purchase / write-off years / 12, per legacy class
  power           count × watts × 730 h × legacy PUE / 1000 × tariff in force
  maintenance     count × maintenance a year / 12
  admin staff     FTE × cost of an administrator a year / 12
  antivirus       its own licences a year / 12
  backup          its own backup a year / 12
  websites        sites it hosted itself × cost of hosting one a year / 12
Consolidated: the department's chargeback for the month, without adjustments (a credit or
debit is neither usage nor a saving). Saving = legacy − consolidated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from govcloud.core.documents import Path_, dotted
from govcloud.core.model import Legacy, LegacyServers, TenancyPlan
from govcloud.finance.chargeback import ZERO, Statement, fen
from govcloud.finance.period import Month
from govcloud.finance.pricebook import HOURS_PER_MONTH, D, PriceBook

LineOf = Callable[[Path_], int]


@dataclass(frozen=True)
class LedgerLine:
    label: str
    yuan: Decimal  # a month, to the fen
    plan_source: str
    price_source: str

    def as_dict(self) -> dict[str, Any]:
        return {"label": self.label, "yuan": str(self.yuan), "plan_source": self.plan_source,
                "price_source": self.price_source}


@dataclass(frozen=True)
class DepartmentSavings:
    department: str
    legacy: tuple[LedgerLine, ...]
    legacy_total: Decimal
    consolidated: Decimal
    consolidated_source: str
    saving: Decimal
    legacy_servers: int
    per_year: Decimal = Decimal(12)  # 12; a month to date: 12 × the month's hours / hours counted

    @property
    def saving_per_year(self) -> Decimal:
        return fen(self.saving * self.per_year)

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "legacy_total": str(self.legacy_total),
                "consolidated": str(self.consolidated),
                "consolidated_source": self.consolidated_source,
                "saving": str(self.saving), "saving_per_year": str(self.saving_per_year),
                "legacy_servers": self.legacy_servers,
                "legacy": [x.as_dict() for x in self.legacy]}


@dataclass(frozen=True)
class Ledger:
    """The savings of one month; ``period`` is its statement's month."""

    period: Month
    departments: tuple[DepartmentSavings, ...]
    legacy_total: Decimal
    consolidated_total: Decimal
    idle: Decimal
    saving: Decimal
    assumptions: tuple[str, ...]
    per_year: Decimal = Decimal(12)  # 12; a month to date: 12 × the month's hours / hours counted

    @property
    def saving_per_year(self) -> Decimal:
        return fen(self.saving * self.per_year)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Ledger:
        return cls(Month.parse(data["period"], "period"), tuple(DepartmentSavings(
            d["department"], tuple(LedgerLine(x["label"], Decimal(x["yuan"]), x["plan_source"],
                                              x["price_source"]) for x in d["legacy"]),
            Decimal(d["legacy_total"]), Decimal(d["consolidated"]), d["consolidated_source"],
            Decimal(d["saving"]), d["legacy_servers"]) for d in data["departments"]),
            Decimal(data["legacy_total"]), Decimal(data["consolidated_total"]),
            Decimal(data["idle"]), Decimal(data["saving"]), tuple(data["assumptions"]))

    def as_dict(self) -> dict[str, Any]:
        return {"period": str(self.period), "legacy_total": str(self.legacy_total),
                "consolidated_total": str(self.consolidated_total), "idle": str(self.idle),
                "saving": str(self.saving), "saving_per_year": str(self.saving_per_year),
                "departments": [d.as_dict() for d in self.departments],
                "assumptions": list(self.assumptions)}


@dataclass(frozen=True)
class RecordedPlan:
    """A department's plan as the dated record kept it: what its legacy counterfactual
    reads (the file, the legacy inventory and the line of each legacy entry)."""

    file: str
    legacy: Legacy
    lines: dict[str, int]

    @classmethod
    def of(cls, body: dict[str, Any]) -> RecordedPlan:
        lg = body["legacy"]
        return cls(body["file"], Legacy(
            tuple(LegacyServers(s["host_class"], s["count"]) for s in lg["servers"]),
            lg["admin_staff"], lg["antivirus_yuan_per_year"], lg["backup_yuan_per_year"],
            lg["websites"]), dict(body.get("lines") or {}))

    def line(self, path: Path_) -> int:
        return int(self.lines.get(".".join(map(str, path)), 0))


Planned = TenancyPlan | RecordedPlan


def legacy_lines(plan: Planned, book: PriceBook, month: Month,
                 line_of: LineOf | None = None, share: tuple[int, int] = (1, 1),
                 hours: str = "") -> list[LedgerLine]:
    """The department's own-servers cost for one month, line by line; × ``share`` (the
    hours it ran under this plan, of the hours in the month; said in ``hours``) for part of
    one: multiplied before it is divided, so a line of exactly half a fen rounds up."""
    where = line_of or (lambda path: 0)

    def part(yuan: Decimal) -> Decimal:
        return fen(yuan * share[0] / share[1])

    def ps(path: Path_) -> str:
        line = where(path)
        return f"{plan.file}:{line} {dotted(path)}" if line else f"{plan.file} {dotted(path)}"

    tariff = book.tariff_for(month)
    pue = book.pue_for(month, legacy=True)
    out: list[LedgerLine] = []
    for i, s in enumerate(plan.legacy.servers):
        if not s.count:
            continue
        m = book.legacy_class(s.host_class, month)
        path: Path_ = ("legacy", "servers", i)
        n = Decimal(s.count)
        out.append(LedgerLine(f"{s.host_class} × {s.count}: write-off {m.purchase_yuan} / "
                              f"{m.years} years / 12", part(m.purchase_yuan / m.years / 12 * n),
                              ps(path), str(m.source)))
        kwh = m.power_w * HOURS_PER_MONTH * pue.yuan / 1000
        out.append(LedgerLine(f"{s.host_class} × {s.count}: power {m.power_w} W × "
                              f"{HOURS_PER_MONTH} h × PUE {pue.yuan} × {tariff.yuan} "
                              "yuan/kWh", part(kwh * tariff.yuan * n), ps(path),
                              f"{m.source}; {tariff.source}; {pue.source}"))
        if m.maintenance_yuan_per_year:
            out.append(LedgerLine(f"{s.host_class} × {s.count}: maintenance "
                                  f"{m.maintenance_yuan_per_year} a year / 12",
                                  part(m.maintenance_yuan_per_year / 12 * n), ps(path),
                                  str(m.source)))
    lg = plan.legacy
    if lg.admin_staff:
        staff = book.staff_for(month)
        out.append(LedgerLine(f"admin staff {D(lg.admin_staff)} FTE × {staff.yuan} a year / 12",
                              part(D(lg.admin_staff) * staff.yuan / 12),
                              ps(("legacy", "admin_staff")), str(staff.source)))
    if lg.antivirus_yuan_per_year:
        out.append(LedgerLine(f"own antivirus {D(lg.antivirus_yuan_per_year)} a year / 12",
                              part(D(lg.antivirus_yuan_per_year) / 12),
                              ps(("legacy", "antivirus_yuan_per_year")), "(the plan)"))
    if lg.backup_yuan_per_year:
        out.append(LedgerLine(f"own backup {D(lg.backup_yuan_per_year)} a year / 12",
                              part(D(lg.backup_yuan_per_year) / 12),
                              ps(("legacy", "backup_yuan_per_year")), "(the plan)"))
    w = book.staff_for(month, "legacy_website_yuan_per_year")
    if lg.websites and w.yuan:
        out.append(LedgerLine(f"own websites {lg.websites} × {w.yuan} a year / 12",
                              part(Decimal(lg.websites) * w.yuan / 12),
                              ps(("legacy", "websites")), str(w.source)))
    if hours:
        out = [LedgerLine(f"{x.label} × {hours}", x.yuan, x.plan_source, x.price_source)
               for x in out]
    return out


def ledger(plans: Mapping[str, Planned | Sequence[tuple[Planned, int]]], book: PriceBook,
           statement: Statement, line_of: Callable[[Planned], LineOf] | None = None,
           notes: Sequence[str] = ()) -> Ledger:
    """Savings per department for the statement's month (or month to date), and totals
    across the estate. ``plans``: each department's plan for the whole month, or the plans
    in force with the hours it was in the estate under each (the dated record): its legacy
    counterfactual runs for those hours only. The consolidated figure is its charge without
    adjustments (a credit is not a saving)."""
    deps = []
    month = statement.month
    charged = {d.department: d.total - d.adjustment for d in statement.departments}
    for dep_id in sorted(set(plans) | set(charged)):
        held = plans.get(dep_id)
        spans: Sequence[tuple[Planned, int]] = () if held is None else \
            [(held, month.hours)] if isinstance(held, TenancyPlan | RecordedPlan) else held
        lines: list[LedgerLine] = []
        for plan, hours in spans:
            whole = hours == month.hours
            lines += legacy_lines(plan, book, month, line_of(plan) if line_of else None,
                                  (hours, month.hours),
                                  "" if whole else f"{hours}/{month.hours} h")
        legacy = sum((x.yuan for x in lines), ZERO)
        consolidated = charged.get(dep_id, ZERO)
        last = spans[-1][0] if spans else None
        deps.append(DepartmentSavings(
            dep_id, tuple(lines), legacy, consolidated,
            f"chargeback {statement.period}" + (" (closed)" if statement.closed_at else ""),
            legacy - consolidated,
            sum(s.count for s in last.legacy.servers) if last else 0, _per_year(statement)))
    legacy_total = sum((d.legacy_total for d in deps), ZERO)
    consolidated_total = sum((d.consolidated for d in deps), ZERO)
    return Ledger(statement.period, tuple(deps), legacy_total, consolidated_total,
                  statement.idle, legacy_total - consolidated_total - statement.idle,
                  tuple(_to_date(statement) + assumptions(book, statement.month)[_skip(statement):]
                        + list(notes)
                        + ([statement.hosts_note()] if statement.hosts_note() else [])),
                  _per_year(statement))


def _skip(statement: Statement) -> int:
    return 1 if statement.month_to_date else 0


def _to_date(statement: Statement) -> list[str]:
    """A month to date's first assumption, in place of the whole month's; in the month the
    estate's record began, which hours both sides count."""
    counted, full = statement.counted
    began = _began(statement)
    if not statement.month_to_date or not statement.hours:
        return [f"The estate's dated record began {began}: the charge (every pool, the "
                f"hosts' write-off and every capacity) and the legacy cost both count the "
                f"{_hours(counted)} since, of the month's {full}; nothing ran before."] \
            if began else []
    run = statement.hours[0]
    since = f", {counted} since the estate's dated record began {began}" if began else ""
    return [f"Figures are yuan for {statement.month} month to date ({run} of {full} hours"
            f"{since}): the legacy cost counts the same hours as the charge; 'a year' figures "
            f"are the {_hours(counted)} counted normalised to the month's {full}, × 12."]


def _hours(n: int) -> str:
    return f"{n} hour{'' if n == 1 else 's'}"


def _began(statement: Statement) -> str:
    """When the estate's record began, for a month it began in ('' for any other month)."""
    if not statement.first_hour:
        return ""
    at = statement.month.start + timedelta(hours=statement.first_hour)
    return f"{at:%Y-%m-%d %H:00} UTC (hour {statement.first_hour + 1} of the month)"


def _per_year(statement: Statement) -> Decimal:
    """What a figure of the statement's period is multiplied by for a year: 12 for a whole
    month; for a month to date, first normalised to the whole month (its hours over the
    hours counted: run since the estate's record began), then 12 — the same year a whole
    month of that rate gives."""
    counted, full = statement.counted
    if not statement.month_to_date or not counted:
        return Decimal(12)
    return Decimal(full) * 12 / Decimal(counted)


def assumptions(book: PriceBook, month: Month) -> list[str]:
    """What the ledger of ``month`` assumes, in sentences, with the price lines it reads."""
    tariff = book.tariff_for(month)
    staff = book.staff_for(month)
    pue, legacy_pue = book.pue_for(month), book.pue_for(month, legacy=True)
    return [
        "Figures are yuan a month for the period; 'a year' figures are the month × 12.",
        "A month has 730 hours (8,760 / 12); servers draw their average power all month.",
        f"Electricity costs {tariff.yuan} yuan/kWh ({tariff.source}).",
        f"Departments' own server rooms have a PUE of {legacy_pue.yuan}; the shared data "
        f"centre {pue.yuan} ({pue.source}).",
        "Legacy servers are written off over the years in legacy_classes and would have been "
        "replaced at that pace, so their write-off is a running cost.",
        f"One administrator costs {staff.yuan} yuan a year ({staff.source}); a department's "
        "admin FTE are those its plan names under legacy.admin_staff.",
        "Own antivirus and backup are what each plan states under legacy.",
        "The consolidated cost is the department's chargeback for the month: its shares of "
        "every shared cost pool. Idle platform capacity is charged to no department; the "
        "estate's saving subtracts it, so no cost is hidden.",
    ]
