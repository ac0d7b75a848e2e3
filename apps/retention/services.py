"""Retention writes: policies imported from JSON (audited), retention runs and purges (each a recorded run).

A run is recorded first (queued, with who asked), then done by `run_execute` where the warehouse
lives: pages and the admin submit it and show it running and finished; the CLI waits for it.
Four eyes: a manual purge, and a policy change that weakens retention or payload handling, only
open an approval (apps.approvals); approving runs them (`purge_approved`, `policy_change_approved`).
The retention run's own purges act on approved policies and need none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, audit_context, require_permission
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.approvals.services import ApprovalRefused, approval_request
from apps.audit.chain import content_hash
from apps.audit.services import audit_record
from apps.core.durations import format_duration
from apps.records.contract import OUTCOMES
from apps.retention import purge, runner, selectors, weakening
from apps.retention.locks import one_run_at_a_time
from apps.retention.models import RetentionPolicy, RetentionRun, RunKind, RunState
from apps.retention.resolution import SETTINGS
from apps.warehouse import dispatch

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
    weakened: list[str] = field(default_factory=list)  # why it needs an approval
    approval: int | None = None  # the approval it waits for (nothing was changed)

    def as_dict(self) -> dict:
        return {"created": self.created, "updated": self.updated, "deleted": self.deleted,
                "unchanged": self.unchanged}

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


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


def _apply_policies(wanted: list[RetentionPolicy], current: list[RetentionPolicy], actor: Actor, *,
                    dry_run: bool) -> PolicyChanges:
    """Turn `current` (the stored policies, locked by the caller) into `wanted`, or with dry_run only say how."""
    existing = {(p.queue, p.outcome): p for p in current}
    changes = PolicyChanges()
    with audit_context(actor):
        for policy in wanted:
            key = (policy.queue, policy.outcome)
            stored = existing.pop(key, None)
            if stored is None:
                changes.created.append(policy.scope_label)
                if not dry_run:
                    policy.updated_by_id = actor.user_id
                    policy.save()
            elif _values(stored) != _values(policy):
                changes.updated.append(policy.scope_label)
                if not dry_run:
                    for name, value in _values(policy).items():
                        setattr(stored, name, value)
                    stored.updated_by_id = actor.user_id
                    stored.save()
            else:
                changes.unchanged.append(policy.scope_label)
        for stale in existing.values():
            changes.deleted.append(stale.scope_label)
            if not dry_run:
                stale.delete()
    return changes


@transaction.atomic
def policy_set(*, items, actor: Actor, dry_run: bool = False, reason: str = "") -> PolicyChanges:
    """Make the policies exactly `items`: create, update and delete rules; each change is audited.

    All or nothing: a bad entry anywhere changes nothing. With dry_run, reports what would change.
    A change that weakens retention or payload handling changes nothing either: it opens an
    approval (`changes.approval`), and approving it makes the change.
    """
    if not dry_run:  # it may create, change and delete policies
        for permission in ("add", "change", "delete"):
            require_permission(actor, f"retention.{permission}_retentionpolicy")
    wanted = _validated(items)
    current = list(RetentionPolicy.objects.select_for_update())
    weakened = weakening.weakenings(selectors.policy_book(current), selectors.policy_book(wanted))
    changes = _apply_policies(wanted, current, actor, dry_run=dry_run or bool(weakened))
    changes.weakened = weakened
    if dry_run or not changes.changed:
        return changes
    if weakened:
        approval = approval_request(
            action=ApprovalAction.POLICY_CHANGE, actor=actor, reason=reason, target="policies",
            content={"policies": selectors.policies_as_json(wanted),
                     "replaces": content_hash(selectors.policies_as_json(current))},
            summary={**changes.as_dict(), "weakened": weakened})
        changes.approval = approval.pk
        return changes
    audit_record(actor=actor, action="policy.changed", target="policies", details=changes.as_dict())
    return changes


def policy_change_approved(approval: Approval, actor: Actor, *, submit: bool = True) -> dict:
    """The approved policy change (run by `approval_approve` only), if the policies are still the
    ones it was asked against: otherwise it would approve a different change."""
    current = list(RetentionPolicy.objects.select_for_update())
    if content_hash(selectors.policies_as_json(current)) != approval.content["replaces"]:
        raise ApprovalRefused("the policies changed since this change was asked for; ask again with "
                              "`archive policy set`")
    try:
        wanted = _validated(approval.content["policies"])
    except PolicyFileError as exc:
        raise ApprovalRefused(f"the approved policies are not valid any more: {exc}") from None
    done = _apply_policies(wanted, current, actor, dry_run=False)
    audit_record(actor=actor, action="policy.changed", target="policies",
                 details={**done.as_dict(), "approval": approval.pk, "asked_by": approval.requested_by.get_username()})
    return done.as_dict()


class RunRefused(ValueError):
    """The run cannot be started or confirmed as asked; the message says why. Nothing was recorded."""


def _record(*, actor: Actor, kind: str, dry_run: bool, as_of: datetime, parameters: dict,
            preview: RetentionRun | None = None) -> RetentionRun:
    return RetentionRun.objects.create(kind=kind, dry_run=dry_run, as_of=as_of, parameters=parameters,
                                       requested_by_id=actor.user_id, actor=actor.label, preview=preview,
                                       state=RunState.QUEUED)


def retention_run_request(*, actor: Actor, dry_run: bool, as_of: datetime | None = None,
                          steps: tuple[str, ...] = runner.STEPS) -> RetentionRun:
    """Record a retention run (queued); `run_execute` does it, on the warehouse worker.

    Without `as_of`, the policies are evaluated when it runs.
    """
    require_permission(actor, "retention.start_retentionrun")
    unknown = set(steps) - set(runner.STEPS)
    if unknown:
        raise RunRefused(f"unknown steps {sorted(unknown)}; choose from {', '.join(runner.STEPS)}")
    return _record(actor=actor, kind=RunKind.RETENTION, dry_run=dry_run, as_of=as_of or timezone.now(),
                   parameters={"steps": list(steps), "as_of": as_of.isoformat() if as_of else None})


def purge_request(*, actor: Actor, older_than: timedelta, dry_run: bool, queues: list[str] | None = None,
                  outcomes: list[str] | None = None, as_of: datetime | None = None) -> RetentionRun:
    """Record a purge of records enqueued more than `older_than` before `as_of` (now), of these
    queues and outcomes, from every place they live. Its moment is fixed here: `before` is absolute,
    so the preview and the purge that confirms it cover exactly the same selection."""
    require_permission(actor, "retention.purge_records")
    bad = sorted(set(outcomes or []) - OUTCOMES)
    if bad:
        raise RunRefused(f"unknown outcome {', '.join(bad)}; choose from {', '.join(sorted(OUTCOMES))}")
    if as_of is not None and not dry_run:
        raise RunRefused("a purge measures age from now; --as-of is for previews (dry runs) only")
    before = (as_of or timezone.now()) - older_than
    parameters = {"older_than": format_duration(older_than), "before": before.isoformat(),
                  "queues": list(queues or []), "outcomes": list(outcomes or []), "as_of_given": as_of is not None}
    return _record(actor=actor, kind=RunKind.PURGE, dry_run=dry_run, as_of=as_of or timezone.now(),
                   parameters=parameters)


def _confirmable(preview: RetentionRun) -> RetentionRun:
    preview = RetentionRun.objects.select_for_update().get(pk=preview.pk)
    if preview.kind != RunKind.PURGE or not preview.dry_run:
        raise RunRefused(f"run {preview.pk} is not a purge preview")
    if preview.state != RunState.PREVIEWED:
        raise RunRefused(f"run {preview.pk} is {preview.get_state_display().lower()}: only a finished "
                         "preview can be confirmed")
    if preview.parameters.get("as_of_given"):
        raise RunRefused(f"the preview {preview.pk} measured age from a chosen moment (--as-of); a purge "
                         "measures it from now: preview without --as-of, then confirm")
    if RetentionRun.objects.filter(preview=preview).exists():
        raise RunRefused(f"the preview {preview.pk} was confirmed already (run {preview.confirmation.pk})")
    return preview


def _purge_content(preview: RetentionRun) -> dict:
    p = preview.parameters
    return {"preview": preview.pk, "before": p["before"], "queues": p["queues"], "outcomes": p["outcomes"]}


def purge_approval_request(*, preview: RetentionRun, actor: Actor, reason: str = "") -> Approval:
    """Ask for the purge a finished preview showed; it runs when somebody else approves it,
    on exactly that selection (the legal holds of that moment keep what they match)."""
    require_permission(actor, "retention.purge_records")
    with transaction.atomic():
        preview = _confirmable(preview)
        waiting = Approval.objects.filter(action=ApprovalAction.PURGE, target=f"run:{preview.pk}",
                                          state=ApprovalState.PENDING).first()
        if waiting:
            raise RunRefused(f"the purge of preview {preview.pk} waits for approval {waiting.pk} already")
        plan = preview.plan
        summary = {key: plan.get(key) for key in ("selections", "records", "oldest", "newest", "queues", "held")}
        summary["places"] = {name: plan[name] for name in plan if isinstance(plan.get(name), dict)}
        summary["previewed_at"] = preview.finished_at.isoformat()
        return approval_request(action=ApprovalAction.PURGE, content=_purge_content(preview), reason=reason,
                                actor=actor, target=f"run:{preview.pk}", summary=summary)


def purge_approved(approval: Approval, actor: Actor, *, submit: bool = True) -> dict:
    """The approved purge (run by `approval_approve` only): a run bound to the preview, with the
    preview's own selection. `submit` sends it to the warehouse worker when the transaction commits."""
    preview = RetentionRun.objects.filter(pk=approval.content["preview"]).first()
    if preview is None or _purge_content(preview) != approval.content:
        raise ApprovalRefused(f"the preview {approval.content['preview']} is not the one approved")
    try:
        preview = _confirmable(preview)
    except RunRefused as exc:
        raise ApprovalRefused(str(exc)) from None
    run = _record(actor=actor, kind=RunKind.PURGE, dry_run=False, as_of=preview.as_of,
                  parameters={**preview.parameters, "approval": approval.pk}, preview=preview)
    if submit:
        run_submit(run)
    return {"run": run.pk}


def run_submit(run: RetentionRun) -> None:
    """Send a recorded run to the warehouse worker (pages and the admin; they never run it here)."""
    from apps.retention.tasks import execute_run

    dispatch.submit(execute_run, run_id=run.pk)


def _purge_selections(run: RetentionRun) -> list[purge.Selection]:
    before = datetime.fromisoformat(run.parameters["before"])
    return [purge.Selection(before, q, o, reason="requested purge")
            for q in (run.parameters["queues"] or [None]) for o in (run.parameters["outcomes"] or [None])]


def run_execute(*, run_id: int) -> RetentionRun:
    """Do a recorded run (on the warehouse worker, or in the CLI's process when none serves the queue).

    Runs one at a time (a PostgreSQL advisory lock), so a purge never races tiering or another
    purge. A run that is not queued any more (a repeated delivery) is returned as it stands.
    """
    with transaction.atomic():
        run = RetentionRun.objects.select_for_update().get(pk=run_id)
        if run.state != RunState.QUEUED:
            return run
        run.state = RunState.RUNNING
        run.save(update_fields=["state"])
    try:
        with one_run_at_a_time():
            if run.kind == RunKind.PURGE:
                plan = purge.preview_purge(_purge_selections(run))
                apply = purge.apply_purge
            else:
                if not run.parameters.get("as_of"):
                    run.as_of = timezone.now()  # evaluated when it runs, not when it was asked for
                    run.save(update_fields=["as_of"])
                plan = runner.plan_run(selectors.policy_book(), run.as_of, tuple(run.parameters["steps"]))
                apply = runner.apply_run
            return _finish(run, plan, apply)
    except Exception as exc:
        if run.state != RunState.FAILED:  # failed before its plan was recorded
            run.state, run.error, run.finished_at = RunState.FAILED, f"{type(exc).__name__}: {exc}", timezone.now()
            with transaction.atomic():
                run.save(update_fields=["state", "error", "finished_at"])
                _audited(run)
        raise


def retention_run(*, actor: Actor, dry_run: bool, as_of: datetime | None = None,
                  steps: tuple[str, ...] = runner.STEPS) -> RetentionRun:
    """Record and do a retention run here (beat's hourly run on the worker; tests)."""
    return run_execute(run_id=retention_run_request(actor=actor, dry_run=dry_run, as_of=as_of, steps=steps).pk)


def _audited(run: RetentionRun) -> None:
    """The run's event in the audit chain: what it did (or would do), in figures."""
    plan = run.plan or {}
    if run.kind == RunKind.PURGE:
        details = {"records": plan.get("records"), "held": [h["records"] for h in plan.get("held", [])],
                   "approval": run.parameters.get("approval"), "selections": plan.get("selections")}
    else:
        details = {step: plan[step].get("records") for step in ("purge", "tiering") if step in plan}
    verb = "previewed" if run.dry_run else run.state
    audit_record(actor=Actor(user_id=run.requested_by_id, label=run.actor or "unknown", via="task"),
                 action=f"{run.kind}.{verb}", target=f"run:{run.pk}", details={"error": run.error[:200], **details})


def _finish(run: RetentionRun, plan, apply) -> RetentionRun:
    run.plan = plan.as_dict()
    run.alerts = list(getattr(plan, "alerts", []))
    run.save(update_fields=["plan", "alerts"])
    try:
        if not run.dry_run:
            run.result = apply(plan)
        run.state = RunState.PREVIEWED if run.dry_run else RunState.DONE
    except Exception as exc:
        run.state = RunState.FAILED
        run.error = f"{type(exc).__name__}: {exc}"
        raise
    finally:
        run.finished_at = timezone.now()
        with transaction.atomic():
            run.save(update_fields=["result", "state", "error", "finished_at"])
            _audited(run)
    return run
