"""The portal benchmark's sessions, as Locust users (benchmarks/portal.py runs this file with
``locust --headless``; it can be replayed on its own the same way).

Each user is one signed-in session of the plan file named by ``GOVCLOUD_BENCH_PLAN`` (JSON,
written by benchmarks/portal.py: the sessions' cookies, roles and departments, the
departments, the seed and the think time). Its pages are benchmarks/portal.py's ``choose``:
a member opens their own department's page or its requests; an operator or a finance
officer a random department's page, the estate overview or a page of a list; an auditor a
page of the audit trail or of a list. Each request is named by its page kind, so
Locust's statistics are per kind; any answer but 200 (a redirect to the sign-in form too)
is a failure.

    GOVCLOUD_BENCH_PLAN=/tmp/plan.json locust -f benchmarks/portal_locust.py --headless \\
        -u 200 -r 50 -t 60s --host http://127.0.0.1:8080
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
from pathlib import Path

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.portal import Account, choose  # noqa: E402

PLAN = json.loads(Path(os.environ["GOVCLOUD_BENCH_PLAN"]).read_text(encoding="utf-8"))
_NEXT = itertools.count()  # gevent: one user starts at a time


class Session(FastHttpUser):
    """One signed-in person browsing, with a think time between pages."""

    wait_time = between(*PLAN["think"])

    def on_start(self) -> None:
        index = next(_NEXT)
        kept = PLAN["sessions"][index % len(PLAN["sessions"])]
        self.who = Account(kept["name"], kept["role"], kept["department"],
                           kept.get("scope") or "")
        # a district's overseer: the departments of the district (--districts)
        self.departments = PLAN["reach"].get(self.who.scope) or PLAN["departments"]
        self.cookie = {"Cookie": kept["cookie"]}
        self.rng = random.Random(PLAN["seed"] + index)

    @task
    def page(self) -> None:
        kind, path = choose(self.who, self.departments, self.rng)
        with self.client.get(path, name=kind, headers=self.cookie, allow_redirects=False,
                             catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
