"""Policy rules evaluated under a time and memory budget, in a child process that can be
stopped.

CEL runs in native code that holds the interpreter: a runaway expression can neither be
timed out from a thread nor interrupted with Ctrl-C. So when an estate has unbounded rules
(see ``govcloud.core.expressions``), its plans are checked in forked worker processes. Before
and after each unbounded evaluation a worker writes which rule it is in to memory shared with
this process, which watches the clock and the worker's memory: a rule that runs past
``RULE_SECONDS`` or grows the worker by ``RULE_MEMORY_MB`` is stopped (the worker is killed),
reported once with the rule's name and the plan it was evaluating, and left out of the rest
of the run; a new worker carries on from that plan. Ctrl-C reaches this process, which kills
the workers on its way out.

``GOVCLOUD_RULE_SECONDS`` and ``GOVCLOUD_RULE_MEMORY_MB`` change the budget.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

from govcloud.core.policy import Rule, Watch
from govcloud.errors import Diagnostic, GovcloudError

RULE_SECONDS = float(os.environ.get("GOVCLOUD_RULE_SECONDS") or 2.0)
RULE_MEMORY_MB = int(os.environ.get("GOVCLOUD_RULE_MEMORY_MB") or 512)
POLL_SECONDS = 0.02
_SEQ, _ACTIVE, _RULE, _ITEM = range(4)

Job = Callable[[int, Watch], Any]  # checks item i (a plan file), reporting to the watch


@dataclass(frozen=True)
class Overrun:
    """A rule stopped for running past its budget."""

    rule: Rule
    item: int
    what: str

    def diagnostic(self, file: str) -> Diagnostic:
        return Diagnostic(self.rule.file, self.rule.line, f"rule {self.rule.id}",
                          f"stopped on {file}: it {self.what}; not evaluated on the plans "
                          "after that one",
                          "simplify the expression: fewer nested comprehensions "
                          "(all/exists/map/filter) or shorter lists", "error", self.rule.id)


class _Worker:
    """One forked process checking items ``start`` … ``stop - 1`` in order."""

    def __init__(self, job: Job, rules: list[Rule], start: int, stop: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.shared = ctx.RawArray("q", 4)
        self.shared[_ITEM] = start
        self.start, self.stop = start, stop
        self.seen = (-1, 0.0)
        self.done = False
        receive, send = ctx.Pipe(duplex=False)
        self.conn: Connection = receive
        index = {r.id: i for i, r in enumerate(rules)}
        self.process = ctx.Process(target=_child, args=(job, index, self.shared, send, start,
                                                         stop), daemon=True)
        self.process.start()
        send.close()
        self.pid: int = self.process.pid or 0
        self.base_rss = _rss(self.pid)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        self.process.join()
        self.conn.close()

    def overrun(self) -> str | None:
        """What budget the rule being evaluated has run past, if any."""
        seq, active = self.shared[_SEQ], self.shared[_ACTIVE]
        if not active:
            return None
        used = _cpu_seconds(self.pid)
        if seq != self.seen[0]:
            self.seen = (seq, used)
        if used - self.seen[1] > RULE_SECONDS:
            return f"ran for more than {RULE_SECONDS:g} s"
        grown = _rss(self.pid) - self.base_rss
        if grown > RULE_MEMORY_MB << 20:
            return f"took more than {RULE_MEMORY_MB} MB of memory"
        return None


def _child(job: Job, index: dict[str, int], shared: Any, conn: Connection, start: int,
           stop: int) -> None:
    with contextlib.suppress(ValueError):  # forked from a thread other than the main one
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the run on Ctrl-C
    _limit_memory()

    def watch(rule: Rule | None) -> None:
        if rule is None:
            shared[_ACTIVE] = 0
        else:
            shared[_RULE] = index[rule.id]
            shared[_SEQ] += 1
            shared[_ACTIVE] = 1

    try:
        for i in range(start, stop):
            shared[_ITEM] = i
            conn.send((i, job(i, watch)))
        conn.send(None)
    except BaseException as exc:  # noqa: BLE001 - reported by the parent, not as a traceback
        with contextlib.suppress(OSError):
            conn.send(("error", repr(exc)))
    finally:
        conn.close()
        os._exit(0)


def _limit_memory() -> None:
    """A backstop to the parent's watch: no allocation beyond twice the budget succeeds
    (CEL's native code then aborts, which the parent reports like an overrun)."""
    try:
        import resource  # POSIX only: elsewhere the ImportError below leaves no limit set

        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = size + (2 * RULE_MEMORY_MB << 20)
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard == resource.RLIM_INFINITY or hard > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (OSError, ValueError, ImportError):
        pass


def _cpu_seconds(pid: int) -> float:
    """The processor time a process has used (wall-clock time where /proc is missing: a
    busy machine then makes rules look slower than they are)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.monotonic()


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def run(count: int, make_job: Callable[[frozenset[str]], Job], rules: list[Rule],
        workers: int) -> tuple[list[Any], list[Overrun]]:
    """Run ``job(i, watch)`` for i in 0 … count-1 in ``workers`` processes, within budget.

    ``make_job(disabled)`` builds the job with those rules left out; it is called here,
    before each fork, so the workers inherit it. Returns the results in order and the rules
    that were stopped.
    """
    results: list[Any] = [None] * count
    overruns: list[Overrun] = []
    disabled: frozenset[str] = frozenset()
    job = make_job(disabled)
    size = -(-count // max(1, workers))
    running = [_Worker(job, rules, a, min(a + size, count)) for a in range(0, count, size)]
    try:
        while running:
            wait([w.conn for w in running], timeout=POLL_SECONDS)
            for w in list(running):
                _receive(w, results)
                if w.done:
                    running.remove(w)
                    w.kill()
                    continue
                what = w.overrun()
                if what is None and w.process.exitcode is not None:
                    _receive(w, results)
                    if w.done:
                        continue
                    what = _died(w)
                if what is None:
                    continue
                rule, item = rules[w.shared[_RULE]], w.shared[_ITEM]
                running.remove(w)
                w.kill()
                if rule.id not in disabled:
                    overruns.append(Overrun(rule, item, what))
                    disabled |= {rule.id}
                    job = make_job(disabled)
                running.append(_Worker(job, rules, item, w.stop))
    finally:
        for w in running:
            w.kill()
    return results, overruns


def _receive(w: _Worker, results: list[Any]) -> None:
    with contextlib.suppress(EOFError, OSError):
        while not w.done and w.conn.poll():
            message = w.conn.recv()
            if message is None:
                w.done = True
            elif message[0] == "error":
                raise GovcloudError(f"checking the plans failed in a worker process: "
                                    f"{message[1]}", "run govcloud validate again; if it "
                                    "fails again, report it as a bug")
            else:
                results[message[0]] = message[1]


def _died(w: _Worker) -> str:
    """Why a worker ended without finishing: inside a rule, the rule's fault."""
    code = w.process.exitcode or 0
    how = f"signal {-code}" if code < 0 else f"exit status {code}"
    if w.shared[_ACTIVE]:
        return f"crashed the evaluator ({how}; out of memory?)"
    raise GovcloudError(f"checking the plans stopped: a worker process ended ({how}) while "
                        f"checking plan number {w.shared[_ITEM] + 1}",
                        "run govcloud validate again; if it fails again, report it as a bug")
