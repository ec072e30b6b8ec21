"""The text patterns every schema is written with (identifiers, names, DNS names, cron
schedules, paths, URLs…), the hint a value that misses one is given, and what a pattern means
beyond its regex: a DNS name's labels, a cron schedule's fields, '..' in a name or path,
the characters a generated config or shell command would interpret. :func:`fits` is the one
rule validate (``core.validity``, ``core.diagnosis``) and the services' inventory both apply.
"""

from __future__ import annotations

import re
from typing import Any

from govcloud.core import cron
from govcloud.errors import GovcloudError

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
# The characters of a schedule; its fields' ranges are core.cron's (see fault).
CRON = r"^([0-9A-Za-z*,/-]+ ){4}[0-9A-Za-z*,/-]+$"
# Free text shown to people (Chinese names included): no control characters, quotes or
# characters a template or shell would interpret. Every pattern is written so that Python's
# re and JSON Schema's dialect (ECMA-262, unicode mode: no identity escapes such as \" or \`)
# read it alike.
# Nor C1 controls (U+0085 ends a line for some readers), line and paragraph separators
# (U+2028, U+2029), bidirectional overrides (U+202A-U+202E, U+2066-U+2069, U+200E/F,
# U+061C) or invisible characters (U+00AD, U+200B-U+200D, U+2060-U+2064, U+FEFF), which make
# a text read differently from what it holds.
TEXT = (r"^[^\x00-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
        r""";{}"'`$\\<>|&]*$""")
ABS_PATH = r"^(/(?!\.\.?(/|$))[A-Za-z0-9_.-]+)+$"
# A path a backup reads on a department's servers: an absolute path (the same regex, spelt
# with a non-capturing group so that it is a pattern of its own) outside the kernel's and the
# system's live folders (SYSTEM_FOLDERS: /proc, /sys, /dev, /run), whose "files" are
# processes, devices and sockets — reading /dev/sda or /proc/kcore is no backup.
BACKUP_PATH = r"^(?:/(?!\.\.?(/|$))[A-Za-z0-9_.-]+)+$"
SYSTEM_FOLDERS = ("/proc", "/sys", "/dev", "/run")
PATH_MAX, NAME_MAX = 4096, 255  # Linux's limits on a path and on one name in it
HOST = r"^[A-Za-z0-9.-]{0,253}$"
EMAIL = r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$"
URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]*)*$"
COST_CENTRE = r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$"
SOURCE = (r"^((/(?!\.\.?(/|$))[A-Za-z0-9_.-]+)+"
          r"|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%-]*)*)$")
STATE_URL = r"^(sqlite:///|postgresql://|postgres://)[^\x00-\x20\x7f]+$"
STATE_SCHEMES = ("sqlite", "postgresql", "postgres")
CIDR = r"^[0-9]{1,3}(\.[0-9]{1,3}){3}/[0-9]{1,2}$"
TIME_ZONE = r"^[A-Za-z][A-Za-z0-9_+-]{0,30}(/[A-Za-z0-9_+-]{1,30}){0,2}$"  # an IANA zone
KEYSTONE_NAME = r"^[A-Za-z0-9_.@-]{1,64}$"  # a Keystone domain, project or role name
KEYSTONE_NAME_OR_EMPTY = r"^[A-Za-z0-9_.@-]{0,64}$"

HINTS = {
    IDENT: "use 2-40 lowercase letters, digits and '-', starting with a letter, e.g. 'finance'",
    NAME: "use lowercase letters, digits, '.' and '-', e.g. 'web-01'",
    DNS: "use a lowercase DNS name such as 'czj.qingdao.gov.cn'",
    CRON: cron.HINT,
    TEXT: "remove quotes, ';', '{', '}', '$', '\\', '<', '>', '|', '&' and line breaks",
    ABS_PATH: "use an absolute path of letters, digits, '_', '.', '-', e.g. '/srv/data'",
    BACKUP_PATH: "use an absolute path of letters, digits, '_', '.', '-' outside /proc, /sys, "
                 "/dev and /run, e.g. '/srv/data'",
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
    TIME_ZONE: "use an IANA time zone name such as 'Asia/Shanghai' or 'UTC'",
}

# A value each pattern accepts: a character is refused by a pattern when the example with
# it inserted is (see dangerous_hint).
EXAMPLES = {IDENT: "finance", NAME: "web-01", DNS: "czj.qingdao.gov.cn", TEXT: "青岛市财政局",
            ABS_PATH: "/srv/data", BACKUP_PATH: "/srv/data", URL: "http://10.0.0.5:8080/app",
            COST_CENTRE: "CC-1002"}


_PATTERNS: dict[str, re.Pattern[str]] = {}


def compiled(pattern: str) -> re.Pattern[str]:
    """The pattern's regex, compiled once."""
    if pattern not in _PATTERNS:
        _PATTERNS[pattern] = re.compile(pattern)
    return _PATTERNS[pattern]


def shown(value: str, width: int = 60) -> str:
    """A value as quoted back in a message: never more than ``width`` characters."""
    return value if len(value) <= width else value[:width - 3] + "..."


def dangerous_hint(value: str, pattern: str) -> str | None:
    """Name the characters of ``value`` that ``pattern`` refuses and a config or shell
    command would interpret ('..' always: it walks out of a folder). Only for patterns with
    an example that matches, to tell a refused character from a value of the wrong shape."""
    example = EXAMPLES.get(pattern, "ab")
    regex = compiled(pattern)
    if not regex.fullmatch(example):
        return "'..'" if ".." in value else None

    def refused(text: str) -> bool:
        return not regex.fullmatch(example[:2] + text + example[2:]) and \
            not regex.fullmatch(example + text)

    found = ["'..'"] if ".." in value else []
    found += [word for ch, word in DANGEROUS.items() if ch in value and refused(ch)]
    return ", ".join(dict.fromkeys(found)) if found else None


def bad_label(domain: str) -> str | None:
    """Why a DNS name's label is not a valid internationalised (IDNA) label, if it is not."""
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                decoded = label.encode("ascii").decode("idna")
                valid = decoded.encode("idna").decode("ascii") == label
            except UnicodeError:
                valid = False
            if not valid:
                return f"label {shown(label, 30)!r} is not valid punycode (IDNA)"
        elif label[2:4] == "--":
            return (f"label {shown(label, 30)!r} has '--' in third and fourth place, which "
                    "is kept for internationalised (xn--) names")
    return None


# Patterns of values that name a thing or a place (a host, a file, a folder, a URL): '..' in
# one would walk out of a folder once it is joined into a path. Free text (TEXT) is shown to
# people, always escaped, and never joined into a path.
NAMING = frozenset({IDENT, NAME, DNS, ABS_PATH, BACKUP_PATH, URL, SOURCE})
_PORT = re.compile(r"https?://[A-Za-z0-9.-]+:([0-9]+)")


def fault(pattern: str, value: str) -> str | None:
    """Why ``value``, which matches ``pattern``'s regex, is still unfit: a DNS name's bad
    label, a cron field out of range (``core.cron``), '..' in a name or path, a path over
    Linux's limits, a URL's port outside 1-65535 (nginx -t would refuse every site's
    configuration); None when fit."""
    if pattern in NAMING and ".." in value:
        return f"{shown(value)!r} contains '..', which would walk out of a folder"
    if pattern in (ABS_PATH, BACKUP_PATH) and len(value) > PATH_MAX:
        return f"the path is {len(value)} characters, over Linux's {PATH_MAX} (PATH_MAX)"
    if pattern in (ABS_PATH, BACKUP_PATH) and max(map(len, value.split("/"))) > NAME_MAX:
        return f"a name in {shown(value)!r} is over {NAME_MAX} characters (NAME_MAX)"
    if pattern == BACKUP_PATH and (system := next(
            (f for f in SYSTEM_FOLDERS if value == f or value.startswith(f + "/")), None)):
        return f"{shown(value)!r} is in {system}, the system's live folder (processes, " \
            "devices, sockets), not data to back up"
    if pattern in (URL, SOURCE) and (port := _PORT.match(value)) and \
            not 1 <= int(port[1]) <= 65535:
        return f"port {port[1]} of {shown(value)!r} is outside 1-65535"
    if pattern == DNS:
        return bad_label(value)
    if pattern == CRON:
        return cron.problem(value)
    return None


def fits(pattern: str, value: Any) -> bool:
    """Whether ``value`` is text that ``pattern`` accepts, regex and meaning (:func:`fault`)
    both: the one test validate and the inventory apply."""
    return (isinstance(value, str) and compiled(pattern).fullmatch(value) is not None
            and fault(pattern, value) is None)


# What a line of text a person reads (a reason, a label) may not hold: controls (C0, C1:
# a newline or ESC forges a row or a colour in a terminal), line and paragraph separators,
# bidirectional overrides and isolates, lone surrogates.
UNREADABLE = re.compile("[\x00-\x1f\x7f-\x9f\xad\u061c\u200b-\u200f\u2028-\u202e"
                        "\u2060-\u2069\ufeff\ud800-\udfff]")
MAX_LINE = 500  # characters: a reason is a sentence, not a document


def line_problem(text: str) -> str:
    """Why ``text`` cannot be one line of plain text (a reason, a label), or ""."""
    found = UNREADABLE.search(text)
    if found is None:
        return ""
    return f"holds U+{ord(found.group()):04X} at character {found.start() + 1} (a line " \
        "break, a control character, a direction override or an invisible character)"


def visible(text: str) -> str:
    """``text`` with every character ``line_problem`` refuses shown as an escape (\\u202e),
    so a value recorded before it was refused prints as what it is."""
    return UNREADABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def check_line(text: str, what: str = "the reason") -> None:
    """Refuse (GovcloudError, with the fix) ``text`` that is not one line of plain text, or
    is longer than MAX_LINE characters."""
    if len(text) > MAX_LINE:
        raise GovcloudError(f"{what} is {len(text):,} characters long",
                            f"keep it to {MAX_LINE} characters: one sentence")
    problem = line_problem(text)
    if problem:
        raise GovcloudError(f"{what} {problem}", "write it as one line of plain text, "
                            "without line breaks or direction marks")


def covered(paths: list[str]) -> dict[int, str]:
    """The paths of ``paths`` (by index) that lie inside another of them, or repeat an
    earlier one, each with the path that already holds it. Backing up the outer path takes
    the inner one's files too; a pull of the inner one after the outer's could follow a link
    the server put there out of the department's folder on the backup host. Validate refuses
    such a path and the inventory drops it: the one rule for both."""
    out = {}
    for i, inner in enumerate(paths):
        for j, outer in enumerate(paths):
            if i != j and (inner.startswith(outer + "/") or (inner == outer and j < i)):
                out[i] = outer
                break
    return out
