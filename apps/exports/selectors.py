"""Reads for the export status page and the health endpoint."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from django.utils import timezone

from apps.exports.models import BatchState, DeadLetter, ExportBatch, ExportDay, ExportError
from apps.exports.pipeline import sinks
from apps.stream import client as streams


@dataclass
class ExportStatus:
    stream: str
    stream_length: int
    group_lag: int | None
    pending: int
    oldest_unexported_age_s: float | None
    dead_letters: int
    exported_today: dict[str, int]
    duplicates_today: int
    last_batch_at: str | None
    last_batch_records: int | None
    unfinished_batches: int
    recent_errors: list[dict]
    sinks: list[str]

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def sink_names(self) -> list[str]:
        return [{"clickhouse": "ClickHouse", "iceberg": "Iceberg"}[s] for s in self.sinks]

    @property
    def last_batch_time(self):
        return datetime.fromisoformat(self.last_batch_at) if self.last_batch_at else None


def export_status() -> ExportStatus:
    cfg = streams.StreamConfig.from_settings()
    state = streams.group_state(streams.connection(), cfg)
    # Every figure is one indexed row or a bounded read: the daily totals, not the batch rows.
    today = ExportDay.objects.filter(stream=cfg.stream, day=timezone.now().date()).first() or ExportDay()
    last = (
        ExportBatch.objects.filter(stream=cfg.stream, state=BatchState.ACKNOWLEDGED)
        .order_by("-acknowledged_at")
        .only("acknowledged_at", "records")
        .first()
    )
    errors = ExportError.objects.order_by("-created_at")[:10]
    return ExportStatus(
        stream=cfg.stream,
        stream_length=state.length,
        group_lag=state.lag,
        pending=state.pending,
        oldest_unexported_age_s=streams.entry_age_seconds(state.oldest_unexported_id, int(time.time() * 1000)),
        dead_letters=DeadLetter.objects.filter(stream=cfg.stream, requeued_at__isnull=True).count(),
        exported_today={sinks.CLICKHOUSE: today.clickhouse_records, sinks.ICEBERG: today.iceberg_records},
        duplicates_today=today.duplicates,
        last_batch_at=last.acknowledged_at.isoformat() if last else None,
        last_batch_records=last.records if last else None,
        unfinished_batches=ExportBatch.objects.filter(stream=cfg.stream).exclude(state=BatchState.ACKNOWLEDGED).count(),
        recent_errors=[
            {"at": e.created_at.isoformat(), "stage": e.stage, "message": e.message[:500]} for e in errors
        ],
        sinks=sinks.enabled_sinks(),
    )
