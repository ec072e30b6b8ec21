"""Apply on the sim cloud at 100, 1,000 and 10,000 departments, in two estate shapes: the cost
of a change must not grow with the estate (issue #24).

The shapes: estate_gen's ``servers`` (every department ~11 servers, up to 3 websites) and
``lopsided``, made here: one department in a hundred is large (20-24 kinds of server, ~120
servers, 10-20 websites), the others tiny (at most one server and one website).

Each estate is applied from an empty cloud by ``govcloud apply --yes -o json --no-services``,
one process per run, as an operator runs it. Per change: the apply's own seconds (its JSON
``seconds``: reading the cloud, carrying out and journaling every change) over the changes
done; ``command s``: the whole process (validate, plan, placement, apply, usage collection);
peak RSS: the process's own maximum resident set (rusage). Sizes below 5,000 departments are
run ``--rounds`` times, in turns, and the medians taken; larger ones once. ``--govcloud DIR``
runs another checkout's govcloud (main's, say) for a side-by-side comparison: give it
``--vs DIR`` instead to run both in turns, each size A B A B.

``--state postgres`` keeps the state store (and so the sim's cloud, kept in it) on
PostgreSQL: a server of the script's own (benchmarks/portal.py's, its default settings: a
commit waits for the disk), a new database for each run; ``--state sqlite,postgres`` runs
both in turns, each size A B A B, and prints the ratio per change.

``--kills K`` (instead of the timings): the largest size of the first shape is applied from
empty, on the first store --state names, and SIGKILLed K times, each after a random number of
its changes were reported done (others in flight); after each kill the sim cloud's resources
are counted by name (none twice, none not asked for); then one apply runs to its end, ``plan
--detailed-exitcode`` must exit 0, and every resource asked for is in the cloud exactly once.

Goals (#24): per change at 10,000 departments within 1.3x of that at 100; 10,000 departments
applied in at most 10 minutes on the project's 2-core machine; 5 SIGKILLs during the 10,000
apply each resumed to a converged estate.

    pip install -e '.[bench]'
    python benchmarks/apply_scale.py [--sizes 100,1000,10000] [--shapes servers,lopsided]
    python benchmarks/apply_scale.py --sizes 100,1000 --vs /work/main    # before and after
    python benchmarks/apply_scale.py --sizes 10000 --shapes servers --kills 5
    python benchmarks/apply_scale.py --sizes 1000 --shapes servers --state sqlite,postgres
    python benchmarks/apply_scale.py --sizes 200 --shapes servers --state postgres --kills 3
    python benchmarks/apply_scale.py --quick    # 4 and 40 departments, then one kill

Measured 2026-12-07 07:08-07:17 UTC on the project's 2-core machine, quiet (load average 0.7
when it started, nothing else running but this), one run each (``--sizes 100,1000,10000
--shapes servers,lopsided``):

    shape     depts  changes  apply s  ms/change  command s  cpu s  peak MB
    servers     100     2772     1.72      0.622        3.8    3.8       64
    servers    1000    29268    19.52      0.667       24.7   25.0      222
    servers   10000   291698   185.85      0.637      246.6  224.3     1793
    lopsided    100      984     0.60      0.607        1.8    1.0       48
    lopsided   1000    10100     7.85      0.778       10.5    8.8       97
    lopsided  10000   101402    68.82      0.679       87.8   79.0      571

Per change at 10,000 / at 100: 1.02x (servers), 1.12x (lopsided). The servers estate's whole
apply took 4.1 min of wall clock (goal 10), lopsided 1.5 min. The same run the day before at
load average 11 to 14 took 10.8 min for the servers estate (4.1 min of CPU). Side by side with
the loop before #24 (``--vs``, one round, load 13): 1.22 against 4.49 ms per change at 1,000
servers departments (0.27x), 0.92 against 1.29 at 100; lopsided 0.72 against 2.72 at 1,000.

With the group commit of the starts (the same command, 2026-12-07 10:50-11:02 UTC, load
average 6.4 to 8.4, two helper sessions' benchmarks beside it):

    shape     depts  changes   apply s  ms/change  command s  cpu s   peak MB
    servers     100     2772      1.62      0.585        6.1    2.8        62
    servers    1000    29268     14.11      0.482       31.3   16.9       220
    servers   10000   291698    145.61      0.499      345.7  167.4      1797
    lopsided    100      984      0.50      0.504        1.7    0.8        48
    lopsided   1000    10100      5.65      0.559       16.0    6.2        97
    lopsided  10000   101402     50.90      0.502       85.0   54.4       571

Per change at 10,000 / at 100: 0.85x (servers), 1.00x (lopsided); the servers estate applied
in 5.8 min of wall clock at that load (2.4 min of the apply's own), lopsided 1.4 min.

``--sizes 1000 --shapes servers --state sqlite,postgres --rounds 1``, 2026-12-07 08:06 (nice 10,
load average 14, beside a 10,000-department apply on PostgreSQL): SQLite 0.391 ms per change
(11.5 s for 29,268 changes), PostgreSQL 4.483 ms (131 s), 11.5x. Before the group commit one
PostgreSQL commit waited for the disk (4-5.5 ms here) twice per change: at 200 departments
(5,710 changes, in process, load 8) 12.8 ms per change against SQLite's 1.2; after it 4.7
against 0.6, of which the sim's own statements (a cloud kept in the store: ~8 round trips
per change to a server process on the same 2 cores) are most.

``--sizes 10000 --shapes servers --kills 5``, 2026-12-07 (nice 19, beside other work): SIGKILLs
after 81,268 of 291,698 changes, 206,653 of 210,426, 419 of 3,773, 2,872 of 3,348 and 75 of
476; after each, no resource twice and none not asked for; the last apply made the 390 left,
``plan --detailed-exitcode`` 0, every one of the 291,698 resources exactly once. The first
attempt stalled on its third resume: planning against a cloud of 288,000 resources scanned
every resource for each server (fixed: the volumes are indexed once). Again with the group
commit of the starts (2026-12-07 11:37-11:53 UTC, load average 2 to 7, beside other work):
SIGKILLs after 81,268 of 291,698 changes, 206,653 of 210,420, 419 of 3,755, 2,872 of 3,330
and 75 of 434; after each, no resource twice and none not asked for; the last apply made
the 354 left, ``plan --detailed-exitcode`` 0, every one of the 291,698 resources exactly
once (15.4 min in all).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks import arguments  # noqa: E402
from benchmarks.estate_gen import FLAVORS, IMAGES, WEIGHTS, write_settings  # noqa: E402
from benchmarks.estate_gen import generate as generate_servers  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
GOAL_RATIO = 1.3  # per change at the largest size / at the smallest
GOAL_MINUTES = 10.0  # the whole apply at 10,000 departments
JUDGED = (100, 10_000)  # the sizes the goals are set for


# --- the lopsided estate: few large departments, many tiny ones ---------------------------

def _plan(i: int, rng: random.Random, large: bool) -> dict:
    zone = "intranet" if i % 2 else "extranet"
    kinds, counts, sites = ((20, 24), [2, 4, 6, 8], (10, 20)) if large else \
        ((0, 1), [1], (0, 1))
    servers, cores, ram, vols, vol_gb = [], 0, 0, 0, 0
    for j in range(rng.randint(*kinds)):
        flavor, vcpus, ram_gb = rng.choices(FLAVORS, WEIGHTS)[0]
        count = rng.choice(counts)
        volume = rng.choice([0, 0, 100, 200])
        servers.append({"name": f"l{i:05d}-s{j}", "flavor": flavor,
                        "image": rng.choice(IMAGES), "count": count, "volume_gb": volume,
                        "anti_affinity": count > 1 and j % 3 == 0})
        cores, ram = cores + vcpus * count, ram + ram_gb * count
        if volume:
            vols, vol_gb = vols + count, vol_gb + volume * count
    websites = [{"domain": f"w{k}.l{i:05d}.qingdao.gov.cn", "kind": rng.choice(["static", "php"]),
                 "storage_gb": rng.randint(1, 20), "public": zone == "extranet"}
                for k in range(rng.randint(*sites))]
    instances = sum(s["count"] for s in servers)
    return {"department": {"id": f"dept-{i:05d}", "name": f"青岛市第{i}局",
                           "name_en": f"Bureau {i}", "cost_centre": f"CC-{i:05d}",
                           "zone": zone},
            "quota": {"instances": instances + 2, "cores": cores + 8, "ram_gb": ram + 16,
                      "volumes": vols + 2, "volume_gb": vol_gb + 500,
                      "websites": len(websites) + 1},
            "servers": servers, "websites": websites}


def generate_lopsided(n: int, dest: Path, seed: int = 11) -> Path:
    """``n`` departments, one in a hundred large (at least one), on estate_gen's settings
    (its host pool grows with ``n``)."""
    generate_servers(0, dest)
    write_settings(dest, n)
    rng = random.Random(seed)
    every = 100 if n >= 100 else max(1, n)
    for i in range(n):
        plan = _plan(i, rng, large=i % every == every // 2)
        (dest / "plans" / f"{plan['department']['id']}.yaml").write_text(
            yaml.safe_dump(plan, allow_unicode=True, sort_keys=False))
    return dest


def generate(shape: str, n: int, dest: Path) -> Path:
    return generate_lopsided(n, dest) if shape == "lopsided" else \
        generate_servers(n, dest, shape=shape)


# --- running govcloud -----------------------------------------------------------------------

@dataclass
class Run:
    changes: int
    apply_s: float  # the apply's own seconds
    command_s: float  # the whole process, wall clock
    cpu_s: float
    rss_mb: float

    @property
    def per_change_ms(self) -> float:
        return 1000 * self.apply_s / max(1, self.changes)


def environment(checkout: Path, cache: Path) -> dict[str, str]:
    """The commands' environment: ``checkout``'s govcloud first on the path, its modules
    compiled into ``cache`` (as an installed package's are), the estate's own SQLite store."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONPYCACHEPREFIX": str(cache)}
    for name in ("PYTHONDONTWRITEBYTECODE", "GOVCLOUD_SIM_DELAY", "GOVCLOUD_STATE_URL"):
        env.pop(name, None)
    return env


class Stores:
    """Where each run keeps its state: the estate's SQLite file (removed before each run), or
    a new database on the script's own PostgreSQL server (benchmarks/portal.py's, with the
    server's default settings: every commit waits for the disk), started on first use."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server: Any = None
        self.made = 0

    def fresh(self, state: str, root: Path, env: dict[str, str]) -> dict[str, str]:
        """``env`` with a new, empty store of kind ``state`` for ``root``."""
        shutil.rmtree(root / ".state", ignore_errors=True)
        if state == "sqlite":
            return env
        import psycopg

        if self.server is None:
            from benchmarks.portal import Postgres

            self.server = Postgres(self.tmp)
        admin = f"postgresql://govcloud@127.0.0.1:{self.server.port}/postgres"
        self.made += 1
        with psycopg.connect(admin, autocommit=True) as conn:
            for n in range(1, self.made):  # the runs before: a 10,000 estate is gigabytes
                conn.execute(f"DROP DATABASE IF EXISTS apply_{n}")
            conn.execute(f"CREATE DATABASE apply_{self.made}")
        return {**env, "GOVCLOUD_STATE_URL": admin.rsplit("/", 1)[0] + f"/apply_{self.made}"}

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def govcloud(root: Path, env: dict[str, str], *args: str) -> list[str]:
    return [sys.executable, "-m", "govcloud", "-C", str(root), *args]


def waited(proc: subprocess.Popen[bytes]) -> tuple[int, float, float]:
    """Wait for ``proc``: its exit code, CPU seconds and peak RSS in MB (its own rusage)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def apply_once(root: Path, env: dict[str, str], out: Path) -> Run:
    """One apply from an empty cloud (``env`` names an empty store), to its end."""
    started = time.perf_counter()
    with out.open("wb") as stdout:
        proc = subprocess.Popen(govcloud(root, env, "apply", "--yes", "-o", "json",
                                         "--no-services"), stdout=stdout,
                                stderr=subprocess.DEVNULL, env=env, cwd=root)
        code, cpu, rss = waited(proc)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"apply of {root} failed ({code}): {out.read_text()[-2000:]}")
    result = json.loads(out.read_text())
    if not result["ok"]:
        raise SystemExit(f"apply of {root} did not finish: {result['summary']}")
    return Run(result["summary"]["done"], result["seconds"], wall, cpu, rss)


@dataclass(frozen=True)
class Setup:
    checkout: Path  # whose govcloud runs
    cache: str  # its compiled modules' folder, one per checkout
    state: str  # sqlite or postgres


def measure(shape: str, sizes: list[int], setups: dict[str, Setup], rounds: int,
            tmp: Path, stores: Stores) -> dict[tuple[str, int], Run]:
    """Per setup (a checkout and a kind of store) and size, the median run (by the apply's
    seconds)."""
    out: dict[tuple[str, int], Run] = {}
    for n in sizes:
        root = generate(shape, n, tmp / f"{shape}-{n}")
        runs: dict[str, list[Run]] = {name: [] for name in setups}
        for _ in range(rounds if n < 5000 else 1):
            for name, setup in setups.items():
                env = environment(setup.checkout, tmp / setup.cache)
                runs[name].append(apply_once(root, stores.fresh(setup.state, root, env),
                                             tmp / "apply.json"))
        for name, done in runs.items():
            done.sort(key=lambda r: r.apply_s)
            out[name, n] = done[len(done) // 2]
            report(shape, n, name, out[name, n], len(setups) > 1)
        shutil.rmtree(root)
    return out


def report(shape: str, n: int, name: str, run: Run, named: bool) -> None:
    who = f" {name:<8}" if named else ""
    print(f"{shape:<9}{who} {n:>6} {run.changes:>8} {run.apply_s:>9.2f} "
          f"{run.per_change_ms:>10.3f} {run.command_s:>10.1f} {run.cpu_s:>8.1f} "
          f"{run.rss_mb:>9.0f}", flush=True)


def verdicts(shape: str, sizes: list[int], runs: dict[tuple[str, int], Run],
             name: str) -> bool:
    """Print the ratio and the total time; whether the goals were met where judged."""
    small, large = runs[name, min(sizes)], runs[name, max(sizes)]
    ratio = large.per_change_ms / small.per_change_ms
    judged = (min(sizes), max(sizes)) == JUDGED
    met = ratio <= GOAL_RATIO
    verdict = ("met" if met else "MISSED") if judged else "judged at 100 and 10,000 only"
    shape = shape if name == "this" else f"{shape} ({name})"
    print(f"{shape}: per change at {max(sizes)} / at {min(sizes)}: {ratio:.2f}× "
          f"(goal ≤ {GOAL_RATIO}×: {verdict})")
    ok = met or not judged
    if max(sizes) >= JUDGED[1]:
        minutes = large.command_s / 60
        print(f"{shape}: {max(sizes)} departments applied in {minutes:.1f} min, "
              f"peak RSS {large.rss_mb:.0f} MB (goal ≤ {GOAL_MINUTES:g} min: "
              f"{'met' if minutes <= GOAL_MINUTES else 'MISSED'})")
        ok &= minutes <= GOAL_MINUTES
    return ok


# --- kills -----------------------------------------------------------------------------------

def wanted(root: Path) -> set[tuple[str, str, str]]:
    """(department, kind, name) of every resource the estate's plans ask for."""
    from govcloud.applying import engine
    from govcloud.core.desired import desired_state

    return {(r.department, r.kind, r.name)
            for r in desired_state(engine.validate(root).estate()).values()}


def counted(root: Path, env: dict[str, str]) -> dict[tuple[str, str, str], int]:
    """The sim cloud's resources counted by name (in the store ``env`` names)."""
    sql = "SELECT department, kind, name, COUNT(*) FROM sim_resources GROUP BY department, " \
        "kind, name"
    if "GOVCLOUD_STATE_URL" in env:
        import psycopg

        with psycopg.connect(env["GOVCLOUD_STATE_URL"]) as conn:
            rows = conn.execute(sql).fetchall()
    else:
        db = sqlite3.connect(f"file:{root / '.state' / 'govcloud.db'}?mode=ro", uri=True)
        try:
            rows = db.execute(sql).fetchall()
        finally:
            db.close()
    return {(d, k, n): c for d, k, n, c in rows}


def killed(root: Path, env: dict[str, str], rng: random.Random) -> tuple[int, int, int]:
    """Start an apply, SIGKILL it after a random number of its changes were reported done:
    (that number, the changes it had to make, its exit code: -9 when killed)."""
    proc = subprocess.Popen(govcloud(root, env, "apply", "--yes", "-o", "json",
                                     "--no-services"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env, cwd=root)
    assert proc.stderr is not None
    target, total = 0, 0
    for raw in proc.stderr:
        line = raw.decode(errors="replace")
        if not line.startswith("["):
            continue
        count, _, rest = line[1:].partition("/")
        if not total:
            total = int(rest.split("]")[0])
            target = rng.randint(1, max(1, total - 1))
        if int(count) >= target:
            proc.kill()
            break
    proc.stderr.close()
    code, _, _ = waited(proc)
    return target, total, code


def kills(shape: str, n: int, times: int, setup: Setup, tmp: Path, seed: int,
          stores: Stores) -> bool:
    root = generate(shape, n, tmp / f"kills-{shape}-{n}")
    env = stores.fresh(setup.state, root, environment(setup.checkout, tmp / "pycache-kills"))
    asked = wanted(root)
    rng = random.Random(seed)
    ok = True
    started = time.perf_counter()
    for k in range(1, times + 1):
        target, total, code = killed(root, env, rng)
        cloud = counted(root, env)
        twice = [key for key, c in cloud.items() if c > 1]
        stray = set(cloud) - asked
        fine = code == -9 and not twice and not stray
        ok &= fine
        print(f"kill {k}: SIGKILL after {target:,} of {total:,} changes (exit {code}); cloud "
              f"holds {len(cloud):,} of {len(asked):,} resources, {len(twice)} twice, "
              f"{len(stray)} not asked for", flush=True)
    final = apply_once_resumed(root, env, tmp / "resumed.json")
    plan = subprocess.run(govcloud(root, env, "plan", "--detailed-exitcode", "-o", "json"),
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=root)
    cloud = counted(root, env)
    each_once = set(cloud) == asked and all(c == 1 for c in cloud.values())
    ok &= plan.returncode == 0 and each_once
    print(f"{setup.state}: after {times} kills: the last apply made {final:,} changes; plan "
          f"--detailed-exitcode {plan.returncode}; {len(cloud):,} resources, every one asked "
          f"for exactly once: {each_once} ({(time.perf_counter() - started) / 60:.1f} min "
          "in all)")
    shutil.rmtree(root)
    return ok


def apply_once_resumed(root: Path, env: dict[str, str], out: Path) -> int:
    """Apply to the end on the cloud as the kills left it: the changes it made."""
    with out.open("wb") as stdout:
        proc = subprocess.Popen(govcloud(root, env, "apply", "--yes", "-o", "json",
                                         "--no-services"), stdout=stdout,
                                stderr=subprocess.DEVNULL, env=env, cwd=root)
        code, _, _ = waited(proc)
    if code != 0:
        raise SystemExit(f"the resumed apply failed ({code}): {out.read_text()[-2000:]}")
    return int(json.loads(out.read_text())["summary"]["done"])


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--sizes", type=arguments.counts(1), default="100,1000,10000",
                      help="departments, comma-separated (default 100,1000,10000)")
    args.add_argument("--shapes", type=arguments.choices(("servers", "websites", "lopsided")),
                      default="servers,lopsided",
                      help="estate shapes: servers, websites (estate_gen's), lopsided")
    args.add_argument("--rounds", type=arguments.count(1), default=3,
                      help="runs of each size below 5,000 departments (the median counts)")
    args.add_argument("--govcloud", type=arguments.checkout, default=REPO,
                      help="the checkout whose govcloud runs (default this one)")
    args.add_argument("--vs", type=arguments.checkout,
                      help="a second checkout, run in turns with the first")
    args.add_argument("--kills", type=arguments.count(0), default=0,
                      help="SIGKILL the largest size's apply this many times, resume, check")
    args.add_argument("--state", type=arguments.choices(("sqlite", "postgres")), default="sqlite",
                      help="the state store: sqlite, postgres, or both in turns "
                           "(sqlite,postgres)")
    args.add_argument("--seed", type=int, default=20261207)
    args.add_argument("--quick", action="store_true",
                      help="4 and 40 departments, one round, one kill")
    opts = args.parse_args()
    if opts.quick:  # the timings, then one kill
        opts.sizes, opts.rounds = [4, 40], 1
    sizes = sorted(opts.sizes)
    shapes = opts.shapes
    checkouts = {"this": opts.govcloud.resolve()}
    if opts.vs:
        checkouts["vs"] = opts.vs.resolve()
    states = opts.state
    setups = {(c if len(states) == 1 else s if len(checkouts) == 1 else f"{c}-{s}"):
              Setup(path, f"pycache-{c}", s) for c, path in checkouts.items() for s in states}
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"apply on the sim, {os.cpu_count()} cores, load average {load}; "
          + "; ".join(f"{k}: {v}" for k, v in checkouts.items()) + "; state: " + ",".join(states))
    who = f" {'setup':<8}" if len(setups) > 1 else ""
    print(f"{'shape':<9}{who} {'depts':>6} {'changes':>8} {'apply s':>9} {'ms/change':>10} "
          f"{'command s':>10} {'cpu s':>8} {'peak MB':>9}")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        stores = Stores(Path(tmp))
        try:
            if opts.kills:
                return 0 if kills(shapes[0], max(sizes), opts.kills,
                                  next(iter(setups.values())), Path(tmp), opts.seed,
                                  stores) else 1
            for shape in shapes:
                ok &= timings(shape, sizes, setups, opts.rounds, Path(tmp), stores)
            if opts.quick:
                ok &= kills(shapes[0], max(sizes), 1, next(iter(setups.values())), Path(tmp),
                            opts.seed, stores)
        finally:
            stores.stop()
    return 0 if ok else 1


def timings(shape: str, sizes: list[int], setups: dict[str, Setup], rounds: int, tmp: Path,
            stores: Stores) -> bool:
    """Measure, print the verdicts and the side-by-side ratios; whether the goals were met."""
    runs = measure(shape, sizes, setups, rounds, tmp, stores)
    ok = True
    for name in setups:
        ok &= verdicts(shape, sizes, runs, name)
    first, *others = setups
    for other in others:
        for n in sizes:
            print(f"{shape}: at {n} {other} / {first} per change: "
                  f"{runs[other, n].per_change_ms / runs[first, n].per_change_ms:.2f}×")
    return ok

if __name__ == "__main__":
    sys.exit(main())
