"""Export services: running the exporter (for a command or beat), fixing and re-queuing a dead letter; each audited."""

from __future__ import annotations

from collections.abc import Callable

from auditlog.context import disable_auditlog
from auditlog.models import LogEntry
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.audit.services import audit_record
from apps.exports import entry_fields
from apps.exports.exporter import Exporter
from apps.exports.models import VALUE_NOT_RECORDED, DeadLetter, validate_stream_fields
from apps.stream import client as streams


class ExportBusy(RuntimeError):
    pass


def export_from_command(*, actor: Actor, follow: bool, should_stop: Callable[[], bool], on_batch=None) -> dict:
    """Run the exporter here, or (drain only) on the worker that owns the warehouse; one audit event either way."""
    from apps.warehouse.dispatch import warehouse_worker_live

    if not settings.CELERY_TASK_ALWAYS_EAGER and warehouse_worker_live():
        if follow:
            raise ExportBusy(
                "a worker owns the warehouse and already exports continuously (beat); "
                "use --drain to run one export there, or stop the worker"
            )
        from apps.exports.tasks import export_stream
        from apps.warehouse.dispatch import run_on_warehouse

        return run_on_warehouse(export_stream, in_process=False, timeout=3600, max_seconds=3000,
                                actor=actor.as_task(), record_empty=True)
    return export_run(actor=actor, follow=follow, should_stop=should_stop, on_batch=on_batch, record_empty=True)


def export_run(*, actor: Actor, max_seconds: float | None = None, follow: bool = False,
               should_stop: Callable[[], bool] = lambda: False, on_batch=None, record_empty: bool = False) -> dict:
    """One exporter run, then one `export.run` event with its totals (never one per batch).

    The batches commit one by one as they go, so the event comes after them, in a transaction of
    its own. `record_empty=False` (beat, every few seconds) records only runs that exported a batch.
    """
    summary = Exporter().run(follow=follow, max_seconds=max_seconds, should_stop=should_stop, on_batch=on_batch)
    if summary.batches or summary.recovered_batches or record_empty:
        audit_record(actor=actor, action="export.run", target=f"stream:{settings.ARCHIVE_STREAM}", details={
            "batches": summary.batches, "records": summary.records, "dead_letters": summary.dead_letters,
            "duplicates": summary.duplicates, "recovered_batches": summary.recovered_batches,
            "errors": len(summary.errors), "seconds": round(summary.seconds, 3),
        })
    return summary.as_dict()


def dead_letter_edit(*, dead_letter: DeadLetter, fields: dict[str, str], actor: Actor) -> list[str]:
    """Replace a dead letter's text fields (its binary ones stay as sent); returns the changed keys.

    The audit row names the keys that changed and never their values: a stream entry may hold
    personal data, and the audit log is kept longer than the dead letter.
    """
    require_permission(actor, "exports.change_deadletter")
    validate_stream_fields(fields)
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        if locked.requeued_at is not None:
            raise ValidationError("This entry was re-queued already; an edit now would not reach the archive.")
        changed = entry_fields.changed_keys(locked.fields, fields)
        if not changed:
            return []
        locked.fields = fields
        with disable_auditlog():  # auditlog's own row could only say "fields changed"; ours names the keys
            locked.save(update_fields=["fields"])
        LogEntry.objects.log_create(
            locked, action=LogEntry.Action.UPDATE, actor=actor.user,
            changes={"fields": [f"changed keys: {', '.join(changed)}", VALUE_NOT_RECORDED]},
        )
        audit_record(actor=actor, action="dead_letter.edited",
                     target=f"dead_letter:{locked.pk}", details={"entry_id": locked.entry_id, "changed_keys": changed})
    return changed


def dead_letter_requeue(*, dead_letter: DeadLetter, actor: Actor) -> str | None:
    """Put a dead letter's (possibly corrected) fields back on the archive stream, once.

    Returns the new stream id, or None if it had been re-queued already. The exporter checks
    the entry against the contract again; a still-broken entry comes back as a new dead letter.
    The stream append is idempotent per dead letter: if recording it here fails afterwards, the
    next attempt finds the entry already added and records that one instead of adding another.
    """
    require_permission(actor, "exports.requeue_deadletter")
    with transaction.atomic():
        locked = DeadLetter.objects.select_for_update().get(pk=dead_letter.pk)
        if locked.requeued_at is not None:
            return None
        validate_stream_fields(locked.fields)
        # The edited text fields and the binary ones exactly as they were sent.
        entry = entry_fields.join(locked.fields, locked.binary_fields)
        fields = {k: v for k, v in entry.items() if k not in (b"reason", b"original_id")}
        marker = f"{locked.stream}:requeued:{locked.pk}"
        locked.requeued_as = streams.add_once(streams.connection(), locked.stream, marker, fields)
        locked.requeued_at = timezone.now()
        locked.requeued_by_id = actor.user_id
        locked.save(update_fields=["requeued_at", "requeued_as", "requeued_by"])
        audit_record(actor=actor, action="dead_letter.requeued",
                     target=f"dead_letter:{locked.pk}",
                     details={"entry_id": locked.entry_id, "requeued_as": locked.requeued_as, "stream": locked.stream})
        return locked.requeued_as
