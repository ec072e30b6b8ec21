"""#22 case 10: outputs are written like inputs are read. Every ``--out`` (the finance
reports in every format, the HTML report and statement, the audit export, a saved plan, the
open-data release) goes only to a regular file, created or replaced atomically: a symbolic
link, named pipe (FIFO), device node or folder where it would go is refused with one line
(what, where, the fix) and left exactly as it was. ``--out`` is honoured for csv, json and
text too (it was ignored: the report went to standard output).

Found by a trial run as root: ``--out /dev/full`` replaced /dev/full with a regular file;
``plan --out`` wrote through a link and blocked on a FIFO. The device nodes here are the
test's own (``mknod`` in its temporary folder), never the machine's."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import BUILT, NOW, govcloud
from tests.support.estate import golden_estate

PERIOD = ("--period", "2026-10")
REPORTS = ("utilization", "chargeback", "unit-costs", "savings")
# Every command with --out FILE, and how it is asked.
COMMANDS: dict[str, tuple[str, ...]] = {
    **{f"report {r} -o {fmt}": ("report", r, *PERIOD, "-o", fmt)
       for r in REPORTS for fmt in ("text", "json", "csv", "xlsx")},
    "report chargeback --from": ("report", "chargeback", "--from", "2026-09", "--to",
                                 "2026-10", "-o", "csv"),
    "report html": ("report", "html", *PERIOD),
    "report statement": ("report", "statement", *PERIOD, "--department", "alpha"),
    "audit export": ("audit", "export"),
    "plan": ("plan",),
}


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The golden estate applied, October collected and closed (for publish)."""
    root = golden_estate(tmp_path_factory.mktemp("out"))
    govcloud("apply", "--yes", "-o", "json", estate=root, check=True, env=BUILT)
    govcloud("usage", "collect", *PERIOD, estate=root, check=True, env=NOW)
    govcloud("statement", "close", *PERIOD, estate=root, check=True, env=NOW)
    return root


def _device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 7))  # what /dev/full is
    except PermissionError:
        pytest.skip("mknod needs root (CAP_MKNOD); the FIFO and link cases run without it")


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link(path: Path) -> None:
    victim = path.parent / "victim.txt"
    victim.write_text("keep me")
    path.symlink_to(victim)


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside.txt").write_text("keep me")


PLANTED: dict[str, Callable[[Path], None]] = {
    "device": _device, "fifo": _fifo, "link": _link, "folder": _folder}


def _as_it_is(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every entry of ``folder`` (recursively, links not followed): type and mode, device
    number, and the link's target or the file's content."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = os.lstat(p)
        what = os.readlink(p) if p.is_symlink() else \
            p.read_text() if stat.S_ISREG(st.st_mode) else ""
        out[str(p.relative_to(folder))] = (st.st_mode, st.st_rdev, what)
    return out


def _refused(proc_code: int | str | None, stderr: str, target: Path) -> None:
    assert proc_code == 1, stderr
    said = stderr.strip().splitlines()
    assert len(said) == 1 and said[0].startswith(f"Error: cannot write {target}: it is "), \
        stderr
    assert "give --out the path of a regular file" in said[0]


@pytest.mark.parametrize("planted", list(PLANTED))
@pytest.mark.parametrize("command", ["plan", "report html", "report chargeback -o csv"])
def test_an_out_that_is_no_regular_file_is_refused_and_left_as_it_was(
        golden: Path, tmp_path: Path, command: str, planted: str) -> None:
    target = tmp_path / "out.file"
    PLANTED[planted](target)
    before = _as_it_is(tmp_path)
    try:
        proc = govcloud(*COMMANDS[command], "--out", str(target), estate=golden, env=NOW,
                        timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command} --out {planted}: blocked (opened a pipe for writing?)")
    _refused(proc.returncode, proc.stderr, target)
    assert _as_it_is(tmp_path) == before  # the same thing, unchanged, and no part file


@pytest.mark.parametrize("planted", list(PLANTED))
def test_every_out_refuses_what_is_no_regular_file(
        golden: Path, tmp_path: Path, planted: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep: every command with --out FILE, in this process through govcloud's own
    main() (the entry point ``python -m govcloud`` runs; a subprocess each would take
    minutes)."""
    from govcloud.cli import main

    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    for command, args in COMMANDS.items():
        folder = tmp_path / command.replace(" ", "_")
        folder.mkdir()
        target = folder / "out.file"
        PLANTED[planted](target)
        before = _as_it_is(folder)
        with pytest.raises(SystemExit) as done, _at_most(60, command):
            main(["-C", str(golden), *args, "--out", str(target)])
        _refused(done.value.code, capsys.readouterr().err, target)
        assert _as_it_is(folder) == before, command


@pytest.mark.parametrize("planted", ["fifo", "link", "device"])
def test_publish_refuses_a_release_folder_that_is_no_folder(
        golden: Path, tmp_path: Path, planted: str) -> None:
    target = tmp_path / "open-data"
    PLANTED[planted](target)
    before = _as_it_is(tmp_path)
    proc = govcloud("report", "publish", *PERIOD, "--out", str(target), estate=golden,
                    env=NOW, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith(f"Error: cannot write into {target}: it is ")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert _as_it_is(tmp_path) == before


def test_a_link_in_the_release_folder_is_refused_and_left(golden: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "open-data"
    out.mkdir()
    _link(out / "datapackage.json")
    before = _as_it_is(tmp_path)
    proc = govcloud("report", "publish", *PERIOD, "--out", str(out), estate=golden, env=NOW)
    assert proc.returncode == 1
    assert f"cannot write {out / 'datapackage.json'}: it is a symbolic link" in proc.stderr
    assert (out / "victim.txt").read_text() == "keep me"
    assert {k: v for k, v in _as_it_is(tmp_path).items() if k in before} == before


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_out_is_honoured_for_every_format(golden: Path, tmp_path: Path, fmt: str) -> None:
    """--out was ignored for csv and json: the report went to standard output."""
    for report in REPORTS:
        shown = govcloud("report", report, *PERIOD, "-o", fmt, estate=golden, env=NOW,
                         check=True).stdout
        target = tmp_path / f"{report}.{fmt}"
        target.write_text("an older report")
        target.chmod(0o600)
        proc = govcloud("report", report, *PERIOD, "-o", fmt, "--out", str(target),
                        estate=golden, env=NOW, check=True)
        assert proc.stdout == f"Wrote {target}.\n"
        assert target.read_text(encoding="utf-8") == shown  # the very text
        assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()  # a new file's
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{r}.{fmt}" for r in REPORTS)  # no part file left


def test_plan_out_saves_a_plan_apply_takes(golden: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text("old")
    govcloud("plan", "--out", str(saved), estate=golden, env=NOW, check=True)
    applied = govcloud("apply", str(saved), estate=golden, env=NOW, check=True)
    assert "Nothing to apply" in applied.stdout


@contextlib.contextmanager
def _at_most(seconds: int, command: str) -> Iterator[None]:
    """Fail a command that blocks (the old plan --out opened a FIFO and waited for a reader)
    instead of hanging the suite."""
    def late(signum: int, frame: object) -> None:
        raise AssertionError(f"{command} --out: still blocked after {seconds} s")

    was = signal.signal(signal.SIGALRM, late)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, was)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
