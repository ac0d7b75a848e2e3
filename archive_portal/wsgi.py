"""WSGI entry point."""

import os

from django.core.wsgi import get_wsgi_application

# Servers default to production; only manage.py defaults to local (`make run` sets local for all).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_portal.settings.production")
application = get_wsgi_application()
