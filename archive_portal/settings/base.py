"""Settings shared by every environment; values come from the environment (12-factor)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from archive_portal.settings.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("ARCHIVE_VAR_DIR", str(BASE_DIR / "var")))

# No default here: production requires one, local and test give their own development keys.
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "auditlog",
    "django_celery_beat",
    "axes",
    "apps.core",
    "apps.accounts",
    "apps.operations",
    "apps.records",
    "apps.stream",
    "apps.warehouse",
    "apps.lake",
    "apps.exports",
    "apps.schemas",
    "apps.rehydration",
    "apps.retention",
    "apps.audit",
    "apps.approvals",
    "apps.compliance",
    "apps.erasure",
    "apps.explorer",
    "apps.restore",
    "apps.api",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "apps.dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/ (collectstatic output) from the WSGI app: gunicorn needs no separate server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, as django-axes asks: it turns a login refused for too many failures into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "archive_portal.urls"
WSGI_APPLICATION = "archive_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/archive_portal"),
        conn_max_age=60,
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# AxesStandaloneBackend first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "login"

# --- Login throttling (django-axes; README, "Roles") ---------------------------
# After this many failed logins for one username from one address, that pair is locked out for the
# cool-off; other addresses can still log in as the user, so an attacker cannot lock a user out.
# Both /login/ and the admin's login go through the same backend, so both are throttled.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# An attempt during the cool-off does not restart it: the lockout page's "try again after" holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "apps.accounts.views.locked_out"  # templates/registration/locked_out.html, status 429
AXES_CLIENT_IP_CALLABLE = "apps.accounts.addresses.client_address"
# No log of successful logins with their addresses in axes' tables: the audit chain records logins
# (without the full address); axes keeps only the failed attempts it needs, until they expire.
AXES_DISABLE_ACCESS_LOG = True
# Proxies in front of the web that append to X-Forwarded-For (apps/accounts/addresses.py); 0: none.
ARCHIVE_TRUSTED_PROXIES = env_int("ARCHIVE_TRUSTED_PROXIES", 0)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# The portal's own scripts and the vendored libraries they use (static/vendor/README.md): no CDN.
STATICFILES_DIRS = [BASE_DIR / "static"]

# The REST API (apps/api, docs/api.md): token or session authentication, the roles' permissions per
# view, one error shape, cursor pagination, throttling per user (and per address before login).
REST_FRAMEWORK = {
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "apps.api.permissions.RolePermission"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.NewestFirst",
    "DEFAULT_SCHEMA_CLASS": "apps.api.schema.PortalAutoSchema",  # documents the error answers too
    "EXCEPTION_HANDLER": "apps.api.errors.handle",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle",
                                 "rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_THROTTLE_USER", "1200/min"),
                               "anon": env_str("API_THROTTLE_ANON", "60/min")},
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Archive Portal API",
    "DESCRIPTION": "Long-term archives of a Redis job queue: jobs, query runs, stats and health (docs/api.md).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],  # the schema and docs need a login too
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Redis and Celery -------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False
# Tasks that open the warehouse run on this queue; in embedded mode one worker owns it (its `-Q` must name it).
WAREHOUSE_QUEUE = env_str("ARCHIVE_WAREHOUSE_QUEUE", "warehouse")
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "apps.warehouse.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.exports.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.schemas.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.retention.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.rehydration.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.erasure.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.explorer.tasks.*": {"queue": WAREHOUSE_QUEUE},
    "apps.dashboard.tasks.*": {"queue": WAREHOUSE_QUEUE},
}

# --- The archive stream (contract v1, docs/stream-contract.md) ---------------
ARCHIVE_STREAM = env_str("ARCHIVE_STREAM", "archive:completed")
ARCHIVE_CONSUMER_GROUP = env_str("ARCHIVE_CONSUMER_GROUP", "archive-exporter")
# Record the outcome of this portal's own Celery tasks into the stream (docs/stream-contract.md).
ARCHIVE_RECORD_CELERY_TASKS = env_bool("ARCHIVE_RECORD_CELERY_TASKS", False)
CELERY_IMPORTS = ["apps.stream.celery_integration"] if ARCHIVE_RECORD_CELERY_TASKS else []

# --- The exporter -------------------------------------------------------------
# Larger batches cost memory (about 250 bytes of Arrow per record) but amortise each Iceberg
# commit and give fewer, larger Parquet files; see docs/exporter.md for measurements.
ARCHIVE_EXPORT_BATCH_SIZE = env_int("ARCHIVE_EXPORT_BATCH_SIZE", 20_000)
ARCHIVE_EXPORT_BATCH_SECONDS = env_float("ARCHIVE_EXPORT_BATCH_SECONDS", 2.0)
# Entries delivered to another consumer and idle this long are taken over.
ARCHIVE_EXPORT_CLAIM_IDLE_MS = env_int("ARCHIVE_EXPORT_CLAIM_IDLE_MS", 60_000)
# A record (job_id, retries) is archived at most once within this window of its enqueue time and
# of its archival (docs/exporter.md, "Duplicates"); a duration such as 7d or 36h.
ARCHIVE_DEDUP_WINDOW = env_str("ARCHIVE_DEDUP_WINDOW", "7d")
ARCHIVE_SINK_CLICKHOUSE = env_bool("ARCHIVE_SINK_CLICKHOUSE", True)
# Dead letters (their stream and rows hold the raw entry, payload included) are kept this long for
# someone to fix and re-queue them; the retention run removes older ones. 0 keeps them forever.
ARCHIVE_DEAD_LETTER_DAYS = env_int("ARCHIVE_DEAD_LETTER_DAYS", 30)
# Export errors are kept this long (the status page shows the latest); the retention run prunes them.
ARCHIVE_EXPORT_ERROR_DAYS = env_int("ARCHIVE_EXPORT_ERROR_DAYS", 30)
ARCHIVE_SINK_ICEBERG = env_bool("ARCHIVE_SINK_ICEBERG", True)
# --- Retention: built-in defaults; retention policies in the admin override them (docs/retention.md)
ARCHIVE_REDIS_RETENTION_HOURS = env_int("ARCHIVE_REDIS_RETENTION_HOURS", 24)
ARCHIVE_WARM_DAYS = env_int("ARCHIVE_WARM_DAYS", 30)
ARCHIVE_COLD_DAYS = env_int("ARCHIVE_COLD_DAYS", 0)  # 0 = keep forever
ARCHIVE_MAX_RECORDS = env_int("ARCHIVE_MAX_RECORDS", 0)  # 0 = no cap
ARCHIVE_PAYLOAD_MODE = env_str("ARCHIVE_PAYLOAD_MODE", "sample")  # none, hash, sample, full
ARCHIVE_KEEP_FAILURES = env_bool("ARCHIVE_KEEP_FAILURES", True)
# Warm rows of a (day, queue, outcome) served from the cold tier are deleted only after this long,
# so a query that started before the switch still finds them.
ARCHIVE_TIERING_GRACE_SECONDS = env_int("ARCHIVE_TIERING_GRACE_SECONDS", 60)
# Unreferenced cold-tier files younger than this are kept: they may belong to a commit in flight.
ARCHIVE_ORPHAN_MIN_AGE_SECONDS = env_int("ARCHIVE_ORPHAN_MIN_AGE_SECONDS", 3600)
ARCHIVE_PAYLOAD_SAMPLE_RATE = env_float("ARCHIVE_PAYLOAD_SAMPLE_RATE", 0.01)
ARCHIVE_PAYLOAD_SAMPLE_MAX_BYTES = env_int("ARCHIVE_PAYLOAD_SAMPLE_MAX_BYTES", 4096)
ARCHIVE_PAYLOAD_MAX_BYTES = env_int("ARCHIVE_PAYLOAD_MAX_BYTES", 1_048_576)
ARCHIVE_ERROR_MSG_MAX_BYTES = env_int("ARCHIVE_ERROR_MSG_MAX_BYTES", 8192)
# Extra redaction patterns, name=regex, separated by ";;" (docs/redaction.md).
ARCHIVE_REDACTION_EXTRA = env_str("ARCHIVE_REDACTION_EXTRA", "")
# Feed realistic demo jobs into the stream while `make run` runs.
ARCHIVE_DEMO_JOBS_PER_SECOND = env_float("ARCHIVE_DEMO_JOBS_PER_SECOND", 5.0)

# --- ClickHouse (warm tier) ---------------------------------------------------
CLICKHOUSE_URL = env_str("CLICKHOUSE_URL", f"chdb://{VAR_DIR / 'chdb'}")
CLICKHOUSE_DATABASE = env_str("CLICKHOUSE_DATABASE", "archive")
CLICKHOUSE_QUERY_MAX_SECONDS = env_int("CLICKHOUSE_QUERY_MAX_SECONDS", 30)
CLICKHOUSE_QUERY_MAX_ROWS = env_int("CLICKHOUSE_QUERY_MAX_ROWS", 10_000)
CLICKHOUSE_QUERY_MAX_MEMORY = env_int("CLICKHOUSE_QUERY_MAX_MEMORY", 2_000_000_000)
# What one analyst query may read (rows and uncompressed bytes, summed over the tables it reads):
# room for full scans of a large warm tier, while a runaway scan stops instead of running for its whole time cap.
CLICKHOUSE_QUERY_MAX_ROWS_TO_READ = env_int("CLICKHOUSE_QUERY_MAX_ROWS_TO_READ", 1_000_000_000)
CLICKHOUSE_QUERY_MAX_BYTES_TO_READ = env_int("CLICKHOUSE_QUERY_MAX_BYTES_TO_READ", 100_000_000_000)
# The embedded engine's user_files_path: an empty directory of the portal's own, never a system one.
CLICKHOUSE_USER_FILES_PATH = Path(env_str("CLICKHOUSE_USER_FILES_PATH", str(VAR_DIR / "chdb-user-files")))

# --- Subject keys (apps/compliance/subject_keys.py) ------------------------------
# Identifiers of people are stored only as HMAC-SHA256 under this secret. Changing it makes every
# stored key unfindable (erasure, holds, subject access): set it once, keep it like SECRET_KEY.
ARCHIVE_SUBJECT_KEY_SECRET = env_str("ARCHIVE_SUBJECT_KEY_SECRET", "")
# A subject-access bundle (GDPR art. 15) can be downloaded for this many hours after it is built;
# then the beat task deletes it, every version of its objects (a request never built expires too).
ARCHIVE_SUBJECT_ACCESS_HOURS = env_int("ARCHIVE_SUBJECT_ACCESS_HOURS", 72)

# --- Explorer (docs/explorer.md) ----------------------------------------------
# A query run's stored result (Parquet under S3_LIFECYCLE_RESULTS_PREFIX) is deleted after this many days.
ARCHIVE_QUERY_RESULT_DAYS = env_int("ARCHIVE_QUERY_RESULT_DAYS", 7)
# A run keeps its SQL and parameters in its owner's history this long, then only their SHA-256.
ARCHIVE_QUERY_HISTORY_DAYS = env_int("ARCHIVE_QUERY_HISTORY_DAYS", 90)
# The rollups as Parquet in the lake bucket (apps.warehouse.rollups.to_lake), under this prefix; each
# run rewrites the newest this many months of each rollup, and any month the lake lacks.
ARCHIVE_ROLLUPS_PREFIX = env_str("ARCHIVE_ROLLUPS_PREFIX", "rollups/")
ARCHIVE_ROLLUPS_LAKE_MONTHS = env_int("ARCHIVE_ROLLUPS_LAKE_MONTHS", 2)

# --- Restore into the live queue (docs/explorer.md, Restore) -------------------
# Where restored jobs go: the Redis of the live lists and streams, and the broker of the Celery app
# whose tasks are restored (both default to the portal's own).
ARCHIVE_RESTORE_REDIS_URL = env_str("ARCHIVE_RESTORE_REDIS_URL", REDIS_URL)
ARCHIVE_RESTORE_CELERY_BROKER_URL = env_str("ARCHIVE_RESTORE_CELERY_BROKER_URL", CELERY_BROKER_URL)
# One restore sends at most this many jobs; a larger selection is refused (narrow it).
ARCHIVE_RESTORE_MAX_JOBS = env_int("ARCHIVE_RESTORE_MAX_JOBS", 10_000)

# --- S3 and Iceberg (cold tier) -----------------------------------------------
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL", "http://127.0.0.1:8333")
S3_BUCKET = env_str("S3_BUCKET", "archive")
# Empty means the default AWS credential chain; local and test give SeaweedFS development keys.
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "")
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "")
AWS_REGION = env_str("AWS_REGION", "us-east-1")
S3_CONNECT_TIMEOUT = env_float("S3_CONNECT_TIMEOUT", 3.0)
S3_READ_TIMEOUT = env_float("S3_READ_TIMEOUT", 20.0)
# The audit chain's digests (apps/audit/anchors.py, docs/compliance.md): a bucket of their own, created
# with Object Lock; each digest is kept in compliance mode for this many days (2557 = 7 years).
S3_AUDIT_BUCKET = env_str("S3_AUDIT_BUCKET", "archive-audit")
ARCHIVE_AUDIT_DIGEST_RETAIN_DAYS = env_int("ARCHIVE_AUDIT_DIGEST_RETAIN_DAYS", 2557)
ICEBERG_NAMESPACE = env_str("ICEBERG_NAMESPACE", "archive")
ICEBERG_TABLE = env_str("ICEBERG_TABLE", "jobs")

# --- Bucket lifecycle (`archive lifecycle`, docs/operations.md); 0 days turns a rule off ----
# Rules never expire current objects under the Iceberg warehouse: the table still references them.
S3_LIFECYCLE_ABORT_MULTIPART_DAYS = env_int("S3_LIFECYCLE_ABORT_MULTIPART_DAYS", 7)
# Old versions exist only on a versioned bucket; deleted Iceberg files (erasure) linger there until expired.
S3_LIFECYCLE_NONCURRENT_DAYS = env_int("S3_LIFECYCLE_NONCURRENT_DAYS", 30)
S3_LIFECYCLE_RESULTS_PREFIX = env_str("S3_LIFECYCLE_RESULTS_PREFIX", "results/")
S3_LIFECYCLE_RESULTS_DAYS = env_int("S3_LIFECYCLE_RESULTS_DAYS", 30)
# Only classes readable without a restore: a Glacier Flexible/Deep Archive file breaks every cold read.
S3_LIFECYCLE_COLD_STORAGE_CLASS = env_str("S3_LIFECYCLE_COLD_STORAGE_CLASS", "GLACIER_IR")
S3_LIFECYCLE_COLD_TRANSITION_DAYS = env_int("S3_LIFECYCLE_COLD_TRANSITION_DAYS", 90)

# --- Rehydration: cold data copied back into ClickHouse for a while (`archive rehydrate`) ----
REHYDRATION_DEFAULT_EXPIRY = env_str("REHYDRATION_DEFAULT_EXPIRY", "7d")
REHYDRATION_MAX_EXPIRY = env_str("REHYDRATION_MAX_EXPIRY", "90d")

# Django runs the warehouse migrations (ClickHouse and Iceberg) after its own.
ARCHIVE_MIGRATE_WAREHOUSE = env_bool("ARCHIVE_MIGRATE_WAREHOUSE", True)

# /health/ answers from a report at most this old (per process), so probes cannot load the server.
HEALTH_CACHE_SECONDS = env_float("HEALTH_CACHE_SECONDS", 2.0)

# Prometheus (/metrics, apps.operations.metrics). Every process of the portal writes its event
# metrics under this directory, which web and worker must share; `make run` empties it at start.
ARCHIVE_METRICS_DIR = Path(env_str("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "metrics")))
# Who may scrape: a request with `Authorization: Bearer <token>` (empty: no token accepted), or
# from one of these addresses or networks (comma-separated; REMOTE_ADDR, so a proxy in front of the
# web must not forward scrapes from outside).
ARCHIVE_METRICS_TOKEN = env_str("ARCHIVE_METRICS_TOKEN", "")
ARCHIVE_METRICS_ALLOWED_ADDRESSES = env_list("ARCHIVE_METRICS_ALLOWED_ADDRESSES", ["127.0.0.1/32", "::1/128"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "pyiceberg": {"level": "WARNING"},
        # The query guard refuses what sqlglot only understood as a generic command; its warning is noise.
        "sqlglot": {"level": "ERROR"},
        # Task results can hold query rows; never log them.
        "celery.app.trace": {"level": "WARNING"},
        # django-axes logs every login at INFO (the audit chain records them); lockouts are warnings and stay.
        "axes": {"level": "WARNING"},
    },
}
