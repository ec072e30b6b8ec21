"""Reading and writing the estate's files: the only place that opens them.

Everything govcloud reads from an estate (settings, plans, policies, prices, inventories)
comes through :func:`read_document` (or :func:`read_text` for what is not parsed as one
document). The rules, the same for every file:

- only a regular file is read: a symbolic link, named pipe (FIFO), device, socket or folder
  is refused before it is opened, and the open itself neither follows a link nor waits on a
  pipe (``O_NOFOLLOW | O_NONBLOCK``, then ``fstat`` of what was opened);
- the file must lie inside the estate folder, through whatever folders lead to it, unless
  the caller says the path was named explicitly outside it (an absolute path written in a
  setting, such as ``prices: /srv/finance/prices.yaml``, or a path given on the command line);
- at most the size limit plus one byte is ever read;
- a refused file's content is never shown: the diagnostic names the file and the reason.

Every failure is a diagnostic. Parsing itself is pure (``govcloud.core.documents``).

Every file govcloud writes is written as its files are read (:func:`write_atomically`): a
temporary file in the same folder, renamed into place. A report, release, export or saved
plan (every ``--out``, :func:`write_bytes`) goes only to a regular file or a new one: a
symbolic link, named pipe, device, socket or folder where it would go is refused and left as
it was, checked before the data is written and again just before the rename.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from govcloud.core.documents import MAX_FILE_BYTES, Document, parse
from govcloud.errors import Diagnostic, GovcloudError

_NOT_REGULAR = (
    (stat.S_ISLNK, "is a symbolic link; govcloud reads only regular files, so that a link "
                   "cannot make it read (and print) a file from elsewhere",
     "put the file itself here instead of a link"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file",
     "remove it and put the YAML file here"),
    (stat.S_ISCHR, "is a device, not a regular file", "remove it"),
    (stat.S_ISBLK, "is a device, not a regular file", "remove it"),
    (stat.S_ISSOCK, "is a socket, not a regular file", "remove it"),
    (stat.S_ISDIR, "is a folder, not a file", "rename the folder or move it elsewhere"),
)
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_CLOEXEC", 0))
_CHUNK = 1 << 16


def inside(path: Path, root: Path) -> bool:
    """Whether ``path``, with every symbolic link on the way resolved, lies in ``root``
    (resolved at every call: a folder swapped for a link while an estate is read is seen at
    its next file)."""
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def read_bytes(path: Path, name: str, root: Path | None, limit: int = MAX_FILE_BYTES,
               outside: bool = False, outside_hint: str = ""
               ) -> tuple[bytes | None, list[Diagnostic]]:
    """The bytes of one regular file of the estate, or no bytes and the reason why.

    ``root`` is the estate folder the file must lie in (``outside=True``: the path was named
    explicitly and may lie anywhere; None: no folder to stay in).
    """
    def refuse(message: str, hint: str, line: int = 0) -> tuple[None, list[Diagnostic]]:
        return None, [Diagnostic(name, line, "", message, hint)]

    if root is not None and not outside and not inside(path.parent, root):
        return refuse("is outside the estate folder (a folder on the way is a symbolic "
                      "link, or the path climbs out with '..')",
                      outside_hint or "keep the estate's files inside the estate folder")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return refuse("does not exist", "check the path")
    except OSError as exc:
        return refuse(f"cannot be read: {exc.strerror}", "check the path and its permissions")
    refused = _not_regular(st.st_mode)
    if refused:
        return refuse(*refused)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        return refuse(f"cannot be read: {exc.strerror}", "check the path and its permissions")
    try:
        st = os.fstat(fd)
        refused = _not_regular(st.st_mode)
        if refused:  # swapped for something else between the check and the open
            return refuse(*refused)
        if st.st_size > limit:
            return _too_big(name, st.st_size, limit)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        return refuse(f"cannot be read: {exc.strerror}", "check the file and its permissions")
    finally:
        os.close(fd)
    if total > limit:  # grew while being read, or a file whose size the system does not know
        return _too_big(name, total, limit)
    return b"".join(chunks), []


def _not_regular(mode: int) -> tuple[str, str] | None:
    if stat.S_ISREG(mode):
        return None
    for test, message, hint in _NOT_REGULAR:
        if test(mode):
            return message, hint
    return "is not a regular file", "remove it"


def _too_big(name: str, size: int, limit: int) -> tuple[None, list[Diagnostic]]:
    more = "" if size > limit + 1 else "more than "
    return None, [Diagnostic(name, 1, "", f"file is {more}{size:,} bytes, over the "
                             f"{limit:,}-byte limit",
                             "split it or remove what does not belong in a tenancy plan")]


def read_document(path: Path, display: str | None = None, root: Path | None = None,
                  outside: bool = False, outside_hint: str = "", allow_empty: bool = False
                  ) -> tuple[Document | None, list[Diagnostic]]:
    """Read one YAML file of the estate under ``root``; on failure return no document and
    the reasons why (see the module's rules). ``allow_empty``: an empty file is a document
    holding nothing (None) rather than a problem."""
    name = display or str(path)
    raw, problems = read_bytes(path, name, root, outside=outside, outside_hint=outside_hint)
    if raw is None:
        return None, problems
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Diagnostic(name, raw[: exc.start].count(b"\n") + 1, "",
                                 "file is not valid UTF-8", "save it as UTF-8")]
    return parse(text, name, allow_empty)


def proposed_document(text: str, name: str) -> tuple[Document | None, list[Diagnostic]]:
    """A text about to be written as ``name`` (a request's edit of a plan), held to the
    reader's limits before it is written: a text the reader would refuse once written (over
    the size limit, not UTF-8) is refused now, so no edit can make a file nobody can read."""
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return None, [Diagnostic(name, 1, "", "the edited file would not be UTF-8 text",
                                 "remove the unpaired surrogate from the request")]
    if size > MAX_FILE_BYTES:
        return None, [Diagnostic(name, 1, "", f"the edited file would be {size:,} bytes, over "
                                 f"the {MAX_FILE_BYTES:,}-byte limit of the estate's reader "
                                 "(no command could read it afterwards)",
                                 "ask for less: fewer or shorter values (backup paths, "
                                 "names); the file was not changed")]
    return parse(text, name)


def display(path: Path, root: Path) -> str:
    """How a file is named in diagnostics: relative to the estate, without resolving links
    (so a link is named by its own name, never by its target)."""
    shown, base = str(path), str(root)
    rest = shown[len(base) + 1:]
    if shown.startswith(base + os.sep) and rest and ".." not in rest.split(os.sep):
        rel = rest  # a path under the root as written (a Path holds no '.' or '' parts)
    else:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return shown if rel.startswith("..") else rel


def write_atomically(path: Path, data: bytes, mode: int | None = None,
                     files_only: str = "") -> None:
    """Put ``data`` at ``path`` in one step, the only way govcloud writes a file: written to
    a temporary file in the same folder, flushed to disk, renamed onto ``path``, then the
    folder flushed so the rename survives a crash too. A reader sees the old file or the new
    one, never half; a link planted at ``path`` is replaced, never followed (``files_only``,
    the option that named ``path``: anything but a regular file at ``path`` is refused
    instead, see :func:`not_a_file`). The file gets ``mode``, else the mode of the file it
    replaces, else a new file's (0666 less the umask). The folder must exist; an OSError is
    the caller's to word (its filename is ``path``, never the temporary file's), and leaves
    no temporary file."""
    if files_only:
        not_a_file(path, files_only)
    if mode is None:
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = _new_file_mode()
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, mode)
        if files_only:
            not_a_file(path, files_only)  # again: swapped for a link or a device while written
        os.replace(name, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(name)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    _sync_folder(path.parent)


_NOT_A_FILE = (
    (stat.S_ISLNK, "a symbolic link", "so that a link cannot make it write over a file "
     "elsewhere"),
    (stat.S_ISFIFO, "a named pipe (FIFO)", "a pipe would make it wait for a reader"),
    (stat.S_ISCHR, "a device", "it never replaces a device"),
    (stat.S_ISBLK, "a device", "it never replaces a device"),
    (stat.S_ISSOCK, "a socket", "it never replaces a socket"),
    (stat.S_ISDIR, "a folder", "it never replaces a folder"),
)


def not_a_file(path: Path, option: str = "--out") -> None:
    """Refuse to write an output at ``path`` when something other than a regular file is
    there (a link, named pipe, device, socket or folder): a GovcloudError naming what is
    there and the fix (``option``: the command's option that named the path); the thing
    itself is left as it was. Nothing there is fine."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise GovcloudError(f"cannot write {path}: {exc.strerror}",
                            f"choose a writable path with {option}") from exc
    if stat.S_ISREG(st.st_mode):
        return
    what, why = next(((w, y) for test, w, y in _NOT_A_FILE if test(st.st_mode)),
                     ("not a regular file", "it writes only regular files"))
    raise GovcloudError(f"cannot write {path}: it is {what}, and govcloud writes reports, "
                        f"exports and saved plans only to regular files ({why}); it was "
                        "left as it was",
                        f"give {option} the path of a regular file, or of a new one")


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename just made in it) to disk. The rename is done by
    now: a file system that cannot sync a folder leaves it as durable as it makes it, and
    that is no failure of the write."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes(path: Path, data: bytes, private: bool = False, option: str = "--out"
                ) -> None:
    """Write a report, release, export or saved plan (every ``--out``), creating its folder;
    a failure is a GovcloudError (its fix names ``option``, the option that gave the path).
    Written atomically (``write_atomically``), only to a regular file or a new one: a link,
    pipe, device, socket or folder at ``path`` is refused and left as it was
    (``not_a_file``), and a reader never sees half a file. The file gets a new file's mode,
    whatever the file it replaces had; ``private``: owner-only (0600) whatever the umask, for
    what names people (audit records)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data, 0o600 if private else _new_file_mode(), files_only=option)
    except OSError as exc:
        raise GovcloudError(f"cannot write {path}: {exc.strerror}",
                            _fix_of(exc.errno, path, option)) from exc


def _fix_of(code: int | None, path: Path, option: str) -> str:
    """How to get past a failed write of an output file."""
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on the disk of {path.parent} (or choose another path with " \
               f"{option}) and run the command again"
    if code == errno.EROFS:
        return f"{path.parent} is on a read-only file system: choose a writable path with " \
               f"{option}"
    return f"choose a writable path with {option}"


def write_all(files: dict[Path, str]) -> None:
    """``write_text`` of many new files at once (a sync's plan skeletons), as crash-safe and
    a hundred times faster: every file written to its temporary file, all flushed to disk by
    one sync, then each renamed onto its path and every folder flushed once."""
    parts: list[tuple[str, Path]] = []
    try:
        for path, text in files.items():
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                        suffix=".part")
            parts.append((name, path))
            with os.fdopen(fd, "wb") as out:
                out.write(text.encode("utf-8"))
            os.chmod(name, _new_file_mode())
        os.sync()
        for name, path in parts:
            os.replace(name, path)
    except BaseException:
        for name, _ in parts:
            with contextlib.suppress(OSError):
                os.unlink(name)
        raise
    for folder in {path.parent for path in files}:
        _sync_folder(folder)


def write_text(path: Path, text: str, mode: int | None = None) -> None:
    """``write_atomically`` of ``text`` in UTF-8."""
    write_atomically(path, text.encode("utf-8"), mode)


def _new_file_mode() -> int:
    """The mode a file created now gets (0666 less the umask), as open() would give it."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (plans parsed
    into plain dicts and frozen dataclasses): its passes over millions of new objects find
    nothing to free and cost a quarter of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
