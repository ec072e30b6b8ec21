"""Where an internal error's traceback goes: a file only its owner can read.

``GOVCLOUD_LOG_DIR`` when set, else the estate's ``.state/`` folder, else a new private
temporary folder; never a world-readable file in /tmp.
"""

from __future__ import annotations

import datetime
import os
import tempfile
import traceback
from pathlib import Path

from govcloud.state.store import STATE_FOLDER


def _folder(estate: Path | None) -> Path:
    configured = os.environ.get("GOVCLOUD_LOG_DIR")
    if configured:
        return Path(configured)
    if estate is not None and (estate / "govcloud.yaml").is_file():
        return estate / STATE_FOLDER
    return Path(tempfile.mkdtemp(prefix="govcloud-crash-"))  # 0700, ours alone


def write(exc: BaseException, estate: Path | None) -> Path | None:
    """Write the traceback of ``exc``; the file's path, or None when it could not be written."""
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    try:
        folder = _folder(estate)
        if not folder.is_dir():
            folder.mkdir(mode=0o700, parents=True)
        path = folder / f"govcloud-crash-{stamp}-{os.getpid()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return path
