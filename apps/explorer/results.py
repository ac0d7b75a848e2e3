"""A query run's stored result: one Parquet object in S3 under `results/`, read back page by page.

The result is a copy of archived data, so it is recorded as a `StoredCopy` (kind `query_result`)
before its object is written: no result object is ever unknown to the copies place, and an
erasure deletes it (apps/places/copies.py). The object also expires by the bucket's lifecycle
rule for the prefix (apps/lake/lifecycle.py), and earlier by the beat task (`expires_at`).
Downloads are made from the Parquet object: CSV, JSON (an array of objects) or the Parquet itself.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

KIND = "query_result"
FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "parquet": ("application/vnd.apache.parquet", "parquet"),
}
_local = threading.local()


def _s3():
    """One boto3 client per thread: making one costs more than a small result's upload."""
    from apps.lake import s3

    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = s3.client()
    return client


def object_key(run_id) -> str:
    return f"{settings.S3_LIFECYCLE_RESULTS_PREFIX.rstrip('/')}/{run_id}.parquet"


def _column(values: list) -> pa.Array:
    """Values as the runner returns them (JSON-safe); maps become JSON text, mixed columns text."""
    if any(isinstance(v, dict) for v in values):
        return pa.array([None if v is None else json.dumps(v, ensure_ascii=False, sort_keys=True) for v in values],
                        pa.string())
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def to_table(columns: list[str], rows: list[list]) -> pa.Table:
    # Duplicate names (SELECT 1, 1) are legal SQL; Parquet wants them unique.
    names, seen = [], {}
    for name in columns:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    arrays = [_column([row[i] for row in rows]) for i in range(len(columns))]
    return pa.Table.from_arrays(arrays, names=names) if names else pa.table({})


def to_parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def put(bucket: str, key: str, body: bytes) -> None:
    _s3().put_object(Bucket=bucket, Key=key, Body=body, ContentType=FORMATS["parquet"][0])


def load(bucket: str, key: str) -> pa.Table:
    body = _s3().get_object(Bucket=bucket, Key=key)["Body"].read()
    return pq.read_table(io.BytesIO(body))


@dataclass(frozen=True)
class Page:
    columns: list[str]
    rows: list[list]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_of(table: pa.Table, *, number: int, size: int) -> Page:
    total = table.num_rows
    pages = max(1, -(-total // size))
    number = min(max(1, number), pages)
    chunk = table.slice((number - 1) * size, size)
    return Page(columns=chunk.column_names, rows=[list(r.values()) for r in chunk.to_pylist()],
                number=number, size=size, total=total)


def render(table: pa.Table, fmt: str, body: bytes | None = None) -> bytes:
    """The result in `fmt`; `body` is the Parquet object itself when there is one."""
    if fmt == "parquet":
        return body if body is not None else to_parquet(table)
    records = table.to_pylist()
    if fmt == "json":
        return json.dumps(records, ensure_ascii=False, default=str).encode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(table.column_names)
        for record in records:
            writer.writerow(["" if v is None else json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict))
                             else v for v in record.values()])
        return out.getvalue().encode()
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
