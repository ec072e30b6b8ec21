"""Checking an estate's parsed documents: schema, references, uniqueness across plans, policy.

Pure: the documents arrive parsed (``govcloud.estate.loader`` reads the files); every
problem is collected as a diagnostic rather than raised.
"""

from __future__ import annotations

import difflib
import ipaddress
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from govcloud.core import directory
from govcloud.core.documents import Document, dotted
from govcloud.core.model import (
    Estate,
    Settings,
    TenancyPlan,
    plan_from,
    replica_names,
    settings_from,
)
from govcloud.core.patterns import HINTS, NAME, covered, fits
from govcloud.core.policy import PolicyEngine, Watch
from govcloud.core.schema import PLAN_SCHEMA, SETTINGS_SCHEMA, check, with_defaults
from govcloud.core.upstreams import Reach, problem, reserved, reserved_names
from govcloud.errors import Diagnostic, ValidationFailed


@dataclass
class Checked:
    """The outcome of checking an estate: the model where it could be built, and findings."""

    root: Path
    settings: Settings | None = None
    plans: dict[str, TenancyPlan] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: int = 0
    settings_doc: Document | None = None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def as_dict(self) -> dict[str, Any]:
        return {"files": self.files, "departments": len(self.plans),
                "errors": len(self.errors), "warnings": len(self.warnings),
                "diagnostics": [d.as_dict() for d in self.diagnostics]}

    def estate(self) -> Estate:
        """The estate, or ValidationFailed with every error."""
        if self.errors or self.settings is None:
            raise ValidationFailed(diagnostics=self.diagnostics)
        return Estate(self.root, self.settings, self.plans)


@dataclass
class FileResult:
    """One plan file checked on its own; what needs the other files (uniqueness) is left as
    claims for the caller."""

    name: str
    diagnostics: list[Diagnostic]
    claims: list[Claim] = field(default_factory=list)
    plan: TenancyPlan | None = None


@dataclass(frozen=True)
class Claim:
    kind: str
    value: str
    file: str
    line: int
    path: str
    fix: str
    key: str = ""  # what two claims are compared by, when not the value itself

    @property
    def same(self) -> str:
        return self.key or self.value


def check_plan(doc: Document, parsed: list[Diagnostic], settings: Settings | None,
               engine: PolicyEngine | None, watch: Watch | None = None) -> FileResult:
    """One parsed plan checked on its own: schema, references, policy. What needs the other
    plans (uniqueness) is returned as claims."""
    result = FileResult(doc.file, list(parsed))
    found = check(doc, PLAN_SCHEMA)
    result.diagnostics += found
    if found or parsed:
        return result
    data = with_defaults(doc.data, PLAN_SCHEMA)
    result.claims = claims(doc, data)
    result.diagnostics += replica_names_fit(doc, data)
    result.diagnostics += backup_paths_apart(doc, data)
    if settings is not None:
        references(doc, data, settings, result.diagnostics)
    if engine is not None:
        result.diagnostics += engine.evaluate(doc, data, watch)
    if not any(d.severity == "error" for d in result.diagnostics):
        result.plan = plan_from(data, doc.file)
    return result


def replica_names_fit(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """Every replica's name (-2, -3 … appended) is a server name too: the inventory checks
    each by the same rule (``patterns.fits``), so a name that fits only without its suffix
    is refused here."""
    out = []
    for i, s in enumerate(data["servers"]):
        for name in replica_names(s["name"], s["count"])[1:]:
            if not fits(NAME, name):
                out.append(doc.diag(("servers", i, "name"),
                                    f"replica name {name!r} is not a valid server name "
                                    "(at most 63 characters)",
                                    f"shorten the name so that '-{s['count']}' fits; "
                                    f"{HINTS[NAME]}"))
                break
    return out


def backup_paths_apart(doc: Document, data: dict[str, Any]) -> list[Diagnostic]:
    """No backup path lies inside another or repeats one (``patterns.covered``, the rule the
    inventory applies too): a server's link at the inner path could otherwise make the
    backup host's second transfer write outside the department's folder."""
    paths = data["services"]["backup"]["paths"]
    out = []
    for i, outer in covered(paths).items():
        what = "repeats" if paths[i] == outer else "lies inside"
        out.append(doc.diag(("services", "backup", "paths", i),
                            f"backup path {paths[i]!r} {what} {outer!r}, which is backed up "
                            "already",
                            f"remove {paths[i]!r}: backing up {outer!r} takes its files too"))
    return out


def check_settings(doc: Document, out: Checked) -> Settings | None:
    """The estate settings from their parsed file, or None with the problems in ``out``."""
    found = check(doc, SETTINGS_SCHEMA)
    out.diagnostics += found
    if found:
        return None
    data = with_defaults(doc.data, SETTINGS_SCHEMA)
    problems: list[Diagnostic] = []
    classes = {c["name"] for c in data["host_pool"]["classes"]}
    for zone, counts in data["host_pool"]["hosts"].items():
        for cls in counts:
            if cls not in classes:
                problems.append(doc.diag(("host_pool", "hosts", zone, cls),
                                         f"unknown host class '{cls}'",
                                         _suggest(cls, classes, "host_pool.classes")))
    for kind in ("flavors", "images"):
        seen: set[str] = set()
        for i, item in enumerate(data["catalogue"][kind]):
            if item["name"] in seen:
                problems.append(doc.diag(("catalogue", kind, i, "name"),
                                         f"duplicate {kind[:-1]} '{item['name']}'",
                                         "give each entry its own name"))
            seen.add(item["name"])
    problems += _pools(doc, data["networks"])
    problems += _open_networks(doc, data["services"]["upstream_networks"])
    problems += [doc.diag(("directory", *where), what, fix)
                 for where, what, fix in directory.problems(data["directory"])]
    problems += _time_zone(doc, data["portal"]["time_zone"])
    out.diagnostics += problems
    out.settings_doc = doc
    return None if problems else settings_from(data, doc.file)


# Each department gets one /24 of its zone's pool (the drivers carve them in order).
DEPARTMENT_PREFIX = 24


def _pools(doc: Document, pools: dict[str, str]) -> list[Diagnostic]:
    """Every address pool a valid IPv4 network, room for one department at least, no two
    overlapping (the zones must never share an address)."""
    problems: list[Diagnostic] = []
    nets: dict[str, ipaddress.IPv4Network] = {}
    for zone, text in pools.items():
        where = ("networks", zone)
        try:
            net = ipaddress.IPv4Network(text, strict=False)
        except ValueError as exc:
            problems.append(doc.diag(where, f"{text!r} is not an IPv4 network: {exc}",
                                     "use a network such as 10.20.0.0/16 (four numbers 0-255, "
                                     "then a prefix length 0-32)"))
            continue
        if str(net) != text:
            problems.append(doc.diag(where, f"{text!r} has host bits set after the /"
                                     f"{net.prefixlen}", f"write the network itself: {net}"))
            continue
        if net.prefixlen > DEPARTMENT_PREFIX:
            problems.append(doc.diag(where, f"{text} is smaller than the /{DEPARTMENT_PREFIX} "
                                     "each department's network takes",
                                     f"use a /{DEPARTMENT_PREFIX} or larger, e.g. /16"))
            continue
        for other, seen in nets.items():
            if net.overlaps(seen):
                problems.append(doc.diag(where, f"{text} overlaps networks.{other} ({seen}); "
                                         "the zones' networks must never share an address",
                                         "choose a range apart from the other zone's, e.g. "
                                         "10.20.0.0/16 and 10.40.0.0/16"))
        nets[zone] = net
    return problems


def _time_zone(doc: Document, name: str) -> list[Diagnostic]:
    """``portal.time_zone``: a zone of the IANA database (the system's, or Python's
    tzdata)."""
    try:
        zoneinfo.ZoneInfo(name)
        return []
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        pass
    near = difflib.get_close_matches(name, sorted(zoneinfo.available_timezones()), 1)
    maybe = f"did you mean '{near[0]}'? " if near else ""
    return [doc.diag(("portal", "time_zone"), f"{name!r} is not a time zone",
                     f"{maybe}use an IANA time zone name such as 'Asia/Shanghai' or 'UTC'")]


def _open_networks(doc: Document, networks: list[str]) -> list[Diagnostic]:
    """``services.upstream_networks``: each a valid IPv4 network."""
    problems = []
    for i, text in enumerate(networks):
        try:
            ipaddress.IPv4Network(text, strict=False)
        except ValueError as exc:
            problems.append(doc.diag(("services", "upstream_networks", i),
                                     f"{text!r} is not an IPv4 network: {exc}",
                                     "use a network such as 127.0.0.1/32, or remove it"))
    return problems


def pool_room(checked: Checked) -> list[Diagnostic]:
    """Whether each zone's pool holds a /24 for every department planned in it."""
    if checked.settings is None or checked.settings_doc is None:
        return []
    out = []
    for zone, text in checked.settings.networks.items():
        room = 2 ** (DEPARTMENT_PREFIX - ipaddress.IPv4Network(text).prefixlen)
        need = sum(1 for p in checked.plans.values() if p.department.zone == zone)
        if need > room:
            out.append(checked.settings_doc.diag(
                ("networks", zone), f"{text} has room for {room} department network(s) "
                f"(/{DEPARTMENT_PREFIX} each) but {need} {zone} departments are planned",
                f"widen it to at least a /{DEPARTMENT_PREFIX - (need - 1).bit_length()}"))
    return out


def _suggest(value: str, choices: Any, where: str) -> str:
    close = difflib.get_close_matches(value, list(choices), 1, 0.5)
    listed = ", ".join(sorted(choices)[:12])
    prefix = f"did you mean '{close[0]}'? " if close else ""
    return f"{prefix}use one of {where}: {listed}"


def claims(doc: Document, data: dict[str, Any]) -> list[Claim]:
    """What this plan claims for itself alone across the estate."""
    out = []

    def claim(kind: str, value: str, path: tuple[Any, ...], fix: str, key: str = "") -> None:
        out.append(Claim(kind, value, doc.file, doc.line(path), dotted(path), fix, key))

    claim("department", data["department"]["id"], ("department", "id"),
          "each department needs its own id; rename one")
    centre = data["department"]["cost_centre"]
    claim("cost centre", centre, ("department", "cost_centre"),
          "finance charges each cost centre to one department; correct one of them",
          centre.upper())
    for i, s in enumerate(data["servers"]):
        path = ("servers", i, "name")  # the replicas' one place: found once, not each
        line, where = doc.line(path), dotted(path)
        out.extend(Claim("server", name, doc.file, line, where, "server names are host names "
                         "and must be unique in the estate; rename one")
                   for name in replica_names(s["name"], s["count"]))
    for i, w in enumerate(data["websites"]):
        claim("domain", w["domain"], ("websites", i, "domain"),
              "one domain is served by one department; remove or rename one")
    return out


@dataclass
class Owners:
    """What earlier files claimed: per kind, each key's (file, line, value). For domains also
    each one's place in the claiming order and, per parent name (``x.gov.cn`` of
    ``a.x.gov.cn``), the first domain claimed under it: a domain is checked against the
    others through its few parent names, not one by one (10,000 departments claim 80,000)."""

    claimed: dict[str, dict[str, tuple[str, int, str]]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)
    first_under: dict[str, str] = field(default_factory=dict)

    def add_domain(self, key: str) -> None:
        self.order[key] = len(self.order)
        for parent in _parents(key):
            self.first_under.setdefault(parent, key)


def unique(claims: list[Claim], owners: Owners) -> list[Diagnostic]:
    """Duplicates of what earlier files already claimed (the first file keeps it)."""
    out = []
    for c in claims:
        seen = owners.claimed.setdefault(c.kind, {})
        if c.same in seen:
            file, first, value = seen[c.same]
            written = "" if value == c.value else f" as '{value}': case does not count"
            out.append(Diagnostic(c.file, c.line, c.path,
                                  f"duplicate {c.kind} '{c.value}' (also in {file}:{first}"
                                  f"{written})", c.fix))
        elif c.kind == "domain" and (under := _nested(c, seen, owners)) is not None:
            file, first, value = seen[under]
            out.append(Diagnostic(c.file, c.line, c.path,
                                  f"domain '{c.value}' lies under or over '{value}', another "
                                  f"department's (also in {file}:{first})",
                                  "a site's name may not lie under another department's, nor "
                                  "over it (cookies of one reach the other); choose a name "
                                  "of your own"))
        else:
            seen[c.same] = (c.file, c.line, c.value)
            if c.kind == "domain":
                owners.add_domain(c.same)
    return out


def _parents(name: str) -> list[str]:
    """``x.gov.cn``, ``gov.cn`` and ``cn`` of ``a.x.gov.cn``: the names it lies under."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def _nested(c: Claim, seen: dict[str, tuple[str, int, str]], owners: Owners) -> str | None:
    """The first claimed domain of another file that ``c``'s lies under, or that lies under
    ``c``'s. A file's claims come together, after every earlier file's, so the first domain
    claimed under ``c``'s is another file's whenever any is."""
    found = [p for p in _parents(c.same) if p in seen and seen[p][0] != c.file]
    below = owners.first_under.get(c.same)
    if below is not None and seen[below][0] != c.file:
        found.append(below)
    return min(found, key=owners.order.__getitem__, default=None)


def reach(data: dict[str, Any], settings: Settings) -> Reach:
    """Where the proxy sites of a plan (its data, defaults filled in) may send requests."""
    servers = frozenset(name for s in data["servers"]
                        for name in replica_names(s["name"], s["count"]))
    return Reach(data["department"]["zone"], settings.networks, servers,
                 settings.services.upstream_networks)


def references(doc: Document, data: dict[str, Any], settings: Settings,
                out: list[Diagnostic]) -> None:
    suffixes = set(settings.catalogue.website_suffixes)
    taken = reserved_names(settings.catalogue.reserved_domains, settings.notify.portal_url)
    reachable = reach(data, settings)
    own_suffix = min(suffixes) if suffixes else "example.gov.cn"
    for i, w in enumerate(data["websites"]):
        if name := reserved(w["domain"], taken):
            out.append(doc.diag(("websites", i, "domain"),
                                f"'{w['domain']}' is the platform's own name {name!r} or "
                                "under it (catalogue.reserved_domains, the portal's host), "
                                "which no department may claim",
                                "choose a name of the department's own, e.g. "
                                f"'{data['department']['id']}.{own_suffix}'"))
        if w["kind"] == "proxy" and w.get("upstream") and \
                (why := problem(w["upstream"], reachable)):
            out.append(doc.diag(("websites", i, "upstream"), *why))
        if w["domain"] in suffixes:
            out.append(doc.diag(("websites", i, "domain"),
                                f"'{w['domain']}' is an estate suffix itself, which no one "
                                "department may claim",
                                f"use a name under it, e.g. '{data['department']['id']}."
                                f"{w['domain']}'"))
        if w["kind"] == "proxy" and not w.get("upstream"):
            out.append(doc.diag(("websites", i, "kind"), "a proxy site needs an upstream",
                                "add 'upstream: http://SERVER:PORT/' naming one of the "
                                "department's servers"))
        if w["kind"] != "proxy" and w.get("upstream"):
            out.append(doc.diag(("websites", i, "upstream"),
                                f"upstream is only for proxy sites, this one is {w['kind']}",
                                "remove upstream or set kind: proxy"))
