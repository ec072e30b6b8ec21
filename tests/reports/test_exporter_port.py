"""The exporter takes its port before anything else: on a port already in use it says so
and starts nothing (no rendering child, no usage collection, no "Serving" line), found
trying #24 as an operator (a rendering child's traceback followed the error)."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.support.cli import govcloud
from tests.support.estate import copy_estate


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path) -> None:
    estate = copy_estate(tmp_path / "estate")
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = govcloud("exporter", "--host", "127.0.0.1", "--port", str(port), estate=estate,
                        timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    said = proc.stdout + proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in said
    assert "choose a free port with --port" in said
    assert "Serving metrics" not in said
    assert "Traceback" not in said and "EOFError" not in said
