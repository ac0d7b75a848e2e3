"""Settings for `make run` on one machine: debug on, development credentials for SeaweedFS."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-secret")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "archive-dev")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "archive-dev-secret")

from archive_portal.settings.base import *  # noqa: E402,F403

DEBUG = True
