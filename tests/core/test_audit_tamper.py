"""Issue #21 case 6: the audit trail cannot be quietly rewritten. Each tamper scenario is done
directly on the SQLite store, as someone with the database file would (the append-only
triggers dropped, the unkeyed chain and ``meta.audit_head`` recomputed); ``govcloud audit
verify`` with no argument exits 1 naming it, against the key and anchors kept outside the
store. A clean trail, and a trail an older govcloud wrote (unkeyed, upgraded), verify."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from govcloud.audit import trail
from govcloud.core.trail import GENESIS, canonical
from govcloud.errors import StateError
from govcloud.state.store import Store
from tests.support.cli import govcloud
from tests.support.estate import copy_estate

RECORDS = 5


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    """The example estate with five audit records written by govcloud."""
    root = copy_estate(tmp_path / "estate", plans=False)
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root, "qingdao")
    for i in range(RECORDS):
        trail.append(store, "admin", "user add", f"user{i}", "finance", None, {"i": i},
                     "", "cli")
    store.close()
    return root


@pytest.fixture
def db(estate: Path) -> Iterator[sqlite3.Connection]:
    """The store's database file, opened as a tamperer would: the append-only guard dropped."""
    conn = sqlite3.connect(estate / ".state" / "govcloud.db", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    yield conn
    conn.close()


def _verify(estate: Path) -> tuple[int, str]:
    out = govcloud("audit", "verify", estate=estate)
    assert "Traceback" not in out.stderr
    return out.returncode, out.stdout + out.stderr


def _unkeyed(row: dict[str, Any]) -> str:
    """The SHA-256 chain hash an older govcloud gave a record (what a tamperer recomputes)."""
    fields = [row[k] for k in ("seq", "at", "actor", "action", "subject", "department",
                               "before", "after", "reason", "source", "prev")]
    return hashlib.sha256(canonical(fields).encode("utf-8")).hexdigest()


def _rechain(conn: sqlite3.Connection, since: int = 1) -> None:
    """Recompute the link and hash of every record from number ``since`` on the unkeyed way
    (the key is out of reach), and the head in meta."""
    conn.row_factory = sqlite3.Row
    keyed = "alg" in {r["name"] for r in conn.execute("PRAGMA table_info(audit)")}
    prev = GENESIS
    for row in [dict(r) for r in conn.execute("SELECT * FROM audit ORDER BY seq")]:
        if row["seq"] < since:
            prev = row["hash"]
            continue
        row["prev"] = prev
        prev = _unkeyed(row)
        conn.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?",
                     (row["prev"], prev, row["seq"]))
        if keyed:
            conn.execute("UPDATE audit SET alg = '' WHERE seq = ?", (row["seq"],))
    last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        conn.execute("DELETE FROM meta WHERE name = 'audit_head'")
    else:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'audit_head'",
                     (f"{last['seq']}:{last['hash']}",))
    conn.row_factory = None


def test_a_clean_trail_verifies_keyed_and_anchored(estate: Path) -> None:
    code, out = _verify(estate)
    assert code == 0, out
    assert f"The audit trail is whole: {RECORDS} record(s)" in out
    assert "keyed (hmac-sm3 for new records) from record 1" in out
    keys = estate / ".state-keys"
    key, anchors = keys / "audit.key", keys / "audit.anchors"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.stat().st_mode) == 0o700
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600
    lines = anchors.read_text().splitlines()
    assert [int(x.split()[0]) for x in lines] == list(range(1, RECORDS + 1))
    exported = [json.loads(x) for x in govcloud("audit", "export", estate=estate,
                                                check=True).stdout.splitlines()]
    assert [x["alg"] for x in exported] == ["hmac-sm3"] * RECORDS
    assert [line.split()[1] for line in lines] == [x["hash"] for x in exported]
    secret = key.read_text().strip()
    assert secret not in out and not any(secret in json.dumps(x) for x in exported)


def test_an_edit_with_the_chain_and_head_recomputed_is_named(estate: Path,
                                                             db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 2")
    _rechain(db, since=2)
    code, out = _verify(estate)
    assert code == 1, out
    assert "record 2 (user add user1, " in out and f"and {RECORDS - 2} record(s) after it up " \
        f"to record {RECORDS} are not keyed, though the trail is keyed from record 1: written or " \
        "rewritten without the key" in out
    assert f"{RECORDS - 1} records from record 2 to record {RECORDS} are not the ones " \
        "anchored" in out and "the trail was rewritten" in out


def test_an_edit_keeping_the_keyed_algorithm_is_named(estate: Path,
                                                      db: sqlite3.Connection) -> None:
    db.execute("UPDATE audit SET reason = 'nothing to see' WHERE seq = 3")
    code, out = _verify(estate)
    assert code == 1, out
    assert "record 3 (user add user2" in out and "its fields do not give its keyed MAC" in out


def test_a_cut_of_the_newest_records_is_named(estate: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit WHERE seq > 3")
    _rechain(db, since=4)  # the head in meta set back to record 3
    code, out = _verify(estate)
    assert code == 1, out
    assert f"records 4 to {RECORDS} missing after the end of the trail" in out
    assert "the newest records were cut" in out


def test_a_deletion_with_renumbering_is_named(estate: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit WHERE seq = 2")
    db.execute("UPDATE audit SET seq = seq - 1 WHERE seq > 2")
    _rechain(db, since=2)
    code, out = _verify(estate)
    assert code == 1, out
    assert (f"record 2 deleted and the records after renumbered: records 2 to {RECORDS - 1} "
            f"of the trail are records 3 to {RECORDS} as anchored") in out


def test_a_wiped_trail_is_named(estate: Path, db: sqlite3.Connection) -> None:
    db.execute("DELETE FROM audit")
    _rechain(db)
    code, out = _verify(estate)
    assert code == 1, out
    assert f"the trail is empty, but record {RECORDS} was anchored at" in out
    assert "the trail was wiped" in out


@pytest.mark.parametrize("gone", ["audit.key", "audit.anchors"])
def test_a_missing_key_or_anchors_file_is_reported_with_the_fix(estate: Path,
                                                                gone: str) -> None:
    (estate / ".state-keys" / gone).unlink()
    code, out = _verify(estate)
    assert code == 1, out
    if gone == "audit.key":
        assert f"the audit key {estate}/.state-keys/audit.key is missing: records 1 to " \
            f"{RECORDS} are sealed with it and cannot be checked — restore it from its " \
            "backup" in out
        # and no new key is made in its place: writing is refused, naming the fix
        store = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
        with pytest.raises(StateError) as refused:
            trail.append(store, "admin", "user add", "x")
        assert "no record can be added without it — restore the key from its backup" in \
            refused.value.render()
        assert not (estate / ".state-keys" / "audit.key").exists()
    else:
        assert f"the anchors file {estate}/.state-keys/audit.anchors is missing" in out
        assert "restore it from its backup" in out


# --- a trail an older govcloud wrote --------------------------------------------------------

V2_AUDIT = """CREATE TABLE audit (
    seq BIGINT PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, department TEXT NOT NULL, before TEXT NOT NULL,
    after TEXT NOT NULL, reason TEXT NOT NULL, source TEXT NOT NULL, prev TEXT NOT NULL,
    hash TEXT NOT NULL)"""


def _version_2_store(root: Path, n: int) -> None:
    """A store as govcloud 0.x (schema version 2) left it: ``n`` unkeyed records, no key."""
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root, "qingdao")
    store.close()
    conn = sqlite3.connect(root / ".state" / "govcloud.db", isolation_level=None)
    conn.execute("DROP TABLE audit")
    conn.execute(V2_AUDIT)
    conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    prev = GENESIS
    for i in range(n):
        row = {"seq": i + 1, "at": f"2026-11-0{i + 1}T08:00:00.000000Z", "actor": "admin",
               "action": "user add", "subject": f"old{i}", "department": "", "before": "null",
               "after": "null", "reason": "", "source": "cli", "prev": prev}
        prev = _unkeyed(row)
        conn.execute("INSERT INTO audit VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                     (*row.values(), prev))
    conn.execute("INSERT INTO meta VALUES ('audit_head', ?)", (f"{n}:{prev}",))
    conn.close()


def test_an_older_unkeyed_trail_still_verifies_and_is_keyed_from_the_upgrade(
        tmp_path: Path) -> None:
    root = copy_estate(tmp_path / "estate", plans=False)
    _version_2_store(root, 3)
    code, out = _verify(root)
    assert code == 0, out
    assert "not keyed yet: the next record written makes the key" in out
    store = Store(f"sqlite:///{root}/.state/govcloud.db", root, "qingdao")
    for i in range(2):
        trail.append(store, "admin", "user add", f"new{i}")
    assert [e.alg for e in trail.entries(store)] == ["", "", "", "hmac-sm3", "hmac-sm3"]
    store.close()
    code, out = _verify(root)
    assert code == 0, out
    assert "keyed (hmac-sm3 for new records) from record 4; records 1 to 3 were sealed " \
        "before keys" in out
    # the old records are held by the first keyed record's link: an edit of one, with the
    # unkeyed chain recomputed, breaks it
    conn = sqlite3.connect(root / ".state" / "govcloud.db", isolation_level=None)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 1")
    conn.row_factory = sqlite3.Row
    prev = GENESIS
    for row in [dict(r) for r in conn.execute("SELECT * FROM audit WHERE seq < 4 ORDER BY seq")]:
        row["prev"] = prev
        prev = _unkeyed(row)
        conn.execute("UPDATE audit SET prev = ?, hash = ? WHERE seq = ?",
                     (row["prev"], prev, row["seq"]))
    conn.close()
    code, out = _verify(root)
    assert code == 1 and "record 4 does not follow the record before it" in out, out
