"""The operational figures: what `/metrics`, the alert conditions, the status page and `archive tui` read.

Every figure comes from PostgreSQL or Redis, never from the warehouse (the web process must not
open it): the export ledger's daily totals (`ExportDay`, kept for good, so its sums only grow),
the consumer group's summary, the newest archive stats snapshot (written by the worker every 15
minutes: records, bytes and disk per tier), retention runs, erasure requests and the audit
chain's own events. Each read is one indexed or grouped query over a small table; the whole set
costs a few milliseconds, so a scrape every 15 s is nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Func, Max, Min, Sum, TextField, Value

OTHER_REASON = "other"


@dataclass
class ExportFigures:
    stream: str
    length: int
    lag: int | None
    pending: int
    oldest_unexported_age_s: float | None
    batches: int
    records: int
    records_by_sink: dict[str, int]
    duplicates: int
    dead_letters: int
    # Dead letters waiting for a fix, by the field that broke the contract (a reason's prefix).
    dead_letters_waiting: dict[str, int]
    # Batches acknowledged and write errors over the error-rate window (ERROR_WINDOW).
    recent_batches: int
    recent_errors: int


@dataclass
class TierFigures:
    records: int
    stored_bytes: int


@dataclass
class OperationsFigures:
    at: float
    export: ExportFigures | None  # None: Redis did not answer
    export_error: str
    tiers: dict[str, TierFigures]
    stats_at: float | None
    # Used over total bytes of each place that has a capacity (the warehouse's disks), from the stats snapshot.
    storage_used_ratio: dict[str, float]
    retention_runs: dict[str, int]
    retention_last_success: float | None
    retention_first_run: float | None
    erasure_by_state: dict[str, int]
    erasure_overdue: int
    audit_verified_at: float | None
    audit_chain_ok: bool | None
    schema_apply_failures: int
    schema_apply_failures_recent: int
    extra: dict = field(default_factory=dict)


# The window over which the export's error rate is taken, here and in the alert rule.
ERROR_WINDOW = timedelta(minutes=10)
SCHEMA_FAILURE_WINDOW = timedelta(hours=1)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def _reason_field(prefix: str, known: set[str]) -> str:
    """A dead letter's reason starts with the field that broke the contract; anything else is `other`
    (reasons may quote values: only a known field name becomes a label)."""
    return prefix if prefix in known else OTHER_REASON


def _export(now: datetime) -> ExportFigures:
    from apps.exports.models import DeadLetter, ExportBatch, ExportDay, ExportError
    from apps.exports.pipeline import sinks
    from apps.records.schema import live_columns
    from apps.stream import client as streams

    cfg = streams.StreamConfig.from_settings()
    state = streams.group_state(streams.connection(), cfg)
    totals = ExportDay.objects.filter(stream=cfg.stream).aggregate(
        batches=Sum("batches"), records=Sum("records"), clickhouse=Sum("clickhouse_records"),
        iceberg=Sum("iceberg_records"), duplicates=Sum("duplicates"), dead=Sum("dead_letters"))
    known = {c.name for c in live_columns()} | {"tags", "schema_version"}
    waiting: dict[str, int] = {}
    rows = (DeadLetter.objects.filter(stream=cfg.stream, requeued_at__isnull=True).order_by()
            .annotate(prefix=Func(F("reason"), Value(":"), Value(1), function="split_part", output_field=TextField()))
            .values_list("prefix").annotate(n=Count("pk")))
    for prefix, n in rows:
        name = _reason_field(prefix, known)
        waiting[name] = waiting.get(name, 0) + n
    since = now - ERROR_WINDOW
    return ExportFigures(
        stream=cfg.stream, length=state.length, lag=state.lag, pending=state.pending,
        oldest_unexported_age_s=streams.entry_age_seconds(state.oldest_unexported_id, int(now.timestamp() * 1000)),
        batches=totals["batches"] or 0, records=totals["records"] or 0,
        records_by_sink={sinks.CLICKHOUSE: totals["clickhouse"] or 0, sinks.ICEBERG: totals["iceberg"] or 0},
        duplicates=totals["duplicates"] or 0, dead_letters=totals["dead"] or 0, dead_letters_waiting=waiting,
        recent_batches=ExportBatch.objects.filter(stream=cfg.stream, acknowledged_at__gte=since).count(),
        recent_errors=ExportError.objects.filter(created_at__gte=since).count(),
    )


def _stats() -> tuple[dict[str, TierFigures], float | None, dict[str, float]]:
    from apps.explorer.models import StatsSnapshot

    snapshot = StatsSnapshot.objects.order_by("-computed_at").first()
    if snapshot is None:
        return {}, None, {}
    figures = snapshot.figures or {}
    tiers = {name: TierFigures(records=int(t.get("records") or 0), stored_bytes=int(t.get("stored_bytes") or 0))
             for name, t in (figures.get("tiers") or {}).items()}
    ratios = {}
    for name, disk in (figures.get("storage") or {}).items():
        if disk.get("total_bytes"):
            ratios[name] = round(1 - disk["free_bytes"] / disk["total_bytes"], 4)
    return tiers, snapshot.computed_at.timestamp(), ratios


def _retention() -> tuple[dict[str, int], float | None, float | None]:
    from apps.retention.models import RetentionRun, RunKind, RunState

    scheduled = RetentionRun.objects.filter(kind=RunKind.RETENTION, dry_run=False)
    by_state = dict(scheduled.order_by().values_list("state").annotate(n=Count("pk")))
    last = scheduled.filter(state=RunState.DONE).aggregate(at=Max("finished_at"))["at"]
    first = scheduled.aggregate(at=Min("started_at"))["at"]
    return by_state, _epoch(last), _epoch(first)


def _erasure(today) -> tuple[dict[str, int], int]:
    from apps.erasure.models import ErasureRequest
    from apps.erasure.selectors import requests_overdue

    by_state = dict(ErasureRequest.objects.order_by().values_list("state").annotate(n=Count("pk")))
    return by_state, requests_overdue(today).count()


def _audit(now: datetime) -> tuple[float | None, bool | None, int, int]:
    from apps.audit.models import AuditEvent
    from apps.schemas.services import SCHEMA_APPLY_FAILED

    verified = AuditEvent.objects.filter(action="audit.verified").order_by("-seq").only("at", "details").first()
    failures = AuditEvent.objects.filter(action=SCHEMA_APPLY_FAILED)
    return (_epoch(verified.at) if verified else None,
            bool(verified.details.get("ok")) if verified else None,
            failures.count(), failures.filter(at__gte=now - SCHEMA_FAILURE_WINDOW).count())


def operations_figures() -> OperationsFigures:
    """Every figure, read now (see the module docstring for where each comes from)."""
    import redis

    now = datetime.now(UTC)
    try:
        export, export_error = _export(now), ""
    except redis.RedisError as exc:
        export, export_error = None, f"Redis: {type(exc).__name__}"
    tiers, stats_at, ratios = _stats()
    runs, last_success, first_run = _retention()
    erasure_by_state, overdue = _erasure(now.date())
    verified_at, chain_ok, failures, recent_failures = _audit(now)
    return OperationsFigures(
        at=time.time(), export=export, export_error=export_error, tiers=tiers, stats_at=stats_at,
        storage_used_ratio=ratios, retention_runs=runs, retention_last_success=last_success,
        retention_first_run=first_run, erasure_by_state=erasure_by_state, erasure_overdue=overdue,
        audit_verified_at=verified_at, audit_chain_ok=chain_ok, schema_apply_failures=failures,
        schema_apply_failures_recent=recent_failures,
    )
