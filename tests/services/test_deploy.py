"""govcloud's own install (playbooks/deploy.yml, role govcloud_control), run for real with
ansible-runner on localhost (ansible_connection: local) from a wheel built from this checkout.

Every location the playbook writes is under ``govcloud_control_root``, a folder of the test's
(the units and the nginx site name the same prefixed paths, so what they say runs as
written); the system user is the run's own and is removed afterwards. No systemd runs as
PID 1 here: the units are checked with ``systemd-analyze verify`` and ``security --offline``,
and a small supervisor in the test (tests/support/units.py) starts each unit's ExecStart
line, parsed from the unit file the playbook wrote, as the unit's User= with its
environment — not its sandboxing lines (ProtectSystem=, PrivateTmp=, the system-call
filter), which only systemd applies. nginx runs the site the playbook wrote, under a main
configuration standing in for Debian's /etc/nginx/nginx.conf. Headless Chromium trusts the
test's CA through an NSS database in its HOME (certutil), as a browser trusts a government CA.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.portal.test_journey import PASSWORD, ask, follow, sign_in
from tests.support.cli import BUILT
from tests.support.components import free_port, need, unavailable, wait_for, wait_port
from tests.support.estate import REPO, copy_estate
from tests.support.portal import chromium
from tests.support.pyramid import require
from tests.support.tls import Pki, make_pki
from tests.support.units import Supervisor, Unit

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.chromium]
SERVER = "portal.govcloud.test"
USER = f"gcd{os.getpid() % 100000:05d}"
SECRET = "cookie-key-9c41e7d2a0b3"  # the portal's cookie key, in the units' environment
JOBS = ("usage", "usage-last-month", "escalate", "report-backup", "audit-verify",
        "state-backup")


@dataclass
class Deployed:
    base: Path
    root: Path
    values: dict[str, Any]
    pki: Pki
    outputs: list[str]
    changed: list[int]
    https_port: int

    @property
    def units(self) -> Path:
        return self.root / "etc/systemd/system"

    def unit(self, name: str) -> Path:
        return self.units / name

    @property
    def estate(self) -> Path:
        return self.root / "srv/govcloud/estate"

    @property
    def govcloud(self) -> str:
        return str(self.root / "opt/govcloud/venv/bin/govcloud")


def _wheel(base: Path) -> Path:
    """govcloud's wheel, built from this checkout's package files (as a release is)."""
    src = base / "src"
    for part in ("govcloud", "playbooks"):
        shutil.copytree(REPO / part, src / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    for part in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / part, src / part)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                           "--disable-pip-version-check", "-w", str(base / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (wheel,) = (base / "dist").glob("govcloud-*.whl")
    return wheel


def _estate_repository(base: Path) -> Path:
    """The example estate as the git repository the playbook clones."""
    repo = copy_estate(base / "estate.git")
    git = ["git", "-C", str(repo), "-c", "user.name=test", "-c", "user.email=test@test"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "estate"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return repo


def _nginx_main(root: Path) -> None:
    """What Debian's /etc/nginx/nginx.conf is on a control host, inside the root."""
    for d in ("run", "var/log/nginx", "var/lib/nginx", "etc/nginx/conf.d"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/nginx/nginx.conf").write_text(
        f"pid {root}/run/nginx.pid;\nerror_log {root}/var/log/nginx/error.log;\n"
        "events {}\nhttp {\n    include /etc/nginx/mime.types;\n"
        f"    client_body_temp_path {root}/var/lib/nginx/body;\n"
        f"    proxy_temp_path {root}/var/lib/nginx/proxy;\n"
        f"    include {root}/etc/nginx/conf.d/*.conf;\n}}\n")


def _play(base: Path, values: dict[str, Any]) -> tuple[int, str]:
    """Run playbooks/deploy.yml with ansible-runner; the tasks changed and what it printed."""
    import ansible_runner

    (base / "runner").mkdir(exist_ok=True)
    inventory = base / "control.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"govcloud_control": {"hosts": {
        "localhost": {"ansible_connection": "local",
                      "ansible_python_interpreter": sys.executable}}}}}}))
    run = ansible_runner.run(private_data_dir=str(base / "runner"),
                             playbook=str(REPO / "playbooks/deploy.yml"),
                             inventory=str(inventory), extravars=values, quiet=True,
                             verbosity=1)
    out = run.stdout.read()
    assert run.rc == 0 and run.status == "successful", out[-5000:]
    return sum(run.stats.get("changed", {}).values()), out


def _remove_user() -> None:
    subprocess.run(["userdel", USER], capture_output=True)
    subprocess.run(["groupdel", USER], capture_output=True)


@pytest.fixture(scope="module")
def deployed() -> Iterator[Deployed]:
    """The playbook run twice on a fresh root."""
    require("ansible")
    need("nginx", component="nginx")
    if os.geteuid() != 0:
        unavailable("the deploy test creates a system user: run it as root")
    base = Path(tempfile.mkdtemp(prefix="govcloud-deploy-", dir="/tmp"))
    base.chmod(0o755)  # the service user reaches the root folder inside
    root = base / "root"
    _nginx_main(root)
    https_port = free_port()
    pki = make_pki(base / "pki", SERVER)
    values = {
        "govcloud_control_root": str(root),
        "govcloud_control_wheel": str(_wheel(base)),
        # this machine's Python and its packages (no package index in the test)
        "govcloud_control_python": sys.executable,
        "govcloud_control_venv_site_packages": True,
        "govcloud_control_pip_args": "--no-deps",
        "govcloud_control_user": USER, "govcloud_control_group": USER,
        "govcloud_control_estate_repo": str(_estate_repository(base)),
        "govcloud_control_manage_services": False,
        "govcloud_control_tls_certificate": str(pki.certificate),
        "govcloud_control_tls_key": str(pki.key),
        "govcloud_control_server_name": SERVER,
        "govcloud_control_https_listen": f"127.0.0.1:{https_port}",
        "govcloud_control_http_listen": f"127.0.0.1:{free_port()}",
        "govcloud_control_public_url": f"https://{SERVER}:{https_port}",
        "govcloud_control_portal_port": free_port(),
        "govcloud_control_exporter_port": free_port(),
        "govcloud_control_environment": {"GOVCLOUD_PORTAL_SECRET": SECRET},
    }
    _remove_user()
    try:
        first, second = _play(base, values), _play(base, values)
        yield Deployed(base, root, values, pki, [first[1], second[1]], [first[0], second[0]],
                       https_port)
    finally:
        _remove_user()
        if os.environ.get("GOVCLOUD_KEEP_TEST_RIG"):
            print(f"deploy test kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def test_the_second_run_changes_nothing_and_no_secret_is_logged(deployed: Deployed) -> None:
    assert deployed.changed[0] >= 15, deployed.outputs[0][-3000:]  # a fresh host: every writer
    assert deployed.changed[1] == 0, deployed.outputs[1][-5000:]
    key = deployed.pki.key.read_text().splitlines()[1]
    for out in deployed.outputs:
        assert SECRET not in out and key not in out
        assert "censored" in out  # the tasks that carry them say so instead
    env = deployed.root / "etc/govcloud/govcloud.env"
    assert SECRET in env.read_text()
    assert env.stat().st_mode & 0o777 == 0o640
    tls_key = deployed.root / "etc/govcloud/tls/portal.key"
    assert tls_key.stat().st_mode & 0o777 == 0o600 and tls_key.stat().st_uid == 0


def test_every_unit_and_timer_passes_systemd_analyze(deployed: Deployed) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (run .ci/install-services)")
    files = sorted(deployed.units.glob("govcloud-*"))
    assert [f.name for f in files] == sorted(
        ["govcloud-portal.service", "govcloud-exporter.service",
         *(f"govcloud-{job}.{kind}" for job in JOBS for kind in ("service", "timer"))])
    # verify loads each unit as systemd would (without systemd as PID 1: it runs its own
    # manager in test mode): unknown keys, bad values, missing executables, a timer's unit
    proc = subprocess.run([analyze, "verify", "--man=no", *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")
    for f in files:
        if f.suffix == ".service":
            unit = Unit.read(f)
            assert unit.get("User") == USER and unit.get("NoNewPrivileges") == "yes"
            assert unit.get("StandardOutput") == "journal"
            proc = subprocess.run([analyze, "security", "--offline=true", str(f)],
                                  capture_output=True, text=True, timeout=60)
            level = re.search(r"Overall exposure level for \S+: (\d+\.\d)", proc.stdout)
            assert level and float(level[1]) <= 2.0, (f.name, proc.stdout[-2000:])
    portal = Unit.read(deployed.unit("govcloud-portal.service"))
    assert portal.get("ProtectSystem") == "strict" and portal.get("PrivateTmp") == "yes"
    assert portal.get("ReadWritePaths").split() == [
        str(deployed.estate), str(deployed.root / "var/lib/govcloud")]


@dataclass
class Running:
    deployed: Deployed
    supervisor: Supervisor
    base_url: str
    ca: ssl.SSLContext


def _as_user(deployed: Deployed, supervisor: Supervisor, *args: str, stdin: str | None = None,
             env: dict[str, str] | None = None) -> str:
    unit = Unit.read(deployed.unit("govcloud-portal.service"))
    proc = supervisor.exec(unit, [deployed.govcloud, *args], stdin=stdin, env=env)
    assert proc.returncode == 0, f"govcloud {args}: {proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def running(deployed: Deployed) -> Iterator[Running]:
    """The first operator and a member added, the estate applied (as the govcloud user, as
    docs/operations.md says), then the portal and the exporter started from their units and
    nginx from its configuration."""
    nginx = need("nginx", component="nginx")
    sup = Supervisor(deployed.base / "stage", deployed.base / "logs")
    for name, role, dep in (("admin", "operator", None), ("li.wei", "member", "finance")):
        _as_user(deployed, sup, "users", "add", name, "--role", role, "--password-stdin",
                 *(["--department", dep] if dep else []), stdin=PASSWORD + "\n")
    _as_user(deployed, sup, "apply", "--yes", "--no-services", env=BUILT)
    root = deployed.root
    try:
        portal = sup.start(deployed.unit("govcloud-portal.service"))
        sup.start(deployed.unit("govcloud-exporter.service"))
        sup.running.append(subprocess.Popen(
            [nginx, "-e", f"{root}/var/log/nginx/error.log", "-c", f"{root}/etc/nginx/nginx.conf",
             "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(deployed.values["govcloud_control_portal_port"], "the portal", 60, portal,
                  sup.logs / "govcloud-portal.service.log")
        wait_port(deployed.https_port, "nginx", 20, sup.running[-1],
                  root / "var/log/nginx/error.log")
        ca = ssl.create_default_context(cafile=str(deployed.pki.ca))
        yield Running(deployed, sup, f"https://{SERVER}:{deployed.https_port}", ca)
    finally:
        sup.stop()


def _get(running: Running, path: str, port: int, tls: bool = True, method: str = "GET",
         body: str | None = None, headers: dict[str, str] | None = None,
         source: str = "127.0.0.1") -> http.client.HTTPResponse:
    """``path`` from nginx on 127.0.0.1:``port`` as SERVER, from the address ``source``; over
    TLS, its certificate checked against the test CA and the name SERVER."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    sock = socket.create_connection(("127.0.0.1", port), 30, source_address=(source, 0))
    conn.sock = running.ca.wrap_socket(sock, server_hostname=SERVER) if tls else sock
    conn.request(method, path, body, headers={"Host": f"{SERVER}:{port}", **(headers or {})})
    return conn.getresponse()


def _wrong_password_from(running: Running, source: str, spoofed: str) -> int:
    """Sign in as admin with a wrong password through nginx from ``source``, the request
    claiming to come from ``spoofed`` (its own X-Forwarded-For); the answer's status."""
    port = running.deployed.https_port
    form = _get(running, "/login", port, source=source)
    cookie = form.getheader("Set-Cookie", "").split(";")[0]
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.read().decode())
    assert cookie and csrf, "the sign-in form has no CSRF cookie and token"
    body = urllib.parse.urlencode({"csrf": csrf[1], "next": "/", "name": "admin",
                                   "password": "not the password"})
    answer = _get(running, "/login", port, method="POST", body=body, source=source, headers={
        "Cookie": cookie, "Origin": running.base_url, "X-Forwarded-For": spoofed,
        "Content-Type": "application/x-www-form-urlencoded"})
    answer.read()
    return answer.status


@contextlib.contextmanager
def _trusting_chromium(running: Running) -> Iterator[Any]:
    """Chromium whose NSS database (in its own HOME) trusts the test CA for servers."""
    certutil = shutil.which("certutil")
    if certutil is None:
        unavailable("certutil is not installed (run .ci/install-services: libnss3-tools)")
    home = running.deployed.base / "chromium-home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True, exist_ok=True)
    for args in (["-N", "--empty-password"],
                 ["-A", "-n", "govcloud test CA", "-t", "C,,", "-i", str(running.deployed.pki.ca)]):
        subprocess.run([certutil, "-d", f"sql:{nssdb}", *args], check=True, capture_output=True)
    with chromium(home, (f"--host-resolver-rules=MAP {SERVER} 127.0.0.1",)) as driver:
        yield driver


def test_the_portal_behind_nginx_over_tls_in_chromium(running: Running) -> None:
    from selenium.webdriver.common.by import By

    # nginx: the portal's certificate checks against the CA, HSTS, plain HTTP redirected
    page = _get(running, "/login", running.deployed.https_port)
    assert page.status == 200 and "max-age=31536000" in page.getheader(
        "Strict-Transport-Security", "")
    http_port = int(running.deployed.values["govcloud_control_http_listen"].rsplit(":", 1)[1])
    plain = _get(running, "/login", http_port, tls=False)
    assert (plain.status, plain.getheader("Location")) == (301, f"{running.base_url}/login")

    with _trusting_chromium(running) as browser:
        base = running.base_url
        sign_in(browser, base, "li.wei")
        cookies = browser.get_cookies()
        assert cookies and all(c["secure"] for c in cookies), cookies
        ask(browser, base, "servers", {"s-name": "fin-report", "s-flavor": "m1.large",
                                       "s-image": "kylin-v10-sp3", "s-count": "2"},
            "两台报表服务器", "deploy-servers")
        assert browser.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("待审批")
        sign_in(browser, base, "admin")
        browser.get(f"{base}/requests")
        follow(browser, browser.find_element(By.XPATH, "//td/a[starts-with(@href, "
                                                       "'/departments/finance/requests/')]"))
        follow(browser, browser.find_element(By.XPATH, "//button[@value='approve']"))
        assert browser.find_element(By.CSS_SELECTOR, "dd.state").text.startswith("已批准")
    # written by the portal, running as the govcloud user, into the deployed checkout
    plan = running.deployed.estate / "plans" / "finance.yaml"
    assert "name: fin-report" in plan.read_text() and plan.stat().st_uid != 0

    # The client's address reaches the portal from nginx (X-Forwarded-For, trusted from the
    # proxy's address only: without it the record would name nginx, 127.0.0.1), and the
    # address a client's own header claims is not taken for it.
    assert _wrong_password_from(running, "127.0.0.7", "203.0.113.9") == 401
    out = running.deployed.root / "var/lib/govcloud" / "audit.jsonl"  # the user may write
    _as_user(running.deployed, running.supervisor, "audit", "export", "--out", str(out))
    failed = [r for r in map(json.loads, out.read_text().splitlines())
              if r["action"] == "sign-in failed"]
    assert [r["source"] for r in failed] == ["127.0.0.7"], failed


def test_the_exporter_at_its_units_address_and_the_jobs_from_their_units(
        running: Running) -> None:
    deployed, sup = running.deployed, running.supervisor
    (argv,) = Unit.read(deployed.unit("govcloud-exporter.service")).commands()
    host, port = argv[argv.index("--host") + 1], argv[argv.index("--port") + 1]

    def scraped() -> str:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics",  # noqa: S310
                                    timeout=5) as r:
            body: str = r.read().decode()
        return body if "govcloud_state_ok 1.0" in body else ""

    metrics = wait_for("the exporter's metrics", scraped, 60)
    assert re.search(r"^govcloud_audit_head\{.*\} [1-9]", metrics, re.M), metrics[:2000]

    # the jobs the timers start, each run from its service's ExecStart as the govcloud user
    today = datetime.date.today()
    usage = sup.run(deployed.unit("govcloud-usage.service"))
    assert usage.returncode == 0, usage.stdout + usage.stderr
    assert f"{today:%Y-%m} month to date" in usage.stdout, usage.stdout
    last = sup.run(deployed.unit("govcloud-usage-last-month.service"))
    month = today.replace(day=1) - datetime.timedelta(days=1)  # by the host's date
    assert last.returncode == 0, last.stdout + last.stderr
    assert f" in {month:%Y-%m}" in last.stdout, last.stdout
    escalate = sup.run(deployed.unit("govcloud-escalate.service"))
    assert escalate.returncode == 0 and "overdue" in escalate.stdout, escalate.stderr
    verify = sup.run(deployed.unit("govcloud-audit-verify.service"))
    assert verify.returncode == 0 and "The audit trail is whole" in verify.stdout
