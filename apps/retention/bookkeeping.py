"""Bookkeeping stays small: the export ledger's rows are kept only as long as they serve.

- Export batch rows: recovery needs the unfinished ones (always kept); Redis trimming needs the
  acknowledged ones back to the longest `redis_hours` of any policy. So an acknowledged batch row
  goes once it is older than that plus one day (`batch_horizon`). The status page reads the daily
  totals (`ExportDay`), which stay.
- Runs of record keys (record-level deduplication) go after their expiry day (ARCHIVE_DEDUP_WINDOW).
- Export errors go after ARCHIVE_EXPORT_ERROR_DAYS.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings

from django.db.models import Sum
from django.db.models.functions import Length

from apps.exports.models import BatchState, ExportBatch, ExportError, KeyRun
from apps.exports.pipeline import key_index, ledger
from apps.retention.resolution import PolicyBook

MARGIN = timedelta(days=1)


def batch_horizon(book: PolicyBook) -> timedelta:
    """How long an acknowledged batch row is kept: the longest Redis retention, plus a day."""
    return timedelta(hours=max(book.redis_hours_values())) + MARGIN


@dataclass
class BookkeepingPlan:
    batches_acknowledged_before: str
    batches: int
    keys_expired_before: str
    keys: int
    errors_before: str
    errors: int

    def summary(self) -> dict:
        return asdict(self)


def plan_bookkeeping(book: PolicyBook, as_of: datetime) -> BookkeepingPlan:
    batches_before = as_of - batch_horizon(book)
    errors_before = as_of - timedelta(days=settings.ARCHIVE_EXPORT_ERROR_DAYS)
    keys_before = as_of.date()
    return BookkeepingPlan(
        batches_acknowledged_before=batches_before.isoformat(),
        batches=ExportBatch.objects.filter(state=BatchState.ACKNOWLEDGED,
                                           acknowledged_at__lt=batches_before).count(),
        keys_expired_before=keys_before.isoformat(),
        keys=(KeyRun.objects.filter(expires_on__lt=keys_before).aggregate(n=Sum(Length("keys")))["n"] or 0) // 16,
        errors_before=errors_before.isoformat(),
        errors=ExportError.objects.filter(created_at__lt=errors_before).count(),
    )


def apply_bookkeeping(plan: BookkeepingPlan) -> dict:
    errors = ExportError.objects.filter(created_at__lt=datetime.fromisoformat(plan.errors_before)).delete()[0]
    batches = ledger.prune(acknowledged_before=datetime.fromisoformat(plan.batches_acknowledged_before))
    keys = key_index.prune(datetime.fromisoformat(plan.keys_expired_before).date())
    return {"batches_deleted": batches, "keys_forgotten": keys, "errors_deleted": errors}
