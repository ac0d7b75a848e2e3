"""Django's deployment checklist passes with the production settings and nothing but the required environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_deploy_check(secret_key: str) -> subprocess.CompletedProcess:
    # Drop every DJANGO_* variable of the calling shell so the production defaults are what is checked.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        DJANGO_SETTINGS_MODULE="archive_portal.settings.production",
        DJANGO_SECRET_KEY=secret_key,
        ARCHIVE_SUBJECT_KEY_SECRET=secrets.token_urlsafe(32),
        DJANGO_ALLOWED_HOSTS="archive.example.com",
    )
    # `check` without --database never connects to PostgreSQL, Redis, ClickHouse or S3.
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    result = run_deploy_check(secrets.token_urlsafe(50))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "no issues" in output, output


def test_deploy_check_fails_on_a_weak_secret_key():
    """The check above can fail: a short key is a warning, and warnings fail it."""
    result = run_deploy_check("too-short")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "security.W009" in output, output
