"""Physical removal of rows from a MergeTree table: not masked, gone from every part on disk.

A lightweight DELETE only masks rows (`apply_deleted_mask = 0` still reads them), and a mutation
(`ALTER TABLE ... DELETE`) rewrites the parts holding them but leaves the old parts on disk,
inactive, until `old_parts_lifetime` (8 minutes by default) and the cleanup thread's delay have
passed. So a removal here: notes the active parts that hold the rows (masked rows included), runs
the mutation synchronously, lets the table clean up its inactive parts within about a second for
a moment, and waits until those parts' directories are gone, then restores the table's settings.
The mutation's predicate (kept as text in `system.mutations`) names stream ids only.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from apps.core import faults
from apps.warehouse import client as ch

# Kept: the cleanup thread looks every second (a look is cheap). Tables made before this was set
# may sleep up to their old back-off (five minutes) once more, hence the wait below.
PROMPT_CLEANUP = {"cleanup_delay_period": 1, "max_cleanup_delay_period": 1, "cleanup_delay_period_random_add": 0}
# Only while erasing: replaced parts may go after a second instead of eight minutes.
_SHORT_LIFETIME = {"old_parts_lifetime": 1}
WAIT_FOR_CLEANUP_S = 330.0
_ALL_ROWS = {"apply_deleted_mask": 0}  # masked (lightweight-deleted, not yet merged) rows too


@dataclass
class Removed:
    records: int
    parts: list[str]  # the parts that held them, now gone from disk

    def as_dict(self) -> dict:
        return {"records": self.records, "parts_rewritten": len(self.parts)}


def rows_matching(table: str, where: str, params: dict) -> list[tuple[str, str]]:
    """(stream_id, day) of the rows matching, masked ones included."""
    rows = ch.query(f"SELECT stream_id, toString(toDate(enqueue_time)) FROM {{db}}.{ch.identifier(table)} "
                    f"WHERE {where}", tag="erasure", parameters=params, settings_=_ALL_ROWS).result_rows
    return [(sid, day) for sid, day in rows]


def parts_holding(table: str, stream_ids: list[str], days: list[str]) -> list[tuple[str, str]]:
    """(name, path) of the active parts holding these rows, masked ones included."""
    if not stream_ids:
        return []
    rows = ch.query(f"SELECT DISTINCT _part FROM {{db}}.{ch.identifier(table)} "
                    "WHERE toDate(enqueue_time) IN {days:Array(Date)} AND stream_id IN {ids:Array(String)}",
                    tag="erasure", parameters={"days": days, "ids": stream_ids}, settings_=_ALL_ROWS).result_rows
    names = [name for (name,) in rows]
    if not names:
        return []
    found = ch.query("SELECT name, path FROM system.parts WHERE database = {database:String} AND table = {t:String} "
                     "AND name IN {names:Array(String)}", tag="erasure",
                     parameters={"database": ch.database(), "t": table, "names": names}).result_rows
    return [(name, path) for name, path in found]


def remove_rows(table: str, stream_ids: list[str], days: list[str], *, parts=(), checkpoint: str = "") -> Removed:
    """Remove these rows (by stream id, within these days) from every part, physically. Idempotent.

    `parts`: (name, path) of parts noted earlier as holding them (a caller's plan), waited for too,
    so a retry after a crash between the mutation and the wait still sees the old parts go."""
    if not stream_ids:
        return Removed(0, [])
    name = ch.identifier(table)
    found = parts_holding(table, stream_ids, days)
    parts = [*found, *[(n, path) for n, path in parts if n not in {f for f, _ in found}]]
    present = len(rows_matching(table, "toDate(enqueue_time) IN {days:Array(Date)} AND stream_id IN {ids:Array(String)}",
                                {"days": days, "ids": stream_ids}))
    settings_sql = ", ".join(f"{k} = {v}" for k, v in {**PROMPT_CLEANUP, **_SHORT_LIFETIME}.items())
    ch.command(f"ALTER TABLE {{db}}.{name} MODIFY SETTING {settings_sql}", tag="erasure")
    try:
        # None left (an earlier attempt removed them): another mutation would only replace every part
        # with a copy, leaving old versions behind that nobody waits for. Only the noted parts may be left.
        if present or found:
            ch.command(f"ALTER TABLE {{db}}.{name} DELETE WHERE toDate(enqueue_time) IN {{days:Array(Date)}} "
                       "AND stream_id IN {ids:Array(String)}", tag="erasure",
                       parameters={"days": days, "ids": stream_ids}, settings_={"mutations_sync": 2})
        if checkpoint:
            faults.checkpoint(checkpoint)
        _wait_until_gone(table, parts)
    finally:
        ch.command(f"ALTER TABLE {{db}}.{name} RESET SETTING {', '.join(_SHORT_LIFETIME)}", tag="erasure")
    return Removed(present, [p for p, _ in parts])


def _wait_until_gone(table: str, parts: list[tuple[str, str]]) -> None:
    deadline = time.monotonic() + WAIT_FOR_CLEANUP_S
    names = [name for name, _ in parts]
    while True:
        listed = ch.query("SELECT count() FROM system.parts WHERE database = {database:String} AND table = {t:String} "
                          "AND name IN {names:Array(String)}", tag="erasure",
                          parameters={"database": ch.database(), "t": table, "names": names}).result_rows[0][0]
        on_disk = [path for _, path in parts if path and os.path.exists(path)]
        if not listed and not on_disk:
            return
        if time.monotonic() > deadline:
            raise ch.WarehouseError(f"{table}: {len(on_disk) or listed} old parts still on disk after "
                                    f"{WAIT_FOR_CLEANUP_S:.0f} s; the erasure is retried")
        time.sleep(1.0)  # a query listing parts holds them while it runs: do not ask too often
