"""The tenancy-plan and estate-settings schemas, as JSON Schema, and the one place defaults live.

The schemas are printed by ``govcloud schema`` for editors (yaml-language-server). They are
written with the constructors here (``str_of``, ``obj_of``…) and the patterns of
``core.patterns``; :func:`check` checks a document against one with a fast check compiled per
schema (``core.validity``) and, when it fails, the walk of ``core.diagnosis`` over the subset of
JSON Schema they use, so that every problem comes out with its line, its key path and a hint in
plain words.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from govcloud.core import grants
from govcloud.core.diagnosis import walk
from govcloud.core.directory import GROUP_ROLES, ROLES, SCOPED_GROUP_ROLES
from govcloud.core.documents import Document
from govcloud.core.patterns import (
    ABS_PATH,
    BACKUP_PATH,
    CIDR,
    COST_CENTRE,
    CRON,
    DNS,
    EMAIL,
    HOST,
    IDENT,
    KEYSTONE_NAME,
    KEYSTONE_NAME_OR_EMPTY,
    NAME,
    PATH_MAX,
    SOURCE,
    STATE_URL,
    TEXT,
    TIME_ZONE,
    URL,
)
from govcloud.core.roles import SCOPED_ROLES
from govcloud.core.validity import validator
from govcloud.errors import Diagnostic

# A restic repository (a folder, or sftp:/rest:/s3: with a host) and a password file: plain
# characters only, since both go to restic's command line; empty when not set.
RESTIC_REPO = r"^([A-Za-z0-9_./:@%+=~-]+)?$"
PASSWORD_FILE = r"^([A-Za-z0-9_./-]+)?$"


def str_of(description: str, pattern: str | None = None, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "description": description, **kw}
    if pattern:
        out["pattern"] = pattern
    return out


def int_of(description: str, minimum: int = 0, maximum: int | None = None,
           **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "description": description, "minimum": minimum}
    if maximum is not None:
        out["maximum"] = maximum
    out.update(kw)
    return out


def num_of(description: str, minimum: float = 0, maximum: float | None = None,
           **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "number", "description": description, "minimum": minimum}
    if maximum is not None:
        out["maximum"] = maximum
    out.update(kw)
    return out


def obj_of(description: str, props: dict[str, Any], required: list[str] | None = None,
         **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "description": description, "properties": props,
                           "additionalProperties": False}
    if required:
        out["required"] = required
    out.update(kw)
    return out


def arr_of(description: str, items: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"type": "array", "description": description, "items": items, **kw}


RETENTION = obj_of("How many backups restic keeps (restic forget --keep-*).", {
    "daily": int_of("Daily snapshots to keep.", 0, 366, default=7),
    "weekly": int_of("Weekly snapshots to keep.", 0, 104, default=4),
    "monthly": int_of("Monthly snapshots to keep.", 0, 120, default=12),
    "yearly": int_of("Yearly snapshots to keep.", 0, 30, default=0),
}, default={})

PLAN_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govcloud.example/schema/tenancy-plan.json",
    "title": "govcloud tenancy plan",
    "description": "What one department needs from the shared government cloud.",
    **obj_of("", {
        "department": obj_of("Who the department is.", {
            "id": str_of("Stable identifier, used in every resource name.", IDENT),
            "name": str_of("Official name, e.g. 青岛市财政局.", TEXT, minLength=1, maxLength=80),
            "name_en": str_of("English name.", TEXT, maxLength=120, default=""),
            "cost_centre": str_of("Finance cost centre charged for this department.", COST_CENTRE),
            "zone": {"type": "string", "enum": ["intranet", "extranet"],
                     "description": "Network zone: intranet (公务内网) or extranet (公务外网)."},
            "contact": str_of("Contact e-mail or phone of the department's IT staff.", TEXT,
                          maxLength=120, default=""),
        }, ["id", "name", "cost_centre", "zone"]),
        "quota": obj_of("Quota the department is granted on the shared cloud.", {
            "instances": int_of("Maximum servers.", 0, 10_000, default=10),
            "cores": int_of("Maximum vCPUs.", 0, 100_000, default=20),
            "ram_gb": int_of("Maximum RAM in GiB.", 0, 1_000_000, default=64),
            "volumes": int_of("Maximum volumes.", 0, 10_000, default=10),
            "volume_gb": int_of("Maximum volume storage in GB.", 0, 10_000_000, default=1000),
            "websites": int_of("Maximum hosted websites.", 0, 1000, default=5),
        }, default={}),
        "servers": arr_of("Virtual machines on the shared hosts.", obj_of("One server spec.", {
            "name": str_of("Server name, unique in the estate; replicas after the first get "
                       "-2, -3 … appended.",
                       NAME),
            "flavor": str_of("Flavor from the estate catalogue.", NAME),
            "image": str_of("Image from the estate catalogue.", NAME),
            "count": int_of("How many replicas.", 1, 100, default=1),
            "volume_gb": int_of("Data volume per replica in GB (0: none).", 0, 100_000, default=0),
            "anti_affinity": {"type": "boolean", "default": False,
                              "description": "Put the replicas on distinct hosts."},
            "load": obj_of("Expected average use of the allocated resources (0-1).", {
                "cpu": num_of("Average CPU use.", 0, 1, default=0.3),
                "ram": num_of("Average RAM use.", 0, 1, default=0.5),
            }, default={}),
            "antivirus": {"type": "boolean", "default": True,
                          "description": "Scan this server with the shared antivirus."},
            "backup": {"type": "boolean", "default": True,
                       "description": "Back this server's data up to the backup centre."},
            "exemption": str_of("Why antivirus or backup is off (required when either is off).",
                            TEXT, maxLength=400, default=""),
            "protected": {"type": "boolean", "default": False,
                          "description": "Never delete or replace this server."},
        }, ["name", "flavor", "image"]), default=[], maxItems=500),
        "websites": arr_of("Websites on the shared web hosts.", obj_of("One website.", {
            "domain": str_of("Domain the site answers to.", DNS),
            "kind": {"type": "string", "enum": ["static", "php", "proxy"], "default": "static",
                     "description": "static files, PHP (php-fpm) or a reverse proxy."},
            "storage_gb": int_of("Docroot storage in GB.", 0, 10_000, default=1),
            "upstream": str_of("Backend URL (proxy sites only): http://SERVER:PORT/path with "
                               "SERVER one of the department's own servers (its address is "
                               "looked up at apply), or an address in the department's own "
                               "network.", URL, maxLength=2048),
            "public": {"type": "boolean", "default": True,
                       "description": "Published on the internet (extranet only)."},
            "protected": {"type": "boolean", "default": False,
                          "description": "Never delete this site."},
        }, ["domain"]), default=[], maxItems=200),
        "services": obj_of("Shared services for the department.", {
            "antivirus": obj_of("Shared antivirus (ClamAV).", {
                "enabled": {"type": "boolean", "default": True, "description": "On or off."},
                "schedule": str_of("When scans run (cron).", CRON, default="0 3 * * *"),
            }, default={}),
            "backup": obj_of("Disaster-recovery backup (restic).", {
                "enabled": {"type": "boolean", "default": True, "description": "On or off."},
                "schedule": str_of("When backups run (cron).", CRON, default="30 1 * * *"),
                "retention": RETENTION,
                "paths": arr_of("Paths to back up on each server.",
                              str_of("An absolute path (at most 4096 characters, Linux's "
                                     "PATH_MAX; each name in it at most 255), outside /proc, "
                                     "/sys, /dev and /run.", BACKUP_PATH,
                                     maxLength=PATH_MAX),
                              default=["/srv/data"], maxItems=20),
                "rpo_hours": int_of("Recovery point objective: the newest snapshot at each site "
                                    "(primary and disaster-recovery) may be at most this many "
                                    "hours old. Default: the estate's services.backup.rpo_hours "
                                    "in govcloud.yaml.", 1, 24 * 31),
            }, default={}),
        }, default={}),
        "legacy": obj_of("What the department ran before consolidation (for savings).", {
            "servers": arr_of("Its own servers.", obj_of("Servers of one class.", {
                "class": str_of("Legacy server class from the price book.", NAME),
                "count": int_of("How many.", 0, 10_000),
            }, ["class", "count"]), default=[]),
            "admin_staff": num_of("Full-time staff who ran them.", 0, 1000, default=0),
            "antivirus_yuan_per_year": num_of("Its own antivirus licences, yuan a year.", 0,
                                          default=0),
            "backup_yuan_per_year": num_of("Its own backup, yuan a year.", 0, default=0),
            "websites": int_of("Websites it hosted itself.", 0, 1000, default=0),
        }, default={}),
    }, ["department"]),
}
PLAN_SCHEMA.pop("description", None)
PLAN_SCHEMA["description"] = "What one department needs from the shared government cloud."

FLAVOR = obj_of("A flavor offered to departments.", {
    "name": str_of("Flavor name.", NAME),
    "vcpus": int_of("vCPUs.", 1, 512),
    "ram_gb": num_of("RAM in GiB.", 0.25, 8192),
    "disk_gb": int_of("Root disk in GB.", 1, 100_000),
}, ["name", "vcpus", "ram_gb", "disk_gb"])

HOST_CLASS = obj_of("A class of physical host.", {
    "name": str_of("Class name.", NAME),
    "vcpus": int_of("Physical cores (threads).", 1, 4096),
    "ram_gb": int_of("RAM in GiB.", 1, 65536),
    "disk_gb": int_of("Local disk in GB.", 1, 10_000_000),
    "cost_weight": num_of("Relative cost; cheaper capacity is preferred when equal.", 0,
                      default=1.0),
}, ["name", "vcpus", "ram_gb", "disk_gb"])

# An LDAP attribute or object class name; a DN (no control characters); an environment
# variable's name.
LDAP_NAME = r"^[A-Za-z][A-Za-z0-9-]{0,63}$"
LDAP_NAME_OR_EMPTY = r"^([A-Za-z][A-Za-z0-9-]{0,63})?$"
DN = r"^[^\x00-\x1f\x7f]{0,1024}$"
LDAP_URL = r"^(ldaps?://[A-Za-z0-9.-]+(:[0-9]{1,5})?/?)?$"
ENV_NAME = r"^([A-Z_][A-Z0-9_]{0,63})?$"


def _attr(description: str, default: str, pattern: str = LDAP_NAME) -> dict[str, Any]:
    return str_of(description, pattern, default=default)


DIRECTORY_SCHEMA = obj_of(
    "The LDAP directory (OpenLDAP, Active Directory…) that holds the organisations, people "
    "and their roles: people sign in to the portal with their directory password (bind), "
    "and govcloud directory sync brings its organisations in as departments. See "
    "docs/directory.md.", {
        "url": str_of("ldaps://host[:port] or ldap://host[:port] (with start_tls unless on "
                      "loopback); empty: no directory.", LDAP_URL, default=""),
        "start_tls": {"type": "boolean", "default": False,
                      "description": "Switch an ldap:// connection to TLS (StartTLS) before "
                      "anything is sent."},
        "ca_file": str_of("The CA certificate (PEM) that signed the directory's certificate "
                          "(empty: the system's CAs).", PASSWORD_FILE, default=""),
        "bind_dn": str_of("The DN govcloud reads the directory as (it needs read access to "
                          "the organisations, people and groups, never to passwords).", DN,
                          default=""),
        "password_env": str_of("The environment variable holding that DN's password.",
                               ENV_NAME, default=""),
        "password_file": str_of("Or the file holding it (relative to the estate or "
                                "absolute; owner-only, out of git).", PASSWORD_FILE,
                                default=""),
        "organisations_base": str_of("Where the organisations are (searched below).", DN,
                                     default=""),
        "people_base": str_of("Where the people are.", DN, default=""),
        "groups_base": str_of("Where the groups that give roles are.", DN, default=""),
        "organisations": obj_of("Which entries are organisations and which attributes "
                                "hold what.", {
            "object_class": _attr("Their object class.", "govcloudOrganisation"),
            "name": _attr("The attribute holding the name.", "ou"),
            "code": _attr("The attribute holding the stable code, which becomes the "
                          "department id (never the name: names change).", "govcloudCode"),
            "cost_centre": _attr("The attribute holding the finance cost centre (an "
                                 "organisation with one is a department).",
                                 "govcloudCostCentre"),
            "parent": _attr("An attribute holding the parent's code; empty: the parent is "
                            "the entry above.", "", LDAP_NAME_OR_EMPTY),
        }, default={}),
        "people": obj_of("Which entries are people and which attributes hold what.", {
            "object_class": _attr("Their object class.", "inetOrgPerson"),
            "login": _attr("The attribute people sign in with.", "uid"),
            "name": _attr("The display name.", "cn"),
            "email": _attr("The e-mail address.", "mail"),
            "organisation": _attr("The attribute holding the code of the person's "
                                  "organisation.", "departmentNumber"),
        }, default={}),
        "groups": obj_of("Which entries are groups and which portal role each gives.", {
            "object_class": _attr("Their object class.", "groupOfNames"),
            "name": _attr("The attribute naming a group.", "cn"),
            "member": _attr("The attribute holding each member's DN.", "member"),
            "roles": {"type": "object", "default": dict(GROUP_ROLES),
                      "description": "Group name → the portal role it gives (member and "
                      "approver in the person's own organisation).",
                      "additionalProperties": {"type": "string", "enum": list(ROLES),
                                               "description": "A portal role."}},
            "scoped_roles": {"type": "object", "default": dict(SCOPED_GROUP_ROLES),
                             "description": "Group name → the portal role it gives limited "
                             "to the person's own organisation and everything under it "
                             "(docs/directory.md, scopes).",
                             "additionalProperties": {"type": "string",
                                                      "enum": sorted(SCOPED_ROLES),
                                                      "description": "A portal role."}},
        }, default={}),
        "levels": {"type": "array", "default": ["city", "district"],
                   "description": "The names of the organisation tree's levels from the top "
                   "(level 0 first), for approval rules that name one (approver@district).",
                   "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,30}$"},
                   "maxItems": 12},
        "reread_seconds": int_of("How often a signed-in person's groups are read again (a "
                                 "role taken away ends their session within this).", 1, 3600,
                                 default=60),
        "timeout_seconds": int_of("How long to wait for the directory.", 1, 120, default=10),
    }, default={})

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govcloud.example/schema/estate-settings.json",
    "title": "govcloud estate settings",
    **obj_of("Estate-wide settings.", {
        "estate": str_of("Name of the estate.", IDENT),
        "cloud": obj_of("Which cloud to drive.", {
            "driver": {"type": "string", "enum": ["sim", "openstack"], "default": "sim",
                       "description": "sim (embedded) or openstack."},
            "cloud": str_of("clouds.yaml entry (openstack; OS_CLOUD overrides).", NAME,
                        default="govcloud"),
            "domain": str_of("Keystone domain holding the department projects.", IDENT,
                         default="govcloud"),
            "concurrency": int_of("Changes in flight at once.", 1, 256, default=16),
        }, default={}),
        "state": obj_of("Where state, journal and locks live.", {
            "url": str_of("sqlite:///path (relative to the estate) or postgresql://…",
                      STATE_URL, default="sqlite:///.state/govcloud.db"),
        }, default={}),
        "networks": obj_of("Address pools per zone: valid IPv4 networks that do not overlap, "
                           "each with a /24 for every department of its zone.", {
            "intranet": str_of("CIDR for intranet department networks.", CIDR,
                           default="10.20.0.0/16"),
            "extranet": str_of("CIDR for extranet department networks.", CIDR,
                           default="10.40.0.0/16"),
        }, default={}),
        "host_pool": obj_of("Physical hosts of the shared platform.", {
            "cpu_allocation_ratio": num_of("vCPUs per physical core.", 0.1, 64, default=4.0),
            "ram_allocation_ratio": num_of("RAM overcommit.", 0.1, 4, default=1.0),
            "disk_allocation_ratio": num_of("Disk overcommit.", 0.1, 10, default=1.0),
            "headroom": num_of("Plan hosts to this fill level (meet the need, moderately ahead).",
                           0.1, 1, default=0.8),
            "classes": arr_of("Host classes.", HOST_CLASS, minItems=1),
            "hosts": obj_of("Hosts available per zone and class.", {
                "intranet": {"type": "object", "additionalProperties": int_of("Hosts.", 0, 100_000),
                             "description": "Host class → count.", "default": {}},
                "extranet": {"type": "object", "additionalProperties": int_of("Hosts.", 0, 100_000),
                             "description": "Host class → count.", "default": {}},
            }),
        }, ["classes", "hosts"]),
        "catalogue": obj_of("What departments may ask for.", {
            "flavors": arr_of("Flavors.", FLAVOR, minItems=1),
            "images": arr_of("Images.", obj_of("An image.", {
                "name": str_of("Image name.", NAME),
                "os": str_of("Operating system.", TEXT, default=""),
                "retiring": {"type": "boolean", "default": False,
                             "description": "Being retired: still allowed, never the "
                                            "portal's default, shown last and marked."},
            }, ["name"]), minItems=1),
            "website_suffixes": arr_of("Allowed domain suffixes for hosted websites.",
                                     str_of("A DNS suffix.", DNS), default=[]),
            "reserved_domains": arr_of("The platform's own names (the portal's, the "
                                       "platform's hosts): no department's website may claim "
                                       "one or a name under one (the host of "
                                       "notify.portal_url is reserved as well).",
                                       str_of("A DNS name.", DNS), default=[], maxItems=100),
        }, ["flavors", "images"]),
        "prices": str_of("Price book file, relative to the estate (it must stay inside it); "
                         "an absolute path names a file kept outside the estate.",
                         r"^[A-Za-z0-9_./-]+$", default="prices.yaml"),
        "services": obj_of("Shared services (web hosting, antivirus, backup) configured by the "
                         "Ansible playbooks in playbooks/ after each apply.", {
            "enabled": {"type": "boolean", "default": False,
                        "description": "Run the service playbooks after apply (off: apply "
                        "changes the cloud only and says the playbooks were skipped)."},
            "servers": {"type": "boolean", "default": False,
                        "description": "Also configure the department VMs (needs them "
                        "reachable over SSH, i.e. a real cloud)."},
            "signatures": str_of("Where the antivirus mirror takes ClamAV signatures from: a "
                             "path on the mirror host or an http(s) URL (no internet needed).",
                             SOURCE, default="/srv/clamav-signatures"),
            "upstream_networks": arr_of(
                "Networks every department's proxy sites may reach besides its own servers "
                "and network. For a test rig's loopback backend only: production keeps it "
                "empty, since an address here is open to every department.",
                str_of("An IPv4 network.", CIDR), default=[], maxItems=20),
            "backup": obj_of("Backup policy for every department.", {
                "rpo_hours": int_of("The recovery point objective of a plan that names none: "
                                    "hours the newest snapshot at each site may be old (a "
                                    "daily backup plus two hours for it and the copy to the "
                                    "disaster-recovery site).", 1, 24 * 31, default=26),
            }, default={}),
            "tls": obj_of("TLS for hosted websites; without a certificate each site gets a "
                        "generated self-signed one.", {
                "certificate": str_of("Certificate (chain) file on the web hosts.", ABS_PATH),
                "key": str_of("Its private key file on the web hosts.", ABS_PATH),
            }, default={}),
        }, default={}),
        "notify": obj_of("E-mail about the portal's requests: to the people a request waits "
                         "for, and to its requester when it is decided.", {
            "smtp_host": str_of("SMTP server (empty: no e-mail is sent).", HOST, default=""),
            "smtp_port": int_of("Its port.", 1, 65535, default=25),
            "starttls": {"type": "boolean", "default": False,
                         "description": "Switch to TLS (STARTTLS) before sending."},
            "sender": str_of("The From address.", EMAIL, default="govcloud@localhost"),
            "portal_url": str_of("The portal's address, for links in the mails.", URL),
        }, default={}),
        "audit": obj_of("The audit trail's keyed chain: its algorithm, and the folder "
                        "outside the state store that holds its key and anchors.", {
            "algorithm": {"type": "string", "enum": ["auto", "sm3", "sha256"],
                          "default": "auto",
                          "description": "The HMAC new records are sealed with: sm3 (GB/T "
                          "39786), sha256, or auto (SM3 where OpenSSL has it, else SHA-256)."},
            "keys": str_of("Folder of the key (audit.key) and the anchored heads "
                           "(audit.anchors), relative to the estate or absolute; keep it out "
                           "of git and back the key up apart from the store.",
                           r"^[A-Za-z0-9_./-]+$", default=".state-keys"),
            "retention_days": int_of("How long audit records are kept, in days: govcloud "
                                     "audit prune removes only records older than this. At "
                                     "least 180 (six months, the least the Cybersecurity "
                                     "Law asks of network logs).", 180, 36500, default=180),
        }, default={}),
        "state_backup": obj_of("Where govcloud state backup keeps the state store's "
                               "backups: restic repositories (encrypted), each with the file "
                               "its password is read from (never printed or logged).", {
            "repository": str_of("The primary restic repository (a folder, sftp:, rest: "
                                 "or s3: location).", RESTIC_REPO, default=""),
            "password_file": str_of("The file holding its password, relative to the estate "
                                    "or absolute; owner-only, out of git.", PASSWORD_FILE,
                                    default=""),
            "dr_repository": str_of("The disaster-recovery site's repository each backup is "
                                    "copied to (restic copy); empty: no copy.", RESTIC_REPO,
                                    default=""),
            "dr_password_file": str_of("The file holding the DR repository's own password.",
                                       PASSWORD_FILE, default=""),
        }, default={}),
        "directory": DIRECTORY_SCHEMA,
        "portal": obj_of("The self-service portal (govcloud serve).", {
            "time_zone": str_of("The IANA time zone the portal shows times in (e.g. "
                                "Asia/Shanghai); the state store keeps them in UTC.",
                                TIME_ZONE, default="UTC"),
            "token_max_days": int_of("The longest an API token may last, in days (govcloud "
                                     "tokens add --days; 90 unless given).", 1, 3650,
                                     default=365),
            "second_factor": arr_of(
                "The roles whose people give a second factor (a TOTP code, or a recovery "
                "code) after their password; [] for none. A Keystone person whose Keystone "
                "enforces its own MFA is not asked.",
                {"type": "string", "enum": ["member", "approver", "operator", "finance",
                                            "auditor"]},
                uniqueItems=True, default=["operator", "approver", "finance", "auditor"]),
            "keystone": obj_of("Sign-in with Keystone (the openstack driver): which Keystone "
                               "role assignments give which portal role.", {
                "user_domain": str_of("The Keystone domain people's users live in.",
                                      KEYSTONE_NAME, default="Default"),
                "oversight_project": str_of(
                    "A project in the govcloud domain whose roles give operator, finance or "
                    "auditor (empty: roles on the govcloud domain itself).",
                    KEYSTONE_NAME_OR_EMPTY, default=""),
                "department_roles": {
                    "type": "object", "default": dict(grants.DEPARTMENT_ROLES),
                    "description": "Keystone role on a department's project → the portal "
                                   "role in that department.",
                    "additionalProperties": {"type": "string", "enum": ["member", "approver"],
                                             "description": "member or approver."}},
                "oversight_roles": {
                    "type": "object", "default": dict(grants.OVERSIGHT_ROLES),
                    "description": "Keystone role on the govcloud domain (or the oversight "
                                   "project) → the portal role over every department.",
                    "additionalProperties": {"type": "string",
                                             "enum": ["operator", "finance", "auditor"],
                                             "description": "operator, finance or auditor."}},
            }, default={}),
        }, default={}),
    }, ["estate", "host_pool", "catalogue"]),
}


def check(doc: Document, schema: dict[str, Any]) -> list[Diagnostic]:
    """Every way ``doc.data`` breaks ``schema``, each with line, path and hint.

    A file that holds none of the keys its kind has is not one of its kind at all (a link
    or a setting pointing at some other file, say /etc/shadow): it is refused in one line,
    without quoting anything of it.
    """
    props = schema.get("properties", {})
    if isinstance(doc.data, dict) and doc.data and props and not set(doc.data) & set(props):
        kind = schema.get("title", "file of this kind")
        return [doc.diag((), f"holds none of the keys of a {kind} (is it one?); its content "
                         "is not shown", f"expected keys: {', '.join(props)}")]
    if validator(schema)(doc.data):  # the common case, answered without a walk
        return []
    out: list[Diagnostic] = []
    walk(doc, doc.data, schema, (), out)
    return out


def with_defaults(value: Any, schema: dict[str, Any]) -> Any:
    """A copy of already-checked ``value`` with every schema default filled in: each
    object's keys in the schema's order, then the keys it allows beyond them.

    This is the one place defaults are applied: the model never invents values.
    """
    fill = _filler(schema)
    return value if fill is None else fill(value)


Filler = Callable[[Any], Any]
# id(schema) -> (schema, its filler): the schemas are module constants, compiled once each
# (the schema is kept so its id is never reused by another object).
_FILLERS: dict[int, tuple[dict[str, Any], Filler | None]] = {}


def _filler(schema: dict[str, Any]) -> Filler | None:
    """What ``with_defaults`` does for values of ``schema``, worked out once per schema:
    None where a value is kept as it is (every type but objects and arrays)."""
    found = _FILLERS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    kind = schema.get("type")
    fill: Filler | None = None
    if kind == "object":
        fill = _object_filler(schema)
    elif kind == "array":
        fill = _array_filler(schema)
    _FILLERS[id(schema)] = (schema, fill)
    return fill


def _array_filler(schema: dict[str, Any]) -> Filler:
    item = _filler(schema["items"])

    def fill(value: Any) -> Any:
        if not isinstance(value, list):
            return value
        return list(value) if item is None else [item(v) for v in value]
    return fill


def _object_filler(schema: dict[str, Any]) -> Filler:
    props: dict[str, Any] = schema.get("properties", {})
    entries = [(key, _filler(sub), "default" in sub, sub.get("default"))
               for key, sub in props.items()]
    extra = schema.get("additionalProperties")
    more = _filler(extra) if isinstance(extra, dict) else None

    def fill(value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        found = 0
        for key, sub, has_default, default in entries:
            if key in value:
                found += 1
                v = value[key]
                out[key] = v if sub is None else sub(v)
            elif has_default:
                if isinstance(default, dict | list):  # never share a mutable default
                    default = copy.deepcopy(default)
                out[key] = default if sub is None else sub(default)
        if found < len(value):
            for key, item in value.items():
                if key not in props:
                    out[key] = item if more is None else more(item)
        return out
    return fill
