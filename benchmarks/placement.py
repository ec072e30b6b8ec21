"""Placement benchmark: govcloud against first-fit-decreasing, nova's spread, the lower bound
and, for small cases, the exact optimum (OR-tools CP-SAT).

    pip install -e '.[bench]'
    python benchmarks/placement.py            # full run, < 5 min on 2 cores
    python benchmarks/placement.py --quick    # scales up to 500 departments

Estates are generated (seeded, so every run sees the same ones) at three scales — Qingdao-like
81 departments ≈ 1,000 VMs, 500 departments, 2,000 departments ≈ 50,000 VMs — and two shapes:
``realistic`` (the example catalogue's flavor mix, replicas with anti-affinity, intranet and
extranet, std and memory host classes) and ``adversarial`` (only large CPU-heavy and RAM-heavy
VMs, which pack well only when paired). Small cases (≤ 40 VMs) are solved exactly.

Re-pack: from nova's spread placement of the Qingdao-scale estate, govcloud's consolidate is
compared with OpenStack Watcher's ``node_resource_consolidation`` strategy when a Python with
python-watcher is available (``--watcher-python PATH`` or $WATCHER_PYTHON); see
benchmarks/watcher_consolidate.py for how it is run offline and what it ignores.

Hard instances (issue #13): families from the literature on which first-fit-decreasing
misses the optimum, the optimum known by construction (benchmarks/hard_instances.py):
Falkenauer's triplets, a perfect-packing Schwerin/Wäscher class, and 2-D perfect vector
packings, at about 60, 120, 250 and 500 VMs; ``--hard`` runs only those.

Exits non-zero when a goal of issue #3 or #13 is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script: benchmarks.* from this checkout
from benchmarks.hard_instances import RATIOS as HARD_RATIOS  # noqa: E402
from benchmarks.hard_instances import cases  # noqa: E402
from govcloud.errors import CapacityError  # noqa: E402
from govcloud.placement.consolidation import Migration, repack, replay  # noqa: E402
from govcloud.placement.hosts import Demand, Host, Ratios, capacity  # noqa: E402
from govcloud.placement.place import (  # noqa: E402
    first_fit_decreasing,
    lower_bound,
    place,
    spread,
    violations,
)

HERE = REPO / "benchmarks"
RATIOS = Ratios(cpu=4.0, ram=1.0, disk=1.0, headroom=0.8)
ZONES = ("intranet", "extranet")

# (name, vCPU, RAM GiB, disk GB, weight): the example catalogue (govcloud.yaml) and a mix a
# municipal estate plausibly runs: many small application servers, some databases.
REALISTIC = [("m1.small", 1, 2, 20, 25), ("m1.medium", 2, 4, 40, 30), ("m1.large", 4, 8, 80, 20),
             ("m1.xlarge", 8, 16, 160, 8), ("r1.large", 4, 32, 80, 8),
             ("r1.xlarge", 8, 64, 160, 4), ("c1.xlarge", 16, 16, 80, 5)]
# Large VMs that each exhaust one dimension: a host only fills when both kinds share it.
ADVERSARIAL = [("c2.3xlarge", 24, 16, 100, 1), ("c2.4xlarge", 32, 24, 100, 1),
               ("c2.6xlarge", 48, 40, 200, 1), ("r2.xlarge", 4, 96, 100, 1),
               ("r2.2xlarge", 8, 160, 200, 1), ("r2.3xlarge", 12, 224, 100, 1)]
STD = ("x86-2s-std", 48, 384, 7680, 1.0)
MEM = ("x86-2s-mem", 48, 768, 7680, 1.35)

SMALL_REALISTIC = [("s1", 1, 2, 20, 3), ("s2", 2, 4, 40, 3), ("s4", 4, 8, 80, 3),
                   ("s8", 8, 16, 160, 2), ("r4", 4, 32, 80, 2), ("r2", 2, 16, 40, 2),
                   ("c8", 8, 8, 80, 2)]
SMALL_ADVERSARIAL = [("c16", 16, 4, 50, 1), ("c24", 24, 8, 50, 1), ("r2", 2, 24, 50, 1),
                     ("r4", 4, 32, 50, 1), ("b12", 12, 12, 50, 1)]
SMALL = ("s-16c", 16, 64, 1000, 1.0)
LARGE = ("l-32c", 32, 128, 2000, 1.8)


@dataclass
class Row:
    case: str
    vms: int
    lb: int  # govcloud's lower_bound (valid, a little tighter than the formula)
    govcloud: int
    ffd: int
    spread: int | str
    seconds: float
    ffd_seconds: float
    optimum: int | None = None
    shape: str = ""
    formula: int = 0  # the formula: max over dimensions of ceil(total / capacity)
    zone_ok: bool = True  # govcloud <= FFD in every zone
    valid: bool = True


# --- estates -------------------------------------------------------------------------------

def estate(departments: int, per_department: float, shape: str, seed: int) -> list[Demand]:
    rnd = random.Random(seed)
    flavors = REALISTIC if shape == "realistic" else ADVERSARIAL
    weights = [f[4] for f in flavors]
    out: list[Demand] = []
    for n in range(departments):
        dep = f"d{n:04d}"
        zone = "intranet" if rnd.random() < 0.65 else "extranet"
        target = max(1, round(rnd.uniform(0.5, 1.5) * per_department))
        count = 0
        spec = 0
        while count < target:
            f = rnd.choices(flavors, weights)[0]
            replicas = rnd.choices([1, 2, 3], [70, 20, 10])[0]
            group = f"{dep}/srv{spec}-aa" if replicas > 1 and rnd.random() < 0.8 else None
            for r in range(replicas):
                out.append(Demand(f"{dep}/server/srv{spec}-{r}", dep, zone, f[1], f[2], f[3],
                                  group))
            count += replicas
            spec += 1
    return out


def pool(demands: list[Demand], classes: list[tuple[str, int, int, int, float]],
         spare: float = 1.5) -> list[Host]:
    """A pool sized like an operator without a packer would buy it: ``spare`` × the lower
    bound on the first class, per zone (the other classes get a fifth of that)."""
    hosts = []
    for zone in ZONES:
        zd = [d for d in demands if d.zone == zone]
        if not zd:
            continue
        first = classes[0]
        probe = [Host("probe", zone, first[0], *first[1:])]
        cap = capacity(probe[0], RATIOS)
        need = max(math.ceil(sum(getattr(d, a) for d in zd) / cap[k])
                   for k, a in enumerate(("vcpus", "ram_gb", "disk_gb")))
        for j, (name, cpu, ram, disk, cost) in enumerate(classes):
            count = math.ceil(need * spare) + 2 if j == 0 else math.ceil(need / 5) + 1
            hosts += [Host(f"{zone}-{name}-{i:05d}", zone, name, cpu, ram, disk, cost)
                      for i in range(1, count + 1)]
    return hosts


def small_case(n: int, seed: int) -> tuple[list[Demand], list[Host], str]:
    rnd = random.Random(seed)
    shape = "realistic" if n % 2 else "adversarial"
    flavors = SMALL_REALISTIC if shape == "realistic" else SMALL_ADVERSARIAL
    vms = rnd.randint(10, 40)
    zones = ("intranet", "extranet") if rnd.random() < 0.3 else ("intranet",)
    out: list[Demand] = []
    spec = 0
    while len(out) < vms:
        f = rnd.choices(flavors, [x[4] for x in flavors])[0]
        replicas = min(rnd.choices([1, 2, 3], [70, 20, 10])[0], vms - len(out))
        group = f"g{spec}" if replicas > 1 else None
        zone = rnd.choice(zones)
        for r in range(replicas):
            out.append(Demand(f"s{spec}-{r}", f"dep{spec % 5}", zone, f[1], f[2], f[3], group))
        spec += 1
    classes = [SMALL, LARGE] if rnd.random() < 0.3 else [SMALL]
    hosts = []
    for zone in zones:
        for j, (name, cpu, ram, disk, cost) in enumerate(classes):
            count = vms if j == 0 else 2
            hosts += [Host(f"{zone}-{name}-{i:02d}", zone, name, cpu, ram, disk, cost)
                      for i in range(1, count + 1)]
    return out, hosts, shape


# --- the exact optimum (benchmark only) ----------------------------------------------------

def optimum(demands: list[Demand], hosts: list[Host], upper: dict[str, int],
            seconds: float) -> int | None:
    """Fewest hosts, proven by CP-SAT (None when not proven within ``seconds`` per zone)."""
    from ortools.sat.python import cp_model

    total = 0
    for zone in sorted({d.zone for d in demands}):
        zd = [d for d in demands if d.zone == zone]
        zh: list[Host] = []
        for cls in sorted({h.host_class for h in hosts if h.zone == zone}):
            zh += [h for h in hosts if h.zone == zone and h.host_class == cls][:upper[zone]]
        m = cp_model.CpModel()
        x = {(i, j): m.new_bool_var(f"x{i}_{j}") for i in range(len(zd)) for j in range(len(zh))}
        y = [m.new_bool_var(f"y{j}") for j in range(len(zh))]
        for i in range(len(zd)):
            m.add_exactly_one(x[i, j] for j in range(len(zh)))
        for j, h in enumerate(zh):
            cap = capacity(h, RATIOS)
            for k, attr in enumerate(("vcpus", "ram_gb", "disk_gb")):
                m.add(sum(round(getattr(d, attr) * 10) * x[i, j] for i, d in enumerate(zd))
                      <= round(cap[k] * 10) * y[j])
            if j and zh[j - 1].host_class == h.host_class:
                m.add(y[j] <= y[j - 1])  # identical hosts: use them in order
        for g in {d.group for d in zd if d.group}:
            members = [i for i, d in enumerate(zd) if d.group == g]
            for j in range(len(zh)):
                m.add_at_most_one(x[i, j] for i in members)
        m.minimize(sum(y))
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = seconds
        solver.parameters.num_workers = 2
        if solver.solve(m) != cp_model.OPTIMAL:
            return None
        total += round(solver.objective_value)
    return total


# --- running -------------------------------------------------------------------------------

def measure(case: str, shape: str, demands: list[Demand], hosts: list[Host],
            exact: bool = False) -> Row:
    t = time.perf_counter()
    ours = place(demands, hosts, RATIOS)
    seconds = time.perf_counter() - t
    t = time.perf_counter()
    ffd = first_fit_decreasing(demands, hosts, RATIOS)
    ffd_seconds = time.perf_counter() - t
    try:
        nova_hosts: int | str = spread(demands, hosts, RATIOS).count()
    except CapacityError:
        nova_hosts = "NoValidHost"  # spreading fragments RAM until a large VM fits nowhere
    lb = lower_bound(demands, hosts, RATIOS)
    formula = _formula(demands, hosts)
    valid = not violations(ours.assignment, demands, hosts, RATIOS)
    row = Row(case, len(demands), sum(lb.values()), ours.count(), ffd.count(), nova_hosts,
              seconds, ffd_seconds, shape=shape, valid=valid, formula=formula,
              zone_ok=all(ours.count(z) <= ffd.count(z) for z in lb))
    if exact:
        upper = {z: ffd.count(z) for z in lb}
        row.optimum = optimum(demands, hosts, upper, seconds=20.0)
    return row


def _formula(demands: list[Demand], hosts: list[Host]) -> int:
    """The lower bound as issue #3 words it, per zone, summed: max over dimensions of total
    demand / usable capacity, rounded up; with several classes, the largest hosts first."""
    total = 0
    for zone in {d.zone for d in demands}:
        zd = [d for d in demands if d.zone == zone]
        caps = [capacity(h, RATIOS) for h in hosts if h.zone == zone]
        best = 0
        for k, attr in enumerate(("vcpus", "ram_gb", "disk_gb")):
            need = sum(getattr(d, attr) for d in zd)
            n = 0
            for c in sorted((c[k] for c in caps), reverse=True):
                if need <= 1e-9:
                    break
                need -= c
                n += 1
            best = max(best, n)
        total += best
    return total


def watcher(python: str, demands: list[Demand], current: dict[str, str],
            hosts: list[Host]) -> dict[str, object] | str:
    """Run Watcher's node_resource_consolidation on the same cluster, one model per zone."""
    payload = {
        "ratios": [RATIOS.cpu * RATIOS.headroom, RATIOS.ram * RATIOS.headroom,
                   RATIOS.disk * RATIOS.headroom],
        "hosts": [{"name": h.name, "zone": h.zone, "vcpus": h.vcpus, "ram_gb": h.ram_gb,
                   "disk_gb": h.disk_gb} for h in hosts],
        "servers": [{"key": d.key, "zone": d.zone, "vcpus": d.vcpus, "ram_gb": d.ram_gb,
                     "disk_gb": d.disk_gb, "host": current[d.key]} for d in demands],
    }
    try:
        done = subprocess.run([python, str(HERE / "watcher_consolidate.py")],
                              input=json.dumps(payload), capture_output=True, text=True,
                              timeout=240, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"could not run {python}: {exc}"
    if done.returncode != 0:
        return f"watcher run failed: {done.stderr.strip().splitlines()[-1:]}"
    return json.loads(done.stdout)



def _columns(head: Sequence[str], body: Sequence[Sequence[object]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right."""
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="skip the 2,000-department scale")
    ap.add_argument("--small", type=int, default=40, help="number of small exact cases")
    ap.add_argument("--watcher-python", default=os.environ.get("WATCHER_PYTHON", ""),
                    help="a Python with python-watcher installed (default $WATCHER_PYTHON)")
    ap.add_argument("--hard", action="store_true", help="only the hard instances (#13)")
    args = ap.parse_args()
    start = time.perf_counter()
    hard = hard_rows()
    print(_hard_table(hard))
    hard_goals = _hard_goals(hard)
    if args.hard:
        for ok, text in hard_goals:
            print(f"  [{'ok' if ok else 'MISSED'}] {text}")
        return 0 if all(ok for ok, _ in hard_goals) else 1
    rows: list[Row] = []
    scales = [("qingdao-81", 81, 12.35), ("500-deps", 500, 15.0), ("2000-deps", 2000, 25.0)]
    if args.quick:
        scales = scales[:2]
    for shape in ("realistic", "adversarial"):
        for name, deps, per in scales:
            demands = estate(deps, per, shape, seed=deps)
            classes = [STD, MEM] if shape == "realistic" else [STD]
            rows.append(measure(f"{shape}/{name}", shape, demands, pool(demands, classes)))
            print(_line(rows[-1]), file=sys.stderr, flush=True)
    for n in range(args.small):
        demands, hosts, shape = small_case(n, seed=1000 + n)
        rows.append(measure(f"small-{n:02d}/{shape[:5]}", "small", demands, hosts, exact=True))
    print(_table(rows))

    # Re-pack from nova's spread, Qingdao scale.
    demands = estate(81, 12.35, "realistic", seed=81)
    hosts = pool(demands, [STD], spare=1.5)
    current = dict(spread(demands, hosts, RATIOS).assignment)
    t = time.perf_counter()
    plan = repack(current, demands, hosts, RATIOS)
    repack_seconds = time.perf_counter() - t
    steps_ok = not replay(current, demands, hosts, RATIOS, plan.steps)
    print("\nRe-pack of the Qingdao-scale realistic estate from nova's spread placement "
          f"({len(demands)} VMs on {plan.hosts_before} of {plan.nodes} hosts):")
    print(f"  govcloud consolidate: released {len(plan.released)} hosts with "
          f"{plan.migrations} migrations (released/migrations {plan.released_per_migration:.3f},"
          f" released_nodes_ratio {plan.released_nodes_ratio:.1f} %), {plan.hosts_after} hosts "
          f"left (a full re-pack needs {plan.repacked}); every step valid: {steps_ok}; "
          f"{repack_seconds:.2f}s")
    if args.watcher_python:
        w = watcher(args.watcher_python, demands, current, hosts)
        if isinstance(w, str):
            print(f"  Watcher: not compared — {w}")
        else:
            print(f"  Watcher node_resource_consolidation (host_choice=specify): released "
                  f"{w['released']} hosts with {w['migrations']} migrations, "
                  f"{w['hosts_after']} hosts left; migrations that break anti-affinity or "
                  f"capacity incl. disk: {_watcher_breaks(w, demands, hosts, current)}; "
                  f"{w['seconds']:.2f}s")
            same = repack(current, demands, hosts, RATIOS,
                          target_hosts=int(w["hosts_after"]))  # type: ignore[call-overload]
            per = w["migrations"] / w["released"] if w["released"] else 0.0  # type: ignore
            print(f"  Migrations per host freed: govcloud to the floor "
                  f"{plan.migrations_per_released:.2f}; Watcher {per:.2f}; govcloud to "
                  f"Watcher's {w['hosts_after']} hosts: {same.migrations} migrations for "
                  f"{len(same.released)} hosts ({same.migrations_per_released:.2f} per host)")
    else:
        print("  Watcher: not compared — no Python with python-watcher given "
              "(--watcher-python or $WATCHER_PYTHON; see benchmarks/watcher_consolidate.py)")

    total = time.perf_counter() - start
    goals = _goals(rows, steps_ok, total) + hard_goals
    print("\nGoals (issues #3 and #13):")
    for ok, text in goals:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    print(f"\nTotal wall time {total:.1f}s")
    return 0 if all(ok for ok, _ in goals) else 1


def _watcher_breaks(w: dict[str, object], demands: list[Demand], hosts: list[Host],
                    current: dict[str, str]) -> int:
    """How many of Watcher's migrations, replayed in order, are invalid for govcloud's rules
    (Watcher checks only vCPU and RAM, and no server groups)."""
    steps = [Migration(s, a, b) for s, a, b in w["steps"]]  # type: ignore[union-attr]
    return len(replay(current, demands, hosts, RATIOS, steps))


# --- hard instances (issue #13) ------------------------------------------------------------

@dataclass
class HardRow:
    case: str
    vms: int
    optimum: int
    lb: int
    govcloud: int
    ffd: int
    seconds: float
    valid: bool


def hard_rows() -> list[HardRow]:
    out = []
    for name, demands, hosts, opt in cases():
        t = time.perf_counter()
        ours = place(demands, hosts, HARD_RATIOS)
        seconds = time.perf_counter() - t
        ffd = first_fit_decreasing(demands, hosts, HARD_RATIOS).count()
        lb = sum(lower_bound(demands, hosts, HARD_RATIOS).values())
        ok = not violations(ours.assignment, demands, hosts, HARD_RATIOS)
        out.append(HardRow(name, len(demands), opt, lb, ours.count(), ffd, seconds, ok))
        print(f"{name}: govcloud {ours.count()} (optimum {opt}, FFD {ffd}) in {seconds:.2f}s",
              file=sys.stderr, flush=True)
    return out


def _hard_table(rows: list[HardRow]) -> str:
    head = ("hard case", "VMs", "optimum", "LB", "govcloud", "FFD", "gc-opt", "FFD-opt", "gc s")
    body = [(r.case, r.vms, r.optimum, r.lb, r.govcloud, r.ffd, r.govcloud - r.optimum,
             r.ffd - r.optimum, f"{r.seconds:.2f}") for r in rows]
    return _columns(head, body)


def _hard_goals(rows: list[HardRow]) -> list[tuple[bool, str]]:
    worst = max((r.seconds for r in rows), default=0.0)
    return [
        (all(r.valid for r in rows), "hard instances: every placement valid"),
        (all(r.govcloud <= r.optimum + 1 for r in rows),
         "hard instances: within 1 host of the optimum on each (worst "
         f"+{max((r.govcloud - r.optimum for r in rows), default=0)})"),
        (all(r.seconds <= 10.0 for r in rows),
         f"hard instances: <= 10 s per case (slowest {worst:.1f}s)"),
        (all(r.govcloud <= r.ffd for r in rows), "hard instances: never worse than FFD"),
    ]


def _line(r: Row) -> str:
    return f"{r.case}: {r.vms} VMs, govcloud {r.govcloud} (LB {r.lb}) in {r.seconds:.2f}s"


def _table(rows: list[Row]) -> str:
    head = ("case", "VMs", "LB formula", "LB", "optimum", "govcloud", "FFD", "spread", "gc/LB",
            "gc s", "FFD s")
    body = [(r.case, r.vms, r.formula, r.lb, "-" if r.optimum is None else r.optimum,
             r.govcloud, r.ffd, r.spread, f"{r.govcloud / r.lb:.3f}", f"{r.seconds:.2f}",
             f"{r.ffd_seconds:.2f}")
            for r in rows]
    return _columns(head, body)


def _goals(rows: list[Row], steps_ok: bool, total: float) -> list[tuple[bool, str]]:
    realistic = [r for r in rows if r.shape == "realistic"]
    small = [r for r in rows if r.shape == "small"]
    proven = [r for r in small if r.optimum is not None]
    hit = [r for r in proven if r.govcloud == r.optimum]
    big = [r for r in rows if r.vms >= 45_000]
    worst = max((r.govcloud / r.lb for r in realistic), default=0.0)
    return [
        (all(r.valid for r in rows), "every placement valid (capacity, zones, anti-affinity)"),
        (all(r.govcloud <= 1.03 * r.lb for r in realistic),
         f"realistic cases: govcloud <= 1.03 x lower bound (worst {worst:.3f})"),
        (all(r.govcloud <= r.ffd and r.zone_ok for r in rows),
         "never more hosts than first-fit-decreasing, in total and per zone, on any case"),
        (bool(proven) and len(hit) >= 0.95 * len(small),
         f"optimum on {len(hit)} of {len(small)} small exact cases "
         f"({len(proven)} proven optimal by CP-SAT) — goal >= 95 %"),
        (not big or all(r.seconds <= 10.0 for r in big),
         "50,000 VMs placed in <= 10 s (" + ", ".join(f"{r.case} {r.seconds:.1f}s"
                                                     for r in big) + ")"),
        (steps_ok, "every step of the consolidate migration sequence is valid"),
        (total < 300, f"benchmark wall time < 5 min ({total:.0f}s)"),
    ]


if __name__ == "__main__":
    sys.exit(main())
