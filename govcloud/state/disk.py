"""What the disk under a SQLite state store says when SQLite fails: a read-only or full file
system, or a file or folder govcloud may not write, told apart from a damaged store, so that
an I/O problem is never answered with "start anew" (which would throw the store away).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from govcloud.errors import StateError

# SQLite's own words for a file that is not (or no longer) a database: only these mean the
# store itself is damaged; every other failure is the disk's or the system's.
DAMAGED = ("SQLITE_NOTADB", "SQLITE_CORRUPT")


def damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file itself is not a sound database."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(DAMAGED)
    return "not a database" in str(exc) or "malformed" in str(exc)


def io_error(path: Path, exc: sqlite3.Error) -> StateError:
    """The error of a store SQLite could not read or write for a reason of the disk: what it
    is (read-only, full, not permitted, as the store's folder shows), where, and a fix that
    keeps the store."""
    return _explained(path, _cause(path), str(exc))


def os_error(path: Path, exc: OSError) -> StateError:
    """The same, for a system call on the store's file or folder that failed."""
    detail = f"{exc.strerror} ({exc.filename})" if exc.filename else str(exc)
    return _explained(path, exc.errno, detail)


def _explained(path: Path, cause: int | None, detail: str) -> StateError:
    folder = path.parent
    keep = "the store itself is untouched; do not move it away or run govcloud state init"
    if cause == errno.EROFS:
        return StateError(f"the state store {path} is on a read-only file system "
                          f"({os.strerror(errno.EROFS)}): {detail}",
                          f"remount {folder} read-write (or point state.url at a writable "
                          f"copy) and run the command again; {keep}")
    if cause in (errno.ENOSPC, errno.EDQUOT):
        return StateError(f"the disk holding the state store {path} is full "
                          f"({os.strerror(errno.ENOSPC)}): {detail}",
                          f"free space on the file system of {folder} and run the command "
                          f"again; {keep}")
    if cause in (errno.EACCES, errno.EPERM):
        return StateError(f"govcloud may not read or write the state store {path} or its "
                          f"folder: {detail}",
                          f"give the user running govcloud read and write access to {folder} "
                          f"and the govcloud.db* files in it; {keep}")
    return StateError(f"the state store {path} could not be read or written (an I/O error): "
                      f"{detail}", f"check the disk and file system of {folder} (dmesg shows "
                      f"the system's side) and run the command again; {keep}")


def _cause(path: Path) -> int | None:
    """EROFS, ENOSPC or EACCES when the store's folder shows it, else None."""
    folder = path.parent
    try:
        fs = os.statvfs(folder)
    except OSError as exc:
        return exc.errno
    if fs.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if fs.f_bavail == 0 or fs.f_favail == 0:
        return errno.ENOSPC
    writable = all(os.access(p, os.W_OK) for p in (folder, path) if p.exists())
    return None if writable and os.access(path, os.R_OK) else errno.EACCES
