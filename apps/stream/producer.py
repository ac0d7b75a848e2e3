"""Producer API: append job completion records to the archive stream (contract v1).

Any Python worker can call it; records are checked against the same contract the exporter
applies, so a bad record fails here with a clear error instead of landing in the dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import redis

from apps.records.contract import ContractError, parse_entry, to_epoch_ms

DEFAULT_STREAM = "archive:completed"


@dataclass
class Completion:
    """One finished attempt of a job. Times: datetime, epoch milliseconds, or RFC 3339 text."""

    job_id: str
    queue: str
    outcome: str
    enqueue_time: datetime | int | str
    start_time: datetime | int | str | None = None
    end_time: datetime | int | str | None = None
    priority: int = 0
    retries: int = 0
    worker_id: str = ""
    worker_version: str = ""
    tenant_id: str = ""
    trace_id: str = ""
    span_id: str = ""
    correlation_id: str = ""
    error_type: str = ""
    error_msg: str = ""
    payload: bytes | str | Mapping | list | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def to_fields(self) -> dict[bytes, bytes]:
        fields: dict[str, Any] = {
            "job_id": self.job_id,
            "queue": self.queue,
            "outcome": self.outcome,
            "enqueue_time": to_epoch_ms(self.enqueue_time),
            "priority": self.priority,
            "retries": self.retries,
            "schema_version": 1,
        }
        for name in ("start_time", "end_time"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = to_epoch_ms(value)
        for name in ("worker_id", "worker_version", "tenant_id", "trace_id", "span_id",
                     "correlation_id", "error_type", "error_msg"):
            value = getattr(self, name)
            if value:
                fields[name] = value
        if self.tags:
            fields["tags"] = json.dumps(dict(self.tags), separators=(",", ":"))
        encoded = {k.encode(): str(v).encode() for k, v in fields.items()}
        if self.payload is not None:
            payload = self.payload
            if isinstance(payload, (Mapping, list)):
                payload = json.dumps(payload, separators=(",", ":"), default=str)
            encoded[b"payload"] = payload if isinstance(payload, bytes) else payload.encode()
        return encoded


def _checked(completion: Completion | Mapping) -> dict[bytes, bytes]:
    if not isinstance(completion, Completion):
        completion = Completion(**completion)
    fields = completion.to_fields()
    try:
        parse_entry("0-0", fields)
    except ContractError as exc:
        raise ValueError(f"job {completion.job_id!r}: {exc}") from None
    return fields


def record_completion(
    completion: Completion | Mapping | None = None,
    *,
    connection: redis.Redis,
    stream: str = DEFAULT_STREAM,
    **fields: Any,
) -> str:
    """Append one record; returns its stream id. Pass a Completion, a mapping, or keyword fields."""
    fields_bytes = _checked(completion if completion is not None else fields)
    entry_id = connection.xadd(stream, fields_bytes)
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


def record_completions(
    completions: Iterable[Completion | Mapping], *, connection: redis.Redis, stream: str = DEFAULT_STREAM
) -> list[str]:
    """Append many records in one round trip; all are checked before any is sent."""
    encoded = [_checked(c) for c in completions]
    pipe = connection.pipeline(transaction=False)
    for fields in encoded:
        pipe.xadd(stream, fields)
    return [i.decode() if isinstance(i, bytes) else i for i in pipe.execute()]
