"""ClickHouse side of rehydration: copy a cold range into its own MergeTree table, measure it, drop it.

Runs only on the worker that owns the warehouse (see apps.warehouse.dispatch). The copy has the
live record's columns (fields added by schema versions too) with the warm tier's types, each read
from `jobs_cold` as `jobs_all` reads it, so queries written for `jobs_archive` work on it unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime

from apps.rehydration.models import TABLE_PREFIX
from apps.schemas.registry import load_live
from apps.warehouse import client as ch
from apps.warehouse.logical import cold_expression
from apps.warehouse.physical import PROMPT_CLEANUP

_TABLE = re.compile(r"^rehydrated_[0-9a-f]{12}$")
# An erasure waits for replaced parts to leave the disk: the cleanup thread looks every second.
_PROMPT_CLEANUP = ", ".join(f"{k} = {v}" for k, v in PROMPT_CLEANUP.items())


def _checked(table: str) -> str:
    if not _TABLE.match(table):
        raise ch.WarehouseError(f"{table!r} is not a rehydration table name")
    return ch.identifier(table)


def create_from_cold(*, table: str, start: datetime, end: datetime, queues: list[str]) -> None:
    """CREATE ... AS SELECT over [start, end), and only `queues` unless empty."""
    name = _checked(table)
    # The registry's columns, not this process's cache: a version applied a moment ago is copied too.
    # Names and types come from the schema definitions, never from input.
    columns = load_live().columns
    definitions = ", ".join(f"{ch.identifier(c.name)} {c.clickhouse_type}" for c in columns)
    selected = ", ".join(cold_expression(c) for c in columns)
    queue_filter = " AND queue IN {queues:Array(String)}" if queues else ""
    # The range is selected in a subquery, on the raw columns (the outer aliases share their names),
    # so the Iceberg reader can skip the files of other days.
    ch.command(
        f"CREATE TABLE {{db}}.{name} ({definitions}) ENGINE = MergeTree ORDER BY (queue, enqueue_time) "
        f"SETTINGS {_PROMPT_CLEANUP} "
        f"AS SELECT {selected} FROM (SELECT * FROM {{db}}.jobs_cold "
        "WHERE enqueue_time >= {start:DateTime64(6, 'UTC')} AND enqueue_time < {end:DateTime64(6, 'UTC')}"
        f"{queue_filter})",
        tag=f"rehydrate:{name}",
        parameters={"start": start, "end": end, "queues": list(queues)},
    )


def existing() -> list[str]:
    """The rehydration tables in the archive database, whoever made them."""
    result = ch.query(
        "SELECT name FROM system.tables WHERE database = {database:String} AND startsWith(name, {prefix:String})",
        tag="rehydrate:list",
        parameters={"database": ch.database(), "prefix": TABLE_PREFIX},
    )
    return [name for (name,) in result.result_rows if _TABLE.match(name)]


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
