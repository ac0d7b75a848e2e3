"""The two sinks, each idempotent per batch id: ClickHouse (dedup token) and Iceberg (snapshot property).

The ClickHouse sink also writes the batch's rows of the job index (`apps.warehouse.job_index`) and of
the subject index (`apps.compliance.subject_index`); the rollups follow its insert by materialized
views (`apps.warehouse.rollups`).
"""

from __future__ import annotations

from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings

from apps.compliance import subject_index
from apps.core import faults
from apps.lake import table as lake_table
from apps.records.schema import SUBJECT_KEYS
from apps.warehouse import client as ch
from apps.warehouse import job_index, rollups

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
        # The rollups' views drop a replayed block by the same token (apps.warehouse.rollups).
        settings_={"insert_deduplication_token": batch_id, **rollups.DEDUPLICATE_VIEWS},
    )
    job_index.add(data)
    if SUBJECT_KEYS in data.column_names:
        faults.checkpoint("clickhouse_records_written")
        subject_index.add(data, f"{batch_id}:subjects")


def write_iceberg(data: pa.Table, batch_id: str) -> None:
    lake_table.append_batch(data, batch_id)


def write_cold_only(data: pa.Table, batch_id: str) -> None:
    """After a batch archived without the warm sink: index its job ids and count it in the rollups
    (the warm sink would have), and mark its (day, queue, outcome) groups as served from the cold
    tier (`tier_moves`, in effect at once), so `jobs_all` reads them there whatever the warm tier
    holds of those days. Idempotent: the same markers and index rows again fold into one at the next
    merge, the rollups drop a repeat by the batch id. A marker's `records` counts this batch's
    records; its id checksum is 0, as nothing was moved or compared."""
    if data.num_rows == 0:
        return
    job_index.add(data)
    rollups.add_cold_only(data, batch_id)
    groups = pa.table({"day": pc.cast(data.column("enqueue_time"), pa.date32()),
                       "queue": pc.cast(data.column("queue"), pa.string()),
                       "outcome": pc.cast(data.column("outcome"), pa.string())}) \
        .group_by(["day", "queue", "outcome"], use_threads=False).aggregate([([], "count_all")])
    now = datetime.now(timezone.utc)
    stamp = pa.array([now] * groups.num_rows, pa.timestamp("ms", tz="UTC"))
    ch.insert_arrow("tier_moves", pa.table({
        "day": groups.column("day"), "queue": groups.column("queue"), "outcome": groups.column("outcome"),
        "records": pc.cast(groups.column("count_all"), pa.uint64()),
        "id_checksum": pa.array([0] * groups.num_rows, pa.uint64()),
        "moved_at": stamp, "effective_at": stamp}), tag="export")
