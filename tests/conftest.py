"""Shared fixtures: one SeaweedFS per test run, and per test its own stream, ClickHouse database and Iceberg table."""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from django.conf import settings

from apps.lake.seaweedfs import SeaweedFS

ROOT = Path(__file__).resolve().parent.parent
_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up here: the child between fork and exec only calls it


def dies_with_this_process():
    """A `preexec_fn` for subprocesses: the kernel kills the child when this test process dies, teardown or not."""
    parent = os.getpid()

    def arm():
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return arm


@pytest.fixture(scope="session")
def seaweedfs():
    """A real S3 server on free loopback ports for the whole run; a failure to start fails the tests."""
    data_dir = settings.VAR_DIR / f"seaweedfs-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    server = SeaweedFS(data_dir, access_key=settings.AWS_ACCESS_KEY_ID, secret_key=settings.AWS_SECRET_ACCESS_KEY,
                       bucket=settings.S3_BUCKET)
    server.start()
    previous = settings.S3_ENDPOINT_URL
    settings.S3_ENDPOINT_URL = server.endpoint_url
    yield server
    settings.S3_ENDPOINT_URL = previous
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def _chdb_path():
    """This test process's own chDB data path (one engine per process)."""
    path = Path(settings.CLICKHOUSE_URL.removeprefix("chdb://"))
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def _release_catalog_connections(django_db_setup):
    """pyiceberg's SQL catalog keeps its own pool; close it before the test database is dropped."""
    yield
    from apps.lake.catalog import close_catalogs

    close_catalogs()


@pytest.fixture
def redis_conn():
    conn = redis.Redis.from_url(settings.REDIS_URL)
    conn.ping()
    return conn


@dataclass
class Archive:
    """One test's isolated archive: stream key, ClickHouse database and Iceberg table."""

    stream: str
    database: str
    table: str
    redis: redis.Redis

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (`manage.py ...`) that should see this archive."""
        from django.db import connection

        db = connection.settings_dict
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "archive_portal.settings.test",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "ARCHIVE_STREAM": self.stream,
            "CLICKHOUSE_DATABASE": self.database,
            "ICEBERG_TABLE": self.table,
            "S3_ENDPOINT_URL": settings.S3_ENDPOINT_URL,
            "TEST_REDIS_URL": settings.REDIS_URL,
        }

    def manage(self, *args: str, env: dict | None = None, timeout: float = 300, check: bool = True,
               chdb_path: Path | None = None) -> subprocess.CompletedProcess:
        """Run manage.py in a subprocess with its own chDB path (a process may not share ours)."""
        full_env = {**self.env(), **(env or {})}
        if chdb_path is not None:
            full_env["TEST_CHDB_PATH"] = str(chdb_path)
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full_env,
                                capture_output=True, text=True, timeout=timeout, preexec_fn=dies_with_this_process())
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def clickhouse_count(self, where: str = "1") -> int:
        from apps.warehouse import client as ch

        return ch.query(f"SELECT count() FROM {{db}}.jobs_archive WHERE {where}", tag="test").result_rows[0][0]

    def iceberg_rows(self):
        from apps.lake.table import load_table

        return load_table().scan().to_arrow()


@pytest.fixture
def archive(seaweedfs, settings, redis_conn, transactional_db, _release_catalog_connections, _chdb_path):
    """A migrated, empty archive for one test (with the default subject key rules); its keys and
    tables are removed afterwards."""
    seed_subject_key_rules()
    suffix = uuid.uuid4().hex[:10]
    settings.ARCHIVE_STREAM = f"test:{suffix}:archive:completed"
    settings.CLICKHOUSE_DATABASE = f"test_{suffix}"
    settings.ICEBERG_TABLE = f"jobs_{suffix}"
    from apps.warehouse.services import warehouse_migrate

    warehouse_migrate()
    archive = Archive(settings.ARCHIVE_STREAM, settings.CLICKHOUSE_DATABASE, settings.ICEBERG_TABLE, redis_conn)
    yield archive
    redis_conn.delete(archive.stream, f"{archive.stream}:dead")
    from apps.warehouse import client as ch

    ch.command("DROP DATABASE IF EXISTS {db} SYNC", tag="test")


def seed_subject_key_rules() -> None:
    """The default subject key rules, as their data migration made them: a transactional test's
    flush empties the table, and records exported without rules carry no subject keys."""
    from apps.compliance import subject_key_rules
    from apps.compliance.models import SubjectKeyRule
    from apps.compliance.subject_keys import DEFAULT_RULES

    if not SubjectKeyRule.objects.exists():
        SubjectKeyRule.objects.bulk_create([SubjectKeyRule(**rule.as_dict()) for rule in DEFAULT_RULES])
    subject_key_rules._cached["at"] = float("-inf")


@pytest.fixture
def warehouse_worker(archive, tmp_path):
    """A real Celery worker process that owns a chDB path of its own and serves a queue of its own
    (tests/warehouse_worker.py): CLI processes started with its `env()` send their work to it."""
    from tests.warehouse_worker import WarehouseWorker

    worker = WarehouseWorker.for_test(archive, tmp_path)
    try:
        worker.start()
        yield worker
    finally:
        worker.stop()
