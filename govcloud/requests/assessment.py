"""The verdict of a request (``assess``): the request's own fields checked, the edit made on
the plan's text (comments and order kept), the whole estate validated with the edited text in
the file's place (``loader.check_estate(proposed=…)``), the changes it makes for the
department (``planning.make_plan`` between the current and the edited plans), what it does to
the monthly bill with fixed shares (``accounts.plan_cost``), whether the hosts suffice
(``capacity.what_if``), and who must approve (``core.approvals``). An invalid request cannot
be filed. The same verdict is shown before filing, stored with the request and judged again
when its plan file changed before the last approval."""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from govcloud.books.accounts import plan_cost
from govcloud.core import approvals
from govcloud.core import requests as asked
from govcloud.core.desired import desired_state
from govcloud.core.documents import parse
from govcloud.core.effects import effects
from govcloud.core.model import Estate
from govcloud.core.planning import Change, make_plan
from govcloud.errors import Diagnostic, GovcloudError
from govcloud.estate.files import read_bytes
from govcloud.estate.loader import check_estate, load_approvals
from govcloud.estate.planedit import apply_edits
from govcloud.finance.plancost import for_department
from govcloud.placement.capacity import WhatIf, what_if


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _diag(d: Diagnostic) -> dict[str, Any]:
    return {k: v for k, v in d.as_dict().items() if k != "severity"}


@dataclass
class Verdict:
    """Everything a person (or program) needs to decide whether to file a request."""

    department: str
    ok: bool
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""
    cost: dict[str, Any] | None = None
    cost_delta: str = "0.00"
    capacity: dict[str, Any] = field(default_factory=dict)
    chain: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    base: str = ""
    text: str = ""  # the edited plan file (not shown in as_dict: the diff is)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("text")
        return out


@dataclass(frozen=True)
class _Edit:
    """The plan file a request edits: its name, its text now (and that text's digest, the
    request's base) and its text edited."""

    file: str
    text: str
    new_text: str
    base: str

    def diff(self) -> str:
        return _diff(self.file, self.text, self.new_text)


def _refused(department: str, problems: list[Diagnostic], base: str = "") -> Verdict:
    return Verdict(department, False, [_diag(d) for d in problems], base=base)


def plan_text(estate: Estate, department: str) -> tuple[str, str]:
    """The department's plan file (as the estate names it) and its text, read by the estate's
    one reader."""
    plan = estate.plans.get(department)
    if plan is None:
        raise GovcloudError(f"no department {department!r} in the estate",
                            f"one of: {', '.join(sorted(estate.plans)[:10])}")
    raw, problems = read_bytes(estate.root / plan.file, plan.file, estate.root)
    if raw is None:
        raise GovcloudError(f"{plan.file} cannot be read: {problems[0].message}",
                            problems[0].hint)
    return plan.file, raw.decode("utf-8")


def assess(estate: Estate, department: str, payload: Any) -> Verdict:
    """The whole verdict of a request for ``department`` on the estate as it is now."""
    problems = _own_fields(department, payload)
    if problems:
        return _refused(department, problems)
    file, text = plan_text(estate, department)
    base = digest(text)
    doc, diags = parse(text, file)
    if doc is None:
        return _refused(department, diags, base)
    edits, problems = asked.edits(payload, doc.data)
    if problems:
        return _refused(department, problems, base)
    edit = _Edit(file, text, apply_edits(text, edits), base)
    checked = check_estate(estate.root, proposed={file: edit.new_text})
    warnings = [_diag(d) for d in checked.warnings if d.file == file]
    if checked.errors or checked.settings is None:
        return Verdict(department, False, _own_errors(checked.errors, file), warnings,
                       base=base, diff=edit.diff())
    after = checked.estate()
    return _judged(_estate_now(estate), after, department, payload, edit, warnings)


_ALSO_IN = re.compile(r" \(also in (?P<file>[^:()]+):[0-9]+(?P<rest>[^)]*)\)")


def _own_errors(errors: list[Diagnostic], file: str) -> list[dict[str, Any]]:
    """The estate's errors as the requester's department may see them: its own plan's,
    without the other plan a duplicate name is in (a member could probe another
    department's servers and sites by name); another file's only as one line."""
    out = []
    for d in errors:
        clash = _ALSO_IN.search(d.message)
        if d.file != file and clash is not None and clash["file"] == file:
            # the other plan had the name first: the request's name is the one refused
            own = d.message[:clash.start()] if d.message.startswith("duplicate ") else \
                "a name in this request lies under or over another department's"
            out.append({"file": file, "line": 0, "path": d.path.split("[")[0].split(".")[0],
                        "rule": "", "hint": d.hint,
                        "message": own + " (taken by another department)"})
            continue
        if d.file != file:
            out.append({"file": "", "line": 0, "path": "", "rule": "",
                        "message": "another file of the estate has an error",
                        "hint": "an operator fixes it (govcloud validate shows it); then "
                                "check this request again"})
            continue
        shown = _diag(d)
        clash = _ALSO_IN.search(d.message)
        if clash is not None and clash["file"] != file and " lies under or over " in d.message:
            shown["message"] = d.message.split(" lies under or over ")[0] + " lies under or " \
                "over another department's site (taken by another department)"
        else:
            shown["message"] = _ALSO_IN.sub(
                lambda m: m[0] if m["file"] == file else " (taken by another department)",
                shown["message"])
        out.append(shown)
    return list({json.dumps(e, sort_keys=True): e for e in out}.values())


def _own_fields(department: str, payload: Any) -> list[Diagnostic]:
    """The request's own fields' problems, and a request filed for another department."""
    problems = asked.check_request(payload)
    if not problems and payload["department"] != department:
        problems = [Diagnostic(asked.FIELD, 0, "department",
                               f"the request is for {payload['department']}, filed for "
                               f"{department}", "file it for its own department")]
    return problems


def _estate_now(estate: Estate) -> Estate:
    """The estate as its files are now (the caller's may be older: another request approved
    meanwhile), so the diff and the cost are this request's alone."""
    now_checked = check_estate(estate.root)
    if now_checked.errors or now_checked.settings is None:
        first = now_checked.errors[0] if now_checked.errors else None
        raise GovcloudError("the estate does not validate as it is now" +
                            (f": {first.render()}" if first else ""),
                            "fix the estate's files first (govcloud validate)")
    return now_checked.estate()


def _judged(estate: Estate, after: Estate, department: str, payload: Any, edit: _Edit,
            warnings: list[dict[str, Any]]) -> Verdict:
    """The verdict of a request whose edited estate validates: its changes, cost, room on
    the hosts and approval chain, between ``estate`` (now) and ``after`` (edited)."""
    plan = make_plan(desired_state(after), list(desired_state(estate).values()),
                     {d: p.file for d, p in after.plans.items()}, prune=True)
    changes = [c for c in plan.changes if c.department == department and c.action != "no-op"]
    errors = _blocked(changes, payload, edit.file)
    cost = for_department(plan_cost(plan, after), department)  # never another's bill
    delta = Decimal(cost["departments"].get(department, {}).get("delta", "0")) if cost \
        else Decimal(0)
    room = what_if(estate, after)
    facts = _facts(estate, after, department, payload, delta, changes, room)
    stages, rule_problems = load_approvals(estate.root, estate.settings.directory.levels)
    chain, eval_problems = approvals.chain(stages, payload, facts)
    errors += [_diag(d) for d in rule_problems]
    return Verdict(
        department, not errors, errors,
        warnings +
        [{"file": approvals.APPROVALS_FILE, "line": 0, "path": "", "message": p, "hint": "",
          "rule": ""} for p in eval_problems],
        [{"action": c.action, "key": c.key, "reason": _why(c.action, c.reason, c.diff),
          "impact": c.impact, "diff": {k: [a, b] for k, (a, b) in c.diff.items()}}
         for c in changes],
        edit.diff(), cost, f"{delta:.2f}",
        {"fits": facts["extra_hosts"] == 0, "extra_hosts": facts["extra_hosts"],
         "hosts_before": room.before.hosts, "hosts_after": room.after.hosts,
         "add": room.extra},
        chain.as_dict(), facts, edit.base, edit.new_text)


def _blocked(changes: list[Change], payload: Any, file: str) -> list[dict[str, Any]]:
    """The changes the plan blocks (deleting or replacing something protected), each an error
    of the field that asked for it."""
    field_of = next((k for k in ("server", "website", "flavor") if k in payload
                     and payload["kind"] in ("remove", "resize")), None)
    return [{"file": asked.FIELD if field_of else file, "line": 0,
             "path": field_of or c.key, "message": f"{c.key}: {c.action}: {c.reason}",
             "hint": c.impact, "rule": ""} for c in changes if c.action == "blocked"]


def _facts(estate: Estate, after: Estate, department: str, payload: Any, delta: Decimal,
           changes: list[Change], room: WhatIf) -> dict[str, Any]:
    """What the approval rules decide on: the cost, the hosts to add, the number of changes,
    a raised quota, a new public website, and what the change does (``core.effects``: what
    it destroys, shrinks, weakens and exposes, and how many running resources it touches)."""
    extra_before = sum(n for z in room.before.zones for n in z.extra.values())
    extra_after = sum(n for z in room.after.zones for n in z.extra.values())
    old_quota = estate.plans[department].quota
    new_quota = after.plans[department].quota
    does = effects(estate.plans[department], after.plans[department], changes,
                   after.settings.catalogue.flavors, estate.settings.services.rpo_hours)
    return {"cost_delta": float(delta), "extra_hosts": max(0, extra_after - extra_before),
            "changes": len(changes),
            "quota_raised": any(getattr(new_quota, k) > getattr(old_quota, k)
                                for k in vars(old_quota)),
            "new_public_website": payload["kind"] == "website" and any(
                w.public for w in after.plans[department].websites
                if w.domain == payload["website"]["domain"]),
            **does.facts()}


def _why(action: str, reason: str, diff: dict[str, Any]) -> str:
    """A change's reason as the request's: the plan compares plans here, not the cloud."""
    if action == "create":
        return "the request adds it"
    if action == "delete":
        return "the request removes it"
    if action in ("update", "resize") and diff:
        return f"the request changes {', '.join(sorted(diff))}"
    return reason


def _diff(file: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), f"a/{file}",
                                        f"b/{file}"))
