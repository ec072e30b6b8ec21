"""The tenancy-plan and estate-settings schemas, as JSON Schema, and the one place defaults live.

The schemas are printed by ``govcloud schema`` for editors (yaml-language-server), and checked
here by a small walker over the subset of JSON Schema they use, so that every problem comes out
with its line, its key path and a hint in plain words.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import math
import re
from collections.abc import Callable
from typing import Any

from govcloud.core import grants
from govcloud.core.documents import Document, Path_, dotted
from govcloud.errors import Diagnostic

# Characters that could break out of a generated nginx config, systemd unit or shell command.
DANGEROUS = {";": "';'", "{": "'{'", "}": "'}'", "/": "'/'", "'": "a quote", '"': "a quote",
             "`": "a backquote", "$": "'$'", "\\": "a backslash", "\n": "a newline",
             "\r": "a carriage return", "<": "'<'", ">": "'>'", "|": "'|'", "&": "'&'",
             "\t": "a tab", "\x00": "a NUL byte", "*": "'*'", " ": "a space", "#": "'#'"}

IDENT = r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"
NAME = r"^[a-z0-9][a-z0-9.-]{0,61}[a-z0-9]$"
DNS = r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$"
# Classes are spelled out ([0-9], not \d; no \s or \S): Python reads \d and \s as any Unicode
# digit or space, ECMA-262 (JSON Schema) does not.
CRON = r"^([0-9*,/-]+ ){4}[0-9*,/-]+$"
CRON_FIELD = re.compile(r"^(\*|[0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?"
                        r"(,([0-9]{1,2}(-[0-9]{1,2})?)(/[0-9]{1,2})?)*$")
# Free text shown to people (Chinese names included): no control characters, quotes or
# characters a template or shell would interpret. Every pattern is written so that Python's
# re and JSON Schema's dialect (ECMA-262, unicode mode: no identity escapes such as \" or \`)
# read it alike.
TEXT = r"""^[^\x00-\x1f\x7f;{}"'`$\\<>|&]*$"""
ABS_PATH = r"^(/(?!\.\.?(/|$))[A-Za-z0-9_.-]+)+$"
HOST = r"^[A-Za-z0-9.-]{0,253}$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$"
URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]*)*$"
COST_CENTRE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
SOURCE = (r"^((/(?!\.\.?(/|$))[A-Za-z0-9_.-]+)+"
          r"|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]*)*)$")
STATE_URL = r"^(sqlite:///|postgresql://|postgres://)[^\x00-\x20\x7f]+$"
STATE_SCHEMES = ("sqlite", "postgresql", "postgres")
CIDR = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"
KEYSTONE_NAME = r"^[A-Za-z0-9_.@-]{1,64}$"  # a Keystone domain, project or role name
KEYSTONE_NAME_OR_EMPTY = r"^[A-Za-z0-9_.@-]{0,64}$"

HINTS = {
    IDENT: "use 2-40 lowercase letters, digits and '-', starting with a letter, e.g. 'finance'",
    NAME: "use lowercase letters, digits, '.' and '-', e.g. 'web-01'",
    DNS: "use a lowercase DNS name such as 'czj.qingdao.gov.cn'",
    CRON: "use a five-field cron schedule such as '30 2 * * *' (digits, '*', ',', '-', '/')",
    TEXT: "remove quotes, ';', '{', '}', '$', '\\', '<', '>', '|', '&' and line breaks",
    ABS_PATH: "use an absolute path of letters, digits, '_', '.', '-', e.g. '/srv/data'",
    HOST: "use a host name or address such as 'smtp.qingdao.gov.cn' or '127.0.0.1'",
    EMAIL: "use an e-mail address such as 'govcloud@qingdao.gov.cn'",
    URL: "use a plain http(s) URL such as 'http://10.0.0.5:8080/app'",
    COST_CENTRE: "use letters, digits and '-', e.g. 'CC-1002'",
    KEYSTONE_NAME: "use the Keystone name: letters, digits, '_', '.', '@', '-', e.g. "
                   "'Default'",
    KEYSTONE_NAME_OR_EMPTY: "use a Keystone project name (letters, digits, '_', '.', '@', "
                            "'-') or '' for the govcloud domain",
    SOURCE: "use an absolute path such as '/srv/clamav-signatures' or an http(s) URL",
    STATE_URL: "use sqlite:///path (relative to the estate) or postgresql://user@host/database",
    CIDR: "use an IPv4 network such as 10.20.0.0/16",
}


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
            "upstream": str_of("Backend URL (proxy sites only).", URL),
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
                              str_of("An absolute path.", ABS_PATH), default=["/srv/data"],
                              maxItems=20),
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
            }, ["name"]), minItems=1),
            "website_suffixes": arr_of("Allowed domain suffixes for hosted websites.",
                                     str_of("A DNS suffix.", DNS), default=[]),
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
        "portal": obj_of("The self-service portal (govcloud serve).", {
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

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "object": (dict,), "array": (list,),
}
_TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "object": "a mapping of keys", "array": "a list"}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, int | float):
        return f"{value!r} (a number)"
    if isinstance(value, str):
        return f"{_shown(value)!r} (text)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()} (YAML reads an unquoted date as a date)"
    return f"{value!r}"


EXAMPLES = {IDENT: "finance", NAME: "web-01", DNS: "czj.qingdao.gov.cn", TEXT: "青岛市财政局",
            ABS_PATH: "/srv/data", URL: "http://10.0.0.5:8080/app", COST_CENTRE: "CC-1002"}


def yaml_literal(value: Any) -> str:
    """``value`` as it is written in a plan, so a hint can be copied as it stands."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown(value: str, width: int = 60) -> str:
    """A value as quoted back in a message: never more than ``width`` characters."""
    return value if len(value) <= width else value[:width - 3] + "..."


def _dangerous_hint(value: str, pattern: str) -> str | None:
    """Name the characters of ``value`` that ``pattern`` refuses and a config or shell
    command would interpret ('..' always: it walks out of a folder). Only for patterns with
    an example that matches, to tell a refused character from a value of the wrong shape."""
    example = EXAMPLES.get(pattern, "ab")
    regex = _compiled(pattern)
    if not regex.fullmatch(example):
        return "'..'" if ".." in value else None

    def refused(text: str) -> bool:
        return not regex.fullmatch(example[:2] + text + example[2:]) and \
            not regex.fullmatch(example + text)

    found = ["'..'"] if ".." in value else []
    found += [word for ch, word in DANGEROUS.items() if ch in value and refused(ch)]
    return ", ".join(dict.fromkeys(found)) if found else None


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
    if _validator(schema)(doc.data):  # the common case, answered without a walk
        return []
    out: list[Diagnostic] = []
    _walk(doc, doc.data, schema, (), out)
    return out


# --- whether a value is valid at all: what _walk checks, compiled once per schema -----------
# A file that fails it is walked to name every problem; one that passes needs no walk. A
# validator must never pass a value _walk would find fault with.

Validator = Callable[[Any], bool]
_VALIDATORS: dict[int, tuple[dict[str, Any], Validator]] = {}


def _validator(schema: dict[str, Any]) -> Validator:
    found = _VALIDATORS.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    expected = schema.get("type")
    types = _TYPES[expected] if expected else None
    numeric = expected in ("integer", "number")
    has_enum, enum = "enum" in schema, schema.get("enum", ())
    inner: Validator | None = None
    if expected == "object":
        inner = _object_validator(schema)
    elif expected == "array":
        inner = _array_validator(schema)
    elif expected == "string":
        inner = _string_validator(schema)
    elif numeric:
        inner = _number_validator(schema)

    def valid(value: Any) -> bool:
        if types is not None and (not isinstance(value, types)
                                  or (numeric and isinstance(value, bool))):
            return False
        if has_enum and value not in enum:
            return False
        return inner is None or inner(value)
    _VALIDATORS[id(schema)] = (schema, valid)
    return valid


def _object_validator(schema: dict[str, Any]) -> Validator:
    props: dict[str, Any] = schema.get("properties", {})
    required = list(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    subs = {key: _validator(sub) for key, sub in props.items()}
    more = _validator(extra) if isinstance(extra, dict) else None
    closed = extra is False

    def valid(value: dict[str, Any]) -> bool:
        for name in required:
            if name not in value:
                return False
        for key, item in value.items():
            sub = subs.get(key)
            if sub is not None:
                if not sub(item):
                    return False
            elif more is not None:
                if not more(item):
                    return False
            elif closed:
                return False
        return True
    return valid


def _array_validator(schema: dict[str, Any]) -> Validator:
    most = schema.get("maxItems")
    least = schema.get("minItems")
    item = _validator(schema["items"])

    def valid(value: list[Any]) -> bool:
        if most is not None and len(value) > most or least is not None and len(value) < least:
            return False
        return all(item(v) for v in value)
    return valid


def _string_validator(schema: dict[str, Any]) -> Validator:
    shortest = schema.get("minLength")
    longest = schema.get("maxLength")
    pattern = schema.get("pattern")
    regex = _compiled(pattern) if pattern else None
    dns, cron = pattern == DNS, pattern == CRON

    def valid(value: str) -> bool:
        if shortest is not None and len(value) < shortest:
            return False
        if longest is not None and len(value) > longest:
            return False
        if regex is not None and not regex.fullmatch(value):
            return False
        if dns and _bad_label(value):
            return False
        return not cron or all(CRON_FIELD.match(f) for f in value.split(" "))
    return valid


def _number_validator(schema: dict[str, Any]) -> Validator:
    low = schema.get("minimum")
    high = schema.get("maximum")

    def valid(value: float) -> bool:
        if isinstance(value, float) and not math.isfinite(value):
            return False
        return (low is None or value >= low) and (high is None or value <= high)
    return valid


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def _walk(doc: Document, value: Any, schema: dict[str, Any], path: Path_,
          out: list[Diagnostic]) -> None:
    expected = schema.get("type")
    if expected:
        types = _TYPES[expected]
        if not isinstance(value, types) or (expected in ("integer", "number")
                                            and isinstance(value, bool)):
            example = schema.get("default")
            hint = f"write {_TYPE_WORDS[expected]}"
            if example not in (None, {}, []):
                hint += f", e.g. {yaml_literal(example)}"
            if expected == "string" and isinstance(value, int | float):
                hint += " (quote it)"
            if expected == "string" and isinstance(value, datetime.date):
                month = "(0[1-9]|1[0-2])$" in schema.get("pattern", "")
                hint = (f"write the month in quotes: \"{value:%Y-%m}\"" if month
                        else f"put it in quotes: \"{value.isoformat()}\"")
            # The whole file of the wrong kind (not YAML data at all, say KEY=VALUE lines)
            # is never quoted back: it may be anything, secrets included.
            got = _kind(value) if path or not isinstance(value, str) else \
                "text (the whole file is one plain value: is it a YAML file of this kind?)"
            out.append(doc.diag(path, f"expected {_TYPE_WORDS[expected]}, got {got}", hint))
            return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(str(c) for c in schema["enum"])
        close = difflib.get_close_matches(str(value), [str(c) for c in schema["enum"]], 1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:56] + "...'"
        out.append(doc.diag(path, f"{shown} is not allowed", f"{hint}use one of: {choices}"))
        return
    if expected == "object":
        _walk_object(doc, value, schema, path, out)
    elif expected == "array":
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(doc.diag(path, f"{len(value)} items, more than the "
                                f"{schema['maxItems']} allowed", "split or shorten the list"))
        if "minItems" in schema and len(value) < schema["minItems"]:
            out.append(doc.diag(path, f"needs at least {schema['minItems']} item(s)",
                                "add one"))
        for i, item in enumerate(value):
            _walk(doc, item, schema["items"], (*path, i), out)
    elif expected == "string":
        _walk_string(doc, value, schema, path, out)
    elif expected in ("integer", "number"):
        if isinstance(value, float) and not math.isfinite(value):
            out.append(doc.diag(path, f"{value} is not a finite number",
                                "write a number such as 0.5"))
            return
        if "minimum" in schema and value < schema["minimum"]:
            out.append(doc.diag(path, f"{value} is below the minimum {schema['minimum']}",
                                f"use a value of at least {schema['minimum']}"))
        if "maximum" in schema and value > schema["maximum"]:
            out.append(doc.diag(path, f"{value} is above the maximum {schema['maximum']}",
                                f"use a value of at most {schema['maximum']}"))


def _walk_object(doc: Document, value: dict[str, Any], schema: dict[str, Any], path: Path_,
                 out: list[Diagnostic]) -> None:
    props: dict[str, Any] = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for name in schema.get("required", []):
        if name not in value:
            desc = props.get(name, {}).get("description", "")
            out.append(doc.diag(path, f"missing required key '{name}'",
                                f"add '{name}:' ({desc.rstrip('.')})" if desc else
                                f"add '{name}:'"))
    for key, item in value.items():
        sub = props.get(key)
        if sub is not None:
            _walk(doc, item, sub, (*path, key), out)
        elif isinstance(extra, dict):
            _walk(doc, item, extra, (*path, key), out)
        elif extra is False:
            close = difflib.get_close_matches(key, list(props), 1, 0.6)
            hint = f"did you mean '{close[0]}'?" if close else \
                f"allowed keys here: {', '.join(props)}"
            if _PLAIN_KEY.fullmatch(key):
                out.append(doc.diag((*path, key), f"unknown key '{key}'", hint))
            else:  # not a name anyone would give a key: a line of some other file, not shown
                out.append(Diagnostic(doc.file, doc.line((*path, key)), dotted(path),
                                      "unknown key that is not a plain name (not shown)", hint))


def _walk_string(doc: Document, value: str, schema: dict[str, Any], path: Path_,
                 out: list[Diagnostic]) -> None:
    if "minLength" in schema and len(value) < schema["minLength"]:
        out.append(doc.diag(path, "is empty", "write a value"))
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        out.append(doc.diag(path, f"is {len(value)} characters, over {schema['maxLength']}",
                            "shorten it"))
    pattern = schema.get("pattern")
    if pattern == STATE_URL and not _compiled(pattern).fullmatch(value):
        out.append(doc.diag(path, _state_url_problem(value), HINTS[STATE_URL]))
    elif pattern and not _compiled(pattern).fullmatch(value):
        bad = _dangerous_hint(value, pattern)
        shown = _shown(value)
        if bad:
            message = (f"{shown!r} contains {bad}, which could break a generated config or "
                       "shell command")
        else:
            message = f"{shown!r} is not valid here"
        out.append(doc.diag(path, message, HINTS.get(pattern, f"match {pattern}")))
    elif pattern == DNS:
        label = _bad_label(value)
        if label:
            out.append(doc.diag(path, label, "write the name's ASCII form as an IDNA tool "
                                "gives it (e.g. 'idn2 部门.qingdao.gov.cn'), or a plain name"))
    elif pattern == CRON:
        fields = value.split(" ")
        if not all(CRON_FIELD.match(f) for f in fields):
            out.append(doc.diag(path, f"{value!r} is not a cron schedule this tool accepts",
                                HINTS[CRON]))


def _state_url_problem(value: str) -> str:
    """What is wrong with a state store URL, without quoting it (it may hold a password)."""
    scheme = value.split("://", 1)[0] if "://" in value else ""
    if not scheme:
        return "is not a URL: it has no scheme such as sqlite:/// or postgresql://"
    if scheme.lower() not in STATE_SCHEMES:
        return f"the state store scheme {_shown(scheme, 20)!r} is not supported"
    if scheme.lower() == "sqlite":
        return "a sqlite URL is sqlite:/// (three slashes) followed by a path"
    return "a postgresql URL has no spaces and names at least a host"


def _bad_label(domain: str) -> str | None:
    """Why a DNS name's label is not a valid internationalised (IDNA) label, if it is not."""
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                decoded = label.encode("ascii").decode("idna")
                valid = decoded.encode("idna").decode("ascii") == label
            except UnicodeError:
                valid = False
            if not valid:
                return f"label {_shown(label, 30)!r} is not valid punycode (IDNA)"
        elif label[2:4] == "--":
            return (f"label {_shown(label, 30)!r} has '--' in third and fourth place, which "
                    "is kept for internationalised (xn--) names")
    return None


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = re.compile(pattern)
    return _PATTERNS[pattern]


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
