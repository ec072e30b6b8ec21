"""An OpenLDAP server (Debian's slapd) of its own in a folder, on loopback: its slapd.conf
(the core, cosine and inetOrgPerson schemas, govcloud's directory/govcloud.schema, an mdb
database, the ppolicy overlay, ACLs that keep passwords from every reader), an LDIF loaded
offline with slapadd before it starts (seconds for 60,000 entries), ldap:// and, given a
certificate, ldaps:// (StartTLS on the first).

Used by the tests' session fixture (tests/support/directory.py) and the directory sync
benchmark; .ci/install-directory installs slapd.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "directory" / "govcloud.schema"
EXAMPLE = REPO / "directory" / "example.ldif"
SUFFIX = "dc=qingdao,dc=gov,dc=cn"
ADMIN = f"cn=admin,{SUFFIX}"
SERVICE = f"cn=govcloud,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "govcloud-service-password"  # the example tree's (directory/example.ldif)
PEOPLE_PASSWORD = "example-password"


def _binary(name: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists()
                                   else None)
    if not found:
        raise FileNotFoundError(f"{name} is not installed (run .ci/install-directory)")
    return found


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Slapd:
    folder: Path
    url: str  # ldap://127.0.0.1:PORT (StartTLS when a certificate was given)
    ldaps_url: str  # "" without a certificate
    admin_password: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "slapd.log"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def config(folder: Path, admin_password: str, tls: tuple[Path, Path] | None) -> str:
    """The slapd.conf of a server whose database is in ``folder``/db."""
    tls_lines = (f"TLSCertificateFile {tls[0]}\nTLSCertificateKeyFile {tls[1]}\n"
                 if tls else "")
    return f"""include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include {SCHEMA}
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
pidfile {folder}/slapd.pid
{tls_lines}sizelimit 500
database mdb
suffix "{SUFFIX}"
rootdn "{ADMIN}"
rootpw {admin_password}
directory {folder}/db
maxsize 4294967296
# the sync reads everything, a page at a time; people's searches stay under the limit
limits dn.exact="{SERVICE}" size=unlimited time=unlimited
index objectClass eq
index uid eq
index member eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
overlay ppolicy
ppolicy_default "cn=default,ou=policies,{SUFFIX}"
ppolicy_use_lockout
"""


def start(folder: Path, ldif: Path | None = None, tls: tuple[Path, Path] | None = None,
          timeout: float = 30) -> Slapd:
    """A slapd serving ``ldif`` (the example tree by default; slapadd, offline), started
    in ``folder`` on free loopback ports; RuntimeError with its log when it does not."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir(exist_ok=True)
    password = os.urandom(12).hex()
    conf = folder / "slapd.conf"
    conf.write_text(config(folder, password, tls))
    done = subprocess.run([_binary("slapadd"), "-q", "-f", str(conf), "-l",
                           str(ldif or EXAMPLE)], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"slapadd failed: {done.stderr[-2000:]}")
    port = _port()
    url, ldaps = f"ldap://127.0.0.1:{port}", ""
    urls = [url + "/"]
    if tls:
        ldaps = f"ldaps://127.0.0.1:{_port()}"
        urls.append(ldaps + "/")
    server = Slapd(folder, url, ldaps, password)
    with server.log.open("wb") as log:
        server.process = subprocess.Popen(
            [_binary("slapd"), "-f", str(conf), "-h", " ".join(urls), "-d", "0"],
            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"slapd did not start: {server.log.read_text(errors='replace')[-3000:]}")
