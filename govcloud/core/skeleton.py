"""A new department's tenancy plan, as a commented skeleton that validates as it stands.

Pure: the estate's settings in, YAML text out. ``govcloud new department ID`` writes it; the
operator then edits what the comments point at. Every value in it comes from the estate's
own catalogue, so it validates before anyone touches it.
"""

from __future__ import annotations

import json
import math

from govcloud.core.model import Settings

SCHEMA_LINE = "# yaml-language-server: $schema=../docs/schema/tenancy-plan.json"


def cost_centre_for(department: str, taken: set[str]) -> str:
    """A cost centre no other plan uses: CC-<ID>, numbered on if that is taken."""
    base = f"CC-{department.upper()}"[:29]
    found, n = base, 2
    while found in taken:
        found, n = f"{base}-{n}", n + 1
    return found


def _column(text: str) -> str:
    """``text`` padded so that the comment after it lines up with the others."""
    return text.ljust(32) + " "


def department_plan(department: str, settings: Settings, cost_centre: str,
                    name: str = "") -> str:
    """``department``'s plan, ``name`` (the directory's) or its id as its name."""
    flavors = sorted(settings.catalogue.flavors.values(),
                     key=lambda f: (f.vcpus, f.ram_gb, f.disk_gb, f.name))
    flavor, image = flavors[0], next(iter(settings.catalogue.images))
    ram = math.ceil(flavor.ram_gb)
    shown = json.dumps(name, ensure_ascii=False) if name else department  # a YAML string
    suffix = (settings.catalogue.website_suffixes or ("example.gov.cn",))[0]
    return f"""{SCHEMA_LINE}
# The tenancy plan of department {department}: what it asks of the shared cloud.
# It validates as written; edit what the comments point at, then run
#   govcloud validate && govcloud plan
# (the plan shows what apply will create and what it adds to the monthly bill).
department:
  {_column(f"id: {department}")}# never change it: every resource name derives from it
  {_column(f"name: {shown}")}# the official name, e.g. 青岛市水务管理局
  name_en: ""                      # the English name
  {_column(f"cost_centre: {cost_centre}")}# the finance cost centre that pays (unique in the estate)
  zone: intranet                   # intranet (公务内网), or extranet (公务外网: public sites)
  contact: ""                      # the department IT staff's e-mail or phone

# What the department may use at most; validate checks it covers the servers below.
quota:
  instances: 2
  cores: {2 * flavor.vcpus}
  ram_gb: {2 * ram}
  volumes: 2
  volume_gb: 100
  websites: 1

servers:
  # One entry per kind of server; count replicas, anti_affinity keeps them on distinct hosts.
  # Flavors: {", ".join(f.name for f in flavors)}
  # Images: {", ".join(settings.catalogue.images)}
  - name: {department}-app
    flavor: {flavor.name}
    image: {image}
    count: 1
    volume_gb: 0                   # a data volume per replica, in GB (kept on resize)
    load: {{cpu: 0.3, ram: 0.5}}      # expected average use: what the sim cloud measures
    # protected: true              # never replaced or deleted by govcloud

websites: []
  # - domain: www.{department}.{suffix}
  #   kind: static                 # static, php or proxy (proxy: upstream: http://SERVER:PORT/)

services:
  antivirus:
    schedule: "0 3 * * *"          # when the shared ClamAV scans the servers (cron)
  backup:
    schedule: "30 1 * * *"         # when restic backs them up (cron)
    retention: {{daily: 14, weekly: 8, monthly: 12, yearly: 0}}
    paths: [/srv/data]

# What the department ran before it moved (for the savings report).
legacy:
  servers: []                      # e.g. - {{class: tower-2u, count: 3}} (classes: prices.yaml)
  admin_staff: 0
"""
