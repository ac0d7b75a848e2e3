"""Settings for `make run` on one machine: debug on, development credentials for SeaweedFS."""

from archive_portal.settings.base import *  # noqa: F403
from archive_portal.settings.env import env_str

DEBUG = True
# Development values where the environment sets none; base.py (and so production) has none.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "local-development-only-not-secret")
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "archive-dev")
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "archive-dev-secret")
ARCHIVE_SUBJECT_KEY_SECRET = env_str("ARCHIVE_SUBJECT_KEY_SECRET", "local-development-only-subject-keys")
