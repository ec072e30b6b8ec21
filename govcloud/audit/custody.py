"""Where the audit trail's key and anchors are kept: outside the state store, in the folder
``audit.keys`` of govcloud.yaml (``.state-keys/`` beside the estate's ``.state/`` unless set).

``audit.key`` is the HMAC key every record is sealed with: 32 random bytes (as 64 hex digits),
made on first use, owner-only. It is never logged or printed. Whoever has it can seal records
that verify, so keep the folder to govcloud's user and back the key up apart from the store;
losing it leaves the keyed records unverifiable (they stay readable).

``audit.anchors`` is append-only: one line per record written, ``SEQ HASH TIME``, synced to
disk after the record commits, and one per prune (``prune BELOW CHAIN TIME ALG MAC``, sealed
with the key: ``core.trail.PruneMark``), written before the prune deletes. ``govcloud audit
verify`` checks the trail against it, which finds a cut, a wipe, a rewrite and a deletion
with renumbering with no head given, and tells a prune from a deletion of the oldest records.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from govcloud.core.trail import ALGORITHMS, Anchor, Entry, PruneMark, algorithm, available
from govcloud.errors import StateError
from govcloud.state.store import Store

log = logging.getLogger(__name__)

KEY = "audit.key"
ANCHORS = "audit.anchors"
KEY_BYTES = 32
CUSTODY_DOC = "docs/operators.md#the-audit-key-and-anchors"


@dataclass(frozen=True)
class Custody:
    """The key and anchors of one store's trail, and the algorithm new records use."""

    folder: Path
    setting: str  # audit.algorithm as written

    @staticmethod
    def of(store: Store) -> Custody:
        folder = Path(store.audit.keys)
        return Custody(folder if folder.is_absolute() else store.root / folder,
                       store.audit.algorithm)

    @property
    def key_file(self) -> Path:
        return self.folder / KEY

    @property
    def anchors_file(self) -> Path:
        return self.folder / ANCHORS

    @property
    def alg(self) -> str:
        return algorithm(self.setting)

    def key(self) -> bytes | None:
        """The key, or None when its file is missing; StateError when it cannot be read or
        is not a key."""
        try:
            text = self.key_file.read_text("ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise StateError(f"the audit key {self.key_file} cannot be read: {exc}",
                             "give govcloud's user read access to it (it stays owner-only), "
                             f"or restore it from its backup ({CUSTODY_DOC})") from None
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) != KEY_BYTES:
            raise StateError(f"the audit key {self.key_file} is not a key ({KEY_BYTES * 2} hex "
                             "digits): it was edited or replaced",
                             f"restore it from its backup ({CUSTODY_DOC})")
        _owner_only(self.key_file, 0o600)
        return key

    def key_for_writing(self, last: Entry | None) -> bytes:
        """The key to seal the next record with: made on first use (no keyed record and no
        anchor yet), never in place of one that went missing."""
        if not available(self.alg):
            raise StateError(f"audit.algorithm is {self.setting}, but this Python's OpenSSL "
                             f"has no {ALGORITHMS[self.alg].upper()}",
                             "set audit.algorithm: auto in govcloud.yaml (SM3 where OpenSSL "
                             "has it, else SHA-256), or run govcloud with an OpenSSL that has "
                             "SM3")
        key = self.key()
        if key is not None:
            return key
        anchored = self.anchors_file.exists()
        if (last is not None and last.alg) or anchored:
            what = f"records up to {last.seq} are" if last is not None and last.alg else \
                f"the anchors ({self.anchors_file}) say records were"
            raise StateError(f"the audit key {self.key_file} is missing, though {what} sealed "
                             "with it: no record can be added without it",
                             f"restore the key from its backup ({CUSTODY_DOC}); govcloud "
                             "never makes a new one in its place")
        return self._make_key()

    def _make_key(self) -> bytes:
        key = secrets.token_bytes(KEY_BYTES)
        try:
            _private_folder(self.folder)
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it a moment ago
            made = self.key()
            assert made is not None
            return made
        except OSError as exc:
            raise StateError(f"cannot make the audit key {self.key_file}: {exc.strerror}",
                             "give govcloud's user write access to that folder, or set "
                             "audit.keys in govcloud.yaml to one it may write") from None
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        _sync_folder(self.folder)
        log.info("made the audit key %s (back it up apart from the state store)",
                 self.key_file)
        return key

    def anchor(self, entry: Entry) -> None:
        """Note ``entry``'s head in the anchors file, synced to disk. Called once the record
        has committed; a failure is logged (the record stands), never raised."""
        try:
            self._append(Anchor(entry.seq, entry.hash, entry.at).line())
        except OSError as exc:
            log.error("could not anchor audit record %s in %s: %s — govcloud audit verify "
                      "cannot tell a cut of it; give govcloud's user write access there",
                      entry.seq, self.anchors_file, exc.strerror)

    def mark(self, mark: PruneMark) -> None:
        """Note a prune's mark in the anchors file, synced to disk, before the prune deletes
        anything; StateError (and nothing deleted) when it cannot be written."""
        try:
            self._append(mark.line())
        except OSError as exc:
            raise StateError(f"cannot note the prune in the anchors file {self.anchors_file}: "
                             f"{exc.strerror}", "give govcloud's user write access to it "
                             "(nothing was pruned)") from None

    def _append(self, line: str) -> None:
        _private_folder(self.folder)
        fd = os.open(self.anchors_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def marks(self) -> list[tuple[int, PruneMark]]:
        """The prunes' marks in the anchors file, each with its line number (empty when the
        file is missing or unreadable: ``anchors`` reports that)."""
        try:
            text = self.anchors_file.read_text("utf-8", errors="replace")
        except OSError:
            return []
        found = ((n, PruneMark.parse(line)) for n, line in enumerate(text.splitlines(), 1))
        return [(n, mark) for n, mark in found if mark is not None]

    def anchors(self) -> tuple[list[Anchor] | None, list[str]]:
        """The anchored heads (None when the file is missing), and each line that is not
        one."""
        try:
            text = self.anchors_file.read_text("utf-8", errors="replace")
        except FileNotFoundError:
            return None, []
        except OSError as exc:
            return [], [f"the anchors file {self.anchors_file} cannot be read: {exc.strerror} "
                        "— give govcloud's user read access to it"]
        found: list[Anchor] = []
        bad: list[str] = []
        for n, line in enumerate(text.splitlines(), 1):
            anchor = Anchor.parse(line)
            if anchor is None and PruneMark.parse(line) is not None:
                continue  # a prune's mark: marks() reads it
            if anchor is None:
                bad.append(f"line {n} of the anchors file {self.anchors_file} is not "
                           "SEQ HASH TIME: it was edited — restore the file from its backup")
            else:
                found.append(anchor)
        return found, bad


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(folder, 0o700)


def _owner_only(path: Path, mode: int) -> None:
    with contextlib.suppress(OSError):
        st = path.stat()
        if st.st_uid == os.geteuid() and st.st_mode & 0o077:
            path.chmod(mode)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
