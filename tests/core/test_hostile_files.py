"""Files an attacker or an accident puts in an estate: links to secrets, pipes, devices, huge
files, settings that point outside. Each is refused by name, never read past the size limit,
never waited on, and none of its content is ever printed (issue #11, items 2 and 3)."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from govcloud.estate import files
from tests.support.cli import NOW, apply_and_collect, govcloud
from tests.support.estate import REPO, edit

SECRET = "DB_PASSWORD=hunter2-not-for-your-eyes\nAPI_KEY=sk-live-0123456789abcdef\n"
SHADOW = ("root:$y$j9T$SALTSALT$HASHHASHHASHHASH:19000:0:99999:7:::\n"
          "admin:$6$rounds=5000$PEPPER$SECRETHASHVALUE:19000:0:99999:7:::\n")
LEAKS = ("hunter2", "sk-live", "HASHHASH", "SECRETHASH", "SALTSALT", "PEPPER")


def _no_leak(proc: object) -> None:
    out = proc.stdout + proc.stderr  # type: ignore[attr-defined]
    assert not [w for w in LEAKS if w in out], out
    assert "Traceback" not in out
    assert "Internal error" not in out


@pytest.fixture
def secrets(tmp_path: Path) -> dict[str, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.env").write_text(SECRET)
    (outside / "shadow").write_text(SHADOW)
    return {"env": outside / "secret.env", "shadow": outside / "shadow"}


def test_links_pipes_and_devices_in_plans_are_refused_unread(
        estate: Path, secrets: dict[str, Path]) -> None:
    plans = estate / "plans"
    (plans / "shadow.yaml").symlink_to(secrets["shadow"])
    (plans / "env.yaml").symlink_to(secrets["env"])
    (plans / "zero.yaml").symlink_to("/dev/zero")
    (plans / "inside.yaml").symlink_to(plans / "finance.yaml")  # a link is a link, wherever
    os.mkfifo(plans / "fifo.yaml")
    started = time.monotonic()
    proc = govcloud("validate", estate=estate, timeout=60)
    assert time.monotonic() - started < 30  # never blocks on the pipe or reads /dev/zero
    assert proc.returncode == 1
    _no_leak(proc)
    link = ("is a symbolic link; govcloud reads only regular files, so that a link cannot make "
            "it read (and print) a file from elsewhere — put the file itself here instead of a "
            "link")
    for name in ("shadow", "env", "zero", "inside"):
        assert f"plans/{name}.yaml: {link}" in proc.stderr
    assert ("plans/fifo.yaml: is a named pipe (FIFO), not a regular file — remove it and put "
            "the YAML file here") in proc.stderr
    assert "5 error(s)" in proc.stderr


def test_a_secrets_file_copied_into_plans_is_not_quoted(estate: Path,
                                                        secrets: dict[str, Path]) -> None:
    (estate / "plans" / "env.yaml").write_text(SECRET)
    (estate / "plans" / "shadow.yaml").write_text(SHADOW)
    proc = govcloud("validate", estate=estate)
    assert proc.returncode == 1
    _no_leak(proc)
    assert ("plans/env.yaml:1: expected a mapping of keys, got text (the whole file is one "
            "plain value: is it a YAML file of this kind?)") in proc.stderr
    assert ("plans/shadow.yaml:1: holds none of the keys of a govcloud tenancy plan (is it "
            "one?); its content is not shown — expected keys: department, quota") in proc.stderr


def test_plans_folder_linked_outside_the_estate_is_refused(estate: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "finance.yaml").write_text((estate / "plans" / "finance.yaml").read_text())
    for plan in (estate / "plans").iterdir():
        plan.unlink()
    (estate / "plans").rmdir()
    (estate / "plans").symlink_to(elsewhere)
    proc = govcloud("validate", estate=estate)
    assert proc.returncode == 1
    assert ("plans/finance.yaml: is outside the estate folder (a folder on the way is a "
            "symbolic link, or the path climbs out with '..') — keep the estate's files inside "
            "the estate folder") in proc.stderr


def test_a_folder_swapped_for_a_link_between_two_readings_is_refused(estate: Path,
                                                                    tmp_path: Path) -> None:
    """A long-running process (govcloud serve) validates again later and must see a folder
    that became a link meanwhile; no answer is remembered from one check to the next."""
    from govcloud.estate.loader import check_estate

    first = check_estate(estate)
    assert "finance" in first.plans
    elsewhere = tmp_path / "elsewhere"
    (estate / "plans").rename(elsewhere)
    (estate / "plans").symlink_to(elsewhere)
    second = check_estate(estate)
    assert "finance" not in second.plans
    assert any(d.file == "plans/finance.yaml" and "is outside the estate folder" in d.message
               for d in second.diagnostics), second.diagnostics
    # a file's folder is resolved at every call
    assert files.inside(estate / "plans", estate) is False
    (estate / "plans").unlink()
    (estate / "plans").mkdir()
    assert files.inside(estate / "plans", estate) is True
    (estate / "plans").rmdir()
    (estate / "plans").symlink_to(elsewhere)
    assert files.inside(estate / "plans", estate) is False  # not a remembered answer


def test_a_folder_swapped_for_a_link_during_a_reading_is_refused(
        estate: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """plans/ replaced by a link to a folder outside the estate while a validation reads it
    (one that takes minutes, on a large estate or under a policy budget): every plan read
    after the swap is refused, as each file's folder is resolved when the file is read."""
    from govcloud.estate import loader

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    names = sorted(p.name for p in (estate / "plans").glob("*.yaml"))
    for name in names:  # the same plans, outside the estate
        (elsewhere / name).write_bytes((estate / "plans" / name).read_bytes())
    read = files.read_document  # as the loader imports it

    def read_then_swap(path: Path, *args: Any, **kw: Any) -> Any:
        out = read(path, *args, **kw)
        if path.name == names[0]:
            (estate / "plans").rename(tmp_path / "plans-before")
            (estate / "plans").symlink_to(elsewhere)
        return out
    monkeypatch.setattr("govcloud.estate.loader.read_document", read_then_swap)
    checked = loader.check_estate(estate)
    refused = sorted(d.file for d in checked.diagnostics
                     if "is outside the estate folder" in d.message)
    assert refused == [f"plans/{name}" for name in names[1:]], checked.diagnostics
    assert list(checked.plans) == [names[0].removesuffix(".yaml")]


def test_a_huge_file_is_refused_by_its_size_without_being_read(estate: Path) -> None:
    huge = estate / "plans" / "huge.yaml"
    with huge.open("wb") as f:  # sparse: 3 GB that take no disk
        f.truncate(3 * 1024**3)

    def one_gigabyte() -> None:  # reading the file whole would fail with MemoryError
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, resource.RLIM_INFINITY))

    proc = subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), "validate"],
                          capture_output=True, text=True, timeout=120, preexec_fn=one_gigabyte,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    assert ("plans/huge.yaml:1: file is 3,221,225,472 bytes, over the 1,000,000-byte limit"
            in proc.stderr)
    assert "MemoryError" not in proc.stderr and "Internal error" not in proc.stderr


def test_never_more_than_the_limit_plus_one_byte_is_read(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """/proc files say they are empty and are not: the cap holds while reading too."""
    source = Path("/proc/self/smaps")
    if not source.exists():
        pytest.skip("needs Linux /proc")
    read: list[int] = []
    real_read = os.read

    def counting(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(files.os, "read", counting)
    raw, problems = files.read_bytes(source, "smaps", None, limit=1000)
    assert raw is None
    assert sum(read) == 1001
    assert [p.message for p in problems] == ["file is more than 1,001 bytes, over the "
                                             "1,000-byte limit"]


@pytest.fixture
def applied(estate: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Applied as of New Year's Day, with October's usage collected as of 26 November
    (tests.support.cli's finance clock), so the test does not depend on today's date."""
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])
    return apply_and_collect(estate, "2026-10")


def test_price_book_setting_stays_inside_the_estate_unless_absolute(
        applied: Path, secrets: dict[str, Path]) -> None:
    settings = applied / "govcloud.yaml"
    original = settings.read_text()
    (applied / "linked-prices.yaml").symlink_to(applied / "prices.yaml")
    (applied.parent / "escaped.yaml").write_text((applied / "prices.yaml").read_text())
    expected = {
        # a relative path that climbs out: refused, with how to name an outside file
        "../escaped.yaml": "../escaped.yaml: is outside the estate folder (a folder on "
                           "the way is a symbolic link, or the path climbs out with '..') — "
                           "write an absolute path in 'prices:' in govcloud.yaml to use a price "
                           "book kept outside the estate",
        "linked-prices.yaml": "linked-prices.yaml: is a symbolic link",
        "/dev/zero": "/dev/zero: is a device, not a regular file — remove it",
        # named explicitly outside: read, but a file of another kind is not quoted
        str(secrets["shadow"]): f"{secrets['shadow']}:1: holds none of the keys of a "
                                "govcloud price book (is it one?); its content is not shown",
        str(secrets["env"]): f"{secrets['env']}:1: expected a mapping of keys, got text",
    }
    for value, message in expected.items():
        settings.write_text(original)
        edit(settings, "prices: prices.yaml", f"prices: {value}")
        proc = govcloud("report", "chargeback", "--period", "2026-10", estate=applied,
                        timeout=60)
        assert proc.returncode == 1, value
        _no_leak(proc)
        # one diagnostic line per problem, then the verdict (main() prints them)
        assert any(line.startswith(message) for line in proc.stderr.splitlines()), \
            (value, proc.stderr)
        assert "Error: the estate does not validate; nothing was done" in proc.stderr
    outside = applied.parent / "prices-elsewhere.yaml"
    outside.write_text((applied / "prices.yaml").read_text())
    settings.write_text(original)
    edit(settings, "prices: prices.yaml", f"prices: {outside}")
    govcloud("report", "chargeback", "--period", "2026-10", estate=applied, check=True)


def test_inventory_links_are_refused(estate: Path, secrets: dict[str, Path]) -> None:
    hosts = estate / "inventories" / "hosts.yml"
    hosts.unlink()
    hosts.symlink_to(secrets["env"])
    proc = govcloud("inventory", "--list", estate=estate)
    assert proc.returncode == 1
    _no_leak(proc)
    assert "inventories/hosts.yml: is a symbolic link" in proc.stderr


def test_a_link_planted_where_a_report_goes_is_refused_and_left(tmp_path: Path) -> None:
    # Found by a review: report publish wrote through a link planted in its --out folder.
    # Then replaced; since #22 case 10 refused: an output goes only to a regular file.
    victim = tmp_path / "elsewhere" / "victim.txt"
    victim.parent.mkdir()
    victim.write_text("keep me")
    out = tmp_path / "open-data"
    out.mkdir()
    (out / "datapackage.json").symlink_to(victim)
    with pytest.raises(files.GovcloudError, match="it is a symbolic link"):
        files.write_bytes(out / "datapackage.json", b"{}")
    assert victim.read_text() == "keep me"
    assert (out / "datapackage.json").readlink() == victim
    assert sorted(p.name for p in out.iterdir()) == ["datapackage.json"]  # no part left


def test_a_folder_where_a_report_goes_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "report.html").mkdir()
    with pytest.raises(files.GovcloudError) as err:
        files.write_bytes(tmp_path / "report.html", b"<p>")
    assert f"cannot write {tmp_path / 'report.html'}" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
