"""Rehydration writes: request, run (on the warehouse worker), drop now, and expire what is due."""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, audit_context, require_permission
from apps.audit.services import audit_record
from apps.core.durations import format_duration, parse_duration
from apps.erasure.tombstones import erased_in_table
from apps.places import rehydrated
from apps.rehydration import tables
from apps.rehydration.models import Rehydration, RehydrationState
from apps.retention.locks import one_run_at_a_time
from apps.retention.selectors import removals_not_finished_before
from apps.warehouse import dispatch as warehouse
from apps.warehouse.physical import remove_rows

logger = logging.getLogger(__name__)


def _requester(rehydration: Rehydration) -> Actor:
    """Who the worker's changes to a request are recorded as: whoever asked for it."""
    user = rehydration.requested_by
    return Actor.of_user(user, via="task") if user else Actor.system("task")


def as_dict(rehydration: Rehydration) -> dict:
    return {
        "id": str(rehydration.id),
        "short_id": rehydration.short_id,
        "table": rehydration.table_name,
        "state": rehydration.state,
        "date_from": rehydration.date_from.isoformat(),
        "date_to": rehydration.date_to.isoformat(),
        "queues": list(rehydration.queues),
        "expires_at": rehydration.expires_at.isoformat(),
        "rows": rehydration.rows,
        "bytes": rehydration.bytes,
        "error": rehydration.error,
    }


def rehydration_validate(*, date_from: date, date_to: date, queues: list[str] | None,
                         expires_in: timedelta) -> list[str]:
    """Raise ValidationError with every problem at once; returns the queues cleaned and de-duplicated."""
    errors: dict[str, str] = {}
    if date_from > date_to:
        errors["date_to"] = f"The last day ({date_to}) is before the first day ({date_from})."
    cleaned = list(dict.fromkeys(q.strip() for q in (queues or []) if q.strip()))
    too_long = [q for q in cleaned if len(q) > 128]
    if too_long:
        errors["queues"] = f"Queue names are at most 128 characters: {too_long[0][:40]}..."
    longest = parse_duration(settings.REHYDRATION_MAX_EXPIRY)
    if expires_in <= timedelta(0) or expires_in > longest:
        errors["expires_in"] = (f"The expiry must be positive and at most {format_duration(longest)} "
                                "(REHYDRATION_MAX_EXPIRY).")
    if errors:
        raise ValidationError(errors)
    return cleaned


def rehydration_request(*, date_from: date, date_to: date, queues: list[str] | None, expires_in: timedelta,
                        actor: Actor, via: str = "", dispatch: bool = True) -> Rehydration:
    """Record the request and, once committed, send the copy to the warehouse worker.

    `dispatch=False` leaves running it to the caller (the CLI runs it through the warehouse
    dispatch and waits for the result).
    """
    require_permission(actor, "rehydration.add_rehydration")
    cleaned = rehydration_validate(date_from=date_from, date_to=date_to, queues=queues, expires_in=expires_in)
    with transaction.atomic(), audit_context(actor):
        rehydration = Rehydration(
            date_from=date_from, date_to=date_to, queues=cleaned, expires_at=timezone.now() + expires_in,
            requested_by_id=actor.user_id, requested_via=via[:100],
        )
        rehydration.table_name = Rehydration.table_name_for(rehydration.id)
        rehydration.save()
        if dispatch:
            from apps.rehydration.tasks import rehydration_run as task

            warehouse.submit(task, rehydration_id=str(rehydration.id))
        audit_record(actor=actor, action="rehydration.requested",
                     target=f"rehydration:{rehydration.id}", details={
                         "table": rehydration.table_name, "date_from": date_from.isoformat(),
                         "date_to": date_to.isoformat(), "queues": cleaned,
                         "expires_at": rehydration.expires_at.isoformat()})
    return rehydration


def _range(rehydration: Rehydration) -> tuple[datetime, datetime]:
    start = datetime.combine(rehydration.date_from, time.min, tzinfo=UTC)
    return start, datetime.combine(rehydration.date_to + timedelta(days=1), time.min, tzinfo=UTC)


def rehydration_run(*, rehydration_id: str) -> dict:
    """Copy the range into its table (warehouse worker only). Runs once: a repeat returns the state."""
    with transaction.atomic():
        rehydration = Rehydration.objects.select_for_update().get(pk=rehydration_id)
        if rehydration.state != RehydrationState.PENDING:
            return as_dict(rehydration)
        with audit_context(_requester(rehydration)):
            rehydration.state = RehydrationState.RUNNING
            rehydration.started_at = timezone.now()
            rehydration.save(update_fields=["state", "started_at"])

    start, end = _range(rehydration)
    try:
        tables.create_from_cold(table=rehydration.table_name, start=start, end=end, queues=rehydration.queues)
        rows, size_bytes = tables.size(rehydration.table_name)
        error = ""
    except Exception as exc:  # recorded on the request for the user; a partial table is removed
        logger.exception("rehydration %s failed", rehydration.short_id)
        error = str(exc).split("\n")[0][:2000] or type(exc).__name__
        with contextlib.suppress(Exception):
            tables.drop(rehydration.table_name)

    # While no retention run or purge runs: the copy becomes ready, then applies every removal that
    # had not finished before it started (one it read the cold tier before, or ran beside).
    with one_run_at_a_time():
        with transaction.atomic(), audit_context(_requester(rehydration)):
            rehydration = Rehydration.objects.select_for_update().get(pk=rehydration_id)
            if rehydration.state != RehydrationState.RUNNING:
                # Dropped or expired while copying: the drop ran before the table existed, so drop it now.
                tables.drop(rehydration.table_name)
                return as_dict(rehydration)
            rehydration.finished_at = timezone.now()
            if error:
                rehydration.state, rehydration.error = RehydrationState.FAILED, error
                rehydration.save(update_fields=["state", "error", "finished_at"])
            else:
                rehydration.state, rehydration.rows, rehydration.bytes = RehydrationState.READY, rows, size_bytes
                rehydration.save(update_fields=["state", "rows", "bytes", "finished_at"])
        if not error:
            for selections in removals_not_finished_before(rehydration.started_at):
                rehydrated.remove_from(rehydration.table_name, selections)
            # Erased people stay erased: records a tombstone names are not restored into the copy.
            stream_ids, days = erased_in_table(rehydration.table_name)
            remove_rows(rehydration.table_name, stream_ids, days)
    return as_dict(rehydration)


def rehydration_drop(*, rehydration: Rehydration, actor: Actor, dispatch: bool = True) -> Rehydration:
    """Expire it now; the warehouse worker drops the table (the periodic expiry would too)."""
    require_permission(actor, "rehydration.delete_rehydration")
    with transaction.atomic(), audit_context(actor):
        locked = Rehydration.objects.select_for_update().get(pk=rehydration.pk)
        if locked.state == RehydrationState.EXPIRED:
            return locked
        locked.expires_at = timezone.now()
        locked.save(update_fields=["expires_at"])
        if dispatch:
            from apps.rehydration.tasks import rehydration_drop_table as task

            warehouse.submit(task, rehydration_id=str(locked.id), actor=actor.as_task())
        audit_record(actor=actor, action="rehydration.dropped",
                     target=f"rehydration:{locked.id}", details={"table": locked.table_name, "state": locked.state})
    return locked


def rehydration_drop_table(*, rehydration_id: str, actor: Actor) -> dict:
    """Drop the table and mark the request expired (warehouse worker only)."""
    require_permission(actor, "rehydration.delete_rehydration")
    with transaction.atomic(), audit_context(actor):
        rehydration = Rehydration.objects.select_for_update().get(pk=rehydration_id)
        if rehydration.state == RehydrationState.EXPIRED:
            return as_dict(rehydration)
        # Whatever the state: a copy that crashed left its table behind, and one still running fails
        # (or finishes) and drops it again when it sees the new state (rehydration_run).
        tables.drop(rehydration.table_name)
        rehydration.state = RehydrationState.EXPIRED
        rehydration.dropped_at = timezone.now()
        rehydration.expires_at = min(rehydration.expires_at, rehydration.dropped_at)
        rehydration.save(update_fields=["state", "dropped_at", "expires_at"])
    return as_dict(rehydration)


def rehydration_expire_due(*, actor: Actor) -> list[str]:
    """Drop every table whose expiry has passed, and every rehydrated table that no live request
    owns (a copy cut short, a row deleted); returns the table names dropped. Beat runs it."""
    due = Rehydration.objects.filter(expires_at__lte=timezone.now()).exclude(state=RehydrationState.EXPIRED)
    dropped = []
    for rehydration_id in due.values_list("id", flat=True):
        result = rehydration_drop_table(rehydration_id=str(rehydration_id), actor=actor)
        dropped.append(result["table"])
    return dropped + _drop_unowned()


def _drop_unowned() -> list[str]:
    # Tables are listed before rows are read: a table exists only after its row was committed, so
    # a copy starting meanwhile is never mistaken for a leftover.
    present = tables.existing()
    live = set(Rehydration.objects.filter(
        state__in=[RehydrationState.PENDING, RehydrationState.RUNNING, RehydrationState.READY],
        expires_at__gt=timezone.now(),
    ).values_list("table_name", flat=True))
    unowned = sorted(set(present) - live)
    for table in unowned:
        logger.warning("dropping rehydrated table %s: no live rehydration owns it", table)
        tables.drop(table)
    return unowned
