"""Read-only SQL for operators and analysts: the one place their SQL runs, as written, after the guard.

The guard (apps.warehouse.guard) admits one SELECT over the tables of the caller's allow-list; the
engine then runs it with readonly=1, apply_deleted_mask=1 (erased rows not yet merged away stay
hidden), secrets hidden in definitions, and caps on time, result rows, rows and bytes read, and
memory. Values for {name:Type} placeholders are bound by the engine, never pasted into the text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid
import re
from dataclasses import dataclass, field

from django.conf import settings

from apps.warehouse import client as ch
from apps.warehouse.allowlists import ANALYST, AllowList
from apps.warehouse.guard import QueryRejected, inspect_query

# Settings every analyst query runs with, whatever the text says (SETTINGS is refused by the guard,
# and readonly=1 refuses a change from the query). Without apply_deleted_mask a lightweight DELETE's
# rows, erased but not yet merged away, would show again.
FORCED_SETTINGS = {
    "readonly": 1,
    "apply_deleted_mask": 1,
    "format_display_secrets_in_show_and_select": 0,
}
# How the engine plans, not what a query may do. With this on, the planner builds each IN-subquery's
# set early to try it against an index, and `jobs_all`'s routing has three such sets (the groups
# moved, the groups still served warm, a template's own): measured on 1M records, a job lookup took
# 0.72 and retention_status over 7 days 0.78 of the time with it off, the rollup templates the same.
# An analyst's IN (SELECT ...) on the warm table's sort key then filters without the index.
PLANNING_SETTINGS = {"use_index_for_in_with_subqueries": 0}
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class QueryResult:
    columns: list[str]
    rows: list[list]
    truncated: bool
    elapsed_ms: float
    rows_read: int
    bytes_read: int = 0
    tables: list[str] = field(default_factory=list)  # what the guard saw the query read, sorted
    column_types: list[str] = field(default_factory=list)  # ClickHouse's names of the columns' types

    def as_dict(self) -> dict:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
            "rows_read": self.rows_read,
            "bytes_read": self.bytes_read,
            "tables": self.tables,
            "column_types": self.column_types,
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


def check_parameters(placeholders: list[str], parameters: dict | None) -> None:
    """Every {name:Type} placeholder has exactly one value and every value a placeholder.

    clickhouse-connect formats a query without {name:Type} placeholders client-side (`%(name)s`,
    which also rewrites a `%` in the user's text), so values are only sent when the engine binds them.
    """
    given = dict(parameters or {})
    bad = sorted(str(k) for k in given if not isinstance(k, str) or not _PARAMETER_NAME.match(k))
    if bad:
        raise QueryRejected(f"refused: parameter names {', '.join(bad)} — a name is letters, digits and _")
    binary = sorted(k for k, v in given.items() if isinstance(v, (bytes, bytearray, memoryview)))
    if binary:
        raise QueryRejected(f"refused: binary parameter {', '.join(binary)} — values are text, numbers or times")
    missing, unused = sorted(set(placeholders) - set(given)), sorted(set(given) - set(placeholders))
    if missing:
        raise QueryRejected(f"refused: no value for {', '.join(missing)} — each {{name:Type}} placeholder needs one")
    if unused:
        raise QueryRejected(f"refused: parameter {', '.join(unused)} — the query has no {{name:Type}} placeholder "
                            "of that name")


def run_read_only(sql: str, *, max_rows: int | None = None, max_seconds: int | None = None,
                  allow: AllowList | None = ANALYST, parameters: dict | None = None,
                  explain: bool = False) -> QueryResult:
    """Run one admitted SELECT; `allow` is the allow-list of the caller's roles (None: may not query).

    `explain`: the engine's plan of the query (with the indexes and partitions it would use), one
    row per line, instead of its rows. The guard admits the SELECT; the portal adds the EXPLAIN."""
    # Checked here too, not only by the CLI: this runs on the worker, whoever sent the task.
    checked = inspect_query(sql, allow)
    check_parameters(checked.parameters, parameters)
    max_rows = min(max_rows or settings.CLICKHOUSE_QUERY_MAX_ROWS, settings.CLICKHOUSE_QUERY_MAX_ROWS)
    max_seconds = min(max_seconds or settings.CLICKHOUSE_QUERY_MAX_SECONDS, settings.CLICKHOUSE_QUERY_MAX_SECONDS)
    client = ch.get_client()
    client.database = ch.database()
    try:
        result = ch.query_as_written(
            f"EXPLAIN indexes = 1\n{sql}" if explain else sql,
            tag="query",
            parameters=parameters or None,
            settings_={
                "max_execution_time": max_seconds,
                "max_result_rows": max_rows + 1,
                "result_overflow_mode": "break",
                "max_rows_to_read": settings.CLICKHOUSE_QUERY_MAX_ROWS_TO_READ,
                "max_bytes_to_read": settings.CLICKHOUSE_QUERY_MAX_BYTES_TO_READ,
                "max_memory_usage": settings.CLICKHOUSE_QUERY_MAX_MEMORY,
                **PLANNING_SETTINGS,
                **FORCED_SETTINGS,
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
        bytes_read=int(summary.get("read_bytes", 0) or 0),
        tables=checked.tables,
        column_types=[getattr(t, "name", str(t)) for t in (result.column_types or ())],
    )
