"""govcloud's own state store backed up like a department: dumped consistently
(``state.dump``), kept in a restic repository with a manifest (estate, schema version, rows
per table, the dump's checksum) and the audit anchors of that moment, copied to the
disaster-recovery site's repository; restored into a scratch store to prove the copy
(``rehearse``) or into a new store (``restore``).

The audit key is not in the backup: whoever holds the repository's password could otherwise
seal records that verify. It never changes once made, so it is backed up once, apart
(docs/operations.md); a restore checks the trail with the key in the estate's ``audit.keys``
folder, and with the anchors taken with the backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from govcloud.audit import trail
from govcloud.audit.custody import ANCHORS, KEY, Custody
from govcloud.clock import now
from govcloud.core.model import AuditSettings, StateBackupSettings
from govcloud.errors import GovcloudError, StateError
from govcloud.state import dump, restic
from govcloud.state.restic import Repository, Snapshot
from govcloud.state.store import Store
from govcloud.state.tables import SCHEMA_VERSION
from govcloud.state.url import locate, redact

MANIFEST = "manifest.json"
# What else is asked of a restored store while it is open (the CLI passes ``plan``): a line
# saying what it found; a GovcloudError is a problem of the restored store.
Probe = Callable[[Store], str]


@dataclass(frozen=True)
class Taken:
    """A backup taken: its snapshot, where it went, and what it holds."""

    snapshot: str
    repository: str
    kind: str
    rows: dict[str, int]
    copied_to: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Restored:
    """A snapshot restored into a store, and what checking it found."""

    snapshot: Snapshot
    where: str
    rows: dict[str, int]
    expected: dict[str, int]
    audit: trail.ChainCheck
    notes: list[str] = field(default_factory=list)
    plan: str = ""  # what the probe found (plan --detailed-exitcode on the restored store)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.audit.whole and self.rows == self.expected and not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"snapshot": self.snapshot.id, "taken": self.snapshot.time, "where": self.where,
                "ok": self.ok, "rows": self.rows, "expected": self.expected,
                "audit": self.audit.as_dict(), "plan": self.plan,
                "problems": self.problems, "notes": self.notes}


def row_counts(store: Store) -> dict[str, int]:
    """Every table of ``store`` and its number of rows."""
    if store.kind == "sqlite":
        names = store.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name "
                            "NOT LIKE 'sqlite_%' ORDER BY name")
    else:
        names = store.query("SELECT table_name FROM information_schema.tables WHERE "
                            "table_schema = current_schema() ORDER BY table_name")
    return {n: int(store.query(f'SELECT count(*) FROM "{n}"')[0][0]) for (n,) in names}


PREFIX = "govcloud-state-"  # then the process's id: govcloud-state-PID-XXXXXXXX


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_folders(base: Path | None = None) -> list[Path]:
    """Scratch folders (copies of the store) left by a backup or restore that was killed:
    ours (this user's), of a process no longer running. The ones removed."""
    removed = []
    for folder in Path(base or tempfile.gettempdir()).glob(f"{PREFIX}*"):
        with contextlib.suppress(OSError, ValueError):
            if folder.is_symlink() or not folder.is_dir() or \
                    folder.stat().st_uid != os.getuid():
                continue
            pid = int(folder.name.removeprefix(PREFIX).split("-", 1)[0])
            if pid != os.getpid() and not _alive(pid):
                shutil.rmtree(folder)
                removed.append(folder)
    return removed


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    remove_stale_folders()
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ready(repo: Repository, init: bool, chunker_from: Repository | None = None) -> None:
    if not restic.exists(repo):
        if not init:
            raise StateError(f"there is no restic repository at {repo.location} ({repo.site} "
                             f"site)", f"check the location ({restic.settings_of(repo)[0]}); to "
                             "start one there, run govcloud state backup --init")
        restic.init(repo, chunker_from)


def take(store: Store, estate: str, repo: Repository, dr: Repository | None = None,
         init: bool = False) -> Taken:
    """Back up ``store`` into ``repo``, then copy the snapshot to ``dr``: a DR site that
    fails does not cost the primary its snapshot (the error says it was taken)."""
    _ready(repo, init)
    with scratch_folder() as folder:
        anchors = Custody.of(store).anchors_file
        if anchors.exists():  # before the dump: every head in it is of a record in the dump
            shutil.copyfile(anchors, folder / ANCHORS)
        dumped = dump.dump(store, folder)
        rows = row_counts(store)
        manifest = {"estate": estate, "kind": store.kind, "schema": SCHEMA_VERSION,
                    "taken_at": now(), "dump": dumped.name, "sha256": _sha256(dumped),
                    "rows": rows, "store": str(store.where)}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        tags = [f"estate={estate}", f"schema={SCHEMA_VERSION}", f"kind={store.kind}",
                f"taken={manifest['taken_at']}"]
        snapshot = restic.backup(repo, folder, tags)
    if dr is not None:
        try:
            _ready(dr, init, chunker_from=repo)
            restic.copy(repo, dr, snapshot)
        except StateError as exc:
            raise StateError(f"the state store was backed up as snapshot {snapshot} in {repo}, "
                             f"but the copy to the DR site failed: {exc}", exc.hint) from exc
    return Taken(snapshot, repo.location, store.kind, rows, dr.location if dr else "")


def _unpack(repo: Repository, wanted: str | None, folder: Path
            ) -> tuple[Snapshot, dict[str, Any], Path]:
    """The snapshot restored into ``folder``: its manifest and dump, checked."""
    snap = restic.pick(repo, wanted)
    restic.restore(repo, snap.id, folder)
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
        dumped = folder / str(manifest["dump"])
        kind = str(manifest["kind"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StateError(f"snapshot {snap.id} in {repo} is not a state store backup "
                         f"(its manifest: {exc})", "pick another with --snapshot") from None
    if kind not in ("sqlite", "postgresql") or not dumped.is_file() or \
            _sha256(dumped) != manifest.get("sha256"):
        raise StateError(f"the dump in snapshot {snap.id} ({repo}) differs from the checksum "
                         "taken at backup time", "check the repository with restic check; "
                         "restore an older snapshot with --snapshot")
    if int(manifest.get("schema", 0)) > SCHEMA_VERSION:
        raise StateError(f"snapshot {snap.id} is of a store with schema version "
                         f"{manifest['schema']}; this govcloud knows {SCHEMA_VERSION}",
                         "restore it with the govcloud release that wrote it (or newer)")
    return snap, manifest, dumped


def _custody(folder: Path, audit: AuditSettings, root: Path) -> AuditSettings:
    """A custody folder for checking a restored store: the estate's audit key (linked, never
    copied) and the anchors taken with the backup."""
    keys = folder / "keys"
    keys.mkdir(mode=0o700)
    live = Path(audit.keys) if Path(audit.keys).is_absolute() else root / audit.keys
    if (live / KEY).exists():
        (keys / KEY).symlink_to((live / KEY).resolve())
    if (folder / ANCHORS).exists():
        shutil.copyfile(folder / ANCHORS, keys / ANCHORS)
    return AuditSettings(audit.algorithm, str(keys))


def _check(url: str, root: Path, estate: str, audit: AuditSettings, snap: Snapshot,
           manifest: dict[str, Any], probe: Probe | None) -> Restored:
    store = Store(url, root, estate, audit=audit)
    try:
        done = Restored(snap, str(store.where), row_counts(store),
                        dict(manifest.get("rows") or {}), trail.verify(store))
        if probe is not None:
            try:
                done.plan = probe(store)
            except GovcloudError as exc:
                done.problems.append(f"plan on the restored store: {exc.render()}")
    finally:
        store.close()
    return done


def rehearse(repo: Repository, root: Path, estate: str, audit: AuditSettings,
             wanted: str | None = None, scratch: str | None = None,
             server: str | None = None, probe: Probe | None = None) -> Restored:
    """Restore a snapshot into a scratch store (a file, or a database made for the purpose on
    ``server`` unless ``scratch`` names one), open it with this code, verify its audit trail
    and count its rows; the scratch store is removed after. The live store is not touched."""
    with scratch_folder() as folder:
        snap, manifest, dumped = _unpack(repo, wanted, folder)
        settings = _custody(folder, audit, root)
        if manifest["kind"] == "sqlite":
            url = scratch or f"sqlite:///{folder / 'rehearsal.db'}"
            dump.load(dumped, "sqlite", url, root)
            return _check(url, root, estate, settings, snap, manifest, probe)
        with _scratch_database(scratch, server) as url:
            dump.load(dumped, "postgresql", url, root)
            return _check(url, root, estate, settings, snap, manifest, probe)


# What a restore makes in a PostgreSQL database: its tables (their sequences and indexes
# go with them) and the append-only trigger's function.
_MADE = ("SELECT 'TABLE', quote_ident(relname) FROM pg_class WHERE relkind IN ('r', 'p') "
         "AND relnamespace = current_schema()::regnamespace UNION "
         "SELECT 'SEQUENCE', quote_ident(relname) FROM pg_class WHERE relkind = 'S' "
         "AND relnamespace = current_schema()::regnamespace UNION "
         "SELECT 'FUNCTION', p.oid::regprocedure::text FROM pg_proc p WHERE "
         "p.pronamespace = current_schema()::regnamespace")


def _objects(url: str) -> set[tuple[str, str]]:
    import psycopg  # the postgres extra: the scratch is PostgreSQL

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        return {(str(k), str(n)) for k, n in conn.execute(_MADE).fetchall()}


@contextlib.contextmanager
def _emptied_after(scratch: str) -> Iterator[str]:
    """A scratch database given with --scratch, left as it was found: what the rehearsal
    made there is dropped after (whatever its outcome). One that already holds tables is
    refused by the restore, and never touched."""
    import psycopg  # the postgres extra: the scratch is PostgreSQL

    where = locate(scratch)
    if where.kind != "postgresql" or dump.target_problem(where) is not None:
        yield scratch  # the restore refuses it, naming why
        return
    before = _objects(scratch)
    try:
        yield scratch
    finally:
        order = {"TABLE": 0, "FUNCTION": 1, "SEQUENCE": 2}
        made = sorted(_objects(scratch) - before, key=lambda o: (order[o[0]], o[1]))
        with psycopg.connect(scratch, autocommit=True, connect_timeout=10) as conn:
            for kind, name in made:
                conn.execute(f"DROP {kind} IF EXISTS {name} CASCADE")


@contextlib.contextmanager
def _scratch_database(scratch: str | None, server: str | None) -> Iterator[str]:
    if scratch is not None:
        with _emptied_after(scratch) as url:
            yield url
        return
    if server is None or not server.startswith(("postgresql:", "postgres:")):
        raise StateError("this backup is of a PostgreSQL store and there is no PostgreSQL "
                         "server to rehearse on", "give an empty database with --scratch "
                         "postgresql://USER@HOST/DB")
    import psycopg  # the postgres extra: the store is PostgreSQL

    name = "govcloud_rehearsal_" + uuid.uuid4().hex[:10]
    try:
        with psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.Error as exc:
        raise StateError(f"cannot make a scratch database on {redact(server)}: "
                         f"{str(exc).strip().splitlines()[0]}",
                         "give this user CREATEDB, or an empty database with --scratch "
                         "postgresql://USER@HOST/DB") from exc
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with contextlib.suppress(psycopg.Error), \
                psycopg.connect(server, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def restore(repo: Repository, root: Path, estate: str, audit: AuditSettings, target: str,
            wanted: str | None = None, probe: Probe | None = None) -> Restored:
    """Restore a snapshot into a new store at ``target`` (a file that does not exist, or an
    empty database), then check it as a rehearsal does. The estate's anchors file is never
    written over: when it is missing (the host was lost) the backup's anchors are put there;
    otherwise they are put beside it, and the notes say what to do."""
    problem = dump.target_problem(locate(target, root))
    if problem:  # before restic is asked: refused as load would, after the download
        raise StateError(f"will not restore over a store: {problem}",
                         "give a new file or an empty database (createdb NAME), or move the "
                         "old one away first")
    with scratch_folder() as folder:
        snap, manifest, dumped = _unpack(repo, wanted, folder)
        dump.load(dumped, str(manifest["kind"]), target, root)
        result = _check(target, root, estate, _custody(folder, audit, root), snap, manifest,
                        probe)
        result.notes += _place_anchors(folder / ANCHORS, Custody(
            Path(audit.keys) if Path(audit.keys).is_absolute() else root / audit.keys,
            audit.algorithm), snap)
    return result


def _place_anchors(saved: Path, live: Custody, snap: Snapshot) -> list[str]:
    if not saved.exists():
        return []
    if not live.anchors_file.exists():
        live.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copyfile(saved, live.anchors_file)
        live.anchors_file.chmod(0o600)
        return [f"the anchors taken with the backup are now {live.anchors_file}"]
    if saved.read_bytes() == live.anchors_file.read_bytes():
        return []  # no record was written since the backup
    beside = live.folder / f"{ANCHORS}.from-{snap.id}"
    shutil.copyfile(saved, beside)
    beside.chmod(0o600)
    return [f"{live.anchors_file} was left as it is; the anchors taken with the backup are "
            f"in {beside}. Records anchored there after the backup are lost with it: keep "
            f"that file as their record. Before the restored store is used, move "
            f"{live.anchors_file} aside and put {beside} in its place (docs/operations.md)"]


def repository(settings: StateBackupSettings, root: Path, site: str = "primary",
               location: str | None = None, password_file: Path | None = None
               ) -> Repository:
    """The repository of ``site`` (primary or dr): the options given, else ``state_backup``
    in govcloud.yaml; a password file relative to the estate."""
    dr = site == "dr"
    where = location or (settings.dr_repository if dr else settings.repository)
    secret = password_file or Path(settings.dr_password_file if dr else
                                   settings.password_file)
    key = "dr_" if dr else ""
    if location is not None and not location.strip():
        raise StateError(f"the {site} repository given is empty",
                         "give its location to " + ("--copy-to" if dr else "--repository")
                         + f", or leave the option out for state_backup.{key}repository")
    if not where:
        raise StateError(f"no restic repository for the state store's backups ({site} site)",
                         f"set state_backup.{key}repository in govcloud.yaml, or give "
                         + ("--copy-to" if dr else "--repository"))
    if not str(secret) or str(secret) == ".":
        raise StateError(f"no password file for the restic repository {where}",
                         f"set state_backup.{key}password_file in govcloud.yaml, or give "
                         + ("--copy-password-file" if dr else "--password-file"))
    return Repository(where, secret if secret.is_absolute() else root / secret, site)
