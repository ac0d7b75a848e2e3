"""The subject index, `{db}.subject_index` (key_hash, day): on which days a subject key has records.

Finding a person is one indexed lookup here, then a read of only those days in both tiers. The
exporter's ClickHouse sink adds a batch's rows right after the batch's records, with the token
`<batch id>:subjects`, so a replayed batch adds nothing. Tiering moves records between the tiers by
(day, queue, outcome) and leaves their days as they were; the index holds only days and a lookup
checks both tiers for them, so tiering needs no change here. Rows hold keyed hashes, never an
identifier, so a delete predicate (kept as text by ClickHouse) names nobody.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from apps.records.schema import SUBJECT_KEYS
from apps.warehouse import client as ch

TABLE = "subject_index"
SCHEMA = pa.schema([pa.field("key_hash", pa.string(), nullable=False), pa.field("day", pa.date32(), nullable=False)])


def rows_for(table: pa.Table) -> pa.Table:
    """The distinct (key_hash, day) rows of a table of records (a batch, or any number of them),
    day = the UTC day of `enqueue_time`, sorted."""
    keys = table.column(SUBJECT_KEYS).combine_chunks()
    if len(keys) == 0 or pc.sum(pc.list_value_length(keys)).as_py() in (None, 0):
        return SCHEMA.empty_table()
    days = pc.cast(table.column("enqueue_time").combine_chunks(), pa.date32())
    pairs = pa.table({"key_hash": pc.list_flatten(keys), "day": days.take(pc.list_parent_indices(keys))})
    distinct = pairs.group_by(["key_hash", "day"], use_threads=False).aggregate([])
    distinct = distinct.sort_by([("key_hash", "ascending"), ("day", "ascending")])
    return pa.Table.from_arrays([distinct["key_hash"], distinct["day"]], schema=SCHEMA)


def add(table: pa.Table, token: str | None) -> int:
    """Index a table of records; `token` makes the insert idempotent (a replay with it adds nothing).
    Returns the rows inserted (0 when no record has a key)."""
    rows = rows_for(table)
    if rows.num_rows:
        extra = {"insert_deduplication_token": token, "insert_deduplicate": 1} if token else None
        ch.insert_arrow(TABLE, rows, tag="subject_index", settings_=extra)
    return rows.num_rows


def days_of(key_hashes: list[str]) -> list[date]:
    """The days that hold records of any of these keys, sorted, each once."""
    if not key_hashes:
        return []
    result = ch.query("SELECT DISTINCT day FROM {db}.subject_index WHERE key_hash IN {keys:Array(String)} "
                      "ORDER BY day", tag="subject_index", parameters={"keys": list(key_hashes)})
    return [row[0] for row in result.result_rows]


def count(key_hashes: list[str]) -> int:
    """How many (key, day) entries these keys have (the same pair from two batches counts once)."""
    if not key_hashes:
        return 0
    result = ch.query("SELECT count() FROM (SELECT DISTINCT key_hash, day FROM {db}.subject_index "
                      "WHERE key_hash IN {keys:Array(String)})", tag="subject_index",
                      parameters={"keys": list(key_hashes)})
    return int(result.result_rows[0][0])


def remove(key_hashes: list[str]) -> int:
    """Delete every entry of these keys (a mutation, waited for); returns the entries removed."""
    found = count(key_hashes)
    if found:
        ch.command("ALTER TABLE {db}.subject_index DELETE WHERE key_hash IN {keys:Array(String)}",
                   tag="subject_index", parameters={"keys": list(key_hashes)}, settings_={"mutations_sync": 2})
    return found
