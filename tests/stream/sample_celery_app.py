"""A small Celery app, unrelated to the portal, that turns on the archive integration with one setting."""

import os

from celery import Celery

REDIS_URL = os.environ.get("SAMPLE_REDIS_URL", "redis://127.0.0.1:6379/13")

app = Celery("sample", broker=REDIS_URL, backend=REDIS_URL)
app.conf.update(
    # The one setting that records every task of this app in the archive stream:
    imports=["apps.stream.celery_integration"],
    archive_redis_url=REDIS_URL,
    archive_stream=os.environ.get("SAMPLE_ARCHIVE_STREAM", "archive:completed"),
    archive_worker_version="sample-1.0",
    task_default_queue=os.environ.get("SAMPLE_QUEUE", "sample"),
    worker_hijack_root_logger=False,
)


@app.task
def add(a, b):
    return a + b


@app.task
def notify_customer(email):
    raise RuntimeError(f"mailbox of {email} is full")


@app.task(bind=True, max_retries=3, default_retry_delay=0.2)
def flaky(self, fail_times):
    if self.request.retries < fail_times:
        raise self.retry(exc=ConnectionError("upstream refused the connection"))
    return "ok"
