"""Records the outcome of every task of a Celery app into the archive stream.

Enable it with one setting of the Celery app: add this module to ``imports``
(``app.conf.imports = [..., "apps.stream.celery_integration"]``); in this portal,
``ARCHIVE_RECORD_CELERY_TASKS=true`` does it. Options, read from the app's config:
``archive_redis_url`` (default: the ``REDIS_URL`` environment variable, else the broker URL),
``archive_stream`` (default ``archive:completed``) and ``archive_worker_version``.
Recording never breaks a task: a failure to record is logged and the task goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from functools import cache

import redis
from celery import signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from apps.stream.producer import DEFAULT_STREAM, Completion, record_completion

logger = logging.getLogger(__name__)
ENQUEUED_HEADER = "archive_enqueued_ms"
_started_ms: dict[str, int] = {}


@cache
def _connection(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _payload(request) -> str:
    try:
        return json.dumps({"args": list(request.args or ()), "kwargs": dict(request.kwargs or {})}, default=repr)
    except (TypeError, ValueError):
        return json.dumps({"repr": repr((request.args, request.kwargs))})


def _record(task, request, outcome: str, error: BaseException | str | None = None) -> None:
    try:
        conf = task.app.conf
        url = conf.get("archive_redis_url") or os.environ.get("REDIS_URL") or conf.broker_url
        task_id = request.id
        now = _now_ms()
        started = _started_ms.pop(task_id, None) if outcome != "retry" else _started_ms.get(task_id)
        headers = getattr(request, "headers", None) or {}
        enqueued = headers.get(ENQUEUED_HEADER) or getattr(request, ENQUEUED_HEADER, None) or started or now
        delivery = getattr(request, "delivery_info", None) or {}
        completion = Completion(
            job_id=task_id,
            queue=delivery.get("routing_key") or conf.task_default_queue or "celery",
            outcome=outcome,
            enqueue_time=int(enqueued),
            start_time=started,
            end_time=now,
            retries=request.retries or 0,
            worker_id=(request.hostname or "")[:256],
            worker_version=str(conf.get("archive_worker_version") or ""),
            correlation_id=request.root_id or "",
            error_type=type(error).__name__ if isinstance(error, BaseException) else "",
            error_msg=str(error)[:65536] if error else "",
            payload=_payload(request),
            tags={"task": task.name},
        )
        record_completion(completion, connection=_connection(url), stream=conf.get("archive_stream") or DEFAULT_STREAM)
    except Exception:  # recording must never fail the task itself
        logger.warning("could not record task %s in the archive stream", getattr(request, "id", "?"), exc_info=True)


@signals.before_task_publish.connect
def _stamp_enqueue_time(headers=None, **_):
    if headers is not None:
        headers.setdefault(ENQUEUED_HEADER, _now_ms())


@signals.task_prerun.connect
def _started(task_id=None, **_):
    _started_ms[task_id] = _now_ms()


@signals.task_success.connect
def _succeeded(sender=None, **_):
    _record(sender, sender.request, "success")


@signals.task_failure.connect
def _failed(sender=None, exception=None, **_):
    timed_out = isinstance(exception, (TimeLimitExceeded, SoftTimeLimitExceeded))
    _record(sender, sender.request, "timeout" if timed_out else "failed", exception)


@signals.task_retry.connect
def _retried(sender=None, request=None, reason=None, **_):
    _record(sender, request, "retry", reason)


@signals.task_revoked.connect
def _revoked(sender=None, request=None, expired=False, **_):
    if sender is not None and request is not None:
        _record(sender, request, "cancelled", "expired before it ran" if expired else "revoked")
