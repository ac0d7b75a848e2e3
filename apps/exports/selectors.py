"""Reads for the export status page and the health endpoint."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.exports.models import BatchState, DeadLetter, ExportBatch, ExportError
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
    midnight = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    today = ExportBatch.objects.filter(stream=cfg.stream).aggregate(
        clickhouse=Sum("records", filter=Q(clickhouse_at__gte=midnight)),
        iceberg=Sum("records", filter=Q(iceberg_at__gte=midnight)),
        unfinished=Count("id", filter=~Q(state=BatchState.ACKNOWLEDGED)),
    )
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
        exported_today={sinks.CLICKHOUSE: today["clickhouse"] or 0, sinks.ICEBERG: today["iceberg"] or 0},
        last_batch_at=last.acknowledged_at.isoformat() if last else None,
        last_batch_records=last.records if last else None,
        unfinished_batches=today["unfinished"],
        recent_errors=[
            {"at": e.created_at.isoformat(), "stage": e.stage, "message": e.message[:500]} for e in errors
        ],
        sinks=sinks.enabled_sinks(),
    )
