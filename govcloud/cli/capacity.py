"""Capacity commands: capacity (hosts needed, utilization, what-if) and consolidate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from govcloud.cli import cli
from govcloud.cli.options import root, session
from govcloud.cli.output import emit_json, output_option, table
from govcloud.placement import capacity, cloud
from govcloud.placement.consolidation import MigrationPlan
from govcloud.runtime import engine


@cli.command("capacity")
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


@cli.command()
@output_option("text", "json")
@click.pass_context
def consolidate(ctx: click.Context, output: str) -> None:
    """Propose live migrations that free hosts, with as few migrations as possible.

    Reads the current placement from the driver and drains the emptiest hosts onto the
    fullest ones; every step keeps zones, anti-affinity and capacity (with ratios and
    headroom) valid in the state the steps before it leave. Reports OpenStack Watcher's
    efficacy indicators: released nodes, migrations, released_nodes_ratio.

    \b
    Example:
      govcloud consolidate --output json
    """
    with session(ctx) as s:
        plan = engine.consolidation(s)
    if output == "json":
        emit_json(plan.as_dict())
    else:
        click.echo(_plan_text(plan))


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
    if not plan.steps:
        return (f"Nothing to consolidate: no host of the {plan.hosts_before} in use can be "
                f"emptied onto the others (a full re-pack would use {plan.repacked}).")
    rows = [[n, m.server, m.source, m.target] for n, m in enumerate(plan.steps, 1)]
    return "\n".join([
        table(["#", "server", "from", "to"], rows, "r"),
        "",
        f"Frees {len(plan.released)} of {plan.hosts_before} hosts in use with "
        f"{plan.migrations} migration(s): {', '.join(plan.released)}.",
        f"Released hosts per migration {plan.released_per_migration:.3f}; Watcher "
        f"released_nodes_ratio {plan.released_nodes_ratio:.1f} % of {plan.nodes} nodes. "
        f"{plan.hosts_after} hosts stay in use (a full re-pack from scratch: {plan.repacked}).",
    ])
