"""The dated record read back: what ran when, as whole hours of a month.

Pure. ``govcloud.books.history`` appends an :class:`Entry` whenever govcloud sees a
resource, a host or a department's plan change, and never rewrites one; this module turns
the entries into *stretches*: each subject in one state over a run of whole hours of a
:class:`~govcloud.finance.period.Window`. Finance then reads every figure from the
stretches, hour by hour: a resize bills the old size up to the hour it happened in and the
new one from it; a host parked on the 15th at noon draws power for the 348 hours before;
a department that left on the 9th at 10:30 is a member for 203 hours.

The hours (the documented rule): a subject's first state starts at the hour it began (the
hour created, down); each later state takes the whole hour it happened in; its end (deleted,
left) counts the hour under way (up). A state that lasted less than its hour yields to the
next. So a resource's hours are those ``Window.billed_hours`` gives its whole life, split
between its states. A subject's state at a moment is the body of its entry with the greatest
(at, seq) at or before it; entries read back late (nova's instance actions) may carry an
earlier ``at`` than entries recorded before them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from govcloud.core.desired import Resource
from govcloud.finance.period import Window, ceil_hour, floor_hour

RESOURCE, HOST, PLAN = "resource", "host", "plan"
# The kinds of resource finance reads (membership, usage, services), and what of each.
RECORDED: dict[str, tuple[str, ...]] = {
    "project": (),
    "server": ("vcpus", "ram_gb", "disk_gb", "antivirus", "backup", "flavor", "load", "zone",
               "server_group"),
    "volume": ("size_gb", "server"),
    "website": ("storage_gb",),
    "antivirus": ("enabled",),
    "backup": ("enabled",),
}
STATES = ("running", "idle", "off")


@dataclass(frozen=True)
class Entry:
    """One row of the record: from ``at`` on, ``subject`` ``key`` is in state ``body``
    (None: gone — deleted, or the department left)."""

    at: datetime
    subject: str
    key: str
    department: str
    body: dict[str, Any] | None
    seq: int = 0
    source: str = ""


@dataclass(frozen=True)
class Stretch:
    """A subject in one state over hours [start, end) of a window (0 = its first hour)."""

    subject: str
    key: str
    department: str
    body: dict[str, Any]
    start: int
    end: int

    @property
    def hours(self) -> int:
        return self.end - self.start


def resource_body(res: Resource) -> dict[str, Any] | None:
    """What the record keeps of a resource (None: a kind finance does not read)."""
    fields = RECORDED.get(res.kind)
    if fields is None:
        return None
    body: dict[str, Any] = {"kind": res.kind}
    for f in fields:
        if f in res.attrs:
            body[f] = res.attrs[f]
    if res.kind == "server":
        body["host"] = res.computed.get("host")
    return body


def _hour(t: datetime, start: datetime) -> int:
    return int((t - start).total_seconds()) // 3600


def _timeline(entries: list[Entry], origin: datetime) -> list[tuple[int, dict[str, Any] | None]]:
    """(hour from ``origin``, state from then) of one subject, in order, each hour no
    earlier than the one before (see the module's rule)."""
    out: list[tuple[int, dict[str, Any] | None]] = []
    alive = False
    last = None
    for e in sorted(entries, key=lambda e: (e.at, e.seq)):
        if e.body is None:
            h = _hour(ceil_hour(e.at), origin) if alive else _hour(floor_hour(e.at), origin)
        else:
            h = _hour(floor_hour(e.at), origin)
        if last is not None and h < last:
            h = last
        out.append((h, e.body))
        last = h
        alive = e.body is not None
    return out


def stretches(entries: Iterable[Entry], window: Window) -> list[Stretch]:
    """Every subject's states over the window's hours (empty states left out)."""
    by_subject: dict[tuple[str, str], list[Entry]] = {}
    for e in entries:
        by_subject.setdefault((e.subject, e.key), []).append(e)
    origin, hours = window.start, window.hours
    out = []
    for (subject, key), group in by_subject.items():
        dep = group[-1].department
        line = _timeline(group, origin)
        for i, (h, body) in enumerate(line):
            if body is None:
                continue
            end = line[i + 1][0] if i + 1 < len(line) else hours
            lo, hi = max(h, 0), min(end, hours)
            if hi > lo:
                out.append(Stretch(subject, key, dep, body, lo, hi))
    return out


def resources(found: Iterable[Stretch], window: Window) -> list[Resource]:
    """Each resource stretch as a Resource living just those hours (``computed``
    ``created_at`` and ``deleted_at``): what ``usage.prorated`` and ``usage.sim_samples``
    read, so a resized server is two of them, each billed for its own hours.

    A server, volume or website is cut again wherever what it is billed for depends on
    changes: its department's antivirus or backup service switched, or (a volume) its
    server's backup flag. Each piece carries its effective flags (``antivirus``,
    ``backup``: the resource's own and its department's service, both on), and the
    department-wide service resources are left out, so that every hour counts as it ran."""
    found = list(found)
    services = _switches(found)
    out = []
    for s in found:
        if s.subject != RESOURCE or s.body.get("kind") in ("antivirus", "backup"):
            continue
        for lo, hi, flags in _pieces(s, services):
            body = dict(s.body)
            kind = body.pop("kind")
            host = body.pop("host", None)
            body.update(flags)
            computed = {"created_at": (window.start + timedelta(hours=lo)).isoformat(),
                        "deleted_at": (window.start + timedelta(hours=hi)).isoformat()}
            if host:
                computed["host"] = host
            out.append(Resource(kind, s.department, s.key.rsplit("/", 1)[-1], body,
                                computed=computed))
    return out


Switches = dict[tuple[str, str], list[tuple[int, int, bool]]]


def _switches(found: list[Stretch]) -> Switches:
    """(department, "antivirus" | "backup") and (department, "server:" name) → the hours
    each was on or off: a department's services, and each server's own backup flag."""
    out: Switches = {}
    for s in found:
        kind = s.body.get("kind")
        if s.subject == RESOURCE and kind in ("antivirus", "backup"):
            out.setdefault((s.department, kind), []).append(
                (s.start, s.end, bool(s.body.get("enabled", True))))
        elif s.subject == RESOURCE and kind == "server":
            out.setdefault((s.department, "server:" + s.key.rsplit("/", 1)[-1]), []).append(
                (s.start, s.end, bool(s.body.get("backup", True))))
    return out


def _on(spans: list[tuple[int, int, bool]] | None, hour: int, default: bool) -> bool:
    """Whether a switch was on in ``hour``: ``default`` when never recorded in the window
    (a department without the service resource has it on; a volume without its server,
    off); off in an hour before it was made or after it went."""
    if spans is None:
        return default
    for lo, hi, on in spans:
        if lo <= hour < hi:
            return on
    return False  # recorded, but not in this hour: it did not exist yet (or any more)


def _pieces(s: Stretch, services: Switches) -> list[tuple[int, int, dict[str, Any]]]:
    """``s`` cut where its effective antivirus and backup flags change, each piece with
    them."""
    kind, dep = s.body.get("kind"), s.department
    deps: list[tuple[tuple[str, str], bool]] = []
    if kind == "server":
        deps = [((dep, "antivirus"), True), ((dep, "backup"), True)]
    elif kind == "volume":
        deps = [((dep, "backup"), True), ((dep, "server:" + str(s.body.get("server"))), False)]
    elif kind == "website":
        deps = [((dep, "backup"), True)]
    if not deps:
        return [(s.start, s.end, {})]
    cuts = {s.start, s.end}
    for key, _ in deps:
        for lo, hi, _ in services.get(key, []):
            cuts |= {h for h in (lo, hi) if s.start < h < s.end}
    bounds = sorted(cuts)
    out = []
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        on = {key: _on(services.get(key), lo, default) for key, default in deps}
        if kind == "server":
            flags = {"antivirus": bool(s.body.get("antivirus", True)) and on[(dep, "antivirus")],
                     "backup": bool(s.body.get("backup", True)) and on[(dep, "backup")]}
        else:
            flags = {"backup": all(on.values())}
        out.append((lo, hi, flags))
    return out


def host_months(found: Iterable[Stretch], window: Window,
                hosts: Mapping[str, tuple[str, str]], first: int = 0
                ) -> dict[str, dict[str, dict[str, Fraction]]]:
    """State (running, idle, off) → zone → class → host-months in the window: Σ hours in
    that state / hours in the month. ``hosts``: name → (zone, class) of every host of the
    pool. Per hour a host is running when a server's stretch is on it, else idle when it is
    enabled (a host never recorded is enabled), else off (parked: it draws no power). The
    ``first`` hours (before the estate's record began) are not counted: nothing of the
    estate ran then."""
    n = window.hours
    running = {h: bytearray(n) for h in hosts}
    enabled = {h: bytearray(b"\x01" * n) for h in hosts}
    if first:
        for before_record in enabled.values():
            before_record[:first] = bytes(min(first, n))
    ones = b"\x01" * n
    for s in found:
        if s.subject == RESOURCE and s.body.get("kind") == "server":
            slots = running.get(s.body.get("host") or "")
            if slots is not None:
                slots[s.start:s.end] = ones[:s.hours]
        elif s.subject == HOST and s.key in enabled and not s.body.get("enabled", True):
            enabled[s.key][s.start:s.end] = bytes(s.hours)
    out: dict[str, dict[str, dict[str, Fraction]]] = {state: {} for state in STATES}
    month_hours = window.month.hours
    before = min(first, n)
    for name, (zone, cls) in sorted(hosts.items()):
        run = running[name].count(1)
        on = sum(1 for r, e in zip(running[name], enabled[name], strict=True) if r or e) \
            if run < n else n
        for state, h in (("running", run), ("idle", on - run), ("off", max(n - on - before, 0))):
            if h:
                z = out[state].setdefault(zone, {})
                z[cls] = z.get(cls, Fraction(0)) + Fraction(h, month_hours)
    return out


def host_states_at(found: Iterable[Stretch], hour: int, hosts: Mapping[str, tuple[str, str]]
                   ) -> dict[str, dict[str, dict[str, int]]]:
    """State → zone → class → hosts in that state in one hour of the window."""
    found = list(found)
    running = {s.body.get("host") for s in found if s.subject == RESOURCE
               and s.body.get("kind") == "server" and s.start <= hour < s.end}
    parked = {s.key for s in found if s.subject == HOST and s.start <= hour < s.end
              and not s.body.get("enabled", True)}
    out: dict[str, dict[str, dict[str, int]]] = {state: {} for state in STATES}
    for name, (zone, cls) in sorted(hosts.items()):
        state = "running" if name in running else "off" if name in parked else "idle"
        z = out[state].setdefault(zone, {})
        z[cls] = z.get(cls, 0) + 1
    return out


def members(found: Iterable[Stretch]) -> dict[str, bytearray]:
    """Department → its hours of membership (1: its project existed), over the window."""
    out: dict[str, bytearray] = {}
    size = 0
    spans = [s for s in found if s.subject == RESOURCE and s.body.get("kind") == "project"]
    for s in spans:
        size = max(size, s.end)
    for s in spans:
        slots = out.setdefault(s.department, bytearray(size))
        slots[s.start:s.end] = b"\x01" * s.hours
    return out


def plans_in_force(found: Iterable[Stretch], window: Window
                   ) -> dict[str, list[tuple[dict[str, Any], int]]]:
    """Department → (its plan as recorded, hours it was a member under it) in the window:
    the hours its legacy counterfactual runs for. Hours of membership before the first
    plan recorded count under that first plan."""
    found = list(found)
    member = members(found)
    plans: dict[str, list[Stretch]] = {}
    for s in found:
        if s.subject == PLAN:
            plans.setdefault(s.department, []).append(s)
    out: dict[str, list[tuple[dict[str, Any], int]]] = {}
    for dep, slots in sorted(member.items()):
        mine = sorted(plans.get(dep, []), key=lambda s: s.start)
        if not mine:
            continue
        got: list[tuple[dict[str, Any], int]] = []
        for i, s in enumerate(mine):
            lo = 0 if i == 0 else s.start
            hi = mine[i + 1].start if i + 1 < len(mine) else window.hours
            h = slots[lo:hi].count(1)
            if h:
                got.append((s.body, h))
        if got:
            out[dep] = got
    return out
