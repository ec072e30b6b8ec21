"""Who must approve a request, as data: ``policies/approvals.yaml``, rules with CEL
expressions over the request and its verdict (pure: compiled and evaluated here, read at the
edge).

Rules are read in order. Every rule whose ``when`` holds adds its ``approve`` roles to the
request's chain (``approver`` is the department's own head). A rule with ``approve: auto``
that holds while the chain is still empty ends the reading: the request is approved at once.
Whatever the rules say, nobody approves their own request (separation of duties), nobody
approves two steps of one request, and the chain is ordered approver → finance → operator.

A step nobody but the requester could take (big-data's only approver files a request that
needs big-data's approver; no finance account at all) goes to the next role up (``UP``): the
platform's operators, the role the Keystone ``admin`` and ``govcloud-operator`` roles on the
govcloud domain map to (``core.grants``), who run the estate and decide whatever no rule
sends to anyone else. ``acting`` says, for a step and the people there are, which role takes
it and who of them may; the step keeps its name (the approval records which step it was and
in which role it was taken). Above the operators there is no one: a request waiting for an
operator when no operator but its requester exists names the fix (add an operator).

A rule may name a level of the organisation tree: ``approve: approver@district`` asks the
approver scoped to the department's ancestor at that level (``core.hierarchy.signer``; the
levels are ``directory.levels`` in govcloud.yaml) — a district's head signs its
departments' requests, after the department's own head and before finance. Nobody holds
that step when the department is under no organisation at that level, or its organisation
has no scoped approver: the operators take it, as for any step nobody else can take.

A rule may say ``escalate: {after_days: N, to: ROLE}``: a request that has waited more than N
days for the step the rule asked for is overdue, and ROLE is told (``escalation``; the clock
is the caller's). Escalating tells; it gives ROLE no right to approve that step.

Approval expressions are bounded as policy expressions are (``core.expressions``: length and
nesting checked before they run) and may not use comprehensions at all: a request and its
verdict are small, flat records, and a rule needs nothing more than comparisons.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from govcloud.core import expressions, hierarchy
from govcloud.core.documents import Document
from govcloud.core.effects import EFFECTS, required_empty
from govcloud.core.hierarchy import LEVELS
from govcloud.core.patterns import IDENT
from govcloud.core.roles import with_article
from govcloud.core.schema import arr_of, check, int_of, obj_of, str_of, with_defaults
from govcloud.errors import Diagnostic

sys.modules.setdefault("cel.cli", types.ModuleType("cel.cli"))  # as core.policy does
import cel  # noqa: E402

ORDER = ("approver", "finance", "operator")
UP = {"approver": "operator", "finance": "operator"}  # who takes a step nobody else can
APPROVALS_FILE = "policies/approvals.yaml"
APPROVALS_SCHEMA: dict[str, Any] = obj_of("Who must approve a request.", {
    "rules": arr_of("Rules, read in order.", obj_of("One rule.", {
        "id": str_of("Rule id, shown in the request's chain.", IDENT),
        "description": str_of("Why the rule exists.", None, default=""),
        "when": str_of("CEL over request and verdict: true when the rule applies.", None),
        "approve": {"type": "string",
                    "pattern": "^(auto|approver|finance|operator|approver@[a-z][a-z0-9-]{0,30})$",
                    "description": "Who must approve (auto: nobody, approved at once; "
                    "approver@LEVEL: the approver of the department's organisation at that "
                    "level of directory.levels, e.g. approver@district)."},
        "escalate": obj_of("When the step this rule asks for waits too long: who is told.", {
            "after_days": int_of("Days a request may wait for this step.", 1, 365),
            "to": {"type": "string", "enum": list(ORDER),
                   "description": "The role told once the request has waited longer."},
        }, ["after_days", "to"]),
    }, ["id", "when", "approve"])),
}, ["rules"])


@dataclass(frozen=True)
class Escalate:
    after_days: int
    to: str


@dataclass(frozen=True)
class Stage:
    id: str
    approve: str
    when: str
    line: int
    program: Any
    escalate: Escalate | None = None
    level: int = -1  # approver@LEVEL: the level's place from the top (0), else -1


@dataclass(frozen=True)
class Escalation:
    """A request waiting longer than a rule allows: for which step, since how long, who to
    tell."""

    rule: str
    step: str
    to: str
    after_days: int
    waited_days: int

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "step": self.step, "to": self.to,
                "after_days": self.after_days, "waited_days": self.waited_days}


@dataclass(frozen=True)
class Chain:
    """Who must approve, in order, and which rules said so; ``auto``: nobody."""

    roles: tuple[str, ...]
    rules: tuple[str, ...]
    auto: bool
    levels: Mapping[str, int] = field(default_factory=dict)  # approver@LEVEL → its depth

    def as_dict(self) -> dict[str, Any]:
        return {"roles": list(self.roles), "rules": list(self.rules), "auto": self.auto,
                **({"levels": dict(self.levels)} if self.levels else {})}


def compile_approvals(doc: Document, levels: tuple[str, ...] = LEVELS
                      ) -> tuple[list[Stage], list[Diagnostic]]:
    """The rules, and every problem with them; ``levels``: directory.levels, the names an
    ``approver@LEVEL`` rule may use."""
    found = check(doc, APPROVALS_SCHEMA)
    if found:
        return [], found
    data = with_defaults(doc.data, APPROVALS_SCHEMA)
    stages, problems, seen = [], [], set()
    for i, r in enumerate(data["rules"]):
        where = ("rules", i)
        if r["id"] in seen:
            problems.append(doc.diag((*where, "id"), f"rule id '{r['id']}' is already used",
                                     "give each rule its own id"))
            continue
        seen.add(r["id"])
        level = r["approve"].partition("@")[2]
        if level and level not in levels:
            problems.append(doc.diag((*where, "approve"), f"rule '{r['id']}' names the level "
                                     f"{level!r}, which is not one of directory.levels "
                                     f"({', '.join(levels) or 'none'})",
                                     f"write approver@{levels[-1] if levels else 'district'}"
                                     f", or add {level!r} to directory.levels in "
                                     "govcloud.yaml (the level names, from the top)"))
            continue
        cost = expressions.problem(r["when"])
        if cost is None and expressions.shape(r["when"]).comprehensions:
            cost = ("uses a comprehension (all/exists/exists_one/map/filter)",
                    "compare the request's fields directly")
        if cost is not None:
            problems.append(doc.diag((*where, "when"), f"rule '{r['id']}': the expression "
                                     f"{cost[0]}", cost[1]))
            continue
        try:
            program = cel.compile(r["when"])
        except ValueError as exc:
            problems.append(doc.diag((*where, "when"), f"rule '{r['id']}' does not compile: "
                                     f"{str(exc).splitlines()[0]}",
                                     "fix the CEL expression (see policies/README.md)"))
            continue
        if "escalate" in r and r["approve"] == "auto":
            problems.append(doc.diag((*where, "escalate"), f"rule '{r['id']}' approves at "
                                     "once: nothing waits for it to escalate",
                                     "remove escalate, or give the rule a role to approve"))
            continue
        unchecked = _unchecked_effects(r["when"]) if r["approve"] == "auto" else []
        if unchecked:
            problems.append(doc.diag((*where, "when"), f"rule '{r['id']}' approves at once "
                                     "without requiring that the change "
                                     f"{' or '.join(unchecked)} nothing: it would approve "
                                     "such a change with nobody involved",
                                     "add to its when, joined by &&: " + " && ".join(
                                         f"size(verdict.{e}) == 0" for e in unchecked) +
                                     "; or give the rule a role to approve"))
            continue
        up = Escalate(r["escalate"]["after_days"], r["escalate"]["to"]) \
            if "escalate" in r else None
        stages.append(Stage(r["id"], r["approve"], r["when"], doc.line(where), program, up,
                            levels.index(level) if level else -1))
    return stages, problems


def _unchecked_effects(when: str) -> list[str]:
    """The effects (``core.effects.EFFECTS``) an auto rule's ``when`` does not require to be
    empty."""
    required = required_empty(when)
    return [e for e in EFFECTS if e not in required]


def chain(stages: list[Stage], request: dict[str, Any], verdict: dict[str, Any]
          ) -> tuple[Chain, list[str]]:
    """The chain a request needs, and problems met evaluating the rules (a rule that cannot
    be evaluated on this request counts as holding, so a broken rule asks for more people,
    never fewer)."""
    ctx = cel.Context({"request": request, "verdict": verdict})
    roles: list[str] = []
    rules: list[str] = []
    problems: list[str] = []
    for s in stages:
        try:
            holds = s.program.execute(ctx)
        except Exception as exc:  # noqa: BLE001 - CEL raises plain KeyError/TypeError/ValueError
            problems.append(f"approval rule {s.id} (line {s.line}) cannot be evaluated: "
                            f"{exc!r}")
            holds = s.approve != "auto"
        if holds is not True and holds is not False:
            problems.append(f"approval rule {s.id} (line {s.line}) returned {holds!r}, not "
                            "true or false")
            holds = s.approve != "auto"
        if not holds:
            continue
        if s.approve == "auto":
            if not roles:
                return Chain((), (*rules, s.id), True), problems
            continue
        rules.append(s.id)
        if s.approve not in roles:
            roles.append(s.approve)
    if not roles:  # no rule asked for anyone and none approved: an operator decides
        roles = ["operator"]
    depth = {s.approve: s.level for s in stages if s.level >= 0 and s.approve in roles}
    return Chain(tuple(sorted(roles, key=_rank)), tuple(rules), False, depth), problems


def _rank(step: str) -> tuple[int, int, str]:
    """A step's place in the chain: approver, approver@LEVEL, finance, operator."""
    base, _, level = step.partition("@")
    return ORDER.index(base), bool(level), level


@dataclass(frozen=True)
class Holder:
    """Someone who holds a role (an active account), as the approval steps see them."""

    name: str
    role: str
    department: str | None
    subtree: str = ""  # the organisation whose subtree limits them ("": everything)


@dataclass(frozen=True)
class Acting:
    """Who takes a request's step: its role (the step's own, or the next role up when nobody
    else can), the people of it who may, and why the step went up ("" when it did not)."""

    step: str
    role: str
    names: tuple[str, ...]
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "role": self.role, "names": list(self.names),
                "why": self.why}


@dataclass(frozen=True)
class Tree:
    """The organisation tree as the steps read it: each organisation's parent, and the
    depth of each approver@LEVEL step of the request's chain (``Chain.levels``)."""

    parents: Mapping[str, str] = field(default_factory=dict)
    depth: Mapping[str, int] = field(default_factory=dict)


def _may(h: Holder, role: str, department: str, requester: str, done_by: Collection[str],
         tree: Tree) -> bool:
    base, _, level = role.partition("@")
    if h.role != base or h.name == requester or h.name in done_by:
        return False
    if h.subtree and not hierarchy.inside(department, h.subtree, tree.parents):
        return False  # scoped elsewhere
    if level:
        signer = hierarchy.at_level(department, tree.depth.get(role, -1), tree.parents)
        return bool(signer) and h.subtree == signer
    return base != "approver" or h.department == department


def acting(step: str, department: str, requester: str, done_by: Collection[str],
           holders: Collection[Holder], tree: Tree | None = None) -> Acting:
    """Who takes ``step`` of a request of ``department`` filed by ``requester`` (the people in
    ``done_by`` took its earlier steps): the step's own role if someone other than them holds
    it (an approver: of the department; approver@LEVEL: scoped to its organisation at that
    level; anyone scoped: to an organisation above it), else the next role up (``UP``)."""
    tree = tree or Tree()
    up = UP.get(step.partition("@")[0])
    roles = [step, *([up] if up else [])]
    for role in roles:
        names = tuple(sorted(h.name for h in holders
                             if _may(h, role, department, requester, done_by, tree)))
        if names:
            return Acting(step, role, names, "" if role == step else _none(step, department))
    top = roles[-1]
    earlier = " and whoever approved an earlier step" if done_by else ""
    return Acting(step, top, (), f"nobody holds the {top} role but the requester{earlier}: "
                  f"add one (govcloud users add NAME --role {top})")


def _none(step: str, department: str) -> str:
    if step == "approver":
        return f"{department} has no approver other than the requester"
    if "@" in step:
        return f"no approver scoped to {department}'s {step.partition('@')[2]} other than " \
            "the requester"
    return f"there is no {step} other than the requester"


def may_approve(role: str, department: str | None, name: str, requester: str,
                request_department: str, chain_: Chain, done: list[str],
                taker: Acting | None = None, done_by: Collection[str] = ()) -> str:
    """Why a person may not approve the request's next stage now ("" when they may);
    ``taker``: who takes the step (``acting``: the step's own role or the next one up);
    ``done_by``: who took its earlier steps."""
    if name == requester:
        return "nobody approves their own request (separation of duties)"
    waiting = [r for r in chain_.roles if r not in done]
    if not waiting:
        return "the request needs no more approval"
    step = waiting[0]
    takes = taker.role if taker is not None else step
    if "@" in takes and taker is not None and role == "approver":
        return "" if name in taker.names and name not in done_by else \
            f"the request waits for the approver of its {takes.partition('@')[2]} " \
            f"({', '.join(taker.names) or 'nobody'})"
    if role != takes and name in done_by:  # a second click on 批准, or a later step's
        return f"you have already approved this request: it now waits for " \
               f"{with_article(takes)}'s approval"
    if role != takes:
        up = f" ({taker.why})" if taker is not None and taker.why else ""
        return f"the request waits for {with_article(takes)}'s approval, not " \
               f"{with_article(role)}'s{up}"
    if takes == "approver" and department != request_department:
        return "an approver signs off only their own department's requests"
    if name in done_by:
        return "you approved an earlier step of this request; another person approves " \
               "this one"
    return ""


def escalation(stages: list[Stage], rules: Collection[str], step: str, waited: timedelta
               ) -> Escalation | None:
    """The escalation due for a request that has waited ``waited`` for ``step``, its chain
    made by ``rules``: the first of those rules that asks for ``step`` and allows less wait."""
    for s in stages:
        if s.id in rules and s.approve == step and s.escalate is not None \
                and waited > timedelta(days=s.escalate.after_days):
            return Escalation(s.id, step, s.escalate.to, s.escalate.after_days, waited.days)
    return None
