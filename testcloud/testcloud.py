#!/usr/bin/env python3
"""govcloud OpenStack test cloud: bring-up, health checks, tear-down, logs.

Called by the ``up``, ``down`` and ``logs`` scripts beside this file.  ``up``
runs this with the test cloud's venv python (openstacksdk available); ``down``,
``logs`` and ``status`` only need the standard library.

Everything the cloud writes lives under $TESTCLOUD_DIR (default
/var/tmp/govcloud-testcloud):

    etc/<service>/...   rendered config files (from testcloud/templates)
    logs/<process>.log  stdout+stderr of every process started
    run/<process>.pid   "pid starttime" of every process started (own session)
    data/               MariaDB datadir, RabbitMQ mnesia, images, volumes ...
    state/              markers of finished bootstrap steps, secrets.json
    clouds.yaml, openrc
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / 'templates'
D = Path(os.environ.get('TESTCLOUD_DIR', '/var/tmp/govcloud-testcloud'))
VENV = Path(os.environ.get('TESTCLOUD_VENV', '/opt/govcloud-testcloud/venv'))
ETC, LOGS, RUN, DATA, STATE, BIN = (D / n for n in
                                    ('etc', 'logs', 'run', 'data', 'state',
                                     'bin'))
CLOUD_NAME = 'govcloud-test'
REGION = 'RegionOne'

PORTS = {
    'keystone': 5000, 'placement': 8778, 'nova': 8774, 'glance': 9292,
    'neutron': 9696, 'cinder': 8776,
    'rabbit': int(os.environ.get('TESTCLOUD_RABBIT_PORT', 5672)),
    'rabbit_dist': 25672, 'epmd': 4369,
    'memcached': int(os.environ.get('TESTCLOUD_MEMCACHED_PORT', 11211)),
    'mysql': int(os.environ.get('TESTCLOUD_MYSQL_PORT', 3307)),
}
# three fake hosts: enough for an anti-affinity group of three and for a consolidation
# that frees a host (live migration between them works with the fake driver)
N_COMPUTE = int(os.environ.get('TESTCLOUD_COMPUTE_HOSTS', '3'))
DEBUG = os.environ.get('TESTCLOUD_DEBUG', 'false')
SERVICE_USERS = ('nova', 'placement', 'glance', 'neutron', 'cinder')
DATABASES = ('keystone', 'placement', 'nova_api', 'nova', 'nova_cell0',
             'glance', 'neutron', 'cinder')

DEFAULT_FLAVORS = 'm1.tiny:1:512:1,m1.small:1:2048:20,m1.medium:2:4096:40,' \
                  'm1.large:4:8192:80'
DEFAULT_IMAGES = 'cirros-0.6,debian-12'

T0 = time.monotonic()


# --------------------------------------------------------------------------
# output helpers
# --------------------------------------------------------------------------
def log(msg):
    print('[%6.1fs] %s' % (time.monotonic() - T0, msg), flush=True)


class Phase:
    timings = []

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t = time.monotonic()
        log('>> %s' % self.name)
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.monotonic() - self.t
        Phase.timings.append((self.name, dt, exc is None))
        log('<< %s: %s in %.1fs' % (self.name, 'ok' if exc is None
                                     else 'FAILED', dt))
        return False


class TestCloudError(Exception):
    pass


# --------------------------------------------------------------------------
# process management (pid files hold "pid starttime"; each process is the
# leader of its own session/process group)
# --------------------------------------------------------------------------
def _starttime(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            data = f.read()
    except OSError:
        return None
    # comm may contain spaces/parens: split after the last ')'
    fields = data.rsplit(')', 1)[1].split()
    return fields[19]  # field 22 overall


def _pgid_members(pgid):
    pids = []
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # fields[2] = pgrp, fields[3] = session
        if int(fields[2]) == pgid and int(fields[3]) == pgid:
            pids.append(int(entry))
    return pids


def read_pidfile(name):
    p = RUN / ('%s.pid' % name)
    try:
        pid, st = p.read_text().split()[:2]
        return int(pid), st
    except (OSError, ValueError):
        return None, None


def started_at(name):
    """Wall-clock (epoch) start time of a process started by testcloud."""
    try:
        return float((RUN / ('%s.pid' % name)).read_text().split()[2])
    except (OSError, ValueError, IndexError):
        return 0.0


def is_running(name):
    pid, st = read_pidfile(name)
    return pid is not None and _starttime(pid) == st


def start_process(name, argv, env=None, user=None, group=None, cwd=None):
    """Start argv in its own session, output to logs/<name>.log."""
    if is_running(name):
        return read_pidfile(name)[0]
    LOGS.mkdir(parents=True, exist_ok=True)
    RUN.mkdir(parents=True, exist_ok=True)
    out = open(LOGS / ('%s.log' % name), 'ab')
    out.write(('\n===== testcloud: starting %s at %s: %s\n' % (
        name, time.strftime('%Y-%m-%d %H:%M:%S'), ' '.join(argv))).encode())
    out.flush()
    kw = {}
    if user:
        kw.update(user=user, group=group or user, extra_groups=[])
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True, cwd=cwd or str(D),
                            close_fds=True, **kw)
    out.close()
    st = None
    for _ in range(50):
        st = _starttime(proc.pid)
        if st:
            break
        time.sleep(0.01)
    (RUN / ('%s.pid' % name)).write_text('%d %s %.3f\n' % (
        proc.pid, st, time.time()))
    return proc.pid


def stop_process(name, timeout=15):
    pidfile = RUN / ('%s.pid' % name)
    pid, st = read_pidfile(name)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    members = _pgid_members(pid)
    leader_alive = _starttime(pid) == st
    if not leader_alive and not members:
        pidfile.unlink(missing_ok=True)
        return False
    targets = set(members) | ({pid} if leader_alive else set())
    for p in targets:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in targets if _starttime(p) is not None and
                 not _is_zombie(p)]
        if not alive:
            break
        time.sleep(0.2)
    else:
        for p in targets:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    pidfile.unlink(missing_ok=True)
    return True


def _is_zombie(pid):
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except OSError:
        return True


# --------------------------------------------------------------------------
# small network helpers
# --------------------------------------------------------------------------
def port_open(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_status(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except Exception:
        return None


def amqp_ok(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=2) as s:
            s.sendall(b'AMQP\x00\x00\x09\x01')
            s.settimeout(3)
            data = s.recv(8)
            return len(data) >= 7 and data[0] == 1  # method frame
    except OSError:
        return False


def wait_for(what, check, timeout, interval=0.5, proc=None):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except Exception as e:  # noqa
            last = e
        else:
            last = None
        if proc and not all(is_running(p) for p in proc):
            dead = [p for p in proc if not is_running(p)]
            raise TestCloudError('%s: process(es) died: %s (see %s)' % (
                what, ', '.join(dead),
                ', '.join(str(LOGS / (p + '.log')) for p in dead)))
        if time.monotonic() > deadline:
            raise TestCloudError('timed out after %ss waiting for %s%s' % (
                timeout, what, (': %s' % last) if last else ''))
        time.sleep(interval)


def run(argv, env=None, logname=None, check=True, input=None):
    """Run a bootstrap command, output appended to logs/<logname>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    logfile = LOGS / ('%s.log' % (logname or 'bootstrap'))
    with open(logfile, 'ab') as out:
        out.write(('\n===== %s: %s\n' % (time.strftime('%H:%M:%S'),
                                         ' '.join(argv))).encode())
        out.flush()
        r = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                           env=env, input=input, cwd=str(D))
    if check and r.returncode != 0:
        raise TestCloudError('command failed (exit %d): %s\n  log: %s\n%s' % (
            r.returncode, ' '.join(argv), logfile, tail(logfile, 25)))
    return r.returncode


def tail(path, n=40):
    try:
        with open(path, 'rb') as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 200 * n))
            lines = f.read().decode('utf-8', 'replace').splitlines()
        return '\n'.join('    ' + ln for ln in lines[-n:])
    except OSError:
        return '    (no log)'


# --------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------
def load_secrets():
    STATE.mkdir(parents=True, exist_ok=True)
    f = STATE / 'secrets.json'
    if f.exists():
        s = json.loads(f.read_text())
    else:
        s = {}
    changed = False
    wanted = ['db', 'admin'] + list(SERVICE_USERS)
    for k in wanted:
        if k not in s:
            s[k] = secrets.token_hex(12)
            changed = True
    if os.environ.get('TESTCLOUD_ADMIN_PASSWORD'):
        if s['admin'] != os.environ['TESTCLOUD_ADMIN_PASSWORD']:
            s['admin'] = os.environ['TESTCLOUD_ADMIN_PASSWORD']
            changed = True
    if changed:
        f.write_text(json.dumps(s, indent=1))
        f.chmod(0o600)
    return s


def keystone_url():
    return 'http://127.0.0.1:%d' % PORTS['keystone']


def auth_block(user, pw):
    return '\n'.join([
        'auth_url = %s' % keystone_url(),
        'auth_type = password',
        'project_domain_name = Default',
        'user_domain_name = Default',
        'project_name = service',
        'username = %s' % user,
        'password = %s' % pw,
        'region_name = %s' % REGION,
    ])


def template_vars(sec):
    v = {
        'debug': DEBUG,
        'etc': str(ETC), 'data': str(DATA), 'logs': str(LOGS),
        'db': 'mysql+pymysql://testcloud:%s@127.0.0.1:%d' % (
            sec['db'], PORTS['mysql']),
        'transport_url': 'rabbit://guest:guest@127.0.0.1:%d/' %
                         PORTS['rabbit'],
        'keystone_url': keystone_url(),
        'conductor_workers': os.environ.get('TESTCLOUD_CONDUCTOR_WORKERS',
                                            '1'),
    }
    for name, port in PORTS.items():
        v['port_%s' % name] = str(port)
    for u in SERVICE_USERS:
        v['auth_%s' % u] = auth_block(u, sec[u])
    return v


def render(template, dest, values):
    text = string.Template((TEMPLATES / template).read_text()).substitute(
        values)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if not dest.exists() or dest.read_text() != text:
        dest.write_text(text)


def strip_db_connections(text):
    out = []
    section = None
    for line in text.splitlines():
        s = line.strip()
        if s.startswith('[') and s.endswith(']'):
            section = s[1:-1]
        if section in ('database', 'api_database') and \
                s.startswith('connection'):
            continue
        out.append(line)
    return '\n'.join(out) + '\n'


def configure(sec):
    v = template_vars(sec)
    for d in (ETC, LOGS, RUN, DATA, STATE, BIN):
        d.mkdir(parents=True, exist_ok=True)
    # sudo shim (see shims/sudo)
    shim = BIN / 'sudo'
    shutil.copyfile(HERE / 'shims' / 'sudo', shim)
    shim.chmod(0o755)
    venv_etc = VENV / 'etc'

    render('keystone.conf', ETC / 'keystone' / 'keystone.conf', v)
    for sub in ('fernet-keys', 'credential-keys'):
        (ETC / 'keystone' / sub).mkdir(parents=True, exist_ok=True)
        (ETC / 'keystone' / sub).chmod(0o700)
    render('placement.conf', ETC / 'placement' / 'placement.conf', v)

    # nova: controller config + one config per fake compute host
    vn = dict(v, nova_host='testcloud', nova_state_path=str(DATA / 'nova'))
    render('nova.conf', ETC / 'nova' / 'nova.conf', vn)
    shutil.copyfile(venv_etc / 'nova' / 'api-paste.ini',
                    ETC / 'nova' / 'api-paste.ini')
    for i in range(1, N_COMPUTE + 1):
        host = 'testcloud-compute-%d' % i
        vc = dict(v, nova_host=host,
                  nova_state_path=str(DATA / ('nova-compute-%d' % i)))
        text = string.Template((TEMPLATES / 'nova.conf').read_text()
                               ).substitute(vc)
        dest = ETC / 'nova' / ('nova-compute-%d.conf' % i)
        text = strip_db_connections(text)
        if not dest.exists() or dest.read_text() != text:
            dest.write_text(text)
        (DATA / ('nova-compute-%d' % i) / 'instances').mkdir(
            parents=True, exist_ok=True)
    (DATA / 'nova').mkdir(parents=True, exist_ok=True)

    render('glance-api.conf', ETC / 'glance' / 'glance-api.conf', v)
    shutil.copyfile(venv_etc / 'glance' / 'glance-api-paste.ini',
                    ETC / 'glance' / 'glance-api-paste.ini')
    for sub in ('images', 'staging', 'tasks', 'locks'):
        (DATA / 'glance' / sub).mkdir(parents=True, exist_ok=True)

    render('neutron.conf', ETC / 'neutron' / 'neutron.conf', v)
    render('ml2_conf.ini', ETC / 'neutron' / 'plugins' / 'ml2' /
           'ml2_conf.ini', v)
    shutil.copyfile(venv_etc / 'neutron' / 'api-paste.ini',
                    ETC / 'neutron' / 'api-paste.ini')
    (DATA / 'neutron' / 'locks').mkdir(parents=True, exist_ok=True)

    render('cinder.conf', ETC / 'cinder' / 'cinder.conf', v)
    shutil.copyfile(venv_etc / 'cinder' / 'api-paste.ini',
                    ETC / 'cinder' / 'api-paste.ini')
    for sub in ('cinder/locks', 'cinder/coordination', 'cinder-volumes',
                'cinder-backups'):
        (DATA / sub).mkdir(parents=True, exist_ok=True)

    # rabbitmq: runs as the rabbitmq user, needs its dirs
    render('rabbitmq.conf', ETC / 'rabbitmq' / 'rabbitmq.conf', v)
    (ETC / 'rabbitmq' / 'enabled_plugins').write_text('[].\n')
    (DATA / 'rabbitmq').mkdir(parents=True, exist_ok=True)
    shutil.chown(DATA / 'rabbitmq', 'rabbitmq', 'rabbitmq')
    (DATA / 'mysql').mkdir(parents=True, exist_ok=True)
    for p in (D, ETC, ETC / 'rabbitmq', DATA, LOGS, RUN):
        p.chmod(0o755)
    for p in (ETC / 'rabbitmq' / 'rabbitmq.conf',
              ETC / 'rabbitmq' / 'enabled_plugins'):
        p.chmod(0o644)


# --------------------------------------------------------------------------
# process definitions
# --------------------------------------------------------------------------
def os_env(extra=None):
    env = {
        'PATH': '%s:%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:'
                '/sbin:/bin' % (BIN, VENV / 'bin'),
        'HOME': os.environ.get('HOME', '/root'),
        'LANG': 'C.UTF-8',
        'PYTHONUNBUFFERED': '1',
        'OS_KEYSTONE_CONFIG_DIR': str(ETC / 'keystone'),
        'OS_PLACEMENT_CONFIG_DIR': str(ETC / 'placement'),
        'OS_NOVA_CONFIG_DIR': str(ETC / 'nova'),
        'OS_GLANCE_CONFIG_DIR': str(ETC / 'glance'),
        'OS_NEUTRON_CONFIG_DIR': str(ETC / 'neutron'),
    }
    env.update(extra or {})
    return env


def gunicorn(name, module, port, workers=1, wsgi_argv='', threads=None):
    threads = int(os.environ.get(
        'TESTCLOUD_%s_THREADS' % name.upper().replace('-', '_'),
        os.environ.get('TESTCLOUD_GUNICORN_THREADS', threads or 1)))
    argv = [str(VENV / 'bin' / 'gunicorn'), '--no-control-socket',
            '--bind', '127.0.0.1:%d' % port, '--workers', str(workers),
            '--timeout', '300', '--graceful-timeout', '10',
            # nova asks neutron for ports of many servers in one GET: the
            # default 4094-byte request line gives "URI Too Long" at ~30
            # servers
            '--limit-request-line', '0',
            '--limit-request-field_size', '65536',
            '--name', name]
    if threads > 1:
        argv += ['--worker-class', 'gthread', '--threads', str(threads)]
    argv.append('govcloud_testcloud.wsgi.%s:application' % module)
    return argv, os_env({'TESTCLOUD_WSGI_ARGV': wsgi_argv})


def infra_processes():
    mysql_sock = RUN / 'mysql.sock'
    procs = {
        'mariadb': dict(argv=[
            '/usr/sbin/mariadbd', '--no-defaults', '--user=root',
            '--datadir=%s' % (DATA / 'mysql'), '--socket=%s' % mysql_sock,
            '--port=%d' % PORTS['mysql'], '--bind-address=127.0.0.1',
            '--pid-file=%s' % (RUN / 'mariadbd.pid'),
            '--skip-name-resolve', '--skip-log-bin',
            '--max-connections=2000', '--innodb-buffer-pool-size=256M',
            '--innodb-flush-log-at-trx-commit=2', '--skip-innodb-doublewrite',
            '--character-set-server=utf8mb4',
            '--collation-server=utf8mb4_general_ci',
            '--log-error=%s' % (LOGS / 'mariadb.log')]),
        'memcached': dict(argv=[
            '/usr/bin/memcached', '-l', '127.0.0.1', '-p',
            str(PORTS['memcached']), '-U', '0', '-m', '64', '-u', 'nobody']),
        'epmd': dict(argv=['/usr/bin/epmd', '-address', '127.0.0.1',
                           '-port', str(PORTS['epmd'])]),
        'rabbitmq': dict(
            argv=['/usr/lib/rabbitmq/bin/rabbitmq-server'],
            user='rabbitmq', cwd='/var/lib/rabbitmq',
            env={
                'PATH': '/usr/lib/rabbitmq/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                'HOME': '/var/lib/rabbitmq', 'LANG': 'C.UTF-8',
                'RABBITMQ_NODENAME': 'rabbit@localhost',
                'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
                'RABBITMQ_NODE_PORT': str(PORTS['rabbit']),
                'RABBITMQ_DIST_PORT': str(PORTS['rabbit_dist']),
                'ERL_EPMD_ADDRESS': '127.0.0.1',
                'ERL_EPMD_PORT': str(PORTS['epmd']),
                'RABBITMQ_CONFIG_FILE': str(ETC / 'rabbitmq' /
                                            'rabbitmq.conf'),
                'RABBITMQ_ENABLED_PLUGINS_FILE': str(ETC / 'rabbitmq' /
                                                     'enabled_plugins'),
                'RABBITMQ_MNESIA_BASE': str(DATA / 'rabbitmq' / 'mnesia'),
                'RABBITMQ_LOG_BASE': str(DATA / 'rabbitmq' / 'log'),
                'RABBITMQ_LOGS': '-',
                'RABBITMQ_PID_FILE': str(DATA / 'rabbitmq' / 'beam.pid'),
                'RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS':
                    '-kernel inet_dist_use_interface {127,0,0,1}',
            }),
    }
    return procs


def openstack_processes():
    b = VENV / 'bin'
    etc = ETC
    p = {}
    for name, module, port, workers, wargv in (
            ('keystone', 'keystone', PORTS['keystone'],
             os.environ.get('TESTCLOUD_KEYSTONE_WORKERS', '2'), ''),
            ('placement-api', 'placement', PORTS['placement'], 1, ''),
            ('nova-api', 'nova_api', PORTS['nova'],
             os.environ.get('TESTCLOUD_NOVA_API_WORKERS', '2'), ''),
            ('glance-api', 'glance', PORTS['glance'], 1, ''),
            ('neutron-api', 'neutron', PORTS['neutron'],
             os.environ.get('TESTCLOUD_NEUTRON_WORKERS', '1'), ''),
            ('cinder-api', 'cinder', PORTS['cinder'], 1,
             '--config-file %s' % (etc / 'cinder' / 'cinder.conf'))):
        argv, env = gunicorn(name, module, port, workers, wargv)
        p[name] = dict(argv=argv, env=env)
    nova_conf = str(etc / 'nova' / 'nova.conf')
    for svc in ('nova-conductor', 'nova-scheduler'):
        p[svc] = dict(argv=[str(b / svc), '--config-file', nova_conf],
                      env=os_env())
    for i in range(1, N_COMPUTE + 1):
        p['nova-compute-%d' % i] = dict(
            argv=[str(b / 'nova-compute'), '--config-file',
                  str(etc / 'nova' / ('nova-compute-%d.conf' % i))],
            env=os_env())
    cinder_conf = str(etc / 'cinder' / 'cinder.conf')
    for svc in ('cinder-scheduler', 'cinder-volume', 'cinder-backup'):
        p[svc] = dict(argv=[str(b / svc), '--config-file', cinder_conf],
                      env=os_env())
    return p


def all_process_names():
    return list(infra_processes()) + list(openstack_processes())


PROCESS_PORTS = {
    'mariadb': 'mysql', 'memcached': 'memcached', 'epmd': 'epmd',
    'rabbitmq': 'rabbit', 'keystone': 'keystone',
    'placement-api': 'placement', 'nova-api': 'nova', 'glance-api': 'glance',
    'neutron-api': 'neutron', 'cinder-api': 'cinder',
}


def start(name, spec):
    port = PORTS.get(PROCESS_PORTS.get(name, ''), None)
    if port and not is_running(name) and port_open(port):
        raise TestCloudError(
            'cannot start %s: 127.0.0.1:%d is already in use by a process '
            'testcloud did not start (see: ss -ltnp | grep :%d)' % (
                name, port, port))
    return start_process(name, spec['argv'], env=spec.get('env'),
                         user=spec.get('user'), cwd=spec.get('cwd'))


# --------------------------------------------------------------------------
# bootstrap steps
# --------------------------------------------------------------------------
def marker(name):
    return STATE / ('%s.done' % name)


def mysql_cli(sql):
    return run(['/usr/bin/mariadb', '--no-defaults', '-uroot',
                '--socket=%s' % (RUN / 'mysql.sock')], logname='bootstrap',
               input=sql.encode())


def init_mariadb():
    if (DATA / 'mysql' / 'mysql').is_dir():
        return
    if (DATA / 'mysql').exists():
        shutil.rmtree(DATA / 'mysql')
    (DATA / 'mysql').mkdir(parents=True)
    run(['/usr/bin/mariadb-install-db', '--no-defaults', '--user=root',
         '--datadir=%s' % (DATA / 'mysql'), '--skip-test-db',
         '--auth-root-authentication-method=socket'], logname='mariadb')


def create_databases(sec):
    if marker('databases').exists():
        return
    stmts = []
    for db in DATABASES:
        stmts.append('CREATE DATABASE IF NOT EXISTS %s CHARACTER SET utf8mb4;'
                     % db)
    stmts.append("CREATE USER IF NOT EXISTS 'testcloud'@'127.0.0.1' "
                 "IDENTIFIED BY '%s';" % sec['db'])
    stmts.append("CREATE USER IF NOT EXISTS 'testcloud'@'localhost' "
                 "IDENTIFIED BY '%s';" % sec['db'])
    stmts.append("GRANT ALL PRIVILEGES ON *.* TO 'testcloud'@'127.0.0.1';")
    stmts.append("GRANT ALL PRIVILEGES ON *.* TO 'testcloud'@'localhost';")
    stmts.append('FLUSH PRIVILEGES;')
    mysql_cli('\n'.join(stmts))
    marker('databases').touch()


def db_sync_chains(sec):
    b = str(VENV / 'bin')
    env = os_env()
    kc = ['--config-file', str(ETC / 'keystone' / 'keystone.conf')]
    nc = ['--config-file', str(ETC / 'nova' / 'nova.conf')]
    ks = keystone_url() + '/v3/'
    return {
        'keystone': [
            [b + '/keystone-manage'] + kc + ['db_sync'],
            [b + '/keystone-manage'] + kc + [
                'fernet_setup', '--keystone-user', 'root',
                '--keystone-group', 'root'],
            [b + '/keystone-manage'] + kc + [
                'credential_setup', '--keystone-user', 'root',
                '--keystone-group', 'root'],
            [b + '/keystone-manage'] + kc + [
                'bootstrap', '--bootstrap-password', sec['admin'],
                '--bootstrap-username', 'admin',
                '--bootstrap-project-name', 'admin',
                '--bootstrap-role-name', 'admin',
                '--bootstrap-service-name', 'keystone',
                '--bootstrap-region-id', REGION,
                '--bootstrap-admin-url', ks,
                '--bootstrap-internal-url', ks,
                '--bootstrap-public-url', ks],
        ],
        'placement': [[b + '/placement-manage', '--config-file',
                       str(ETC / 'placement' / 'placement.conf'),
                       'db', 'sync']],
        'nova': [
            [b + '/nova-manage'] + nc + ['api_db', 'sync'],
            [b + '/nova-manage'] + nc + ['cell_v2', 'map_cell0'],
            ['sh', '-c', '%s/nova-manage --config-file %s cell_v2 list_cells'
             ' | grep -q " cell1 " || %s/nova-manage --config-file %s '
             'cell_v2 create_cell --name cell1' % (b, nc[1], b, nc[1])],
            [b + '/nova-manage'] + nc + ['db', 'sync'],
        ],
        'glance': [[b + '/glance-manage', '--config-file',
                    str(ETC / 'glance' / 'glance-api.conf'), 'db_sync']],
        'neutron': [[b + '/neutron-db-manage', '--config-file',
                     str(ETC / 'neutron' / 'neutron.conf'), '--config-file',
                     str(ETC / 'neutron' / 'plugins' / 'ml2' /
                         'ml2_conf.ini'), 'upgrade', 'heads']],
        'cinder': [[b + '/cinder-manage', '--config-file',
                    str(ETC / 'cinder' / 'cinder.conf'), 'db', 'sync']],
    }, env


def run_db_syncs(sec):
    chains, env = db_sync_chains(sec)
    todo = {k: v for k, v in chains.items()
            if not marker('dbsync-%s' % k).exists()}
    if not todo:
        log('   all db syncs already done')
        return

    def do(name):
        t = time.monotonic()
        for cmd in todo[name]:
            run(cmd, env=env, logname='dbsync-%s' % name)
        marker('dbsync-%s' % name).touch()
        return name, time.monotonic() - t

    with concurrent.futures.ThreadPoolExecutor(len(todo)) as ex:
        futs = [ex.submit(do, n) for n in todo]
        errors = []
        for f in concurrent.futures.as_completed(futs):
            try:
                name, dt = f.result()
                log('   db sync %-10s %.1fs' % (name, dt))
            except Exception as e:
                errors.append(e)
        if errors:
            raise TestCloudError('\n'.join(str(e) for e in errors))


# --------------------------------------------------------------------------
# openstacksdk-based steps
# --------------------------------------------------------------------------
def admin_conn(sec):
    import openstack
    return openstack.connect(
        auth_url=keystone_url() + '/v3', username='admin',
        password=sec['admin'], project_name='admin',
        user_domain_name='Default', project_domain_name='Default',
        region_name=REGION, identity_api_version='3',
        interface='public')


CATALOG = [
    # (service name, type, url)
    ('placement', 'placement', 'http://127.0.0.1:%d' % PORTS['placement']),
    ('nova', 'compute', 'http://127.0.0.1:%d/v2.1' % PORTS['nova']),
    ('glance', 'image', 'http://127.0.0.1:%d' % PORTS['glance']),
    ('neutron', 'network', 'http://127.0.0.1:%d' % PORTS['neutron']),
    ('cinder', 'block-storage', 'http://127.0.0.1:%d/v3' % PORTS['cinder']),
]


def register_services(sec):
    """Service project/users/roles and catalog; idempotent."""
    conn = admin_conn(sec)
    idn = conn.identity
    project = conn.identity.find_project('service', domain_id='default') or \
        idn.create_project(name='service', domain_id='default',
                           description='OpenStack services')
    roles = {}
    for r in ('admin', 'service', 'member', 'reader'):
        roles[r] = idn.find_role(r) or idn.create_role(name=r)
    for u in SERVICE_USERS:
        user = idn.find_user(u, domain_id='default')
        if user is None:
            user = idn.create_user(name=u, password=sec[u],
                                   domain_id='default',
                                   default_project_id=project.id)
        else:
            idn.update_user(user, password=sec[u])
        for r in ('admin', 'service'):
            conn.grant_role(r, user=user.id, project=project.id)
    existing = {(s.type): s for s in idn.services()}
    endpoints = list(idn.endpoints())
    for name, stype, url in CATALOG:
        svc = existing.get(stype) or idn.create_service(
            name=name, type=stype, is_enabled=True)
        for iface in ('public', 'internal'):
            if not any(e.service_id == svc.id and e.interface == iface
                       for e in endpoints):
                idn.create_endpoint(service_id=svc.id, interface=iface,
                                    url=url, region_id=REGION)
    conn.close()


def api_checks():
    return {
        'keystone': 'http://127.0.0.1:%d/v3' % PORTS['keystone'],
        'placement': 'http://127.0.0.1:%d/' % PORTS['placement'],
        'nova': 'http://127.0.0.1:%d/' % PORTS['nova'],
        'glance': 'http://127.0.0.1:%d/' % PORTS['glance'],
        'neutron': 'http://127.0.0.1:%d/' % PORTS['neutron'],
        'cinder': 'http://127.0.0.1:%d/' % PORTS['cinder'],
    }


def api_answers(url):
    st = http_status(url)
    # root documents answer 200 or 300 (multiple choices)
    return st is not None and st < 500


def cloud_health(sec, timeout):
    """Compute services up, hypervisors in placement, neutron + cinder ok."""
    conn = admin_conn(sec)
    hosts = {'testcloud-compute-%d' % i for i in range(1, N_COMPUTE + 1)}
    discovered = [False]

    def reported_since_start(svc, proc=None):
        # 'up' alone may come from the heartbeat of a previous process
        # (service_down_time is 60s): require one from the current process
        import datetime
        ts = svc.updated_at
        if not ts:
            return False
        dt = datetime.datetime.fromisoformat(ts.replace('Z', ''))
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=datetime.UTC)
        proc = proc or 'nova-compute-%s' % svc.host.rsplit('-', 1)[1]
        return dt.timestamp() >= started_at(proc) - 1

    def computes_up():
        svcs = [s for s in conn.compute.services()
                if s.binary == 'nova-compute' and s.host in hosts]
        # A run stopped part way (a consolidation test killed before it re-enabled the hosts
        # it parked) can leave one of the cloud's own computes disabled: this cloud is the
        # tests', every compute of it starts enabled.
        for s in svcs:
            if s.status == 'disabled':
                log('   enabling %s (disabled: %s)' % (s.host, s.disabled_reason))
                conn.compute.enable_service(s)
        return len(svcs) == len(hosts) and all(
            s.state == 'up' and s.status == 'enabled' and
            reported_since_start(s) for s in svcs)

    wait_for('nova-compute services up', computes_up, timeout, 1,
             proc=['nova-compute-%d' % i for i in range(1, N_COMPUTE + 1)]
             + ['nova-conductor'])

    def rps_ready():
        rps = {rp.name: rp for rp in conn.placement.resource_providers()}
        if not hosts <= set(rps):
            return False
        for h in hosts:
            inv = {i.resource_class: i for i in
                   conn.placement.resource_provider_inventories(rps[h])}
            if 'VCPU' not in inv or 'MEMORY_MB' not in inv:
                return False
        return True

    wait_for('hypervisors registered in placement', rps_ready, timeout, 1)

    def hypervisors_mapped():
        hv = {h.name for h in conn.compute.hypervisors()}
        if hosts <= hv:
            return True
        if not discovered[0]:
            run([str(VENV / 'bin' / 'nova-manage'), '--config-file',
                 str(ETC / 'nova' / 'nova.conf'), 'cell_v2',
                 'discover_hosts'], env=os_env(), logname='bootstrap')
            discovered[0] = True
        return False

    wait_for('hypervisors listed by nova (cell mapping)', hypervisors_mapped,
             timeout, 1)
    if not marker('hosts-discovered').exists():
        # the scheduler discovers every 10s; make sure host mappings exist
        run([str(VENV / 'bin' / 'nova-manage'), '--config-file',
             str(ETC / 'nova' / 'nova.conf'), 'cell_v2', 'discover_hosts'],
            env=os_env(), logname='bootstrap')
        marker('hosts-discovered').touch()

    def neutron_ok():
        list(conn.network.networks(limit=1))
        return True

    wait_for('neutron answers', neutron_ok, timeout, 1,
             proc=['neutron-api'])

    def cinder_ok():
        svcs = list(conn.block_storage.services())
        vol = [s for s in svcs if s.binary == 'cinder-volume']
        sch = [s for s in svcs if s.binary == 'cinder-scheduler']
        return (vol and sch and all(
            s.state == 'up' and reported_since_start(s, s.binary)
            for s in vol + sch))

    wait_for('cinder-volume and cinder-scheduler up', cinder_ok, timeout, 1,
             proc=['cinder-api', 'cinder-volume', 'cinder-scheduler'])

    def cinder_pools_known():
        # A service can be 'up' before the scheduler has heard its pools'
        # capacity: until then every volume create fails with NoValidBackend
        # ("AvailabilityZoneFilter: (start: 0, end: 0)").  The volume service
        # publishes its stats every backend_stats_polling_interval.
        return bool(list(conn.block_storage.backend_pools()))

    wait_for('cinder-scheduler knows the volume pools', cinder_pools_known,
             timeout, 1, proc=['cinder-volume', 'cinder-scheduler'])

    def glance_ok():
        list(conn.image.images(limit=1))
        return True

    wait_for('glance answers', glance_ok, timeout, 1, proc=['glance-api'])
    conn.close()


def parse_flavors():
    f = os.environ.get('TESTCLOUD_FLAVORS_FILE')
    if f:
        import yaml
        data = yaml.safe_load(Path(f).read_text())
        if isinstance(data, dict):
            data = data.get('flavors', data)
            if isinstance(data, dict):
                data = [dict(v, name=k) for k, v in data.items()]
        return [dict(name=d['name'], vcpus=int(d['vcpus']),
                     ram=int(d.get('ram', d.get('ram_mb', 0))),
                     disk=int(d.get('disk', d.get('disk_gb', 0))))
                for d in data]
    out = []
    for item in os.environ.get('TESTCLOUD_FLAVORS', DEFAULT_FLAVORS).split(
            ','):
        item = item.strip()
        if not item:
            continue
        name, vcpus, ram, disk = item.split(':')
        out.append(dict(name=name, vcpus=int(vcpus), ram=int(ram),
                        disk=int(disk)))
    return out


def fake_image_bytes(name):
    """A small raw 'disk': an MBR with one partition and the name inside."""
    size = 64 * 1024
    buf = bytearray(size)
    tag = ('govcloud-testcloud fake image %s\n' % name).encode()
    buf[0:len(tag)] = tag
    # one Linux partition entry covering the rest of the 64 KiB
    entry = bytes([0x80, 0, 2, 0, 0x83, 0, 0, 0]) + \
        (1).to_bytes(4, 'little') + (size // 512 - 1).to_bytes(4, 'little')
    buf[446:446 + 16] = entry
    buf[510:512] = b'\x55\xaa'
    return bytes(buf)


def desired_resources():
    return {
        'flavors': parse_flavors(),
        'images': [i.strip() for i in os.environ.get(
            'TESTCLOUD_IMAGES', DEFAULT_IMAGES).split(',') if i.strip()],
        'external_network': os.environ.get('TESTCLOUD_EXTERNAL_NETWORK',
                                           '1') not in ('0', 'false', 'no'),
        'quotas': 'admin-unlimited-v1',
    }


def ensure_resources(sec):
    want = desired_resources()
    stamp = hashlib.sha256(json.dumps(want, sort_keys=True).encode()
                           ).hexdigest()
    m = marker('resources')
    if m.exists() and m.read_text() == stamp:
        log('   flavors/images/quotas unchanged')
        return
    conn = admin_conn(sec)
    admin_project = conn.identity.find_project('admin', domain_id='default')

    for fl in want['flavors']:
        cur = conn.compute.find_flavor(fl['name'], ignore_missing=True)
        if cur and (cur.vcpus, cur.ram, cur.disk) != (fl['vcpus'], fl['ram'],
                                                      fl['disk']):
            conn.compute.delete_flavor(cur)
            cur = None
        if not cur:
            conn.compute.create_flavor(name=fl['name'], vcpus=fl['vcpus'],
                                       ram=fl['ram'], disk=fl['disk'],
                                       is_public=True)
            log('   flavor %s created' % fl['name'])

    for name in want['images']:
        imgs = [i for i in conn.image.images(name=name)]
        if imgs and all(i.status == 'active' for i in imgs):
            continue
        for i in imgs:
            conn.image.delete_image(i)
        img = conn.image.create_image(
            name=name, disk_format='raw', container_format='bare',
            visibility='public', data=fake_image_bytes(name),
            properties={'os_distro': name.split('-')[0],
                        'govcloud_testcloud': 'true'})
        log('   image %s created (%s)' % (name, img.id))
        wait_for('image %s active' % name,
                 lambda img_id=img.id: conn.image.get_image(img_id).status == 'active',
                 60)

    # admin project: effectively unlimited (tests run ~100 servers at once)
    conn.compute.update_quota_set(
        admin_project.id, instances=-1, cores=-1, ram=-1, key_pairs=-1,
        metadata_items=-1, server_groups=-1, server_group_members=-1)
    conn.network.update_quota(
        admin_project.id, networks=-1, subnets=-1, ports=-1, routers=-1,
        floating_ips=-1, security_groups=-1, security_group_rules=-1)
    conn.block_storage.update_quota_set(
        admin_project.id, volumes=-1, gigabytes=-1, snapshots=-1,
        backups=-1, backup_gigabytes=-1)
    log('   admin project quotas set to unlimited')

    if want['external_network']:
        net = conn.network.find_network('public')
        if not net:
            net = conn.network.create_network(
                name='public', is_router_external=True, is_shared=False,
                provider_network_type='flat',
                provider_physical_network='public')
            log('   external network public created')
        if not conn.network.find_subnet('public-subnet'):
            conn.network.create_subnet(
                name='public-subnet', network_id=net.id, ip_version=4,
                cidr='172.24.4.0/24', gateway_ip='172.24.4.1',
                allocation_pools=[{'start': '172.24.4.10',
                                   'end': '172.24.4.250'}],
                is_dhcp_enabled=False)
    conn.close()
    m.write_text(stamp)


def write_client_config(sec):
    cy = D / 'clouds.yaml'
    text = (
        '# Written by testcloud/up: the govcloud OpenStack test cloud.\n'
        '# export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s\n'
        'clouds:\n'
        '  %s:\n'
        '    auth:\n'
        '      auth_url: %s/v3\n'
        '      username: admin\n'
        '      password: "%s"\n'
        '      project_name: admin\n'
        '      user_domain_name: Default\n'
        '      project_domain_name: Default\n'
        '    region_name: %s\n'
        '    identity_api_version: 3\n'
        '    interface: public\n'
    ) % (cy, CLOUD_NAME, CLOUD_NAME, keystone_url(), sec['admin'], REGION)
    cy.write_text(text)
    cy.chmod(0o644)
    (D / 'openrc').write_text(
        'export OS_CLIENT_CONFIG_FILE=%s\nexport OS_CLOUD=%s\n'
        'export PATH=%s:$PATH\n' % (cy, CLOUD_NAME, VENV / 'bin'))
    return cy


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def cmd_up(args):
    import fcntl
    D.mkdir(parents=True, exist_ok=True)
    lock = open(D / '.up.lock', 'w')
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        log('another testcloud/up is running; waiting for it')
        fcntl.flock(lock, fcntl.LOCK_EX)
    sec = load_secrets()
    infra = infra_processes()
    ostack = openstack_processes()
    names = list(infra) + list(ostack)
    all_up = all(is_running(n) for n in names)
    timeout = args.timeout

    if all_up and marker('bootstrap-complete').exists():
        with Phase('health check (already running)'):
            configure(sec)
            for svc, url in api_checks().items():
                # a running API can be slow to answer on a loaded machine (seen: nova's
                # gunicorn, 5 s): give each a minute before calling the cloud broken
                wait_for('%s API at %s' % (svc, url), lambda url=url: api_answers(url),
                         60, 1.0)
            if not port_open(PORTS['rabbit']):
                raise TestCloudError('rabbitmq does not answer')
            cloud_health(sec, 60)
        with Phase('resources'):
            ensure_resources(sec)
        cy = write_client_config(sec)
        finish(cy)
        return

    with Phase('configure'):
        configure(sec)
        init_mariadb()

    with Phase('start mariadb + rabbitmq'):
        for n, spec in infra.items():
            if not is_running(n):
                start(n, spec)
                if n == 'epmd':
                    wait_for('epmd', lambda: port_open(PORTS['epmd']), 10,
                             0.1, proc=['epmd'])
        wait_for('mariadb', lambda: (RUN / 'mysql.sock').exists() and
                 port_open(PORTS['mysql']), timeout, 0.2, proc=['mariadb'])
        wait_for('rabbitmq', lambda: amqp_ok(PORTS['rabbit']), timeout, 0.5,
                 proc=['rabbitmq'])
        wait_for('memcached', lambda: port_open(PORTS['memcached']), 10,
                 0.1, proc=['memcached'])

    with Phase('databases + db syncs'):
        create_databases(sec)
        run_db_syncs(sec)

    with Phase('keystone + catalog'):
        start('keystone', ostack['keystone'])
        wait_for('keystone API', lambda: http_status(
            api_checks()['keystone']) == 200, timeout, 0.3,
            proc=['keystone'])
        if not marker('catalog').exists():
            register_services(sec)
            marker('catalog').touch()

    with Phase('start nova, glance, neutron, cinder, placement'):
        for n, spec in ostack.items():
            if not is_running(n):
                start(n, spec)
        for svc, url in api_checks().items():
            proc = {'placement': ['placement-api'], 'nova': ['nova-api'],
                    'glance': ['glance-api'], 'neutron': ['neutron-api'],
                    'cinder': ['cinder-api'], 'keystone': ['keystone']}[svc]
            wait_for('%s API' % svc, lambda url=url: api_answers(url),
                     timeout, 0.3, proc=proc)
            log('   %s API answers' % svc)

    with Phase('health check (compute, placement, neutron, cinder)'):
        cloud_health(sec, timeout)

    with Phase('resources (flavors, images, quotas, external net)'):
        ensure_resources(sec)

    marker('bootstrap-complete').touch()
    cy = write_client_config(sec)
    finish(cy)


def finish(cy):
    total = time.monotonic() - T0
    print('')
    print('Phase timings:')
    for name, dt, ok in Phase.timings:
        print('  %-55s %6.1fs%s' % (name, dt, '' if ok else '  FAILED'))
    print('  %-55s %6.1fs' % ('total (this script)', total))
    print('')
    print('govcloud test cloud is up. clouds.yaml: %s (cloud %s)' % (
        cy, CLOUD_NAME))
    print('  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=%s' % (cy, CLOUD_NAME))


def cmd_down(args):
    names = all_process_names()
    # also anything with a pid file we do not know (e.g. more compute hosts
    # from an earlier run with a larger TESTCLOUD_COMPUTE_HOSTS)
    known = set(names)
    extra = sorted(p.stem for p in RUN.glob('*.pid')
                   if p.stem not in known and p.stem != 'mariadbd') \
        if RUN.is_dir() else []
    order = [n for n in reversed(names) if n not in infra_processes()] + \
        extra + ['rabbitmq', 'epmd', 'memcached', 'mariadb']
    stopped = []
    # OpenStack services in parallel (they are independent), infra after
    infra = ('rabbitmq', 'epmd', 'memcached', 'mariadb')
    ostack = [n for n in order if n not in infra]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        for n, r in zip(ostack, ex.map(stop_process, ostack), strict=True):
            if r:
                stopped.append(n)
    for n in infra:
        if stop_process(n, timeout=60):
            stopped.append(n)
    log('stopped: %s' % (', '.join(stopped) or 'nothing was running'))
    if args.purge:
        if D.exists():
            shutil.rmtree(D)
        log('removed %s' % D)


def cmd_status(args):
    rc = 0
    for n in all_process_names():
        pid, _ = read_pidfile(n)
        up = is_running(n)
        if not up:
            rc = 1
        print('%-18s %-8s %s' % (n, 'running' if up else 'stopped',
                                 pid or ''))
    for svc, url in api_checks().items():
        print('%-18s %s' % (svc + ' API', 'answers' if api_answers(url)
                            else 'no answer'))
    return rc


def cmd_logs(args):
    if not LOGS.is_dir():
        print('no logs under %s' % LOGS)
        return 1
    files = sorted(LOGS.glob('*.log'))
    if args.service:
        files = [f for f in files if any(s in f.stem for s in args.service)]
    for f in files:
        print('==================== %s (last %d lines)' % (f, args.lines))
        print(tail(f, args.lines))
    return 0


def main():
    ap = argparse.ArgumentParser(prog='testcloud')
    sub = ap.add_subparsers(dest='cmd', required=True)
    up = sub.add_parser('up')
    up.add_argument('--timeout', type=int, default=int(
        os.environ.get('TESTCLOUD_TIMEOUT', 240)))
    dn = sub.add_parser('down')
    dn.add_argument('--purge', action='store_true',
                    help='also delete %s' % D)
    sub.add_parser('status')
    lg = sub.add_parser('logs')
    lg.add_argument('-n', '--lines', type=int, default=40)
    lg.add_argument('service', nargs='*')
    args = ap.parse_args()
    if args.cmd == 'up':
        try:
            cmd_up(args)
        except TestCloudError as e:
            print('\nERROR: %s' % e, file=sys.stderr)
            dead = [n for n in all_process_names()
                    if (RUN / ('%s.pid' % n)).exists() and not is_running(n)]
            for n in dead:
                print('\n---- %s is not running; last lines of %s:\n%s' % (
                    n, LOGS / (n + '.log'), tail(LOGS / (n + '.log'), 30)),
                    file=sys.stderr)
            print('Logs: %s   (testcloud/logs prints their tails)' % LOGS,
                  file=sys.stderr)
            return 1
        return 0
    return {'down': cmd_down, 'status': cmd_status,
            'logs': cmd_logs}[args.cmd](args) or 0


if __name__ == '__main__':
    sys.exit(main())
