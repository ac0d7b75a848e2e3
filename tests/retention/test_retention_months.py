"""Months of simulated time: records move warm to cold and are purged by policy; jobs_all stays exact throughout."""

from __future__ import annotations

from datetime import date

from apps.retention.models import RetentionPolicy
from apps.retention.services import retention_run
from tests.actors import TESTS
from tests.retention.helpers import T0, days, export, jobs_all_counts, produce, warm_days

WARM_DAYS = 7
COLD_DAYS = 60
EMAILS_COLD_DAYS = 30


def _expected(produced: list[dict], now) -> int:
    """Records still within their cold-tier window at `now`."""
    kept = 0
    for r in produced:
        limit = EMAILS_COLD_DAYS if r["queue"] == "emails" else COLD_DAYS
        kept += r["ms"] >= int((now - days(limit)).timestamp() * 1000)
    return kept


def test_records_move_through_all_tiers_over_simulated_months(archive):
    RetentionPolicy.objects.create(warm_days=WARM_DAYS, cold_days=COLD_DAYS, description="global")
    RetentionPolicy.objects.create(queue="emails", cold_days=EMAILS_COLD_DAYS, description="emails hold PII")
    produced: list[dict] = []
    now = T0
    moved_any = purged_any = False
    for step in range(10):  # ten steps of ten days: about three months
        now = T0 + days(10 * step)
        produced += produce(archive, 600, now=now, days=10, seed=step)
        export()
        run = retention_run(actor=TESTS, dry_run=False, as_of=now)
        assert run.state == "done", run.error
        expected = _expected(produced, now)
        # Every step: what was produced minus what policy purged, each record exactly once.
        assert jobs_all_counts() == (expected, expected), f"step {step} at {now:%Y-%m-%d}"
        # The warm tier holds only days inside the warm window (today's boundary day included).
        oldest_warm = min((date.fromisoformat(d) for d in warm_days()), default=None)
        assert oldest_warm is None or oldest_warm >= (now - days(WARM_DAYS)).date()
        moved_any |= bool(run.result["tiering"]["evicted_records"])
        purged_any |= bool(run.result["purge"]["records"])
        assert not run.alerts
    assert moved_any and purged_any  # the simulation really exercised both moves
