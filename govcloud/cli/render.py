"""Text rendering of plans, apply results, drift and the applied estate."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import click

from govcloud.applying.apply import ApplyResult
from govcloud.core.catalogue import sizes_text
from govcloud.core.checks import Checked
from govcloud.core.drift import Drift
from govcloud.core.model import Estate
from govcloud.core.planning import Change, Plan
from govcloud.state.store import ApplyRecord

SYMBOL = {"create": ("+", "green"), "update": ("~", "yellow"), "resize": ("~", "yellow"),
          "replace": ("-/+", "magenta"), "delete": ("-", "red"), "blocked": ("!", "red"),
          "no-op": (" ", None)}
LABEL = {"resize": "resize ", "replace": "replace ", "blocked": "blocked "}


def _describe(c: Change) -> str:
    res = c.after or c.before
    assert res is not None
    a = res.attrs
    if c.kind == "server" and c.action in ("create", "delete"):
        extra = f"{a.get('flavor')} {a.get('image')}"
        if c.before and c.before.computed.get("host"):
            extra += f" on {c.before.computed['host']}"
        return extra
    if c.kind == "server" and c.action == "resize" and c.before is not None:
        return f"{c.before.attrs.get('flavor')} → {a.get('flavor')}"
    if c.kind == "volume" and c.action in ("create", "delete"):
        return f"{a.get('size_gb')} GB for {a.get('server')}"
    if c.kind == "website" and c.action in ("create", "delete"):
        return str(a.get("kind"))
    return ""


def _yuan(text: str) -> str:
    return f"{Decimal(text):+,.2f}"


def plan_text(plan: Plan, estate: Estate, color: bool = True) -> str:
    lines: list[str] = []
    pending = plan.pending
    shown = [c for c in plan.changes if c.action not in ("no-op",)]
    by_dep: dict[str, list[Change]] = {}
    for c in shown:
        by_dep.setdefault(c.department, []).append(c)
    if pending:
        lines.append("govcloud will perform the following actions:")
    cost = plan.cost or {}
    deltas = cost.get("departments", {})
    for dep, changes in sorted(by_dep.items()):
        p = estate.plans.get(dep)
        title = f"{dep} — {p.department.name} ({p.department.zone})" if p else \
            f"{dep} (no plan)"
        lines.append("")
        lines.append(click.style(f"  # {title}", bold=True) if color else f"  # {title}")
        if dep in deltas:
            d = deltas[dep]
            lines.append(f"    monthly cost {_yuan(d['delta'])} yuan ({Decimal(d['before']):,.2f}"
                         f" → {Decimal(d['after']):,.2f} at {cost['period']} prices)")
        rolls = Counter(c.roll for c in changes if c.roll and c.action in ("resize", "replace"))
        for c in changes:
            sym, colour = SYMBOL[c.action]
            head = f"  {sym:>3} {LABEL.get(c.action, '')}{c.kind:<14} {c.key.split('/', 2)[2]}"
            text = f"{head}  {_describe(c)}".rstrip()
            lines.append(click.style(text, fg=colour) if color and colour else text)
            lines.append(f"        reason: {c.reason}")
            if c.impact and c.action != "blocked":
                lines.append(f"        impact: {c.impact}")
            if rolls.get(c.roll, 0) > 1:
                lines.append(f"        rolling: one of {rolls[c.roll]} replicas of "
                             f"{c.roll.split('/', 1)[1]}, changed one at a time")
    lines += _leftover_text(plan) + _catalogue_text(plan)
    if plan.decisions:
        lines.append("")
        lines.append("To decide (plan --detailed-exitcode exits 2 until then):")
        for d in plan.decisions:
            lines.append(f"  ! {d.what}")
            lines.append(f"      {d.how}")
    s = plan.summary()
    lines.append("")
    if cost and (pending or Decimal(cost["platform"]["delta"]) or cost["departments"]):
        lines.append(_cost_line(cost, set(by_dep)))
    unmanaged = f", {s['unmanaged']} unmanaged kept" if s["unmanaged"] else ""
    orphans = f", {s['orphans_kept']} orphans kept" if s["orphans_kept"] else ""
    flavors = f"; {len(plan.catalogue.create) + len(plan.catalogue.recreate)} catalogue " \
        "flavor(s) to make" if plan.catalogue and plan.catalogue.pending else ""
    if not plan.has_changes and not plan.decisions:
        lines.append(f"No changes. The cloud matches the plans ({s['no-op']} resources "
                     f"unchanged{orphans}).")
    elif not plan.has_changes:
        lines.append(f"No changes to make; {len(plan.decisions)} thing(s) to decide (above): "
                     f"{s['no-op']} unchanged, {s['blocked']} blocked{orphans}{unmanaged}.")
    else:
        lines.append(f"Plan: {s['create']} to add, {s['update']} to change, {s['resize']} to "
                     f"resize, {s['replace']} to replace, {s['delete']} to destroy; "
                     f"{s['blocked']} blocked, {s['no-op']} unchanged{orphans}{unmanaged}"
                     f"{flavors}.")
    return "\n".join(lines)


def _catalogue_text(plan: Plan) -> list[str]:
    """The flavors apply makes first, and what the cloud lacks that nothing needs yet."""
    cat = plan.catalogue
    if cat is None or not (cat.pending or cat.notes):
        return []
    lines = ["", f"Catalogue of cloud {cat.cloud} (govcloud.yaml):"]
    for f in cat.create:
        lines.append(f"    + flavor {f.name}  {sizes_text((f.vcpus, f.ram_gb, f.disk_gb))} "
                     "(missing: made before any server)")
    for f in cat.recreate:
        lines.append(f"  -/+ flavor {f.name}  {sizes_text((f.vcpus, f.ram_gb, f.disk_gb))} "
                     "(the cloud's differs and no server uses it: made again)")
    lines += [f"    note: {n}" for n in cat.notes]
    return lines


def _leftover_text(plan: Plan) -> list[str]:
    lines = []
    deleting = {c.key for c in plan.pending if c.action == "delete"}
    kept = [o for o in plan.orphans if o.resource.key not in deleting]
    if kept:
        # --prune keeps what is protected and what a protected resource stands on (its
        # project, network, router, security group, server group, quota): those are not
        # "under" the protected server, it is under them
        prune = "--prune deletes those neither protected nor needed by a protected one" \
            if any(o.resource.protected for o in kept) else "pass --prune to delete"
        lines.append("")
        lines.append(f"Orphans — in the cloud but in no plan; kept ({prune}):")
        for o in kept:
            mark = " (protected)" if o.resource.protected else ""
            lines.append(f"    ! {o.resource.key}{mark}: {o.reason}")
    alien = [o for o in plan.unmanaged if o.resource.key not in deleting]
    if alien:
        lines.append("")
        lines.append("Unmanaged — in the cloud, never created by govcloud; kept (deleted only "
                     "when named with --delete-unmanaged):")
        for o in alien:
            lines.append(f"    ? {o.resource.key}: {o.reason}")
    return lines


def _cost_line(cost: dict[str, Any], shown: set[str]) -> str:
    """The estate's monthly cost before and after, and who pays the difference."""
    charged, idle, platform = cost["charged"], cost["idle"], cost["platform"]
    others = [d for d in cost["departments"] if d not in shown]
    rest = sum((Decimal(cost["departments"][d]["delta"]) for d in others), Decimal(0))
    spread = f"; {len(others)} other department(s) {rest:+,.2f} (shared pools)" if others \
        else ""
    return (f"Cost a month at {cost['period']} prices: charged {_yuan(charged['delta'])} yuan "
            f"({Decimal(charged['before']):,.2f} → {Decimal(charged['after']):,.2f}){spread}; "
            f"idle {_yuan(idle['delta'])}; platform {Decimal(platform['before']):,.2f} → "
            f"{Decimal(platform['after']):,.2f}.")


def validate_text(checked: Checked) -> None:
    """Every finding (errors on stderr), then the verdict."""
    for d in checked.diagnostics:
        click.echo(d.render(), err=d.severity == "error")
    if checked.errors:
        click.echo(f"{len(checked.errors)} error(s), {len(checked.warnings)} warning(s) in "
                   f"{checked.files} plan file(s).", err=True)
    else:
        click.echo(f"OK: {checked.files} plan file(s), {len(checked.plans)} departments, "
                   f"{len(checked.warnings)} warning(s).")


def history_text(applies: list[dict[str, Any]]) -> str:
    if not applies:
        return "No applies recorded yet."
    lines = []
    for r in applies:
        lines.append(f"{r['id']}  {r['started_at']}  {r['result'] or 'interrupted/running':<12} "
                     f"{r['done']}/{r['total']} changes  by {r['holder']}")
        for q in r.get("requests", []):
            lines.append(f"    request {q['id']} ({q['department']}, {q['kind']}) asked by "
                         f"{q['requester']}, approved by "
                         f"{', '.join(q['approvers']) or 'the rules (at once)'}")
    return "\n".join(lines)


def journal_text(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['phase']:<8} {r['action']:<8} {r['key']} {r['detail']}".rstrip()
                     for r in rows)


def interrupted_note(rec: ApplyRecord, outcome: str) -> str:
    """The note on an apply that was killed part way, and what became of it."""
    return (f"Note: apply {rec.id} (started {rec.started_at} by {rec.holder}) was "
            f"interrupted after {rec.done} of {rec.total} changes; {outcome}.")


def apply_text(result: ApplyResult) -> str:
    lines = [interrupted_note(rec, "this run finished it") for rec in result.resumed]
    for change, message in result.failed:
        lines.append(f"Failed: {change.action} {change.key}: {message}")
    for department, outcome in sorted(result.rolled_back.items()):
        lines.append(f"Department {department} was new and failed part way: {outcome}, so no "
                     "half-made department is left.")
    if result.skipped:
        lines.append(f"Skipped {len(result.skipped)} change(s) that depended on a failed one: "
                     + ", ".join(c.key for c in result.skipped[:10])
                     + (" …" if len(result.skipped) > 10 else ""))
    if result.usage:
        lines.append(f"Finance: {result.usage}.")
    s = result.summary()
    verdict = "Apply complete" if result.ok else "Apply FAILED"
    lines.append(f"{verdict}: {s['done']} done, {s['failed']} failed, {s['skipped']} skipped "
                 f"in {result.seconds:.1f}s (apply id {result.apply_id}).")
    if not result.ok:
        lines.append("Nothing half-made is left behind: run govcloud apply again to finish "
                     "once the cause is fixed.")
    if result.services:
        lines.append(result.services.render())
    return "\n".join(lines)


def drift_text(items: list[Drift]) -> str:
    if not items:
        return "No drift: the cloud matches the last applied state."
    lines = []
    current = None
    for d in items:
        if d.department != current:
            current = d.department
            lines.append(f"  # {current}")
        lines.append(f"    {d.what:<8} {d.kind:<14} {d.key.split('/', 2)[2]}: {d.detail}")
    lines.append(f"Drift: {len(items)} out-of-band change(s) in "
                 f"{len({d.department for d in items})} department(s). Run govcloud plan to "
                 "see how apply would restore the plans.")
    return "\n".join(lines)


def show_text(data: dict[str, Any]) -> str:
    from govcloud.cli.output import table

    rows = []
    for dep, d in data["departments"].items():
        rows.append([dep, d.get("name", ""), d.get("zone", ""), len(d["servers"]), d["vcpus"],
                     f"{d['ram_gb']:g}", d["volume_gb"], len(d["websites"]),
                     d.get("network") or "-"])
    out = [table(["department", "name", "zone", "servers", "vCPU", "RAM GiB", "volume GB",
                  "sites", "network"], rows, "lllrrrrrrl")]
    out.append("")
    out.append(f"{len(rows)} departments, {sum(r[3] for r in rows)} servers on "
               f"{len(data['hosts_used'])} hosts.")
    if "hypervisors" in data:  # a real cloud: every hypervisor, used or not
        out.append("Hypervisors: " + ", ".join(
            f"{h['name']} ({h['zone']}, {h['servers']} server(s)"
            + ("" if h["enabled"] else f", disabled: {h['disabled_reason'] or '-'}") + ")"
            for h in data["hypervisors"]) + ".")
    last = data.get("last_apply")
    if last:
        out.append(f"Last apply {last['id']}: {last['result'] or 'running or interrupted'}, "
                   f"finished {last['finished_at'] or '-'}.")
    return "\n".join(out)
