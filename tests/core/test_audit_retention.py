"""Issue #21: the audit trail's retention. Records are kept at least 180 days
(``audit.retention_days``, refused below); ``govcloud audit prune`` removes only older ones,
is itself audited, and leaves a trail ``audit verify`` still calls whole, naming the prune.
A deletion of the oldest records by any other means (the triggers dropped, or the prune's
own mark in the store set by hand) is still a cut at the start. On SQLite through the CLI,
and on SQLite and a real PostgreSQL through the library (``store``)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud.audit import retention, trail
from govcloud.core.trail import PRUNE, PruneMark
from govcloud.errors import GovcloudError
from govcloud.estate.files import write_bytes
from govcloud.state.store import Store
from govcloud.state.tables import PRUNE_BELOW
from tests.support.cli import NOW, govcloud, one_line
from tests.support.estate import copy_estate

# Four records older than 180 days before NOW (2026-11-26 noon: the boundary is 2026-05-30
# noon), two younger.
WHEN = ["2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10", "2026-09-01", "2026-10-01"]
OLD = 4


def _write(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, day in enumerate(WHEN):
        monkeypatch.setenv("GOVCLOUD_NOW", f"{day}T08:00:00Z")
        trail.append(store, "admin", "user add", f"user{i}", "finance", None, {"i": i}, "",
                     "cli")
    monkeypatch.setenv("GOVCLOUD_NOW", NOW["GOVCLOUD_NOW"])


@pytest.fixture
def estate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_estate(tmp_path / "estate", plans=False)
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root, "qingdao")
    _write(store, monkeypatch)
    store.close()
    return root


def _run(estate: Path, *args: str) -> tuple[int, str]:
    out = govcloud(*args, estate=estate, env=NOW)
    assert "Traceback" not in out.stderr
    return out.returncode, out.stdout + out.stderr


def _exported(estate: Path) -> list[dict[str, object]]:
    out = govcloud("audit", "export", estate=estate, env=NOW, check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def db(estate: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(estate / ".state" / "govcloud.db", isolation_level=None)
    yield conn
    conn.close()


def _prune(estate: Path, *more: str) -> tuple[int, str]:
    return _run(estate, "audit", "prune", "--reason", "yearly archive", "--yes", *more)


def test_a_retention_below_180_days_is_refused_by_validate(estate: Path) -> None:
    settings = estate / "govcloud.yaml"
    settings.write_text(settings.read_text() + "audit:\n  retention_days: 90\n")
    code, out = _run(estate, "validate")
    assert code == 1, out
    assert "audit.retention_days: 90 is below the minimum 180 — use a value of at least " \
        "180" in out


def test_a_prune_within_the_retention_is_refused_with_the_fix(estate: Path) -> None:
    before = _exported(estate)
    one_line(govcloud("audit", "prune", "--before", "2026-07-01", "--reason", "tidy", "--yes",
                      estate=estate, env=NOW),
             "--before 2026-07-01 is within the retention: audit.retention_days is 180, so "
             "every record since 2026-05-30T12:00:00Z must be kept",
             "give --before 2026-05-30 or earlier")
    # a longer retention in the settings moves the boundary with it
    settings = estate / "govcloud.yaml"
    settings.write_text(settings.read_text() + "audit:\n  retention_days: 330\n")
    code, out = _prune(estate)
    assert code == 0 and "Nothing to prune" in out, out
    assert _exported(estate) == before


def test_a_before_day_in_the_first_centuries_is_shown_as_yyyy_mm_dd(estate: Path) -> None:
    code, out = _prune(estate, "--before", "0001-01-01")
    assert code == 0 and "Nothing to prune" in out, out
    assert "older than 0001-01-01T00:00:00Z" in out


def test_a_prune_needs_a_reason_and_confirmation(estate: Path) -> None:
    one_line(govcloud("audit", "prune", "--reason", "  ", "--yes", estate=estate, env=NOW),
             "a prune of the audit trail needs a reason")
    one_line(govcloud("audit", "prune", "--reason", "a\u202ething", "--yes", estate=estate,
                      env=NOW), "the reason")
    one_line(govcloud("audit", "prune", "--reason", "tidy", estate=estate, env=NOW),
             "audit prune needs confirmation and there is no terminal", "pass --yes")
    assert len(_exported(estate)) == len(WHEN)


def test_a_prune_removes_exactly_the_old_records_and_verify_names_it(estate: Path) -> None:
    before = _exported(estate)
    archive = estate / "archive" / "audit-2026.jsonl"
    code, out = _prune(estate, "--export", str(archive))
    assert code == 0, out
    assert "The prune removes records 1 to 4 (4 record(s), from 2026-01-10T08:00:00Z to " \
        "2026-04-10T08:00:00Z), all older than 2026-05-30T12:00:00Z; 2 record(s) from " \
        "record 5 are kept" in out
    assert "Pruned 4 record(s), numbers 1 to 4; the prune is record 7." in out
    after = _exported(estate)
    assert [r["seq"] for r in after] == [5, 6, 7]
    assert after[:2] == before[OLD:]
    # the archive holds exactly what was removed, as audit export wrote it
    assert [json.loads(line) for line in archive.read_text().splitlines()] == before[:OLD]
    # the prune is itself audited: who, when, how many, which, the chain value at the cut
    record = after[-1]
    assert record["action"] == PRUNE and record["reason"] == "yearly archive"
    assert record["at"].startswith("2026-11-26T12:00:00") and " pid " in str(record["actor"])
    assert record["after"] == {
        "below": 5, "removed": 4, "first_removed": 1, "last_removed": 4,
        "newest_removed": before[3]["at"], "chain_at_cut": before[3]["hash"],
        "older_than": "2026-05-30T12:00:00.000000Z", "retention_days": 180,
        "archive": str(archive)}
    marks = [line for line in (estate / ".state-keys" / "audit.anchors").read_text()
             .splitlines() if line.startswith("prune ")]
    assert len(marks) == 1 and marks[0].startswith(f"prune 5 {before[3]['hash']} ")
    code, out = _run(estate, "audit", "verify")
    assert code == 0, out
    assert "The audit trail is whole: 3 record(s)" in out
    assert f"records before 5 were pruned on 2026-11-26 by {record['actor']} (record 7 " \
        "(audit prune audit trail" in out
    # a second prune has nothing left to do: the young records and the prune stay
    code, out = _prune(estate)
    assert code == 0 and "Nothing to prune" in out, out


def test_an_archive_the_prune_wrote_verifies_and_an_edit_or_a_cut_of_it_is_named(
        estate: Path) -> None:
    archive = estate / "audit-2026.jsonl"
    assert _prune(estate, "--export", str(archive))[0] == 0
    code, out = _run(estate, "audit", "verify", "--archive", str(archive))
    assert code == 0, out
    assert f"The archive {archive} is whole: 4 record(s)" in out
    assert "records 1 to 4, pruned below record 5 at 2026-11-26T12:00:00" in out
    lines = archive.read_text().splitlines()
    edited = estate / "edited.jsonl"
    edited.write_text("\n".join([lines[0].replace('"user0"', '"nobody"'), *lines[1:]]) + "\n")
    code, out = _run(estate, "audit", "verify", "--archive", str(edited))
    assert code == 1 and "record 1 (user add nobody" in out and "was edited" in out, out
    cut = estate / "cut.jsonl"
    cut.write_text("\n".join(lines[:3]) + "\n")
    code, out = _run(estate, "audit", "verify", "--archive", str(cut))
    assert code == 1, out
    assert "the archive ends at record 3 (user add user2" in out and "it is not what a " \
        "prune removed, or it was cut" in out


def test_a_by_hand_delete_of_the_oldest_records_is_caught(estate: Path,
                                                          db: sqlite3.Connection) -> None:
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq < 3")
    code, out = _run(estate, "audit", "verify")
    assert code == 1, out
    assert "records 1 to 2 missing at the start of the trail: deleted, not pruned (a cut at " \
        "the start: only govcloud audit prune removes old records" in out


def test_the_prunes_mark_in_the_store_set_by_hand_does_not_make_a_prune(
        estate: Path, db: sqlite3.Connection) -> None:
    """The trigger lets a delete below the mark through (the prune's way past it); set by
    hand, the delete is still named: only the mark sealed with the key outside the store and
    the prune's record make a prune."""
    db.execute("INSERT INTO meta (name, value) VALUES (?, '3')", (PRUNE_BELOW,))
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit WHERE seq = 3")
    db.execute("DELETE FROM audit WHERE seq < 3")
    code, out = _run(estate, "audit", "verify")
    assert code == 1 and "records 1 to 2 missing at the start of the trail" in out, out


def test_a_cut_after_a_prune_is_caught(estate: Path, db: sqlite3.Connection) -> None:
    assert _prune(estate)[0] == 0
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq = 5")
    code, out = _run(estate, "audit", "verify")
    assert code == 1, out
    assert "record 5 missing at the start of the trail: deleted, not pruned" in out


def test_a_forged_prune_mark_is_caught(estate: Path, db: sqlite3.Connection) -> None:
    hashes = [r["hash"] for r in _exported(estate)]
    db.execute("DROP TRIGGER audit_no_delete")
    db.execute("DELETE FROM audit WHERE seq < 3")
    forged = PruneMark(3, str(hashes[1]), "2026-11-26T12:00:00Z", "hmac-sha256", "f" * 64)
    with (estate / ".state-keys" / "audit.anchors").open("a") as anchors:
        anchors.write(forged.line())
    code, out = _run(estate, "audit", "verify")
    assert code == 1, out
    assert "is a prune mark not sealed with the audit key: it was forged or edited" in out
    assert "records 1 to 2 missing at the start of the trail" in out


def test_a_prunes_mark_deleted_from_the_anchors_names_the_prune_record(estate: Path) -> None:
    code, out = _prune(estate)
    assert code == 0, out
    anchors = estate / ".state-keys" / "audit.anchors"
    lines = anchors.read_text().splitlines(keepends=True)
    anchors.write_text("".join(line for line in lines if not line.startswith("prune ")))
    code, out = _run(estate, "audit", "verify")
    assert code == 1, out
    assert "records 1 to 4 are gone and record 7 (audit prune audit trail" in out
    assert "says it pruned them, but its mark (a line 'prune 5 …') is missing from the " \
        f"anchors file {anchors}" in out
    assert "restore the anchors file from its backup" in out
    assert "deleted, not pruned" not in out and "none removed" not in out


@pytest.mark.parametrize("head", [f"0:{'0' * 64}", f"-1:{'a' * 64}", f"x:{'a' * 64}",
                                  f"{2**63}:{'a' * 64}", "1:abc", f"1:{'g' * 64}"])
def test_a_head_no_record_can_have_is_a_usage_error_not_tampering(estate: Path,
                                                                  head: str) -> None:
    code, out = _run(estate, "audit", "verify", "--head", head)
    assert code == 2, out  # a command-line mistake (docs/operators.md, Exit codes)
    assert "is not SEQ:HASH" in out and "a record number from 1" in out
    assert "tampered" not in out and "rewritten" not in out


# --- through the library, on SQLite and on a real PostgreSQL -----------------------------

def _shown(store: Store) -> retention.Prune:
    shown = retention.plan(store, retention.boundary(180))
    assert shown is not None
    return shown


def test_prune_on_the_store_passes_the_trigger_only_through_the_prune(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(store, monkeypatch)
    with pytest.raises(Exception, match="append-only"):
        store.execute("DELETE FROM audit WHERE seq = 1")
    shown = _shown(store)
    assert (shown.first, shown.below, shown.kept) == (1, 5, 2)
    hashes = {e.seq: e.hash for e in trail.entries(store)}
    record = retention.prune(store, shown, "admin", "yearly archive", 180)
    assert [e.seq for e in trail.entries(store)] == [5, 6, 7]
    assert json.loads(record.after)["chain_at_cut"] == hashes[4]
    assert store.get_meta(PRUNE_BELOW) is None  # the way past the trigger is closed again
    with pytest.raises(Exception, match="append-only"):
        store.execute("DELETE FROM audit WHERE seq = 5")
    verdict = trail.verify(store)
    assert verdict.whole, verdict.problems
    assert verdict.pruned_below == 5
    assert verdict.notes[0].startswith("records before 5 were pruned on 2026-11-26 by admin")


def test_an_interrupted_prune_is_accepted_and_finished_by_the_next(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(store, monkeypatch)
    shown = _shown(store)
    execute = store.execute

    def dies(sql: str, params: object = ()) -> None:
        if sql.startswith("DELETE FROM audit"):
            raise OSError("killed")
        execute(sql, params)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "execute", dies)
    with pytest.raises(OSError):
        retention.prune(store, shown, "admin", "yearly archive", 180)
    monkeypatch.setattr(store, "execute", execute)
    assert [e.seq for e in trail.entries(store)] == [1, 2, 3, 4, 5, 6]
    assert store.get_meta(PRUNE_BELOW) is None  # rolled back with the delete
    verdict = trail.verify(store)
    assert verdict.whole, verdict.problems
    assert any(n.startswith("a prune below record 5 was begun at 2026-11-26T12:00:00") and
               "did not finish" in n for n in verdict.notes), verdict.notes
    retention.prune(store, _shown(store), "admin", "yearly archive", 180)
    verdict = trail.verify(store)
    assert verdict.whole and verdict.pruned_below == 5, verdict.problems


def test_a_changed_trail_since_the_prune_was_shown_is_refused(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(store, monkeypatch)
    shown = _shown(store)
    retention.prune(store, shown, "admin", "yearly archive", 180)
    with pytest.raises(GovcloudError, match="changed since the prune was shown"):
        retention.prune(store, shown, "admin", "yearly archive", 180)


def test_a_record_added_since_the_prune_was_shown_is_named_not_only_another_prune(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(store, monkeypatch)
    shown = _shown(store)
    trail.append(store, "admin", "user add", "late", "finance", None, {}, "", "cli")
    with pytest.raises(GovcloudError) as caught:
        retention.prune(store, shown, "admin", "yearly archive", 180)
    assert "records were added or another prune ran since it was shown" in str(caught.value)
    assert "nothing was pruned" in str(caught.value)
    assert len(trail.entries(store)) == len(WHEN) + 1


def test_a_version_3_store_gets_the_prunes_trigger(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    store = Store(url, tmp_path, "qingdao")
    store.execute("DROP TRIGGER audit_no_delete")
    store.execute("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT "
                  "RAISE(ABORT, 'the audit trail is append-only'); END")
    store.set_meta("schema_version", "3")
    _write(store, monkeypatch)
    store.close()
    again = Store(url, tmp_path, "qingdao")
    assert again.get_meta("schema_version") == "4"
    retention.prune(again, _shown(again), "admin", "yearly archive", 180)
    assert trail.verify(again).whole


def test_a_prune_mark_parses_only_its_own_form_and_holds_only_its_key() -> None:
    key, other = b"k" * 32, b"o" * 32
    mark = PruneMark(5, "c" * 64, "2026-11-26T12:00:00.000000Z", "hmac-sha256").sealed(key)
    assert PruneMark.parse(mark.line()) == mark
    assert mark.holds(key) and not mark.holds(other) and not mark.holds(None)
    line = mark.line().split()
    for bad in (line[:5], [*line[:4], "md5", line[5]], [line[0], "1", *line[2:]],
                [*line[:5], "z" * 64], ["prunes", *line[1:]]):
        assert PruneMark.parse(" ".join(bad)) is None, bad


@pytest.fixture
def umask_022() -> Iterator[None]:
    was = os.umask(0o022)
    yield
    os.umask(was)


@pytest.mark.usefixtures("umask_022")
def test_an_export_and_a_prunes_archive_are_owner_only(estate: Path, tmp_path: Path) -> None:
    """Audit records name people, their addresses and reasons: not for every local user."""
    export, archive = tmp_path / "out" / "audit.jsonl", tmp_path / "out" / "archive.jsonl"
    code, out = _run(estate, "audit", "export", "--out", str(export))
    assert code == 0, out
    code, out = _prune(estate, "--export", str(archive))
    assert code == 0, out
    assert stat.S_IMODE(export.stat().st_mode) == 0o600
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    # a replaced file too, whatever mode it had
    export.chmod(0o644)
    code, out = _run(estate, "audit", "export", "--out", str(export))
    assert code == 0 and stat.S_IMODE(export.stat().st_mode) == 0o600, out
    # every other --out keeps a new file's mode
    report = tmp_path / "out" / "report.txt"
    write_bytes(report, b"x")
    assert stat.S_IMODE(report.stat().st_mode) == 0o644


def test_an_archive_that_cannot_be_written_names_export_and_prunes_nothing(
        estate: Path, tmp_path: Path) -> None:
    before = _exported(estate)
    folder = tmp_path / "a-folder"
    folder.mkdir()
    err = one_line(govcloud("audit", "prune", "--reason", "tidy", "--yes", "--export",
                            str(folder), estate=estate, env=NOW),
                   f"cannot write {folder}: it is a folder", "nothing was pruned",
                   "give --export the path of a regular file")
    assert "--out" not in err
    # a folder the check lets pass but which cannot be made: the write itself fails, inside
    # the prune's transaction
    unmakeable = Path("/proc/govcloud-no-such-folder/archive.jsonl")
    err = one_line(govcloud("audit", "prune", "--reason", "tidy", "--yes", "--export",
                            str(unmakeable), estate=estate, env=NOW),
                   f"cannot write {unmakeable}",
                   "nothing was pruned, as the archive is written first",
                   "choose a writable path with --export")
    assert "--out" not in err
    assert _exported(estate) == before
