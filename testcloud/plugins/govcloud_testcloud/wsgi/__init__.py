"""WSGI entry points for running OpenStack APIs under gunicorn.

oslo.config parses ``sys.argv``; under gunicorn that is gunicorn's own command
line and the workers die with "unrecognized arguments".  Each module here
resets ``sys.argv`` before importing the real application.  Extra arguments
(e.g. ``--config-file``) come from the TESTCLOUD_WSGI_ARGV environment
variable; config directories come from the services' own OS_*_CONFIG_DIR
variables, which testcloud sets.
"""
import os
import shlex
import sys


def reset_argv(prog):
    sys.argv = [prog] + shlex.split(os.environ.get('TESTCLOUD_WSGI_ARGV', ''))
