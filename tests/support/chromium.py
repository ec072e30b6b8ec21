"""Headless Chromium for the tests: open a page over the DevTools protocol, evaluate an
expression in it, take a screenshot, collect console errors; and a PNG decoder to look at the
screenshot's pixels."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import time
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.components import free_port, need, wait_for


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my = self.next_id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, name: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events:
                if e.get("method") == name:
                    return e
            self.events.append(json.loads(self.ws.recv()))
        raise AssertionError(f"no {name} event")

    def errors(self) -> list[str]:
        """Exceptions, console errors and log errors the page produced so far."""
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append(json.dumps(p)[:300])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(json.dumps(p)[:300])
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out

    def close(self) -> None:
        self.ws.close()


@dataclass(frozen=True)
class Rendered:
    value: Any  # what the expression evaluated to
    screenshot: bytes  # PNG
    errors: list[str]


def render(page: Path, expression: str, tmp: Path) -> Rendered:
    """Open ``page`` in a fresh headless Chromium (1280×2000), wait for its load event,
    evaluate ``expression`` and take a screenshot. The running test must be marked
    ``real`` and ``chromium``."""
    binary = need("chromium", "chromium-browser", component="chromium")
    port = free_port()
    profile = tmp / "chromium-profile"
    log_path = tmp / "chromium.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         "--window-size=1280,2000", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def pages() -> list[dict[str, Any]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                    timeout=2) as r:  # noqa: S310 - loopback
            return [t for t in json.loads(r.read()) if t["type"] == "page"]

    try:
        targets = wait_for("chromium's DevTools endpoint", pages, 60, proc, log_path,
                           every=0.3)
        cdp = DevTools(targets[0]["webSocketDebuggerUrl"])
        try:
            cdp.call("Runtime.enable")
            cdp.call("Log.enable")
            cdp.call("Page.enable")
            cdp.call("Page.navigate", url=page.as_uri())
            cdp.wait_event("Page.loadEventFired")
            value = cdp.call("Runtime.evaluate", returnByValue=True,
                             expression=expression)["result"]["value"]
            shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
            return Rendered(value, shot, cdp.errors())
        finally:
            cdp.close()
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows of an 8-bit RGB(A) PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows
