"""`public` means something and a proxy site reaches its own department's server, for real
(#22 cases 6 and 7).

On the rig's web host, loopback stands for its two sides: 127.0.0.1 faces the zone's network,
127.0.0.3 the internet (``web_listen`` in tests/support/rig.py). An extranet department
(ecology) gets a site with ``public: false`` and its air-quality proxy names one of its own
servers (``http://hb-monitor-ingest:PORT/``); the rig's zones are loopback ranges, so a
backend of the test's own listens at the address the sim cloud gave that server. Requests go
to nginx from both sides, by the site's name (HTTP Host and TLS SNI)."""

from __future__ import annotations

import copy
import http.client
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from tests.support.components import free_port
from tests.support.rig import INTERNAL_ADDRESS, PUBLIC_ADDRESS, Backend, Rig

pytestmark = [pytest.mark.real, pytest.mark.ansible, pytest.mark.nginx, pytest.mark.clamav,
              pytest.mark.restic]  # the rig runs every service playbook for real

PRIVATE_SITE = "eia-intra.qingdao.gov.cn"  # ecology (extranet), public: false
PUBLIC_SITE = "sthj.qingdao.gov.cn"        # ecology (extranet), public
PROXY_SITE = "aqi.qd.gov.cn"               # ecology's proxy, public
INTRANET_SITE = "czj-intra.qingdao.gov.cn"  # finance (intranet), public: false
SERVER = "hb-monitor-ingest"


class ServerBackend(Backend):
    """The department server's own service: says who answered."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = f"{SERVER} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def fetch(rig: Rig, address: str, host: str) -> tuple[int, str] | None:
    """nginx's answer at ``address`` for the site ``host`` (None: it closed the connection
    without one, as the default server does for a name it does not serve there)."""
    conn = http.client.HTTPConnection(address, rig.http_port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    except (http.client.RemoteDisconnected, ConnectionError):
        return None
    finally:
        conn.close()


def handshake(rig: Rig, address: str, host: str) -> bytes:
    """The certificate nginx shows at ``address`` for ``host`` (SNI); ssl.SSLError when it
    refuses the handshake."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((address, rig.https_port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


@pytest.fixture(scope="module")
def ecology(rig: Rig) -> Iterator[dict[str, Any]]:
    """ecology with a site that is not public and its proxy naming its own server, applied;
    the server's service listening at its address. Put back as it was afterwards."""
    original = rig.plans()["ecology"]
    data = copy.deepcopy(original)
    port = free_port()
    data["websites"].append({"domain": PRIVATE_SITE, "kind": "static", "public": False})
    proxy = next(s for s in data["websites"] if s["domain"] == PROXY_SITE)
    proxy["upstream"] = f"http://{SERVER}:{port}/ecology/"
    rig.write_plan("ecology", data)
    backend = None
    try:
        result = rig.gc_json("apply", "--yes")
        assert result["ok"] and result["services"]["ok"], result
        inv = json.loads(rig.gc("inventory", "--list").stdout)
        dep = inv["all"]["vars"]["govcloud_departments"]["ecology"]
        address = next(s["address"] for s in dep["servers"] if s["name"] == SERVER)
        backend = ThreadingHTTPServer((address, port), ServerBackend)
        threading.Thread(target=backend.serve_forever, daemon=True).start()
        yield {"inventory": inv, "address": address, "port": port}
    finally:
        if backend is not None:
            backend.shutdown()
            backend.server_close()
        rig.write_plan("ecology", original)
        rig.gc("apply", "--yes")


def test_a_site_that_is_not_public_is_served_only_on_the_side_facing_its_network(
        rig: Rig, ecology: dict[str, Any]) -> None:
    for site in (PRIVATE_SITE, INTRANET_SITE):
        inside = fetch(rig, INTERNAL_ADDRESS, site)
        assert inside is not None and inside[0] == 200 and site in inside[1], (site, inside)
        assert fetch(rig, PUBLIC_ADDRESS, site) is None, site  # the internet's side: nothing
        with pytest.raises(ssl.SSLError):
            handshake(rig, PUBLIC_ADDRESS, site)
        assert handshake(rig, INTERNAL_ADDRESS, site)
    conf = (rig.path("nginx_sites_dir") / f"ecology_{PRIVATE_SITE}.conf").read_text()
    assert f"listen {INTERNAL_ADDRESS}:" in conf and PUBLIC_ADDRESS not in conf


def test_a_public_site_answers_on_both_sides(rig: Rig, ecology: dict[str, Any]) -> None:
    for address in (PUBLIC_ADDRESS, INTERNAL_ADDRESS):
        answer = fetch(rig, address, PUBLIC_SITE)
        assert answer is not None and answer[0] == 200 and PUBLIC_SITE in answer[1], \
            (address, answer)
        assert handshake(rig, address, PUBLIC_SITE)
    assert fetch(rig, PUBLIC_ADDRESS, "unknown.qingdao.gov.cn") is None


def test_a_proxy_site_naming_its_departments_server_reaches_that_server(
        rig: Rig, ecology: dict[str, Any]) -> None:
    site = next(s for s in ecology["inventory"]["all"]["vars"]["govcloud_websites"]
                if s["domain"] == PROXY_SITE)
    assert site["upstream"] == f"http://{ecology['address']}:{ecology['port']}/ecology/"
    assert site["upstream_problem"] is None
    for address in (PUBLIC_ADDRESS, INTERNAL_ADDRESS):
        answer = fetch(rig, address, PROXY_SITE)
        assert answer == (200, f"{SERVER} /ecology/"), (address, answer)
