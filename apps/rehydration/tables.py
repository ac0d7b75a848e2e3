"""ClickHouse side of rehydration: copy a cold range into its own MergeTree table, measure it, drop it.

Runs only on the worker that owns the warehouse (see apps.warehouse.dispatch). `jobs_cold`
(IcebergS3) yields every column as Nullable; the copy takes the warm tier's column types from
the one record schema, so queries written for `jobs_archive` work on it unchanged, and NULLs
become the type's default on insert (`insert_null_as_default`).
"""

from __future__ import annotations

import re
from datetime import datetime

from apps.records.schema import COLUMNS
from apps.warehouse import client as ch

_TABLE = re.compile(r"^rehydrated_[0-9a-f]{12}$")


def _checked(table: str) -> str:
    if not _TABLE.match(table):
        raise ch.WarehouseError(f"{table!r} is not a rehydration table name")
    return ch.identifier(table)


def create_from_cold(*, table: str, start: datetime, end: datetime, queues: list[str]) -> None:
    """CREATE ... AS SELECT over [start, end), and only `queues` unless empty."""
    name = _checked(table)
    # Column names and types come from our own schema module, never from input.
    definitions = ", ".join(f"`{c.name}` {c.clickhouse_type}" for c in COLUMNS)
    selected = ", ".join(f"`{c.name}`" for c in COLUMNS)
    queue_filter = " AND queue IN {queues:Array(String)}" if queues else ""
    ch.command(
        f"CREATE TABLE {{db}}.{name} ({definitions}) ENGINE = MergeTree ORDER BY (queue, enqueue_time) "
        f"AS SELECT {selected} FROM {{db}}.jobs_cold "
        "WHERE enqueue_time >= {start:DateTime64(6, 'UTC')} AND enqueue_time < {end:DateTime64(6, 'UTC')}"
        f"{queue_filter}",
        tag=f"rehydrate:{name}",
        parameters={"start": start, "end": end, "queues": list(queues)},
        settings_={"insert_null_as_default": 1},
    )


def size(table: str) -> tuple[int, int]:
    """(rows, bytes on disk) of a rehydrated table."""
    result = ch.query(
        "SELECT total_rows, total_bytes FROM system.tables WHERE database = {database:String} AND name = {name:String}",
        tag="rehydrate:size",
        parameters={"database": ch.database(), "name": _checked(table)},
    )
    if not result.result_rows:
        raise ch.WarehouseError(f"table {table} is missing after it was created")
    rows, size_bytes = result.result_rows[0]
    return int(rows or 0), int(size_bytes or 0)


def drop(table: str) -> None:
    ch.command(f"DROP TABLE IF EXISTS {{db}}.{_checked(table)} SYNC", tag="rehydrate:drop")
