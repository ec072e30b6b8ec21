"""The suite's OpenLDAP server (slapd, installed by .ci/install-directory): started once per
session on loopback with its own slapd.conf and database in a temporary folder, serving
directory/example.ldif over ldap:// (StartTLS) and ldaps:// with a test CA; a test that cannot
start it fails under CI (never skips). How it is started is benchmarks/slapd.py's, which the
directory sync benchmark shares. Each test that changes the directory works in its own
subtree (:func:`subtree`), so the tests need not run in order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import slapd as server
from benchmarks.slapd import ADMIN, PEOPLE_PASSWORD, SERVICE, SERVICE_PASSWORD, SUFFIX, Slapd
from tests.support.components import unavailable
from tests.support.estate import edit
from tests.support.tls import make_pki

__all__ = ["ADMIN", "PEOPLE_PASSWORD", "SERVICE", "SERVICE_PASSWORD", "SUFFIX", "Slapd"]
_names = itertools.count(1)


def start(folder: Path) -> Iterator[Slapd]:
    """The session's slapd, stopped afterwards."""
    if not Path("/usr/sbin/slapd").exists():
        unavailable("slapd is not installed (run .ci/install-directory)")
    pki = make_pki(folder / "pki", "127.0.0.1")
    running = server.start(folder / "slapd", tls=(pki.certificate, pki.key))
    running.folder.joinpath("ca.pem").write_bytes(pki.ca.read_bytes())
    try:
        yield running
    finally:
        running.stop()


def admin(slapd: Slapd) -> Any:
    """An ldap3 connection bound as the directory's administrator (rootdn)."""
    import ldap3

    conn = ldap3.Connection(ldap3.Server(slapd.url, get_info=ldap3.NONE), ADMIN,
                            slapd.admin_password, raise_exceptions=True)
    conn.bind()
    return conn


def subtree(slapd: Slapd) -> str:
    """A new, empty ou under the suffix for one test's organisations."""
    dn = f"ou=t{next(_names)},{SUFFIX}"
    with admin(slapd) as conn:
        conn.add(dn, ["organizationalUnit"], {"ou": dn[3:].split(",")[0]})
    return dn


def org(conn: Any, dn: str, name: str, code: str, cost_centre: str = "") -> None:
    attrs = {"ou": name, "govcloudCode": code}
    if cost_centre:
        attrs["govcloudCostCentre"] = cost_centre
    conn.add(dn, ["organizationalUnit", "govcloudOrganisation"], attrs)


def settings(slapd: Slapd, organisations_base: str = f"ou=organisations,{SUFFIX}",
             url: str = "", start_tls: bool = False, reread: int = 60) -> str:
    """The directory section of govcloud.yaml for the suite's slapd (its password in the
    environment variable GOVCLOUD_DIRECTORY_PASSWORD)."""
    ca = slapd.folder / "ca.pem"
    return (f"directory:\n  url: {url or slapd.url}\n  start_tls: {str(start_tls).lower()}\n"
            f"  ca_file: {ca}\n  bind_dn: {SERVICE}\n"
            "  password_env: GOVCLOUD_DIRECTORY_PASSWORD\n"
            f"  organisations_base: {organisations_base}\n"
            f"  people_base: ou=people,{SUFFIX}\n  groups_base: ou=groups,{SUFFIX}\n"
            f"  reread_seconds: {reread}\n")


def point_at(estate: Path, slapd: Slapd, **kw: Any) -> Path:
    """``estate``'s govcloud.yaml with a directory section for the suite's slapd."""
    edit(estate / "govcloud.yaml", "\nportal:", "\n" + settings(slapd, **kw) + "portal:")
    return estate
