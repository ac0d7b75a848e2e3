"""Reads for the dashboard page: the newest rollup snapshot of a range, and the figures other pages keep.

Nothing here opens the warehouse. The range's figures are the worker's snapshot
(`DashboardSnapshot`); records and bytes per tier are the stats page's newest `StatsSnapshot`;
export lag and dead letters are the export status page's `export_status()`, judged by the health
endpoint's threshold; Redis retention is the policy book's longest `redis_hours` against the age of
the stream's oldest entry; approvals and erasure requests come from their own selectors.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timezone

import redis

from apps.dashboard.models import DashboardSnapshot


def latest_snapshot(range_key: str) -> DashboardSnapshot | None:
    """The newest snapshot of the range, or None before the worker computed one."""
    return DashboardSnapshot.objects.filter(range=range_key).order_by("-computed_at", "-pk").first()


def snapshot_age_s(snapshot: DashboardSnapshot, now: datetime | None = None) -> float:
    return max(0.0, ((now or datetime.now(timezone.utc)) - snapshot.computed_at).total_seconds())


def tier_figures() -> dict | None:
    """Records, stored bytes, raw JSON bytes, compression ratio and bytes saved per tier, with when they were
    computed: the stats page's newest snapshot (apps.explorer), or None before the first."""
    from apps.explorer.selectors import latest_stats

    snapshot = latest_stats()
    if snapshot is None:
        return None
    return {"computed_at": snapshot.computed_at, "tiers": snapshot.figures.get("tiers", {}),
            "json_sample_records": snapshot.figures.get("json_sample_records")}


def _retention_run_interval_s() -> int:
    """How often the retention run (which trims the stream) is scheduled: an entry may outlive its
    retention by that much before a run removes it."""
    from apps.core.schedule import SCHEDULE

    return next(e.every_seconds for e in SCHEDULE if e.task == "apps.retention.tasks.scheduled_retention_run")


def export_and_redis() -> dict:
    """Export lag, dead letters and whether the stream stays within its Redis retention, or
    {"error": ...} when Redis cannot be reached."""
    from apps.exports.selectors import export_status
    from apps.operations.health import EXPORT_MAX_AGE_S
    from apps.retention.selectors import policy_book
    from apps.stream import client as streams

    try:
        status = export_status()
        first = streams.connection().xrange(status.stream, count=1)
    except redis.RedisError as exc:
        return {"error": f"Redis cannot be reached: {exc}"}
    oldest_id = first[0][0].decode() if first else None
    oldest_age = streams.entry_age_seconds(oldest_id, int(time.time() * 1000))
    retention_s = max(policy_book().redis_hours_values()) * 3600
    grace_s = _retention_run_interval_s()
    lag = status.oldest_unexported_age_s
    return {
        "stream": status.stream, "stream_length": status.stream_length, "group_lag": status.group_lag,
        "pending": status.pending, "oldest_unexported_age_s": lag, "dead_letters": status.dead_letters,
        "export_max_age_s": EXPORT_MAX_AGE_S, "export_ok": lag is None or lag < EXPORT_MAX_AGE_S,
        "last_batch_at": status.last_batch_time, "exported_today": status.exported_today,
        "oldest_entry_age_s": oldest_age, "redis_retention_s": retention_s, "trim_interval_s": grace_s,
        "within_retention": oldest_age is None or oldest_age <= retention_s + grace_s,
        "retention_used": round(oldest_age / retention_s, 3) if oldest_age is not None and retention_s else 0.0,
    }


def approvals_open(user, today: date | None = None) -> list[dict]:
    """Pending approvals, oldest first; an erasure's approval is due when its request is. What it acts
    on is shown only to a user who may see approvals."""
    from apps.approvals.selectors import approvals_pending
    from apps.erasure.selectors import is_overdue

    today = today or datetime.now(timezone.utc).date()
    detailed = user.has_perm("approvals.view_approval")
    rows = []
    for approval in approvals_pending().select_related("erasure").order_by("requested_at", "pk"):
        erasure = getattr(approval, "erasure", None)
        rows.append({"id": approval.pk, "action": approval.get_action_display(), "requested_at": approval.requested_at,
                     "target": approval.target if detailed else "", "due_on": erasure.due_on if erasure else None,
                     "overdue": bool(erasure and is_overdue(erasure, today))})
    return rows


def erasures_open(user, today: date | None = None) -> list[dict]:
    """Open erasure requests by due date, with how many days are left; the reference and a link only for a
    user who may see erasure requests."""
    from apps.erasure.selectors import is_overdue, requests_open

    today = today or datetime.now(timezone.utc).date()
    detailed = user.has_perm("erasure.view_erasurerequest")
    return [{"id": r.pk if detailed else None, "reference": r.reference if detailed else "",
             "state": r.get_state_display(), "due_on": r.due_on, "days_left": (r.due_on - today).days,
             "days_over": max(0, (today - r.due_on).days),
             "overdue": is_overdue(r, today)} for r in requests_open()]
