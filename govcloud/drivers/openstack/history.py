"""What nova did to the estate's servers and hosts, dated by nova (the HISTORY ability).

Servers: nova keeps an *instance action* for every request on a server (``GET
/servers/{id}/os-instance-actions``, deleted servers included since compute API 2.21), with
the *events* the services ran for it, each stamped ``start_time`` and ``finish_time`` by the
service that ran it (UTC, whole seconds). The action's own ``start_time`` is when the API
accepted the request (the request context's timestamp), seconds to minutes before anything
changed, and the action has no finish time of its own; so a happening is dated by the
``finish_time`` of the one event after which the server runs as changed (nova 34's
``compute/manager.py``):

=================  ===========================================  ==============================
nova action        event whose finish_time dates it             why that moment
=================  ===========================================  ==============================
create             ``compute__do_build_and_run_instance``       the guest is spawned and ACTIVE
                                                                (nova sets ``launched_at``)
resize, migrate    ``compute_finish_resize`` (destination)      ``_finish_resize`` sets the new
                                                                flavor and host, starts the
                                                                guest there, resets
                                                                ``launched_at``
revertResize       ``compute_finish_revert_resize`` (source)    the old flavor runs again
live-migration     ``compute_post_live_migration_at_destination``  the instance's host becomes
                                                                the destination and it is
                                                                ACTIVE there
delete             ``compute_terminate_instance``               the guest is destroyed
=================  ===========================================  ==============================

A live migration's guest switches over inside ``compute_live_migration`` on the source, an
instant before the destination's post-migration event begins: nova stamps no event at the
switch itself, and its own record (``server show``'s host) changes in the event chosen. An
action whose deciding event is missing (still running) or not ``Success`` (refused, failed)
did not happen and is not reported. A resize goes through the scheduler like a cold
migration: unless nova's ``allow_resize_to_same_host`` is set it moves the server too.

A resize's ``confirmResize`` is not reported: it changes nothing govcloud bills (the new
flavor and host hold from ``finish_resize`` on; the confirm only frees the source's copy),
and the record dates a change by its subject's latest happening, so a confirm made later
(by hand, or by nova's ``resize_confirm_window``) would date the new flavor too late.

Hosts: the compute services (``os-services``) say whether a host is enabled, with the
disabled reason, but not since when: their ``updated_at`` is the last heartbeat, written
every ``report_interval`` (10 s) by a running nova-compute, so it dates nothing about an
enable or a disable made while the service runs. Only a nova-compute that stopped (a host
powered off) is dated: its last heartbeat is when it stopped, to ``report_interval`` (nova
calls it down ``service_down_time``, 60 s, later). A host enabled or disabled by hand is
dated by govcloud when it sees it (apply, consolidate, usage collect); a host govcloud
parked carries the day in its reason (``govcloud: consolidated YYYY-MM-DD``) and is recorded
by the consolidation itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from govcloud.drivers.base import Happening
from govcloud.drivers.openstack.network import TAG, dept_of

# nova's action name → (the happening's action, the event whose finish_time dates it)
DECIDED_BY: dict[str, tuple[str, str]] = {
    "create": ("create", "compute__do_build_and_run_instance"),
    "resize": ("resize", "compute_finish_resize"),
    "revertResize": ("revert-resize", "compute_finish_revert_resize"),
    "migrate": ("migrate", "compute_finish_resize"),
    "live-migration": ("live-migration", "compute_post_live_migration_at_destination"),
    "delete": ("delete", "compute_terminate_instance"),
}
WORKERS = 8  # servers whose actions are read at once


def nova_stamp(value: str | None) -> datetime | None:
    """A time as nova writes it (``2026-12-06T14:21:28.000000``, UTC without a zone, or
    with ``Z``) as an aware UTC datetime; None for none."""
    if not value:
        return None
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _query_time(t: datetime) -> str:
    """``t`` as nova's ``changes-since`` filters read it: ISO 8601 with its zone."""
    aware = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decided_at(action: str, events: list[dict[str, Any]]) -> datetime | None:
    """When nova's ``action`` took effect: the finish of its deciding event if that event
    succeeded (see the module's table), else None (not finished, failed, or not an action
    the record dates)."""
    decided = DECIDED_BY.get(action)
    if decided is None:
        return None
    for event in events:
        if event.get("event") == decided[1]:
            if event.get("result") != "Success":
                return None
            return nova_stamp(event.get("finish_time"))
    return None


class CloudHistory:
    """Mixed into OpenStackDriver: needs ``conn``, ``_call`` and ``_domain``."""

    conn: Any
    _call: Callable[..., Any]
    _domain: Callable[[], str]

    def happened(self, since: datetime) -> list[Happening]:
        """Create, resize (and its revert), migration, live migration and delete
        of the estate's servers, and the hosts whose nova-compute stopped, at or after
        ``since``, oldest first, each dated as the module says. Calls: one for the
        projects, one for the servers nova changed since then in any project (deleted ones
        included), and for each of the estate's among them (eight at a time) one for its
        actions and one per action the record dates."""
        found = self._call("read nova's instance actions", "-",
                           lambda: self._server_happenings(since))
        found += self._call("read the compute services", "-",
                            lambda: list(self._host_happenings(since)))
        return sorted(found, key=lambda h: (h.at, h.subject, h.key, h.action))

    def _server_happenings(self, since: datetime) -> list[Happening]:
        c = self.conn
        dep_of = {p.id: dept_of(p.tags) for p in
                  c.identity.projects(domain_id=self._domain(), tags=TAG)}
        after = _query_time(since)
        # changes-since lists every server updated since then, deleted ones too (their
        # metadata and tags are gone with them: the project says whose they were)
        changed = []
        for s in c.compute.servers(details=True, all_projects=True, changes_since=after):
            dep = dep_of.get(s.project_id)
            if dep is not None and (s.status == "DELETED" or
                                    (s.metadata or {}).get("gc-dept") == dep):
                changed.append((s.id, f"{dep}/server/{s.name}"))
        # two or three calls a server (~0.2 s each on the test cloud): a few at a time
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            found = pool.map(lambda one: self._actions_of(one[0], one[1], after,
                                                          _aware(since)), changed)
            return [h for each in found for h in each]

    def _actions_of(self, server_id: str, key: str, after: str, since: datetime
                    ) -> list[Happening]:
        """The happenings of one server since ``since`` (``after``: the same as nova's
        changes-since reads it)."""
        c = self.conn
        out = []
        for action in c.compute.server_actions(server_id, changes_since=after):
            if action.action not in DECIDED_BY:
                continue
            detail = c.compute.get_server_action(action.request_id, server_id)
            events = [e if isinstance(e, dict) else e.to_dict() for e in detail.events or []]
            at = decided_at(action.action, events)
            if at is not None and at >= since:
                out.append(Happening(at, "resource", key, DECIDED_BY[action.action][0]))
        return out

    def _host_happenings(self, since: datetime) -> Iterator[Happening]:
        for svc in self.conn.compute.services(binary="nova-compute"):
            stopped = nova_stamp(svc.updated_at) if svc.state == "down" else None
            if stopped is not None and stopped >= _aware(since):
                yield Happening(stopped, "host", svc.host, "disable")


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)
