"""Audit fixtures: a locked digest bucket of its own per test (the chain restarts at 1 in each test database)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection

from tests.conftest import ROOT, dies_with_this_process


@pytest.fixture
def audit_bucket(seaweedfs, settings):
    settings.S3_AUDIT_BUCKET = f"audit-{uuid.uuid4().hex[:12]}"
    return settings.S3_AUDIT_BUCKET


def tamper(sql: str, params=()) -> None:
    """What a database superuser can do: switch the append-only trigger off, change rows, switch it on."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_append_only")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_event_append_only")


def manage(*args: str, bucket: str) -> subprocess.CompletedProcess:
    """`manage.py` in a subprocess on this test's database and bucket: the exit code a script would see."""
    from django.conf import settings

    db = connection.settings_dict
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive_portal.settings.test",
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
           "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL, "S3_AUDIT_BUCKET": bucket,
           "TEST_REDIS_URL": settings.REDIS_URL}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120, preexec_fn=dies_with_this_process())
