"""The Celery app of the portal: settings come from Django's CELERY_* names."""

import os

from celery import Celery

# Servers default to production; only manage.py defaults to local (`make run` sets local for all).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_portal.settings.production")

app = Celery("archive_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
