"""Department servers as Ansible targets, for real: each server is a network namespace this
module creates (a veth pair, the address the sim driver gave the server, its own sshd and its
own /srv), reached over SSH with the estate's key govcloud made. ``govcloud services run``
configures antivirus and the backup pull on them (a second run changes nothing), EICAR on one
server is attributed to its department, a server's data is pulled, backed up and restored
onto it, and no server ever holds a repository password (pull model: docs/services.md).

The namespaces share the machine's file system except /srv, which each server's sshd sees as
its own folder (a bind mount in its mount namespace): everything the roles write on a server
is pointed under /srv (inventories/group_vars/department_servers.yml)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.components import free_ports, need, unavailable, wait_for
from tests.support.estate import REPO, copy_estate
from tests.support.pyramid import require
from tests.support.rig import (
    EICAR,
    SERVERS_USER_PREFIX,
    SIGNATURE,
    Rig,
    local_services,
    remove_test_users,
)

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic, pytest.mark.sshd]

DEPS = ("water", "land")
TAG = f"g{os.getpid() % 100000:05d}"  # this run's namespaces and links (names <= 15 chars)


def plan(dep: str, n: int) -> dict[str, object]:
    return {
        "department": {"id": dep, "name": f"{dep} bureau", "cost_centre": f"CC-9{n:03d}",
                       "zone": "intranet"},
        "quota": {"instances": 2, "cores": 8, "ram_gb": 16, "volumes": 0, "volume_gb": 0,
                  "websites": 0},
        "servers": [{"name": f"{dep}-app", "flavor": "m1.medium", "image": "kylin-v10-sp3",
                     "count": 1, "load": {"cpu": 0.2, "ram": 0.3}}],
        "services": {"antivirus": {"schedule": "0 2 * * *"},
                     "backup": {"schedule": "30 1 * * *", "paths": ["/srv/data"],
                                "retention": {"daily": 7, "weekly": 4, "monthly": 6}}},
        "legacy": {"servers": [{"class": "tower-2u", "count": 1}], "admin_staff": 1},
    }


@dataclass
class Server:
    host: str  # inventory name, <department>.<server>
    department: str
    address: str
    netns: str
    root: Path  # what the server sees as /srv

    def ssh(self, key: Path, known: Path, *command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
             "-o", "StrictHostKeyChecking=accept-new", "-o", f"UserKnownHostsFile={known}",
             f"root@{self.address}", *command], capture_output=True, text=True, timeout=120)


@dataclass
class Estate:
    rig: Rig
    servers: dict[str, Server]  # department -> its server
    key: Path
    known: Path
    first_run: dict[str, object]

    def ssh(self, dep: str, *command: str) -> subprocess.CompletedProcess[str]:
        return self.servers[dep].ssh(self.key, self.known, *command)


def sh(*argv: str) -> None:
    run = subprocess.run(argv, capture_output=True, text=True)
    if run.returncode != 0:
        pytest.fail(f"{' '.join(argv)}: {run.stderr.strip()}", pytrace=False)


def start_server(base: Path, server: Server, i: int, sshd: str, ip: str
                 ) -> subprocess.Popen[bytes]:
    """A namespace owning the server's address, reached from here over a veth pair, with
    an sshd that lets in the keys of /srv/.ssh/authorized_keys only."""
    outside, inside = f"{TAG}h{i}", f"{TAG}n{i}"
    sh(ip, "netns", "add", server.netns)
    sh(ip, "link", "add", outside, "type", "veth", "peer", "name", inside)
    sh(ip, "link", "set", inside, "netns", server.netns)
    sh(ip, "link", "set", outside, "up")
    sh(ip, "route", "add", f"{server.address}/32", "dev", outside)
    inns = (ip, "netns", "exec", server.netns, ip)
    sh(*inns, "link", "set", "lo", "up")
    sh(*inns, "addr", "add", f"{server.address}/32", "dev", inside)
    sh(*inns, "link", "set", inside, "up")
    sh(*inns, "route", "add", "default", "dev", inside)
    conf = base / "sshd" / server.host
    conf.mkdir(parents=True)
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(conf / "host_key"))
    (conf / "sshd_config").write_text(
        f"ListenAddress {server.address}\nHostKey {conf / 'host_key'}\n"
        f"PidFile {conf / 'sshd.pid'}\nAuthorizedKeysFile /srv/.ssh/authorized_keys\n"
        "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "Subsystem sftp internal-sftp\n")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation folder
    log = conf / "sshd.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [ip, "netns", "exec", server.netns, "unshare", "--mount", "--propagation",
             "private", "sh", "-c", 'mount --bind "$1" /srv && exec "$2" -D -e -f "$3"',
             "sh", str(server.root), sshd, str(conf / "sshd_config")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def listening() -> bool:
        probe = subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/{server.address}/22"],
                               capture_output=True, timeout=5)
        return probe.returncode == 0

    wait_for(f"sshd of {server.host} on {server.address}:22", listening, 30, proc, log)
    return proc


@pytest.fixture(scope="module")
def servers_estate() -> Iterator[Estate]:
    require("ansible")
    sshd = need("sshd", component="sshd")
    ip = need("ip", component="sshd")
    need("rsync", component="sshd")
    need("ssh-keygen", component="sshd")
    nginx = need("nginx", component="nginx")
    clamscan = need("clamscan", component="clamav")
    restic = need("restic", component="restic")
    if os.geteuid() != 0:
        unavailable("the department-server tests create network namespaces: run them as root")
    base = Path(tempfile.mkdtemp(prefix="govcloud-servers-", dir="/tmp"))
    base.chmod(0o755)
    root = copy_estate(base / "estate", plans=False)
    shutil.copytree(REPO / "playbooks", root / "playbooks")
    sigs = base / "signatures"
    sigs.mkdir()
    (sigs / "govcloud-test.ndb").write_text(
        f"{SIGNATURE}:0:*:{b'EICAR-STANDARD-ANTIVIRUS-TEST-FILE'.hex()}\n")
    settings = yaml.safe_load((root / "govcloud.yaml").read_text(encoding="utf-8"))
    settings["services"] = {"enabled": True, "servers": True, "signatures": str(sigs)}
    (root / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True),
                                        encoding="utf-8")
    for n, dep in enumerate(DEPS):
        (root / "plans" / f"{dep}.yaml").write_text(yaml.safe_dump(plan(dep, n)),
                                                     encoding="utf-8")
    http_port, https_port = free_ports(2)
    values = local_services(root, base / "srv", nginx=nginx, clamscan=clamscan,
                            restic=restic, http_port=http_port, https_port=https_port,
                            user_prefix=SERVERS_USER_PREFIX)
    on_server = {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                 "govcloud_bin_dir": "/srv/govcloud/bin", "cron_dir": "/srv/govcloud/cron.d",
                 "clamav_db_dir": "/srv/govcloud/clamav-db",
                 "clamav_conf_dir": "/srv/govcloud/antivirus",
                 "clamav_results_dir": "/srv/govcloud/log/antivirus",
                 "server_authorized_keys": "/srv/.ssh/authorized_keys"}
    (root / "inventories" / "group_vars" / "department_servers.yml").write_text(
        yaml.safe_dump(on_server))
    (base / "srv" / "run").mkdir(parents=True)
    rig = Rig(base, root, values, 0, 0, 0)
    procs: list[subprocess.Popen[bytes]] = []
    servers: dict[str, Server] = {}
    try:
        rig.gc("apply", "--yes", "--no-services")
        inv = json.loads(rig.gc("inventory", "--list").stdout)
        for i, dep in enumerate(DEPS):
            group = inv[f"dept_{dep}"]["hosts"]
            assert group == [f"{dep}.{dep}-app"], group
            address = inv["_meta"]["hostvars"][group[0]]["ansible_host"]
            folder = base / "servers" / group[0]
            (folder / ".ssh").mkdir(parents=True)
            servers[dep] = Server(group[0], dep, address, f"{TAG}-{i}", folder)
        key = Path(inv["department_servers"]["vars"]["ansible_ssh_private_key_file"])
        known = key.parent / "known_hosts"
        for i, server in enumerate(servers.values()):
            # the public key reaches the server as the cloud gives it (keypair, cloud-init)
            (server.root / ".ssh" / "authorized_keys").write_text(
                Path(f"{key}.pub").read_text())
            procs.append(start_server(base, server, i, sshd, ip))
        first = rig.gc_json("services", "run")
        yield Estate(rig, servers, key, known, first)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        for i, server in enumerate(servers.values()):
            # sshd's sessions outlive it (Ansible's ControlPersist): end every process of
            # the namespace, or it and its veth pair stay
            pids = subprocess.run([ip, "netns", "pids", server.netns], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            subprocess.run([ip, "netns", "del", server.netns], capture_output=True)
            subprocess.run([ip, "link", "del", f"{TAG}h{i}"], capture_output=True)
        remove_test_users(SERVERS_USER_PREFIX)
        if os.environ.get("GOVCLOUD_KEEP_TEST_RIG"):
            print(f"department-server rig kept in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


def test_services_configure_the_servers_over_ssh_and_converge(servers_estate: Estate) -> None:
    estate = servers_estate
    assert estate.first_run["ok"], estate.first_run
    for dep, server in estate.servers.items():
        # antivirus: the mirror's signatures and the department's own scan, on the server
        assert sorted(p.name for p in (server.root / "govcloud/clamav-db").iterdir()) == \
            ["govcloud-test.ndb"]
        scans = (server.root / "govcloud/antivirus/scans.conf").read_text()
        assert f"\n{dep} /srv/data\n" in scans
        assert all(other not in scans for other in DEPS if other != dep)
        # its own cron file (one per department: cron ignores a whole file it cannot read)
        assert sorted(p.name for p in (server.root / "govcloud/cron.d").iterdir()) == \
            [f"govcloud-antivirus_{dep}"]
        cron = (server.root / f"govcloud/cron.d/govcloud-antivirus_{dep}").read_text()
        assert f"0 2 * * * root /srv/govcloud/bin/govcloud-avscan {dep}\n" in cron
        # backup: the backup host's pull key may run rsync and nothing else
        keys = (server.root / ".ssh/authorized_keys").read_text().splitlines()
        pull = [k for k in keys if "govcloud-backup-pull@localhost" in k]
        assert len(pull) == 1 and pull[0].startswith(
            f'restrict,command="{estate.rig.vars["rrsync_bin"]} /" ssh-ed25519 '), keys
        assert (server.root / "data").is_dir()
    # the backup host pulls from exactly these servers
    conf = (estate.rig.path("backup_conf_dir") / "backup.conf").read_text()
    for dep, server in estate.servers.items():
        assert f"{dep}.server={server.host} {server.address}\n" in conf
        assert f"{dep}.server_path=/srv/data\n" in conf
    again = estate.rig.gc_json("services", "run")
    assert again["ok"] and [r["changed"] for r in again["runs"]] == [0, 0, 0], again


def test_the_estate_key_stays_in_its_file(servers_estate: Estate) -> None:
    estate = servers_estate
    assert oct(estate.key.stat().st_mode & 0o777) == "0o600"
    assert oct(estate.key.parent.stat().st_mode & 0o777) == "0o700"
    # the key's base64 lines but the first (OpenSSH's header, the same in every key)
    body = [line for line in estate.key.read_text().splitlines()
            if line and not line.startswith("-----")][1:]
    assert len(body) >= 3
    found = subprocess.run(["grep", "-rlF", *[a for line in body for a in ("-e", line)],
                            str(estate.rig.base)], capture_output=True, text=True).stdout.split()
    assert found == [str(estate.key)]  # not in the runs' artifacts, the state or a server
    assert not any(line in out for line in body for out in estate.rig.outputs)


def test_eicar_on_a_server_is_attributed_to_its_department(servers_estate: Estate) -> None:
    estate = servers_estate
    victim, clean = DEPS
    infected = estate.servers[victim].root / "data" / "upload.bin"
    infected.write_text(EICAR)
    try:
        for dep in DEPS:
            scan = estate.ssh(dep, "/srv/govcloud/bin/govcloud-avscan", dep)
            assert scan.returncode == (1 if dep == victim else 0), (dep, scan.stdout,
                                                                    scan.stderr)
        report = estate.rig.gc_json("report", "security", ok_codes=(2,))
        found = [(r["department"], f["host"], f["path"], f["signature"]) for r in report
                 for f in r["findings"]]
        assert found == [(victim, estate.servers[victim].host, "/srv/data/upload.bin",
                          f"{SIGNATURE}.UNOFFICIAL")]
        by_dep = {r["department"]: r for r in report}
        assert by_dep[clean]["last_scan"] and by_dep[clean]["hosts"] == \
            [estate.servers[clean].host]
    finally:
        infected.unlink()


def test_a_servers_data_is_backed_up_and_restored_onto_it(servers_estate: Estate) -> None:
    estate = servers_estate
    dep = DEPS[0]
    data = estate.servers[dep].root / "data"
    files = {data / "ledger.csv": os.urandom(4096),
             data / "年度" / "报告.txt": "年度报告\n".encode() * 100}
    for path, body in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(body)
    # the server's links come back as they were (the backup host keeps them munged)
    links = {data / "latest": "年度/报告.txt", data / "elsewhere": "/srv/data/ledger.csv"}
    for link, target in links.items():
        link.symlink_to(target)
    subprocess.run([estate.rig.bin("govcloud-backup"), "run", dep], check=True)
    drill = estate.rig.gc_json("backup", "verify", "--department", dep)
    assert drill[0]["ok"] and drill[0]["files"] == len(files), drill
    # lost and damaged on the server
    (data / "ledger.csv").unlink()
    (data / "年度" / "报告.txt").write_bytes(b"encrypted by ransomware")
    for link in links:
        link.unlink()
    estate.rig.gc("backup", "restore", "--department", dep, "--to", "/")
    for path, body in files.items():
        assert path.read_bytes() == body, path
    assert {link: os.readlink(link) for link in links} == links
    # the other department's server got nothing of it
    assert not list((estate.servers[DEPS[1]].root / "data").rglob("ledger.csv"))


def test_a_hostile_server_cannot_make_the_backup_host_write_outside_its_folder(
        servers_estate: Estate) -> None:
    """#22 case 5: backup paths ['/srv/app', '/srv/app/data'] (validate refuses the inner one
    since, tests/services/test_backup_paths.py; here the backup host's configuration is
    written as a govcloud before that rule wrote it) and a server whose /srv/app/data is a
    link to a folder of the backup host. Before, the pull of /srv/app brought the link along
    and the pull of /srv/app/data wrote the server's files through it. Now the pull stores
    links munged, never makes or enters a copy's folder through a link, and nothing outside
    the department's folder is written."""
    estate = servers_estate
    dep = DEPS[1]
    server = estate.servers[dep]
    # /srv differs between a server and the backup host: on the backup host this folder is
    # outside every department's, on the server it holds the attacker's files
    name = f"govcloud-{TAG}-outside"
    outside = Path("/srv") / name
    outside.mkdir()
    app = server.root / "app"
    conf = estate.rig.path("backup_conf_dir") / "backup.conf"
    before = conf.read_text()
    try:
        (server.root / name).mkdir()
        (server.root / name / "govcloud-evil").write_text("* * * * * root /bin/false\n")
        app.mkdir()
        (app / "ledger.csv").write_text("1,2\n")
        (app / "data").symlink_to(outside)
        conf.write_text(before + f"{dep}.server_path=/srv/app\n{dep}.server_path=/srv/app/data\n")
        started = time.time()
        run = subprocess.run([estate.rig.bin("govcloud-backup"), "run", dep],
                             capture_output=True, text=True, timeout=600)
        assert list(outside.iterdir()) == []
        # every folder of the backup host is below srv/ (tests/support/rig.py)
        written = [p for p in (estate.rig.base / "srv").rglob("*")
                   if not p.is_symlink() and p.stat().st_mtime >= started]
        mine = [estate.rig.path(k) / dep for k in ("backup_data_root", "restic_repo_root",
                                                    "backup_results_dir")]
        elsewhere = [p for p in written if not any(p.is_relative_to(m) or m.is_relative_to(p)
                                                   for m in mine)
                     and not p.is_relative_to(estate.rig.path("restic_cache_dir"))
                     and p != estate.rig.path("backup_conf_dir") / "known_hosts"]
        assert elsewhere == []
        # the server's own files were pulled and backed up; its link is kept, harmless
        copy = estate.rig.path("backup_data_root") / dep / "servers" / server.host / "srv/app"
        assert (copy / "ledger.csv").read_text() == "1,2\n"
        assert os.readlink(copy / "data") == f"/rsyncd-munged/{outside}"
        assert run.returncode == 1, (run.stdout, run.stderr)
        assert f"skipping {server.host}:/srv/app/data: its copy" in run.stderr
        assert "would pass through a link" in run.stderr
        drill = estate.rig.gc_json("backup", "verify", "--department", dep)
        assert drill[0]["ok"], drill
    finally:
        conf.write_text(before)
        shutil.rmtree(outside, ignore_errors=True)
        shutil.rmtree(app, ignore_errors=True)
        shutil.rmtree(server.root / name, ignore_errors=True)
        shutil.rmtree(estate.rig.path("backup_data_root") / dep / "servers" / server.host
                      / "srv/app", ignore_errors=True)


def test_no_server_holds_a_repository_password(servers_estate: Estate) -> None:
    estate = servers_estate
    for dep in DEPS:
        subprocess.run([estate.rig.bin("govcloud-backup"), "run", dep], check=True)
    secrets = sorted(estate.rig.path("restic_secrets_dir").glob("restic-*.pass"))
    assert [p.name for p in secrets] == [f"restic-{d}.pass" for d in sorted(DEPS)]
    for server in estate.servers.values():
        for password in secrets:
            found = subprocess.run(["grep", "-rlF", password.read_text(), str(server.root)],
                                   capture_output=True, text=True)
            assert found.stdout == "", (server.host, password.name, found.stdout)
    # and the pull key cannot open a shell on a server: rsync only
    pull_key = estate.rig.path("backup_conf_dir") / "pull_ed25519"
    shell = estate.servers[DEPS[0]].ssh(pull_key, estate.rig.path("backup_conf_dir")
                                        / "known_hosts", "cat", "/etc/hostname")
    assert shell.returncode != 0 and shell.stdout == ""
