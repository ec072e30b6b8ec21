"""A proxy site reaches its own department's servers and nothing else (#22, case 7).

The reproduction: upstreams to the exporter on the web host (``http://127.0.0.1:9464/``), the
cloud's metadata service, an intranet address from an extranet department, all
auto-approved by the example ``small-inside-quota`` rule; and the portal's own host claimable
as a site. Through the real loader, the real request assessment on the example estate and the
real inventory builder: validate (and so the verdict) refuses them by ``core.upstreams``'
rule, the inventory turns a server's name into its address and never renders what the rule
refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from govcloud.applying import engine
from govcloud.core.desired import Resource
from govcloud.core.upstreams import Reach, problem, reserved, reserved_names, resolved
from govcloud.estate.loader import check_estate
from govcloud.requests import assessment
from govcloud.services import inventory
from tests.support.estate import copy_estate, edit, line_of

# ecology is an extranet department (10.40.0.0/16); hb-monitor-ingest is one of its servers.
HOSTILE = {
    "http://127.0.0.1:9464/metrics": "is a loopback address (this web host itself)",
    "http://169.254.169.254/latest/meta-data": "is a link-local address (the cloud's "
                                               "metadata service among them)",
    "http://10.20.0.7:8080/": "is in the intranet zone (10.20.0.0/16); the department is in "
                              "the extranet zone",
    "http://224.0.0.1/": "is a multicast address",
    "http://0.0.0.0:80/": "is an unspecified address",
    "http://240.0.0.1/": "is a reserved address",
    "http://100.100.100.200/latest/meta-data": "is outside the department's extranet network "
                                               "(10.40.0.0/16)",
    "http://localhost:9464/": "names 'localhost', which is neither one of the department's "
                              "servers nor an address",
    "http://metadata.google.internal/": "names 'metadata.google.internal', which is neither",
    "http://2130706433:9464/": "names '2130706433', which is neither",
    "http://127.1:9464/": "names '127.1', which is neither",
    "http://portal-web:8080/": "names 'portal-web', which is neither",  # big-data's server
}


@pytest.fixture
def estate(tmp_path: Path) -> Path:
    return copy_estate(tmp_path / "estate")


def _assess(root: Path, department: str, payload: dict[str, Any]) -> assessment.Verdict:
    with engine.records(root) as (est, _):
        return assessment.assess(est, department, {**payload, "department": department,
                                                   "reason": "test"})


def _site(domain: str, upstream: str | None = None, public: bool = True) -> dict[str, Any]:
    site: dict[str, Any] = {"domain": domain, "kind": "proxy" if upstream else "static",
                            "public": public}
    return {"kind": "website", "website": {**site, **({"upstream": upstream}
                                                      if upstream else {})}}


@pytest.mark.parametrize("upstream", list(HOSTILE))
def test_a_request_for_a_proxy_to_what_the_department_may_not_reach_is_refused(
        estate: Path, upstream: str) -> None:
    """Each was auto-approved on the old main (the rule approves small requests)."""
    verdict = _assess(estate, "ecology", _site("eia.qingdao.gov.cn", upstream))
    assert not verdict.ok and not verdict.chain, verdict.as_dict()
    error = verdict.errors[0]
    assert error["path"] == "website.upstream" or error["path"].endswith(".upstream"), error
    assert error["message"].startswith(f"upstream {upstream!r} ")
    assert HOSTILE[upstream] in error["message"]
    assert "name one of the department's servers" in error["hint"]
    assert "hb-monitor-ingest" in error["hint"]  # the fix names the department's servers


@pytest.mark.parametrize("upstream", ["http://hb-monitor-ingest:8080/aqi",
                                      "http://hb-eia:9000/"])
def test_its_own_servers_pass(estate: Path, upstream: str) -> None:
    verdict = _assess(estate, "ecology", _site("eia.qingdao.gov.cn", upstream))
    assert verdict.ok, verdict.errors


@pytest.mark.parametrize("upstream", [
    "http://10.40.17.5:8080/",   # in the zone: another department's /24, or its own?
    "http://10.40.0.12:80/",     # the example's web host web-ext-02, inside a /24 of the pool
    "http://10.40.6.10:8080/",   # transport's server, by address (a trial: auto-approved)
])
def test_an_address_in_the_zone_is_not_taken_for_the_departments_own(
        estate: Path, upstream: str) -> None:
    """A trial's find: an address in the zone's pool passed validate and was approved at
    once, though validate cannot know which /24 is the department's — the platform's web
    hosts and other departments' servers are in the pool too. The server's name is asked
    for instead."""
    verdict = _assess(estate, "ecology", _site("eia.qingdao.gov.cn", upstream))
    assert not verdict.ok
    error = next(e for e in verdict.errors if e["path"].endswith("upstream"))
    assert "is an address" in error["message"] and "name the server" in error["hint"]
    assert "hb-monitor-ingest" in error["hint"]


def test_validate_names_file_line_and_field_of_an_upstream_out_of_reach(estate: Path) -> None:
    plan = estate / "plans" / "ecology.yaml"
    edit(plan, "upstream: http://hb-monitor-ingest:8080/aqi",
         "upstream: http://169.254.169.254/latest/meta-data")
    errors = check_estate(estate).errors
    assert [(e.file, e.line, e.path) for e in errors] == [
        ("plans/ecology.yaml", line_of(plan, "169.254.169.254"), "websites[1].upstream")]


@pytest.mark.parametrize("domain", ["cloud.qingdao.gov.cn", "api.cloud.qingdao.gov.cn",
                                    "smtp.qingdao.gov.cn"])
def test_the_platforms_own_names_cannot_be_claimed_as_a_site(estate: Path, domain: str) -> None:
    verdict = _assess(estate, "ecology", _site(domain))
    assert not verdict.ok and not verdict.chain
    assert verdict.errors[0]["message"].startswith(f"'{domain}' is the platform's own name")
    assert "ecology.qd.gov.cn" in verdict.errors[0]["hint"]


def test_the_portals_host_is_reserved_without_being_listed(estate: Path) -> None:
    edit(estate / "govcloud.yaml", "    - smtp.qingdao.gov.cn", "")
    with (estate / "govcloud.yaml").open("a", encoding="utf-8") as f:
        f.write("notify:\n  portal_url: https://yun.qingdao.gov.cn/\n")
    assert reserved_names([], "https://yun.qingdao.gov.cn/") == ("yun.qingdao.gov.cn",)
    verdict = _assess(estate, "ecology", _site("yun.qingdao.gov.cn"))
    assert not verdict.ok
    assert "'yun.qingdao.gov.cn' is the platform's own name" in verdict.errors[0]["message"]


def test_an_open_network_is_a_setting_and_a_bad_one_is_named(estate: Path) -> None:
    settings = estate / "govcloud.yaml"
    edit(settings, "prices: prices.yaml",
         "prices: prices.yaml\nservices:\n  upstream_networks: [127.0.0.1/32, 300.0.0.1/32]")
    errors = check_estate(estate).errors
    assert [e.path for e in errors] == ["services.upstream_networks[1]"]
    assert errors[0].message.startswith("'300.0.0.1/32' is not an IPv4 network")
    edit(settings, ", 300.0.0.1/32", "")
    assert not check_estate(estate).errors
    assert _assess(estate, "ecology", _site("eia.qingdao.gov.cn",
                                            "http://127.0.0.1:8080/")).ok


# --- the inventory: names resolved from the applied state, nothing out of reach rendered ---

def _applied(upstreams: dict[str, str]) -> dict[str, Resource]:
    res = [Resource("project", "ecology", "ecology", {"name": "生态环境局", "zone": "extranet"}),
           Resource("network", "ecology", "ecology-net", {"zone": "extranet"},
                    computed={"cidr": "10.40.1.0/24"}),
           Resource("server", "ecology", "hb-monitor-ingest", {},
                    computed={"address": "10.40.1.12"}),
           Resource("server", "ecology", "hb-eia", {})]  # not yet given an address
    res += [Resource("website", "ecology", domain, {"kind": "proxy", "upstream": upstream,
                                                    "zone": "extranet", "public": True})
            for domain, upstream in upstreams.items()]
    return {r.key: r for r in res}


def test_the_inventory_resolves_a_servers_name_and_renders_nothing_out_of_reach() -> None:
    networks = {"intranet": "10.20.0.0/16", "extranet": "10.40.0.0/16"}
    applied = _applied({"a.qd.gov.cn": "http://hb-monitor-ingest:8080/aqi",
                        "b.qd.gov.cn": "http://10.40.1.40:5000/",
                        "c.qd.gov.cn": "http://10.40.3.15:8080/",  # another department's
                        "d.qd.gov.cn": "http://hb-eia:9000/",
                        "e.qd.gov.cn": "http://169.254.169.254/latest/meta-data"})
    deps = inventory.departments(applied, "gc-")
    inventory.reach_upstreams(deps, networks)
    sites = {s["domain"]: (s["upstream"], s["upstream_problem"])
             for s in deps["ecology"]["websites"]}
    assert sites["a.qd.gov.cn"] == ("http://10.40.1.12:8080/aqi", None)
    assert sites["b.qd.gov.cn"] == ("http://10.40.1.40:5000/", None)
    assert sites["c.qd.gov.cn"] == (None, "upstream 'http://10.40.3.15:8080/' is outside the "
                                          "department's own network (10.40.1.0/24): another "
                                          "department's or the platform's")
    assert sites["d.qd.gov.cn"] == (None, "server 'hb-eia' has no address yet")
    assert sites["e.qd.gov.cn"][0] is None and "link-local" in sites["e.qd.gov.cn"][1]


def test_the_rule_by_itself() -> None:
    reach = Reach("intranet", {"intranet": "10.20.0.0/16", "extranet": "10.40.0.0/16"},
                  frozenset({"oa-app"}), ("127.0.0.1/32",))
    assert problem("http://127.0.0.1:8080/", reach) is None  # opened by the setting
    assert problem("http://127.0.0.2:8080/", reach) is not None
    assert problem("http://oa-app/", reach) is None
    assert problem("http://10.20.9.9/", reach) is not None  # no network known: refused
    with_network = Reach(**{**reach.__dict__, "network": "10.20.0.0/24"})
    assert problem("http://10.20.9.9/", with_network) is not None
    assert problem("http://10.20.0.9/", with_network) is None  # its own /24 (inventory)
    assert resolved("http://oa-app/x", {"oa-app": "10.20.0.19"}) == "http://10.20.0.19/x"
    assert resolved("http://oa-app:81", {"oa-app": None}) is None
    assert resolved("http://10.20.0.7:81/", {"oa-app": "10.20.0.19"}) == "http://10.20.0.7:81/"


def test_the_portals_host_is_reserved_with_a_trailing_dot_too() -> None:
    """A trial's find: notify.portal_url with the DNS root's dot lost the reservation."""
    assert reserved_names((), "https://Portal.QD.gov.cn./") == ("portal.qd.gov.cn",)
    assert reserved("portal.qd.gov.cn", reserved_names((), "https://portal.qd.gov.cn./"))
