"""Where a department's proxy site may send requests, and which site names are the platform's.

An upstream names one of the department's own servers (``http://sp-hall-web:8080/``: the
name is looked up in the applied state, never in DNS). An address (``http://10.40.3.15/``)
is refused at validate and in a request's verdict, which cannot tell the department's own
addresses from another department's or the platform's hosts in the zone; the inventory,
which knows the department's applied network (its /24), still serves an address inside it
that an older plan holds.
Loopback, link-local (the cloud's metadata service at 169.254.169.254 among them), multicast,
unspecified and reserved addresses, the other zone's range and any other host name are
refused. ``settings.services.upstream_networks`` opens further networks to every department
(a test rig's loopback backend; production keeps it empty). :func:`problem` is the one rule
validate (``core.checks``, and so a request's verdict) and the services' inventory apply;
:func:`resolved` is the inventory's turn of a server's name into its address.

A site's domain must not be one of the platform's own names (``catalogue.reserved_domains``,
the portal's host of ``notify.portal_url``) or a name under one (:func:`reserved`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from govcloud.core.patterns import shown

_TARGET = re.compile(r"(https?://)([A-Za-z0-9.-]+)(:[0-9]{1,5})?(.*)", re.DOTALL)
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")


@dataclass(frozen=True)
class Reach:
    """What one department's proxy sites may reach: its zone, the zones' address pools
    (``settings.networks``), its servers' names, the networks open to every department
    (``settings.services.upstream_networks``) and, once applied, its own network."""

    zone: str
    pools: Mapping[str, str]
    servers: frozenset[str]
    allowed: tuple[str, ...] = ()
    network: str | None = None


def host_of(upstream: str) -> str | None:
    """The host an upstream URL names (None: not an http(s) URL)."""
    m = _TARGET.fullmatch(upstream)
    return m[2] if m else None


def _address(host: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        return None


def _special(address: ipaddress.IPv4Address) -> str | None:
    if address.is_loopback:
        return "a loopback address (this web host itself)"
    if address.is_link_local:
        return "a link-local address (the cloud's metadata service among them)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "an unspecified address"
    if address.is_reserved:
        return "a reserved address"
    return None


def _in(address: ipaddress.IPv4Address, networks: Iterable[str]) -> bool:
    return any(address in ipaddress.IPv4Network(n, strict=False) for n in networks)


def problem(upstream: str, reach: Reach) -> tuple[str, str] | None:
    """Why a proxy site of the department ``reach`` describes may not send requests to
    ``upstream`` (message, hint); None when it may."""
    host = host_of(upstream)
    if host is None:
        return None  # the URL pattern names what is wrong with its shape
    servers = ", ".join(sorted(reach.servers)[:8]) or "none yet"
    use = (f"name one of the department's servers, e.g. 'http://SERVER:8080/' (its servers: "
           f"{servers}), or an address in its {reach.zone} network")
    address = _address(host)
    if address is None:
        if host in reach.servers:
            return None
        return (f"upstream {shown(upstream)!r} names {shown(host, 40)!r}, which is neither one "
                "of the department's servers nor an address", use)
    if _in(address, reach.allowed):
        return None
    if why := _special(address):
        return f"upstream {shown(upstream)!r} is {why}", use
    own = reach.pools.get(reach.zone)
    for zone, pool in sorted(reach.pools.items()):
        if zone != reach.zone and _in(address, [pool]):
            return (f"upstream {shown(upstream)!r} is in the {zone} zone ({pool}); the "
                    f"department is in the {reach.zone} zone", use)
    if own is None or not _in(address, [own]):
        return (f"upstream {shown(upstream)!r} is outside the department's {reach.zone} "
                f"network{f' ({own})' if own else ''}", use)
    if reach.network is None:
        # Which /24 is the department's is known only once applied, and the zone's pool
        # holds other departments' networks and the platform's own hosts: an address is
        # taken only where the department's network is known (the inventory), so
        # validate and a request's verdict ask for the server's name.
        return (f"upstream {shown(upstream)!r} is an address: validate cannot tell it from "
                "another department's server or the platform's hosts in the zone",
                f"name the server instead, e.g. 'http://SERVER:8080/' (its servers: "
                f"{servers})")
    if not _in(address, [reach.network]):
        return (f"upstream {shown(upstream)!r} is outside the department's own network "
                f"({reach.network}): another department's or the platform's", use)
    return None


def resolved(upstream: str, addresses: Mapping[str, str | None]) -> str | None:
    """``upstream`` with a server's name replaced by that server's address (None: the server
    has no address yet); an address is kept as written."""
    m = _TARGET.fullmatch(upstream)
    if m is None or _address(m[2]) is not None or m[2] not in addresses:
        return upstream
    address = addresses[m[2]]
    if address is None or _address(address) is None:
        return None
    return f"{m[1]}{address}{m[3] or ''}{m[4]}"


def reserved(domain: str, names: Iterable[str]) -> str | None:
    """The platform's name ``domain`` is or lies under, if any."""
    for name in names:
        if domain == name or domain.endswith("." + name):
            return name
    return None


def reserved_names(reserved_domains: Iterable[str], portal_url: str) -> tuple[str, ...]:
    """The names no site may claim: the settings' list and the portal's own host."""
    out = list(reserved_domains)
    host = host_of(portal_url) if portal_url else None
    host = host.lower().rstrip(".") if host else None  # a DNS name ends in a dot or not
    if host and _address(host) is None and "." in host:
        out.append(host)
    return tuple(dict.fromkeys(out))
