"""Every periodic task, declared in one place and synced into django-celery-beat by name."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int
    kwargs: str = "{}"
    description: str = ""


SCHEDULE: tuple[Periodic, ...] = (
    # The streaming export: each run drains what is there (bounded time); runs overlap safely
    # because exporters share the consumer group and the ledger.
    Periodic(
        name="export the archive stream",
        task="apps.exports.tasks.export_stream",
        every_seconds=10,
        kwargs='{"max_seconds": 25}',
        description="Redis stream to ClickHouse and Iceberg, exactly once",
    ),
    # The retention run: purge by policy, tier warm to cold (verified), compact, clean up, trim Redis.
    # Hourly is plenty: windows are in days, and each run finishes what a crashed one left.
    Periodic(
        name="retention run",
        task="apps.retention.tasks.scheduled_retention_run",
        every_seconds=3600,
        description="Retention policies applied to every tier (docs/retention.md)",
    ),
    # Rehydrated tables hold copies of cold data, possibly of records erased since: drop each one
    # soon after its expiry (at most this interval late).
    Periodic(
        name="drop expired rehydrated tables",
        task="apps.rehydration.tasks.rehydration_expire",
        every_seconds=600,
        description="Drops rehydrated_* ClickHouse tables past their expiry and marks them expired",
    ),
    # Subject-access bundles (GDPR art. 15) are copies of a person's records: delete each one (every
    # version of its objects) at most this interval after its download window ends. On the warehouse
    # queue with the rest of apps.erasure, though it needs only PostgreSQL and S3.
    Periodic(
        name="delete expired subject-access bundles",
        task="apps.erasure.tasks.subject_access_expire",
        every_seconds=900,
        description="Deletes subject-access bundles past ARCHIVE_SUBJECT_ACCESS_HOURS (docs/compliance.md)",
    ),
    # Query results are copies of archived data: delete each past ARCHIVE_QUERY_RESULT_DAYS (every
    # version), and keep a run's SQL text only for ARCHIVE_QUERY_HISTORY_DAYS. PostgreSQL and S3 only.
    Periodic(
        name="expire query results and history",
        task="apps.explorer.tasks.query_history_expire",
        every_seconds=3600,
        description="Deletes stored query results past their expiry; clears old runs' SQL text (docs/explorer.md)",
    ),
    # The rollups as Parquet in the lake, readable by any engine (docs/explorer.md, "Rollups"):
    # the newest months rewritten, so a month's object is at most this interval behind.
    Periodic(
        name="rollups to the lake",
        task="apps.warehouse.tasks.rollups_to_lake",
        every_seconds=3600,
        description="queue_hourly_stats, error_patterns, worker_daily_stats as Parquet under rollups/",
    ),
    # What jobs_all holds per day, for retention_status (apps.warehouse.held): the days written since
    # the last run are read from the records until then, so this only keeps those reads few.
    Periodic(
        name="summarise what is held per day",
        task="apps.warehouse.tasks.held_refresh",
        every_seconds=60,
        description="held_daily: records, oldest and newest per day, queue and outcome, for the days written since",
    ),
    # The stats page shows the newest snapshot of the archive's figures (records, bytes, compression).
    Periodic(
        name="archive stats",
        task="apps.explorer.tasks.stats_refresh",
        every_seconds=900,
        description="Records, bytes, compression and oldest/newest per tier and queue for /stats/",
    ),
    # The dashboard's figures per time range (24 h to all history), from the rollups on the worker:
    # the page shows the newest snapshot of each, so its figures are at most this interval old.
    Periodic(
        name="dashboard figures",
        task="apps.dashboard.tasks.dashboard_refresh",
        every_seconds=60,
        description="Throughput, failure rate, durations, errors and workers per range for /dashboard/",
    ),
    # A digest of the audit chain head into the Object Lock bucket: a rewrite or a truncated tail
    # is caught by `archive audit verify` for everything older than the newest digest, so the
    # interval is how much of the chain's end a database superuser could still rewrite unseen.
    # PostgreSQL and S3 only: the default queue (no route sends apps.audit tasks to the warehouse).
    Periodic(
        name="anchor the audit chain",
        task="apps.audit.tasks.anchor_chain_head",
        every_seconds=3600,
        description="Digest of the audit chain head to the locked audit bucket (docs/compliance.md)",
    ),
    # The whole chain and its digests checked once a day as `audit.verified`: the audit-chain alert
    # and the status page read the newest such event. PostgreSQL and S3 only (default queue).
    Periodic(
        name="verify the audit chain",
        task="apps.audit.tasks.verify_chain",
        every_seconds=86400,
        description="Every audit event and digest checked; the outcome recorded as audit.verified",
    ),
    # An erasure run whose process died leaves its request `executing`: mark it failed at its step
    # (a retry resumes it), so officers see it within a minute.
    Periodic(
        name="reap abandoned erasure runs",
        task="apps.erasure.tasks.erasure_reap",
        every_seconds=60,
        description="Erasure requests whose run died become failed at the step they reached",
    ),
)


@transaction.atomic
def sync_schedule() -> list[str]:
    """Create or update each entry by name; keeps last_run_at; disables entries no longer declared."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    names = []
    for entry in SCHEDULE:
        interval, _ = IntervalSchedule.objects.get_or_create(every=entry.every_seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.update_or_create(
            name=entry.name,
            defaults={
                "task": entry.task,
                "interval": interval,
                "kwargs": entry.kwargs,
                "description": entry.description,
                "enabled": True,
                "expire_seconds": entry.every_seconds * 3,
            },
        )
        names.append(entry.name)
    PeriodicTask.objects.filter(task__startswith="apps.").exclude(name__in=names).update(enabled=False)
    return names
