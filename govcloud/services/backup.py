"""The backup restore drill and restores, run on the backup host through backup.yml.

``verify`` restores each department's latest snapshot into a scratch folder on the backup
host and checks every file against the checksum manifest taken at backup time (and the
repository with ``restic check``); ``restore`` puts the latest snapshot back into a folder.
Passwords stay on the backup host: restic reads them from their files there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govcloud.core.model import Estate
from govcloud.errors import GovcloudError
from govcloud.runtime.store import Store
from govcloud.services.playbooks import PlaybookRun, fresh, run_playbooks, state_dir
from govcloud.services.runner import Line


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

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def parse_drill(department: str, host: str, text: str) -> Drill:
    """A drill report (``verify.txt``) as a value."""
    d = Drill(department, host, False, "failed: empty report")
    for line in text.splitlines():
        word, _, rest = line.partition(" ")
        if word == "checked_at":
            d.checked_at = rest
        elif word == "snapshot":
            d.snapshot = rest
        elif word == "files":
            d.files = int(rest) if rest.isdigit() else 0
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
        raise GovcloudError(f"department '{department}' has backup switched off",
                            "set services.backup.enabled: true in its plan")
    return [department]


def verify(estate: Estate, store: Store, department: str | None = None,
           on_line: Line | None = None) -> tuple[list[Drill], list[PlaybookRun]]:
    """Run the restore drill for one department or all with backup on."""
    deps = _departments(estate, department)
    fetched = fresh(state_dir(estate, store) / "services" / "fetched" / "backup")
    runs = run_playbooks(estate, store, ["backup"], deps, tags="verify", on_line=on_line)
    drills = []
    for host_dir in sorted(p for p in fetched.iterdir() if p.is_dir()):
        for report in sorted(host_dir.glob("*.txt")):
            drills.append(parse_drill(report.stem, host_dir.name, report.read_text()))
    found = {d.department for d in drills}
    for dep in deps:
        if dep not in found and all(r.ok for r in runs):
            drills.append(Drill(dep, "-", False, "failed: no drill report (no backup host, "
                                "or the department was never backed up)"))
    return drills, runs


def restore(estate: Estate, store: Store, department: str, target: str,
            on_line: Line | None = None) -> PlaybookRun:
    """Restore the department's latest snapshot into ``target`` on the backup host."""
    deps = _departments(estate, department)
    if not target.startswith("/") or ".." in target.split("/"):
        raise GovcloudError(f"restore target {target!r} is not an absolute path",
                            "give a folder such as /srv/restore or / to put files back")
    return run_playbooks(estate, store, ["backup"], deps, tags="restore",
                         extra={"govcloud_restore_target": target}, on_line=on_line)[0]
