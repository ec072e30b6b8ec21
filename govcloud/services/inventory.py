"""The Ansible inventory of the shared services: inventories/ plus govcloud's state.

``inventories/hosts.yml`` names the shared hosts (web hosts, signature mirror, backup
host) and ``inventories/group_vars/*.yml`` / ``host_vars/*.yml`` their settings; govcloud
adds, from the last applied state, every department's sites, antivirus and backup settings
(and its servers, when ``services.servers`` is on). The result is one dynamic-inventory
document, printed by ``govcloud inventory --list`` and handed as is to ansible-runner.

Every value taken from the state is checked again against the plan schema's patterns before
it goes into the inventory, by the very test validate applies (``core.patterns.fits``: the
regex, then '..' in a name or path, DNS labels, cron fields by Debian cron's ranges): the
inventory is the only way a value reaches a template, a cron file or a command, so a tampered
state can never smuggle ``;``, quotes, ``}``, ``..``, a newline or a line cron would refuse in,
and a validated plan never holds a value refused here.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from pathlib import Path
from typing import Any

from govcloud.core.desired import Resource
from govcloud.core.model import Estate
from govcloud.core.patterns import BACKUP_PATH, CRON, DNS, IDENT, NAME, TEXT, URL, covered, fits
from govcloud.core.upstreams import Reach, host_of, problem, resolved
from govcloud.errors import GovcloudError
from govcloud.estate.files import display, read_document

SHARED_GROUPS = ("webhosts", "av_mirror", "backup_hosts", "dr_backup_hosts",
                 "department_servers")
SITE_KINDS = ("static", "php", "proxy")
ZONES = ("intranet", "extranet")


class InventoryError(GovcloudError):
    """inventories/ is unreadable, or a value is unfit for a template or command."""


def _check(value: Any, pattern: str, what: str) -> Any:
    if not fits(pattern, value):
        raise InventoryError(f"refusing {what} {value!r}: it is not a value a plan may hold",
                             "the state store holds a value no validated plan could produce; "
                             "check who changed it, then run govcloud validate and apply")
    return value


def site_user(prefix: str, department: str) -> str:
    """The system user of a department's sites: ``gc-<id>``, shortened past 32 characters."""
    name = f"{prefix}{department}"
    if len(name) <= 32:
        return name
    digest = hashlib.sha256(department.encode()).hexdigest()[:6]
    return f"{prefix}{department[:32 - len(prefix) - 7]}-{digest}"


def load_static(folder: Path) -> dict[str, Any]:
    """inventories/hosts.yml (YAML inventory) and group_vars/host_vars, as dynamic JSON."""
    groups: dict[str, dict[str, Any]] = {"all": _group()}
    hostvars: dict[str, dict[str, Any]] = {}
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        data = _read(path, folder)
        if not isinstance(data, dict):
            raise InventoryError(f"{path} is not a YAML inventory",
                                 "start it with 'all:' and list groups under children:")
        for name, body in data.items():
            _walk(groups, hostvars, name, body)
    for path in sorted(folder.joinpath("group_vars").glob("*.y*ml")):
        groups.setdefault(path.stem, _group())
        groups[path.stem]["vars"].update(_read(path, folder))
    for path in sorted(folder.joinpath("host_vars").glob("*.y*ml")):
        hostvars.setdefault(path.stem, {}).update(_read(path, folder))
    for g in SHARED_GROUPS:
        groups.setdefault(g, _group())
    for name in list(groups):
        if name != "all" and name not in groups["all"]["children"]:
            parent = any(name in o["children"] for o in groups.values())
            if not parent:
                groups["all"]["children"].append(name)
    return {**groups, "_meta": {"hostvars": hostvars}}


def _group() -> dict[str, Any]:
    return {"hosts": [], "vars": {}, "children": []}


def _read(path: Path, folder: Path) -> Any:
    """One file of inventories/, by the one estate reader: regular files inside the folder
    only, size-capped; its first error is an InventoryError."""
    doc, problems = read_document(path, display(path, folder.parent), folder,
                                  allow_empty=True)
    errors = [d for d in problems if d.severity == "error"]
    if doc is None or errors:
        first = errors[0] if errors else problems[0]
        where = f"{first.file}:{first.line}" if first.line else first.file
        key = f" {first.path}:" if first.path else ""
        raise InventoryError(f"{where}:{key} {first.message}",
                             first.hint or "fix the file (see the Ansible YAML inventory "
                             "format)")
    return doc.data or {}


def _walk(groups: dict[str, dict[str, Any]], hostvars: dict[str, dict[str, Any]], name: str,
          body: dict[str, Any] | None) -> None:
    """Group ``name`` of a YAML inventory, and its children, into ``groups`` and
    ``hostvars``."""
    g = groups.setdefault(name, _group())
    body = body or {}
    for host, hv in (body.get("hosts") or {}).items():
        if host not in g["hosts"]:
            g["hosts"].append(host)
        hostvars.setdefault(host, {}).update(hv or {})
    g["vars"].update(body.get("vars") or {})
    for child, cbody in (body.get("children") or {}).items():
        if child not in g["children"]:
            g["children"].append(child)
        _walk(groups, hostvars, child, cbody)


def departments(applied: dict[str, Resource], prefix: str) -> dict[str, Any]:
    """Per department, what the service playbooks need, from the last applied state."""
    out: dict[str, dict[str, Any]] = {}

    def dep(d: str) -> dict[str, Any]:
        _check(d, IDENT, "department id")
        return out.setdefault(d, {
            "id": d, "name": d, "zone": "", "user": site_user(prefix, d),
            "antivirus": {"enabled": False, "schedule": "0 3 * * *"},
            "backup": {"enabled": False, "schedule": "30 1 * * *",
                       "retention": {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 0},
                       "paths": []},
            "network": None, "servers": [], "websites": []})

    for res in sorted(applied.values(), key=lambda r: r.key):
        a = res.attrs
        if res.kind == "project":
            d = dep(res.department)
            d["name"] = _check(a.get("name", res.department), TEXT, "department name")
            d["zone"] = _check(a.get("zone"), "^(intranet|extranet)$", "zone")
        elif res.kind == "website":
            kind = _check(a.get("kind"), "^(static|php|proxy)$", "site kind")
            upstream = a.get("upstream")
            if kind == "proxy":
                _check(upstream, URL, "upstream")
            dep(res.department)["websites"].append({
                "domain": _check(res.name, DNS, "domain"), "kind": kind,
                "upstream": upstream if kind == "proxy" else None,
                "zone": _check(a.get("zone"), "^(intranet|extranet)$", "zone"),
                "public": bool(a.get("public", True))})
        elif res.kind == "antivirus":
            dep(res.department)["antivirus"] = {
                "enabled": bool(a.get("enabled")),
                "schedule": _check(a.get("schedule"), CRON, "antivirus schedule")}
        elif res.kind == "backup":
            r = a.get("retention", {})
            dep(res.department)["backup"] = {
                "enabled": bool(a.get("enabled")),
                "schedule": _check(a.get("schedule"), CRON, "backup schedule"),
                "retention": {k: int(r.get(k, 0)) for k in ("daily", "weekly", "monthly",
                                                             "yearly")},
                "paths": _backup_paths(a.get("paths", []))}
        elif res.kind == "network":
            dep(res.department)["network"] = _cidr(res)
        elif res.kind == "server":
            dep(res.department)["servers"].append({
                "name": _check(res.name, NAME, "server name"),
                "address": _address(res), "antivirus": bool(a.get("antivirus", True)),
                "backup": bool(a.get("backup", True))})
    for d in out.values():
        if d["zone"] == "" and d["websites"]:
            d["zone"] = d["websites"][0]["zone"]
    return dict(sorted(out.items()))


def _backup_paths(paths: list[Any]) -> list[str]:
    """A department's backup paths, each checked, without those inside another or repeated
    (``patterns.covered``, which validate refuses): a state applied before that rule keeps
    working, and no pull of an inner path can follow a server's link out of the department's
    folder."""
    checked = [_check(p, BACKUP_PATH, "backup path") for p in paths]
    inner = covered(checked)
    return [p for i, p in enumerate(checked) if i not in inner]


def _cidr(res: Resource) -> str | None:
    value = res.computed.get("cidr")
    try:
        return str(ipaddress.IPv4Network(value)) if isinstance(value, str) else None
    except ValueError:
        return None


def reach_upstreams(deps: dict[str, Any], networks: dict[str, str],
                    allowed: tuple[str, ...] = ()) -> None:
    """Each proxy site's upstream checked by validate's rule (``core.upstreams.problem``),
    now with the department's own network known, and a server's name turned into its
    address. A site whose upstream is out of reach, or names a server with no address yet,
    gets none (``upstream_problem`` says why; the web host answers 502 for it): one
    department's site never stops another's, and no upstream reaches what validate
    refuses."""
    for d in deps.values():
        addresses = {s["name"]: s["address"] for s in d["servers"]}
        reach = Reach(d["zone"], networks, frozenset(addresses), allowed, d["network"])
        for site in d["websites"]:
            site["upstream_problem"] = None
            if site["kind"] != "proxy":
                continue
            why = problem(site["upstream"], reach)
            target = None if why else resolved(site["upstream"], addresses)
            if why:
                site["upstream_problem"] = why[0]
            elif target is None:
                site["upstream_problem"] = (f"server {host_of(site['upstream'])!r} has no "
                                            "address yet")
            site["upstream"] = target


def _address(res: Resource) -> str | None:
    for key in ("address", "ip", "fixed_ip", "access_ipv4"):
        value = res.computed.get(key)
        if isinstance(value, str) and re.fullmatch(r"[0-9a-fA-F.:]+", value):
            return value
    return None


def build(estate: Estate, applied: dict[str, Resource], folder: Path | None = None,
          servers: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole inventory: static hosts and settings, plus the departments from state.

    With ``services.servers`` on, each department's servers are hosts of the group
    ``dept_<id>`` (a child of ``department_servers``), named ``<id>.<server>`` and reached at
    the address the driver gave them (a server with none yet is left out: Ansible would look
    its name up in DNS); ``servers`` holds the connection variables of the
    estate's key (:mod:`govcloud.services.access`) for the group."""
    inv = load_static(folder or estate.root / "inventories")
    allvars = inv["all"]["vars"]
    prefix = str(allvars.get("site_user_prefix", "gc-"))
    _check(prefix, r"^[a-z][a-z0-9-]{0,8}$", "site_user_prefix")
    deps = departments(applied, prefix)
    svc = estate.settings.services
    reach_upstreams(deps, estate.settings.networks, svc.upstream_networks)
    sites = []
    for d in deps.values():
        for w in d["websites"]:
            sites.append({**w, "department": d["id"], "user": d["user"],
                          "conf": f"{d['id']}_{w['domain']}.conf"})
    allvars.update({
        "govcloud_estate": estate.settings.estate,
        "govcloud_departments": deps,
        "govcloud_websites": sites,
        "govcloud_av_signatures": svc.signatures,
        "govcloud_tls_certificate": svc.tls_certificate or "",
        "govcloud_tls_key": svc.tls_key or "",
        "govcloud_servers": bool(svc.servers),
    })
    group_of = inv["department_servers"]
    if svc.servers:
        for name, value in (servers or {}).items():
            group_of["vars"].setdefault(name, value)
        for d in deps.values():
            group = f"dept_{d['id'].replace('-', '_')}"
            inv[group] = {"hosts": [], "vars": {"govcloud_department": d["id"]}, "children": []}
            if group not in group_of["children"]:
                group_of["children"].append(group)
            for s in d["servers"]:
                if not s["address"]:  # never left to DNS: the name is no address of ours
                    continue
                host = f"{d['id']}.{s['name']}"
                inv[group]["hosts"].append(host)
                hv = inv["_meta"]["hostvars"].setdefault(host, {})
                hv.setdefault("govcloud_department", d["id"])
                hv.setdefault("ansible_host", s["address"])
    return inv
