"""gunicorn entry point: nova.wsgi.osapi_compute:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('nova-api')

from nova.wsgi.osapi_compute import application  # noqa: E402,F401
