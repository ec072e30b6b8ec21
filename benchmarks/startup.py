"""What a command line pays before it does anything: the CPU time of starting each command.

Goal (issue #24): ``govcloud --version`` and a shell-completion request take at most 0.10 s
of CPU; every command's start-up, ``govcloud COMMAND --help``, at most 0.20 s. Beside them,
what any Python program pays here: a bare interpreter (``python -c pass``) and one that
imports click.

Each command line runs as its own process, as a user runs it (``python -m govcloud``, with
this checkout's modules compiled into a bytecode cache of the run's own, as an installed
package's are; an untimed first round fills it); its CPU time is the user and system time
of the child (``getrusage(RUSAGE_CHILDREN)``), the median of --runs runs taken in turns, so a
busy machine slows them alike. ``--against PATH`` runs every line on another checkout too, in
the same turns, and prints its figure beside (the same goal judged on this one only).

    pip install -e '.[bench]'
    python benchmarks/startup.py [--runs 9] [--against /work/main]
    python benchmarks/startup.py --quick    # a quick check: a few lines once, no verdict

Measured 2026-12-07 01:35 UTC on the project's 2-core machine, shared (load average 12 to
14, which inflates every figure: a bare interpreter takes 0.032 s idle), ``--runs 3 --against``
main before this change (every command module imported by every command), CPU seconds:

    command line                              cpu s  before s
    python -c pass                            0.046     0.049
    python -c 'import click'                  0.076     0.075
    govcloud --version                        0.082     0.354  ≤ 0.10 met
    completion: govcloud pl<Tab>              0.092     0.344  ≤ 0.10 met
    completion: govcloud report ch<Tab>       0.087     0.333  ≤ 0.10 met
    govcloud --help                           0.106     0.335  ≤ 0.20 met
    govcloud COMMAND --help (25 commands)     0.082-0.097  0.319-0.373  ≤ 0.20 met
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks import arguments  # noqa: E402

VERSION_GOAL = 0.10  # --version and a completion request, CPU seconds
COMMAND_GOAL = 0.20  # COMMAND --help
# The commands of ``govcloud --help`` (checked against it when the run starts).
COMMANDS = ("apply", "audit", "backup", "capacity", "consolidate", "credentials", "directory",
            "drift", "exporter", "history", "init", "inventory", "new", "plan", "report", "request",
            "schema", "serve", "services", "show", "state", "statement", "tokens", "usage",
            "users", "validate")
QUICK = ("plan", "report", "request")


def completion(words: str) -> dict[str, str]:
    """The environment bash's completion function gives ``govcloud`` for ``words<Tab>``."""
    return {"_GOVCLOUD_COMPLETE": "bash_complete", "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1)}


def lines(quick: bool = False) -> list[tuple[str, list[str], dict[str, str], float | None]]:
    """Every command line measured: its label, arguments, extra environment and goal
    (``quick``: three commands' help of them)."""
    py, gc = [sys.executable], [sys.executable, "-m", "govcloud"]
    out: list[tuple[str, list[str], dict[str, str], float | None]] = [
        ("python -c pass", [*py, "-c", "pass"], {}, None),
        ("python -c 'import click'", [*py, "-c", "import click"], {}, None),
        ("govcloud --version", [*gc, "--version"], {}, VERSION_GOAL),
        ("completion: govcloud pl<Tab>", gc, completion("govcloud pl"), VERSION_GOAL),
        ("completion: govcloud report ch<Tab>", gc, completion("govcloud report ch"),
         VERSION_GOAL),
        ("govcloud --help", [*gc, "--help"], {}, COMMAND_GOAL),
    ]
    out += [(f"govcloud {c} --help", [*gc, c, "--help"], {}, COMMAND_GOAL) for c in COMMANDS
            if not quick or c in QUICK]
    return out


def environment(checkout: Path, cache: Path) -> dict[str, str]:
    """``checkout`` on the path, its modules compiled once into ``cache`` (even where
    PYTHONDONTWRITEBYTECODE is set, which would compile govcloud anew on every run)."""
    env = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONPYCACHEPREFIX": str(cache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def cpu(cmd: list[str], env: dict[str, str], where: Path) -> float:
    """User and system seconds of one run of ``cmd`` in the folder ``where`` (not a
    checkout: ``python -m`` puts the current folder first on the path)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL,
                          cwd=where)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0 or (env.get("_GOVCLOUD_COMPLETE") and not proc.stdout):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                         f"{proc.stdout.decode()[-2000:]}\n{proc.stderr.decode()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(checkouts: list[Path], runs: int, cache: Path, quick: bool
            ) -> list[list[float]]:
    """Per command line, the median CPU seconds on each checkout."""
    envs = [environment(c, cache / str(n)) for n, c in enumerate(checkouts)]
    todo = lines(quick)
    took: list[list[list[float]]] = [[[] for _ in checkouts] for _ in todo]
    for warm in [True] + [False] * runs:  # one untimed round first: modules compiled
        for i, (_, cmd, extra, _) in enumerate(todo):
            for n, env in enumerate(envs):
                seconds = cpu(cmd, {**env, **extra}, cache)
                if not warm:
                    took[i][n].append(seconds)
    return [[statistics.median(t) for t in per] for per in took]


def listed(env: dict[str, str], where: Path) -> list[str]:
    """The commands ``govcloud --help`` lists."""
    text = subprocess.run([sys.executable, "-m", "govcloud", "--help"], env=env, text=True,
                          capture_output=True, check=True, cwd=where).stdout
    return [line.split()[0] for line in text.split("Commands:", 1)[1].splitlines()
            if line.startswith("  ") and not line.startswith("   ")]


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--runs", type=arguments.count(1), default=9)
    args.add_argument("--quick", action="store_true",
                      help="A few lines (three commands' help), once each, no verdict.")
    args.add_argument("--against", type=arguments.checkout, metavar="CHECKOUT",
                      help="Also run every line on this checkout, in the same turns.")
    opts = args.parse_args()
    runs = 1 if opts.quick else opts.runs
    checkouts = [REPO] + ([opts.against] if opts.against else [])
    with tempfile.TemporaryDirectory() as tmp:
        shown = listed(environment(REPO, Path(tmp) / "0"), Path(tmp))
        if sorted(shown) != sorted(COMMANDS):
            raise SystemExit(f"govcloud --help lists {shown}; update COMMANDS")
        figures = measure(checkouts, runs, Path(tmp), opts.quick)
    before = f"{'before s':>9}" if opts.against else ""
    print(f"{'command line':<40} {'cpu s':>6}{before}  goal (cpu s)")
    ok = True
    for (label, _, _, goal), seconds in zip(lines(opts.quick), figures, strict=True):
        verdict = ""
        if goal is not None and not opts.quick:
            met = seconds[0] <= goal
            ok &= met
            verdict = "met" if met else "MISSED"
        other = f"{seconds[1]:>9.3f}" if opts.against else ""
        limit = f"≤ {goal:.2f}" if goal is not None else ""
        print(f"{label:<40} {seconds[0]:>6.3f}{other}  {limit:<6} {verdict}".rstrip())
    print(f"(median of {runs} run(s) each, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
          + (f"; before: {checkouts[1]}" if opts.against else "") + ")")
    if opts.quick:
        print("goal not judged: --quick runs a few lines once")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
