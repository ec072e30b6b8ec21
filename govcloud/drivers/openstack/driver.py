"""The openstack driver: departments as Keystone projects, their networks, servers and volumes.

Everything govcloud makes carries its marks, so it is found again and never duplicated:
projects hold tags ``govcloud`` and ``gc-dept-<id>`` in the govcloud domain; networks, subnets,
routers and security groups are tagged the same; servers are tagged and carry ``gc-*``
metadata; volumes carry ``gc-*`` metadata; server groups are named ``gc-<dept>-<name>`` in
the department's project. Reading the estate makes one paginated, filtered list call per
resource type plus two quota calls per department: the count never grows with servers.

Service-layer resources (websites, antivirus, backup) and the websites quota are not
OpenStack objects: the Ansible playbooks configure them, and their record lives in the state
store (table ``os_records``).

openstacksdk objects never leave this module: they become ``Resource`` values here.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from govcloud.clock import now
from govcloud.core.desired import Resource
from govcloud.core.kinds import KIND
from govcloud.core.model import Settings
from govcloud.drivers.base import Ability, Driver, Rows
from govcloud.drivers.openstack.catalogue import CatalogueResources
from govcloud.drivers.openstack.compute import ComputeResources, ServerWatch
from govcloud.drivers.openstack.history import CloudHistory
from govcloud.drivers.openstack.hosts import HostResources
from govcloud.drivers.openstack.identity import IdentityServices
from govcloud.drivers.openstack.network import (
    TAG,
    NetworkResources,
    dept_of,
    dept_tag,
    described,
    zone_tag,
)
from govcloud.errors import DriverError, GovcloudError

T = TypeVar("T")
RECORDS = """CREATE TABLE IF NOT EXISTS os_records (
    key TEXT PRIMARY KEY, department TEXT NOT NULL, body TEXT NOT NULL, updated_at TEXT NOT NULL)
"""


class OpenStackDriver(ComputeResources, HostResources, CatalogueResources, NetworkResources,
                      IdentityServices, CloudHistory, Driver):
    name = "openstack"
    abilities = frozenset({Ability.RESIZE, Ability.USAGE, Ability.CREDENTIALS,
                           Ability.CATALOGUE, Ability.PLACEMENT, Ability.MIGRATION,
                           Ability.SIGN_IN, Ability.HISTORY})

    def __init__(self, settings: Settings, store: Rows, cloud: str | None = None) -> None:
        import keystoneauth1.exceptions as ksa_exceptions
        import openstack
        from openstack import exceptions as sdk_exceptions

        self._exc = sdk_exceptions
        self._ksa = ksa_exceptions
        self.settings = settings
        self.store = store
        self.cloud = cloud or os.environ.get("OS_CLOUD") or settings.cloud
        try:
            self.conn = openstack.connect(cloud=self.cloud)
            self.conn.authorize()
        except sdk_exceptions.ConfigException as exc:
            raise GovcloudError(f"no cloud named '{self.cloud}' in clouds.yaml",
                                "set cloud.cloud in govcloud.yaml or OS_CLOUD, and "
                                "OS_CLIENT_CONFIG_FILE if clouds.yaml is elsewhere") from exc
        except sdk_exceptions.SDKException as exc:
            raise GovcloudError(f"cannot log in to cloud '{self.cloud}': {_short(exc)}",
                                "check the credentials of that clouds.yaml entry and that "
                                "Keystone is reachable") from exc
        store.execute(RECORDS)
        self._lock = threading.RLock()
        self._scoped: dict[str, Any] = {}
        self._domain_id: str | None = None
        self._flavors: dict[str, Any] | None = None
        self._images: dict[str, Any] | None = None
        self._admin_role: Any = None
        self._watch = ServerWatch(self.conn)
        self._hosts_cache = None

    # --- helpers --------------------------------------------------------------------------
    def _call(self, what: str, department: str, fn: Callable[[], T]) -> T:
        """Run one SDK call, turning its failures into DriverError with the department."""
        e = self._exc
        try:
            return fn()
        except DriverError:
            raise
        except e.ConflictException as exc:
            raise DriverError(f"department {department}: {what}: conflict: {_short(exc)}",
                              "retrying", retryable=True) from exc
        except e.HttpException as exc:
            status = getattr(exc, "status_code", None) or 0
            text = _short(exc)
            if status == 403 and "uota" in text or status == 413:
                raise DriverError(f"department {department}: the cloud refused to {what}: "
                                  f"quota exceeded ({text})",
                                  "raise the department's quota in its plan, or ask for "
                                  "less") from exc
            if status >= 500:
                raise DriverError(f"department {department}: {what}: server error {status}: "
                                  f"{text}", "retrying", retryable=True) from exc
            raise DriverError(f"department {department}: cannot {what}: {text}",
                              "check the request against the cloud's catalogue") from exc
        except e.SDKException as exc:
            raise DriverError(f"department {department}: {what}: {_short(exc)}",
                              "check the cloud is reachable", retryable=True) from exc
        except self._ksa.http.Unauthorized as exc:
            raise DriverError(f"department {department}: {what}: not authorised: {_short(exc)}",
                              "check the operator's role on the department project") from exc
        except self._ksa.ClientException as exc:
            raise DriverError(f"department {department}: {what}: {_short(exc)}",
                              "check the cloud is reachable", retryable=True) from exc
        except (ConnectionError, TimeoutError) as exc:
            raise DriverError(f"department {department}: {what}: {exc}",
                              "check the cloud is reachable", retryable=True) from exc

    def _domain(self) -> str:
        if self._domain_id is None:
            with self._lock:
                if self._domain_id is None:
                    name = self.settings.domain
                    dom = self.conn.identity.find_domain(name)
                    if dom is None:
                        dom = self.conn.identity.create_domain(
                            name=name, description="govcloud department projects")
                    self._domain_id = dom.id
        return self._domain_id

    def _role(self) -> Any:
        if self._admin_role is None:
            self._admin_role = self.conn.identity.find_role("admin")
        return self._admin_role

    def _project(self, department: str) -> Any | None:
        found = list(self.conn.identity.projects(domain_id=self._domain(),
                                                 tags=dept_tag(department)))
        return found[0] if found else None

    def _as(self, department: str) -> Any:
        """A connection scoped to the department's project (nova creates in the token's
        project)."""
        with self._lock:
            if department not in self._scoped:
                project = self._project(department)
                if project is None:
                    raise DriverError(f"project of department {department} does not exist",
                                      "the project is created first; re-run apply",
                                      retryable=True)
                self._scoped[department] = self.conn.connect_as_project(
                    {"id": project.id, "domain_id": project.domain_id})
            return self._scoped[department]

    def _flavor(self, name: str, department: str) -> Any:
        with self._lock:
            if self._flavors is None:
                self._flavors = {f.name: f for f in self.conn.compute.flavors()}
        if name not in self._flavors:
            raise DriverError(f"department {department}: flavor '{name}' does not exist in "
                              f"cloud '{self.cloud}'",
                              "create it in the cloud or remove it from the catalogue")
        return self._flavors[name]

    def _image(self, name: str, department: str) -> Any:
        with self._lock:
            if self._images is None:
                self._images = {i.name: i for i in self.conn.image.images()}
        if name not in self._images:
            raise DriverError(f"department {department}: image '{name}' does not exist in "
                              f"cloud '{self.cloud}'",
                              "upload it to the cloud or remove it from the catalogue")
        return self._images[name]

    # --- reading --------------------------------------------------------------------------
    def read(self) -> list[Resource]:
        """Every resource govcloud made, kind by kind in creation order (each kind read
        beside the code that creates it), then the service layer's records."""
        records = self._read_records()
        out, dep_of = self._read_projects(records)
        out += self._read_networks(dep_of)
        out += self._read_routers(dep_of)
        out += self._read_security_groups(dep_of)
        groups, member_group = self._read_server_groups(dep_of)
        out += groups
        out += self._read_servers(dep_of, member_group)
        out += self._read_volumes(dep_of)
        out += [res for res in records.values() if KIND[res.kind].recorded]
        return out

    # --- writing --------------------------------------------------------------------------
    def create(self, res: Resource) -> Resource:
        if KIND[res.kind].recorded:
            return self._record(res)
        handler: Callable[[Resource], Resource] = getattr(self, f"_create_{res.kind}")
        return self._call(f"create {res.kind} {res.name}", res.department, lambda: handler(res))

    def update(self, before: Resource, after: Resource) -> Resource:
        return self._call(f"update {after.kind} {after.name}", after.department,
                          lambda: self._update(before, after))

    def delete(self, res: Resource) -> None:
        if KIND[res.kind].recorded:
            self.store.execute("DELETE FROM os_records WHERE key = ?", (res.key,))
            return
        handler = getattr(self, f"_delete_{res.kind}")
        self._call(f"delete {res.kind} {res.name}", res.department, lambda: handler(res))

    def _update(self, before: Resource, after: Resource) -> Resource:
        if KIND[after.kind].recorded:
            return self._record(after)
        handler: Callable[[Resource, Resource], Resource] | None = getattr(
            self, f"_update_{after.kind}", None)
        if handler is None:
            raise DriverError(f"{after.key}: {after.kind} cannot be updated in place",
                              "this is a bug: the plan should have asked for a replacement")
        return handler(before, after)

    # --- records (service layer) ----------------------------------------------------------
    def _read_records(self) -> dict[str, Resource]:
        """Key → record: the kinds ``core.kinds`` marks ``recorded`` (websites, antivirus,
        backup) and the departments' websites quotas."""
        return {k: self.store.resource("os_records", k, b) for k, b in self.store.query(
            "SELECT key, body FROM os_records")}

    def _record(self, res: Resource) -> Resource:
        rows = self.store.query("SELECT body FROM os_records WHERE key = ?", (res.key,))
        first = json.loads(rows[0][0]).get("computed", {}) if rows else {}
        stamp = now()
        made = Resource(res.kind, res.department, res.name, res.attrs, res.protected,
                        {"recorded_at": stamp,
                         "created_at": first.get("created_at") or stamp})
        self.store.execute(
            "INSERT INTO os_records (key, department, body, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT (key) DO UPDATE SET body = excluded.body, "
            "updated_at = excluded.updated_at",
            (res.key, res.department, json.dumps(made.as_dict(), ensure_ascii=False), now()))
        return made

    # --- projects and quotas --------------------------------------------------------------
    def _read_projects(self, records: dict[str, Resource]
                       ) -> tuple[list[Resource], dict[str, str]]:
        """The departments' projects, each followed by its quota, and project id →
        department (the other kinds are found by their project)."""
        c = self.conn
        out: list[Resource] = []
        dep_of: dict[str, str] = {}
        projects = {p.id: p for p in c.identity.projects(domain_id=self._domain(), tags=TAG)}
        for pid, p in projects.items():
            dep = dept_of(p.tags)
            if dep is None:
                continue
            dep_of[pid] = dep
            out.append(Resource("project", dep, dep, described(p.description),
                                computed={"id": pid}))
            q = c.compute.get_quota_set(pid)
            v = c.block_storage.get_quota_set(pid)
            recorded = records.get(KIND["quota"].key(dep))
            websites = recorded.attrs.get("websites", 0) if recorded else 0
            out.append(Resource("quota", dep, dep, {
                "instances": q.instances, "cores": q.cores, "ram_gb": q.ram // 1024,
                "volumes": v.volumes, "volume_gb": v.gigabytes, "websites": websites}))
        return out, dep_of

    def _create_project(self, res: Resource) -> Resource:
        dep = res.department
        existing = self._project(dep)
        if existing is None:
            existing = self._call("create project", dep, lambda: self.conn.identity
                                  .create_project(name=f"gc-{dep}", domain_id=self._domain(),
                                                  description=json.dumps(res.attrs,
                                                                         ensure_ascii=False),
                                                  tags=[TAG, dept_tag(dep),
                                                        zone_tag(res.attrs["zone"])]))
        me = self.conn.current_user_id
        self._call("grant the operator a role on the project", dep, lambda: self.conn.identity
                   .assign_project_role_to_user(existing, me, self._role()))
        return Resource(res.kind, dep, res.name, res.attrs, computed={"id": existing.id})

    def _update_project(self, before: Resource, after: Resource) -> Resource:
        p = self._project(after.department)
        self._call("update project", after.department, lambda: self.conn.identity
                   .update_project(p, description=json.dumps(after.attrs, ensure_ascii=False)))
        return after

    def _delete_project(self, res: Resource) -> None:
        p = self._project(res.department)
        if p is not None:
            self._call("delete project", res.department,
                       lambda: self.conn.identity.delete_project(p, ignore_missing=True))
        with self._lock:
            self._scoped.pop(res.department, None)

    def _create_quota(self, res: Resource) -> Resource:
        dep = res.department
        p = self._project(dep)
        if p is None:
            raise DriverError(f"project of department {dep} does not exist", "re-run apply",
                              retryable=True)
        a = res.attrs
        self._call("set compute quota", dep, lambda: self.conn.compute.update_quota_set(
            p.id, instances=a["instances"], cores=a["cores"], ram=a["ram_gb"] * 1024,
            server_groups=max(10, a["instances"]), server_group_members=max(10, a["instances"])))
        self._call("set volume quota", dep, lambda: self.conn.block_storage.update_quota_set(
            p.id, volumes=a["volumes"], gigabytes=a["volume_gb"]))
        self._call("set network quota", dep, lambda: self.conn.network.update_quota(
            p.id, networks=2, subnets=2, routers=1, ports=a["instances"] * 2 + 10,
            security_groups=5, security_group_rules=50))
        self._record(Resource("quota", dep, dep, {"websites": a["websites"]}))
        return res

    def _update_quota(self, before: Resource, after: Resource) -> Resource:
        return self._create_quota(after)  # every figure set again

    def _delete_quota(self, res: Resource) -> None:
        self.store.execute("DELETE FROM os_records WHERE key = ?", (res.key,))


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "details", None) or exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
