"""The pure parts of the services layer: scan logs to findings, drill reports, the static
inventory, which departments an apply re-runs. No real component needed."""

from __future__ import annotations

from pathlib import Path

from govcloud.core.desired import Resource
from govcloud.core.planning import Change
from govcloud.services.backup import parse_drill
from govcloud.services.inventory import load_static
from govcloud.services.playbooks import changed_departments
from govcloud.services.scans import ScanLog, parse_scan, security_report, when

LOG = """/srv/www/finance/czj.qingdao.gov.cn/up/a.com: Govcloud.Test.EICAR.UNOFFICIAL FOUND
/srv/www/finance/czj.qingdao.gov.cn/up/b c.zip: Win.Test.EICAR_HDB-1 FOUND
LibClamAV Warning: something unrelated
"""


def test_parse_scan() -> None:
    assert parse_scan(LOG) == [
        ("/srv/www/finance/czj.qingdao.gov.cn/up/a.com", "Govcloud.Test.EICAR.UNOFFICIAL"),
        ("/srv/www/finance/czj.qingdao.gov.cn/up/b c.zip", "Win.Test.EICAR_HDB-1")]
    assert parse_scan("") == []


def test_only_the_latest_scan_per_host_counts() -> None:
    logs = [ScanLog("web-01", "finance", "20261101T020000000Z", LOG),
            ScanLog("web-01", "finance", "20261102T020000000Z", ""),      # cleaned since
            ScanLog("web-02", "finance", "20261102T020000000Z", LOG),
            ScanLog("web-01", "health", "20261102T030000000Z", "")]
    report = security_report(logs, ["finance", "health", "transport"])
    by = {r.department: r for r in report}
    assert [f.host for f in by["finance"].findings] == ["web-02", "web-02"]
    assert by["finance"].hosts == ["web-01", "web-02"]
    assert by["finance"].last_scan == "2026-11-02T02:00:00Z"
    assert by["health"].findings == [] and by["health"].last_scan
    assert by["transport"].last_scan == "" and by["transport"].hosts == []
    assert when("20261102T030000123456789Z") == "2026-11-02T03:00:00Z"


def test_parse_drill() -> None:
    ok = parse_drill("finance", "dr-01", "checked_at 2026-11-26T09:00:00Z\nsnapshot ab12cd34\n"
                     "files 12\nstatus ok\n")
    assert ok.ok and ok.files == 12 and ok.snapshot == "ab12cd34" and not ok.mismatches
    bad = parse_drill("finance", "dr-01", "snapshot ab12\nfiles 3\nstatus failed: restored "
                      "files differ\nmismatch ./srv/a: FAILED\n")
    assert not bad.ok and bad.mismatches == ["./srv/a: FAILED"]
    assert not parse_drill("finance", "dr-01", "").ok


def test_static_inventory(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "hosts.yml").write_text(
        "all:\n  children:\n    webhosts:\n      hosts:\n        web-01: {ansible_host: 10.0.0.1}"
        "\n      vars: {web_zones: [extranet]}\n    backup_hosts:\n      hosts:\n        dr-01:\n")
    (tmp_path / "group_vars" / "all.yml").write_text("web_root: /srv/www\n")
    inv = load_static(tmp_path)
    assert inv["webhosts"]["hosts"] == ["web-01"]
    assert inv["webhosts"]["vars"] == {"web_zones": ["extranet"]}
    assert inv["_meta"]["hostvars"]["web-01"] == {"ansible_host": "10.0.0.1"}
    assert inv["all"]["vars"] == {"web_root": "/srv/www"}
    assert inv["av_mirror"] == {"hosts": [], "vars": {}, "children": []}
    assert {"webhosts", "backup_hosts", "av_mirror", "department_servers"} <= \
        set(inv["all"]["children"])


def test_only_departments_with_service_changes_rerun() -> None:
    def change(kind: str, dep: str) -> Change:
        r = Resource(kind, dep, dep, {})
        return Change("create", r.key, kind, dep, "new in plan", None, r)

    changes = [change("website", "finance"), change("quota", "health"),
               change("backup", "transport"), change("volume", "ecology")]
    assert changed_departments(changes) == ["finance", "transport"]


def test_department_servers_in_per_department_groups(tmp_path: Path) -> None:
    """services.servers on: each server is a host of its department's group, at the address
    the driver gave it, with the estate key's connection variables on department_servers."""
    import dataclasses

    from govcloud.core.model import Estate
    from govcloud.estate.loader import check_estate
    from govcloud.services.access import estate_access
    from govcloud.services.inventory import build
    from tests.support.estate import copy_estate

    checked = check_estate(copy_estate(tmp_path / "estate", plans=False), policies=False)
    assert checked.settings is not None
    svc = dataclasses.replace(checked.settings.services, servers=True)
    est = Estate(checked.root, dataclasses.replace(checked.settings, services=svc), {})

    def server(dep: str, name: str, address: str | None, backup: bool = True) -> Resource:
        return Resource("server", dep, name, {"backup": backup},
                        computed={"address": address} if address else {})

    applied = {r.key: r for r in [
        Resource("project", "water", "water", {"name": "水务局", "zone": "intranet"}),
        Resource("project", "land-use", "land-use", {"name": "国土局", "zone": "intranet"}),
        server("water", "app", "10.20.0.10"), server("water", "db", "10.20.0.11", False),
        server("land-use", "app", "10.20.1.10")]}
    access = estate_access(tmp_path / "ssh", "govcloud-test")
    inv = build(est, applied, servers=access.ansible_vars())
    assert sorted(inv["department_servers"]["children"]) == ["dept_land_use", "dept_water"]
    assert inv["dept_water"]["hosts"] == ["water.app", "water.db"]
    assert inv["dept_land_use"]["vars"] == {"govcloud_department": "land-use"}
    hv = inv["_meta"]["hostvars"]
    assert hv["land-use.app"] == {"govcloud_department": "land-use", "ansible_host": "10.20.1.10"}
    assert inv["department_servers"]["vars"]["ansible_ssh_private_key_file"] == str(access.key)
    assert [s["backup"] for s in inv["all"]["vars"]["govcloud_departments"]["water"]["servers"]] \
        == [True, False]
    # the key: made once, owner-only, never in the inventory itself
    assert oct(access.key.stat().st_mode & 0o777) == "0o600"
    assert access.key.read_text() not in repr(inv)
    assert estate_access(tmp_path / "ssh", "govcloud-test").public_key == access.public_key
    # off: no department groups, no key variables
    off = build(Estate(est.root, dataclasses.replace(
        est.settings, services=dataclasses.replace(svc, servers=False)), {}), applied)
    assert off["department_servers"] == {"hosts": [], "vars": {}, "children": []}


def test_department_servers_keep_their_host_keys_checked(tmp_path: Path) -> None:
    """The runner switches Ansible's host key checking off for the shared hosts
    (ANSIBLE_HOST_KEY_CHECKING=False, which puts -o StrictHostKeyChecking=no ahead of the
    group's own ssh arguments, and ssh takes the first value): the department servers' group
    turns it back on, so accept-new and the estate's known_hosts decide, and a server whose
    host key changed is refused rather than sent the estate's key."""
    from govcloud.services.access import estate_access

    found = estate_access(tmp_path / "ssh", "govcloud-test").ansible_vars()
    assert found["ansible_ssh_host_key_checking"] is True
    assert "StrictHostKeyChecking=accept-new" in found["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={tmp_path / 'ssh' / 'known_hosts'}" in \
        found["ansible_ssh_common_args"]


def test_the_estates_own_state_folder_is_made_owner_only(tmp_path: Path) -> None:
    """With a PostgreSQL store nothing else makes .state before the services do: it holds
    the run artifacts, fetched drill and status reports and the estate's SSH key."""
    from types import SimpleNamespace
    from typing import Any

    from govcloud.services.access import estate_access
    from govcloud.services.playbooks import state_dir

    estate: Any = SimpleNamespace(root=tmp_path)
    store: Any = SimpleNamespace(path=None)
    folder = state_dir(estate, store)
    assert folder == (tmp_path / ".state").resolve()
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    estate_access(folder / "services" / "ssh", "govcloud-test")
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    # a SQLite store's folder is the store's own: named, never made or changed here
    sqlite: Any = SimpleNamespace(path=tmp_path / "db" / "govcloud.db")
    assert state_dir(estate, sqlite) == (tmp_path / "db").resolve()
    assert not (tmp_path / "db").exists()


def test_file_names_from_a_department_cannot_drive_the_operators_terminal() -> None:
    """A drill's mismatches and a scan's findings name files a department (or a website's
    visitor) chose: their control characters are shown escaped, never sent to the terminal."""
    evil = "./srv/www/finance/up/a\x1b]0;pwned\x07\x1b[2Jb"
    drill = parse_drill("finance", "backup-01", f"snapshot ab12\nfiles 1\nstatus failed: "
                        f"restored files differ\x1b[31m\nmismatch {evil}: FAILED\n")
    shown = " ".join([*drill.mismatches, drill.status, drill.snapshot])
    assert not any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in shown), repr(shown)
    assert drill.mismatches == ["./srv/www/finance/up/a\\x1b]0;pwned\\x07\\x1b[2Jb: FAILED"]
    assert not drill.ok
    found = parse_scan(f"{evil[1:]}: Win.Test.EICAR_HDB-1 FOUND\n")
    assert found == [("/srv/www/finance/up/a\\x1b]0;pwned\\x07\\x1b[2Jb", "Win.Test.EICAR_HDB-1")]


def test_the_dr_role_reads_the_primarys_settings_from_the_primary() -> None:
    """In a play on the DR host (delegate_to included) a bare variable is the DR host's
    value: the primary's password folder, repository root and manifest folder are read
    from the primary's hostvars, so host or group variables of backup_hosts count."""
    import re

    from tests.support.estate import REPO

    role = REPO / "playbooks" / "roles" / "restic_dr"
    primary = r"hostvars\[groups\['backup_hosts'\]\[0\]\]\s*\.\s*"
    bare = []
    for path in sorted(p for p in role.rglob("*") if p.is_file()):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for name in ("restic_secrets_dir", "restic_repo_root", "backup_results_dir"):
                for m in re.finditer(rf"(?<!\w){name}\b", line):
                    if not re.search(primary + r"$", line[:m.start()]):
                        bare.append(f"{path.relative_to(REPO)}:{n}: {name}")
    assert bare == []


def test_a_failed_tasks_message_reaches_the_terminal_escaped() -> None:
    """A task's stderr names a department's files (rsync, restic, sha256sum): shown escaped."""
    from govcloud.services.runner import _message

    res = {"failed": True, "msg": "non-zero return code",
           "stderr": "rsync: open \"/srv/data/a\x1b]0;pwned\x07b\": Permission denied\n"}
    shown = _message(res)
    assert "\x1b" not in shown and "\x07" not in shown
    assert "a\\x1b]0;pwned\\x07b" in shown and shown.startswith("non-zero return code | ")


def test_a_server_without_an_address_is_never_left_to_dns(tmp_path: Path) -> None:
    """A server the driver gave no address yet (still building, or applied before addresses
    were recorded) is not a host: Ansible would look its inventory name up in DNS, and
    ``finance.app`` is a name on the internet, to be sent the playbooks and the key."""
    import dataclasses

    from govcloud.core.model import Estate
    from govcloud.estate.loader import check_estate
    from govcloud.services.inventory import build
    from tests.support.estate import copy_estate

    checked = check_estate(copy_estate(tmp_path / "estate", plans=False), policies=False)
    assert checked.settings is not None
    svc = dataclasses.replace(checked.settings.services, servers=True)
    est = Estate(checked.root, dataclasses.replace(checked.settings, services=svc), {})
    applied = {r.key: r for r in [
        Resource("project", "finance", "finance", {"name": "财政局", "zone": "intranet"}),
        Resource("server", "finance", "app", {"backup": True}),
        Resource("server", "finance", "db", {"backup": True}, computed={"address": "10.20.3.10"})]}
    inv = build(est, applied, servers={})
    assert inv["dept_finance"]["hosts"] == ["finance.db"]
    assert "finance.app" not in inv["_meta"]["hostvars"]
    every_host = {h for g in inv.values() if isinstance(g, dict) and "hosts" in g
                  for h in g["hosts"]}
    assert "finance.app" not in every_host
    assert all("ansible_host" in inv["_meta"]["hostvars"][h]
               for h in inv["department_servers"]["hosts"] + inv["dept_finance"]["hosts"])
