"""The backup restore drill, restores and status, run on the backup hosts through backup.yml.

Two sites: the primary backup host (group ``backup_hosts``) and the disaster-recovery host
(``dr_backup_hosts``), which pulls every department's new snapshots into a repository of its
own. ``verify`` restores each department's latest snapshot at a site into a scratch folder
there and checks every file against the checksum manifest taken at backup time (and the
repository with ``restic check``); ``restore`` puts the latest snapshot back into a folder;
``rehearse`` is one drill timed end to end (the measured recovery time); ``status`` collects
each site's newest snapshot, size and last drill for ``govcloud report backup``.
Passwords stay on the backup hosts: restic reads them from their files there.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from govcloud.core.model import Estate
from govcloud.core.patterns import ABS_PATH
from govcloud.errors import GovcloudError
from govcloud.services.base import AppliedState
from govcloud.services.playbooks import (
    PlaybookRun,
    build_inventory,
    fresh,
    run_playbooks,
    state_dir,
)
from govcloud.services.recovery import (
    BackupRow,
    SiteStatus,
    backup_report,
    parse_status,
    printable,
    rows_from,
    status_dicts,
)
from govcloud.services.runner import Line

SITE_CHOICES = ("primary", "dr", "both")
# per site: the host group, the tags of the drill and the restore, the fetched folder
_GROUP = {"primary": "backup_hosts", "dr": "dr_backup_hosts"}
_TAG = {"primary": "", "dr": "-dr"}
STATUS_FILE = "backup-status.json"


@dataclass
class Drill:
    """The restore drill of one department on one backup host."""

    department: str
    host: str
    ok: bool
    status: str
    snapshot: str = ""
    files: int = 0
    checked_at: str = ""
    mismatches: list[str] = field(default_factory=list)
    site: str = "primary"
    restore_seconds: float | None = None  # restic restore alone, timed on the backup host
    restored_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_drill(department: str, host: str, text: str, site: str = "primary") -> Drill:
    """A drill report (``verify.txt``) as a value."""
    d = Drill(department, host, False, "failed: empty report", site=site)
    for line in text.splitlines():
        word, _, rest = printable(line).partition(" ")
        if word == "restore_seconds":
            number = rest.isascii() and rest.replace(".", "", 1).isdigit()
            d.restore_seconds = float(rest) if number else None
        elif word == "restored_bytes":
            d.restored_bytes = int(rest) if rest.isascii() and rest.isdigit() else 0
        elif word == "checked_at":
            d.checked_at = rest
        elif word == "snapshot":
            d.snapshot = rest
        elif word == "files":
            d.files = int(rest) if rest.isascii() and rest.isdigit() else 0
        elif word == "status":
            d.status = rest
            d.ok = rest == "ok"
        elif word in ("mismatch", "check") and rest:
            d.mismatches.append(rest)
    return d


def _departments(estate: Estate, department: str | None) -> list[str]:
    with_backup = sorted(p.id for p in estate.plans.values() if p.backup.enabled)
    if department is None:
        return with_backup
    if department not in estate.plans:
        raise GovcloudError(f"no department '{department}' in the estate",
                            "use a department id from plans/, e.g. "
                            + ", ".join(sorted(estate.plans)[:5]))
    if department not in with_backup:
        raise GovcloudError(f"{estate.plans[department].file}: services.backup.enabled: "
                            f"department '{department}' has backup switched off",
                            "set it to true there and apply, or pick a department with "
                            "backup on")
    return [department]


def _sites(site: str) -> list[str]:
    if site not in SITE_CHOICES:
        raise GovcloudError(f"no backup site '{site}'", "use --site primary, dr or both")
    return ["primary", "dr"] if site == "both" else [site]


def _group_hosts(inv: dict[str, Any], group: str) -> list[str]:
    g = inv.get(group) or {}
    return [*g.get("hosts", []), *(h for c in g.get("children", [])
                                   for h in _group_hosts(inv, c))]


def require_hosts(estate: Estate, store: AppliedState, sites: list[str]) -> None:
    """Refuse, before any playbook runs, a site whose inventory group has no host (Ansible
    would only say its host pattern matched nothing)."""
    inv = build_inventory(estate, store)
    missing = [where for where in sites if not _group_hosts(inv, _GROUP[where])]
    if missing:
        label = {"primary": "primary", "dr": "disaster-recovery"}
        raise GovcloudError(
            "; ".join(f"no backup host at the {label[w]} site: the inventory group "
                      f"{_GROUP[w]} is empty" for w in missing),
            f"name the host under {', '.join(_GROUP[w] for w in missing)} in "
            "inventories/hosts.yml (see govcloud inventory --list)")


def verify(estate: Estate, store: AppliedState, department: str | None = None,
           on_line: Line | None = None, site: str = "primary"
           ) -> tuple[list[Drill], list[PlaybookRun]]:
    """Run the restore drill at ``site`` (primary, dr or both) for one department or all
    with backup on."""
    deps = _departments(estate, department)
    require_hosts(estate, store, _sites(site))
    drills: list[Drill] = []
    runs: list[PlaybookRun] = []
    for where in _sites(site):
        folder = "backup" + _TAG[where]
        fetched = fresh(state_dir(estate, store) / "services" / "fetched" / folder)
        these = run_playbooks(estate, store, ["backup"], deps, tags="verify" + _TAG[where],
                              on_line=on_line, limit=_GROUP[where])
        runs += these
        found = []
        for host_dir in sorted(p for p in fetched.iterdir() if p.is_dir()):
            for report in sorted(host_dir.glob("*.txt")):
                found.append(parse_drill(report.stem, host_dir.name, report.read_text(),
                                         where))
        done = {d.department for d in found}
        for dep in deps:
            if dep not in done and all(r.ok for r in these):
                found.append(Drill(dep, "-", False, "failed: no drill report (no backup "
                                   "host at this site, or the department was never backed "
                                   "up)", site=where))
        drills += found
    return drills, runs


def _target(target: str) -> str:
    """A restore target fit for the playbook: Ansible templates an extra variable (so
    ``{{ … }}`` in it would run on this machine) and the backup host's script gets it, so
    only an absolute path of plain names passes."""
    fix = "give a folder such as /srv/restore, or / to put files back"
    if not target.startswith("/"):
        raise GovcloudError(f"restore target {target!r} is not an absolute path", fix)
    if ".." in target.split("/"):
        raise GovcloudError(f"restore target {target!r} climbs with '..'", fix)
    if target != "/" and not re.fullmatch(ABS_PATH, target.rstrip("/")):
        raise GovcloudError(f"restore target {target!r} holds characters a folder name may "
                            "not have here",
                            "use letters, digits, '_', '.' and '-' between the '/'s, e.g. "
                            "/srv/restore/finance")
    return target


def restore(estate: Estate, store: AppliedState, department: str, target: str,
            on_line: Line | None = None, site: str = "primary") -> PlaybookRun:
    """Restore the department's latest snapshot at ``site`` into ``target`` on that
    site's backup host (only that site's hosts are contacted: the other may be gone)."""
    deps = _departments(estate, department)
    if site not in ("primary", "dr"):
        raise GovcloudError(f"cannot restore from site '{site}'", "use --site primary or dr")
    extra = {"govcloud_restore_target": _target(target)}
    require_hosts(estate, store, [site])
    return run_playbooks(estate, store, ["backup"], deps, tags="restore" + _TAG[site],
                         extra=extra,
                         on_line=on_line, limit=_GROUP[site])[0]


@dataclass
class Rehearsal:
    """A timed restore into a scratch folder: the measured recovery time."""

    department: str
    site: str
    drill: Drill
    seconds: float  # end to end: the playbook run, restic check, restore and comparison

    def as_dict(self) -> dict[str, Any]:
        return {"department": self.department, "site": self.site, "ok": self.drill.ok,
                "seconds": round(self.seconds, 2), "drill": self.drill.as_dict()}


def rehearse(estate: Estate, store: AppliedState, department: str, site: str,
             on_line: Line | None = None) -> tuple[Rehearsal, list[PlaybookRun]]:
    """Restore the latest snapshot at ``site`` into a scratch folder on its backup host,
    check it against the manifest, and time it."""
    if site not in ("primary", "dr"):
        raise GovcloudError(f"cannot rehearse a restore from site '{site}'",
                            "use --site primary or dr")
    started = time.monotonic()
    drills, runs = verify(estate, store, department, on_line, site)
    seconds = time.monotonic() - started
    drill = drills[0] if drills else Drill(department, "-", False, "failed: no drill report",
                                           site=site)
    return Rehearsal(department, site, drill, seconds), runs


def rpo_hours(estate: Estate) -> dict[str, int]:
    """Each department with backup on: its plan's RPO, else the estate's default."""
    default = estate.settings.services.rpo_hours
    return {p.id: p.backup.rpo_hours or default for p in estate.plans.values()
            if p.backup.enabled}


def status(estate: Estate, store: AppliedState, department: str | None = None,
           on_line: Line | None = None, now: datetime | None = None
           ) -> tuple[list[BackupRow], list[PlaybookRun]]:
    """Collect every site's status reports (backup.yml, tag status), keep them in the state
    folder for the exporter, and return the report rows."""
    deps = _departments(estate, department)
    base = state_dir(estate, store) / "services"
    fetched = fresh(base / "fetched" / "backup-status")
    runs = run_playbooks(estate, store, ["backup"], deps, tags="status", on_line=on_line)
    statuses = []
    for report in sorted(fetched.glob("*/*/*.txt")):
        site, host = report.parent.parent.name, report.parent.name
        statuses.append(parse_status(report.stem, site, host, report.read_text()))
    save_statuses(base / STATUS_FILE, statuses, deps)
    rpo = {d: h for d, h in rpo_hours(estate).items() if d in deps}
    return backup_report(statuses, rpo, now or datetime.now(UTC)), runs


def saved_report(estate: Estate, store: AppliedState, now: datetime) -> list[BackupRow]:
    """The report rows of the statuses the last ``govcloud report backup`` collected (kept in
    the state folder), without running anything: what the exporter and the portal show. Only
    departments with a saved status have rows; ages run on with ``now``."""
    saved = load_statuses(state_dir(estate, store) / "services" / STATUS_FILE)
    rpo = {d: h for d, h in rpo_hours(estate).items()
           if d in {st.department for st in saved}}
    return backup_report(saved, rpo, now)


def save_statuses(path: Path, statuses: list[SiteStatus], departments: list[str]) -> None:
    """Merge the collected statuses into the saved ones (other departments' stay)."""
    kept = [s for s in load_statuses(path) if s.department not in departments]
    path.write_text(json.dumps(status_dicts(kept + statuses), indent=1, ensure_ascii=False))


def load_statuses(path: Path) -> list[SiteStatus]:
    try:
        return rows_from(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return []
