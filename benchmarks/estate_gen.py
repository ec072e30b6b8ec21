"""Generate a large, valid estate: N departments shaped like the example estate, with its
policies and price book.

Two shapes: ``servers`` (each department runs 2-8 kinds of server, ~11 servers, and up to 3
websites) and ``websites`` (a small server or two and 4-12 websites each).

    pip install -e '.[bench]'
    python benchmarks/estate_gen.py 2000 /tmp/estate-2000 [servers|websites]
    python benchmarks/estate_gen.py 3 /tmp/estate-3 websites    # a quick check
"""

from __future__ import annotations

import random
import shutil
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
FLAVORS = [("m1.small", 1, 2), ("m1.medium", 2, 4), ("m1.large", 4, 8), ("m1.xlarge", 8, 16),
           ("r1.large", 4, 32), ("r1.xlarge", 8, 64), ("c1.xlarge", 16, 16)]
WEIGHTS = [20, 35, 25, 8, 6, 3, 3]
IMAGES = ["kylin-v10-sp3", "uos-20-server", "debian-12", "windows-2019"]


SHAPES = {"servers": ((2, 8), [1, 1, 2, 2, 3, 4], (0, 3)),
          "websites": ((0, 2), [1, 1, 2], (4, 12))}


def department(i: int, rng: random.Random, shape: str = "servers") -> dict:
    zone = "intranet" if i % 2 else "extranet"
    dep_id = f"dept-{i:05d}"
    (least, most), counts, (few, many) = SHAPES[shape]
    servers, cores, ram, vols, vol_gb = [], 0, 0, 0, 0
    for j in range(rng.randint(least, most)):
        name, vcpus, ram_gb = rng.choices(FLAVORS, WEIGHTS)[0]
        count = rng.choice(counts)
        volume = rng.choice([0, 0, 100, 200, 500])
        servers.append({"name": f"d{i:05d}-s{j}", "flavor": name, "image": rng.choice(IMAGES),
                        "count": count, "volume_gb": volume, "anti_affinity": count > 1,
                        "load": {"cpu": round(rng.uniform(0.1, 0.7), 2),
                                 "ram": round(rng.uniform(0.3, 0.9), 2)}})
        cores += vcpus * count
        ram += ram_gb * count
        if volume:
            vols += count
            vol_gb += volume * count
    sites = []
    for k in range(rng.randint(few, many)):
        sites.append({"domain": f"s{k}.d{i:05d}.qingdao.gov.cn",
                      "kind": rng.choice(["static", "php"]), "storage_gb": rng.randint(1, 20),
                      "public": zone == "extranet"})
    instances = sum(s["count"] for s in servers)
    return {
        "department": {"id": dep_id, "name": f"青岛市第{i}局", "name_en": f"Bureau {i}",
                       "cost_centre": f"CC-{i:05d}", "zone": zone},
        "quota": {"instances": instances + 2, "cores": cores + 8, "ram_gb": ram + 16,
                  "volumes": vols + 2, "volume_gb": vol_gb + 500, "websites": len(sites) + 1},
        "servers": servers,
        "websites": sites,
        "services": {"backup": {"retention": {"daily": 7, "weekly": 4, "monthly": 12}}},
        "legacy": {"servers": [{"class": "tower-2u", "count": rng.randint(2, 20)}],
                   "admin_staff": rng.choice([0.5, 1, 2]),
                   "antivirus_yuan_per_year": rng.randint(5, 40) * 1000,
                   "backup_yuan_per_year": rng.randint(10, 80) * 1000},
    }


def write_settings(dest: Path, n: int) -> None:
    """The example's settings for ``n`` departments: its host pool grown with ``n``."""
    settings = yaml.safe_load((REPO / "govcloud.yaml").read_text())
    scale = max(1, n // 16)
    for zone in ("intranet", "extranet"):
        settings["host_pool"]["hosts"][zone] = {
            k: v * scale for k, v in settings["host_pool"]["hosts"][zone].items()}
    # Each department takes a /24 of its zone's pool: two /9s hold 32,768 per zone.
    settings["networks"] = {"intranet": "10.0.0.0/9", "extranet": "10.128.0.0/9"}
    (dest / "govcloud.yaml").write_text(yaml.safe_dump(settings, allow_unicode=True))


def generate(n: int, dest: Path, seed: int = 7, shape: str = "servers") -> Path:
    rng = random.Random(seed)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "plans").mkdir(parents=True)
    shutil.copytree(REPO / "policies", dest / "policies")
    shutil.copy(REPO / "prices.yaml", dest / "prices.yaml")
    write_settings(dest, n)
    for i in range(n):
        plan = department(i, rng, shape)
        (dest / "plans" / f"{plan['department']['id']}.yaml").write_text(
            yaml.safe_dump(plan, allow_unicode=True, sort_keys=False))
    return dest


if __name__ == "__main__":
    print(generate(int(sys.argv[1]), Path(sys.argv[2]),
                   shape=sys.argv[3] if len(sys.argv) > 3 else "servers"))
