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

The one deploy runs on PostgreSQL (the suite's server, a database of the test's, its URL with a
password the play must not print nor put in a unit file): the portal, the exporter and every
job use it; the state-backup job dumps it with pg_dump into a local restic repository copied
to a second one standing in for the DR site. The estate is the example's with one department,
finance (every request waiting for an operator, as in the whole estate); its backup hosts
are this machine (local connection, their folders in the service user's home), where the
backup playbook never ran: the report-backup job reports finance without a snapshot (the
exit code 2 of a breach is no failure of the job).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime
import grp
import http.client
import json
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.portal.journeys import PASSWORD, approve_next, ask, sign_in
from tests.support.cli import BUILT
from tests.support.components import free_port, need, unavailable, wait_for, wait_port
from tests.support.estate import REPO, copy_estate
from tests.support.portal import chromium
from tests.support.pyramid import require
from tests.support.tls import Pki, make_pki
from tests.support.units import Supervisor, Unit, env_file

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.chromium,
              pytest.mark.postgres, pytest.mark.restic]
SERVER = "portal.govcloud.test"
USER = f"gcd{os.getpid() % 100000:05d}"
SECRET = "cookie-key-9c41e7d2a0b3"  # the portal's cookie key, in the units' environment
PG_PASSWORD = "pg-pass-5e07b1c94f2d"  # in the state store's URL (the server trusts loopback)
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


@contextlib.contextmanager
def _wheel(base: Path) -> Iterator[Callable[[], Path]]:
    """govcloud's wheel, built from this checkout's package files (as a release is) while
    the caller prepares the rest: the function given waits for it."""
    src = base / "src"
    for part in ("govcloud", "playbooks"):
        shutil.copytree(REPO / part, src / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    for part in ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md"):
        shutil.copy(REPO / part, src / part)
    build = subprocess.Popen([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                              "--disable-pip-version-check", "-w", str(base / "dist"), str(src)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def built() -> Path:
        _, err = build.communicate(timeout=600)
        assert build.returncode == 0, err[-3000:]
        (wheel,) = (base / "dist").glob("govcloud-*.whl")
        return wheel

    try:
        yield built
    finally:
        if build.poll() is None:
            build.kill()
            build.wait()


def _estate_repository(base: Path, root: Path) -> Path:
    """The example estate as the git repository the playbook clones: its state backed up to
    two local repositories (primary and DR) under the root, its backup hosts this machine."""
    repo = copy_estate(base / "estate.git")
    settings = yaml.safe_load((repo / "govcloud.yaml").read_text())
    home, backups = root / "var/lib/govcloud", root / "var/backups"
    settings["state_backup"] = {
        "repository": str(backups / "govcloud-state"),
        "password_file": str(home / "state-restic.pass"),
        "dr_repository": str(backups / "govcloud-state-dr"),
        "dr_password_file": str(home / "state-restic-dr.pass")}
    (repo / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True,
                                                       sort_keys=False))
    # the backup hosts: this machine, their folders in the service user's home; one
    # department, finance (the status of each costs a few tasks of the report's play)
    hosts = yaml.safe_load((repo / "inventories/hosts.yml").read_text())
    for group, prefix in (("backup_hosts", "restic"), ("dr_backup_hosts", "restic_dr")):
        (name,) = hosts["all"]["children"][group]["hosts"]
        folder = home / name
        hosts["all"]["children"][group]["hosts"][name] = {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable,
            "govcloud_bin_dir": f"{folder}/bin", "cron_dir": f"{folder}/cron.d",
            **{f"{prefix}_{part}": f"{folder}/{part}" for part in (
                "repo_root", "secrets_dir", "cache_dir")},
            **{f"{'backup' if prefix == 'restic' else prefix}_{part}": f"{folder}/{part}"
               for part in ("conf_dir", "results_dir", "scratch_dir")}}
    (repo / "inventories/hosts.yml").write_text(yaml.safe_dump(hosts, allow_unicode=True))
    for plan in (repo / "plans").glob("*.yaml"):
        if plan.name != "finance.yaml":
            plan.unlink()
    # alone on the hosts, finance's small request would be approved at once: every request
    # waits for an operator here, as the journey's does in the whole estate
    approvals = yaml.safe_load((repo / "policies/approvals.yaml").read_text())
    approvals["rules"] = [r for r in approvals["rules"] if r["approve"] != "auto"]
    (repo / "policies/approvals.yaml").write_text(yaml.safe_dump(approvals, sort_keys=False))
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


def _database(server: str) -> str:
    """A new database on the suite's PostgreSQL server; its URL, with a password."""
    import psycopg

    name = f"deploy_{os.getpid()}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = urllib.parse.urlsplit(server)
    return url._replace(netloc=f"{url.username}:{PG_PASSWORD}@{url.hostname}:{url.port}",
                        path=f"/{name}").geturl()


@pytest.fixture(scope="module")
def deployed(postgres_url: str) -> Iterator[Deployed]:
    """The playbook run twice on a fresh root, its state store in PostgreSQL."""
    require("ansible")
    need("nginx", component="nginx")
    if os.geteuid() != 0:
        unavailable("the deploy test creates a system user: run it as root")
    base = Path(tempfile.mkdtemp(prefix="govcloud-deploy-", dir="/tmp"))
    base.chmod(0o755)  # the service user reaches the root folder inside
    root = base / "root"
    _nginx_main(root)
    https_port = free_port()
    with _wheel(base) as wheel:
        pki = make_pki(base / "pki", SERVER)
        estate = _estate_repository(base, root)
        state_url = _database(postgres_url)
        built = wheel()
    values = {
        "govcloud_control_root": str(root),
        "govcloud_control_wheel": str(built),
        # this machine's Python and its packages (no package index in the test)
        "govcloud_control_python": sys.executable,
        "govcloud_control_venv_site_packages": True,
        "govcloud_control_pip_args": "--no-deps",
        "govcloud_control_user": USER, "govcloud_control_group": USER,
        "govcloud_control_estate_repo": str(estate),
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
        "govcloud_control_state_url": state_url,
        "govcloud_control_portal_workers": 2,  # (4 by default with PostgreSQL: 2 cores here)
        "govcloud_control_writable_paths": [str(root / "var/backups")],
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
        assert SECRET not in out and key not in out and PG_PASSWORD not in out
        assert "censored" in out  # the tasks that carry them say so instead
    # the state store's URL and the other secrets: in the units' environment file, which
    # root and the service's group read, and in no unit file (those are world-readable)
    env = deployed.root / "etc/govcloud/govcloud.env"
    url = deployed.values["govcloud_control_state_url"]
    assert env_file(env.read_text())["GOVCLOUD_STATE_URL"] == url and PG_PASSWORD in url
    assert SECRET in env.read_text()
    assert env.stat().st_mode & 0o777 == 0o640 and env.stat().st_uid == 0
    assert env.stat().st_gid == grp.getgrnam(USER).gr_gid
    for unit in deployed.units.glob("govcloud-*"):
        text = unit.read_text()
        assert PG_PASSWORD not in text and SECRET not in text, unit.name
        if unit.suffix == ".service":
            assert Unit.read(unit).get("EnvironmentFile") == str(env), unit.name
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
        str(deployed.estate), str(deployed.root / "var/lib/govcloud"),
        str(deployed.root / "var/backups")]


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
    for name, role, dep in (("admin", "operator", None), ("li.wei", "member", "finance"),
                            ("zhou.head", "approver", "finance")):
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
        # the example's rules: the department head signs new servers, then an operator
        assert approve_next(browser, base, "zhou.head").startswith("待审批")
        assert approve_next(browser, base, "admin").startswith("已批准")
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


def _scrape(deployed: Deployed, ready: str) -> str:
    """The exporter's metrics, scraped at its unit's address, once they hold ``ready``."""
    (argv,) = Unit.read(deployed.unit("govcloud-exporter.service")).commands()
    host, port = argv[argv.index("--host") + 1], argv[argv.index("--port") + 1]

    def scraped() -> str:
        with urllib.request.urlopen(f"http://{host}:{port}/metrics",  # noqa: S310
                                    timeout=5) as r:
            body: str = r.read().decode()
        return body if "govcloud_state_ok 1.0" in body and ready in body else ""

    return wait_for(f"the exporter's metrics with {ready}", scraped, 60)


def test_the_exporter_at_its_units_address_and_the_jobs_from_their_units(
        running: Running) -> None:
    deployed, sup = running.deployed, running.supervisor
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
    # each job left its trace; the exporter serves it for the alert rules
    jobs = deployed.root / "var/lib/govcloud/jobs"
    ran = ("usage", "usage-last-month", "escalate", "audit-verify")
    assert sorted(p.name for p in jobs.glob("*.succeeded")) >= sorted(
        f"{job}.succeeded" for job in ran)
    # one scrape once the jobs ran (the exporter rebuilds its page at most every 10 s)
    metrics = _scrape(deployed, 'govcloud_job_last_success_timestamp_seconds{timer="usage"}')
    assert re.search(r"^govcloud_audit_head\{.*\} [1-9]", metrics, re.M), metrics[:2000]
    for job in ran:
        name = f'govcloud_job_last_success_timestamp_seconds{{timer="{job}"}}'
        stamp = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.M)
        assert stamp and abs(float(stamp[1]) - (jobs / f"{job}.succeeded").stat().st_mtime) < 1


def _restic_snapshots(repository: Path, password: Path) -> list[dict[str, Any]]:
    proc = subprocess.run(["restic", "-r", str(repository), "--password-file", str(password),
                           "snapshots", "--json", "--no-lock"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "RESTIC_CACHE_DIR": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    found: list[dict[str, Any]] = json.loads(proc.stdout)
    return found


def test_the_backup_jobs_from_their_units(running: Running) -> None:
    """The state backup before its repositories exist fails, and says so in its trace; made
    once as the runbook says (state backup --init, as the govcloud user), the job backs the
    PostgreSQL store up into the primary repository and copies it to the DR one. The
    report-backup job collects every department's status from the backup hosts."""
    deployed, sup = running.deployed, running.supervisor
    home, backups = deployed.root / "var/lib/govcloud", deployed.root / "var/backups"
    user = pwd.getpwnam(USER)
    backups.mkdir(exist_ok=True)
    os.chown(backups, user.pw_uid, user.pw_gid)
    for site in ("", "-dr"):
        secret = home / f"state-restic{site}.pass"
        secret.write_text(f"state restic password{site}\n")
        os.chown(secret, user.pw_uid, user.pw_gid)
        secret.chmod(0o400)
    # the venv shares this machine's packages (no package index in the test): the commands
    # pip would have put beside its python with ansible-core are linked there instead
    bin_dir = Path(deployed.govcloud).parent
    for command in ("ansible-playbook", "ansible-galaxy"):
        here = Path(sys.executable).parent / command
        if here.exists() and not (bin_dir / command).exists():
            (bin_dir / command).symlink_to(here)
    started = time.time()
    # the report job (an Ansible run, the longest) runs while the state backups are taken
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        reporting = pool.submit(sup.run, deployed.unit("govcloud-report-backup.service"))
        jobs, unit = home / "jobs", deployed.unit("govcloud-state-backup.service")
        early = sup.run(unit)
        assert early.returncode == 1 and "restic" in early.stderr, early.stdout + early.stderr
        assert (jobs / "state-backup.failed").exists()
        assert not (jobs / "state-backup.succeeded").exists()

        _as_user(deployed, sup, "state", "backup", "--init")
        taken = sup.run(unit)
        assert taken.returncode == 0, taken.stdout + taken.stderr
        assert "Backed up the state store (postgresql" in taken.stdout, taken.stdout
        assert "Copied it to the DR site's repository" in taken.stdout, taken.stdout
        for repo, pw in (("govcloud-state", ""), ("govcloud-state-dr", "-dr")):
            snaps = _restic_snapshots(backups / repo, home / f"state-restic{pw}.pass")
            assert len(snaps) == 2, snaps  # the runbook's first backup and the job's
        assert (jobs / "state-backup.succeeded").stat().st_mtime > (
            jobs / "state-backup.failed").stat().st_mtime
        report = reporting.result()
    # the hosts hold no backup of finance (the backup playbook never ran there): no snapshot,
    # a breach (exit 2), which the unit's SuccessExitStatus counts as the job's success
    # (Prometheus alerts on the breach); the statuses it collected (none) are saved
    assert report.returncode == 2, report.stdout + report.stderr
    assert re.search(r"^finance +primary +- .* BREACH", report.stdout, re.M), report.stdout
    saved = deployed.estate / ".state/services/backup-status.json"
    assert json.loads(saved.read_text()) == [] and saved.stat().st_mtime > started
    assert (jobs / "report-backup.succeeded").exists()
    assert not (jobs / "report-backup.failed").exists()
