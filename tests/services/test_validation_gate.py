"""Anything the inventory or a playbook would refuse, validate refuses first (#22).

Generated requests' values (server names and their replicas, domains, upstreams naming
servers and addresses of every kind, cron schedules, backup paths, the department's name),
hostile ones among them, are put in the
finance plan and checked as validate checks a plan (``core.checks.check_plan``). A plan that
passes is turned into the resources apply records (``desired_state``) and handed to the
services' inventory builder, which must then accept every value and render no upstream but
an address in the department's own network; and every schedule that
passes must be one Debian's cron (3.0pl1) reads, as its parser below (a port of its
``entry.c`` time fields, with Debian's refusal of a step of 0) says, so that no department's
line can make cron ignore the shared file. 2,000 examples under CI=true, 300 elsewhere
(tests/support/pyramid.py); ``--hypothesis-show-statistics`` shows how many of each field
validate passed and refused.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
import string
from dataclasses import replace
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from govcloud.core.checks import check_plan
from govcloud.core.cron import problem
from govcloud.core.desired import Resource, desired_state
from govcloud.core.documents import parse
from govcloud.core.model import Estate, Settings
from govcloud.core.patterns import ABS_PATH, CRON, DNS, NAME, URL, fits
from govcloud.estate.loader import check_estate
from govcloud.services import inventory
from govcloud.services.inventory import InventoryError
from tests.support.estate import REPO
from tests.support.pyramid import sized

CRON_CHARACTERS = set(string.ascii_letters + string.digits + "*,/- ")

# --- Debian's cron (3.0pl1), entry.c: load_entry's five time fields ------------------------

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
               "dec")
DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
CRON_FIELDS = ((0, 59, ()), (0, 23, ()), (1, 31, ()), (1, 12, MONTH_NAMES), (0, 7, DOW_NAMES))


class _Refused(Exception):
    """get_list returned EOF: 'Syntax error, this crontab file will be ignored'."""


def _number(line: str, i: int, low: int, names: tuple[str, ...]) -> tuple[int, int]:
    """get_number: the alphanumeric run at i, a number (atoi, '' is 0) or a name."""
    j = i
    while j < len(line) and line[j].isascii() and line[j].isalnum():
        j += 1
    temp = line[i:j]
    if len(temp) >= 100:  # MAX_TEMPSTR
        raise _Refused
    if temp.isdigit() or temp == "":
        return int(temp or "0"), j
    for k, name in enumerate(names):
        if name == temp.lower():
            return k + low, j
    raise _Refused


def _set(low: int, high: int, n: int) -> None:
    if not low <= n <= high:  # set_element
        raise _Refused


def _range(line: str, i: int, low: int, high: int, names: tuple[str, ...]) -> int:
    """get_range: '*' or a number or a range, then an optional step."""
    if line[i:i + 1] == "*":
        first, last, i = low, high, i + 1
    else:
        first, i = _number(line, i, low, names)
        if line[i:i + 1] != "-":
            _set(low, high, first)
            return i
        last, i = _number(line, i + 1, low, names)
    step = 1
    if line[i:i + 1] == "/":
        step, i = _number(line, i + 1, 0, ())
        if step <= 0:  # Debian's patch: a step of 0 looped for ever
            raise _Refused
    for n in range(first, last + 1, step):
        _set(low, high, n)
    return i


def debian_cron_reads(schedule: str) -> bool:
    """Whether Debian's cron accepts ``schedule`` as the time of a line of /etc/cron.d."""
    line = schedule + " root /usr/local/bin/govcloud-avscan finance\n"
    i = 0
    try:
        for low, high, names in CRON_FIELDS:
            while True:  # get_list: range {"," range}
                i = _range(line, i, low, high, names)
                if line[i:i + 1] != ",":
                    break
                i += 1
            while i < len(line) and line[i] not in " \t\n":  # Skip_Nonblanks
                i += 1
            while i < len(line) and line[i] in " \t":  # Skip_Blanks
                i += 1
            if i >= len(line) or line[i] == "\n":
                raise _Refused  # EOF before the command
    except _Refused:
        return False
    return True


def test_the_port_of_debians_parser_says_what_cron_says_of_the_reported_lines() -> None:
    for bad in ("60 24 32 13 8", "*/0 * * * *", "0 0 0 * *", "0 0 * 0 *", "0 0 * * 8"):
        assert not debian_cron_reads(bad), bad
    for good in ("30 2 * * 1-5", "0 3 * jan-mar Mon-Fri", "*/15 * * * 7", "5/10 * * * *"):
        assert debian_cron_reads(good), good  # '5/10' is read as 5: this rule refuses it


# --- generated values ------------------------------------------------------------------------

HOSTILE = ["fin..x", "a/../b", "../../etc", "x\ny", "a;b", "a b", "{{ x }}", "$(id)", "..",
           ".", "", "-", "a" * 64, "a" * 300, "http://10.0.0.1/a/../../b",
           "http://h..x/", "http://10.0.0.1:99999999/", "/srv/" + "d" * 256,
           "/srv/" + "/".join(["e" * 250] * 17), "/srv/a..b", "/srv/./x", "/srv//x", "/",
           "60 24 32 13 8", "*/0 * * * *", "0 0 0 * *", "0 0 * 0 *", "0 0 * * 8",
           "5/10 * * * *", "30-20 * * * *", "-5 * * * *", ",1 * * * *", "* * * * * *",
           "*  * * * *", "0 0 * jan-foo *", "0 0 * * sun-sat", "0 0 * * mon,tue/2",
           "xn--zz.qingdao.gov.cn", "ab--c.qingdao.gov.cn", "a.b", "青岛.gov.cn"]


def _cron_item(field: int) -> st.SearchStrategy[str]:
    """An item of a field: mostly in range (so that some schedules pass), often not."""
    low, high, names = CRON_FIELDS[field]
    fine = st.integers(low, high).map(str)
    value = st.one_of(fine, fine, fine, st.integers(0, 99).map(str),
                      st.sampled_from([*names[:12], "foo", "", "007"]))
    step = st.one_of(st.just(""), st.just(""), st.integers(1, 30).map(lambda n: f"/{n}"),
                     st.integers(0, 100).map(lambda n: f"/{n}"))
    single = st.one_of(st.just("*"), st.just("*"), value,
                       st.tuples(value, value).map(lambda t: "-".join(sorted(t, key=len))))
    return st.tuples(single, step).map("".join)


def _cron_field(field: int) -> st.SearchStrategy[str]:
    return st.lists(_cron_item(field), min_size=1, max_size=2).map(",".join)


def _plain_field(field: int) -> st.SearchStrategy[str]:
    """A field cron reads as written: '*', a value in range, or '*/n'."""
    low, high, _ = CRON_FIELDS[field]
    return st.one_of(st.just("*"), st.integers(low, high).map(str),
                     st.integers(1, 30).map(lambda n: f"*/{n}"))


SCHEDULES = st.one_of(st.tuples(*[_cron_field(f) for f in range(5)]).map(" ".join),
                      st.tuples(*[_plain_field(f) for f in range(5)]).map(" ".join),
                      st.sampled_from(HOSTILE),
                      st.text(alphabet="0123456789*,/- abcjan", max_size=20))


LOWER = string.ascii_lowercase + string.digits
# Hosts an upstream may name (finance is an intranet department, 10.20.0.0/16; its network
# once applied is FINANCE_NETWORK below): its servers, another department's, the web host
# itself, the metadata service, the other zone, other departments' networks, forms of an
# address a resolver reads (127.1, 2130706433) and names only DNS could resolve.
UPSTREAM_HOSTS = ["fin-budget-app", "fin-budget-db-2", "fin-treasury-gw", "oa-app",
                  "portal-web", "127.0.0.1", "127.0.0.53", "localhost", "169.254.169.254",
                  "100.100.100.200", "0.0.0.0", "224.0.0.251", "255.255.255.255",
                  "240.1.2.3", "10.40.3.15", "10.20.0.7", "10.20.5.20", "10.20.5.255",
                  "10.20.1.10", "127.1", "2130706433", "0x7f000001",
                  "metadata.google.internal", "cloud.qingdao.gov.cn"]
FINANCE_NETWORK = "10.20.5.0/24"
REACHABLE = ["fin-budget-app", "fin-budget-db-2", "fin-treasury-gw", "10.20.5.20",
             "10.20.5.255", "10.20.0.7"]  # validate passes them (10.20.0.7: not its network)
# Values of each pattern's shape, drawn cheaply (st.text over the pattern's characters, not
# st.from_regex): most fit it, some carry '..', a '-' at an end, a label too long…
LABEL = st.text(alphabet=LOWER + "-", min_size=1, max_size=14)
SHAPED = {
    NAME: st.text(alphabet=LOWER + ".-", min_size=1, max_size=70),
    DNS: st.tuples(st.lists(LABEL, min_size=1, max_size=4),
                   st.sampled_from(["qingdao.gov.cn", "cn", "gov", "x"])).map(
                       lambda t: ".".join([*t[0], t[1]])),
    URL: st.tuples(st.sampled_from(["http://", "http://", "https://", "ftp://", "http:/"]),
                   st.one_of(st.text(alphabet=LOWER + ".-", min_size=1, max_size=20),
                             st.sampled_from(UPSTREAM_HOSTS), st.sampled_from(UPSTREAM_HOSTS),
                             st.tuples(*[st.integers(0, 255)] * 4).map(
                                 lambda t: ".".join(map(str, t)))),
                   st.sampled_from(["", ":8080", ":8080", ":443", ":0", ":99999",
                                    ":123456"]),
                   st.lists(st.text(alphabet=LOWER + "._~%-", max_size=8), max_size=4)).map(
                       lambda t: t[0] + t[1] + t[2] + "".join("/" + p for p in t[3])),
    ABS_PATH: st.lists(st.one_of(*[st.text(alphabet=string.ascii_letters + "_.-",
                                           min_size=1, max_size=10)] * 4,
                                 st.integers(240, 270).map(lambda n: "p" * n),
                                 st.sampled_from(["..", ".", ""])),
                       min_size=1, max_size=8).map(lambda s: "/" + "/".join(s))
    | st.lists(st.text(alphabet=LOWER + "_-", min_size=1, max_size=12), min_size=1,
               max_size=5).map(lambda s: "/" + "/".join(s)),
}


def _like(pattern: str) -> st.SearchStrategy[str]:
    """Values of the pattern's shape, some with '..' put in, or a hostile value."""
    shaped = SHAPED[pattern]
    return st.one_of(shaped, shaped.map(lambda v: v[:len(v) // 2] + ".." + v[len(v) // 2:]),
                     st.sampled_from(HOSTILE))


# Upstreams of a fit shape naming every kind of host: the rule of reach decides them.
WELL_FORMED_UPSTREAMS = st.tuples(
    st.sampled_from(["http://", "https://"]),
    st.one_of(st.sampled_from(UPSTREAM_HOSTS), st.sampled_from(REACHABLE)),
    st.sampled_from(["", ":8080", ":9464"]), st.sampled_from(["/", "/app", ""])).map("".join)

# Where each generated value goes in the plan.
FIELDS: dict[str, Any] = {
    "server name": (("servers", 0, "name"), _like(NAME)),
    "replicas": (("servers", 0), st.tuples(_like(NAME), st.integers(1, 100))),
    "domain": (("websites", 0, "domain"), _like(DNS)),
    "upstream": (("websites", 0, "upstream"), st.one_of(_like(URL), WELL_FORMED_UPSTREAMS)),
    "antivirus schedule": (("services", "antivirus", "schedule"), SCHEDULES),
    "backup schedule": (("services", "backup", "schedule"), SCHEDULES),
    "backup path": (("services", "backup", "paths"), st.lists(_like(ABS_PATH), min_size=1,
                                                                max_size=3)),
    "department name": (("department", "name"), st.one_of(
        st.text(min_size=1, max_size=80),
        st.sampled_from(HOSTILE))),
}
CASES = st.sampled_from(sorted(FIELDS)).flatmap(
    lambda f: st.tuples(st.just(f), FIELDS[f][1]))


@pytest.fixture(scope="module")
def example_estate() -> tuple[Settings, dict[str, Any]]:
    checked = check_estate(REPO)
    assert checked.settings is not None and not checked.errors
    base = yaml.safe_load((REPO / "plans" / "finance.yaml").read_text(encoding="utf-8"))
    base["websites"][0].update(kind="proxy", upstream="http://fin-budget-app:8080/")
    return checked.settings, base


def _plan_with(base: dict[str, Any], field: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(base)
    path = FIELDS[field][0]
    node = data
    for key in path[:-1]:
        node = node[key]
    if field == "replicas":
        node[path[-1]].update(name=value[0], count=value[1])
    else:
        node[path[-1]] = value
    return data


@settings(max_examples=sized(ci=2000, dev=300), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(CASES)
@example(("server name", "fin..x"))
@example(("upstream", "http://10.0.0.1/a/../../b"))
@example(("antivirus schedule", "60 24 32 13 8"))
@example(("backup path", ["/srv/a..b"]))
@example(("replicas", ("f" * 63, 2)))
@example(("upstream", "http://10.20.0.7:99999/"))
@example(("upstream", "http://127.0.0.1:9464/metrics"))
@example(("upstream", "http://169.254.169.254/latest/meta-data"))
@example(("upstream", "http://fin-budget-app:8080/"))
@example(("upstream", "http://10.20.5.20:8080/"))
def test_anything_the_inventory_or_cron_would_refuse_validate_refuses_first(
        example_estate: tuple[Settings, dict[str, Any]], case: tuple[str, Any]) -> None:
    estate_settings, base = example_estate
    field, value = case
    data = _plan_with(base, field, value)
    doc, problems = parse(json.dumps(data, ensure_ascii=False), "plans/finance.yaml")
    if doc is None:  # not even YAML text (a character YAML refuses): validate refused it
        assert problems
        return
    result = check_plan(doc, problems, estate_settings, None)
    if result.plan is None:  # validate refused it: nothing reaches the inventory
        assert any(d.severity == "error" for d in result.diagnostics)
        event(f"{field}: refused")
        return
    event(f"{field}: validated")
    applied = _applied(desired_state(Estate(REPO, estate_settings, {"finance": result.plan})))
    try:
        deps = inventory.departments(applied, "gc-")
    except InventoryError as exc:
        pytest.fail(f"validate passed {field} {value!r}, the inventory refused it: {exc}")
    inventory.reach_upstreams(deps, estate_settings.networks,
                              estate_settings.services.upstream_networks)
    _only_its_own_network(deps["finance"]["websites"])
    for service in ("antivirus", "backup"):
        schedule = deps["finance"][service]["schedule"]
        assert debian_cron_reads(schedule), (field, schedule)
    for site in deps["finance"]["websites"]:  # nginx -t refuses a port outside 1-65535
        port = re.match(r"https?://[^/:]+:([0-9]+)", site["upstream"] or "")
        assert port is None or 1 <= int(port[1]) <= 65535, site["upstream"]


def _applied(desired: dict[str, Resource]) -> dict[str, Resource]:
    """The resources as an apply records them: finance's network and its servers' addresses
    (from .10 up in it) as the cloud gave them."""
    hosts = ipaddress.IPv4Network(FINANCE_NETWORK).hosts()
    for _ in range(9):
        next(hosts)
    out = {}
    for key, res in desired.items():
        computed = {"network": {"cidr": FINANCE_NETWORK},
                    "server": {"address": str(next(hosts))}}.get(res.kind, {})
        out[key] = replace(res, computed=computed)
    return out


def _only_its_own_network(sites: list[dict[str, Any]]) -> None:
    """Every upstream the inventory renders is an address in finance's own network; a site
    out of reach gets none, with the reason."""
    for site in sites:
        if site["kind"] != "proxy":
            continue
        if site["upstream"] is None:
            assert site["upstream_problem"], site
            continue
        host = re.match(r"https?://([^/:]+)", site["upstream"])
        assert host is not None, site
        address = ipaddress.IPv4Address(host[1])  # an address, never a name left to DNS
        assert address in ipaddress.IPv4Network(FINANCE_NETWORK), site
        assert not (address.is_loopback or address.is_link_local or address.is_multicast
                    or address.is_reserved or address.is_unspecified), site


@settings(max_examples=sized(ci=1000, dev=200), deadline=None)
@given(SCHEDULES)
def test_a_schedule_the_rule_passes_is_one_debians_cron_reads(schedule: str) -> None:
    """The rule (validate's and the inventory's) against the port of cron's parser: what
    cron refuses, the rule refuses (the rule refuses more: a backwards range, a step after a
    single value, which cron reads as something else than written)."""
    if not debian_cron_reads(schedule):
        assert not fits(CRON, schedule), schedule
        assert problem(schedule) or not schedule.count(" ") == 4 or \
            any(c not in CRON_CHARACTERS for c in schedule), schedule
