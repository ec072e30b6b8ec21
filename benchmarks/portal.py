"""The portal under load, on N workers: a large estate applied on the sim cloud with a month of
usage collected, its state store on PostgreSQL, ``govcloud serve --workers N`` started as a
real process for each N of --workers in turn, and many signed-in sessions browsing
department pages and the estate overview over real HTTP, driven by Locust (headless; the
users are benchmarks/portal_locust.py, which can be replayed on its own).

Goals: p95 at most 300 ms for a department page and for a page of a list (departments, a
department's requests, the queue: searched and paged on the server), at most 1 s for the
estate overview and for a page of the audit trail, no error; judged from 2,000 departments
and 50 sessions (#14, #23) and set for 10,000 departments and 200 sessions with 4 workers
(#24), where each page's p95 with 4 workers must be no worse than with 1, measured side by
side in the same run.

Members open their own department's page, or (one time in five) its requests; operators and
finance open a random department's page, or (one time in five each) the estate overview or a
page of a list (a random page of the departments, a search, the queue, a department's
requests); an auditor opens a page of the audit trail (a random page, a filter, a search) or
of a list. With --districts K the departments are grouped into K districts (the tree a
directory sync records) and every second operator and finance officer is limited to one: their
estate overview is the "district" page kind, their departments and lists their district's.
Each session thinks --think seconds (uniform, "MIN,MAX") between pages. Every
answer but 200 is an error: counted and printed. Figures per worker count: p50, p95 and max
per page kind (Locust's, to two significant digits above 100 ms), requests per second, the
load average while measured; then each page's p95 on the last worker count against the
first. The choices are seeded (--seed).

    pip install -e '.[bench]'
    python benchmarks/portal.py                  # 50 departments, 20 sessions, 10 s, 1,4
    python benchmarks/portal.py --departments 10000 --sessions 200 --seconds 60 --workers 1,4
    python benchmarks/portal.py --state sqlite --workers 1   # the SQLite store, one worker
    python benchmarks/portal.py --departments 2000 --sessions 50 --seconds 60 --districts 10
    python benchmarks/portal.py --postgres postgresql://govcloud@db.example/bench
    python benchmarks/portal.py --departments 6 --sessions 20 --seconds 5 --districts 2  # quick

The latency goals are judged from 2,000 departments and 50 sessions; a smaller run prints
the same figures, and fails only on errors.

PostgreSQL: a server of the script's own under --work (initdb, started and stopped by the
script; the PostgreSQL server package must be installed), or the database --postgres names.
The estate is generated with estate_gen, applied (``govcloud apply --yes --no-services``) and
its usage collected once under --work; a later run with the same --work, --departments and
store reuses it. The sessions sign in once (one at a time: argon2 is slow on purpose) and
are used by every worker count.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks import arguments  # noqa: E402
from benchmarks.estate_gen import generate  # noqa: E402

# p95, seconds; "district": the estate overview of an overseer limited to a district (#25)
GOALS = {"department": 0.300, "estate": 1.0, "list": 0.300, "audit": 1.0, "district": 1.0}
GOAL_SIZE = (2000, 50)  # from this size on the goals are judged (#14, #23; #24: 10,000, 200)
APPLIED_AT = "2026-11-01T00:00:00Z"  # the sim estate is built on the 1st of the month
NOW = "2026-11-26T12:00:00Z"  # and looked at on the 26th: November's usage is month to date
PERIOD = "2026-11"
PASSWORD = "benchmark-password-1"
OVERVIEW_SHARE = 0.2  # of an operator's or finance officer's page loads
LIST_SHARE = 0.2  # of a person's page loads (an auditor's: half are the audit trail's)
LOCUSTFILE = Path(__file__).resolve().parent / "portal_locust.py"


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
    scope: str = ""  # the district an overseer is limited to (--districts)


def accounts(departments: list[str], sessions: int, seed: int, districts: int = 0
             ) -> list[Account]:
    """One account per session: a tenth operators, a tenth finance (at least one of each),
    one auditor (from three sessions), the rest members of distinct departments chosen with
    ``seed``. With ``districts``, every second operator and finance officer is limited to a
    district (in turn)."""
    overseers = max(1, sessions // 10)
    auditors = 1 if sessions >= 3 else 0
    members = max(0, sessions - 2 * overseers - auditors)
    own = random.Random(seed).sample(departments, min(members, len(departments)))
    def scope(i: int) -> str:
        return district(i // 2 % districts) if districts and i % 2 else ""

    return ([Account(f"bench.operator{i}", "operator", None, scope(i))
             for i in range(overseers)]
            + [Account(f"bench.finance{i}", "finance", None, scope(i))
               for i in range(overseers)]
            + [Account(f"bench.auditor{i}", "auditor", None) for i in range(auditors)]
            + [Account(f"bench.member.{d}", "member", d) for d in own])


def district(i: int) -> str:
    return f"district-{i:02d}"


def in_districts(departments: list[str], districts: int) -> dict[str, list[str]]:
    """Each district's departments (--districts): the departments dealt out in turn; none
    without districts."""
    out: dict[str, list[str]] = {district(i): [] for i in range(districts)}
    for i, d in enumerate(departments if districts else []):
        out[district(i % districts)].append(d)
    return out


def record_districts(estate: Path, departments: list[str], districts: int) -> None:
    """The organisation tree a directory sync would record: a city, its districts and each
    department under one of them (kept when already recorded)."""
    from govcloud.applying import engine
    from govcloud.core.directory import Change, Organisation
    from govcloud.estate import organisations

    with engine.records(estate) as (_, store):
        if organisations.known(store):
            return
        orgs = [Organisation("city", "city", "", "", "")]
        for name, members in in_districts(departments, districts).items():
            orgs.append(Organisation(name, name, "city", "", ""))
            orgs += [Organisation(d, d, name, "CC-BENCH", "") for d in members]
        with store.transaction():
            organisations.record(store, [Change("add", o.code, None, o, "benchmark")
                                         for o in orgs])


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


def choose(who: Account, departments: list[str], rng: random.Random) -> tuple[str, str]:
    """The next page of a session: its kind (as GOALS names it) and its path."""
    roll = rng.random()
    if who.department is not None:
        return ("list", f"/departments/{who.department}/requests") if roll < LIST_SHARE \
            else ("department", f"/departments/{who.department}")
    if who.role == "auditor":
        return ("audit", an_audit_page(rng)) if roll < 0.5 else ("list", a_list(departments,
                                                                                 rng))
    if roll < OVERVIEW_SHARE:
        return ("district" if who.scope else "estate"), "/estate"
    if roll < OVERVIEW_SHARE + LIST_SHARE:
        return "list", a_list(departments, rng)
    return "department", f"/departments/{rng.choice(departments)}"


class Postgres:
    """The benchmark's own PostgreSQL server, its data kept under ``work`` between runs. Run
    as root, the server runs as the user postgres (it refuses root); when postgres cannot
    reach ``work`` (a private folder), its data is a temporary folder, removed at the end."""

    def __init__(self, work: Path) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), reverse=True)
        initdb = found[0] if found else shutil.which("initdb")
        if initdb is None:
            raise SystemExit("PostgreSQL's server is not installed: apt-get install postgresql"
                             " (or give --postgres URL, or --state sqlite)")
        self.bindir = Path(initdb).parent
        root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if root else []
        self.sock = Path(tempfile.mkdtemp(prefix="govcloud-bench-pg-", dir="/tmp"))
        reachable = not root or subprocess.run([*self.prefix, "test", "-x", str(work)],
                                               capture_output=True).returncode == 0
        self.kept = reachable
        self.data = work / "postgres" if reachable else self.sock / "data"
        if root:
            shutil.chown(self.sock, "postgres")
        self.port = free_port()
        if not self.data.exists():
            self.data.mkdir(mode=0o700)
            if root:
                shutil.chown(self.data, "postgres")
            self._run("initdb", "-D", str(self.data), "-U", "govcloud", "--auth=trust",
                      "-E", "UTF8", "--locale=C")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 "
                  "-c max_connections=200", "start")

    def _run(self, program: str, *args: str) -> None:
        proc = subprocess.run([*self.prefix, str(self.bindir / program), *args],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"{program} failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")

    def database(self, name: str) -> str:
        """The URL of database ``name``, made when missing."""
        import psycopg

        server = f"postgresql://govcloud@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(server, autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchall():
                conn.execute(f"CREATE DATABASE {name}")
        return server.rsplit("/", 1)[0] + "/" + name

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "stop")
        shutil.rmtree(self.sock, ignore_errors=True)  # the data too when not kept


def prepare(n: int, work: Path, seed: int, store: str) -> Path:
    """An estate of ``n`` departments applied on the sim cloud, with this month's usage, its
    store the one GOVCLOUD_STATE_URL names (``store``: which, for the estate's folder)."""
    estate = work / f"estate-{n}-seed{seed}-{store}"
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
    done.parent.mkdir(exist_ok=True)
    done.touch()
    return estate


def add_accounts(estate: Path, wanted: list[Account]) -> None:
    """The accounts in the estate's state store (the ones already there are kept)."""
    from govcloud.access import users
    from govcloud.applying import engine
    from govcloud.estate import organisations

    with engine.records(estate) as (est, store):
        have = {p.name for p in users.people(store)}
        known = set(organisations.known(store))
        for a in wanted:
            if a.name not in have:
                users.add(store, set(est.plans), a.name, a.role, a.department, PASSWORD,
                          "benchmark", scope=a.scope, organisations=known)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(estate: Path, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``govcloud serve`` as its own process, once it answers and every worker has started
    (each makes the figures most pages read before it takes a request: a worker still making
    them would share the cores with the ones measured)."""
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "govcloud", "-C", str(estate), "serve",
                                 "--port", str(port), "--workers", str(workers)],
                                env=_env(NOW), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 900  # 4 workers of 10,000 departments on 2 busy cores
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"govcloud serve exited {proc.returncode}:\n"
                             f"{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as r:
                started = log.read_text(errors="replace").count("Application startup complete")
                if r.status == 200 and started >= workers:
                    return proc
        except OSError:
            pass
        time.sleep(0.5)
    stop_server(proc)
    raise SystemExit(f"govcloud serve did not answer with {workers} worker(s) within 900 s "
                     f"(see {log})")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


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


def sign_in_all(port: int, who: list[Account]) -> list[dict[str, str | None]]:
    """Every session signed in, one at a time (argon2 is slow on purpose): what the Locust
    users need of each, its cookie first."""
    out: list[dict[str, str | None]] = []
    for account in who:
        browser = Browser(port)
        try:
            browser.sign_in(account)
        finally:
            browser.conn.close()
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        out.append({"cookie": cookie, **asdict(account)})
    return out


@dataclass(frozen=True)
class Figures:
    """One worker count's run, from Locust's statistics: per page kind (loads, errors, p50,
    p95, max in seconds), the failures, requests per second and the load average."""

    workers: int
    pages: dict[str, tuple[int, int, float, float, float]]
    failures: dict[str, int]
    rate: float
    load: tuple[float, float]


def locust(port: int, plan: Path, users: int, seconds: float, out: Path) -> None:
    """Locust, headless, as its own process: ``users`` sessions for ``seconds``."""
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--only-summary",
         "-u", str(users), "-r", str(max(1, users)), "-t", f"{seconds:g}s",
         "--stop-timeout", "30", "--host", f"http://127.0.0.1:{port}", "--csv", str(out),
         "--loglevel", "WARNING", "--exit-code-on-error", "0"],
        env={**_env(NOW), "GOVCLOUD_BENCH_PLAN": str(plan)}, capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    if proc.returncode != 0 or not Path(f"{out}_stats.csv").exists():
        raise SystemExit(f"locust failed ({proc.returncode}):\n{proc.stderr[-3000:]}")


def read_figures(out: Path, workers: int, load: tuple[float, float]) -> Figures:
    """Locust's CSV statistics of one run, per page kind."""
    pages, rate = {}, 0.0
    with open(f"{out}_stats.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                rate = float(row["Requests/s"])
            elif row["Name"] in GOALS:
                pages[row["Name"]] = (int(row["Request Count"]), int(row["Failure Count"]),
                                      float(row["50%"]) / 1000, float(row["95%"]) / 1000,
                                      float(row["Max Response Time"]) / 1000)
    failures: Counter[str] = Counter()
    with open(f"{out}_failures.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            failures[f"{row['Name']}: {row['Error']}"] += int(row["Occurrences"])
    return Figures(workers, pages, dict(failures), rate, load)


def measure(estate: Path, workers: int, plan: Path, users: int, seconds: float,
            work: Path) -> Figures:
    """``govcloud serve --workers N`` started, Locust run against it, the server stopped."""
    port = free_port()
    log = work / f"serve-{port}.log"
    started = time.monotonic()
    server = start_server(estate, port, workers, log)
    print(f"govcloud serve --workers {workers} answered after "
          f"{time.monotonic() - started:.1f} s (log: {log})", flush=True)
    try:
        load_before = os.getloadavg()[0]
        locust(port, plan, users, seconds, work / f"locust-{workers}")
        load = (load_before, os.getloadavg()[0])
    finally:
        stop_server(server)
    return read_figures(work / f"locust-{workers}", workers, load)


def report(run: Figures, seconds: float, judged: bool) -> bool:
    """Print one worker count's figures; whether every goal was met (when ``judged``)
    without an error."""
    ok = True
    print(f"--workers {run.workers}: {run.rate:.1f} req/s over {seconds:g} s; load average "
          f"(1 min) {run.load[0]:.2f} before, {run.load[1]:.2f} at the end")
    print(f"  {'page':<11} {'loads':>6} {'errors':>6} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'max ms':>8}  goal (p95)")
    for kind, goal in GOALS.items():
        if kind not in run.pages:
            print(f"  {kind:<11} {0:>6}  (none asked for)")
            continue
        loads, errors, p50, p95, top = run.pages[kind]
        met = (p95 <= goal or not judged) and errors == 0
        ok &= met
        verdict = ("met" if met else "MISSED") if judged else \
            ("not judged" if met else "ERRORS")
        print(f"  {kind:<11} {loads:>6} {errors:>6} {p50 * 1000:>8.0f} {p95 * 1000:>8.0f} "
              f"{top * 1000:>8.0f}  ≤ {goal * 1000:.0f} ms: {verdict}")
    for what, count in sorted(run.failures.items()):
        print(f"  error: {what} × {count}")
    return ok


def compare(runs: list[Figures], judged: bool) -> bool:
    """Each page's p95 on the last worker count against the first, side by side; whether
    it is no worse (when ``judged``)."""
    first, last = runs[0], runs[-1]
    ok = True
    for kind in GOALS:
        if kind not in first.pages or kind not in last.pages:
            continue
        before, after = first.pages[kind][3], last.pages[kind][3]
        ratio = after / before if before else 1.0
        met = after <= before or not judged
        ok &= met
        verdict = ("no worse" if met else "WORSE") if judged else "not judged"
        print(f"  {kind:<11} p95 --workers {last.workers} / --workers {first.workers}: "
              f"{after * 1000:.0f} / {before * 1000:.0f} ms = {ratio:.2f}×: {verdict}")
    return ok


def think_range(text: str) -> list[float]:
    """``MIN,MAX`` seconds, 0 <= MIN <= MAX."""
    try:
        low, high = (float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give MIN,MAX seconds, e.g. 1,3") from None
    if not 0 <= low <= high:
        raise argparse.ArgumentTypeError(f"{text}: give 0 <= MIN <= MAX")
    return [low, high]


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--departments", type=arguments.count(1), default=50)
    args.add_argument("--sessions", type=arguments.count(1), default=20)
    args.add_argument("--seconds", type=arguments.seconds, default=10)
    args.add_argument("--workers", type=arguments.counts(1), default="1,4",
                      help="govcloud serve --workers, each in turn (comma-separated)")
    args.add_argument("--think", type=think_range, default="1,3",
                      help="seconds between a session's pages, MIN,MAX (uniform)")
    args.add_argument("--state", choices=("postgresql", "sqlite"), default="postgresql")
    args.add_argument("--postgres", metavar="URL",
                      help="a PostgreSQL database to use instead of the script's own server")
    args.add_argument("--districts", type=arguments.count(0), default=0,
                      help="group the departments into this many districts and limit every "
                           "second operator and finance officer to one (#25)")
    args.add_argument("--seed", type=int, default=7)
    args.add_argument("--work", type=arguments.folder, default=Path("/tmp/govcloud-bench-portal"),
                      help="where the estate is prepared (and reused by later runs)")
    opts = args.parse_args()
    counts, think = opts.workers, opts.think
    opts.work.mkdir(parents=True, exist_ok=True)
    server = Postgres(opts.work) if opts.state == "postgresql" and not opts.postgres else None
    try:
        if opts.state == "postgresql":
            name = f"bench_{opts.departments}_{opts.seed}"
            os.environ["GOVCLOUD_STATE_URL"] = opts.postgres or \
                (server.database(name) if server else "")
        if server is not None and not server.kept:  # a new server: a new estate
            shutil.rmtree(opts.work / f"estate-{opts.departments}-seed{opts.seed}-postgresql",
                          ignore_errors=True)
        return run(opts, counts, think)
    finally:
        if server is not None:
            server.stop()


def run(opts: argparse.Namespace, counts: list[int], think: list[float]) -> int:
    store = "postgres" if opts.postgres else opts.state
    estate = prepare(opts.departments, opts.work, opts.seed, store)
    departments = sorted(p.stem for p in (estate / "plans").glob("*.yaml"))
    if opts.districts:
        record_districts(estate, departments, opts.districts)
    who = accounts(departments, opts.sessions, opts.seed, opts.districts)
    add_accounts(estate, who)
    plan = opts.work / "locust-plan.json"
    port = free_port()
    signing = start_server(estate, port, 1, opts.work / f"serve-{port}.log")
    try:
        sessions = sign_in_all(port, who)
    finally:
        stop_server(signing)
    plan.write_text(json.dumps({"sessions": sessions, "departments": departments,
                                "reach": in_districts(departments, opts.districts),
                                "seed": opts.seed, "think": think}), encoding="utf-8")
    roles = Counter(a.role for a in who)
    print(f"{opts.departments} departments, {len(who)} sessions "
          f"({', '.join(f'{n} {r}' for r, n in roles.items())}), think {opts.think} s, "
          f"{opts.state} store, Locust for {opts.seconds:g} s per worker count")
    judged = opts.departments >= GOAL_SIZE[0] and opts.sessions >= GOAL_SIZE[1]
    runs = [measure(estate, n, plan, len(who), opts.seconds, opts.work) for n in counts]
    ok = all([report(r, opts.seconds, judged) for r in runs])
    if len(runs) > 1:
        ok &= compare(runs, judged)
    if not judged:
        print(f"  (the latency goals are set for {GOAL_SIZE[0]:,} departments and "
              f"{GOAL_SIZE[1]} sessions: not judged here)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
