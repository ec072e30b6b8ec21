"""#22 cases 13 and 15: what a person gets wrong, or what the machine refuses, is exit 1 with
one line — what is wrong, where, and the fix — never exit 70 (an internal error) with a crash
log, and never a silent "valid".

13. a request file that is not UTF-8, a lone surrogate (``"\\ud800"``) in a reason, ``request
    new /dev/zero`` (read without bound until MemoryError), a request number beyond SQLite's
    integers, ``history --limit 1e20``, ``exporter``/``serve --port 99999`` or ``-1``, a
    read-only ``plans/``, a disk that fills up once an apply is under way.
15. ``request new --dry-run`` answered "valid" to a member of another department and to an
    auditor, who then could not file; a key given twice in a request's JSON (the last won);
    a reason of white space only. (The money and month parts are in
    tests/reports/test_period_range.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from govcloud.access import users
from govcloud.applying import engine
from tests.support.cli import BUILT, govcloud, one_line
from tests.support.estate import REPO, copy_estate

PASSWORD = "correct horse battery"
GOOD = ('{"kind": "replicas", "department": "finance", "reason": "year-end load", '
        '"server": "fin-budget-app", "count": 4}')


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example estate with a member of finance, one of health and an auditor."""
    root = copy_estate(tmp_path_factory.mktemp("exit") / "estate")
    with engine.records(root) as (est, store):
        for name, role, dep in (("li", "member", "finance"), ("hu", "member", "health"),
                                ("wang", "auditor", None)):
            users.add(store, set(est.plans), name, role, dep, PASSWORD, "test")
    return root


def _write(name: str, data: bytes) -> Callable[[Path], str]:
    def made(folder: Path) -> str:
        (folder / name).write_bytes(data)
        return str(folder / name)
    return made


REQUEST = GOOD.encode()
CASE_13 = {
    "not UTF-8": (_write("latin1.json", REQUEST.replace(b"year-end", b"Jahresende \xe4")),
                  ["latin1.json:1: the request is not UTF-8 text", "save it as UTF-8"]),
    "lone surrogate": (_write("surrogate.json", REQUEST.replace(b"year-end", b"\\ud800")),
                       ["holds an unpaired surrogate"]),
    "/dev/zero": (lambda folder: "/dev/zero",
                  ["the request /dev/zero is a device, not a regular file",
                   "a JSON file of at most 1 MB"]),
}


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["file", "dry-run"])
@pytest.mark.parametrize("case", list(CASE_13))
def test_a_faulty_request_file_is_one_line(estate: Path, tmp_path: Path, case: str,
                                           dry_run: list[str]) -> None:
    make, said = CASE_13[case]
    proc = govcloud("request", "new", make(tmp_path), "--as", "li", *dry_run, estate=estate,
                    timeout=60)
    if proc.returncode == 1 and not proc.stderr and dry_run:  # a verdict: on stdout
        assert all(s in proc.stdout for s in said), proc.stdout
        return
    one_line(proc, *said)


@pytest.mark.parametrize(("args", "said"), [
    (["request", "show", "9223372036854775808"],
     "NUMBER 9223372036854775808 is out of range — give a request number from 1 to "),
    (["request", "approve", "99999999999999999999", "--as", "li"], "NUMBER 99999999999999999999"),
    (["history", "--limit", "1e20"], "--limit '1e20' is not a whole number"),
    (["history", "--limit", "100000000000000000000"], "--limit 100000000000000000000 is out "),
    (["exporter", "--port", "99999"], "--port 99999 is out of range — give a TCP port from 1 "
                                      "to 65,535"),
    (["exporter", "--port", "-1"], "--port -1 is out of range"),
    (["serve", "--port", "99999"], "--port 99999 is out of range"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_a_number_out_of_range_is_one_line(estate: Path, args: list[str], said: str) -> None:
    one_line(govcloud(*args, estate=estate, timeout=60), said)


def test_a_request_number_in_range_but_unknown_says_so(estate: Path) -> None:
    one_line(govcloud("request", "show", "9223372036854775807", estate=estate),
             "no request 9223372036854775807", "govcloud request list")


# --- the disk: a read-only plans/ folder, a disk that fills during an apply ----------------

# The folder on a file system of the test's own, in a private mount namespace (nothing of the
# machine's is touched): plans/ bound onto itself read-only, or .state on a small tmpfs.
_DISK = r"""
set -e
where="$1"; shift
case "$DISK" in
  read-only) mount --bind "$where" "$where"; mount -o remount,bind,ro "$where" ;;
  small)
    cp -a "$where" "$where.copy"
    mount -t tmpfs -o size=640k tmpfs "$where"
    cp -a "$where.copy/." "$where/"
    rm -rf "$where.copy" ;;
esac
exec "$@"
"""


def _namespaces() -> bool:
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rm", "true"], capture_output=True).returncode == 0


needs_namespaces = pytest.mark.skipif(not _namespaces(), reason="needs unshare -rm (user and "
                                      "mount namespaces) for a file system of the test's own")


def _on_disk(disk: str, where: Path, estate: Path, *args: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["unshare", "-rm", "sh", "-c", _DISK, "sh", str(where),
                           sys.executable, "-m", "govcloud", "-C", str(estate), *args],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {}), "DISK": disk,
                               "PYTHONPATH": str(REPO)})


@needs_namespaces
def test_a_read_only_plans_folder_is_one_line(tmp_path: Path) -> None:
    """An auto-approved request writes its plan file: on a read-only plans/ that was exit
    70 (OSError: Read-only file system)."""
    root = copy_estate(tmp_path / "estate")
    with engine.records(root) as (est, store):
        users.add(store, set(est.plans), "li", "member", "finance", PASSWORD, "test")
    request = tmp_path / "request.json"
    request.write_text(GOOD)
    before = (root / "plans" / "finance.yaml").read_bytes()
    proc = _on_disk("read-only", root / "plans", root, "request", "new", str(request),
                    "--as", "li")
    # filed and approved by the rule, waiting to be written (#22 case 8b): one line that
    # says why and what then works
    one_line(proc, "is approved (rule small-inside-quota) but not written yet",
             "plans/finance.yaml cannot be written: Read-only file system",
             "the next govcloud command then writes it")
    assert (root / "plans" / "finance.yaml").read_bytes() == before


@needs_namespaces
def test_a_disk_that_fills_during_an_apply_is_one_line(tmp_path: Path) -> None:
    """The store opened, the apply recorded as begun, then the disk filled while its changes
    were journaled: exit 70 (sqlite3.OperationalError: database or disk is full)."""
    root = copy_estate(tmp_path / "estate")
    govcloud("state", "init", estate=root, check=True)
    proc = _on_disk("small", root / ".state", root, "apply", "--yes", "--no-services",
                    env=BUILT)
    line = one_line(proc, f"the disk holding the state store {root / '.state'}",
                    "is full", "free space on the file system of")
    assert "Internal error" not in line
    assert "[1/367] done" in proc.stderr  # the apply was under way, and recorded, first


# --- case 15: the dry run asks who may file; JSON keys once; a reason that says something ---

@pytest.mark.parametrize(("who", "said"), [
    pytest.param("hu", "hu files requests for health only — set \"department\": \"health\"",
                 id="other-department"),
    pytest.param("wang", "an auditor does not file requests", id="auditor"),
])
@pytest.mark.parametrize("dry_run", [["--dry-run"], []], ids=["dry-run", "file"])
def test_the_dry_run_asks_who_may_file_as_filing_does(estate: Path, tmp_path: Path, who: str,
                                                      said: str, dry_run: list[str]) -> None:
    request = tmp_path / "request.json"
    request.write_text(GOOD)
    proc = govcloud("request", "new", str(request), "--as", who, *dry_run, estate=estate)
    one_line(proc, said)
    assert proc.stdout == ""  # no verdict saying "valid"


@pytest.mark.parametrize(("text", "said"), [
    pytest.param('{"kind": "replicas", "department": "finance", "reason": "load",\n'
                 ' "server": "fin-budget-app",\n "count": 4,\n "count": 40}',
                 "request.json:4: the key 'count' is given twice in one object", id="count"),
    pytest.param('{"kind": "replicas", "department": "health",\n "department": "finance",\n'
                 ' "reason": "load", "server": "fin-budget-app", "count": 4}',
                 "request.json:2: the key 'department' is given twice", id="department"),
    pytest.param('{"kind": "quota", "department": "finance", "reason": "load",\n "quota": '
                 '{"cores": 60,\n  "cores": 6000}}',
                 "request.json:3: the key 'cores' is given twice", id="nested"),
])
def test_a_key_given_twice_is_refused_with_its_line(estate: Path, tmp_path: Path, text: str,
                                                    said: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(text)
    for dry_run in ([], ["--dry-run"]):
        one_line(govcloud("request", "new", str(request), "--as", "li", *dry_run,
                          estate=estate), said, "give ")


@pytest.mark.parametrize("reason", ["   ", "\u3000", " \u00a0 "], ids=["spaces", "ideographic",
                                                                     "no-break"])
def test_a_reason_of_white_space_only_is_refused(estate: Path, tmp_path: Path,
                                                 reason: str) -> None:
    request = tmp_path / "request.json"
    request.write_text(GOOD.replace("year-end load", reason), encoding="utf-8")
    dry = govcloud("request", "new", str(request), "--as", "li", "--dry-run", estate=estate)
    assert dry.returncode == 1
    assert "request: reason: the reason is only white space" in dry.stdout
    filed = govcloud("request", "new", str(request), "--as", "li", estate=estate)
    one_line(filed, "the reason is only white space")
    assert govcloud("request", "list", "-o", "json", estate=estate).stdout.strip() == "[]"


def test_the_duplicate_key_reader_keeps_json_otherwise() -> None:
    from govcloud.core import jsontext

    assert jsontext.loads('{"a": {"b": 1}, "b": [{"a": 2}, {"a": 3}], "c": "\\"a\\":"}') == \
        {"a": {"b": 1}, "b": [{"a": 2}, {"a": 3}], "c": '"a":'}
    with pytest.raises(jsontext.DuplicateKey) as twice:
        jsontext.loads('{"x": "{\\"k\\": 1, ",\n"k": 1, "y": {"k": 2},\n"\\u006b": 3}')
    assert (twice.value.key, twice.value.line) == ("k", 3)



def test_the_portal_api_refuses_a_key_given_twice(estate: Path) -> None:
    """The same request JSON over the API: the last "department" won, unseen."""
    from starlette.testclient import TestClient

    from govcloud.portal.app import create_app
    from tests.portal.conftest import csrf_of

    c = TestClient(create_app(estate, secret="k"), base_url="http://testserver",
                   follow_redirects=False)
    assert c.post("/login", data={"name": "li", "password": PASSWORD, "csrf": csrf_of(
        c.get("/login").text)}).status_code == 303
    headers = {"x-csrf-token": csrf_of(c.get("/").text), "content-type": "application/json"}
    body = GOOD.replace('"count": 4', '"count": 4,\n "count": 40').encode()
    for api in ("/api/departments/finance/requests/dry-run",
                "/api/departments/finance/requests"):
        r = c.post(api, content=body, headers=headers)
        assert r.status_code == 400, (r.status_code, r.text[:300])
        assert "line 2: the key 'count' is given twice in one object" in r.text
    ok = c.post("/api/departments/finance/requests/dry-run", content=GOOD.encode(),
                headers=headers)
    assert ok.status_code == 200 and ok.json()["ok"] is True
