"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

# Servers default to production; only manage.py defaults to local (`make run` sets local for all).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_portal.settings.production")
application = get_wsgi_application()

from apps.warehouse.client import forbid_in_this_process  # noqa: E402  (apps are loaded now)

# Pages and the admin submit warehouse work to the worker that owns it; this process never opens it.
forbid_in_this_process("the web process")
