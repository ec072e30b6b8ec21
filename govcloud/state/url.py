"""State store URLs: ``sqlite:///path`` or ``postgresql://…``, parsed when the estate is
validated (so a malformed one is a diagnostic on its line, not a crash in plan) and again when
a store is opened (``GOVCLOUD_STATE_URL`` is not part of the estate's files)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from govcloud.errors import StateError


@dataclass(frozen=True)
class Location:
    """Where a state store lives, parsed from its URL."""

    kind: str  # sqlite | postgresql
    url: str
    path: Path | None = None  # SQLite only, absolute

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else redact(self.url)


def url_problem(url: str) -> tuple[str, str] | None:
    """What is wrong with a state store URL (and how to write it), or None when it is usable.
    Checked at validate time and again when the store is opened."""
    if url.startswith("sqlite:"):
        raw = url.removeprefix("sqlite:///")
        if raw == url or not raw.strip() or raw.endswith("/") or "\x00" in raw:
            return ("a SQLite state URL names a file: sqlite:///relative/path.db or "
                    "sqlite:////absolute/path.db", "for example sqlite:///.state/govcloud.db")
        return None
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme not in ("postgresql", "postgres"):
        return (f"unsupported state store URL scheme '{scheme or url[:20]}'",
                "use sqlite:///path/to/govcloud.db or postgresql://user@host/database")
    fix = ("write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE (an IPv6 host in "
           "brackets, [::1]; special characters in the password %-encoded)")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parses the port, raising on a bad one
    except ValueError as exc:
        return f"malformed PostgreSQL URL: {exc}", fix
    if parts.fragment:
        return "malformed PostgreSQL URL: it has a '#' fragment", fix
    try:  # imported here: psycopg is the postgres extra, needed only for such a URL
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return None
    try:
        conninfo_to_dict(url)
    except Exception as exc:  # noqa: BLE001 - libpq's parser raises ProgrammingError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        reason = re.split(r' in URI|: "', reason)[0]
        return f"malformed PostgreSQL URL: {reason}", fix
    return None


def locate(url: str, root: Path | None = None) -> Location:
    """The store a URL names; StateError when the URL cannot be used."""
    problem = url_problem(url)
    if problem:
        what, fix = problem
        raise StateError(f"the state store URL {redact(url)} cannot be used: {what}",
                         f"{fix}; set state.url in govcloud.yaml (or GOVCLOUD_STATE_URL)")
    if url.startswith("sqlite:"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_absolute():
            path = (root or Path.cwd()) / path
        return Location("sqlite", url, path)
    return Location("postgresql", url)


def redact(url: str) -> str:
    """A URL safe to print: the password replaced (even in a URL that does not parse)."""
    return re.sub(r"(://[^/@:]*:)[^/?#]*@", r"\1***@", url)
