"""Reading and writing the estate's files: the only place that opens them.

Everything govcloud reads from an estate (settings, plans, policies, prices, inventories)
comes through :func:`read_document`, which applies one size limit and one encoding rule and
turns every failure into a diagnostic. Parsing itself is pure (``govcloud.core.documents``).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from pathlib import Path

from govcloud.core.documents import MAX_FILE_BYTES, Document, parse
from govcloud.errors import Diagnostic, GovcloudError


def read_document(path: Path, display: str | None = None
                  ) -> tuple[Document | None, list[Diagnostic]]:
    """Read one YAML file; on failure return no document and the reasons why."""
    name = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Diagnostic(name, 0, "", f"cannot read the file: {exc.strerror}",
                                 "check the path and its permissions")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [Diagnostic(name, 1, "", f"file is {len(raw):,} bytes, over the "
                                 f"{MAX_FILE_BYTES:,}-byte limit",
                                 "split it or remove what does not belong in a tenancy plan")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Diagnostic(name, raw[: exc.start].count(b"\n") + 1, "",
                                 "file is not valid UTF-8", "save it as UTF-8")]
    return parse(text, name)



def write_bytes(path: Path, data: bytes) -> None:
    """Write a report or release file, creating its folder; a failure is a GovcloudError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as exc:
        raise GovcloudError(f"cannot write {path}: {exc.strerror}",
                            "choose a writable path with --out") from exc


@contextlib.contextmanager
def quiet_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building large acyclic data (plans parsed
    into plain dicts and frozen dataclasses): its passes over millions of new objects find
    nothing to free and cost a quarter of the time."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
