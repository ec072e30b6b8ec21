#!/usr/bin/env python3
"""End-to-end smoke check of the govcloud test cloud with plain openstacksdk.

Run with the test cloud's venv (or any python that has openstacksdk):

    /opt/govcloud-testcloud/venv/bin/python testcloud/smoke.py

Uses $OS_CLIENT_CONFIG_FILE (default $TESTCLOUD_DIR/clouds.yaml) and cloud
$OS_CLOUD (default govcloud-test).  Creates a project, a network + subnet +
router, two servers in an anti-affinity server group (they must reach ACTIVE,
on different hosts when the cloud has two or more), a volume that becomes
available and is attached, a user with an application credential that is then
used to authenticate; then deletes everything.  Prints timings, exits 1 on
failure.
"""
import concurrent.futures
import os
import sys
import time
import traceback
import uuid

import openstack

TESTCLOUD_DIR = os.environ.get('TESTCLOUD_DIR', '/var/tmp/govcloud-testcloud')
os.environ.setdefault('OS_CLIENT_CONFIG_FILE',
                      os.path.join(TESTCLOUD_DIR, 'clouds.yaml'))
CLOUD = os.environ.get('OS_CLOUD', 'govcloud-test')
FLAVOR = os.environ.get('SMOKE_FLAVOR', 'm1.small')
IMAGE = os.environ.get('SMOKE_IMAGE', 'cirros-0.6')
TIMEOUT = int(os.environ.get('SMOKE_TIMEOUT', '180'))

T0 = time.monotonic()
timings = []


class step:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t = time.monotonic()
        print('[%6.1fs] %s ...' % (time.monotonic() - T0, self.name),
              flush=True)

    def __exit__(self, et, ev, tb):
        dt = time.monotonic() - self.t
        timings.append((self.name, dt, et is None))
        print('[%6.1fs] %s: %s (%.1fs)' % (
            time.monotonic() - T0, self.name, 'ok' if et is None else
            'FAILED: %s' % ev, dt), flush=True)
        return False


def wait(what, fn, timeout=TIMEOUT, interval=0.5):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TimeoutError('timed out waiting for %s' % what)
        time.sleep(interval)


def main():
    tag = 'smoke-%s' % uuid.uuid4().hex[:8]
    admin = openstack.connect(cloud=CLOUD)
    cleanup = []   # (description, callable), run in reverse order
    ok = False
    try:
        with step('authenticate as admin'):
            admin.authorize()

        with step('create project + grant admin the admin role'):
            project = admin.identity.create_project(
                name=tag, domain_id='default',
                description='testcloud smoke check')
            cleanup.append(('project', lambda: admin.identity.delete_project(
                project)))
            admin_user = admin.identity.find_user('admin',
                                                  domain_id='default')
            admin_role = admin.identity.find_role('admin')
            admin.identity.assign_project_role_to_user(project, admin_user,
                                                       admin_role)
            conn = admin.connect_as_project(
                {'id': project.id, 'name': project.name,
                 'domain_id': project.domain_id})
            conn.authorize()

        with step('network + subnet + router'):
            net = conn.network.create_network(name=tag + '-net')
            cleanup.append(('network', lambda: conn.network.delete_network(
                net)))
            subnet = conn.network.create_subnet(
                name=tag + '-subnet', network_id=net.id, ip_version=4,
                cidr='10.99.0.0/24')
            cleanup.append(('subnet', lambda: conn.network.delete_subnet(
                subnet)))
            ext = conn.network.find_network('public')
            kw = {}
            if ext is not None and ext.is_router_external:
                kw['external_gateway_info'] = {'network_id': ext.id}
            router = conn.network.create_router(name=tag + '-router', **kw)
            cleanup.append(('router', lambda: conn.network.delete_router(
                router)))
            conn.network.add_interface_to_router(router, subnet_id=subnet.id)
            cleanup.append(('router interface', lambda:
                            conn.network.remove_interface_from_router(
                                router, subnet_id=subnet.id)))

        with step('server group (anti-affinity)'):
            group = conn.compute.create_server_group(
                name=tag + '-group', policy='anti-affinity')
            cleanup.append(('server group', lambda:
                            conn.compute.delete_server_group(group)))
            assert group.policy == 'anti-affinity', group

        n_hosts = len([s for s in admin.compute.services()
                       if s.binary == 'nova-compute' and s.state == 'up'])
        n_servers = 2 if n_hosts >= 2 else 1
        with step('%d server(s) in the group reach ACTIVE' % n_servers):
            flavor = conn.compute.find_flavor(FLAVOR, ignore_missing=False)
            image = conn.image.find_image(IMAGE, ignore_missing=False)
            servers = []
            for i in range(n_servers):
                s = conn.compute.create_server(
                    name='%s-vm%d' % (tag, i), flavor_id=flavor.id,
                    image_id=image.id, networks=[{'uuid': net.id}],
                    scheduler_hints={'group': group.id})
                servers.append(s)
                cleanup.append(('server %d' % i, lambda s=s: (
                    conn.compute.delete_server(s),
                    conn.compute.wait_for_delete(s, wait=TIMEOUT))))
            with concurrent.futures.ThreadPoolExecutor(n_servers) as ex:
                servers = list(ex.map(
                    lambda s: conn.compute.wait_for_server(
                        s, status='ACTIVE', wait=TIMEOUT, interval=1),
                    servers))
            ports = list(conn.network.ports(device_id=servers[0].id))
            assert ports and ports[0].binding_vif_type == 'ovs', ports
            hosts = {admin.compute.get_server(s.id).compute_host
                     for s in servers}
            assert len(hosts) == n_servers, \
                'anti-affinity violated: %s' % hosts
            print('           servers on hosts: %s' % ', '.join(sorted(hosts)))

        with step('volume available, attached, detached'):
            vol = conn.block_storage.create_volume(name=tag + '-vol', size=1)
            cleanup.append(('volume', lambda: (
                conn.block_storage.delete_volume(vol),
                conn.block_storage.wait_for_delete(vol, wait=TIMEOUT))))
            conn.block_storage.wait_for_status(vol, 'available',
                                               wait=TIMEOUT, interval=1)
            att = conn.compute.create_volume_attachment(servers[0],
                                                        volume_id=vol.id)
            conn.block_storage.wait_for_status(vol, 'in-use', wait=TIMEOUT,
                                               interval=1)
            atts = list(conn.compute.volume_attachments(servers[0]))
            assert any(a.volume_id == vol.id for a in atts), atts
            conn.compute.delete_volume_attachment(servers[0], vol.id)
            conn.block_storage.wait_for_status(vol, 'available',
                                               wait=TIMEOUT, interval=1)
            del att

        with step('user + application credential, authenticate with it'):
            auth_url = admin.config.get_auth_args()['auth_url']

            def isolated_connect(**kw):
                # nothing from clouds.yaml / OS_* env may leak into these
                return openstack.connect(
                    load_yaml_config=False, load_envvars=False,
                    region_name=admin.config.region_name,
                    identity_api_version='3', **kw)
            pw = uuid.uuid4().hex
            user = admin.identity.create_user(
                name=tag + '-user', password=pw, domain_id='default',
                default_project_id=project.id)
            cleanup.append(('user', lambda: admin.identity.delete_user(
                user)))
            member = admin.identity.find_role('member')
            admin.identity.assign_project_role_to_user(project, user, member)
            uconn = isolated_connect(
                auth_type='password',
                auth=dict(auth_url=auth_url, username=user.name, password=pw,
                          user_domain_name='Default', project_id=project.id))
            cred = uconn.identity.create_application_credential(
                user=user.id, name=tag + '-appcred',
                description='testcloud smoke')
            cleanup.append(('application credential', lambda:
                            admin.identity.delete_application_credential(
                                user.id, cred.id)))
            aconn = isolated_connect(
                auth_type='v3applicationcredential',
                auth=dict(auth_url=auth_url,
                          application_credential_id=cred.id,
                          application_credential_secret=cred.secret))
            assert aconn.current_project_id == project.id, \
                (aconn.current_project_id, project.id)
            assert aconn.current_user_id == user.id, \
                (aconn.current_user_id, user.id)
            names = {s.name for s in aconn.compute.servers()}
            assert servers[0].name in names, names
        ok = True
    except Exception:
        traceback.print_exc()
    finally:
        with step('cleanup'):
            errors = []
            for what, fn in reversed(cleanup):
                try:
                    fn()
                except openstack.exceptions.NotFoundException:
                    pass
                except Exception as e:  # keep cleaning
                    errors.append('%s: %s' % (what, e))
            if errors:
                ok = False
                print('cleanup errors:\n  ' + '\n  '.join(errors))
    print('\nSmoke timings:')
    for name, dt, good in timings:
        print('  %-52s %6.1fs%s' % (name, dt, '' if good else '  FAILED'))
    print('  %-52s %6.1fs' % ('total', time.monotonic() - T0))
    print('SMOKE %s' % ('PASSED' if ok else 'FAILED'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
