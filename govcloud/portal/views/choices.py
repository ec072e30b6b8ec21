"""What a new request's form offers a department: each flavor with its vCPUs, RAM and list
price a month (the price book's rate card in force this month), whether it still fits the
department's remaining quota, the images (one being retired never the default), the current
backup and antivirus settings; and a form's values, the defaults or the fields a refused
request was checked with (``values``), so a refusal never empties the form."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from govcloud.books import accounts
from govcloud.clock import clock
from govcloud.core.model import Catalogue, Flavor, TenancyPlan
from govcloud.errors import GovcloudError
from govcloud.finance.period import Month
from govcloud.portal.context import Portal

Data = dict[str, Any]


def remaining(plan: TenancyPlan, catalogue: Catalogue) -> dict[str, float]:
    """The quota the department's servers and sites leave unused (what a new one may take)."""
    used = {"instances": 0.0, "cores": 0.0, "ram_gb": 0.0, "volumes": 0.0, "volume_gb": 0.0,
            "websites": float(len(plan.websites))}
    for s in plan.servers:
        f = catalogue.flavors.get(s.flavor)
        used["instances"] += s.count
        used["cores"] += f.vcpus * s.count if f else 0
        used["ram_gb"] += f.ram_gb * s.count if f else 0
        if s.volume_gb:
            used["volumes"] += s.count
            used["volume_gb"] += s.volume_gb * s.count
    return {k: getattr(plan.quota, k) - v for k, v in used.items()}


def _prices(p: Portal) -> dict[str, Decimal] | None:
    """This month's list price of a vCPU, a GiB of RAM and a GB of root disk; None when the
    estate has no price book (or none in force)."""
    month = Month.of(clock())

    def make() -> dict[str, Decimal] | None:
        try:
            book = accounts.book_for(p.estate)
            return {k: book.unit(k, month).yuan for k in ("vcpu", "ram_gb", "disk_gb")}
        except GovcloudError:
            return None

    found: dict[str, Decimal] | None = p.figures(("list prices", str(month)), make)
    return found


def _flavor(f: Flavor, prices: dict[str, Decimal] | None, left: dict[str, float]) -> Data:
    price = None if prices is None else (
        f.vcpus * prices["vcpu"] + Decimal(str(f.ram_gb)) * prices["ram_gb"] +
        f.disk_gb * prices["disk_gb"]).quantize(Decimal("0.01"))
    return {"name": f.name, "vcpus": f.vcpus, "ram_gb": f.ram_gb, "price": price,
            "fits": f.vcpus <= left["cores"] and f.ram_gb <= left["ram_gb"] and
            left["instances"] >= 1}


def offers(p: Portal, department: str, plan: TenancyPlan) -> Data:
    """The choices and defaults of every kind's form for ``department``."""
    cat = p.estate.settings.catalogue
    left = remaining(plan, cat)
    prices = _prices(p)
    flavors = [_flavor(f, prices, left) for f in
               sorted(cat.flavors.values(), key=lambda f: (f.vcpus, f.ram_gb, f.name))]
    fitting = [f for f in flavors if f["fits"]]
    images = sorted(cat.images.values(), key=lambda i: (i.retiring, i.name))
    return {"flavors": flavors, "remaining": left,
            "images": [{"name": i.name, "os": i.os, "retiring": i.retiring} for i in images],
            "defaults": {
                "server.flavor": (fitting or flavors)[0]["name"],  # the smallest that fits
                "server.image": images[0].name,  # never one being retired (sorted last)
                "server.count": 1, "server.volume_gb": 0, "website.storage_gb": 1,
                "website.kind": "php",
                "backup.enabled": plan.backup.enabled, "backup.schedule": plan.backup.schedule,
                "antivirus.enabled": plan.antivirus.enabled,
                "antivirus.schedule": plan.antivirus.schedule,
                **{f"quota.{k}": v for k, v in vars(plan.quota).items()}}}


def flat(payload: Any, prefix: str = "") -> dict[str, Any]:
    """A request's payload as the form's field names (``server.name``), to fill the form
    again with what was checked."""
    if not isinstance(payload, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in payload.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat(value, f"{name}."))
        elif isinstance(value, list):
            out[name] = ", ".join(str(v) for v in value)
        else:
            out[name] = value
    return out


def _demand(plan: TenancyPlan, catalogue: Catalogue, payload: dict[str, Any]) -> dict[str, float]:
    """What a request adds to the department's use of its quota (resources a new server,
    more replicas, a resize or a website take)."""
    kind, add = payload.get("kind"), {"instances": 0.0, "cores": 0.0, "ram_gb": 0.0,
                                      "volumes": 0.0, "volume_gb": 0.0, "websites": 0.0}
    if kind == "website":
        add["websites"] = 1
        return add
    old = next((s for s in plan.servers if s.name == payload.get("server")), None)
    if kind == "servers" and isinstance(payload.get("server"), dict):
        s = payload["server"]
        rows = [(catalogue.flavors.get(s.get("flavor", "")), int(s.get("count", 1)),
                 int(s.get("volume_gb", 0)))]
    elif kind == "replicas" and old is not None:
        rows = [(catalogue.flavors.get(old.flavor), int(payload["count"]) - old.count,
                 old.volume_gb)]
    elif kind == "resize" and old is not None:
        rows = [(catalogue.flavors.get(str(payload.get("flavor"))), old.count, 0),
                (catalogue.flavors.get(old.flavor), -old.count, 0)]
    else:
        return add
    for flavor, n, volume in rows:
        add["instances"] += n if kind != "resize" else 0
        add["cores"] += flavor.vcpus * n if flavor else 0
        add["ram_gb"] += flavor.ram_gb * n if flavor else 0
        add["volumes"] += n if volume else 0
        add["volume_gb"] += volume * n
    return add


def covering(plan: TenancyPlan, catalogue: Catalogue, payload: Any) -> dict[str, int]:
    """The quota a request needs that the department's lacks: each field to raise, to what
    (empty when the request fits, or is not one that takes quota)."""
    if not isinstance(payload, dict):
        return {}
    left, add = remaining(plan, catalogue), _demand(plan, catalogue, payload)
    return {k: getattr(plan.quota, k) + math.ceil(add[k] - left[k])
            for k in add if add[k] > left[k]}
