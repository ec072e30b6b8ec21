"""One cost figure: the apply plan's monthly change set beside the approved requests it
carries, department by department, and why they differ where they do. Pure.

A request's verdict prices its own department's bill, one request at a time, against the
plan files as they were when it was approved, at that month's prices. The apply plan prices
every change at once, against the cloud, at this month's prices, and counts every
department's bill. So they differ when: a shared pool's fixed cost is split again (a new
server moves every department's share, which no verdict counts as its own); a verdict was
priced at another month's prices; a department's plan changed with no request (edited
directly, or the cloud drifted from it); a request's change is already in the cloud (nothing
left to apply for it); several requests of one department were priced one by one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from govcloud.errors import GovcloudError
from govcloud.finance.period import Month

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Priced:
    """An approved request not applied yet, as its verdict priced it: its own department's
    change (``delta``), the other departments' (``others``: their shares moving), and the
    month whose prices it used."""

    request: int
    department: str
    delta: Decimal
    others: Decimal
    period: Month | None

    @classmethod
    def of(cls, request: int, department: str, verdict: Mapping[str, Any]) -> Priced:
        cost = verdict.get("cost") or {}
        others = (cost.get("other_departments") or {}).get("delta", "0")
        return cls(request, department, Decimal(str(verdict.get("cost_delta", "0"))),
                   Decimal(str(others)), _month(cost.get("period")))


@dataclass(frozen=True)
class Line:
    """One department whose change in the plan is not what its requests' verdicts said."""

    department: str
    plan: Decimal
    verdicts: Decimal
    requests: tuple[int, ...]
    why: tuple[dict[str, str], ...]

    @property
    def difference(self) -> Decimal:
        return self.plan - self.verdicts

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "plan": str(self.plan),
                "verdicts": str(self.verdicts), "difference": str(self.difference),
                "requests": list(self.requests), "why": list(self.why),
                "said": [said(w) for w in self.why]}


@dataclass(frozen=True)
class Reconciliation:
    """The plan's monthly change (every department's bill), the approved verdicts' sum, and
    the lines that explain the difference (empty when they agree)."""

    plan: Decimal
    verdicts: Decimal
    requests: tuple[int, ...]
    lines: tuple[Line, ...]

    @property
    def difference(self) -> Decimal:
        return self.plan - self.verdicts

    def as_dict(self) -> dict[str, Any]:
        return {"plan": str(self.plan), "verdicts": str(self.verdicts),
                "difference": str(self.difference), "requests": list(self.requests),
                "lines": [x.as_dict() for x in self.lines]}


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(ZERO)


def reconcile(cost: Mapping[str, Any] | None, priced: Iterable[Priced]) -> Reconciliation:
    """The plan's cost (``PlanCost.as_dict``; None: no price book) beside ``priced``."""
    asked = sorted(priced, key=lambda p: p.request)
    cost = cost or {}
    plan = {d: _money(v["delta"]) for d, v in (cost.get("departments") or {}).items()}
    total = _money((cost.get("charged") or {}).get("delta", "0"))
    period = _month(cost.get("period"))
    lines = []
    for d in sorted(set(plan) | {p.department for p in asked}):
        own = [p for p in asked if p.department == d]
        verdicts = sum((p.delta for p in own), ZERO)
        here = plan.get(d, ZERO)
        if here == verdicts:
            continue
        lines.append(Line(d, here, verdicts, tuple(p.request for p in own),
                          tuple(_why(d, here, own, asked, period))))
    return Reconciliation(total, sum((p.delta for p in asked), ZERO),
                          tuple(p.request for p in asked), tuple(lines))


# Why a department's change differs, as a sentence with its blanks ({requests}, {period},
# {plan_period}); the portal translates the sentence, then fills the blanks.
WHY = {
    "shares": "its share of the shared pool moves with other departments' requests "
              "({requests}); their verdicts count only their own bill",
    "prices": "{requests} priced at {period}'s prices; the plan at {plan_period}'s",
    "nothing_left": "{requests}: nothing left to apply (the change is already in the cloud, "
                    "or another request superseded it)",
    "one_by_one": "{requests} were priced one at a time, each against the plan as it was "
                  "then; the plan prices them together",
    "no_request": "no approved request changes it: its plan file was edited directly, or "
                  "the cloud differs from it (govcloud drift)",
}


def said(why: Mapping[str, Any]) -> str:
    """A reason (``Line.why``'s) as an English sentence."""
    return WHY[why["code"]].format(**{k: v for k, v in why.items() if k != "code"})


def _numbers(requests: Iterable[Priced]) -> str:
    return ", ".join(f"#{p.request}" for p in requests)


def _month(value: Any) -> Month | None:
    """The month a verdict or the plan was priced at (None: not said, or not a month)."""
    try:
        return Month.parse(str(value), "period") if value else None
    except GovcloudError:
        return None


def _why(department: str, plan: Decimal, own: list[Priced], asked: list[Priced],
         period: Month | None) -> list[dict[str, str]]:
    """Why ``department``'s change in the plan is not its requests' verdicts' sum."""
    why = []
    sharing = [p for p in asked if p.department != department and p.others]
    if sharing:
        why.append({"code": "shares", "requests": _numbers(sharing)})
    older = [p for p in own if period and p.period and p.period != period]
    if older:
        why.append({"code": "prices", "requests": _numbers(older),
                    "period": str(older[0].period), "plan_period": str(period)})
    if own and plan == ZERO:
        why.append({"code": "nothing_left", "requests": _numbers(own)})
    elif len(own) > 1:
        why.append({"code": "one_by_one", "requests": _numbers(own)})
    if not own and not sharing:
        why.append({"code": "no_request"})
    return why
