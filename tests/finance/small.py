"""The small price book and platform the finance unit tests price by hand: round numbers, so
every expected figure is a line of arithmetic in the test that asserts it.

Price book (yuan a month):
  units     vcpu 10, from 2026-07 8; ram_gb 2; disk_gb 0.1; volume_gb 0.5; website 100;
            backup_gb 0.2; antivirus_seat 5
  power     1.0 yuan/kWh, from 2026-10 0.5; PUE 1.5, from 2026-12 1.25; legacy PUE 2.0
  std host  120,000 over 5 years (2,000 a month), 500 W, maintenance 2,400 a year (200 a
            month); from 2027-01 it costs 60,000
  old (legacy) server 36,000 over 3 years (1,000 a month), 200 W, maintenance 1,200 a year
  staff     an administrator 120,000 a year; a website hosted alone 2,400 a year
  pools     hosts (the std hosts, split by priced vCPU and RAM), network 900 (even),
            staff 1,000 (weight: a 3, everyone else 1), web 300 (priced websites,
            capacity 4)

Platform: two std hosts of 16 cores (sold 4 to 1: 64 vCPU each) and 64 GiB, one running
servers; the other neither running nor counted idle, so it draws no power.
"""

from __future__ import annotations

from govcloud.core.documents import parse
from govcloud.core.model import (
    Antivirus,
    Backup,
    Department,
    Legacy,
    LegacyServers,
    Quota,
    Retention,
    TenancyPlan,
)
from govcloud.finance.chargeback import HostClassSize, Platform
from govcloud.finance.pricebook import PriceBook, parse_book

PRICES = """\
currency: CNY
units:
  vcpu:
    - {from: 2026-01, yuan: 10}
    - {from: 2026-07, yuan: 8}
  ram_gb: [{from: 2026-01, yuan: 2}]
  disk_gb: [{from: 2026-01, yuan: 0.1}]
  volume_gb: [{from: 2026-01, yuan: 0.5}]
  website: [{from: 2026-01, yuan: 100}]
  backup_gb: [{from: 2026-01, yuan: 0.2}]
  antivirus_seat: [{from: 2026-01, yuan: 5}]
power:
  tariff:
    - {from: 2026-01, yuan_per_kwh: 1.0}
    - {from: 2026-10, yuan_per_kwh: 0.5}
  pue: 1.5
  legacy_pue: 2.0
  changes:
    - {from: 2026-12, pue: 1.25}
host_classes:
  std:
    purchase_yuan: 120000
    years: 5
    power_w: 500
    maintenance_yuan_per_year: 2400
    changes:
      - {from: 2027-01, purchase_yuan: 60000}
legacy_classes:
  old: {purchase_yuan: 36000, years: 3, power_w: 200, maintenance_yuan_per_year: 1200}
staff:
  admin_yuan_per_year: 120000
  legacy_website_yuan_per_year: 2400
pools:
  - name: hosts
    cost: hosts
    rule: usage
    items: [vcpu, ram_gb]
  - name: network
    yuan_per_month: [{from: 2026-01, yuan: 900}]
    rule: even
  - name: staff
    yuan_per_month: [{from: 2026-01, yuan: 1000}]
    rule: weight
    weights: {a: 3}
  - name: web
    yuan_per_month: [{from: 2026-01, yuan: 300}]
    rule: usage
    items: [website]
    capacity: {website: 4}
"""


def book(text: str = PRICES) -> PriceBook:
    """The price book in ``text`` (the small one by default); it must load cleanly."""
    doc, problems = parse(text, "prices.yaml")
    assert doc is not None, problems
    got, problems = parse_book(doc)
    assert got is not None and not problems, problems
    return got


def platform(owned: int = 2, running: int = 1, idle_on: int = 0) -> Platform:
    """``owned`` std hosts, ``running`` of them running servers, ``idle_on`` powered on
    with none."""
    return Platform(owned={"z": {"std": owned}}, in_use={"z": {"std": running}},
                    classes={"std": HostClassSize("std", 16, 64, 1000)}, cpu_ratio=4.0,
                    idle_on={"z": {"std": idle_on}} if idle_on else {})


# September 2026: a runs 32 vCPU, 32 GiB and a website; b 16 vCPU and a website.
USAGE = {"a": {"vcpu": 32.0, "ram_gb": 32.0, "website": 1.0},
         "b": {"vcpu": 16.0, "website": 1.0}}


def legacy(servers: int = 2, admin_staff: float = 0.5, websites: int = 3) -> Legacy:
    """What a department ran itself: ``servers`` old servers, its admin FTE, its own
    antivirus (1,200 a year) and backup (2,400 a year), and ``websites`` sites."""
    return Legacy((LegacyServers("old", servers),), admin_staff, 1200, 2400, websites)


def plan(department: str, was: Legacy) -> TenancyPlan:
    """A department's plan with nothing in it but what it ran itself (``was``)."""
    return TenancyPlan(Department(department, department.upper(), "CC-1", "intranet"),
                       Quota(0, 0, 0, 0, 0, 0), (), (), Antivirus(True, "daily"),
                       Backup(True, "daily", Retention(7, 4, 12, 1), ()), was,
                       f"plans/{department}.yaml")
