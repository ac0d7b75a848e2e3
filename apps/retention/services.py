"""Retention writes: policies imported from JSON (audited), retention runs and purges (each a recorded run)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from auditlog.context import set_actor
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.durations import format_duration
from apps.records.contract import OUTCOMES
from apps.retention import purge, runner, selectors
from apps.retention.models import RetentionPolicy, RetentionRun, RunKind, RunState
from apps.retention.resolution import SETTINGS

_KEYS = {"queue", "outcome", "description", *SETTINGS}
_TEXT = {"payload_mode", "redaction_patterns"}


class PolicyFileError(ValueError):
    """The policy file is not usable; the message says where and why. Nothing was changed."""


@dataclass
class PolicyChanges:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted,
                "unchanged": self.unchanged}


def _validated(items) -> list[RetentionPolicy]:
    if not isinstance(items, list):
        raise PolicyFileError("expected a JSON array of policies, as `archive policy get` prints")
    policies, seen = [], set()
    for index, item in enumerate(items, start=1):
        where = f"policy {index}"
        if not isinstance(item, dict):
            raise PolicyFileError(f"{where}: expected an object")
        unknown = sorted(set(item) - _KEYS)
        if unknown:
            raise PolicyFileError(f"{where}: unknown settings {unknown}; known: {sorted(_KEYS)}")
        # Text settings inherit when empty, the others when null.
        values = {k: ("" if k in _TEXT else None) if item.get(k) in (None, "") else item[k] for k in SETTINGS}
        policy = RetentionPolicy(**values, queue=item.get("queue") or "", outcome=item.get("outcome") or "",
                                 description=item.get("description") or "")
        scope = (policy.queue, policy.outcome)
        if scope in seen:
            raise PolicyFileError(f"{where}: a second policy for {policy.scope_label}")
        seen.add(scope)
        try:
            policy.full_clean(validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            details = "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.message_dict.items())
            raise PolicyFileError(f"{where} ({policy.scope_label}): {details}") from None
        policies.append(policy)
    return policies


def _values(policy: RetentionPolicy) -> dict:
    return {name: getattr(policy, name) for name in ("description", *SETTINGS)}


@transaction.atomic
def policy_set(*, items, actor=None, dry_run: bool = False) -> PolicyChanges:
    """Make the policies exactly `items`: create, update and delete rules; each change is audited.

    All or nothing: a bad entry anywhere changes nothing. With dry_run, reports what would change.
    """
    wanted = _validated(items)
    existing = {(p.queue, p.outcome): p for p in RetentionPolicy.objects.select_for_update()}
    changes = PolicyChanges()
    with set_actor(actor):
        for policy in wanted:
            key = (policy.queue, policy.outcome)
            current = existing.pop(key, None)
            if current is None:
                changes.created.append(policy.scope_label)
                if not dry_run:
                    policy.updated_by = actor
                    policy.save()
            elif _values(current) != _values(policy):
                changes.updated.append(policy.scope_label)
                if not dry_run:
                    for name, value in _values(policy).items():
                        setattr(current, name, value)
                    current.updated_by = actor
                    current.save()
            else:
                changes.unchanged.append(policy.scope_label)
        for stale in existing.values():
            changes.deleted.append(stale.scope_label)
            if not dry_run:
                stale.delete()
    return changes


def _finish(run: RetentionRun, plan, apply, dry_run: bool) -> RetentionRun:
    run.plan = plan.as_dict()
    run.alerts = list(getattr(plan, "alerts", []))
    run.save(update_fields=["plan", "alerts"])
    try:
        if not dry_run:
            run.result = apply(plan)
        run.state = RunState.PREVIEWED if dry_run else RunState.DONE
    except Exception as exc:
        run.state = RunState.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        run.save(update_fields=["result", "state", "error", "finished_at"])
    return run


def retention_run(*, dry_run: bool, actor=None, as_of: datetime | None = None,
                  steps: tuple[str, ...] = runner.STEPS) -> RetentionRun:
    """Purge by policy, tier warm to cold, compact, clean up, trim Redis; or with dry_run only report it.

    Runs where the warehouse lives (a warehouse task or the CLI's in-process fallback).
    """
    unknown = set(steps) - set(runner.STEPS)
    if unknown:
        raise ValueError(f"unknown steps {sorted(unknown)}; choose from {', '.join(runner.STEPS)}")
    as_of = as_of or timezone.now()
    run = RetentionRun.objects.create(kind=RunKind.RETENTION, dry_run=dry_run, as_of=as_of, requested_by=actor,
                                      parameters={"steps": list(steps)})
    plan = runner.plan_run(selectors.policy_book(), as_of, tuple(steps))
    return _finish(run, plan, runner.apply_run, dry_run)


def purge_records(*, older_than: timedelta, dry_run: bool, actor=None, queues: list[str] | None = None,
                  outcomes: list[str] | None = None, as_of: datetime | None = None) -> RetentionRun:
    """Remove records enqueued more than `older_than` ago (of these queues and outcomes) from every tier."""
    bad = sorted(set(outcomes or []) - OUTCOMES)
    if bad:
        raise ValueError(f"unknown outcome {', '.join(bad)}; choose from {', '.join(sorted(OUTCOMES))}")
    as_of = as_of or timezone.now()
    before = as_of - older_than
    selections = [purge.Selection(before, q, o, reason="requested purge")
                  for q in (queues or [None]) for o in (outcomes or [None])]
    run = RetentionRun.objects.create(
        kind=RunKind.PURGE, dry_run=dry_run, as_of=as_of, requested_by=actor,
        parameters={"older_than": format_duration(older_than), "before": before.isoformat(),
                    "queues": queues or [], "outcomes": outcomes or []})
    return _finish(run, purge.preview_purge(selections), purge.apply_purge, dry_run)
