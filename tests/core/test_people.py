"""Local accounts and the audit trail in the state store (SQLite and a real PostgreSQL), and
through the CLI: every change and sign-in recorded, tampering found by govcloud audit verify."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.audit import trail
from govcloud.core.trail import Head
from govcloud.errors import GovcloudError
from govcloud.state.store import Store
from govcloud.state.tables import SCHEMA_VERSION
from tests.support.cli import _env, govcloud
from tests.support.estate import copy_estate

DEPARTMENTS = {"finance", "health"}
PASSWORD = "correct horse battery"


def _tamper(store: Store, *statements: str) -> None:
    """What someone with the database's owner rights can do: drop the append-only guard."""
    if store.kind == "sqlite":
        store.execute("DROP TRIGGER audit_no_update")
        store.execute("DROP TRIGGER audit_no_delete")
    else:
        store.execute("DROP TRIGGER audit_no_change ON audit")
    for sql in statements:
        store.execute(sql)


def _trail(store: Store, n: int) -> None:
    for i in range(n):
        trail.append(store, "admin", "user add", f"user{i}", "finance", None, {"i": i},
                     "", "cli")


def test_the_trail_is_append_only(store: Store) -> None:
    _trail(store, 2)
    for sql in ("UPDATE audit SET actor = 'x' WHERE seq = 1", "DELETE FROM audit WHERE seq = 2"):
        with pytest.raises(Exception, match="append-only"):
            store.execute(sql)
    assert trail.verify(store).whole and trail.verify(store).records == 2


def test_verify_finds_an_edited_record(store: Store) -> None:
    _trail(store, 4)
    assert trail.verify(store).problems == []
    _tamper(store, "UPDATE audit SET reason = 'nothing to see' WHERE seq = 2")
    problems = trail.verify(store).problems
    assert problems == [problems[0]] and problems[0].startswith("record 2 (user add user1")
    assert "was edited" in problems[0]


def test_verify_finds_a_deleted_record(store: Store) -> None:
    _trail(store, 4)
    _tamper(store, "DELETE FROM audit WHERE seq = 3")
    problems = trail.verify(store).problems
    assert problems[0] == "record 3 missing: deleted"
    assert problems[1].startswith("record 4 does not follow")


def test_verify_finds_reordered_records(store: Store) -> None:
    _trail(store, 4)
    _tamper(store, "UPDATE audit SET seq = -2 WHERE seq = 2",
            "UPDATE audit SET seq = 2 WHERE seq = 3", "UPDATE audit SET seq = 3 WHERE seq = -2")
    problems = trail.verify(store).problems
    assert any("record 2" in p and "was edited" in p for p in problems)
    assert any("record 3" in p and "was edited" in p for p in problems)


def test_verify_finds_the_newest_records_cut_off(store: Store) -> None:
    _trail(store, 4)
    noted = trail.verify(store).head
    assert noted is not None and noted.seq == 4
    _tamper(store, "DELETE FROM audit WHERE seq = 4")
    cut = [p for p in trail.verify(store).problems if p.startswith("record 4 missing after")]
    assert cut and cut[0].endswith("the newest records were cut")
    assert "the head kept in the store is record 4, but the trail ends at record 3: the " \
        "newest records were deleted" in trail.verify(store).problems
    store.set_meta(trail.HEAD, str(trail.verify(store).head))  # the tamperer fixes the head
    assert trail.verify(store).problems == cut  # the anchors outside the store still say so
    assert trail.verify(store, noted).problems == [*cut,
        "the head given is record 4, but the trail ends at record 3: the newest records "
        "were deleted"]


def test_accounts_are_checked_hashed_and_audited(store: Store) -> None:
    p = users.add(store, DEPARTMENTS, "li.wei", "member", "finance", PASSWORD, "admin")
    assert (p.role, p.department, p.disabled) == ("member", "finance", False)
    stored = store.query("SELECT password FROM users WHERE name = 'li.wei'")[0][0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with pytest.raises(GovcloudError, match="already exists"):
        users.add(store, DEPARTMENTS, "li.wei", "member", "finance", PASSWORD, "admin")
    bad = [("Li", "member", "finance", PASSWORD, "is not allowed"),
           ("zhang", "member", None, PASSWORD, "belongs to one department"),
           ("zhang", "member", "nowhere", PASSWORD, "is not in the estate"),
           ("zhang", "operator", "finance", PASSWORD, "sees every department"),
           ("zhang", "root", None, PASSWORD, "is unknown"),
           ("zhang", "finance", None, "short", "shorter than 12"),
           ("zhang", "finance", None, "my name is zhang!", "contains the user name")]
    for name, role, dep, pw, why in bad:
        with pytest.raises(GovcloudError, match=why):
            users.add(store, DEPARTMENTS, name, role, dep, pw, "admin")
    assert [x.name for x in users.people(store)] == ["li.wei"]
    users.set_role(store, DEPARTMENTS, "li.wei", "approver", "finance", "admin", "new head")
    users.disable(store, "li.wei", "admin", "left")
    records = trail.entries(store)
    assert [(e.action, e.subject, e.actor) for e in records] == [
        ("user add", "li.wei", "admin"), ("user role", "li.wei", "admin"),
        ("user disable", "li.wei", "admin")]
    role = records[1].as_dict()
    assert role["before"]["role"] == "member" and role["after"]["role"] == "approver"
    assert role["reason"] == "new head"
    assert all(PASSWORD not in json.dumps(e.as_dict()) and "$argon2" not in
               json.dumps(e.as_dict()) for e in records)


def test_sign_in_records_success_failure_and_throttles(store: Store) -> None:
    users.add(store, DEPARTMENTS, "li.wei", "member", "finance", PASSWORD, "admin")
    assert users.sign_in(store, "li.wei", PASSWORD, "10.0.0.1").name == "li.wei"
    for guess in ("wrong", PASSWORD.upper(), "", "x" * 5000):
        with pytest.raises(users.SignInRefused, match="name or password is wrong"):
            users.sign_in(store, "li.wei", guess, "10.0.0.2")
    with pytest.raises(users.SignInRefused, match="name or password is wrong"):
        users.sign_in(store, "nobody", PASSWORD, "10.0.0.2")
    failed = trail.latest(store, 10, "sign-in failed")
    assert [e.subject for e in failed][:1] == [users.UNKNOWN]  # the name typed is not kept
    assert "nobody" not in json.dumps([e.as_dict() for e in trail.entries(store)])
    assert json.loads(failed[1].after) == {"why": "wrong password"}
    with pytest.raises(users.SignInRefused, match="name or password is wrong"):
        users.sign_in(store, "li.wei", "wrong again", "10.0.0.2")  # the fifth from .2
    with pytest.raises(users.SignInRefused, match="too many failed sign-ins"):
        users.sign_in(store, "li.wei", PASSWORD, "10.0.0.2")  # right password, throttled
    assert trail.count(store, "sign-in failed", "2000", subject="li.wei") == 5
    # the lock is li.wei's from that client only: li.wei signs in from their own desk
    assert users.sign_in(store, "li.wei", PASSWORD, "10.0.0.9").name == "li.wei"
    users.add(store, DEPARTMENTS, "wang", "auditor", None, PASSWORD, "admin")
    users.disable(store, "wang", "admin", "on leave")
    with pytest.raises(users.SignInRefused):
        users.sign_in(store, "wang", PASSWORD, "10.0.0.4")
    assert json.loads(trail.latest(store, 1)[0].after) == {"why": "disabled"}
    assert trail.verify(store).whole


def test_throttling_per_source_holds_for_unknown_names(store: Store,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "FAILURES_PER_SOURCE", 3)
    users.add(store, DEPARTMENTS, "li.wei", "member", "finance", PASSWORD, "admin")
    for i in range(3):
        with pytest.raises(users.SignInRefused, match="wrong"):
            users.sign_in(store, f"guess{i}", "x", "192.0.2.7")
    with pytest.raises(users.SignInRefused, match="too many"):
        users.sign_in(store, "li.wei", PASSWORD, "192.0.2.7")
    assert users.sign_in(store, "li.wei", PASSWORD, "192.0.2.8").name == "li.wei"


def test_nobody_locks_everyone_out(store: Store) -> None:
    """#21 case 3: 30 failed sign-ins with made-up names from one address refused everyone's
    correct password there, and 5 wrong passwords from anywhere locked any named account.
    Failures count per client and per name from that client; a name is locked for everyone
    only by FAILURES_PER_NAME_ANYWHERE failures spread over many clients."""
    users.add(store, DEPARTMENTS, "li.wei", "member", "finance", PASSWORD, "admin")
    users.add(store, DEPARTMENTS, "wang", "auditor", None, PASSWORD, "admin")
    for i in range(users.FAILURES_PER_SOURCE):
        with pytest.raises(users.SignInRefused, match="wrong"):
            users.sign_in(store, f"made-up-{i}", "x", "198.51.100.66")
    with pytest.raises(users.SignInRefused, match="too many"):
        users.sign_in(store, "wang", PASSWORD, "198.51.100.66")  # the attacker's own address
    assert users.sign_in(store, "wang", PASSWORD, "10.1.1.1").name == "wang"
    for _ in range(users.FAILURES_PER_NAME):
        with pytest.raises(users.SignInRefused, match="wrong"):
            users.sign_in(store, "li.wei", "guess", "198.51.100.77")
    assert users.sign_in(store, "li.wei", PASSWORD, "10.1.1.2").name == "li.wei"
    spread = users.FAILURES_PER_NAME_ANYWHERE - users.FAILURES_PER_NAME
    for i in range(spread):  # a guess spread over many addresses, 1 each
        with pytest.raises(users.SignInRefused, match="wrong"):
            users.sign_in(store, "li.wei", "guess", f"203.0.113.{i}")
    with pytest.raises(users.SignInRefused, match="too many"):
        users.sign_in(store, "li.wei", PASSWORD, "10.1.1.2")


def test_a_version_1_store_is_migrated(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/state.db", tmp_path, "qingdao")
    for stmt in ("DROP TRIGGER audit_no_update", "DROP TRIGGER audit_no_delete",
                 "DROP TABLE audit", "DROP TABLE users"):
        store.execute(stmt)
    store.set_meta("schema_version", "1")
    store.close()
    again = Store(f"sqlite:///{tmp_path}/state.db", tmp_path, "qingdao")
    assert again.get_meta("schema_version") == str(SCHEMA_VERSION) == "4"
    _trail(again, 1)
    with pytest.raises(Exception, match="append-only"):
        again.execute("DELETE FROM audit")


def _run(estate: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``govcloud -C ESTATE ARGS`` with ``stdin`` on its standard input."""
    return subprocess.run([sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          input=stdin, capture_output=True, text=True, env=_env(None),
                          timeout=120)


def test_users_and_audit_through_the_cli(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    empty = govcloud("users", "add", "admin", "--role", "operator", "--password-stdin",
                     estate=estate)  # standard input is empty
    assert empty.returncode == 1 and "shorter than 12 characters" in empty.stderr
    ok = _run(estate, "users", "add", "admin", "--role", "operator", "--password-stdin",
              stdin=PASSWORD + "\n")
    assert ok.returncode == 0 and ok.stdout == "Added admin, operator.\n", ok.stderr
    bad = _run(estate, "users", "add", "li", "--role", "member", "--password-stdin",
               stdin="pw\n")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "a member belongs to one department" in bad.stderr
    listed = json.loads(_run(estate, "users", "list", "-o", "json").stdout)
    assert [(u["name"], u["role"]) for u in listed] == [("admin", "operator")]
    verified = _run(estate, "audit", "verify", "-o", "json")
    data = json.loads(verified.stdout)
    assert verified.returncode == 0 and data["whole"] and data["records"] == 1
    head = data["head"]
    exported = _run(estate, "audit", "export").stdout.splitlines()
    assert [json.loads(x)["action"] for x in exported] == ["user add"]
    assert head == f"1:{json.loads(exported[0])['hash']}" and Head.parse(head) is not None
    s = Store(f"sqlite:///{estate}/.state/govcloud.db", estate)
    _tamper(s, "UPDATE audit SET actor = 'someone else'")
    s.close()
    broken = _run(estate, "audit", "verify", "--head", head)
    assert broken.returncode == 1 and "Traceback" not in broken.stderr
    assert "audit trail: record 1 (user add admin" in broken.stdout
    assert "the audit trail was tampered with" in broken.stderr
    wrong = _run(estate, "audit", "verify", "--head", "1:xyz")
    assert wrong.returncode == 2 and "is not SEQ:HASH" in wrong.stderr
