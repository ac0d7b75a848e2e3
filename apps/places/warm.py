"""Place: the warm tier, ClickHouse `jobs_archive` (lightweight DELETE: masked at once, gone at the next merge)."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.places.selection import Selection, sql
from apps.retention.tiering import warm_bytes_per_row
from apps.warehouse import client as ch
from apps.warehouse import held

NAME = "warm"


@dataclass
class Found:
    selections: list[Selection]
    per_day: dict[str, int] = field(default_factory=dict)
    bytes_estimate: int = 0

    def summary(self) -> dict:
        return {"records": sum(self.per_day.values()), "partitions": len(self.per_day),
                "bytes_estimate": self.bytes_estimate}


def preview(selections: list[Selection]) -> Found:
    found = Found(selections)
    if not selections:
        return found
    where, params = sql(selections)
    rows = ch.query(f"SELECT toString(toDate(enqueue_time)) AS day, count() FROM {{db}}.jobs_archive "
                    f"WHERE {where} GROUP BY day", tag="purge", parameters=params).result_rows
    found.per_day = {d: int(n) for d, n in rows}
    bytes_per_row = warm_bytes_per_row()
    found.bytes_estimate = int(sum(n * bytes_per_row.get(d, 0.0) for d, n in found.per_day.items()))
    return found


def remove(found: Found) -> dict:
    if not found.per_day:
        return {"records": 0}
    where, params = sql(found.selections)
    with held.changing(found.per_day):
        ch.command(f"DELETE FROM {{db}}.jobs_archive WHERE {where}", tag="purge", parameters=params)
    return {"records": sum(found.per_day.values())}
