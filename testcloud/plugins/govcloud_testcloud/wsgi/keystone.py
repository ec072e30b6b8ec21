"""gunicorn entry point: keystone.wsgi.api:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('keystone-api')

from keystone.wsgi.api import application  # noqa: E402,F401
