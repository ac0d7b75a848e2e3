"""Where warehouse work runs: always on the worker that owns the warehouse, never in the web process.

chDB allows one process per data path, so only the worker serving the `warehouse` queue opens
it. Pages and the admin *submit* work (`require_worker`, then `submit` from a service) and show
it running and finished; they never wait for it and never run it themselves. Only the CLI may
run a task in its own process (`run_on_warehouse`), when no worker serves the queue.
"""

from __future__ import annotations

import logging

from celery import Task
from django.conf import settings
from django.db import transaction
from kombu.exceptions import OperationalError

from archive_portal.celery import app

logger = logging.getLogger(__name__)

NO_WORKER = ("No worker serves the warehouse queue ({queue}), so nothing was started. Start one: `make run` "
             "starts it; in production, a Celery worker with `-Q {queue}`.")


class WorkerUnavailable(RuntimeError):
    """No worker serves the warehouse queue (or the broker is unreachable); the message says what to do."""


def warehouse_worker_live(timeout: float = 1.0) -> bool:
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except OperationalError as exc:
        raise WorkerUnavailable(f"cannot reach the Celery broker at {settings.CELERY_BROKER_URL}: {exc}") from exc
    return any(q.get("name") == settings.WAREHOUSE_QUEUE for queues in replies.values() for q in queues)


def require_worker() -> None:
    """For pages and the admin, before they record work: refuse plainly when nobody would do it."""
    if settings.CELERY_TASK_ALWAYS_EAGER:  # tests: the task runs where it is sent
        return
    if not warehouse_worker_live():
        raise WorkerUnavailable(NO_WORKER.format(queue=settings.WAREHOUSE_QUEUE))


def submit(task: Task, **kwargs) -> None:
    """Send `task` to the warehouse worker once the current transaction commits (its rows exist then)."""
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs, queue=settings.WAREHOUSE_QUEUE))


def run_on_warehouse(task: Task, *, timeout: float | None = None, in_process: bool | None = None, **kwargs):
    """For the CLI: call `task` with kwargs and wait for its result, on the worker that owns the
    warehouse, or in this process when no worker serves the queue."""
    if in_process is None:
        in_process = settings.CELERY_TASK_ALWAYS_EAGER or not warehouse_worker_live()
    if in_process:
        return task.apply(kwargs=kwargs, throw=True).get()
    logger.info("sending %s to the worker that owns the warehouse", task.name)
    return task.apply_async(kwargs=kwargs, queue=settings.WAREHOUSE_QUEUE).get(timeout=timeout, propagate=True)
