"""gunicorn entry point: neutron.wsgi.api:application with a clean sys.argv."""
from govcloud_testcloud.wsgi import reset_argv

reset_argv('neutron-api')

from neutron.wsgi.api import application  # noqa: E402,F401
