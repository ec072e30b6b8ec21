"""Capacity commands: capacity (hosts needed, utilization, what-if) and consolidate."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from govcloud.cli.options import root, session
from govcloud.cli.output import emit_json, output_option, table
from govcloud.errors import GovcloudError

if TYPE_CHECKING:
    from govcloud.applying.migrations import MigrationResult
    from govcloud.placement import capacity, cloud
    from govcloud.placement.consolidation import Migration, MigrationPlan


@click.command("capacity")
@click.option("--add", "add", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="What if this tenancy plan joins (repeatable); may be a file in plans/.")
@output_option("text", "json")
@click.pass_context
def capacity_command(ctx: click.Context, add: tuple[Path, ...], output: str) -> None:
    """Hosts the estate needs per zone and host class, how full they run, and what it saved.

    Per zone: hosts needed per class (fewest hosts, then the cheaper class), average and peak
    utilization of vCPU, RAM and disk (share of allocatable capacity; the headroom target
    caps it), the lower bound, the hosts nova's default spread would occupy, and the
    consolidation ratio (legacy servers per host). With --add, the extra hosts the new
    plans would need, if any: the cheapest set to buy (classes may be mixed).

    Exit code 2 when the installed pool is too small (the hosts to add are named).

    With a real cloud (cloud.driver: openstack) the hosts are the cloud's hypervisors, with
    placement's allocation ratios, each listed with its zone, class, whether it takes servers
    and how many of the estate's run there; an estate that does not fit them is an error
    naming what is short. --add stays on the settings' host_pool model.

    \b
    Examples:
      govcloud capacity
      govcloud capacity --add plans/new.yaml --output json
    """
    from govcloud.applying import engine
    from govcloud.placement import capacity, cloud

    result = engine.capacity(root(ctx), list(add))
    if output == "json":
        emit_json(result.as_dict())
    elif isinstance(result, capacity.WhatIf):
        click.echo(_what_if_text(result))
    elif isinstance(result, cloud.CloudCapacity):
        click.echo(_cloud_text(result))
    else:
        click.echo(_report_text(result))
    if result.extra:
        ctx.exit(2)


def _what_if_text(change: capacity.WhatIf) -> str:
    lines = [_report_text(change.after)]
    names = ", ".join(change.departments) or "no new department"
    lines.append(f"\nWhat if {names} joins: hosts {change.before.hosts} -> "
                 f"{change.after.hosts}.")
    if change.extra:
        extra = "; ".join(f"{zone}: " + ", ".join(f"{n} {cls}" for cls, n in per.items())
                          for zone, per in change.extra.items())
        lines.append(f"The installed pool is too small: add {extra} to host_pool.hosts.")
    else:
        lines.append("It fits the installed pool: no extra hosts needed.")
    return "\n".join(lines)


@click.command()
@click.option("--target-hosts", type=click.IntRange(1), default=None,
              help="Hosts in use to reach, in total (default: the re-pack floor).")
@click.option("--max-migrations", type=click.IntRange(0), default=None,
              help="At most this many migrations: the fewest hosts they reach.")
@click.option("--apply", "apply_", is_flag=True, help="Carry the migrations out (shown "
              "first, then confirmed), then park the hosts left empty.")
@click.option("--yes", "-y", is_flag=True, help="With --apply: do not ask.")
@click.option("--lock-timeout", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another apply's lock instead of failing at once.")
@output_option("text", "json")
@click.pass_context
def consolidate(ctx: click.Context, target_hosts: int | None, max_migrations: int | None,
                apply_: bool, yes: bool, lock_timeout: float, output: str) -> None:
    """Live migrations that bring the hosts in use down to a target, as few as possible.

    Reads where servers run from the driver and plans the fewest migrations that reach the
    target: by default the re-pack floor (the hosts a placement from scratch would use);
    --target-hosts N or --max-migrations K instead. Every step keeps zones, anti-affinity
    and capacity (with ratios and headroom) valid in the state the steps before it leave.
    Reports OpenStack Watcher's efficacy indicators: released nodes, migrations,
    released_nodes_ratio.

    With --apply, under the apply lock and journaled like apply: each migration is carried
    out in order and verified (the server read back on its target, its anti-affinity group
    on distinct hosts); transient failures are retried; a run that was killed is finished by
    the next one from its journal. Then every empty host still enabled in the zones in use
    is disabled ("govcloud: consolidated DATE"); apply enables one again when it needs the
    room. Exit code 1 when a migration failed.

    \b
    Examples:
      govcloud consolidate --output json
      govcloud consolidate --max-migrations 10
      govcloud consolidate --apply --yes
    """
    from govcloud.applying import engine

    with session(ctx) as s:
        if not apply_:
            plan = engine.consolidation(s, target_hosts, max_migrations)
            if output == "json":
                emit_json(plan.as_dict())
            else:
                click.echo(_plan_text(plan))
            return
        with engine.locked(s, lock_timeout, doing="consolidate --apply"):
            plan = engine.consolidation(s, target_hosts, max_migrations)
            if output == "text":
                click.echo(_plan_text(plan))
            if not yes:
                _confirm()
            result = engine.consolidate(s, plan, _Progress(len(plan.steps)))
    if output == "json":
        emit_json(result.as_dict())
    else:
        click.echo(_result_text(result))
    if not result.ok:
        ctx.exit(1)


def _confirm() -> None:
    if not sys.stdin.isatty():
        raise GovcloudError("consolidate --apply needs confirmation and there is "
                            "no terminal to ask on", "pass --yes to go ahead")
    click.confirm("Carry out these migrations and park the empty hosts?", abort=True)


class _Progress:
    """consolidate --apply's progress on stderr: each migration as it ends, numbered out of
    ``total``, and each host parked."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.count = 0

    def __call__(self, phase: str, step: Migration | None, detail: str) -> None:
        if phase == "started":
            return
        if step is None:
            click.echo(f"parked  {detail}", err=True)
            return
        self.count += 1
        click.echo(f"[{self.count}/{self.total}] {phase:<7} migrate {step.server} "
                   f"{step.source} -> {step.target}" + (f": {detail}" if detail
                                                         else ""), err=True)


def _result_text(r: MigrationResult) -> str:
    lines = []
    if r.resumed:
        how = "carried on its journal's plan" if r.from_journal else "planned afresh"
        lines.append(f"Finished the killed run {r.resumed} ({how}).")
    lines.append(f"Done {len(r.done)} of {len(r.plan.steps)} migration(s) in "
                 f"{r.seconds:.1f}s (run {r.run_id}).")
    for m, err in r.failed:
        lines.append(f"Failed: {m.server} {m.source} -> {m.target}: {err}")
    if r.parked:
        lines.append(f"Parked {len(r.parked)} empty host(s), disabled with the reason "
                     f"'govcloud: consolidated …': {', '.join(r.parked)}.")
    if r.usage:
        lines.append(f"Finance: {r.usage}.")
    return "\n".join(lines)


def _pct(values: dict[str, float]) -> str:
    return "/".join(f"{100 * v:.0f}" for v in values.values()) + " %"


def _report_text(r: capacity.CapacityReport) -> str:
    rows: list[list[Any]] = []
    for z in r.zones:
        rows.append([
            z.zone, z.servers, z.departments, z.hosts,
            ", ".join(f"{cls} {n}" for cls, n in z.needed.items()) or "-",
            z.lower_bound, "NoValidHost" if z.spread is None else z.spread,
            sum(z.installed.values()), _pct(z.average), _pct(z.peak), z.legacy_servers,
            f"{z.consolidation_ratio:.1f}:1" if z.hosts else "-",
        ])
    header = ["zone", "servers", "depts", "hosts", "by class", "lower bound", "nova spread",
              "installed", "avg vCPU/RAM/disk", "peak vCPU/RAM/disk", "legacy", "ratio"]
    lines = [f"Capacity of estate {r.estate} (planned to {100 * r.headroom:.0f} % headroom)",
             "", table(header, rows, "lrrrlrrrrrrr")]
    if r.extra:
        lines.append("")
        for z in r.zones:
            if z.extra:
                lines.append(f"{z.zone}: the installed pool is short by "
                             + ", ".join(f"{n} {cls}" for cls, n in z.extra.items()))
    return "\n".join(lines)


def _cloud_text(r: cloud.CloudCapacity) -> str:
    rows: list[list[Any]] = [
        [z.zone, ", ".join(z.serves) or "-", z.servers, z.hosts, z.in_use, z.needed,
         z.lower_bound, _pct(z.average), _pct(z.peak)] for z in r.zones]
    hv: list[list[Any]] = [
        [h.host.name, h.host.zone, h.host.host_class, f"{h.host.vcpus:g}", f"{h.host.ram_gb:g}",
         "yes" if h.host.enabled else f"no: {h.host.disabled_reason or '-'}", h.servers]
        for h in r.hypervisors]
    in_use = sum(z.in_use for z in r.zones)
    return "\n".join([
        f"Capacity of estate {r.estate} on cloud {r.cloud} (planned to "
        f"{100 * r.headroom:.0f} % headroom)", "",
        table(["zone", "serves", "servers", "hypervisors", "in use", "needed", "lower bound",
               "avg vCPU/RAM/disk", "peak vCPU/RAM/disk"], rows, "llrrrrrrr"), "",
        table(["hypervisor", "zone", "class", "vCPU*", "RAM GiB*", "takes servers", "servers"],
              hv, "lllrrlr"), "",
        "* allocatable (placement's allocation ratio, less reserved), in the units of "
        "host_pool's ratios.",
        f"{r.hosts} hypervisor(s) needed, {in_use} running servers of the estate"
        + (": run govcloud consolidate." if in_use > r.hosts else "."),
    ])


def _plan_text(plan: MigrationPlan) -> str:
    note = f"\nNote: {plan.note}." if plan.note else ""
    if not plan.steps:
        return (f"Nothing to consolidate: no host of the {plan.hosts_before} in use can be "
                f"emptied onto the others (a full re-pack would use {plan.repacked}).{note}")
    rows = [[n, m.server, m.source, m.target] for n, m in enumerate(plan.steps, 1)]
    return "\n".join([
        table(["#", "server", "from", "to"], rows, "r"),
        "",
        f"Frees {len(plan.released)} of {plan.hosts_before} hosts in use with "
        f"{plan.migrations} migration(s): {', '.join(plan.released)}.",
        f"Released hosts per migration {plan.released_per_migration:.3f} "
        f"({plan.migrations_per_released:.2f} migrations per host freed); Watcher "
        f"released_nodes_ratio {plan.released_nodes_ratio:.1f} % of {plan.nodes} nodes. "
        f"{plan.hosts_after} hosts stay in use (target {plan.target}; a full re-pack from "
        f"scratch: {plan.repacked}).{note}",
    ])
