"""Settings for the test suite: tasks run eagerly in-process (unless told not to); each test gets its own warehouse."""

import os
from pathlib import Path

from archive_portal.settings.base import *  # noqa: F403
from archive_portal.settings.base import BASE_DIR
from archive_portal.settings.env import env_bool, env_str

# Read from the environment with test defaults, never written to it: a subprocess that a test
# starts with these settings derives the same values itself.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "test-only-not-secret")
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "archive-test")
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "archive-test-secret")
VAR_DIR = Path(env_str("ARCHIVE_VAR_DIR", str(BASE_DIR / "var" / "test")))

# A test database of its own per run, so two runs on one machine never drop each other's.
DATABASES["default"]["TEST"] = {"NAME": f"test_archive_portal_{os.getpid()}"}  # noqa: F405
# Eager by default; a worker and the CLI processes that a test starts to exercise the real dispatch
# path set ARCHIVE_TEST_CELERY_EAGER=false (and a queue of their own, ARCHIVE_WAREHOUSE_QUEUE).
CELERY_TASK_ALWAYS_EAGER = env_bool("ARCHIVE_TEST_CELERY_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
# A private Redis database keeps test keys away from a running `make run`.
REDIS_URL = env_str("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
CELERY_BROKER_URL = REDIS_URL
ARCHIVE_RESTORE_REDIS_URL = ARCHIVE_RESTORE_CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
# One chDB engine per process: each test process (and each subprocess a test starts) has its own path.
CLICKHOUSE_URL = f"chdb://{env_str('TEST_CHDB_PATH', '') or VAR_DIR / 'chdb' / str(os.getpid())}"
ARCHIVE_MIGRATE_WAREHOUSE = False
ARCHIVE_EXPORT_CLAIM_IDLE_MS = 1000
ARCHIVE_EXPORT_BATCH_SECONDS = 0.2
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No collectstatic in tests: let WhiteNoise look files up as they are requested.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True
# Tests run one thing at a time, so tiering and orphan cleanup need no grace period.
ARCHIVE_TIERING_GRACE_SECONDS = 0
ARCHIVE_ORPHAN_MIN_AGE_SECONDS = 0
# Each test has its own stream: a health report cached from another test would mislead.
HEALTH_CACHE_SECONDS = 0
# The metrics files of this run's processes only: its CLI and worker subprocesses inherit the variable
# (apps.operations.metrics sets it in the environment from this setting on import).
ARCHIVE_METRICS_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics" / str(os.getpid()))))
CLICKHOUSE_USER_FILES_PATH = VAR_DIR / "chdb-user-files"
ARCHIVE_SUBJECT_KEY_SECRET = env_str("ARCHIVE_SUBJECT_KEY_SECRET", "test-only-subject-keys")
