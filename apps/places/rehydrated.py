"""Place: rehydrated tables, `rehydrated_<id>` copies of cold days in ClickHouse.

Ready tables are counted and cleaned like the warm table. A copy still running when a removal
runs cannot be cleaned yet: when it finishes, the copy applies every removal that had not
finished before it started (`apps.rehydration.services`), so no copy keeps what was removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.places.selection import Selection, sql
from apps.warehouse import client as ch

NAME = "rehydrated"


@dataclass
class Found:
    selections: list[Selection]
    per_table: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {"tables": len([t for t, n in self.per_table.items() if n]), "records": sum(self.per_table.values())}


def _ready_tables() -> list[str]:
    from apps.rehydration.models import Rehydration, RehydrationState

    return list(Rehydration.objects.filter(state=RehydrationState.READY).values_list("table_name", flat=True))


def count_in(table: str, selections: list[Selection]) -> int:
    where, params = sql(selections)
    return int(ch.query(f"SELECT count() FROM {{db}}.{ch.identifier(table)} WHERE {where}", tag="purge",
                        parameters=params).result_rows[0][0])


def remove_from(table: str, selections: list[Selection]) -> None:
    where, params = sql(selections)
    ch.command(f"DELETE FROM {{db}}.{ch.identifier(table)} WHERE {where}", tag="purge", parameters=params)


def preview(selections: list[Selection]) -> Found:
    found = Found(selections)
    if selections:
        found.per_table = {table: count_in(table, selections) for table in _ready_tables()}
    return found


def remove(found: Found) -> dict:
    cleaned = [table for table, n in found.per_table.items() if n]
    for table in cleaned:
        remove_from(table, found.selections)
    return {"tables": len(cleaned), "records": sum(found.per_table.values())}
