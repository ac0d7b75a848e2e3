"""A real Celery worker process records every task outcome in the archive stream; the exporter archives them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings as django_settings

from apps.exports.exporter import Exporter
from apps.warehouse import client as ch
from tests.conftest import ROOT


@pytest.fixture
def sample_worker(archive):
    queue = f"sample-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "SAMPLE_REDIS_URL": django_settings.REDIS_URL, "SAMPLE_ARCHIVE_STREAM": archive.stream,
           "SAMPLE_QUEUE": queue}
    os.environ.update({k: env[k] for k in ("SAMPLE_REDIS_URL", "SAMPLE_ARCHIVE_STREAM", "SAMPLE_QUEUE")})
    sys.modules.pop("tests.stream.sample_celery_app", None)
    from tests.stream import sample_celery_app

    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tests.stream.sample_celery_app", "worker", "--pool", "solo",
         "-Q", queue, "-n", f"{queue}@%h", "--without-heartbeat", "--without-mingle", "--without-gossip",
         "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    app = sample_celery_app.app
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the sample worker did not start"
    yield sample_celery_app
    proc.terminate()
    proc.wait(20)
    for key in ("SAMPLE_REDIS_URL", "SAMPLE_ARCHIVE_STREAM", "SAMPLE_QUEUE"):
        os.environ.pop(key, None)


def _records(archive) -> dict[str, list[dict[str, str]]]:
    by_job: dict[str, list[dict[str, str]]] = {}
    for _, fields in archive.redis.xrange(archive.stream):
        record = {k.decode(): v.decode() for k, v in fields.items()}
        by_job.setdefault(record["job_id"], []).append(record)
    return by_job


def _wait_for(archive, job_id: str, outcome: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in _records(archive).get(job_id, []):
            if record["outcome"] == outcome:
                return record
        time.sleep(0.1)
    raise AssertionError(f"no {outcome} record for {job_id}: {_records(archive).get(job_id)}")


def test_real_worker_records_success_failure_retry_and_revocation(archive, sample_worker):
    app = sample_worker.app

    ok = sample_worker.add.delay(2, 3)
    assert ok.get(timeout=20) == 5
    failed = sample_worker.notify_customer.delay("ada.lovelace@example.com")
    with pytest.raises(RuntimeError):
        failed.get(timeout=20)
    retried = sample_worker.flaky.delay(1)
    assert retried.get(timeout=20) == "ok"
    revoked_id = str(uuid.uuid4())
    app.control.revoke(revoked_id)
    time.sleep(0.5)  # the revocation reaches the worker before the task does
    revoked = sample_worker.add.apply_async((1, 1), task_id=revoked_id)
    with pytest.raises((Exception, CeleryTimeout)):
        revoked.get(timeout=5)

    success = _wait_for(archive, ok.id, "success")
    assert success["queue"].startswith("sample-")
    assert success["worker_version"] == "sample-1.0"
    assert success["worker_id"].startswith(success["queue"])
    assert int(success["enqueue_time"]) <= int(success["start_time"]) <= int(success["end_time"])
    assert '"args":[2,3]' in success["payload"].replace(" ", "")

    failure = _wait_for(archive, failed.id, "failed")
    assert failure["error_type"] == "RuntimeError"
    assert "mailbox of ada.lovelace@example.com is full" in failure["error_msg"]

    retry = _wait_for(archive, retried.id, "retry")
    assert retry["retries"] == "0" and "upstream refused" in retry["error_msg"]
    assert _wait_for(archive, retried.id, "success")["retries"] == "1"

    cancelled = _wait_for(archive, revoked_id, "cancelled")
    assert cancelled["error_msg"] == "revoked"

    # The exporter archives them like any producer's records, PII redacted.
    summary = Exporter().run()
    assert summary.records == 5 and summary.dead_letters == 0
    rows = ch.query("SELECT outcome, error_msg FROM {db}.jobs_archive WHERE job_id = {id:String}", tag="test",
                    parameters={"id": failed.id}).result_rows
    assert rows == [("failed", "mailbox of [REDACTED:email] is full")]
