"""The Prometheus exporter: per-department resources, quota, cost and savings, the last apply,
drift and host utilization, read from the state store and the driver.

Scrapes are served from a snapshot of the metrics, rendered once and served as the same bytes
to every scraper; it is rebuilt by one thread, while scrapes keep getting the last one, at
most once per interval and only when the state store has changed since (or the page is
older than the longest age, for what moves outside the store: the cloud's drift, the backups'
age). So any number of scrapers costs one read of the state per change, an estate at rest
costs none, and memory stays that of one snapshot. Each page is rendered in a child process
(:mod:`govcloud.metrics.children`), the cloud read a department at a time
(:mod:`govcloud.metrics.cloud`): the serving process keeps the page, not what it was made
from, and its event loop is never held up by a rendering. A state that cannot be read
(a damaged row) is reported as ``govcloud_state_ok 0`` with ``govcloud_state_error_info``
naming the row, never as an HTTP error; a rendering that dies keeps the last page's series,
with ``govcloud_exporter_ok 0`` saying why. The rendering and the hourly usage collection run
one at a time (``children.one_at_a_time``). ``govcloud exporter --port 9464`` serves it
(:mod:`govcloud.metrics.scrapes`): the port is taken first, and scrapes are answered (and
"Serving metrics" said) once the first page is made; ``docs/grafana/govcloud.json`` is a
dashboard over these metrics.
"""

from __future__ import annotations

import gzip
import logging
import re
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from govcloud.applying import engine
from govcloud.audit import trail
from govcloud.books import accounts, metering, spans
from govcloud.books import records as stored
from govcloud.drivers import open_driver
from govcloud.errors import DamagedState, GovcloudError, StateError
from govcloud.estate.loader import check_estate, find_root
from govcloud.finance import usage
from govcloud.finance.period import Month, Span
from govcloud.metrics import children
from govcloud.metrics.cloud import Cloud, read_cloud
from govcloud.placement import hosts as placement
from govcloud.state.store import open_store

log = logging.getLogger(__name__)

RESOURCES = {"vcpu": "vcpu", "ram_gb": "ram_gb", "disk_gb": "disk_gb", "volume_gb": "volume_gb",
             "website": "websites", "backup_gb": "backup_gb", "antivirus_seat": "antivirus_seats",
             "servers": "instances", "volumes": "volumes"}
QUOTA = {"instances": "instances", "cores": "vcpu", "ram_gb": "ram_gb", "volumes": "volumes",
         "volume_gb": "volume_gb", "websites": "websites"}


def _ts(stamp: str | None) -> float:
    if not stamp:
        return 0.0
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


class EstateCollector(Collector):
    """Builds every metric family from one session; a part that fails is reported as metrics
    (``govcloud_exporter_ok 0``, ``govcloud_state_ok 0`` and what failed), never raised."""

    def __init__(self, session: engine.EstateSession) -> None:
        self.s = session

    def collect(self) -> Iterator[GaugeMetricFamily]:
        problem: Exception | None = None
        try:
            yield from self._collect()
        except GovcloudError as exc:  # report, never crash the exporter
            log.warning("scrape incomplete: %s", exc.render())
            problem = exc
        except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback, reported
            log.exception("scrape failed")
            problem = exc
        yield from _health(problem)

    def _budgets(self, est: Any, store: Any, latest: Month | None, names: dict[str, str]
                 ) -> Iterator[GaugeMetricFamily]:
        """Year-to-date spend and the year's budget per department (the alert rules in
        docs/prometheus/govcloud-alerts.yml compare them)."""
        spend = GaugeMetricFamily("govcloud_department_spend_year_to_date_yuan", "A "
                                  "department's charges from January to the latest collected "
                                  "month, yuan.", labels=["department", "name", "year"])
        budget = GaugeMetricFamily("govcloud_department_budget_yuan", "A department's budget "
                                   "for the shared cloud for the year (prices.yaml budgets).",
                                   labels=["department", "name", "year"])
        if latest:
            year = str(latest.year)
            report = spans.span_report(est, store, Span.year_to_date(latest),
                                          recorded_only=True)
            book = accounts.book_for(est)
            for dep, v in report.data["departments"].items():
                spend.add_metric([dep, names.get(dep, dep), year], float(v["total"]))
            for dep, years in sorted(book.budgets.items()):
                if latest.year in years:
                    budget.add_metric([dep, names.get(dep, dep), year],
                                      float(years[latest.year].yuan))
        yield spend
        yield budget

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        s = self.s
        names = {d: p.department.name for d, p in s.estate.plans.items()}
        yield self._quota(names)  # from the plans: served even when the state cannot be read
        cloud = read_cloud(s)
        yield self._allocated(cloud.allocated, names)
        yield from self._latest_month(max(stored.months(s.store), default=None), names)
        yield from self._last_apply()
        yield self._drift(cloud)
        yield from self._hosts(cloud.on_hosts)
        yield from self._backups()
        yield self._audit_head()

    def _audit_head(self) -> GaugeMetricFamily:
        """The audit trail's newest record number, read from the store at each scrape:
        Prometheus keeps its history outside the store, so a cut or a wipe shows as the head
        going back (the GovcloudAuditTrailShrank alert)."""
        g = GaugeMetricFamily("govcloud_audit_head", "Number of the audit trail's newest "
                              "record (0: empty), by the algorithm that sealed it.",
                              labels=["algorithm"])
        newest = trail.head(self.s.store)
        seq, alg = newest if newest else (0, "none")
        g.add_metric([alg], float(seq))
        return g

    def _quota(self, names: dict[str, str]) -> GaugeMetricFamily:
        q = GaugeMetricFamily("govcloud_department_quota", "Quota granted to a department.",
                              labels=["department", "name", "resource"])
        for dep, p in sorted(self.s.estate.plans.items()):
            for field, res in QUOTA.items():
                q.add_metric([dep, names[dep], res], float(getattr(p.quota, field)))
        return q

    def _allocated(self, alloc: dict[str, dict[str, float]], names: dict[str, str]
                   ) -> GaugeMetricFamily:
        g = GaugeMetricFamily("govcloud_department_allocated", "Resources allocated to a "
                              "department (units: vcpu, GiB, GB, count).",
                              labels=["department", "name", "resource"])
        for dep, items in sorted(alloc.items()):
            for item, res in RESOURCES.items():
                g.add_metric([dep, names.get(dep, dep), res], items.get(item, 0.0))
        return g

    def _latest_month(self, latest: Month | None, names: dict[str, str]
                      ) -> Iterator[GaugeMetricFamily]:
        """Use, chargeback, spend against budget, savings and the platform's cost of the
        latest collected month (empty families before the first collection)."""
        s = self.s
        est = s.estate
        u = GaugeMetricFamily("govcloud_department_used", "Measured use in the latest "
                              "collected month (sim samples or the cloud's usage API).",
                              labels=["department", "name", "resource", "period"])
        cost = GaugeMetricFamily("govcloud_department_monthly_cost_yuan", "The department's "
                                 "chargeback for the latest collected month, yuan.",
                                 labels=["department", "name", "period"])
        sav = GaugeMetricFamily("govcloud_department_savings_yuan", "Legacy cost minus "
                                "consolidated charge for the latest collected month, yuan.",
                                labels=["department", "name", "period"])
        plat = GaugeMetricFamily("govcloud_platform_cost_yuan", "The shared platform's cost "
                                 "for the month, split into charged and idle.",
                                 labels=["part", "period"])
        if latest:
            period = str(latest)  # the metrics' label
            for dep, used in sorted(usage.used_by_department(
                    stored.load(s.store, latest)).items()):
                for item, res in RESOURCES.items():
                    v = used.get(item)
                    if v is not None:
                        u.add_metric([dep, names.get(dep, dep), res, period], v)
            ledger = accounts.savings_for(est, s.store, latest)
            st = accounts.statement_for(est, s.store, latest)
            for charge in st.departments:
                label = [charge.department, names.get(charge.department, charge.department)]
                cost.add_metric([*label, period], float(charge.total))
            for saved in ledger.departments:
                label = [saved.department, names.get(saved.department, saved.department)]
                sav.add_metric([*label, period], float(saved.saving))
            plat.add_metric(["charged", period], float(st.platform_cost - st.idle))
            plat.add_metric(["idle", period], float(st.idle))
        yield u
        yield cost
        yield from self._budgets(est, s.store, latest, names)
        yield sav
        yield plat

    def _last_apply(self) -> Iterator[GaugeMetricFamily]:
        last = self.s.store.applies(1)
        t = GaugeMetricFamily("govcloud_last_apply_timestamp_seconds", "When the last apply "
                              "finished (started, while running), Unix time.")
        ok = GaugeMetricFamily("govcloud_last_apply_success", "1 when the last apply "
                               "succeeded, 0 when it failed or was interrupted.")
        if last:
            rec = last[0]
            t.add_metric([], _ts(rec.finished_at or rec.started_at))
            ok.add_metric([], 1.0 if rec.result == "ok" else 0.0)
        yield t
        yield ok

    def _drift(self, cloud: Cloud) -> GaugeMetricFamily:
        drift = GaugeMetricFamily("govcloud_drift_count", "Out-of-band changes: the cloud "
                                  "against the last applied state.", labels=["department"])
        if cloud.drift_failed is not None:
            raise cloud.drift_failed
        for dep, n in sorted(cloud.drift.items()):
            drift.add_metric([dep], n)
        return drift

    def _hosts(self, used: dict[str, list[float]]) -> Iterator[GaugeMetricFamily]:
        pool = self.s.estate.settings.host_pool
        ratios = placement.Ratios.of(pool)
        hosts = {h.name: h for h in placement.pool_hosts(pool)}
        g = GaugeMetricFamily("govcloud_host_utilization_ratio", "Share of a host's "
                              "allocatable capacity (physical × allocation ratio) allocated.",
                              labels=["host", "zone", "host_class", "resource"])
        for name, h in hosts.items():
            u = used.get(name, [0.0, 0.0, 0.0])
            caps = (h.vcpus * ratios.cpu, h.ram_gb * ratios.ram, h.disk_gb * ratios.disk)
            for res, val, cap in zip(("vcpu", "ram_gb", "disk_gb"), u, caps, strict=True):
                g.add_metric([name, h.zone, h.host_class, res], val / cap if cap else 0.0)
        yield g
        n = GaugeMetricFamily("govcloud_hosts", "Shared hosts per zone and class: owned, and "
                              "in use (holding at least one server).",
                              labels=["zone", "host_class", "state"])
        counts: dict[tuple[str, str, str], int] = {}
        for name, h in hosts.items():
            counts[(h.zone, h.host_class, "owned")] = \
                counts.get((h.zone, h.host_class, "owned"), 0) + 1
            key = (h.zone, h.host_class, "in_use")
            counts[key] = counts.get(key, 0) + (1 if name in used else 0)
        for (zone, cls, state), c in sorted(counts.items()):
            n.add_metric([zone, cls, state], c)
        yield n

    def _backups(self) -> Iterator[GaugeMetricFamily]:
        """Backup age, RPO breach, drill result and size per department and site, from the
        statuses the last ``govcloud report backup`` collected (age runs on with the clock)."""
        from govcloud.services import backup

        rows = backup.saved_report(self.s.estate, self.s.store, datetime.now(UTC))
        rpo = {r.department: r.rpo_hours for r in rows}
        labels = ["department", "site"]
        age = GaugeMetricFamily("govcloud_backup_age_hours", "Hours since the newest snapshot "
                                "of the department at the site.", labels=labels)
        objective = GaugeMetricFamily("govcloud_backup_rpo_hours", "The department's recovery "
                                      "point objective, hours.", labels=["department"])
        breach = GaugeMetricFamily("govcloud_backup_rpo_breach", "1 when the site's newest "
                                   "snapshot is older than the RPO (or there is none).",
                                   labels=labels)
        drill = GaugeMetricFamily("govcloud_backup_drill_ok", "1 when the last restore drill "
                                  "at the site passed, 0 when it failed.", labels=labels)
        size = GaugeMetricFamily("govcloud_backup_repository_bytes", "Size of the "
                                 "department's repository at the site.", labels=labels)
        for dep, hours in sorted(rpo.items()):
            objective.add_metric([dep], hours)
        for r in rows:
            if r.age_hours is not None:
                age.add_metric([r.department, r.site], r.age_hours)
            breach.add_metric([r.department, r.site], 1.0 if r.breach else 0.0)
            if r.drill_ok is not None:
                drill.add_metric([r.department, r.site], 1.0 if r.drill_ok else 0.0)
            if r.size_bytes is not None:
                size.add_metric([r.department, r.site], r.size_bytes)
        yield from (age, objective, breach, drill, size)


JOB_OUTCOMES = {"succeeded": "success", "failed": "failure"}
TIMER_NAME = re.compile(r"[a-z0-9-]+")  # the role's job names (tests/services/test_deploy_role)


class JobsCollector(Collector):
    """The periodic jobs' traces in ``folder`` (``job_families``): files only, read at every
    scrape, so served even when the state cannot be read and never a page late."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from job_families(self.folder)


def job_families(folder: Path) -> Iterator[GaugeMetricFamily]:
    """When each periodic job last succeeded and last failed, by its timer's name: the times
    of the files ``<timer>.succeeded`` and ``<timer>.failed`` in ``folder``, which the jobs'
    units touch (playbooks/roles/govcloud_control); the alert rules in
    docs/prometheus/govcloud-alerts.yml read them. A job that never ran has neither. A file
    whose name is not a timer's (``[a-z0-9-]+``) is skipped, and a time in the future served
    as now (it would keep the job's alerts quiet), each with a warning."""
    families = {outcome: GaugeMetricFamily(
        f"govcloud_job_last_{word}_timestamp_seconds", f"When the periodic job (govcloud-"
        f"<timer>.service) last ended in {word}, Unix time.", labels=["timer"])
        for outcome, word in JOB_OUTCOMES.items()}
    try:
        marks = sorted(folder.iterdir())
    except OSError as exc:
        log.warning("the jobs' folder %s cannot be read: %s", folder, exc)
        marks = []
    now = time.time()
    for mark in marks:
        if mark.suffix[1:] not in families or not mark.is_file():
            continue
        if not TIMER_NAME.fullmatch(mark.stem):
            log.warning("skipped %s in the jobs' folder: not a timer's name ([a-z0-9-]+)",
                        mark.name[:100].encode("unicode_escape").decode())
            continue
        when = mark.stat().st_mtime
        if when > now:
            log.warning("%s is dated in the future (%s); served as now: check the host's "
                        "clock", mark, datetime.fromtimestamp(when, UTC).isoformat())
            when = now
        families[mark.suffix[1:]].add_metric([mark.stem], when)
    yield from families.values()


def _health(problem: Exception | None) -> Iterator[GaugeMetricFamily]:
    up = GaugeMetricFamily("govcloud_exporter_ok", "1 when the last scrape read everything, "
                           "0 when a part failed (see govcloud_state_error_info and the log).")
    up.add_metric([], 0 if problem else 1)
    yield up
    ok = GaugeMetricFamily("govcloud_state_ok", "1 when the state store could be read, 0 "
                           "when it cannot (a damaged row, a store that is not govcloud's).")
    ok.add_metric([], 0 if isinstance(problem, StateError) else 1)
    yield ok
    info = GaugeMetricFamily("govcloud_state_error_info", "What the last scrape could not "
                             "read: the state store's table and key, and the error.",
                             labels=["table", "key", "error"])
    if problem is not None:
        table, key = ((problem.table, problem.key) if isinstance(problem, DamagedState)
                      else ("", ""))
        text = str(problem) if isinstance(problem, GovcloudError) else \
            f"internal error: {problem!r}"
        info.add_metric([table, key, text[:300]], 1)
    yield info


HEALTH = (b"govcloud_exporter_ok", b"govcloud_state_ok", b"govcloud_state_error_info")


def _without_health(body: bytes) -> bytes:
    """A page's text without its health families (``_health``'s), to be followed by others:
    a rendering that died keeps the last page's series, so one failed rendering does not
    empty every department's series (and fire every ``absent()`` alert)."""
    def health(line: bytes) -> bool:
        name = line[7:] if line.startswith((b"# HELP ", b"# TYPE ")) else line
        return any(name.startswith(h) and name[len(h):len(h) + 1] in (b" ", b"{")
                   for h in HEALTH)

    return b"".join(line for line in body.splitlines(keepends=True) if not health(line))


@dataclass(frozen=True)
class Page:
    """One rendering of the metrics, as served: plain and gzipped, and when it was made."""

    body: bytes
    gzipped: bytes
    made: float


MAX_AGE = 300.0  # seconds: a page is rebuilt at least this often, the store changed or not


def render_page(root: Path) -> list[bytes]:
    """The page and its gzip, rendered in a child process (``children.run``): the estate,
    its store and its cloud opened afresh there (read only: the serving process settled
    them at start), every family collected, and how long the rendering took and its peak
    memory appended. An estate or a store that cannot be opened is the health families."""
    from prometheus_client import CollectorRegistry, generate_latest

    started = time.monotonic()
    registry = CollectorRegistry(auto_describe=False)
    try:
        # the plans without the policies' rules: what they ask for is all the figures read
        # (the rules are apply's gate; the serving process checked them at its start)
        estate = check_estate(find_root(root), policies=False).estate()
        store = open_store(estate.settings.state_url, estate.root, estate.settings.estate,
                           audit=estate.settings.audit)
        try:
            driver = open_driver(estate, store)
            try:
                registry.register(EstateCollector(engine.EstateSession(estate, store, driver)))
                body = generate_latest(registry)
            finally:
                driver.close()
        finally:
            store.close()
    except GovcloudError as exc:  # report, never crash the exporter
        log.warning("the metrics' estate cannot be opened: %s", exc.render())
        body = _families(_health(exc))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    body += _families(_rendering(time.monotonic() - started, peak))
    return [body, gzip.compress(body, 5)]


def _rendering(seconds: float, peak: int) -> Iterator[GaugeMetricFamily]:
    took = GaugeMetricFamily("govcloud_exporter_render_seconds", "How long the last "
                             "rendering of the metrics took (in a child process), seconds.")
    took.add_metric([], round(seconds, 3))
    yield took
    rss = GaugeMetricFamily("govcloud_exporter_render_peak_rss_bytes", "The peak resident "
                            "memory of the child process that rendered the metrics, bytes.")
    rss.add_metric([], float(peak))
    yield rss


def _families(families: Iterator[GaugeMetricFamily]) -> bytes:
    from prometheus_client import CollectorRegistry, generate_latest

    class Fixed(Collector):
        def collect(self) -> Iterator[GaugeMetricFamily]:
            yield from families

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Fixed())
    return generate_latest(registry)


class RenderingFailed(GovcloudError):
    """The child process that renders the metrics ended without a page."""


class Snapshot:
    """The metrics, rebuilt by one thread at a time: at most once per ``interval`` seconds,
    and only when the state store's version moved since the page was made (an apply, a
    usage collection, an approval, another process's write) or the page is ``max_age``
    seconds old (the cloud's out-of-band changes and the backups' age move without the store).

    Each page is rendered in a child process (:func:`render_page`), which opens the estate,
    the store and the cloud of its own: the rendering's CPU is not taken under this
    process's GIL (the event loop keeps answering scrapes) and its memory goes back to the
    system when it ends; this process keeps only the page it serves. A child that dies
    (killed, out of memory) leaves a page saying so (``govcloud_exporter_ok 0``) and the next
    interval renders again.

    ``page()`` never waits for a rebuild once there is a page: it returns the last one and,
    when that is older than the interval, starts a check (and, if due, a rebuild) in the
    background."""

    def __init__(self, session: engine.EstateSession, interval: float,
                 jobs: Path | None = None, max_age: float = MAX_AGE) -> None:
        from prometheus_client import CollectorRegistry

        self.root = session.estate.root
        self.jobs: CollectorRegistry | None = None  # cheap: read afresh for every page
        if jobs is not None:
            self.jobs = CollectorRegistry(auto_describe=False)
            self.jobs.register(JobsCollector(jobs))
        self.store = session.store
        self.interval = interval
        self.max_age = max(max_age, interval)
        self.builds = 0  # pages rendered (for the benchmark and the tests)
        self._mutex = threading.Lock()
        self._building = False
        self._good: Page | None = None  # the last page rendered in full
        self._version = self._store_version()
        self._built = time.monotonic()  # when the page was last rendered
        self._page, done = self._build()
        if not done:
            self._version = object()  # never the store's: the next check renders again

    def _store_version(self) -> Any:
        try:
            return self.store.version()
        except Exception:  # noqa: BLE001 - a store that cannot say: rebuild every interval
            log.warning("the state store's version cannot be read; rebuilding every interval",
                        exc_info=True)
            return object()

    def _build(self) -> tuple[Page, bool]:
        """A page rendered in a child, and whether it was (False: the page says why not)."""
        with children.one_at_a_time():
            outcome = children.run("the rendering of the metrics", render_page, self.root)
        self.builds += 1
        if outcome.failure is None:
            body, gzipped = outcome.parts
            self._good = Page(body, gzipped, time.monotonic())
            return self._good, True
        log.error("%s%s", outcome.failure, f"\n{outcome.detail}" if outcome.detail else "")
        body = _families(_health(RenderingFailed(outcome.failure, "see the exporter's log; "
                                                 "the next rebuild tries again")))
        good = self._good
        if good is not None:  # the last page's series kept, said to be old by the health
            body = _without_health(good.body) + body
        return Page(body, gzip.compress(body, 5), time.monotonic()), False

    def _rebuild(self) -> None:
        """Render a new page if the store moved (or the page is too old); otherwise keep the
        page and restart its interval. The version is read before rendering, so a write
        during the rendering brings another one."""
        try:
            version = self._store_version()
            if version == self._version and time.monotonic() - self._built < self.max_age:
                with self._mutex:
                    self._page = replace(self._page, made=time.monotonic())
                return
            started = time.monotonic()
            page, done = self._build()
            with self._mutex:
                self._page = page
                if done:
                    self._version, self._built = version, started
                else:
                    self._version = object()
        except Exception:  # noqa: BLE001 - keep serving the last page; the log says why
            log.exception("rebuilding the metrics failed")
        finally:
            with self._mutex:
                self._building = False

    def page(self) -> Page:
        with self._mutex:
            page = self._page
            if time.monotonic() - page.made >= self.interval and not self._building:
                self._building = True
                threading.Thread(target=self._rebuild, name="metrics-rebuild",
                                 daemon=True).start()
        if self.jobs is None:
            return page
        from prometheus_client import generate_latest

        fresh = generate_latest(self.jobs)  # gzip members may follow one another (RFC 1952)
        return Page(page.body + fresh, page.gzipped + gzip.compress(fresh, 5), page.made)


def serve(root: Any, host: str, port: int, interval: float = 10.0,
          jobs: Path | None = None, max_age: float = MAX_AGE,
          serving: Callable[[], None] | None = None) -> None:
    """Serve the metrics until interrupted (with the periodic jobs' outcomes read from the
    folder ``jobs``, if given). The port is taken first (one in use is refused before
    anything starts); the session opened here settles the estate as every command does at its
    start; the pages and the usage collections run in child processes. ``serving()`` is
    called once the first page is made and scrapes are answered."""
    from govcloud.metrics.scrapes import listen, serve_pages

    sock = listen(host, port)
    with sock, engine.session(root) as s:
        snapshot = Snapshot(s, interval, jobs, max_age)
        threading.Thread(target=_collect_on_schedule, args=(s.estate.root,),
                         name="usage-schedule", daemon=True).start()
        serve_pages(snapshot.page, sock, None if serving is None else lambda _: serving())


def _collect_on_schedule(root: Path) -> None:
    """The schedule: this month's usage every hour, last month's once it ends.

    Each run is a child process (:func:`collect_in_child`) with a session of its own — its
    own state-store connection and its own cloud connection: a collection reads the whole
    cloud, and its memory and CPU are not the serving process's to keep."""
    while True:
        with children.one_at_a_time():
            outcome = children.run("the usage collection", collect_in_child, root)
        if outcome.failure is not None:
            log.warning("%s%s", outcome.failure,
                        f"\n{outcome.detail}" if outcome.detail else "")
        for note in outcome.parts:
            log.info("%s", note.decode())
        time.sleep(3600)


def collect_in_child(root: Path) -> list[bytes]:
    """:func:`collect_once` in a child process: its notes."""
    return [note.encode() for note in collect_once(root)]


def collect_once(root: Any) -> list[str]:
    """One scheduled collection in a session of its own; a failure is logged, not raised."""
    try:
        with engine.session(root) as s:
            notes = metering.collect_due(s.estate, s.store, s.driver)
    except GovcloudError as exc:
        log.warning("usage collection failed: %s", exc.render())
        return []
    for note in notes:
        log.info("%s", note)
    return notes
