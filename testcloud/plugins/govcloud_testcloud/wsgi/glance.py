"""gunicorn entry point: glance.wsgi.api:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('glance-api')

from glance.wsgi.api import application  # noqa: E402,F401
