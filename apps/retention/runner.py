"""One retention run: plan every step from the same state, then (unless a dry run) act on exactly that plan.

Steps, in the order they act: purge by policy (cold-tier age and count caps, and dead letters
past their own retention, ARCHIVE_DEAD_LETTER_DAYS), warm-to-cold
tiering, compaction of closed days, snapshot expiry with orphan-file removal, Redis trimming,
and bookkeeping (the export ledger's rows kept only as long as they serve).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from django.conf import settings

from apps.exports.models import BatchState, ExportBatch
from apps.compliance.selectors import active_holds
from apps.core import faults
from apps.lake import maintenance
from apps.lake.table import load_table
from apps.places import dead_letters as dead_letter_place
from apps.retention import bookkeeping, purge, redis_trim, tiering
from apps.retention.resolution import PolicyBook
from apps.warehouse import client as ch

STEPS = ("purge", "tiering", "compaction", "cleanup", "trim", "bookkeeping")


def _pairs() -> list[tuple[str, str]]:
    rows = ch.query("SELECT DISTINCT toString(queue), toString(outcome) FROM {db}.jobs_all ORDER BY 1, 2",
                    tag="retention").result_rows
    return [(q, o) for q, o in rows]


def _cap_cutoff(queue: str, outcome: str, cap: int) -> datetime | None:
    """Enqueue time of the cap-th newest record: older ones go (ties at the cutoff stay)."""
    rows = ch.query(
        "SELECT enqueue_time FROM {db}.jobs_all WHERE queue = {q:String} AND outcome = {o:String} "
        "ORDER BY enqueue_time DESC LIMIT 1 OFFSET {offset:UInt64}",
        tag="retention", parameters={"q": queue, "o": outcome, "offset": cap - 1}).result_rows
    return rows[0][0] if rows else None


def policy_selections(book: PolicyBook, as_of: datetime) -> list[purge.Selection]:
    """What the policies say must go: records past their cold-tier age, and records beyond count caps."""
    selections = []
    for queue, outcome in _pairs():
        policy = book.for_pair(queue, outcome)
        if policy.cold_days:
            selections.append(purge.Selection(as_of - timedelta(days=policy.cold_days), queue, outcome,
                                              reason=f"older than {policy.cold_days} days "
                                                     f"({policy.sources['cold_days']})"))
        if policy.max_records:
            cutoff = _cap_cutoff(queue, outcome, policy.max_records)
            if cutoff is not None:
                selections.append(purge.Selection(cutoff, queue, outcome,
                                                  reason=f"beyond the newest {policy.max_records} "
                                                         f"({policy.sources['max_records']})"))
    return selections


def _compaction_plan(as_of: datetime, emptied: set[str]) -> list[dict]:
    """Closed days with more than one file; days the purge in the same run empties have nothing to compact."""
    today = as_of.date()
    return [{"day": day.isoformat(), "files": files}
            for day, files in sorted(maintenance.day_files(load_table()).items())
            if files > 1 and day < today and day.isoformat() not in emptied]


def _snapshot_cutoff() -> datetime:
    """Snapshots younger than the orphan age, or than the oldest unfinished export batch, are kept:
    the exporter finds its committed batches by their snapshots."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=settings.ARCHIVE_ORPHAN_MIN_AGE_SECONDS)
    oldest_open = (ExportBatch.objects.exclude(state=BatchState.ACKNOWLEDGED)
                   .order_by("created_at").values_list("created_at", flat=True).first())
    if oldest_open is not None:
        cutoff = min(cutoff, oldest_open - timedelta(minutes=1))
    return cutoff


@dataclass
class RunPlan:
    as_of: datetime
    steps: tuple[str, ...]
    purge: purge.PurgePreview | None = None
    dead_letters: dead_letter_place.Found | None = None
    tiering: tiering.TieringPlan | None = None
    compaction: list[dict] | None = None
    trim: redis_trim.TrimPlan | None = None
    bookkeeping: bookkeeping.BookkeepingPlan | None = None
    dead_letters_before: str | None = None

    def as_dict(self) -> dict:
        out: dict = {"as_of": self.as_of.isoformat(), "steps": list(self.steps)}
        if self.purge is not None:
            out["purge"] = self.purge.as_dict()
        if self.dead_letters is not None:
            out["dead_letters"] = {"before": self.dead_letters_before, **self.dead_letters.summary()}
        if self.tiering is not None:
            out["tiering"] = self.tiering.summary()
        if self.compaction is not None:
            out["compaction"] = {"days": len(self.compaction), "files": sum(d["files"] for d in self.compaction),
                                 "per_day": self.compaction}
        if self.trim is not None:
            out["trim"] = self.trim.summary()
        if self.bookkeeping is not None:
            out["bookkeeping"] = self.bookkeeping.summary()
        return out

    @property
    def alerts(self) -> list[str]:
        if self.tiering is None:
            return []
        return [f"tiering kept {m.day} {m.queue}/{m.outcome} warm: {m.problem}" for m in self.tiering.failed]


def plan_run(book: PolicyBook, as_of: datetime, steps: tuple[str, ...] = STEPS) -> RunPlan:
    plan = RunPlan(as_of=as_of, steps=steps)
    holds = active_holds()  # one set of legal holds for every step of the plan
    if "purge" in steps:
        plan.purge = purge.preview_purge(policy_selections(book, as_of), holds)
        if settings.ARCHIVE_DEAD_LETTER_DAYS:
            plan.dead_letters_before = (as_of - timedelta(days=settings.ARCHIVE_DEAD_LETTER_DAYS)).isoformat()
            plan.dead_letters = dead_letter_place.older_than(datetime.fromisoformat(plan.dead_letters_before),
                                                             keep=holds)
    if "tiering" in steps:
        plan.tiering = tiering.plan_tiering(book, as_of)
    if "compaction" in steps:
        plan.compaction = _compaction_plan(as_of, plan.purge.emptied_days if plan.purge else set())
    if "trim" in steps:
        plan.trim = redis_trim.plan_trim(book, as_of, keep=holds)
    if "bookkeeping" in steps:
        plan.bookkeeping = bookkeeping.plan_bookkeeping(book, as_of)
    return plan


def apply_run(plan: RunPlan) -> dict:
    result: dict = {}
    if plan.purge is not None:
        result["purge"] = purge.apply_purge(plan.purge)
        faults.checkpoint("retention_purged")
    if plan.dead_letters is not None:
        result["dead_letters"] = dead_letter_place.remove(plan.dead_letters)
    if plan.tiering is not None:
        result["tiering"] = tiering.apply_tiering(plan.tiering)
    if plan.compaction:
        done = []
        for item in plan.compaction:
            compacted = maintenance.compact_day(date.fromisoformat(item["day"]))
            faults.checkpoint("compacted")
            if compacted is not None:
                done.append(compacted)
        result["compaction"] = {"days": len(plan.compaction), "compacted_days": len(done),
                                "files_before": sum(c.files_before for c in done),
                                "files_after": sum(c.files_after for c in done),
                                "records": sum(c.records for c in done)}
    if "cleanup" in plan.steps:
        expired = maintenance.expire_snapshots(_snapshot_cutoff())
        orphans = maintenance.remove_orphans(timedelta(seconds=settings.ARCHIVE_ORPHAN_MIN_AGE_SECONDS))
        result["cleanup"] = {"snapshots_expired": expired, **orphans}
    if plan.trim is not None:
        result["trim"] = redis_trim.apply_trim(plan.trim)
    if plan.bookkeeping is not None:  # after trimming, which reads the batch rows
        result["bookkeeping"] = bookkeeping.apply_bookkeeping(plan.bookkeeping)
    return result
