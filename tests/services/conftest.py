"""The shared-service test rig: the example estate applied with its service playbooks run for
real (ansible-runner, localhost with ansible_connection: local) into one temporary folder,
with a real nginx, php-fpm, ClamAV and restic.

Every location of inventories/group_vars/all.yml is pointed into the folder and every port
onto loopback, so nothing of the machine's own configuration is touched; the department site
users get a prefix of the run's own (``gct<pid>-``, so two runs on one machine keep apart)
and are removed afterwards. Under CI=true a component that is missing or cannot start fails
the run; on a developer machine it skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.support.components import free_ports, need, unavailable, wait_for, wait_port
from tests.support.estate import REPO, copy_estate
from tests.support.pyramid import require
from tests.support.rig import SIGNATURE, Backend, Rig, local_services, remove_test_users


@pytest.fixture(scope="session")
def rig() -> Iterator[Rig]:
    """The example estate, applied with services on, nginx and php-fpm serving it. Tests
    that use it are marked real, ansible, nginx, clamav and restic (tests/support/pyramid.py
    makes them)."""
    require("ansible")
    nginx = need("nginx", component="nginx")
    php_fpm = need("php-fpm8.2", "php-fpm", component="nginx")
    clamscan = need("clamscan", component="clamav")
    restic = need("restic", component="restic")
    if os.geteuid() != 0:
        unavailable("the service tests create department users: run them as root")
    # A world-traversable base: the department users must reach their own docroots, so a
    # refusal to read another's is the permissions' doing, not a closed parent folder.
    base = Path(tempfile.mkdtemp(prefix="govcloud-svc-", dir="/tmp"))
    base.chmod(0o755)
    estate = copy_estate(base / "estate")
    shutil.copytree(REPO / "playbooks", estate / "playbooks")
    http_port, https_port, backend_port = free_ports(3)

    # Settings: services on, signatures from a folder the tests write.
    sigs = base / "signatures"
    sigs.mkdir()
    (sigs / "govcloud-test.ndb").write_text(
        f"{SIGNATURE}:0:*:{b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE'.hex()}\n")
    settings = yaml.safe_load((estate / "govcloud.yaml").read_text(encoding="utf-8"))
    # The proxy sites' backend is on loopback, which no department may reach in production:
    # the rig opens it with the settings' test knob. The zones' pools are loopback ranges, so
    # that a department server's address (the sim gives one from its network) can be bound
    # by a test's own backend.
    settings["services"] = {"enabled": True, "signatures": str(sigs),
                            "upstream_networks": ["127.0.0.1/32"]}
    settings["networks"] = {"intranet": "127.20.0.0/16", "extranet": "127.40.0.0/16"}
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
    values = local_services(estate, srv, nginx=nginx, clamscan=clamscan, restic=restic,
                            http_port=http_port, https_port=https_port)
    (srv / "run").mkdir(parents=True)
    (srv / "log").mkdir()

    remove_test_users()
    r = Rig(base, estate, values, http_port, https_port, backend_port)
    procs: list[subprocess.Popen[bytes]] = []
    server = ThreadingHTTPServer(("127.0.0.1", backend_port), Backend)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # every playbook for 16 departments: minutes, many more on a loaded machine (a
        # guard against a hang, not a speed test)
        r.first_apply = r.gc("apply", "--yes", "--output", "json", timeout=1800)
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
        wait_port(http_port, "nginx", proc=procs[-1], log=srv / "log/nginx/error.log")
        wait_for("php-fpm's department sockets",
                 lambda: list(Path(values["php_fpm_run_dir"]).glob("*.sock")), 10, procs[0],
                 srv / "log/php-fpm.log", every=0.1)
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
        remove_test_users()
        if os.environ.get("GOVCLOUD_KEEP_TEST_RIG"):
            print(f"test rig kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
