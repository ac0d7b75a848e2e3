"""Prometheus metrics (prometheus-client), correct across web and Celery processes.

Two kinds, both exposed by `/metrics` (apps.operations.views):

- **Events** counted where they happen (the exporter: batch sizes, stage durations, write errors),
  in prometheus-client's multiprocess mode: each process writes its values to files in
  `ARCHIVE_METRICS_DIR` (`PROMETHEUS_MULTIPROC_DIR`, set here before prometheus-client is imported), and the scrape sums every process's files,
  so any gunicorn worker answers for the Celery worker too. Web and worker must share that
  directory (same host, or a shared volume in docker/compose.yaml); it is emptied when the
  whole portal starts (`make run`), as prometheus-client asks.
- **State** read at scrape time from PostgreSQL and Redis (`apps.operations.figures`): records
  exported per sink and duplicates from the ledger's daily totals (kept for good, so they are true
  counters across restarts and processes), lag, pending, tiers, retention, erasure and audit.

Metric names start with `archive_`. Labels hold sink, stage, tier, state and field names only, never a value
from a record.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# prometheus-client picks multiprocess mode when it is first imported, from this variable: set it
# before that. Subprocesses inherit it, so a worker that a test starts writes where the test reads.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(settings.ARCHIVE_METRICS_DIR))
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from apps.operations.figures import OperationsFigures, operations_figures

if values.ValueClass.__name__ != "MmapedValue":  # the class of multiprocess mode
    raise ImproperlyConfigured("prometheus-client was imported before PROMETHEUS_MULTIPROC_DIR was set: its metrics "
                               "would stay in that process, unseen by /metrics; import apps.operations.metrics first")

BATCH_RECORDS = Histogram(
    "archive_export_batch_records", "Records written per export batch",
    buckets=(0, 10, 100, 1_000, 5_000, 10_000, 20_000, 50_000, 100_000))
STAGE_SECONDS = Histogram(
    "archive_export_stage_seconds", "Time an export batch spent in each stage (read, transform, sinks, ...)",
    ["stage"], buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
EXPORT_ERRORS = Counter(
    "archive_export_errors", "Failed export attempts (the batch stays recorded and is retried), by stage", ["stage"])


def observe_batch(records: int) -> None:
    """One acknowledged batch, of `records` records written."""
    BATCH_RECORDS.observe(records)


def observe_stage(stage: str, seconds: float) -> None:
    """One pass of an export stage (apps.exports.exporter's `_stage`)."""
    STAGE_SECONDS.labels(stage=stage).observe(seconds)


def count_error(stage: str) -> None:
    EXPORT_ERRORS.labels(stage=stage).inc()


def _gauge(name: str, doc: str, value, labels: dict | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, doc, labels=list(labels or {}))
    if value is not None:
        family.add_metric(list((labels or {}).values()), value)
    return family


def _labelled(name: str, doc: str, label: str, values: dict, kind=GaugeMetricFamily):
    family = kind(name, doc, labels=[label])
    for key, value in sorted(values.items()):
        family.add_metric([key], value)
    return family


class StateCollector:
    """The state metrics, from one read of the operational figures per scrape."""

    def collect(self):
        yield from families(operations_figures())


def families(f: OperationsFigures):
    """Every state metric of `f` (see the module docstring)."""
    from apps.erasure.models import ErasureState

    e = f.export
    if e is not None:
        yield _labelled("archive_records_exported", "Records acknowledged in each sink (the export ledger)",
                        "sink", e.records_by_sink, CounterMetricFamily)
        yield CounterMetricFamily("archive_export_batches", "Export batches acknowledged", value=e.batches)
        yield CounterMetricFamily("archive_duplicates_dropped", "Entries dropped because their record was archived "
                                  "already", value=e.duplicates)
        yield CounterMetricFamily("archive_dead_letters", "Entries dead-lettered (broke the stream contract)",
                                  value=e.dead_letters)
        yield _labelled("archive_dead_letters_waiting", "Dead letters waiting for a fix, by the field that broke "
                        "the contract", "field", e.dead_letters_waiting)
        yield _gauge("archive_stream_length", "Entries in the archive stream", e.length)
        yield _gauge("archive_stream_lag", "Entries not yet read by the exporters' consumer group", e.lag)
        yield _gauge("archive_stream_pending", "Entries read, not yet acknowledged", e.pending)
        yield _gauge("archive_stream_oldest_unexported_age_seconds", "Age of the oldest entry not yet exported "
                     "(0: none waiting)", e.oldest_unexported_age_s or 0.0)
    yield _gauge("archive_stream_up", "1 when Redis answered this scrape", 0 if e is None else 1)
    yield _labelled("archive_tier_records", "Records per tier (archive stats snapshot)", "tier",
                    {t: v.records for t, v in f.tiers.items()})
    yield _labelled("archive_tier_bytes", "Stored bytes per tier (archive stats snapshot)", "tier",
                    {t: v.stored_bytes for t, v in f.tiers.items()})
    yield _gauge("archive_stats_snapshot_timestamp_seconds", "When the worker computed the tier figures",
                 f.stats_at)
    yield _labelled("archive_storage_used_ratio", "Used over total bytes of each place with a capacity", "place",
                    f.storage_used_ratio)
    yield _labelled("archive_retention_runs", "Scheduled retention runs by state", "state", f.retention_runs)
    yield _gauge("archive_retention_last_success_timestamp_seconds", "When the last retention run succeeded (while "
                 "none has, the first run's start)", f.retention_last_success or f.retention_first_run)
    yield _labelled("archive_erasure_requests", "Erasure requests by state", "state",
                    {s.value: f.erasure_by_state.get(s.value, 0) for s in ErasureState})
    yield _gauge("archive_erasure_requests_overdue", "Erasure requests open past their due date", f.erasure_overdue)
    yield _gauge("archive_audit_chain_verified", "1 when the last audit chain verification found it intact, 0 when "
                 "broken (absent: never verified)", None if f.audit_chain_ok is None else int(f.audit_chain_ok))
    yield _gauge("archive_audit_chain_verified_timestamp_seconds", "When the audit chain was last verified",
                 f.audit_verified_at)
    yield CounterMetricFamily("archive_schema_migration_failures", "Schema versions whose warehouse migration "
                              "failed", value=f.schema_apply_failures)


def render() -> bytes:
    """The exposition text: every process's event metrics, summed, and the state read now."""
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(StateCollector())
    return generate_latest(registry)
