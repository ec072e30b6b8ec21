"""The shared-service test rig: the example estate applied with its service playbooks run for
real (ansible-runner, localhost with ansible_connection: local) into one temporary folder,
with a real nginx, php-fpm, ClamAV and restic.

Every location of inventories/group_vars/all.yml is pointed into the folder and every port
onto loopback, so nothing of the machine's own configuration is touched; the department site
users get the test prefix ``gct-`` and are removed afterwards. Under CI=true a component that
is missing or cannot start fails the run; on a developer machine it skips.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, copy_estate, free_port, govcloud
from tests.conftest import need as _need

CI = os.environ.get("CI", "").lower() == "true"
# Sessions running the rig side by side on one machine each set their own prefix, or one
# rig's clean-up removes the other's users mid-run.
USER_PREFIX = os.environ.get("GOVCLOUD_TEST_USER_PREFIX", "gct-")
# The EICAR test string, written by the tests only (kept split so this file is never flagged).
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR" + "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIGNATURE = "Govcloud.Test.EICAR"


def need(binary: str, *alternatives: str) -> str:
    return _need(binary, *alternatives, install=".ci/install-services")


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, what: str = "",
              timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not start on 127.0.0.1:{port}")


class Backend(BaseHTTPRequestHandler):
    """The proxy sites' upstream: answers with the path it was asked for."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"backend {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Rig:
    base: Path
    estate: Path
    vars: dict[str, Any]
    http_port: int
    https_port: int
    backend_port: int
    outputs: list[str] = field(default_factory=list)

    def gc(self, *args: str, check: bool = True, timeout: float = 600
           ) -> subprocess.CompletedProcess[str]:
        proc = govcloud(*args, estate=self.estate, timeout=timeout)
        self.outputs += [proc.stdout, proc.stderr]
        if check and proc.returncode != 0:
            raise AssertionError(f"govcloud {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def gc_json(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> Any:
        proc = self.gc(*args, "--output", "json", check=False)
        assert proc.returncode in ok_codes, f"{args}: rc {proc.returncode}\n{proc.stdout}\n" \
                                            f"{proc.stderr}"
        return json.loads(proc.stdout)

    def path(self, name: str) -> Path:
        return Path(self.vars[name])

    def plans(self) -> dict[str, dict[str, Any]]:
        out = {}
        for f in sorted((self.estate / "plans").glob("*.yaml")):
            data = yaml.safe_load(f.read_text(encoding="utf-8"))
            out[data["department"]["id"]] = data
        return out

    def write_plan(self, dep: str, data: dict[str, Any]) -> None:
        (self.estate / "plans" / f"{dep}.yaml").write_text(
            yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    def bin(self, name: str) -> str:
        return str(self.path("govcloud_bin_dir") / name)


def _remove_test_users() -> None:
    for line in Path("/etc/passwd").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(USER_PREFIX):
            subprocess.run(["userdel", name], capture_output=True)
    for line in Path("/etc/group").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(USER_PREFIX):
            subprocess.run(["groupdel", name], capture_output=True)


@pytest.fixture(scope="session")
def rig() -> Iterator[Rig]:
    """The example estate, applied with services on, nginx and php-fpm serving it."""
    nginx = need("nginx")
    need("clamscan")
    need("restic")
    php_fpm = need("php-fpm8.2", "php-fpm")
    if os.geteuid() != 0:
        pytest.skip("the service tests create department users: run as root")
    # A world-traversable base: the department users must reach their own docroots, so a
    # refusal to read another's is the permissions' doing, not a closed parent folder.
    base = Path(tempfile.mkdtemp(prefix="govcloud-svc-", dir="/tmp"))
    base.chmod(0o755)
    estate = copy_estate(base / "estate")
    shutil.copytree(REPO / "playbooks", estate / "playbooks")
    http_port, https_port, backend_port = free_port(), free_port(), free_port()

    # Settings: services on, signatures from a folder the tests write.
    sigs = base / "signatures"
    sigs.mkdir()
    (sigs / "govcloud-test.ndb").write_text(
        f"{SIGNATURE}:0:*:{b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE'.hex()}\n")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["services"] = {"enabled": True, "signatures": str(sigs)}
    (estate / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                          encoding="utf-8")

    # Plans: proxy sites point at the test backend; one department gets small retention
    # rules the retention test can check.
    for f in (estate / "plans").glob("*.yaml"):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        for site in data.get("websites", []):
            if site.get("kind") == "proxy":
                site["upstream"] = f"http://127.0.0.1:{backend_port}/{data['department']['id']}/"
        if data["department"]["id"] == "statistics":
            data.setdefault("services", {}).setdefault("backup", {})["retention"] = {
                "daily": 7, "weekly": 2, "monthly": 2, "yearly": 1}
        f.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False),
                     encoding="utf-8")

    # Inventory: localhost plays every shared role; every location inside the base folder.
    srv = base / "srv"
    (estate / "inventories" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        group: {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": sys.executable}}}
        for group in ("webhosts", "av_mirror", "backup_hosts")}}}))
    gv = estate / "inventories" / "group_vars" / "all.yml"
    values = yaml.safe_load(gv.read_text())
    values.update({
        "govcloud_bin_dir": f"{srv}/bin", "cron_dir": f"{srv}/cron.d",
        "site_user_prefix": USER_PREFIX,
        "nginx_bin": nginx, "nginx_conf_dir": f"{srv}/nginx",
        "nginx_main_conf": f"{srv}/nginx/nginx.conf",
        "nginx_sites_dir": f"{srv}/nginx/sites", "nginx_prefix": f"{srv}/nginx-prefix",
        "nginx_pid_file": f"{srv}/run/nginx.pid", "nginx_log_dir": f"{srv}/log/nginx",
        "nginx_listen_address": "127.0.0.1", "nginx_http_port": http_port,
        "nginx_https_port": https_port, "tls_dir": f"{srv}/tls", "web_root": f"{srv}/www",
        "web_archive_root": f"{srv}/www-archive", "php_fpm_pool_dir": f"{srv}/php/pool.d",
        "php_fpm_run_dir": f"{srv}/run/php", "php_fpm_pid_file": f"{srv}/run/php-fpm.pid",
        "clamscan_bin": need("clamscan"), "clamav_mirror_dir": f"{srv}/clamav-mirror",
        "clamav_db_dir": f"{srv}/clamav-db", "clamav_conf_dir": f"{srv}/antivirus",
        "clamav_results_dir": f"{srv}/log/antivirus", "restic_bin": need("restic"),
        "restic_repo_root": f"{srv}/backup/restic", "restic_secrets_dir": f"{srv}/secrets",
        "restic_cache_dir": f"{srv}/cache/restic", "backup_conf_dir": f"{srv}/backup/conf",
        "backup_data_root": f"{srv}/departments", "backup_results_dir": f"{srv}/backup/results",
        "backup_scratch_dir": f"{srv}/backup/scratch",
    })
    gv.write_text(yaml.safe_dump(values))
    (srv / "run").mkdir(parents=True)
    (srv / "log").mkdir()

    _remove_test_users()
    r = Rig(base, estate, values, http_port, https_port, backend_port)
    procs: list[subprocess.Popen[bytes]] = []
    server = ThreadingHTTPServer(("127.0.0.1", backend_port), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        r.first_apply = r.gc("apply", "--yes", "--output", "json")  # type: ignore[attr-defined]
        # php-fpm with the generated pools, nginx with the generated configuration
        fpm_conf = srv / "php-fpm.conf"
        fpm_conf.write_text(f"[global]\npid = {values['php_fpm_pid_file']}\n"
                            f"error_log = {srv}/log/php-fpm.log\ndaemonize = no\n"
                            f"include = {values['php_fpm_pool_dir']}/*.conf\n")
        procs.append(subprocess.Popen([php_fpm, "--nodaemonize", "--fpm-config", str(fpm_conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            [nginx, "-e", f"{srv}/log/nginx/error.log", "-p", values["nginx_prefix"],
             "-c", values["nginx_main_conf"], "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(http_port, procs[-1], "nginx")
        deadline = time.monotonic() + 10
        while not list(Path(values["php_fpm_run_dir"]).glob("*.sock")):
            if procs[0].poll() is not None or time.monotonic() > deadline:
                pytest.fail("php-fpm did not start: "
                            + Path(f"{srv}/log/php-fpm.log").read_text(errors="replace")
                            if Path(f"{srv}/log/php-fpm.log").exists() else "no log")
            time.sleep(0.1)
        yield r
    finally:
        server.shutdown()
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        _remove_test_users()
        if os.environ.get("GOVCLOUD_KEEP_TEST_RIG"):
            print(f"test rig kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
