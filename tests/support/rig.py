"""The shared-service test rig's pieces (the ``rig`` fixture is in tests/services/conftest.py):
what a test reads from the rig, the proxy sites' upstream, and the test's EICAR string."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import yaml

from tests.support.cli import govcloud

# The department site users' prefix, this run's own (at most 9 characters, as govcloud
# allows): a rig run at the same time on the same machine neither sees nor removes them.
USER_PREFIX = f"gct{os.getpid() % 100000:05d}-"
# The department-server rig's (tests/services/test_department_servers.py): its own, so its
# clean-up never removes the users of the shared rig, which may still be serving sites.
SERVERS_USER_PREFIX = f"gcs{os.getpid() % 100000:05d}-"
# The EICAR test string, written by the tests only (kept split so this file is never flagged).
EICAR = ("X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR" + "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
SIGNATURE = "Govcloud.Test.EICAR"
# The web host's two sides on loopback: every site on the address facing the zone's
# network, public sites on the one facing the internet as well.
INTERNAL_ADDRESS, PUBLIC_ADDRESS = "127.0.0.1", "127.0.0.3"


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
    first_apply: subprocess.CompletedProcess[str] | None = None

    def gc(self, *args: str, check: bool = True, timeout: float = 1200
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


def remove_test_users(prefix: str = USER_PREFIX) -> None:
    """Remove the department site users and groups this run's rig (the one whose users have
    ``prefix``) created."""
    for line in Path("/etc/passwd").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(prefix):
            subprocess.run(["userdel", name], capture_output=True)
    for line in Path("/etc/group").read_text().splitlines():
        name = line.split(":", 1)[0]
        if name.startswith(prefix):
            subprocess.run(["groupdel", name], capture_output=True)




def local_services(estate: Path, srv: Path, *, nginx: str, clamscan: str, restic: str,
                   http_port: int, https_port: int, user_prefix: str = USER_PREFIX
                   ) -> dict[str, Any]:
    """Point the estate's inventory at this machine: localhost (ansible_connection: local)
    plays every shared host, every location of group_vars/all.yml lies inside ``srv``, nginx
    listens on loopback at the given ports (every site on 127.0.0.1, public ones on
    127.0.0.3 too), the department site users' names start with
    ``user_prefix``. Returns the variables written."""
    (estate / "inventories" / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {
        group: {"hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": sys.executable}}}
        for group in ("webhosts", "av_mirror", "backup_hosts")}}}))
    gv = estate / "inventories" / "group_vars" / "all.yml"
    values: dict[str, Any] = yaml.safe_load(gv.read_text())
    values.update({
        "govcloud_bin_dir": f"{srv}/bin", "cron_dir": f"{srv}/cron.d",
        "site_user_prefix": user_prefix,
        "nginx_bin": nginx, "nginx_conf_dir": f"{srv}/nginx",
        "nginx_main_conf": f"{srv}/nginx/nginx.conf",
        "nginx_sites_dir": f"{srv}/nginx/sites", "nginx_prefix": f"{srv}/nginx-prefix",
        "nginx_pid_file": f"{srv}/run/nginx.pid", "nginx_log_dir": f"{srv}/log/nginx",
        "web_listen": {zone: {"internal": INTERNAL_ADDRESS, "public": PUBLIC_ADDRESS}
                       for zone in ("intranet", "extranet")}, "nginx_http_port": http_port,
        "nginx_https_port": https_port, "tls_dir": f"{srv}/tls", "web_root": f"{srv}/www",
        "web_archive_root": f"{srv}/www-archive", "php_fpm_pool_dir": f"{srv}/php/pool.d",
        "php_fpm_run_dir": f"{srv}/run/php", "php_fpm_pid_file": f"{srv}/run/php-fpm.pid",
        "clamscan_bin": clamscan, "clamav_mirror_dir": f"{srv}/clamav-mirror",
        "clamav_db_dir": f"{srv}/clamav-db", "clamav_conf_dir": f"{srv}/antivirus",
        "clamav_results_dir": f"{srv}/log/antivirus", "restic_bin": restic,
        "restic_repo_root": f"{srv}/backup/restic", "restic_secrets_dir": f"{srv}/secrets",
        "restic_cache_dir": f"{srv}/cache/restic", "backup_conf_dir": f"{srv}/backup/conf",
        "backup_data_root": f"{srv}/departments", "backup_results_dir": f"{srv}/backup/results",
        "backup_scratch_dir": f"{srv}/backup/scratch",
    })
    gv.write_text(yaml.safe_dump(values))
    return values
