"""Legal hold writes: placing a hold (one compliance officer), asking for its release (an approval),
and the release itself, which only an approval runs. Every step is in the audit chain."""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.approvals.services import ApprovalRefused, approval_request
from apps.audit.services import audit_record
from apps.compliance import selectors, subject_key_rules, subject_keys
from apps.compliance.models import HoldState, LegalHold

REVIEW_AFTER = timedelta(days=90)  # a hold placed without a review date is due for review then


class HoldRefused(ValueError):
    """The hold cannot be placed or released as asked; the message says why. Nothing was changed."""


def hold_place(*, actor: Actor, reason: str, queue: str = "", tenant: str = "", job_ids: list[str] | None = None,
               subjects: list[str] | None = None, date_from: date | None = None, date_to: date | None = None,
               owner: str | None = None, review_on: date | None = None) -> LegalHold:
    """Place a hold: from now on no purge, retention run, trim or erasure removes the records it matches.
    `subjects` are KEY=VALUE pairs, kept only as their keyed hashes."""
    require_permission(actor, "compliance.add_legalhold")
    try:
        configured = subject_key_rules.rules()
        key_hashes = sorted({subject_keys.parse_pair(p, configured) for p in subjects or [] if p.strip()})
    except subject_keys.SubjectKeyError as exc:
        raise HoldRefused(str(exc)) from None
    placed_by = actor.user
    if placed_by is None:
        raise HoldRefused("a hold needs a portal user who answers for it (on the command line: --by USERNAME)")
    owner_user = placed_by
    if owner:
        owner_user = get_user_model().objects.filter(username=owner, is_active=True).first()
        if owner_user is None:
            raise HoldRefused(f"no active portal user {owner!r} to own the hold")
    job_ids = sorted({j.strip() for j in job_ids or [] if j.strip()})
    hold = LegalHold(queue=queue.strip(), tenant=tenant.strip(), job_ids=job_ids, subject_keys=key_hashes,
                     date_from=date_from,
                     date_to=date_to, reason=reason.strip(), owner=owner_user, placed_by=placed_by,
                     review_on=review_on or (timezone.now() + REVIEW_AFTER).date())
    if not hold.reason:
        raise HoldRefused("say why the records must be kept: a hold needs a reason")
    if not hold.criteria_label:
        raise HoldRefused("a hold needs at least one criterion: a queue, a tenant, job ids, subject keys or a date range")
    if date_from and date_to and date_from > date_to:
        raise HoldRefused(f"the date range ends ({date_to}) before it starts ({date_from})")
    try:
        hold.full_clean()
    except ValidationError as exc:
        raise HoldRefused("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from None
    with transaction.atomic():
        hold.save()
        audit_record(actor=actor, action="hold.placed", target=f"hold:{hold.pk}",
                     details={"criteria": _criteria_summary(hold), "owner": owner_user.get_username(),
                              "review_on": hold.review_on.isoformat()})
    return hold


def _criteria_summary(hold: LegalHold) -> dict:
    """What the audit chain keeps of a hold's criteria: job ids only counted (they identify people's jobs)."""
    criteria = selectors.hold_criteria(hold)
    criteria["job_ids"] = len(criteria["job_ids"])
    criteria["subject_keys"] = len(criteria["subject_keys"])
    return criteria


def hold_release_request(*, hold: LegalHold, actor: Actor, reason: str) -> Approval:
    """Ask for a hold's release; it is released only when somebody else approves."""
    require_permission(actor, "compliance.release_legalhold")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
        if hold.state != HoldState.ACTIVE:
            raise HoldRefused(f"hold {hold.pk} is {hold.get_state_display().lower()} already")
        waiting = Approval.objects.filter(action=ApprovalAction.HOLD_RELEASE, target=f"hold:{hold.pk}",
                                          state=ApprovalState.PENDING).first()
        if waiting:
            raise HoldRefused(f"the release of hold {hold.pk} waits for approval {waiting.pk} already")
        return approval_request(action=ApprovalAction.HOLD_RELEASE, actor=actor, reason=reason,
                                target=f"hold:{hold.pk}",
                                content={"hold": hold.pk, "criteria": selectors.hold_criteria(hold)},
                                summary={"hold": hold.criteria_label, "hold_reason": hold.reason,
                                         "owner": hold.owner.get_username()})


def hold_release_approved(approval: Approval, actor: Actor, *, submit: bool = True) -> dict:
    """The approved release (run by `approval_approve` only): the hold as it was when asked for."""
    hold = LegalHold.objects.select_for_update().filter(pk=approval.content["hold"]).first()
    if hold is None or hold.state != HoldState.ACTIVE:
        raise ApprovalRefused(f"hold {approval.content['hold']} is not active any more")
    if selectors.hold_criteria(hold) != approval.content["criteria"]:
        raise ApprovalRefused(f"hold {hold.pk} changed since its release was asked for; ask again")
    hold.state, hold.released_by, hold.released_at = HoldState.RELEASED, actor.user, timezone.now()
    hold.release_reason = approval.reason
    hold.save()
    audit_record(actor=actor, action="hold.released", target=f"hold:{hold.pk}",
                 details={"approval": approval.pk, "asked_by": approval.requested_by.get_username()})
    return {"hold": hold.pk, "state": hold.state}
