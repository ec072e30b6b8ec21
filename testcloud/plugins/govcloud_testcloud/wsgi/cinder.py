"""gunicorn entry point: cinder.wsgi.api:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('cinder-api')

from cinder.wsgi.api import application  # noqa: E402,F401
