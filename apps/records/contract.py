"""The stream contract: turns one raw Redis stream entry into a record, or says exactly why not.

Version 1 is written out here. Later versions come from the schema registry as data: an entry
of any applied version is accepted and upcast to the live record (fields added after its
version get their defaults); a version the registry does not know is refused.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from apps.records.schema import Column, LiveSchema, live_schema

OUTCOMES = frozenset({"success", "failed", "timeout", "cancelled", "retry", "dead"})
FAILURE_OUTCOMES = frozenset({"failed", "timeout", "dead"})
SHORT_FIELDS = ("worker_id", "worker_version", "tenant_id", "trace_id", "span_id", "correlation_id", "error_type")
SHORT_MAX_CHARS = 256
ID_MAX_CHARS = 128
# Times outside this window are almost always unit mistakes (seconds or microseconds for ms).
_MIN_US = 946_684_800_000_000  # 2000-01-01
_MAX_US = 4_102_444_800_000_000  # 2100-01-01
_INT32 = 2**31 - 1


class ContractError(ValueError):
    """The entry breaks the stream contract; the message is the dead-letter reason."""


def parse_time(value: str, field: str) -> int:
    """Epoch milliseconds or RFC 3339 to epoch microseconds (UTC)."""
    if value.isdigit():
        micros = int(value) * 1000
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ContractError(f"{field}: {value[:40]!r} is neither epoch milliseconds nor RFC 3339") from None
        if parsed.tzinfo is None:
            raise ContractError(f"{field}: RFC 3339 time needs a UTC offset, got {value[:40]!r}")
        micros = int(parsed.timestamp() * 1_000_000)
    if not _MIN_US <= micros < _MAX_US:
        raise ContractError(f"{field}: {value[:40]!r} is outside 2000-2100 (epoch milliseconds expected)")
    return micros


def _int(fields: dict, name: str, low: int, high: int) -> int:
    raw = fields.get(name)
    if raw is None or raw == "":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ContractError(f"{name}: {raw[:40]!r} is not an integer") from None
    if not low <= value <= high:
        raise ContractError(f"{name}: {value} is out of range {low}..{high}")
    return value


def _tags(raw: str | None) -> list[tuple[str, str]]:
    if not raw:
        return []
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ContractError("tags: not valid JSON") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()
    ):
        raise ContractError("tags: must be a JSON object of string to string")
    return list(parsed.items())


def decode_fields(raw: dict[bytes, bytes]) -> tuple[dict[str, str], bytes | None]:
    """Decode field names and values; the payload stays bytes because it is hashed as sent."""
    fields: dict[str, str] = {}
    payload = None
    for key, value in raw.items():
        try:
            name = key.decode()
        except UnicodeDecodeError:
            raise ContractError("a field name is not valid UTF-8") from None
        if name == "payload":
            payload = value
            continue
        try:
            fields[name] = value.decode()
        except UnicodeDecodeError:
            raise ContractError(f"{name}: not valid UTF-8") from None
    return fields, payload


def parse_entry(stream_id: str, raw: dict[bytes, bytes]) -> tuple[dict, bytes | None]:
    """Validate one entry; returns the record (without payload columns) and the payload bytes."""
    fields, payload = decode_fields(raw)
    version = _int(fields, "schema_version", 0, _INT32) or 1
    schema = supported_schema(version)
    job_id = fields.get("job_id", "")
    if not 0 < len(job_id) <= ID_MAX_CHARS:
        raise ContractError("job_id: required, 1-128 characters")
    queue = fields.get("queue", "")
    if not 0 < len(queue) <= ID_MAX_CHARS:
        raise ContractError("queue: required, 1-128 characters")
    outcome = fields.get("outcome", "")
    if outcome not in OUTCOMES:
        raise ContractError(f"outcome: {outcome[:40]!r} is not one of {', '.join(sorted(OUTCOMES))}")
    enqueue = fields.get("enqueue_time")
    if not enqueue:
        raise ContractError("enqueue_time: required")
    record = {
        "job_id": job_id,
        "queue": queue,
        "outcome": outcome,
        "enqueue_time": parse_time(enqueue, "enqueue_time"),
        "start_time": parse_time(fields["start_time"], "start_time") if fields.get("start_time") else None,
        "end_time": parse_time(fields["end_time"], "end_time") if fields.get("end_time") else None,
        "priority": _int(fields, "priority", -_INT32, _INT32),
        "retries": _int(fields, "retries", 0, _INT32),
        "error_msg": fields.get("error_msg", ""),
        "tags": _tags(fields.get("tags")),
        "schema_version": version,
        "stream_id": stream_id,
    }
    for name in SHORT_FIELDS:
        value = fields.get(name, "")
        if len(value) > SHORT_MAX_CHARS:
            raise ContractError(f"{name}: longer than {SHORT_MAX_CHARS} characters")
        record[name] = value
    for column in schema.added:
        record[column.name] = _added_value(column, fields, version)
    return record, payload


def supported_schema(version: int) -> LiveSchema:
    """The live schema if it accepts `version`; else the registry is asked once more before refusing.

    Asking again costs one query but means a version applied by another process a moment ago
    is never dead-lettered by a process that has not noticed it yet.
    """
    schema = live_schema()
    if schema.accepts(version):
        return schema
    from apps.schemas.registry import refresh_live_schema  # imported here: the registry imports this app

    schema = refresh_live_schema(force=True)
    if not schema.accepts(version):
        supported = "1" if schema.version == 1 else f"1-{schema.version}"
        raise ContractError(f"schema_version: {version} is not supported (supported: {supported})")
    return schema


def _added_value(column: Column, fields: dict[str, str], version: int):
    """Upcast: a field added after the entry's version is its default, whatever the entry says.

    Keys are the archive's own (the subject keys it computes at ingest): what an entry sends under
    their name is ignored, as for a field its version does not know."""
    if column.kind == "keys":
        return list(column.default)
    raw = fields.get(column.name) if version >= column.added_in else None
    if raw is None or (raw == "" and column.kind not in ("string", "lowcard")):
        return list(column.default) if column.kind == "tags" else column.default
    if column.kind == "string":
        return raw
    if column.kind == "lowcard":
        if len(raw) > SHORT_MAX_CHARS:
            raise ContractError(f"{column.name}: longer than {SHORT_MAX_CHARS} characters")
        return raw
    if column.kind == "int":
        return _int(fields, column.name, -_INT32 - 1, _INT32)
    if column.kind == "long":
        return _int(fields, column.name, -(2**63), 2**63 - 1)
    if column.kind == "time":
        return parse_time(raw, column.name)
    return _tags(raw)


def to_epoch_ms(value: datetime | int | float | str) -> str:
    """Format a time for the stream the way producers should: epoch milliseconds as a string."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return str(int(value.timestamp() * 1000))
    if isinstance(value, (int, float)):
        return str(int(value))
    return value
