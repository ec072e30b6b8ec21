"""The estate as plain frozen dataclasses: settings, catalogue, host pool and tenancy plans.

Built only from data that has passed the schema, with defaults already filled in
(``schema.with_defaults``), so nothing here guesses a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from govcloud.core.directory import DirectorySettings
from govcloud.core.directory import settings_from as directory_settings
from govcloud.core.grants import KeystoneSettings

Zone = Literal["intranet", "extranet"]
ZONES: tuple[Zone, ...] = ("intranet", "extranet")


@dataclass(frozen=True)
class Flavor:
    name: str
    vcpus: int
    ram_gb: float
    disk_gb: int


@dataclass(frozen=True)
class Image:
    name: str
    os: str = ""
    retiring: bool = False  # still allowed; never the portal's default


@dataclass(frozen=True)
class HostClass:
    name: str
    vcpus: int
    ram_gb: int
    disk_gb: int
    cost_weight: float = 1.0


@dataclass(frozen=True)
class HostPool:
    classes: tuple[HostClass, ...]
    hosts: dict[str, dict[str, int]]  # zone -> class name -> count
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    headroom: float = 0.8

    def host_class(self, name: str) -> HostClass:
        return next(c for c in self.classes if c.name == name)


@dataclass(frozen=True)
class Catalogue:
    flavors: dict[str, Flavor]
    images: dict[str, Image]
    website_suffixes: tuple[str, ...] = ()
    reserved_domains: tuple[str, ...] = ()  # the platform's own names: no site claims one


@dataclass(frozen=True)
class ServiceSettings:
    """The ``services:`` section: whether and how apply runs the service playbooks."""

    enabled: bool = False
    servers: bool = False
    signatures: str = "/srv/clamav-signatures"
    rpo_hours: int = 26  # the recovery point objective of a plan that names none
    tls_certificate: str | None = None
    tls_key: str | None = None
    upstream_networks: tuple[str, ...] = ()  # open to every proxy site (test rigs only)


@dataclass(frozen=True)
class NotifySettings:
    """The ``notify:`` section: where the portal's e-mail goes out (no host: none)."""

    smtp_host: str = ""
    smtp_port: int = 25
    starttls: bool = False
    sender: str = "govcloud@localhost"
    portal_url: str = ""


@dataclass(frozen=True)
class AuditSettings:
    """The ``audit:`` section: how the audit trail is keyed, and where its key and anchors
    are kept (outside the state store; relative to the estate, or absolute)."""

    algorithm: str = "auto"  # auto (SM3 where OpenSSL has it, else SHA-256) | sm3 | sha256
    keys: str = ".state-keys"
    retention_days: int = 180  # records are kept at least this long (govcloud audit prune)


@dataclass(frozen=True)
class StateBackupSettings:
    """The ``state_backup:`` section: the restic repositories govcloud's own state store is
    backed up to (``govcloud state backup``) and the files their passwords are read from
    (paths relative to the estate, or absolute; empty: not set)."""

    repository: str = ""
    password_file: str = ""
    dr_repository: str = ""
    dr_password_file: str = ""


@dataclass(frozen=True)
class Settings:
    estate: str
    driver: str
    cloud: str
    domain: str
    concurrency: int
    state_url: str
    networks: dict[str, str]
    host_pool: HostPool
    catalogue: Catalogue
    prices: str
    file: str = "govcloud.yaml"
    services: ServiceSettings = ServiceSettings()
    notify: NotifySettings = NotifySettings()
    keystone: KeystoneSettings = KeystoneSettings()
    token_max_days: int = 365  # portal.token_max_days: the longest an API token may last
    # portal.second_factor: the roles that give a second factor (TOTP) after the password
    second_factor: tuple[str, ...] = ("operator", "approver", "finance", "auditor")
    time_zone: str = "UTC"  # portal.time_zone: the zone the portal shows times in
    audit: AuditSettings = AuditSettings()
    state_backup: StateBackupSettings = StateBackupSettings()
    directory: DirectorySettings = DirectorySettings()


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    cost_centre: str
    zone: Zone
    name_en: str = ""
    contact: str = ""


@dataclass(frozen=True)
class Quota:
    instances: int
    cores: int
    ram_gb: int
    volumes: int
    volume_gb: int
    websites: int


@dataclass(frozen=True)
class Load:
    cpu: float
    ram: float


@dataclass(frozen=True)
class ServerSpec:
    name: str
    flavor: str
    image: str
    count: int
    volume_gb: int
    anti_affinity: bool
    load: Load
    antivirus: bool
    backup: bool
    exemption: str
    protected: bool

    def replica_names(self) -> list[str]:
        return replica_names(self.name, self.count)


def replica_names(name: str, count: int) -> list[str]:
    """The first replica keeps the plain name, the others get -2, -3 …, so scaling from one
    to two adds a server instead of renaming (and so replacing) the first."""
    return [name] + [f"{name}-{i}" for i in range(2, count + 1)]


@dataclass(frozen=True)
class Website:
    domain: str
    kind: str
    storage_gb: int
    upstream: str | None
    public: bool
    protected: bool


@dataclass(frozen=True)
class Retention:
    daily: int
    weekly: int
    monthly: int
    yearly: int


@dataclass(frozen=True)
class Antivirus:
    enabled: bool
    schedule: str


@dataclass(frozen=True)
class Backup:
    enabled: bool
    schedule: str
    retention: Retention
    paths: tuple[str, ...]
    rpo_hours: int | None = None  # None: the estate's services.backup.rpo_hours


@dataclass(frozen=True)
class LegacyServers:
    host_class: str
    count: int


@dataclass(frozen=True)
class Legacy:
    servers: tuple[LegacyServers, ...]
    admin_staff: float
    antivirus_yuan_per_year: float
    backup_yuan_per_year: float
    websites: int


@dataclass(frozen=True)
class TenancyPlan:
    department: Department
    quota: Quota
    servers: tuple[ServerSpec, ...]
    websites: tuple[Website, ...]
    antivirus: Antivirus
    backup: Backup
    legacy: Legacy
    file: str

    @property
    def id(self) -> str:
        return self.department.id


@dataclass(frozen=True)
class Estate:
    root: Path
    settings: Settings
    plans: dict[str, TenancyPlan]  # department id -> plan

    def plan(self, department: str) -> TenancyPlan:
        return self.plans[department]


def settings_from(data: dict[str, Any], file: str) -> Settings:
    pool = data["host_pool"]
    cat = data["catalogue"]
    return Settings(
        estate=data["estate"],
        driver=data["cloud"]["driver"],
        cloud=data["cloud"]["cloud"],
        domain=data["cloud"]["domain"],
        concurrency=data["cloud"]["concurrency"],
        state_url=data["state"]["url"],
        networks=dict(data["networks"]),
        host_pool=HostPool(
            classes=tuple(HostClass(**c) for c in pool["classes"]),
            hosts={z: dict(pool["hosts"].get(z, {})) for z in ZONES},
            cpu_allocation_ratio=pool["cpu_allocation_ratio"],
            ram_allocation_ratio=pool["ram_allocation_ratio"],
            disk_allocation_ratio=pool["disk_allocation_ratio"],
            headroom=pool["headroom"],
        ),
        catalogue=Catalogue(
            flavors={f["name"]: Flavor(**f) for f in cat["flavors"]},
            images={i["name"]: Image(**i) for i in cat["images"]},
            website_suffixes=tuple(cat["website_suffixes"]),
            reserved_domains=tuple(cat["reserved_domains"]),
        ),
        prices=data["prices"],
        file=file,
        services=ServiceSettings(
            enabled=data["services"]["enabled"], servers=data["services"]["servers"],
            signatures=data["services"]["signatures"],
            rpo_hours=data["services"]["backup"]["rpo_hours"],
            tls_certificate=data["services"]["tls"].get("certificate"),
            tls_key=data["services"]["tls"].get("key"),
            upstream_networks=tuple(data["services"]["upstream_networks"])),
        notify=NotifySettings(**{"portal_url": "", **data["notify"]}),
        keystone=KeystoneSettings(**data["portal"]["keystone"]),
        token_max_days=data["portal"]["token_max_days"],
        second_factor=tuple(data["portal"]["second_factor"]),
        time_zone=data["portal"]["time_zone"],
        audit=AuditSettings(**data["audit"]),
        state_backup=StateBackupSettings(**data["state_backup"]),
        directory=directory_settings(data["directory"]),
    )


def plan_from(data: dict[str, Any], file: str) -> TenancyPlan:
    dep = data["department"]
    svc = data["services"]
    legacy = data["legacy"]
    return TenancyPlan(
        department=Department(**dep),
        quota=Quota(**data["quota"]),
        servers=tuple(
            ServerSpec(**{**s, "load": Load(**s["load"])}) for s in data["servers"]
        ),
        websites=tuple(Website(**{"upstream": None, **w}) for w in data["websites"]),
        antivirus=Antivirus(**svc["antivirus"]),
        backup=Backup(
            enabled=svc["backup"]["enabled"],
            schedule=svc["backup"]["schedule"],
            retention=Retention(**svc["backup"]["retention"]),
            paths=tuple(svc["backup"]["paths"]),
            rpo_hours=svc["backup"].get("rpo_hours"),
        ),
        legacy=Legacy(
            servers=tuple(LegacyServers(s["class"], s["count"]) for s in legacy["servers"]),
            admin_staff=legacy["admin_staff"],
            antivirus_yuan_per_year=legacy["antivirus_yuan_per_year"],
            backup_yuan_per_year=legacy["backup_yuan_per_year"],
            websites=legacy["websites"],
        ),
        file=file,
    )
