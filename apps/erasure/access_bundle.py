"""A subject-access bundle's files: the records as JSON (one object per record) and as CSV.

Pure functions over the rows a query gave (column names and values as clickhouse-connect returns
them): every column of the record, times as ISO 8601 in UTC, tags as an object (JSON) or as JSON
text (CSV), lists likewise. The bundle is what the data subject receives, so it is plain and
self-describing: the CSV's header is the record's column names, in the record's order.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone

FILES = {"json": ("records.json", "application/json"), "csv": ("records.csv", "text/csv; charset=utf-8")}


@dataclass(frozen=True)
class Bundle:
    columns: list[str]
    records: list[dict]

    def file(self, fmt: str) -> bytes:
        return as_json(self.records) if fmt == "json" else as_csv(self.columns, self.records)


def plain(value):
    """A value as JSON holds it: times in ISO 8601 (UTC), maps as objects, arrays as lists."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def from_rows(columns, rows) -> Bundle:
    names = list(columns)
    return Bundle(names, [{name: plain(value) for name, value in zip(names, row)} for row in rows])


def as_json(records: list[dict]) -> bytes:
    """A JSON array, one record object per line (readable, and still one document)."""
    if not records:
        return b"[]\n"
    lines = ",\n".join(json.dumps(r, ensure_ascii=False, sort_keys=False) for r in records)
    return f"[\n{lines}\n]\n".encode()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def as_csv(columns: list[str], records: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record.get(c)) for c in columns])
    return out.getvalue().encode()
