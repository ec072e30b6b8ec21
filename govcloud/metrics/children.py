"""Work the exporter hands to a child process: a function run there, the bytes it returns sent
back through a pipe, and how the child ended.

The exporter's rendering of its page (a full read of the state and the cloud: at 10,000
departments a hundred seconds of CPU and hundreds of MB) and the hourly usage collection run
in a child each, so their CPU is not taken under the serving process's GIL and their memory
is returned to the system when the child ends: the server keeps only the pages it serves.
Children are spawned (a fresh interpreter, never forked from the threaded server), so a child
opens its own state-store and cloud connections and shares none with the server. A child
that dies (killed, out of memory, a bug) is an :class:`Outcome` with a ``failure``, never an
exception in the server; a child whose parent died stops at once.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

SPAWN = multiprocessing.get_context("spawn")
# A child's niceness above the server's: at 10,000 departments a rendering is a minute of
# CPU, and on two cores the scrapes that came while it ran waited for it (p95 over 1 s).
NICE = 10

# The children that read the whole state (a rendering, a usage collection) run one at a
# time: at 10,000 departments each holds most of a GB at its peak, and together they took
# the exporter's processes to 1.8 GB. One waits for the other at most HEAVY_WAIT seconds,
# then runs beside it (the page would otherwise go stale behind a collection that hangs).
HEAVY_WAIT = 600.0
_HEAVY = threading.Lock()
log = logging.getLogger(__name__)


@contextlib.contextmanager
def one_at_a_time() -> Iterator[None]:
    """Run the block when no other such block runs (or after waiting ``HEAVY_WAIT``)."""
    got = _HEAVY.acquire(timeout=HEAVY_WAIT)
    if not got:
        log.warning("a child that reads the whole state has run over %.0f s; starting the "
                    "next one beside it", HEAVY_WAIT)
    try:
        yield
    finally:
        if got:
            _HEAVY.release()


@dataclass(frozen=True)
class Outcome:
    """What a child returned (``parts``), or why it returned nothing (``failure``); its wall
    seconds and its peak resident memory (bytes; 0 when it did not say)."""

    parts: list[bytes]
    failure: str | None
    seconds: float
    peak_rss: int
    detail: str = ""  # the child's traceback, when it raised


def run(what: str, target: Callable[..., list[bytes]], *args: Any) -> Outcome:
    """``target(*args)`` in a spawned child; waits for it (call it from a thread of its
    own, never the event loop). ``what`` names the child in its failure ("the rendering")."""
    started = time.monotonic()
    receive, send = SPAWN.Pipe(duplex=False)
    # not a daemon: the child may start processes of its own (the estate's check does)
    child = SPAWN.Process(target=_child, args=(send, os.getpid(), target, args),
                          name=f"govcloud {what}", daemon=False)
    child.start()
    send.close()  # the child holds the writing end: its death is an EOF here
    parts: list[bytes] = []
    failure: str | None = None
    peak = 0
    detail = ""
    try:
        head = receive.recv()
        if head[0] == "ok":
            peak = int(head[2])
            parts = [receive.recv_bytes() for _ in range(int(head[1]))]
        else:
            failure, detail = f"{what} failed: {head[1]}", str(head[2])
    except (EOFError, OSError):
        failure = None  # said below, from how the child ended
    finally:
        receive.close()
        child.join()
    if failure is None and len(parts) == 0:
        failure = f"{what} ended without a result: {_ending(child.exitcode)}"
    return Outcome(parts, failure, time.monotonic() - started, peak, detail)


def _ending(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def _child(send: Connection, parent: int, target: Callable[..., list[bytes]],
           args: tuple[Any, ...]) -> None:
    os.nice(NICE)  # background work: the server answering scrapes comes first for the CPU
    threading.Thread(target=_orphaned, args=(parent,), name="parent-watch",
                     daemon=True).start()
    try:
        parts = target(*args)
    except BaseException as exc:  # noqa: BLE001 - said to the parent, which reports it
        send.send(("failed", f"{exc!r}"[:300], traceback.format_exc()[-3000:]))
        send.close()
        return
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    send.send(("ok", len(parts), peak))
    for part in parts:
        send.send_bytes(part)
    send.close()


def _orphaned(parent: int) -> None:
    """End the child when its parent is gone (the server stopped or was killed): nobody
    waits for its result, and its CPU and memory are the host's."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
