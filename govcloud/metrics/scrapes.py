"""The exporter's HTTP side: serves pre-built metric pages to scrapers, bounded.

One event-loop thread serves every connection: a scrape costs a write of bytes already made
(:class:`govcloud.metrics.exporter.Snapshot`), so there is no thread per client and nothing
to build per scrape. Bounds: at most ``MAX_CONNECTIONS`` open at once (at the cap, a new
client takes the place of the one that has been sending its request the longest, so a flood of
half-open connections cannot lock scrapers out), a request head of at most ``MAX_HEAD`` bytes
read within ``READ_SECONDS``, the whole exchange within ``EXCHANGE_SECONDS``, and the reply
written in chunks so a slow reader never holds more than a chunk of it in a buffer. A
half-open or slow client is dropped when its time is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Any, Protocol

from govcloud.errors import GovcloudError

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 256
MAX_HEAD = 8192
READ_SECONDS = 5.0
EXCHANGE_SECONDS = 15.0
CHUNK = 64 * 1024
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"


class Servable(Protocol):
    @property
    def body(self) -> bytes: ...

    @property
    def gzipped(self) -> bytes: ...


class ScrapeServer:
    """Answers GET /metrics (and /) with the current page; everything else with 404/405."""

    def __init__(self, page: Callable[[], Servable], max_connections: int = MAX_CONNECTIONS,
                 read_seconds: float = READ_SECONDS,
                 exchange_seconds: float = EXCHANGE_SECONDS) -> None:
        self.page = page
        self.max_connections = max_connections
        self.read_seconds = read_seconds
        self.exchange_seconds = exchange_seconds
        self.open = 0
        self.served = 0
        self.dropped = 0
        # Connections still sending their request, oldest first.
        self.reading: dict[asyncio.StreamWriter, None] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.open >= self.max_connections:
            if not self.reading:  # every slot is answering: no room
                self.dropped += 1
                writer.transport.abort()
                return
            oldest = next(iter(self.reading))
            del self.reading[oldest]
            oldest.transport.abort()  # its handler ends with a ConnectionError
        self.open += 1
        done = False
        try:
            async with asyncio.timeout(self.exchange_seconds):
                await self._exchange(reader, writer)
            done = True
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ConnectionError, ValueError):
            self.dropped += 1
        finally:
            self.open -= 1
            self.reading.pop(writer, None)
            if done:
                writer.close()
            else:  # drop at once, with whatever was still buffered for it
                writer.transport.abort()

    async def _exchange(self, reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> None:
        self.reading[writer] = None
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.read_seconds)
        self.reading.pop(writer, None)
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            await self._reply(writer, b"400 Bad Request", b"bad request\n")
            return
        method, target = parts[0], parts[1].split("?", 1)[0]
        if method not in ("GET", "HEAD"):
            await self._reply(writer, b"405 Method Not Allowed", b"GET /metrics\n")
            return
        if target not in ("/metrics", "/"):
            await self._reply(writer, b"404 Not Found", b"the metrics are at /metrics\n")
            return
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        page = self.page()
        zipped = "gzip" in headers.get("accept-encoding", "")
        body = page.gzipped if zipped else page.body
        extra = b"Content-Encoding: gzip\r\n" if zipped else b""
        await self._reply(writer, b"200 OK", body, CONTENT_TYPE, extra, method == "HEAD")
        self.served += 1

    async def _reply(self, writer: asyncio.StreamWriter, status: bytes, body: bytes,
                     content_type: bytes = b"text/plain; charset=utf-8", extra: bytes = b"",
                     head_only: bool = False) -> None:
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type +
                     b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra +
                     b"Connection: close\r\n\r\n")
        if not head_only:
            view = memoryview(body)
            for start in range(0, len(view), CHUNK):
                writer.write(view[start:start + CHUNK])
                await writer.drain()
        await writer.drain()


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, made before anything else is started: a port already in use is
    refused at once, with nothing started that would have to be stopped."""
    try:
        return socket.create_server((host, port), backlog=1024,
                                    family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as exc:
        raise GovcloudError(f"cannot listen on {host}:{port}: {exc.strerror}",
                            "choose a free port with --port") from exc


async def _serve(server: ScrapeServer, sock: socket.socket,
                 ready: Callable[[Any], None] | None = None) -> None:
    listener = await asyncio.start_server(server.handle, sock=sock, limit=MAX_HEAD)
    if ready is not None:
        ready(listener)
    async with listener:
        await listener.serve_forever()


def serve_pages(page: Callable[[], Servable], sock: socket.socket,
                ready: Callable[[Any], None] | None = None) -> None:
    """Serve ``page()`` on the listening socket ``sock`` (:func:`listen`) until interrupted."""
    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(_serve(ScrapeServer(page), sock, ready))
