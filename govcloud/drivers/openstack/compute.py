"""Nova and Cinder side of the openstack driver: server groups, servers (read, created, resized
in place, deleted) and their volumes. A server is found again by its tags in the department's
project; one shared watcher lists pending servers once a second instead of a GET per server."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from govcloud.core.desired import Resource
from govcloud.core.kinds import KIND
from govcloud.drivers.base import requested_host
from govcloud.drivers.openstack.network import TAG, dept_tag
from govcloud.errors import CapacityError, DriverError


def server_address(server: Any) -> dict[str, str]:
    """``{"address": …}``: the server's first fixed IPv4 address (the one the service
    playbooks reach it at), or nothing while it has none."""
    for entries in sorted((getattr(server, "addresses", None) or {}).items()):
        for entry in entries[1] or []:
            if entry.get("version") == 4 and entry.get("OS-EXT-IPS:type", "fixed") == "fixed":
                return {"address": str(entry["addr"])}
    return {}


WAIT_SECONDS = float(os.environ.get("GOVCLOUD_OS_WAIT", "600"))
log = logging.getLogger(__name__)


class ComputeResources:
    """Mixed into OpenStackDriver: needs ``conn``, ``_call``, ``_as``, ``_flavor``, ``_image``,
    ``_in_project`` and ``_watch``. Each kind is read, created and deleted here side by side:
    server groups, servers, volumes."""

    conn: Any
    _watch: ServerWatch
    _call: Callable[..., Any]
    _as: Callable[[str], Any]
    _flavor: Callable[[str, str], Any]
    _image: Callable[[str, str], Any]
    _in_project: Callable[..., list[Any]]
    _host_for: Callable[[Resource, str | None], tuple[str | None, str | None]]

    def _read_server_groups(self, dep_of: dict[str, str]
                            ) -> tuple[list[Resource], dict[str, str]]:
        """The departments' server groups (project id → department in ``dep_of``), and
        server id → the name of its group."""
        out = []
        member_group: dict[str, str] = {}
        for g in self.conn.compute.server_groups(all_projects=True):
            dep = dep_of.get(g.project_id)
            prefix = f"gc-{dep}-"
            if dep is None or not g.name.startswith(prefix):
                continue
            name = g.name[len(prefix):]
            member_group.update((m, name) for m in g.member_ids or [])
            policy = g.policy or (g.policies[0] if g.policies else None)
            out.append(Resource("server_group", dep, name, {"policy": policy},
                                computed={"id": g.id, "members": list(g.member_ids or [])}))
        return out, member_group

    def _find_group(self, department: str, name: str) -> Any | None:
        conn = self._as(department)
        wanted = f"gc-{department}-{name}"
        return next((g for g in conn.compute.server_groups() if g.name == wanted), None)

    def _create_server_group(self, res: Resource) -> Resource:
        dep = res.department
        conn = self._as(dep)
        group = self._find_group(dep, res.name) or self._call(
            "create server group", dep, lambda: conn.compute.create_server_group(
                name=f"gc-{dep}-{res.name}", policy=res.attrs["policy"]))
        return Resource(res.kind, dep, res.name, res.attrs, computed={"id": group.id})

    def _delete_server_group(self, res: Resource) -> None:
        group = self._find_group(res.department, res.name)
        if group is not None:
            conn = self._as(res.department)
            self._call("delete server group", res.department,
                       lambda: conn.compute.delete_server_group(group, ignore_missing=True))

    def _read_servers(self, dep_of: dict[str, str], member_group: dict[str, str]
                      ) -> list[Resource]:
        """The departments' servers: their plan's attributes back from flavor, image and
        ``gc-*`` metadata; ``member_group`` gives each one's server group."""
        images = {i.id: i.name for i in self.conn.image.images()}
        out = []
        for s in self.conn.compute.servers(details=True, all_projects=True, tags=TAG):
            dep = dep_of.get(s.project_id)
            md = s.metadata or {}
            if dep is None or md.get("gc-dept") != dep:
                continue
            flavor = s.flavor or {}
            attrs = {
                "flavor": flavor.get("original_name") or flavor.get("name"),
                "image": images.get((s.image or {}).get("id"), md.get("gc-image")),
                "zone": md.get("gc-zone"),
                "vcpus": flavor.get("vcpus"),
                "ram_gb": _ram_gb(flavor.get("ram")),
                "disk_gb": flavor.get("disk"),
                "server_group": member_group.get(s.id),
                "network": md.get("gc-network"),
                "load": {"cpu": float(md.get("gc-load-cpu", 0)),
                         "ram": float(md.get("gc-load-ram", 0))},
                "antivirus": md.get("gc-antivirus") == "true",
                "backup": md.get("gc-backup") == "true",
                "protected": md.get("gc-protected") == "true",
            }
            out.append(Resource("server", dep, s.name, attrs, md.get("gc-protected") == "true",
                                {"id": s.id, "host": s.compute_host, "status": s.status,
                                 "created_at": s.launched_at or s.created_at,
                                 **server_address(s)}))
        return out

    def _find_server(self, res: Resource) -> Any | None:
        conn = self._as(res.department)
        for s in conn.compute.servers(details=True, tags=dept_tag(res.department),
                                      name=f"^{res.name}$"):
            if s.name == res.name:
                return s
        return None

    def _create_server(self, res: Resource) -> Resource:
        dep = res.department
        a = res.attrs
        conn = self._as(dep)
        server = self._find_server(res)
        if server is None:
            flavor = self._flavor(a["flavor"], dep)
            image = self._image(a["image"], dep)
            nets = self._in_project(self.conn.network.networks, dep, a["network"])
            if not nets:
                raise DriverError(f"department {dep}: network {a['network']} missing for "
                                  f"{res.name}", "re-run apply", retryable=True)
            hints = {}
            if a.get("server_group"):
                group = self._find_group(dep, a["server_group"])
                if group is None:
                    raise DriverError(f"department {dep}: server group {a['server_group']} "
                                      f"missing for {res.name}", "re-run apply", retryable=True)
                hints["group"] = group.id
            metadata = {
                "govcloud": "1", "gc-dept": dep, "gc-zone": a["zone"], "gc-network": a["network"],
                "gc-image": a["image"], "gc-load-cpu": str(a["load"]["cpu"]),
                "gc-load-ram": str(a["load"]["ram"]),
                "gc-antivirus": str(a["antivirus"]).lower(),
                "gc-backup": str(a["backup"]).lower(),
                "gc-protected": str(a["protected"]).lower(),
            }
            request = {"name": res.name, "flavor_id": flavor.id, "image_id": image.id,
                       "networks": [{"uuid": nets[0].id}],
                       "security_groups": [{"name": KIND["security_group"].named(dep)}],
                       "metadata": metadata, "tags": [TAG, dept_tag(dep)]}
            if hints:
                request["scheduler_hints"] = hints
            host, warning = self._host_for(res, requested_host(res))
            server, refused = self._boot(conn, request, host, res)
            warning = warning or refused
        else:
            server, warning = self._wait_server(conn, server, res), None
        computed = {"id": server.id, "host": server.compute_host, **server_address(server)}
        if warning:
            computed["placement_warning"] = warning
        return Resource(res.kind, dep, res.name, a, res.protected, computed)

    def _boot(self, conn: Any, request: dict[str, Any], host: str | None, res: Resource
              ) -> tuple[Any, str | None]:
        """Create the server on ``host`` (compute API 2.74 ``host``: admin, and still through
        the scheduler's filters, so anti-affinity and capacity hold); when nova refuses that
        host (unknown to it, or NoValidHost there), create it again without one and say so."""
        dep = res.department
        if host is None:
            server = self._call(f"create server {res.name}", dep,
                                lambda: conn.compute.create_server(**request))
            return self._wait_server(conn, server, res), None
        try:
            server = self._call(f"create server {res.name} on {host}", dep,
                                lambda: conn.compute.create_server(**request, host=host))
        except DriverError as exc:
            cause = str(exc.__cause__ or "")
            # refused for the host: "Compute host X could not be found", or the policy of
            # requested destinations (not an admin)
            if exc.retryable or (host not in cause and "requested_destination" not in cause):
                raise
            why = _first_line(cause)
        else:
            try:
                return self._wait_server(conn, server, res), None
            except (CapacityError, DriverError) as exc:
                if "No valid host" not in str(exc):
                    raise
                why = "NoValidHost there"
                refused = server
                self._call(f"wait for the refused server {res.name} to go", dep,
                           lambda: conn.compute.wait_for_delete(refused, wait=WAIT_SECONDS))
        warning = placement_warning(res, f"nova refused host {host} ({why})")
        server = self._call(f"create server {res.name}", dep,
                            lambda: conn.compute.create_server(**request))
        return self._wait_server(conn, server, res), warning

    def _wait_server(self, conn: Any, server: Any, res: Resource) -> Any:
        """Wait for ACTIVE. One poller lists every pending server in one call per second, so
        a hundred servers being built cost one request a second, not a hundred."""
        deadline = time.monotonic() + WAIT_SECONDS
        server_id = server.id
        while True:
            seen = self._watch.status(server_id)
            if seen is None:  # not in the poller's list (yet): read it directly
                seen = self._call("read server", res.department,
                                  lambda: conn.compute.get_server(server_id))
            if seen.status == "ACTIVE":
                return seen
            if seen.status == "ERROR":
                fault = (seen.fault or {}).get("message", "no fault message")
                # Delete the failed server so the next run starts clean (no half-made server).
                conn.compute.delete_server(server_id, ignore_missing=True)
                if "No valid host" in fault and res.attrs.get("server_group"):
                    # Nova checks anti-affinity late: members booted together, or a member
                    # still being deleted, make a transient NoValidHost. Retried with backoff.
                    raise DriverError(f"department {res.department}: no host for server "
                                      f"{res.name} in anti-affinity group "
                                      f"{res.attrs['server_group']}: {fault}",
                                      "add compute hosts if this persists", retryable=True)
                if "No valid host" in fault:
                    raise CapacityError(f"department {res.department}: no host can take server "
                                        f"{res.name} ({res.attrs['flavor']}): {fault}",
                                        "add compute capacity or choose a smaller flavor")
                raise DriverError(f"department {res.department}: server {res.name} went to "
                                  f"ERROR: {fault}", "see the nova logs; re-run apply",
                                  retryable=True)
            if time.monotonic() > deadline:
                raise DriverError(f"department {res.department}: server {res.name} not ACTIVE "
                                  f"after {WAIT_SECONDS:g}s (status {seen.status})",
                                  "check the cloud; re-run apply to wait again", retryable=True)
            self._watch.wait(server_id)

    def _update_server(self, before: Resource, after: Resource) -> Resource:
        dep = after.department
        conn = self._as(dep)
        server = self._find_server(after)
        if server is None:
            raise DriverError(f"{after.key} is gone from the cloud", "run plan again")
        a = after.attrs
        if before.attrs.get("flavor") != a["flavor"]:
            server = self._resize(conn, server, after)
        metadata = {"gc-load-cpu": str(a["load"]["cpu"]), "gc-load-ram": str(a["load"]["ram"]),
                    "gc-antivirus": str(a["antivirus"]).lower(),
                    "gc-backup": str(a["backup"]).lower(),
                    "gc-protected": str(a["protected"]).lower()}
        self._call(f"update metadata of {after.name}", dep,
                   lambda: conn.compute.set_server_metadata(server, **metadata))
        return Resource(after.kind, dep, after.name, a, after.protected,
                        {"id": server.id, "host": server.compute_host,
                         **server_address(server)})

    def _resize(self, conn: Any, server: Any, res: Resource) -> Any:
        """Resize in place and confirm: the same server (id, address, attached volumes) on
        the new flavor. Returns once it is ACTIVE again on it; a resize nova refuses (no host
        can take it, say) is reported with nova's reason, the server left as it was."""
        dep, want = res.department, res.attrs["flavor"]
        flavor = self._flavor(want, dep)
        known = {a.request_id for a in conn.compute.server_actions(server)}
        self._call(f"resize {res.name}", dep, lambda: conn.compute.resize_server(server,
                                                                                   flavor.id))
        deadline = time.monotonic() + WAIT_SECONDS
        confirmed = False
        while True:
            s = self._call("read server", dep, lambda: conn.compute.get_server(server.id))
            now = (s.flavor or {}).get("original_name")
            if s.status == "VERIFY_RESIZE" and not confirmed:  # once: it completes on its own
                self._call(f"confirm the resize of {res.name}", dep,
                           lambda s=s: conn.compute.confirm_server_resize(s))
                confirmed = True
            elif s.status == "ACTIVE" and now == want:
                return s
            elif s.status == "ERROR":
                fault = (s.fault or {}).get("message", "no fault message")
                raise DriverError(f"department {dep}: nova did not resize {res.name} to {want} "
                                  f"and marked it ERROR: {fault}; it still has flavor {now}",
                                  "read nova's logs, then have an admin set it active again "
                                  f"(openstack server set --state active {server.id})")
            elif s.status == "ACTIVE" and not s.task_state:
                refused = self._resize_refusal(conn, server, known)
                if refused:
                    raise DriverError(f"department {dep}: nova did not resize {res.name} to "
                                      f"{want}: {refused}; it still runs as {now}",
                                      "see its events (openstack server event list); a host "
                                      "must have room for the new flavor (and, in an "
                                      "anti-affinity group, hold no other member)")
            if time.monotonic() > deadline:
                raise DriverError(f"department {dep}: resize of {res.name} not done after "
                                  f"{WAIT_SECONDS:g}s (status {s.status})",
                                  "check the cloud; re-run apply", retryable=True)
            time.sleep(1.0)

    def _resize_refusal(self, conn: Any, server: Any, known: set[str],
                        kind: str = "resize") -> str | None:
        """Why nova gave up the resize (or other ``kind`` of action) we asked for (its instance
        action's failed event)."""
        for action in conn.compute.server_actions(server):
            if action.action != kind or action.request_id in known:
                continue
            detail = conn.compute.get_server_action(action.request_id, server)
            for event in detail.events or []:
                e = event if isinstance(event, dict) else event.to_dict()
                if e.get("result") == "Error":
                    # The event's details (API 2.84) or its traceback (admins see it) name
                    # the exception nova raised.
                    raised = re.findall(r"exception\.(\w+)", e.get("traceback") or "")
                    cause = e.get("details") or (raised[-1] if raised else None) or \
                        detail.message or "error"
                    return f"{cause} (nova event {e.get('event')})"
        return None

    def _delete_server(self, res: Resource) -> None:
        conn = self._as(res.department)
        server = self._find_server(res)
        if server is None:
            return
        self._call(f"delete server {res.name}", res.department,
                   lambda: conn.compute.delete_server(server, ignore_missing=True))
        self._call(f"wait for server {res.name} to go", res.department,
                   lambda: conn.compute.wait_for_delete(server, wait=WAIT_SECONDS))

    # --- volumes --------------------------------------------------------------------------
    def _read_volumes(self, dep_of: dict[str, str]) -> list[Resource]:
        """The departments' data volumes, found by their ``gc-*`` metadata."""
        # Cinder's metadata filter is not reliable across releases (here it matched nothing):
        # list all volumes, a page per thousand, and keep govcloud's by their metadata.
        out = []
        for v in self.conn.block_storage.volumes(details=True, all_projects=True):
            dep = dep_of.get(v.project_id)
            md = v.metadata or {}
            if dep is None or md.get("govcloud") != "1" or md.get("gc-dept") != dep:
                continue
            out.append(Resource("volume", dep, v.name, {"size_gb": v.size,
                                                        "server": md.get("gc-server")},
                                md.get("gc-protected") == "true",
                                {"id": v.id, "status": v.status,
                                 "created_at": v.created_at}))
        return out

    def _find_volume(self, res: Resource) -> Any | None:
        conn = self._as(res.department)
        for v in conn.block_storage.volumes(details=True, name=res.name):
            md = v.metadata or {}
            if v.name == res.name and md.get("govcloud") == "1" and \
                    md.get("gc-dept") == res.department:
                return v
        return None

    def _create_volume(self, res: Resource) -> Resource:
        dep = res.department
        conn = self._as(dep)
        vol = self._find_volume(res)
        if vol is None:
            vol = self._call(f"create volume {res.name}", dep, lambda: conn.block_storage
                             .create_volume(name=res.name, size=res.attrs["size_gb"],
                                            metadata={"govcloud": "1", "gc-dept": dep,
                                                      "gc-server": res.attrs["server"],
                                                      "gc-protected":
                                                          str(res.protected).lower()}))
        vol = self._wait_volume(conn, vol, res, ("available", "in-use"))
        server = None
        if res.attrs.get("server"):
            server = self._find_server(Resource("server", dep, res.attrs["server"], {}))
            if server is None:
                raise DriverError(f"department {dep}: server {res.attrs['server']} missing for "
                                  f"volume {res.name}", "re-run apply", retryable=True)
            held = [a["server_id"] for a in vol.attachments or []]
            if vol.status == "in-use" and server.id not in held:
                # Its server was replaced: nova detaches it from the old one as that goes.
                vol = self._wait_volume(conn, vol, res, ("available",))
        if vol.status == "available" and server is not None:
            vol_id = vol.id
            self._call(f"attach volume {res.name}", dep, lambda: conn.compute
                       .create_volume_attachment(server, volume_id=vol_id))
            vol = self._wait_volume(conn, vol, res, ("in-use",))
        return Resource(res.kind, dep, res.name, res.attrs, res.protected,
                        {"id": vol.id, "status": vol.status})

    def _wait_volume(self, conn: Any, vol: Any, res: Resource, wanted: tuple[str, ...]) -> Any:
        deadline = time.monotonic() + WAIT_SECONDS
        vol_id = vol.id
        while True:
            vol = self._call("read volume", res.department,
                             lambda: conn.block_storage.get_volume(vol_id))
            if vol.status in wanted:
                return vol
            if vol.status.startswith("error"):
                raise DriverError(f"department {res.department}: volume {res.name} is in "
                                  f"{vol.status}", "see the cinder logs; re-run apply")
            if time.monotonic() > deadline:
                raise DriverError(f"department {res.department}: volume {res.name} still "
                                  f"{vol.status} after {WAIT_SECONDS:g}s", "re-run apply",
                                  retryable=True)
            time.sleep(0.5)

    def _update_volume(self, before: Resource, after: Resource) -> Resource:
        vol_id = before.computed.get("id") or self._find_volume(after)
        conn = self._as(after.department)
        self._call("extend volume", after.department,
                   lambda: conn.block_storage.extend_volume(vol_id, after.attrs["size_gb"]))
        return after

    def _delete_volume(self, res: Resource) -> None:
        conn = self._as(res.department)
        vol = self._find_volume(res)
        if vol is None:
            return

        def detach(server_id: str) -> Callable[[], Any]:
            return lambda: conn.compute.delete_volume_attachment(server_id, vol.id,
                                                                 ignore_missing=True)

        for att in vol.attachments or []:
            self._call(f"detach volume {res.name}", res.department, detach(att["server_id"]))
        self._wait_volume(conn, vol, res, ("available",))
        self._call(f"delete volume {res.name}", res.department,
                   lambda: conn.block_storage.delete_volume(vol, ignore_missing=True))
        deadline = time.monotonic() + WAIT_SECONDS
        while self._find_volume(res) is not None and time.monotonic() < deadline:
            time.sleep(0.5)

class ServerWatch:
    """Polls the status of every server being waited for, with one list call per round."""

    def __init__(self, conn: Any, interval: float = 1.0) -> None:
        self.conn = conn
        self.interval = interval
        self.cond = threading.Condition()
        self.waiting: dict[str, int] = {}
        self.seen: dict[str, Any] = {}
        self.round = 0
        self.thread: threading.Thread | None = None

    def status(self, server_id: str) -> Any | None:
        with self.cond:
            self.waiting.setdefault(server_id, 0)
            self._start()
            return self.seen.get(server_id)

    def wait(self, server_id: str) -> None:
        """Until the next polling round has finished."""
        with self.cond:
            current = self.round
            self.cond.wait_for(lambda: self.round > current, timeout=self.interval * 10)
            self.waiting.pop(server_id, None)

    def _start(self) -> None:
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, daemon=True,
                                           name="govcloud-server-watch")
            self.thread.start()

    def _run(self) -> None:
        idle = 0
        while idle < 30:
            time.sleep(self.interval)
            with self.cond:
                wanted = bool(self.waiting)
            if not wanted:
                idle += 1
                continue
            idle = 0
            try:
                found = {s.id: s for s in self.conn.compute.servers(
                    details=True, all_projects=True, tags=TAG)}
            except Exception:  # noqa: BLE001 - a failed round is retried; waiters read directly
                found = {}
            with self.cond:
                self.seen = found
                self.round += 1
                self.cond.notify_all()




def placement_warning(res: Resource, why: str) -> str:
    """Say (on stderr, and in the server's ``computed``) that the host govcloud chose for a
    new server was not used."""
    text = (f"department {res.department}: server {res.name}: {why}; nova chooses its host "
            "instead (govcloud consolidate packs it later)")
    log.warning("warning: %s", text)
    return text


def _ram_gb(mb: Any) -> float | None:
    if mb is None:
        return None
    gb = mb / 1024
    return int(gb) if gb == int(gb) else gb


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else "refused"
