"""The adapters a restore sends through: a Celery task, a Redis list, a Redis stream.

Each turns one archived attempt (a row of `jobs_all` whose kept payload is the payload as sent) into
a message for the live queue, or refuses it with the reason (`Refusal`), and sends it, returning
what the message became there (a task id, a list length, a stream entry id).

- **celery**: `send_task` of the task named by the restore's target, else by the record's `task` tag
  (which `apps.stream.celery_integration` records), on the record's queue. A payload that is a JSON
  object of `args` and/or `kwargs` (what the integration records) is called with them; any other
  JSON value is the one positional argument. The broker is ARCHIVE_RESTORE_CELERY_BROKER_URL.
- **list**: `RPUSH target payload` (a worker popping from the left sees it next in order).
- **stream**: `XADD target` with the fields `payload`, `job_id`, `queue`, `retries`, `task` (when
  recorded) and `restored_by` (the restore's id).
Lists and streams live in ARCHIVE_RESTORE_REDIS_URL. The archive's own stream and its dead-letter
stream are never targets: a restore there would be archived again as a new completion.
"""

from __future__ import annotations

import json
import re
from functools import cache

from django.conf import settings

CELERY, LIST, STREAM = "celery", "list", "stream"
ADAPTERS = (CELERY, LIST, STREAM)
_TASK_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,199}$")


class Refusal(ValueError):
    """This attempt (or the whole restore) cannot be sent; the message is the reason, in one line."""


def check_target(adapter: str, target: str) -> str:
    """The target as given, checked for the adapter; Refusal saying what is wrong."""
    target = (target or "").strip()
    if adapter not in ADAPTERS:
        raise Refusal(f"--to must be one of {', '.join(ADAPTERS)}, not {adapter!r}")
    if adapter == CELERY:
        if target and not _TASK_NAME.match(target):
            raise Refusal(f"{target[:40]!r} is not a Celery task name (letters, digits, _ . : -)")
        return target
    if not target:
        raise Refusal(f"a restore to a Redis {adapter} needs --target NAME (the {adapter}'s key)")
    if len(target) > 200 or not target.isprintable():
        raise Refusal("--target: a Redis key of 1-200 printable characters")
    archive_stream = settings.ARCHIVE_STREAM
    if target in (archive_stream, f"{archive_stream}:dead"):
        raise Refusal(f"{target!r} is the archive's own stream: a job restored there would be archived again, "
                      "not run; name the live queue's list or stream")
    return target


def _payload_text(record: dict) -> str:
    return record.get("payload_sample") or ""


def celery_call(record: dict, target: str) -> tuple[str, list, dict]:
    """(task name, args, kwargs) for this attempt; Refusal when it cannot be called."""
    name = target or dict(record.get("tags") or {}).get("task", "")
    if not name:
        raise Refusal("no task name: the record has no `task` tag; give --target TASK_NAME")
    text = _payload_text(record)
    if not text:
        return name, [], {}
    try:
        value = json.loads(text)
    except ValueError:
        raise Refusal("the payload is not JSON, so it cannot be a Celery call; restore it to a Redis list or stream") \
            from None
    if isinstance(value, dict) and value and set(value) <= {"args", "kwargs"}:
        args, kwargs = value.get("args", []), value.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise Refusal("the payload's args must be a JSON array and its kwargs an object")
        return name, args, kwargs
    return name, [value], {}


@cache
def _celery_app(broker: str):
    from celery import Celery

    app = Celery("archive-restore", broker=broker, set_as_current=False)
    app.conf.update(task_serializer="json", accept_content=["json"], broker_connection_retry_on_startup=True,
                    broker_transport_options={"max_retries": 3}, task_always_eager=False)
    return app


@cache
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


def prepare(adapter: str, record: dict, target: str) -> None:
    """Refusal if this attempt cannot go through `adapter` (checked for every attempt before any is sent)."""
    if adapter == CELERY:
        celery_call(record, target)


def send(adapter: str, record: dict, target: str, *, restore_id: str) -> str:
    """Send one attempt; returns what it became in the live queue."""
    if adapter == CELERY:
        name, args, kwargs = celery_call(record, target)
        result = _celery_app(settings.ARCHIVE_RESTORE_CELERY_BROKER_URL).send_task(
            name, args=args, kwargs=kwargs, queue=record["queue"], headers={"archive_restore": restore_id})
        return f"task {result.id}"
    connection = _redis(settings.ARCHIVE_RESTORE_REDIS_URL)
    body = _payload_text(record).encode()
    if adapter == LIST:
        return f"list length {connection.rpush(target, body)}"
    fields = {"payload": body, "job_id": record["job_id"], "queue": record["queue"],
              "retries": str(record["retries"]), "restored_by": restore_id}
    task = dict(record.get("tags") or {}).get("task")
    if task:
        fields["task"] = task
    entry = connection.xadd(target, fields)
    return f"entry {entry.decode() if isinstance(entry, bytes) else entry}"
