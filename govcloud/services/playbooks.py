"""Shared services (web hosting, antivirus, backup) configured by Ansible after apply.

The playbooks (the estate's own ``playbooks/``, else the set shipped with govcloud; see
``playbook_folder``) run through ansible-runner with the inventory of ``inventory.build``:
the shared hosts of ``inventories/`` plus the departments from the state store. Each run
keeps its artifacts under the state folder (``.state/services/runs/<id>``); only the
departments an apply changed are re-run.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import govcloud
from govcloud.core.kinds import KIND
from govcloud.core.model import Estate
from govcloud.core.planning import Change
from govcloud.errors import GovcloudError
from govcloud.services import access, inventory
from govcloud.services.base import AppliedState
from govcloud.services.runner import (
    Line,
    PlaybookFailed,
    PlaybookRun,
    prune_runs,
    require_ansible,
    run_playbook,
)
from govcloud.services.scans import ScanLog

__all__ = ["PLAYBOOKS", "PlaybookFailed", "PlaybookRun", "ServicesOutcome", "after_apply",
           "build_inventory", "changed_departments", "playbook_folder", "run_services",
           "state_dir"]

PLAYBOOKS = ("webhosting", "antivirus", "backup")


@dataclass
class ServicesOutcome:
    """What the service playbooks did after an apply (or why they did not run)."""

    departments: list[str] = field(default_factory=list)
    runs: list[PlaybookRun] = field(default_factory=list)
    skipped: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error and all(r.ok for r in self.runs)

    def as_dict(self) -> dict[str, Any]:
        return {"departments": self.departments, "skipped": self.skipped or None,
                "error": self.error or None, "ok": self.ok,
                "runs": [r.as_dict() for r in self.runs]}

    def render(self) -> str:
        if self.skipped:
            return f"Service playbooks skipped: {self.skipped}."
        lines = [f"Service playbooks failed: {self.error}"] if self.error else []
        for r in self.runs:
            if r.ok:
                lines.append(f"{r.playbook}: ok, {r.changed} changed ({r.seconds:.0f}s, "
                             f"artifacts {r.artifacts})")
            else:
                lines.append(r.render_failure())
        return "\n".join(lines)


def state_dir(estate: Estate, store: AppliedState) -> Path:
    """The state folder: beside the SQLite file, else the estate's .state (made owner-only
    when missing, as the store makes it: run artifacts, fetched reports and the estate's SSH
    key go below it)."""
    if store.path is not None:
        return store.path.parent.resolve()
    folder = estate.root / ".state"
    if not folder.exists():
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # whatever the umask
    return folder.resolve()


def changed_departments(changes: Iterable[Change]) -> list[str]:
    """Departments whose sites, antivirus, backup or servers an apply changed (the kinds
    ``core.kinds`` marks ``service``)."""
    return sorted({c.department for c in changes if KIND[c.kind].service})


def build_inventory(estate: Estate, store: AppliedState) -> dict[str, Any]:
    """The inventory of :func:`inventory.build`; with ``services.servers`` on, the estate's
    SSH key for the department servers is made first when there is none."""
    servers = None
    if estate.settings.services.servers:
        servers = access.estate_access(state_dir(estate, store) / "services" / "ssh",
                                       f"govcloud-{estate.settings.estate}").ansible_vars()
    return inventory.build(estate, store.applied(), servers=servers)


def packaged_playbooks() -> Path | None:
    """The playbooks built into an installed govcloud (``govcloud/_playbooks``, copied from
    the repository's ``playbooks/`` by setup.py), if this install has them."""
    folder = resources.files(govcloud).joinpath("_playbooks")
    return folder if isinstance(folder, Path) and folder.is_dir() else None


def checkout_playbooks() -> Path | None:
    """The source checkout's ``playbooks/``, when govcloud runs from one (an editable
    install, or PYTHONPATH)."""
    root = Path(govcloud.__file__).resolve().parent.parent
    folder = root / "playbooks"
    return folder if (root / "pyproject.toml").is_file() and folder.is_dir() else None


def playbook_folder(estate_root: Path, packaged: Path | None = None,
                    checkout: Path | None = None) -> Path:
    """Where the service playbooks come from, first found: the estate's own ``playbooks/``
    (it replaces the shipped set whole), the set packaged with govcloud, the source
    checkout's. ``packaged`` and ``checkout`` stand in for this install's (tests)."""
    own = estate_root / "playbooks"
    if own.is_dir():
        return own.resolve()
    for folder in (packaged, checkout):
        if folder is not None and folder.is_dir():
            return folder.resolve()
    raise GovcloudError(
        f"no service playbooks: the estate {estate_root} has no playbooks/ folder and this "
        f"govcloud install carries none (govcloud/_playbooks is missing beside "
        f"{Path(govcloud.__file__).parent})",
        "reinstall govcloud from a wheel or source checkout (pip install --force-reinstall "
        "govcloud), or copy playbooks/ from the govcloud repository into the estate")


def _playbook(estate: Estate, name: str) -> Path:
    folder = playbook_folder(estate.root, packaged_playbooks(), checkout_playbooks())
    path = folder / f"{name}.yml"
    if not path.is_file():
        raise GovcloudError(f"the playbook folder {folder} has no {name}.yml",
                            f"add {name}.yml with its roles to {folder}, or remove the "
                            "estate's playbooks/ folder to use the playbooks shipped with "
                            "govcloud")
    return path


def run_playbooks(estate: Estate, store: AppliedState, names: Iterable[str], departments: list[str],
                  tags: str | None = None, extra: dict[str, Any] | None = None,
                  on_line: Line | None = None, limit: str | None = None) -> list[PlaybookRun]:
    """Run each playbook of ``names`` for ``departments`` (on the hosts of the group
    ``limit`` only, when given); every run is returned."""
    require_ansible()  # before anything is said or built: a missing extra is named first
    inv = build_inventory(estate, store)
    base = state_dir(estate, store) / "services"
    fetch = base / "fetched"
    fetch.mkdir(parents=True, exist_ok=True)
    known = access.known_hosts(base / "ssh")
    runs = []
    for name in names:
        say = on_line or (lambda text: None)
        say(f"Running {name}.yml for {len(departments)} department(s)")
        runs.append(run_playbook(_playbook(estate, name), inv, {
            "govcloud_only": departments, "govcloud_fetch_dir": str(fetch), **(extra or {})},
            base / "runs", tags, on_line, limit, known))
    prune_runs(base / "runs")
    return runs


def run_services(estate: Estate, store: AppliedState, departments: list[str],
                 on_line: Line | None = None) -> ServicesOutcome:
    """Converge web hosting, antivirus and backup for ``departments``."""
    if not departments:
        return ServicesOutcome(skipped="no department's sites, antivirus, backup or "
                               "servers changed")
    return ServicesOutcome(departments, run_playbooks(estate, store, PLAYBOOKS, departments,
                                                      on_line=on_line))


def after_apply(estate: Estate, store: AppliedState, changes: Iterable[Change],
                enabled: bool = True, on_line: Line | None = None) -> ServicesOutcome:
    """The service step of apply: only the changed departments, only when switched on."""
    if not enabled:
        return ServicesOutcome(skipped="--no-services was given")
    if not estate.settings.services.enabled:
        return ServicesOutcome(skipped="services.enabled is off in govcloud.yaml (turn it on "
                               "once inventories/ names real web, mirror and backup hosts)")
    try:
        return run_services(estate, store, changed_departments(changes), on_line)
    except GovcloudError as exc:  # the cloud changes stand; say why the services did not run
        return ServicesOutcome(changed_departments(changes), error=exc.render())


def fresh(folder: Path) -> Path:
    """An empty ``folder`` for files fetched by one run."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def collect_scans(estate: Estate, store: AppliedState, departments: list[str],
                  on_line: Line | None = None) -> tuple[list[Any], list[PlaybookRun]]:
    """Fetch the departments' scan logs from every scanned host (antivirus.yml, tag
    collect); returns them as ``security.ScanLog`` values and the run."""
    fresh(state_dir(estate, store) / "services" / "fetched" / "security")
    runs = run_playbooks(estate, store, ["antivirus"], departments, tags="collect",
                         on_line=on_line)
    return collected_scans(estate, store), runs


def collected_scans(estate: Estate, store: AppliedState,
                    department: str | None = None) -> list[Any]:
    """The scan logs the last ``govcloud report security`` fetched (kept in the state
    folder: host/department/stamp.log), as ``security.ScanLog`` values, without running
    anything; with ``department``, that department's alone (its folder on each host, not
    every department's logs read)."""
    fetched = state_dir(estate, store) / "services" / "fetched" / "security"
    pattern = f"*/{glob.escape(department)}/*.log" if department is not None else "*/*/*.log"
    return [ScanLog(log.parent.parent.name, log.parent.name, log.stem,
                    log.read_text(errors="replace"))
            for log in sorted(fetched.glob(pattern))]
