"""Keystone side of the openstack driver: people signing in to the portal, department
credentials, and usage from nova."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from govcloud.core.desired import Resource
from govcloud.core.grants import Grant, Identity, KeystoneSettings, Refused
from govcloud.drivers.openstack.network import TAG, dept_of
from govcloud.errors import DriverError, GovcloudError

MAX_PASSWORD = 1024  # longer is refused without asking Keystone (as local accounts are)


def nova_time(t: datetime) -> datetime:
    """``t`` as nova's usage API reads it: naive UTC, whole seconds."""
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return t.replace(microsecond=0)


class IdentityServices:
    """Mixed into OpenStackDriver: needs ``conn``, ``cloud``, ``_domain`` and ``_project``."""

    conn: Any
    cloud: str
    _exc: Any  # openstack.exceptions
    _domain: Callable[[], str]
    _project: Callable[[str], Any]

    # --- sign-in ---------------------------------------------------------------------------
    def identify(self, name: str, password: str,
                 keystone: KeystoneSettings) -> Identity | Refused:
        """Keystone checks ``name`` (in ``keystone.user_domain``) and ``password`` with an
        unscoped v3 password authentication (keystoneauth1, the clouds.yaml's auth_url);
        the password goes to Keystone only. Refused when Keystone refuses them, or the
        account holds no grants because it is disabled."""
        from keystoneauth1 import exceptions as ksa
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        user_id = None
        if name and password and len(password) <= MAX_PASSWORD:
            auth = v3.Password(auth_url=self.conn.auth["auth_url"], username=name,
                               password=password, user_domain_name=keystone.user_domain,
                               unscoped=True)
            sess = session.Session(auth=auth, verify=self.conn.session.verify, timeout=30)
            try:
                user_id = auth.get_user_id(sess)
            except ksa.MissingAuthMethods as exc:  # the password was right; MFA rules ask more
                methods = {m for rule in exc.required_auth_methods or [] for m in rule}
                return Refused(known=True, name=name,
                               more=tuple(sorted(methods - {"password"})) or ("unknown",))
            except (ksa.http.Unauthorized, ksa.http.BadRequest, ksa.http.NotFound,
                    ksa.http.Forbidden):
                user_id = None
            except ksa.ClientException as exc:
                raise DriverError(f"Keystone of cloud '{self.cloud}' cannot check a sign-in: "
                                  f"{type(exc).__name__}", "check that Keystone is reachable",
                                  retryable=True) from exc
        held = self.grants_of(user_id, keystone) if user_id else None
        if user_id is None or held is None:
            account = self._account(name, keystone.user_domain)
            return Refused(known=account is not None, name=account[0] if account else "",
                           disabled=account is not None and not account[1])
        user = self.conn.identity.get_user(user_id)
        return Identity(user_id, str(user.name), held, str(getattr(user, "email", "") or ""))

    def token_identity(self, token: str, keystone: KeystoneSettings) -> Identity | None:
        """Keystone validates ``token`` (GET /v3/auth/tokens with X-Subject-Token, as
        govcloud); a user of another domain than ``keystone.user_domain`` is refused."""
        if not token or len(token) > 2048 or not token.isascii():
            return None
        try:
            response = self.conn.identity.get("/auth/tokens",
                                              headers={"X-Subject-Token": token})
        except self._exc.SDKException as exc:
            raise DriverError(f"Keystone of cloud '{self.cloud}' cannot check a token: "
                              f"{type(exc).__name__}", "check that Keystone is reachable",
                              retryable=True) from exc
        if response.status_code >= 500:
            raise DriverError(f"Keystone of cloud '{self.cloud}' cannot check a token: "
                              f"HTTP {response.status_code}", "check Keystone's log",
                              retryable=True)
        if response.status_code != 200:
            return None
        user = (response.json().get("token") or {}).get("user") or {}
        if (user.get("domain") or {}).get("name") != keystone.user_domain or not user.get("id"):
            return None
        held = self.grants_of(user["id"], keystone)
        if held is None:
            return None
        found = self.conn.identity.get_user(user["id"])
        return Identity(user["id"], str(found.name), held, str(getattr(found, "email", "") or ""))

    def _account(self, name: str, domain: str) -> tuple[str, bool] | None:
        """The name of the user of the Keystone domain ``domain`` that ``name`` is, as
        Keystone spells it, and whether it is enabled; None when there is none. Keystone's
        SQL backend usually matches
        a sign-in's name whatever its letter case, so a name that differs only in case is
        that user too (when the backend matches case exactly, only the exact one exists)."""
        identity = self.conn.identity
        found = identity.find_domain(domain, ignore_missing=True)
        if found is None or not name:
            return None
        exact = identity.find_user(name, domain_id=found.id, ignore_missing=True)
        if exact is not None:
            return str(exact.name), bool(exact.is_enabled)
        response = identity.get("/users", params={"domain_id": found.id,
                                                  "name__icontains": name})
        if response.status_code != 200:
            return None
        same = [(str(u.get("name")), bool(u.get("enabled", True)))
                for u in response.json().get("users", [])
                if str(u.get("name", "")).casefold() == name.casefold()]
        return same[0] if len(same) == 1 else None

    def grants_of(self, user_id: str, keystone: KeystoneSettings) -> tuple[Grant, ...] | None:
        """The user's effective role assignments (through groups and implied roles too) on
        the department projects, the govcloud domain and the oversight project."""
        identity = self.conn.identity
        try:
            user = identity.get_user(user_id)
        except self._exc.NotFoundException:
            return None
        if not user.is_enabled:
            return None
        domain = self._domain()
        departments = {p.id: dept_of(p.tags)
                       for p in identity.projects(domain_id=domain, tags=TAG)}
        oversight = identity.find_project(keystone.oversight_project, domain_id=domain,
                                          ignore_missing=True) \
            if keystone.oversight_project else None
        out = set()
        for a in identity.role_assignments(user_id=user_id, effective=True,
                                           include_names=True):
            role, scope = (a.role or {}).get("name"), a.scope or {}
            if not role:
                continue
            project = (scope.get("project") or {}).get("id")
            if project and departments.get(project):
                out.add(Grant(role, departments[project]))
            elif project and oversight is not None and project == oversight.id:
                out.add(Grant(role, None))
            elif (scope.get("domain") or {}).get("id") == domain:
                out.add(Grant(role, None))
        return tuple(sorted(out, key=lambda g: (g.department or "", g.role)))

    def issue_credential(self, department: str, days: int | None = 90) -> dict[str, str]:
        """An application credential scoped to the department's project, for its IT staff.

        The secret is returned once and stored nowhere. The department's IT user gets a
        random password only for the moment it takes to create the credential (Keystone lets
        a user create credentials for itself only), then another random one nobody knows.
        """
        import secrets
        from datetime import timedelta

        import openstack
        from openstack.identity.v3._proxy import Proxy as IdentityV3

        c = self.conn
        project = self._project(department)
        if project is None:
            raise GovcloudError(f"department {department} has no project in cloud "
                                f"'{self.cloud}'", "apply its plan first")
        name = f"gc-{department}-it"
        user = c.identity.find_user(name, domain_id=self._domain())
        password = secrets.token_urlsafe(24)
        if user is None:
            user = c.identity.create_user(name=name, domain_id=self._domain(),
                                          password=password, description=f"IT staff of "
                                          f"{department} (govcloud)")
        else:
            c.identity.update_user(user, password=password)
        member = c.identity.find_role("member")
        c.identity.assign_project_role_to_user(project, user, member)
        try:
            # Only these credentials: no clouds.yaml entry or OS_* variable may blend in.
            as_user = openstack.connect(
                load_yaml_config=False, load_envvars=False, auth_type="password",
                auth={"auth_url": c.auth["auth_url"], "username": name, "password": password,
                      "user_domain_id": self._domain(), "project_id": project.id,
                      "project_domain_id": project.domain_id},
                region_name=c.config.region_name, identity_api_version="3",
                interface=c.config.interface)
            stamp = time.strftime("%Y%m%dT%H%M%S")
            expires = (datetime.now(UTC) + timedelta(days=days)).strftime(
                "%Y-%m-%dT%H:%M:%S") if days else None
            identity, user_id = as_user.identity, as_user.current_user_id
            if not isinstance(identity, IdentityV3) or user_id is None:  # asked for v3 above
                raise GovcloudError(f"cloud '{self.cloud}' gave {name} no Keystone v3 session",
                                    "check that the cloud's identity endpoint serves API v3")
            cred = identity.create_application_credential(
                user=user_id, name=f"{name}-{stamp}",
                description=f"govcloud: {department} IT staff", roles=[{"name": "member"}],
                expires_at=expires, unrestricted=False)
        finally:
            c.identity.update_user(user, password=secrets.token_urlsafe(32))
        return {"id": cred.id, "name": cred.name, "secret": cred.secret,
                "project_id": project.id, "user": name, "expires_at": expires or "never",
                "auth_url": c.auth["auth_url"]}

    # --- usage ----------------------------------------------------------------------------
    def usage(self, start: datetime, end: datetime) -> dict[str, dict[str, float]]:
        """Per-department usage from nova's os-simple-tenant-usage (one call for all)."""
        out: dict[str, dict[str, float]] = {}
        for dep, u in self._usages(start, end, detailed=False):
            out[dep] = {"vcpu_hours": float(u.total_vcpus_usage or 0),
                        "ram_mb_hours": float(u.total_memory_mb_usage or 0),
                        "disk_gb_hours": float(u.total_local_gb_usage or 0),
                        "server_hours": float(u.total_hours or 0)}
        return out

    def retired(self, since: datetime) -> list[Resource]:
        """Servers deleted since ``since`` (nova keeps their usage): billed for their hours."""
        out = []
        for dep, u in self._usages(since, datetime.now(UTC), detailed=True):
            for s in u.server_usages or []:
                if s.state != "terminated" or not s.ended_at:
                    continue
                out.append(Resource("server", dep, s.name or s.instance_id, {
                    "vcpus": s.vcpus or 0, "ram_gb": (s.memory_mb or 0) / 1024,
                    "disk_gb": s.local_gb or 0, "antivirus": False, "backup": False},
                    computed={"id": s.instance_id, "created_at": s.started_at,
                              "deleted_at": s.ended_at}))
        return out

    def _usages(self, start: datetime, end: datetime, detailed: bool) -> Any:
        """(department, usage) of govcloud's projects. Nova reads only naive ISO timestamps
        without microseconds (as python-openstackclient's ``usage list`` sends them): an
        offset or a fraction is a 400 "Invalid datetime string"."""
        projects = {p.id: dept_of(p.tags) for p in
                    self.conn.identity.projects(domain_id=self._domain(), tags=TAG)}
        # detailed=1: nova reads the flag as '1' (the SDK would send 'True', read as no)
        for u in self.conn.compute.usages(start=nova_time(start), end=nova_time(end),
                                          detailed=1 if detailed else 0):
            dep = projects.get(u.project_id)
            if dep:
                yield dep, u


