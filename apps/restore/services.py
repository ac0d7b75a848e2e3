"""Restores: asking for one (the page, the CLI, later the API) and carrying it out (the warehouse worker).

Only SREs and Administrators restore (`restore.add_restore`, checked here as on the page). The
worker reads the selection from `jobs_all` and sends each job's latest attempt through the adapter,
except attempts it refuses, each with its reason:

- the subject was erased (a tombstone names the job or one of its subject keys);
- the kept payload is not the payload as sent (only a hash, a redacted or cut sample was kept);
- an earlier restore sent this attempt already (unless `force`);
- the adapter cannot express it (a Celery restore without a task name, a payload that is not JSON).

A dry run does all of that and sends nothing, records nothing in the ledger. A restore with
`expected_count` is refused whole when the selection no longer holds that many jobs. Audited:
`restore.submitted`, then `restore.previewed`, `restore.done`, `restore.refused` or
`restore.failed`, naming counts and the target, never a job id.

Nothing is sent twice by a crash: an attempt is written to the ledger as *sending* before it is
sent and marked *sent* after; a restore resumed after a crash sends none of those left *sending*
again and reports them (they may have arrived: check the target, then restore them with force).
"""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.audit.services import audit_record
from apps.restore import adapters
from apps.restore.adapters import Refusal
from apps.restore.models import AttemptState, Restore, RestoredAttempt, RestoreState

logger = logging.getLogger(__name__)

PERMISSION = "restore.add_restore"
LINES_KEPT = 200  # per-job lines a restore of named jobs keeps for its page
ERASED = "the subject was erased"
HASH_ONLY = "only the payload's size and hash were kept, not the payload"
SAMPLE_ONLY = "the kept payload is a redacted or cut sample, not the payload as sent"
ALREADY = "already restored by an earlier restore; --force restores it again"
NOT_FOUND = "not in the archive (erased, purged or never archived)"
SENT_BEFORE_CRASH = "may have been sent before the restore was interrupted; not sent again (check the target, " \
                    "then restore it with force)"


def _target(restore: Restore) -> str:
    return f"restore:{restore.pk}"


def _what(restore: Restore) -> dict:
    chosen = restore.selection
    return {"restore": str(restore.pk), "adapter": restore.adapter, "target": restore.target or None,
            "selection": "jobs" if "job_ids" in chosen else "filter",
            "jobs_named": len(chosen.get("job_ids", [])), "dry_run": restore.dry_run, "force": restore.force,
            "expected_count": restore.expected_count}


def restore_submit(*, actor: Actor, adapter: str, target: str = "", job_ids: list[str] | None = None,
                   queue: str = "", outcome: str = "", start=None, end=None, expected_count: int | None = None,
                   dry_run: bool = False, force: bool = False) -> Restore:
    """Record a restore of named jobs, or of one queue and outcome between `start` and `end`, for the
    worker to carry out; Refusal (nothing recorded) for a bad request. The caller dispatches it."""
    from apps.records.contract import OUTCOMES

    require_permission(actor, PERMISSION)
    target = adapters.check_target(adapter, target)
    if job_ids:
        ids = list(dict.fromkeys(j.strip() for j in job_ids if j.strip()))
        if any(len(j) > 128 for j in ids):
            raise Refusal("a job id has 1-128 characters")
        if len(ids) > settings.ARCHIVE_RESTORE_MAX_JOBS:
            raise Refusal(f"at most {settings.ARCHIVE_RESTORE_MAX_JOBS} jobs per restore")
        selection = {"job_ids": ids}
    else:
        missing = [flag for flag, value in (("--queue", queue), ("--status", outcome), ("--from", start),
                                            ("--to DATE", end)) if not value]
        if missing:
            raise Refusal(f"name the jobs, or select a set with --queue, --status, --from and --to (missing "
                          f"{', '.join(missing)})")
        if outcome not in OUTCOMES:
            raise Refusal(f"--status must be one of {', '.join(sorted(OUTCOMES))}, not {outcome!r}")
        if start >= end:
            raise Refusal("--from must be before --to")
        selection = {"queue": queue, "outcome": outcome, "from": start.isoformat(), "to": end.isoformat()}
    if expected_count is not None and expected_count < 0:
        raise Refusal("--count is a number of jobs, 0 or more")
    with transaction.atomic():
        restore = Restore.objects.create(user_id=actor.user_id, actor=actor.label[:150], via=actor.via[:16],
                                         adapter=adapter, target=target, selection=selection,
                                         expected_count=expected_count, dry_run=dry_run, force=force)
        audit_record(actor=actor, action="restore.submitted", target=_target(restore), details=_what(restore))
    return restore


def dispatch(restore: Restore) -> None:
    """Send a queued restore to the warehouse worker once the transaction commits (pages and API)."""
    from apps.restore.tasks import execute_restore
    from apps.warehouse.dispatch import submit

    submit(execute_restore, restore_id=str(restore.pk))


def attempt_hash(job_id: str, attempt: int) -> str:
    from apps.compliance.subject_keys import key_hash

    return key_hash("restored_attempts", f"{job_id}\x1f{attempt}")


# --- on the worker ----------------------------------------------------------------------------------
def restore_execute(*, restore_id: str) -> dict:
    """Carry out (or preview) a restore; returns it as plain data. Safe to run again: an ended restore
    is returned as it is, a resumed one sends nothing twice."""
    from apps.restore.selectors import restore_as_dict

    with transaction.atomic():
        restore = Restore.objects.select_for_update().get(pk=restore_id)
        if restore.ended:
            return restore_as_dict(restore)
        restore.state, restore.started_at = RestoreState.RUNNING, restore.started_at or timezone.now()
        restore.save(update_fields=["state", "started_at"])
    actor = Actor(user_id=restore.user_id, label=restore.actor, via=restore.via)
    try:
        _carry_out(restore, actor)
    except Refusal as exc:
        _end(restore, actor, RestoreState.REFUSED, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the restore ends failed whatever went wrong, and says so
        logger.exception("restore %s failed", restore_id)
        _end(restore, actor, RestoreState.FAILED, error=str(exc).split("\n")[0][:500] or type(exc).__name__)
    return restore_as_dict(Restore.objects.get(pk=restore.pk))


def _records(restore: Restore) -> tuple[list[dict], list[str]]:
    """(each selected job's latest attempt as a dict, the named job ids not found), refusing a
    selection over the cap."""
    from datetime import datetime

    from apps.erasure import tombstones
    from apps.restore import selection

    cap = settings.ARCHIVE_RESTORE_MAX_JOBS
    chosen = restore.selection
    if "job_ids" in chosen:
        table = selection.of_jobs(chosen["job_ids"], limit=cap * 50)
    else:
        table = selection.of_filter(queue=chosen["queue"], outcome=chosen["outcome"],
                                    start=datetime.fromisoformat(chosen["from"]),
                                    end=datetime.fromisoformat(chosen["to"]), limit=cap * 50 + 1)
    erased = tombstones.erased_rows(table)
    rows = table.to_pylist()
    latest = selection.latest_per_job(table)
    if len(latest) > cap:
        raise Refusal(f"the selection holds more than {cap} jobs (ARCHIVE_RESTORE_MAX_JOBS); narrow it")
    records = []
    for position in latest:
        record = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in rows[position].items()}
        if isinstance(record.get("tags"), list):
            record["tags"] = dict(record["tags"])
        record["erased_by"] = erased.get(position)
        records.append(record)
    found = {r["job_id"] for r in records}
    missing = [j for j in chosen.get("job_ids", []) if j not in found]
    return records, missing


def _why_not(record: dict, restore: Restore, sent_before: dict[str, str]) -> tuple[str, str] | None:
    """(the reason, as counted; the reason for this attempt, with what it refers to), or None to send it."""
    from apps.exports.pipeline.policy import payload_is_complete

    if record["erased_by"] is not None:
        return ERASED, f"{ERASED} (erasure request {record['erased_by']})"
    if not payload_is_complete(record["payload_sample"] or "", record["payload_hash"] or "", record["payload_size"]):
        reason = HASH_ONLY if not record["payload_sample"] else SAMPLE_ONLY
        return reason, reason
    previous = sent_before.get(record["hash"])
    if previous and not restore.force:
        return ALREADY, f"{ALREADY} (restore {previous[:8]})"
    try:
        adapters.prepare(restore.adapter, record, restore.target)
    except Refusal as exc:
        return str(exc), str(exc)
    return None


def _carry_out(restore: Restore, actor: Actor) -> None:
    records, missing = _records(restore)
    if restore.expected_count is not None and len(records) != restore.expected_count:
        raise Refusal(f"the selection now holds {len(records)} jobs, not the {restore.expected_count} expected; "
                      "preview it again")
    for record in records:
        record["hash"] = attempt_hash(record["job_id"], record["retries"])
    ledger = RestoredAttempt.objects.filter(attempt_hash__in=[r["hash"] for r in records])
    sent_before = {h: str(r) for h, r in ledger.exclude(restore=restore).values_list("attempt_hash", "restore_id")}
    mine = dict(ledger.filter(restore=restore).values_list("attempt_hash", "state"))  # a resumed run's own
    refused: Counter = Counter()
    lines = [{"job_id": j, "result": "refused", "reason": NOT_FOUND} for j in missing]
    if missing:
        refused[NOT_FOUND] = len(missing)
    to_send = []
    for record in records:
        state = mine.get(record["hash"])
        why = (SENT_BEFORE_CRASH, SENT_BEFORE_CRASH) if state == AttemptState.SENDING else \
            None if state == AttemptState.SENT else _why_not(record, restore, sent_before)
        if why:
            refused[why[0]] += 1
            lines.append({"job_id": record["job_id"], "retries": record["retries"], "result": "refused",
                          "reason": why[1]})
        elif mine.get(record["hash"]) == AttemptState.SENT:
            lines.append({"job_id": record["job_id"], "retries": record["retries"], "result": "restored"})
        else:
            to_send.append(record)
    restored = sum(1 for state in mine.values() if state == AttemptState.SENT)
    if restore.dry_run:
        lines += [{"job_id": r["job_id"], "retries": r["retries"], "result": "would restore"} for r in to_send]
        _end(restore, actor, RestoreState.PREVIEWED, selected=len(records) + len(missing), restored=len(to_send),
             refused=refused, lines=lines)
        return
    for record in to_send:
        RestoredAttempt.objects.create(restore=restore, attempt_hash=record["hash"])  # before it is sent
        sent_as = adapters.send(restore.adapter, record, restore.target, restore_id=str(restore.pk))
        RestoredAttempt.objects.filter(restore=restore, attempt_hash=record["hash"]).update(
            state=AttemptState.SENT, sent_as=sent_as[:200], sent_at=timezone.now())
        restored += 1
        lines.append({"job_id": record["job_id"], "retries": record["retries"], "result": "restored",
                      "sent_as": sent_as})
    _end(restore, actor, RestoreState.DONE, selected=len(records) + len(missing), restored=restored,
         refused=refused, lines=lines)


def _end(restore: Restore, actor: Actor, state: str, *, error: str = "", selected: int | None = None,
         restored: int | None = None, refused: Counter | None = None, lines: list | None = None) -> None:
    with transaction.atomic():
        restore = Restore.objects.select_for_update().get(pk=restore.pk)
        restore.state, restore.error, restore.finished_at = state, error, timezone.now()
        if selected is not None:
            restore.selected, restore.restored, restore.refused = selected, restored, dict(refused or {})
            restore.lines = (lines or [])[:LINES_KEPT] if "job_ids" in restore.selection else []
        restore.save()
        action = {RestoreState.PREVIEWED: "restore.previewed", RestoreState.DONE: "restore.done",
                  RestoreState.REFUSED: "restore.refused"}.get(state, "restore.failed")
        audit_record(actor=actor, action=action, target=_target(restore),
                     details={**_what(restore), "state": state, "selected": restore.selected,
                              "restored": restore.restored, "refused": restore.refused_total,
                              "reasons": sorted(restore.refused), "error": error[:300] or None})


def restore_history_scrub(*, cutoff) -> int:
    """Restores submitted before `cutoff` keep their counts and reasons, not the job ids they named
    (run with the query history's expiry, `apps.explorer.services.query_history_expire`)."""
    return (Restore.objects.filter(submitted_at__lt=cutoff).exclude(selection={}, lines=[])
            .update(selection={}, lines=[]))
