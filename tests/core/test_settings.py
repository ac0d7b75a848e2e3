"""Which settings a process gets: servers default to production, which needs its secret and carries no
development credentials, whatever else was imported first; test subprocesses resolve what the tests do."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from django.conf import settings

from tests.conftest import ROOT

SHOWN = ("SETTINGS_MODULE", "SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
PRINT = f"from django.conf import settings; import json; print(json.dumps([getattr(settings, n) for n in {SHOWN!r}]))"


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of the Django, AWS or archive variables of this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "AWS_", "ARCHIVE_"))}
    return {**env, **extra}


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def _shown(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stderr
    return dict(zip(SHOWN, json.loads(result.stdout.strip().splitlines()[-1])))


def test_production_refuses_to_start_without_a_secret_key():
    for value in (None, "", "  "):
        env = _clean_env(DJANGO_SETTINGS_MODULE="archive_portal.settings.production")
        if value is not None:
            env["DJANGO_SECRET_KEY"] = value
        result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode != 0, result.stdout
        assert "DJANGO_SECRET_KEY" in result.stderr, (value, result.stderr)


def test_production_refuses_to_start_without_a_subject_key_secret():
    env = _clean_env(DJANGO_SETTINGS_MODULE="archive_portal.settings.production",
                     DJANGO_SECRET_KEY=secrets.token_urlsafe(50))
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0, result.stdout
    assert "ARCHIVE_SUBJECT_KEY_SECRET" in result.stderr, result.stderr


def test_wsgi_and_celery_default_to_production_without_development_credentials():
    key = secrets.token_urlsafe(50)
    env = _clean_env(DJANGO_SECRET_KEY=key, ARCHIVE_SUBJECT_KEY_SECRET=secrets.token_urlsafe(32))
    for entry_point in ("import archive_portal.wsgi", "from archive_portal.celery import app"):
        shown = _shown(_python(f"{entry_point}; {PRINT}", env))
        assert shown == {"SETTINGS_MODULE": "archive_portal.settings.production", "SECRET_KEY": key,
                         "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, entry_point


def test_production_values_do_not_depend_on_what_was_imported_before():
    """A tool that loads the local settings first (to compare, say) still sees production's own values."""
    key = secrets.token_urlsafe(50)
    code = ("import importlib, json; importlib.import_module('archive_portal.settings.local'); "
            "p = importlib.import_module('archive_portal.settings.production'); "
            "print(json.dumps([p.SECRET_KEY, p.AWS_ACCESS_KEY_ID, p.AWS_SECRET_ACCESS_KEY]))")
    result = _python(code, _clean_env(DJANGO_SECRET_KEY=key, ARCHIVE_SUBJECT_KEY_SECRET=secrets.token_urlsafe(32)))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [key, "", ""]


def test_a_subprocess_with_the_test_settings_resolves_the_same_values():
    """Tests hand their environment to the processes they start; the test defaults are derived there too."""
    names = (*SHOWN, "VAR_DIR", "CLICKHOUSE_URL")
    code = ("from django.conf import settings; import json; "
            f"print(json.dumps([str(getattr(settings, n)) for n in {names!r}]))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "archive_portal.settings.test", "TEST_CHDB_PATH": "/tmp/x"}
    result = _python(code, env)
    assert result.returncode == 0, result.stderr
    expected = [str(getattr(settings, name)) for name in names[:-1]] + ["chdb:///tmp/x"]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
