"""Runs warehouse work where the warehouse lives: on the worker that owns it, else in this process.

chDB allows one process per data path, so the web and the CLI never open ClickHouse while a
worker serves the warehouse queue; with no such worker, a CLI command runs the task in-process.
"""

from __future__ import annotations

import logging

from celery import Task
from django.conf import settings
from kombu.exceptions import OperationalError

from archive_portal.celery import app

logger = logging.getLogger(__name__)


class WorkerUnavailable(RuntimeError):
    pass


def warehouse_worker_live(timeout: float = 1.0) -> bool:
    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except OperationalError as exc:
        raise WorkerUnavailable(f"cannot reach the Celery broker at {settings.CELERY_BROKER_URL}: {exc}") from exc
    return any(q.get("name") == settings.WAREHOUSE_QUEUE for queues in replies.values() for q in queues)


def run_on_warehouse(task: Task, *, timeout: float | None = None, in_process: bool | None = None, **kwargs):
    """Call `task` with kwargs and return its result, wherever the warehouse can be opened."""
    if in_process is None:
        in_process = settings.CELERY_TASK_ALWAYS_EAGER or not warehouse_worker_live()
    if in_process:
        return task.apply(kwargs=kwargs, throw=True).get()
    logger.info("sending %s to the worker that owns the warehouse", task.name)
    return task.apply_async(kwargs=kwargs, queue=settings.WAREHOUSE_QUEUE).get(timeout=timeout, propagate=True)
