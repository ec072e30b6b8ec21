"""restic, run for govcloud's own state store: the repositories its backups go to (the
primary and the disaster-recovery site's), each opened with the file its password is read
from. restic reads the password itself (``--password-file``): it is never on a command line,
printed or logged. restic's failures become one sentence naming the repository and the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govcloud.errors import StateError

HOST = "govcloud-state"  # the snapshots' host name: the store's, apart from the departments'
TAG = "govcloud-state"
TIMEOUT = 6 * 3600
INSTALL = "install restic (apt-get install restic) on this host"
# restic's backends that are not a folder on this host (restic's docs, "Preparing a new
# repository"): these can be unreachable; a local one can be checked before restic runs.
REMOTE = ("sftp:", "rest:", "s3:", "b2:", "azure:", "gs:", "swift:", "rclone:")
_warned: set[Path] = set()


@dataclass(frozen=True)
class Repository:
    """A restic repository and the file its password is read from."""

    location: str
    password_file: Path
    site: str = "primary"  # primary | dr: how the messages name it

    def __str__(self) -> str:
        return f"the {self.site} repository {self.location}"


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: str
    tags: tuple[str, ...]

    def tag(self, name: str) -> str:
        """The value of the ``name=value`` tag, or ''."""
        return next((t.split("=", 1)[1] for t in self.tags if t.startswith(f"{name}=")), "")


def _env(repo: Repository, source: Repository | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
    env.update(RESTIC_REPOSITORY=repo.location, RESTIC_PASSWORD_FILE=str(repo.password_file))
    if source is not None:
        env.update(RESTIC_FROM_REPOSITORY=source.location,
                   RESTIC_FROM_PASSWORD_FILE=str(source.password_file))
    return env


def settings_of(repo: Repository) -> tuple[str, str]:
    """The settings and options that name ``repo``'s location and password file."""
    if repo.site == "dr":
        return ("state_backup.dr_repository in govcloud.yaml, or --copy-to (state restore "
                "--site dr: --repository)",
                "state_backup.dr_password_file in govcloud.yaml, or --copy-password-file "
                "(state restore --site dr: --password-file)")
    return ("state_backup.repository in govcloud.yaml, or --repository",
            "state_backup.password_file in govcloud.yaml, or --password-file")


def _problem(repo: Repository, said: str, doing: str) -> StateError:
    """restic's complaint as what is wrong and the fix."""
    last = (said.strip().splitlines() or ["restic failed"])[-1][:300]
    location, secret = settings_of(repo)
    if "wrong password" in said:
        return StateError(f"restic cannot open {repo}: wrong password (read from "
                          f"{repo.password_file})",
                          "point the password file at the one this repository was made with "
                          f"({secret})")
    if "Is there a repository" in said or "repository does not exist" in said:
        return StateError(f"there is no restic repository at {repo.location} ({repo.site} "
                          f"site)", f"check the location ({location}); to start one there, "
                          "run govcloud state backup --init")
    if "does not exist" in said and str(repo.password_file) in said:
        return StateError(f"the password file {repo.password_file} of {repo} does not exist",
                          "write the repository's password into it (owner-only, out of git), "
                          f"or fix {secret}")
    if repo.location.startswith(REMOTE):
        return StateError(f"restic cannot reach {repo} to {doing}: {last}",
                          "check the address, the network (the host is up and reachable from "
                          "here) and the credentials (ssh key, or the backend's keys in the "
                          f"environment); the location is {location}")
    return StateError(f"restic failed to {doing} ({repo}): {last}",
                      "see restic's message; check the repository with restic check")


def check(repo: Repository) -> None:
    """What can be checked before restic runs: a local repository is a folder (or not there
    yet), the password file a regular, non-empty file; warns on stderr when others may read
    the password file."""
    location, secret = settings_of(repo)
    if not repo.location.startswith(REMOTE):
        here = Path(repo.location)
        if here.exists() and not here.is_dir():
            raise StateError(f"{repo} is not a folder: {here} is a file",
                             f"give the repository's folder ({location})")
    pw = repo.password_file
    try:
        info = pw.stat()
    except FileNotFoundError:
        raise StateError(f"the password file {pw} of {repo} does not exist",
                         "write the repository's password into it (owner-only, out of git), "
                         f"or fix {secret}") from None
    except OSError as exc:
        raise StateError(f"cannot read the password file {pw} of {repo}: {exc.strerror}",
                         f"check its permissions, or fix {secret}") from None
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"the password file {pw} of {repo} is not a file (a folder?)",
                         f"give the file that holds the repository's password ({secret})")
    if info.st_size == 0 or not pw.read_bytes().strip():
        raise StateError(f"the password file {pw} of {repo} is empty",
                         "write the repository's password into it (the one it was made with; "
                         "owner-only, out of git)")
    if info.st_mode & stat.S_IROTH and pw not in _warned:
        _warned.add(pw)
        sys.stderr.write(f"Warning: the password file {pw} of {repo} can be read by every "
                         f"user of this host — chmod 600 {pw} (or 640, group-only)\n")


def run(repo: Repository, args: list[str], doing: str, source: Repository | None = None,
        cwd: Path | None = None) -> str:
    """restic ``args`` on ``repo`` (``source``: the repository a copy reads from); its
    standard output, or StateError naming what went wrong and the fix."""
    if shutil.which("restic") is None:
        raise StateError(f"restic is not installed: it is needed to {doing}", INSTALL)
    for each in (source, repo):
        if each is not None:
            check(each)
    try:
        proc = subprocess.run(["restic", *args], env=_env(repo, source), cwd=cwd,
                              capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise StateError(f"restic is not installed: it is needed to {doing}", INSTALL) from None
    except subprocess.TimeoutExpired:
        raise StateError(f"restic did not {doing} within {TIMEOUT // 3600} hours ({repo})",
                         "check the repository's host and network") from None
    if proc.returncode != 0:
        raise _problem(repo, proc.stderr, doing)  # a copy's source was opened before
    return proc.stdout


def exists(repo: Repository) -> bool:
    """Whether a restic repository can be opened at ``repo`` (its password checked)."""
    try:
        run(repo, ["cat", "config"], "open the repository")
    except StateError as exc:
        if str(exc).startswith("there is no restic repository"):
            return False
        raise
    return True


def init(repo: Repository, chunker_from: Repository | None = None) -> None:
    """Make the repository (the DR one with the primary's chunker parameters, so copies
    deduplicate as the departments' DR copies do)."""
    args = ["init", "--quiet"]
    if chunker_from is not None:
        args.append("--copy-chunker-params")
    run(repo, args, "create the repository", source=chunker_from)


def backup(repo: Repository, folder: Path, tags: list[str]) -> str:
    """Back up ``folder``'s files (stored at the snapshot's root); the new snapshot's id."""
    out = run(repo, ["backup", "--json", "--host", HOST, "--tag", ",".join([TAG, *tags]),
                     "."], "back up the state store", cwd=folder)
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if isinstance(msg, dict) and msg.get("message_type") == "summary":
            return str(msg.get("snapshot_id", ""))[:8]
    raise StateError(f"restic gave no snapshot id for the state store's backup ({repo})",
                     "run restic snapshots to see whether it was taken")


def copy(source: Repository, target: Repository, snapshot: str) -> None:
    """Copy one snapshot from ``source`` into ``target`` (restic copy)."""
    run(target, ["copy", "--quiet", snapshot], "copy the backup to the DR site", source=source)


def snapshots(repo: Repository) -> list[Snapshot]:
    """The state store's snapshots in ``repo``, oldest first."""
    data: Any = json.loads(run(repo, ["snapshots", "--json", "--host", HOST, "--tag", TAG],
                               "list the snapshots") or "[]")
    return sorted((Snapshot(str(s["short_id"]), str(s["time"]), tuple(s.get("tags") or ()))
                   for s in data or []), key=lambda s: s.time)


def pick(repo: Repository, wanted: str | None) -> Snapshot:
    """The snapshot ``wanted`` (an id or its first characters), else the newest."""
    found = snapshots(repo)
    if not found:
        raise StateError(f"{repo} holds no backup of the state store",
                         "take one with govcloud state backup")
    if wanted is None:
        return found[-1]
    match = [s for s in found if wanted and s.id.startswith(wanted[:8])]
    if not match:
        raise StateError(f"no state store snapshot {wanted} in {repo}",
                         "list them with restic snapshots --tag govcloud-state, or leave out "
                         "--snapshot for the newest")
    return match[-1]


def restore(repo: Repository, snapshot: str, target: Path) -> None:
    """Restore ``snapshot``'s files into the folder ``target``."""
    run(repo, ["restore", "--quiet", snapshot, "--target", str(target)],
        "restore the state store's backup")
