"""The HTML report in real headless Chromium (no console error, charts drawn, screenshot not
blank, Chinese names present), and the XLSX workbook against the JSON reports."""

from __future__ import annotations

import base64
import json
import shutil
import struct
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, govcloud
from tests.reports.conftest import need


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

    def close(self) -> None:
        self.ws.close()


def open_in_chromium(page: Path, tmp: Path) -> tuple[dict[str, Any], bytes, list[str]]:
    binary = need("chromium", "chromium-browser")
    port = free_port()
    profile = tmp / "chromium-profile"
    log = (tmp / "chromium.log").open("w")
    proc = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
         "--window-size=1280,2000", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        targets: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not targets:
            if proc.poll() is not None:
                pytest.fail(f"chromium exited {proc.returncode}: "
                            f"{(tmp / 'chromium.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                            timeout=2) as r:  # noqa: S310 - loopback
                    targets = [t for t in json.loads(r.read()) if t["type"] == "page"]
            except OSError:
                time.sleep(0.3)
        if not targets:
            pytest.fail("chromium's DevTools endpoint never came up")
        cdp = DevTools(targets[0]["webSocketDebuggerUrl"])
        try:
            cdp.call("Runtime.enable")
            cdp.call("Log.enable")
            cdp.call("Page.enable")
            cdp.call("Page.navigate", url=page.as_uri())
            cdp.wait_event("Page.loadEventFired")
            found = cdp.call("Runtime.evaluate", returnByValue=True, expression="""({
                charts: document.querySelectorAll('svg.chart').length,
                bars: document.querySelectorAll('svg.chart rect.bar').length,
                nonzero: [...document.querySelectorAll('svg.chart rect.bar')]
                          .filter(r => r.getBBox().width > 0).length,
                lines: document.querySelectorAll('svg.chart polyline.series').length,
                ids: [...document.querySelectorAll('svg.chart')].map(s => s.id),
                text: document.body.innerText,
                charset: document.characterSet,
                tables: document.querySelectorAll('table').length })""")["result"]["value"]
            shot = base64.b64decode(cdp.call("Page.captureScreenshot", format="png")["data"])
            errors = []
            for e in cdp.events:
                m, p = e.get("method"), e.get("params", {})
                if m == "Runtime.exceptionThrown":
                    errors.append(json.dumps(p)[:300])
                elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                    errors.append(json.dumps(p)[:300])
                elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                    errors.append(p["entry"].get("text", ""))
        finally:
            cdp.close()
        return found, shot, errors
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_html_report_renders_in_chromium(example: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    govcloud("report", "html", "--period", "2026-10", "--out", str(page), estate=example,
             check=True)
    text = page.read_text(encoding="utf-8")
    bare = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "http://" not in bare and "https://" not in bare  # self-contained: nothing to fetch
    assert "<script" not in text and "<link" not in text
    found, shot, errors = open_in_chromium(page, tmp_path)
    assert errors == []
    assert found["charset"] == "UTF-8"
    assert set(found["ids"]) >= {"chart-cost", "chart-savings", "chart-utilization",
                                 "chart-hosts"}
    assert found["bars"] > 40 and found["nonzero"] > 40
    assert found["lines"] == 4
    assert "青岛市财政局" in found["text"] and "青岛市公安局" in found["text"]
    (tmp_path / "report.png").write_bytes(shot)
    width, height, rows = png_pixels(shot)
    assert width >= 1000 and height >= 1000
    background = rows[0][:3]
    sample = [row for row in rows[::8]]
    inked = sum(1 for row in sample for x in range(0, len(row) - 4, 4 * 8)
                if row[x:x + 3] != background)
    total = sum(len(range(0, len(row) - 4, 4 * 8)) for row in sample)
    assert inked / total > 0.02, f"screenshot looks blank ({inked}/{total} pixels inked)"
    coloured = sum(1 for row in sample for x in range(0, len(row) - 4, 4 * 8)
                   if abs(row[x] - row[x + 2]) > 60)  # bars are blue, red, green
    assert coloured > 50


def _sheet_totals(ws: Any) -> dict[str, list[Any]]:
    """Rows by their first cell, columns by code name (the sheet's titles are in words)."""
    from govcloud.reports.tables import TITLES

    code = {t: c for c, t in TITLES.items()}
    rows = list(ws.iter_rows(values_only=True))
    header = [code.get(h, h) for h in rows[0]]
    return {str(r[0]): dict(zip(header, r, strict=True)) for r in rows[1:]}


def test_xlsx_totals_equal_the_json_reports(example: Path, tmp_path: Path) -> None:
    import openpyxl

    book = tmp_path / "finance.xlsx"
    govcloud("report", "chargeback", "--period", "2026-10", "-o", "xlsx", "--out", str(book),
             estate=example, check=True)
    wb = openpyxl.load_workbook(book)
    assert {"Utilization", "Chargeback", "Savings", "Assumptions"} <= set(wb.sheetnames)
    cb = json.loads(govcloud("report", "chargeback", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    sv = json.loads(govcloud("report", "savings", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    ut = json.loads(govcloud("report", "utilization", "--period", "2026-10", "-o", "json",
                             estate=example, check=True).stdout)
    c = _sheet_totals(wb["Chargeback"])
    assert f"{c['(total)']['total']:.2f}" == cb["platform_cost"]
    assert f"{c['(idle)']['total']:.2f}" == cb["idle"]
    for d in cb["departments"]:
        assert f"{c[d['department']]['total']:.2f}" == d["total"]
    assert f"{sum(c[d['department']]['total'] for d in cb['departments']):.2f}" == cb["charged"]
    s = _sheet_totals(wb["Savings"])
    assert f"{s['(total)']['saving']:.2f}" == sv["saving"]
    assert f"{s['(total)']['legacy_cost']:.2f}" == sv["legacy_total"]
    u = _sheet_totals(wb["Utilization"])
    assert sum(u[d["department"]]["vcpu"] for d in ut["departments"]) == \
        sum(d["allocated"]["vcpu"] for d in ut["departments"])
    assert u["finance"]["name"] == "青岛市财政局"
    # issue #12 case 8: percentages are numbers with a percent format, every sheet filters
    ws = wb["Utilization"]
    col = [c.value for c in ws[1]].index("vCPU使用率 vCPU utilization") + 1
    cell = ws.cell(row=2, column=col)
    assert isinstance(cell.value, float) and 0 < cell.value < 1 and cell.number_format == "0.0%"
    assert all(wb[n].auto_filter.ref for n in ("Utilization", "Chargeback", "Savings"))
    assert "部门 Department" in [c.value for c in wb["Chargeback"][1]]
    assert "list_value" not in [c.value for c in wb["Chargeback"][1]]
