"""The two sinks, each idempotent per batch id: ClickHouse (dedup token) and Iceberg (snapshot property).

The ClickHouse sink also writes the batch's rows of the subject index (`apps.compliance.subject_index`).
"""

from __future__ import annotations

import pyarrow as pa
from django.conf import settings

from apps.compliance import subject_index
from apps.core import faults
from apps.lake import table as lake_table
from apps.records.schema import SUBJECT_KEYS
from apps.warehouse import client as ch

CLICKHOUSE = "clickhouse"
ICEBERG = "iceberg"


def enabled_sinks() -> list[str]:
    sinks = []
    if settings.ARCHIVE_SINK_CLICKHOUSE:
        sinks.append(CLICKHOUSE)
    if settings.ARCHIVE_SINK_ICEBERG:
        sinks.append(ICEBERG)
    return sinks


def write_clickhouse(data: pa.Table, batch_id: str) -> None:
    # A replay of the same batch carries the same tokens, so ClickHouse drops the repeated blocks.
    ch.insert_arrow(
        "jobs_archive",
        data,
        tag="export",
        settings_={"insert_deduplication_token": batch_id, "insert_deduplicate": 1},
    )
    if SUBJECT_KEYS in data.column_names:
        faults.checkpoint("clickhouse_records_written")
        subject_index.add(data, f"{batch_id}:subjects")


def write_iceberg(data: pa.Table, batch_id: str) -> None:
    lake_table.append_batch(data, batch_id)
