"""Web hosting for real: the example estate's sites served by nginx from the generated
configuration, one department's files closed to another, removed sites archived."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from govcloud.services.inventory import site_user
from tests.support.estate import edit
from tests.support.rig import USER_PREFIX, Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real


def fetch(rig: Rig, host: str, path: str = "/") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", rig.http_port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


def sites(rig: Rig) -> list[tuple[str, str, dict]]:
    return [(dep, data["department"]["name"], site) for dep, data in rig.plans().items()
            for site in data.get("websites", [])]


def test_first_apply_ran_every_playbook(rig: Rig) -> None:
    assert rig.first_apply is not None
    result = json.loads(rig.first_apply.stdout)
    svc = result["services"]
    assert svc["ok"], svc
    assert [r["playbook"] for r in svc["runs"]] == ["webhosting.yml", "antivirus.yml",
                                                    "backup.yml"]
    assert len(svc["departments"]) == len(rig.plans())
    for run in svc["runs"]:
        assert Path(run["artifacts"]).is_dir()
        assert Path(run["artifacts"]).is_relative_to(rig.estate / ".state" / "services")
        assert (Path(run["artifacts"]) / "job_events").is_dir()


def test_every_site_is_served_by_its_host_header(rig: Rig) -> None:
    served = 0
    for dep, name, site in sites(rig):
        status, body = fetch(rig, site["domain"])
        assert status == 200, (site["domain"], status, body[:200])
        kind = site.get("kind", "static")
        if kind == "proxy":
            assert body.startswith(f"backend /{dep}/"), (site["domain"], body)
        else:
            assert name in body and site["domain"] in body, (site["domain"], body[:300])
            if kind == "php":
                assert "PHP 8" in body, body  # really executed by the department's pool
        served += 1
    assert served == sum(len(d.get("websites", [])) for d in rig.plans().values()) > 20
    # a name no plan hosts gets nothing
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        fetch(rig, "unknown.qingdao.gov.cn")


def test_per_site_access_logs(rig: Rig) -> None:
    dep, _, site = sites(rig)[0]
    fetch(rig, site["domain"], "/metering-probe")
    log = rig.path("nginx_log_dir") / "sites" / f"{dep}_{site['domain']}.access.log"
    assert f"{site['domain']} 127.0.0.1" in log.read_text()
    assert "/metering-probe" in log.read_text()
    others = [p for p in (rig.path("nginx_log_dir") / "sites").rglob("*.log") if p != log]
    assert not any("/metering-probe" in p.read_text() for p in others)


def test_tls_with_a_generated_certificate(rig: Rig) -> None:
    _, name, site = next(s for s in sites(rig) if s[2].get("kind", "static") == "static")
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", rig.https_port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=site["domain"]) as tls:
        der = tls.getpeercert(binary_form=True)
        tls.sendall(f"GET / HTTP/1.0\r\nHost: {site['domain']}\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    assert b"200 OK" in data.split(b"\r\n")[0]
    assert name in data.decode("utf-8", "replace")
    pem = ssl.DER_cert_to_PEM_cert(der)
    text = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=pem,
                          capture_output=True, text=True, check=True).stdout
    assert site["domain"] in text


def test_one_department_cannot_read_another_s_docroot(rig: Rig) -> None:
    by_dep: dict[str, str] = {}
    for dep, _, site in sites(rig):
        if site.get("kind", "static") != "proxy":
            by_dep.setdefault(dep, site["domain"])
    (a, site_a), (b, site_b) = sorted(by_dep.items())[:2]
    web = rig.path("web_root")
    user_a = site_user(USER_PREFIX, a)

    def read_as(user: str, path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["runuser", "-u", user, "--", "cat", str(path)],
                              capture_output=True, text=True)

    index_a = next((web / a / site_a).glob("index.*"))
    index_b = next((web / b / site_b).glob("index.*"))
    assert read_as(user_a, index_a).returncode == 0  # its own: yes (the check is not vacuous)
    denied = read_as(user_a, index_b)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    listing = subprocess.run(["runuser", "-u", user_a, "--", "ls", str(web / b)],
                             capture_output=True, text=True)
    assert listing.returncode != 0
    st = (web / b / site_b).stat()
    assert oct(st.st_mode & 0o777) == "0o750"


def test_second_run_changes_nothing(rig: Rig) -> None:
    out = rig.gc_json("services", "run")
    assert out["ok"], out
    assert {r["playbook"]: r["changed"] for r in out["runs"]} == {
        "webhosting.yml": 0, "antivirus.yml": 0, "backup.yml": 0}


def test_removed_site_stops_being_served_and_is_archived(rig: Rig) -> None:
    plans = rig.plans()
    dep, data = next((d, p) for d, p in plans.items()
                     if any(s.get("kind", "static") == "static" and not s.get("protected")
                            for s in p.get("websites", [])))
    site = next(s for s in data["websites"]
                if s.get("kind", "static") == "static" and not s.get("protected"))
    docroot = rig.path("web_root") / dep / site["domain"]
    (docroot / "notice.html").write_text("kept for the archive")
    assert fetch(rig, site["domain"])[0] == 200
    data["websites"] = [s for s in data["websites"] if s["domain"] != site["domain"]]
    rig.write_plan(dep, data)

    result = rig.gc_json("apply", "--yes")
    assert result["ok"] and result["services"]["ok"], result
    assert result["services"]["departments"] == [dep]  # only the changed department
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        fetch(rig, site["domain"])
    assert not docroot.exists()
    archived = list((rig.path("web_archive_root") / dep).glob(f"{site['domain']}-*"))
    assert len(archived) == 1
    assert (archived[0] / "notice.html").read_text() == "kept for the archive"
    assert not list(rig.path("nginx_sites_dir").glob(f"{dep}_{site['domain']}.conf"))
    # the other sites are still served
    for _dep, name, other in sites(rig):
        if other.get("kind", "static") == "static":
            status, body = fetch(rig, other["domain"])
            assert status == 200 and name in body


def test_a_bad_server_block_is_refused_before_it_goes_live(rig: Rig) -> None:
    check = rig.bin("govcloud-nginx-check")
    good = next(rig.path("nginx_sites_dir").glob("*.conf"))
    assert subprocess.run([check, str(good)], capture_output=True).returncode == 0
    bad = rig.base / "bad.conf"
    bad.write_text(good.read_text())
    edit(bad, "server_name", "server_nam")
    proc = subprocess.run([check, str(bad)], capture_output=True, text=True)
    assert proc.returncode != 0 and "server_nam" in proc.stderr
