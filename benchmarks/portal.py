"""The portal under load: a large estate applied on the sim cloud with a month of usage
collected, ``govcloud serve`` started as a real process, and many signed-in sessions browsing
department pages and the estate overview over real HTTP.

Goal (issue #14): on 2,000 departments, 50 concurrent sessions, p95 at most 300 ms for a
department page and at most 1 s for the estate overview, on this machine; and (issue #23) at
most 300 ms for a page of a list (departments, a department's requests, the queue: searched
and paged on the server) and at most 1 s for a page of the audit trail (it checks the whole
chain).

Members open their own department's page, or (one time in five) its requests; operators and
finance open a random department's page, or (one time in five each) the estate overview or a
page of a list (a random page of the departments, a search, the queue, a department's
requests); an auditor opens a page of the audit trail (a random page, a filter, a search) or
of a list. Each session asks for its next page as soon
as the last one arrived (no think time), for --seconds. Every response that is not 200 is an
error: counted and printed. Figures: p50, p95 and max per page kind, requests per second,
the load average while measured. The choices are seeded (--seed): the same run asks for the
same pages in the same order per session.

    pip install -e '.[bench]'
    python benchmarks/portal.py                  # 50 departments, 10 sessions, 10 s
    python benchmarks/portal.py --departments 2000 --sessions 50 --seconds 60
    python benchmarks/portal.py --departments 2000 --sessions 50 --seconds 60 --workers 2
    python benchmarks/portal.py --departments 5 --sessions 3 --seconds 2 --work /tmp/p5  # quick

The latency goals are judged at the size they are set for (2,000 departments, 50 sessions);
a smaller run prints the same figures, and fails only on errors.

The estate is generated with estate_gen, applied (``govcloud apply --yes --no-services``) and
its usage collected once under --work; a later run with the same --work and --departments
reuses it.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.estate_gen import generate  # noqa: E402

GOALS = {"department": 0.300, "estate": 1.0, "list": 0.300, "audit": 1.0}  # p95, seconds
GOAL_SIZE = (2000, 50)  # departments and sessions the goals are set for
APPLIED_AT = "2026-11-01T00:00:00Z"  # the sim estate is built on the 1st of the month
NOW = "2026-11-26T12:00:00Z"  # and looked at on the 26th: November's usage is month to date
PERIOD = "2026-11"
PASSWORD = "benchmark-password-1"
OVERVIEW_SHARE = 0.2  # of an operator's or finance officer's page loads
LIST_SHARE = 0.2  # of a person's page loads (an auditor's: half are the audit trail's)


def _env(now: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": path, "GOVCLOUD_NOW": now,
            "GOVCLOUD_PORTAL_SECRET": "benchmark-secret"}


def _govcloud(estate: Path, now: str, *args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          env=_env(now), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"govcloud {' '.join(args)} failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    department: str | None


def accounts(departments: list[str], sessions: int, seed: int) -> list[Account]:
    """One account per session: a tenth operators, a tenth finance (at least one of each),
    one auditor (from three sessions), the rest members of distinct departments chosen with
    ``seed``."""
    overseers = max(1, sessions // 10)
    auditors = 1 if sessions >= 3 else 0
    members = max(0, sessions - 2 * overseers - auditors)
    own = random.Random(seed).sample(departments, min(members, len(departments)))
    return ([Account(f"bench.operator{i}", "operator", None) for i in range(overseers)]
            + [Account(f"bench.finance{i}", "finance", None) for i in range(overseers)]
            + [Account(f"bench.auditor{i}", "auditor", None) for i in range(auditors)]
            + [Account(f"bench.member.{d}", "member", d) for d in own])


def prepare(n: int, work: Path, seed: int) -> Path:
    """An estate of ``n`` departments applied on the sim cloud, with this month's usage."""
    estate = work / f"estate-{n}-seed{seed}"
    done = estate / ".state" / "benchmark-ready"
    if done.exists():
        return estate
    generate(n, estate, seed=seed)
    # The load measured is the pages': every account signs in with its password alone (the
    # second factor's cost is one HMAC; docs/portal.md#second-factor).
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["portal"]["second_factor"] = []
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                          encoding="utf-8")
    started = time.monotonic()
    _govcloud(estate, APPLIED_AT, "apply", "--yes", "--no-services")
    _govcloud(estate, NOW, "usage", "collect", "--period", PERIOD)
    print(f"prepared {estate}: applied and usage collected in "
          f"{time.monotonic() - started:.0f} s", file=sys.stderr)
    done.touch()
    return estate


def add_accounts(estate: Path, wanted: list[Account]) -> None:
    """The accounts in the estate's state store (the ones already there are kept)."""
    from govcloud.access import users
    from govcloud.applying import engine

    with engine.records(estate) as (est, store):
        have = {p.name for p in users.people(store)}
        for a in wanted:
            if a.name not in have:
                users.add(store, set(est.plans), a.name, a.role, a.department, PASSWORD,
                           "benchmark")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(estate: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``govcloud serve`` as its own process, once it answers."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "serve",
                                 "--port", str(port), "--workers", str(workers)],
                                env=_env(NOW), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"govcloud serve exited {proc.returncode}:\n"
                             f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                if r.status == 200:
                    return proc
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"govcloud serve did not answer within 300 s (see {log})")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class Tally:
    """Every page load of the run: (kind, seconds, status); failures without a status."""

    loads: list[tuple[str, float, int]] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)


class Browser:
    """One session: a kept-alive HTTP connection and its cookies (http.client, light on
    purpose: the client shares the machine with the server it measures)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None
                ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        for cookie in r.headers.get_all("set-cookie") or []:
            name, _, rest = cookie.partition("=")
            value = rest.split(";")[0]
            if "max-age=0" in cookie.lower() or value in ("", '""'):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r.status, dict(r.headers.items()), data

    def sign_in(self, who: Account) -> None:
        status, _, page = self.request("GET", "/login")
        found = re.search(r'name="csrf" value="([^"]+)"', page.decode())
        if status != 200 or not found:
            raise SystemExit(f"the sign-in form: {status} {page[:300]!r}")
        status, headers, page = self.request(
            "POST", "/login", {"name": who.name, "password": PASSWORD,
                               "csrf": found.group(1), "next": "/"})
        if status != 303 or headers.get("location") != "/":
            raise SystemExit(f"sign-in of {who.name}: {status} {page[:300]!r}")


def a_list(departments: list[str], rng: random.Random) -> str:
    """A page of one of the lists an overseer reads: a random page of the departments, a
    search of them, the queue, a department's requests."""
    pages = max(1, -(-len(departments) // 50))
    return rng.choice((f"/departments?page={rng.randint(1, pages)}",
                       f"/departments?q={rng.choice(departments)[:4]}", "/requests",
                       f"/departments/{rng.choice(departments)}/requests"))


def an_audit_page(rng: random.Random) -> str:
    return rng.choice((f"/audit?page={rng.randint(1, 3)}", "/audit?sign_ins=1&action=sign-in",
                       "/audit?q=bench", "/audit?sign_ins=1&page=2"))


def next_page(who: Account, departments: list[str], rng: random.Random) -> tuple[str, str]:
    """The kind and path of the page ``who`` asks for next."""
    roll = rng.random()
    if who.department is not None:
        return ("list", f"/departments/{who.department}/requests") if roll < LIST_SHARE \
            else ("department", f"/departments/{who.department}")
    if who.role == "auditor":
        return ("audit", an_audit_page(rng)) if roll < 0.5 else ("list", a_list(departments,
                                                                                 rng))
    if roll < OVERVIEW_SHARE:
        return "estate", "/estate"
    if roll < OVERVIEW_SHARE + LIST_SHARE:
        return "list", a_list(departments, rng)
    return "department", f"/departments/{rng.choice(departments)}"


def browse(browser: Browser, who: Account, departments: list[str], rng: random.Random,
           until: float, tally: Tally) -> None:
    while time.monotonic() < until:
        kind, path = next_page(who, departments, rng)
        started = time.perf_counter()
        try:
            status = browser.request("GET", path)[0]
        except (OSError, http.client.HTTPException) as exc:
            status = 0
            tally.failures[f"{kind}: {type(exc).__name__}"] += 1
            browser.conn.close()  # reconnects on the next request
        tally.loads.append((kind, time.perf_counter() - started, status))
        if status not in (0, 200):
            tally.failures[f"{kind}: HTTP {status}"] += 1


def run(port: int, who: list[Account], departments: list[str], seconds: float,
        seed: int) -> tuple[Tally, float, tuple[float, float]]:
    """Sign every session in, then browse for ``seconds``, one thread per session: the
    tally, the measured wall time and the load average (1 minute) before and after."""
    browsers = [Browser(port) for _ in who]
    try:
        for b, a in zip(browsers, who, strict=True):  # one at a time: argon2 is slow on purpose
            b.sign_in(a)
        for b in browsers:  # the server closes connections idle for 5 s: start afresh
            b.conn.close()
        tally = Tally()
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        until = started + seconds
        threads = [threading.Thread(target=browse, args=(b, a, departments,
                                                          random.Random(seed + i), until, tally))
                   for i, (b, a) in enumerate(zip(browsers, who, strict=True))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return tally, time.monotonic() - started, (load_before, os.getloadavg()[0])
    finally:
        for b in browsers:
            b.conn.close()


def percentile(values: list[float], p: int) -> float:
    """The ``p``-th percentile (1-99) of ``values``."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def report(tally: Tally, wall: float, load: tuple[float, float], label: str,
           judged: bool = True) -> bool:
    """Print the figures; whether every goal was met (when ``judged``) without an error."""
    ok = True
    print(f"{label}: {len(tally.loads)} page loads in {wall:.1f} s = "
          f"{len(tally.loads) / wall:.1f} req/s; load average (1 min) {load[0]:.2f} before, "
          f"{load[1]:.2f} at the end")
    print(f"  {'page':<11} {'loads':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8}  goal (p95)")
    for kind, goal in GOALS.items():
        times = [t for k, t, _ in tally.loads if k == kind]
        errors = sum(1 for k, _, s in tally.loads if k == kind and s != 200)
        if not times:
            print(f"  {kind:<11} {0:>6}  (none asked for)")
            continue
        p95 = percentile(times, 95)
        met = (p95 <= goal or not judged) and errors == 0
        ok &= met
        verdict = ("met" if met else "MISSED") if judged else \
            ("not judged" if met else "ERRORS")
        print(f"  {kind:<11} {len(times):>6} {errors:>6} {statistics.median(times) * 1000:>8.0f} "
              f"{p95 * 1000:>8.0f} {max(times) * 1000:>8.0f}  ≤ {goal * 1000:.0f} ms: "
              f"{verdict}")
    for what, count in sorted(tally.failures.items()):
        print(f"  error: {what} × {count}")
    if not judged:
        print(f"  (the latency goals are set for {GOAL_SIZE[0]:,} departments and "
              f"{GOAL_SIZE[1]} sessions: not judged here)")
    return ok


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--departments", type=int, default=50)
    args.add_argument("--sessions", type=int, default=10)
    args.add_argument("--seconds", type=float, default=10)
    args.add_argument("--workers", type=int, default=1,
                      help="govcloud serve --workers (the estate's SQLite state store)")
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--work", type=Path, default=Path("/tmp/govcloud-bench-portal"),
                      help="where the estate is prepared (and reused by later runs)")
    opts = args.parse_args()
    opts.work.mkdir(parents=True, exist_ok=True)
    estate = prepare(opts.departments, opts.work, opts.seed)
    departments = sorted(p.stem for p in (estate / "plans").glob("*.yaml"))
    who = accounts(departments, opts.sessions, opts.seed)
    add_accounts(estate, who)
    port = free_port()
    log = opts.work / f"serve-{port}.log"
    started = time.monotonic()
    server = start_server(estate, port, opts.workers, log)
    print(f"govcloud serve --workers {opts.workers} answered after "
          f"{time.monotonic() - started:.1f} s (log: {log})")
    try:
        tally, wall, load = run(port, who, departments, opts.seconds, opts.seed)
    finally:
        stop_server(server)
    roles = Counter(a.role for a in who)
    ok = report(tally, wall, load, f"{opts.departments} departments, {len(who)} sessions "
                f"({', '.join(f'{n} {r}' for r, n in roles.items())}), "
                f"--workers {opts.workers}",
                judged=opts.departments >= GOAL_SIZE[0] and opts.sessions >= GOAL_SIZE[1])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
