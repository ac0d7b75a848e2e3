"""Read-only SQL for operators and analysts: the one place their SQL runs, as written, after the guard.

The guard (apps.warehouse.guard) admits one SELECT over the archive tables; the engine then runs
it with readonly=1 and caps on time, result rows, rows and bytes read, and memory.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid
from dataclasses import dataclass

from django.conf import settings

from apps.warehouse import client as ch
from apps.warehouse.guard import check_query


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list]
    truncated: bool
    elapsed_ms: float
    rows_read: int

    def as_dict(self) -> dict:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
            "rows_read": self.rows_read,
        }


def _json_safe(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, decimal.Decimal, ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def run_read_only(sql: str, *, max_rows: int | None = None, max_seconds: int | None = None) -> QueryResult:
    # Checked here too, not only by the CLI: this runs on the worker, whoever sent the task.
    check_query(sql)
    max_rows = min(max_rows or settings.CLICKHOUSE_QUERY_MAX_ROWS, settings.CLICKHOUSE_QUERY_MAX_ROWS)
    max_seconds = min(max_seconds or settings.CLICKHOUSE_QUERY_MAX_SECONDS, settings.CLICKHOUSE_QUERY_MAX_SECONDS)
    client = ch.get_client()
    client.database = ch.database()
    try:
        result = ch.query_as_written(
            sql,
            tag="query",
            settings_={
                "max_execution_time": max_seconds,
                "max_result_rows": max_rows + 1,
                "result_overflow_mode": "break",
                "max_rows_to_read": settings.CLICKHOUSE_QUERY_MAX_ROWS_TO_READ,
                "max_bytes_to_read": settings.CLICKHOUSE_QUERY_MAX_BYTES_TO_READ,
                "max_memory_usage": settings.CLICKHOUSE_QUERY_MAX_MEMORY,
                "readonly": 1,
            },
        )
    except Exception as exc:
        raise ch.WarehouseError(str(exc).split("\n")[0][:2000]) from None
    rows = [[_json_safe(v) for v in row] for row in result.result_rows[: max_rows + 1]]
    summary = result.summary or {}
    return QueryResult(
        columns=list(result.column_names),
        rows=rows[:max_rows],
        truncated=len(rows) > max_rows,
        elapsed_ms=round(float(summary.get("elapsed_ns", 0)) / 1e6, 3) if summary.get("elapsed_ns") else 0.0,
        rows_read=int(summary.get("read_rows", 0) or 0),
    )
