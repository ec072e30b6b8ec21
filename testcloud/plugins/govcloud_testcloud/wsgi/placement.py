"""gunicorn entry point: placement.wsgi.api:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('placement-api')

from placement.wsgi.api import application  # noqa: E402,F401
