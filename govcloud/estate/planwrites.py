"""An approved plan edit written to the estate so that a killed write is undone or finished by
the next command: the plan file, the request's decision, its audit record and the git commit
change together or not at all.

A write is journaled in ``plan_writes`` (committed on its own) before the file is touched:
the file, its text before, the digest of the text after, and the git commit to make. The
decision's own transaction marks the row ``recorded`` together with the decision and its
audit record, and renames the new text into place last; the git commit follows, and then the
row goes. A process killed on the way leaves the row, and :func:`settle` (run before any
decision, and by every command that opens the estate's cloud session) then

* undoes a ``pending`` write — the decision was never recorded — by putting the text before
  back (only when the file holds the text the write put there; an edit made since is left);
* finishes a ``recorded`` one — the decision stands — by making its git commit.

A write commits the request's change alone: a plan file with changes not committed (an
operator's edit by hand) is not written over (``uncommitted``), or that edit would be
committed under the requester's name with the approvers' trailers.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from govcloud.clock import now
from govcloud.errors import GovcloudError, LockHeld
from govcloud.estate.files import write_text
from govcloud.state.store import Store

TABLE = """CREATE TABLE IF NOT EXISTS plan_writes (
    id INTEGER PRIMARY KEY, file TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL,
    state TEXT NOT NULL, git TEXT NOT NULL, at TEXT NOT NULL)"""


class Unwritable(GovcloudError):
    """The plan file cannot take a request's write now (changes not committed in it, or the
    file system refuses the write); the caller says what to do then."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def begin(store: Store, file: str, before: str, after: str, git: dict[str, Any]) -> int:
    """Journal a write of ``after`` over ``before`` into ``file`` (relative to the estate),
    with the git commit to make (``git_commit``'s arguments); its number."""
    store.execute(TABLE)
    with store.transaction():
        n = int(store.query("SELECT COALESCE(MAX(id), 0) + 1 FROM plan_writes")[0][0])
        store.execute("INSERT INTO plan_writes (id, file, before, after, state, git, at) "
                      "VALUES (?,?,?,?,?,?,?)", (n, file, before, _digest(after), "pending",
                                                 json.dumps(git, ensure_ascii=False), now()))
    return n


def write(store: Store, root: Path, n: int, after: str) -> None:
    """Inside the decision's transaction: mark write ``n`` recorded and put the new text in
    place (last: a failure rolls the decision back with it)."""
    store.execute("UPDATE plan_writes SET state = 'recorded' WHERE id = ?", (n,))
    file = store.query("SELECT file FROM plan_writes WHERE id = ?", (n,))[0][0]
    try:
        write_text(root / file, after)
    except OSError as exc:
        raise Unwritable(f"{file} cannot be written: {exc.strerror}",
                         "make it and its folder writable for govcloud (a read-only mount? "
                         "an immutable attribute? see lsattr)") from exc


def uncommitted(root: Path, file: str) -> None:
    """Refuse (``Unwritable``) to write ``file`` while it has changes not committed, in an
    estate that is a git repository."""
    if not _in_git(root):
        return
    status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", file],
                            capture_output=True, text=True)
    if status.returncode != 0:
        raise Unwritable(f"git cannot tell whether {file} has changes not committed: "
                         f"{(status.stderr or status.stdout).strip()[:300]}",
                         "repair the estate's git repository (git status)")
    if status.stdout.strip():
        raise Unwritable(f"{file} has changes not committed (git diff -- {file}); written "
                         "over, they would be committed as the request's",
                         "commit or stash your edit first")


def _in_git(root: Path) -> bool:
    return subprocess.run(["git", "-C", str(root), "rev-parse", "--show-toplevel"],
                          capture_output=True, text=True).returncode == 0


def drop(store: Store, n: int) -> None:
    """Forget write ``n``: it was refused before its file was touched."""
    store.execute("DELETE FROM plan_writes WHERE id = ?", (n,))


def finish(store: Store, root: Path, n: int) -> str:
    """Make write ``n``'s git commit and forget it; what happened ("" outside git)."""
    rows = store.query("SELECT file, git FROM plan_writes WHERE id = ?", (n,))
    if not rows:
        return ""
    note = git_commit(root, rows[0][0], **json.loads(rows[0][1]))
    drop(store, n)
    return note


def settle(store: Store, root: Path, held: bool = False) -> list[str]:
    """Undo the writes killed before their decision was recorded, finish those killed after
    (see the module); one sentence for each. A write is only settled under the store's
    lock (``held``: the caller has it), so one under way in another process is left alone."""
    store.execute(TABLE)
    rows = store.query("SELECT id, file, before, after, state FROM plan_writes ORDER BY id")
    if not rows:
        return []
    if not held:
        try:
            store.lock(0, doing="settling an interrupted plan write")
        except LockHeld:
            return []  # its writer is alive (or an apply runs): the next command settles it
    try:
        return [_settle(store, root, *row) for row in rows]
    finally:
        if not held:
            store.unlock()


def _settle(store: Store, root: Path, n: int, file: str, before: str, after: str,
            state: str) -> str:
    if state == "recorded":
        done = finish(store, root, int(n))
        return f"finished the interrupted write of {file}" + (f" ({done})" if done else "")
    undo(store, root, int(n))
    return f"undid the interrupted write of {file}: its decision was never recorded"


def undo(store: Store, root: Path, n: int) -> None:
    """Put write ``n``'s text before back if the file holds the text it wrote, and forget
    it."""
    rows = store.query("SELECT file, before, after FROM plan_writes WHERE id = ?", (n,))
    if rows:
        file, before, after = rows[0]
        try:
            current = (root / file).read_text(encoding="utf-8")
        except OSError:
            current = None
        if current is not None and _digest(current) == after:
            write_text(root / file, before)
    drop(store, n)


def git_commit(root: Path, file: str, subject: str, body: str, trailers: list[str],
               author: str) -> str:
    """One git commit of ``file``: "" when the estate is no git repository, else what
    happened."""
    if not _in_git(root):
        return ""
    same = subprocess.run(["git", "-C", str(root), "diff", "--quiet", "HEAD", "--", file],
                          capture_output=True)
    if same.returncode == 0:
        return ""  # nothing to commit: made before an interruption, or no change
    env = {**os.environ, "GIT_COMMITTER_NAME": os.environ.get("GIT_COMMITTER_NAME", "govcloud"),
           "GIT_COMMITTER_EMAIL": os.environ.get("GIT_COMMITTER_EMAIL", "govcloud@localhost")}
    done = subprocess.run(
        ["git", "-C", str(root), "commit", "--no-verify", "-q", f"--author={author}",
         "-m", subject, "-m", body, "-m", "\n".join(trailers), "--", file],
        capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return f"git commit failed: {(done.stderr or done.stdout).strip()[:300]}"
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    return f"committed {head}"
