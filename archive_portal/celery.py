"""The Celery app of the portal: settings come from Django's CELERY_* names."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "archive_portal.settings.local")

app = Celery("archive_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
