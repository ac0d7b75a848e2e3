"""Four-eyes writes: ask for an approval, approve it (which runs exactly the approved content), reject or withdraw it.

Each kind of action names the function that runs it (`RUNNERS`); that function receives the
approval and the approver, and refuses with `ApprovalRefused` when the content can no longer run
as approved (the policies changed since, the hold is gone): the approval then fails, nothing runs.
"""

from __future__ import annotations

import json
from importlib import import_module

from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.audit.chain import content_hash
from apps.audit.services import audit_record

# Who may ask for each action is checked by the service that opens the approval (it knows the
# action); who may approve is the approval's own permission (`approvals.approve_<action>`).
RUNNERS = {
    ApprovalAction.PURGE: "apps.retention.services.purge_approved",
    ApprovalAction.POLICY_CHANGE: "apps.retention.services.policy_change_approved",
    ApprovalAction.HOLD_RELEASE: "apps.compliance.services.hold_release_approved",
    ApprovalAction.ERASURE: "apps.erasure.services.erasure_approved",
}
# Actions whose own record must hear that its approval ended without running (rejected, withdrawn):
# called with the approval and the actor, in the same transaction.
ENDED = {
    ApprovalAction.ERASURE: "apps.erasure.services.erasure_approval_ended",
}


class ApprovalRefused(ValueError):
    """The approval cannot be given, asked for or run as it stands; the message says why."""


def _person(actor: Actor, doing: str):
    """Four eyes need two named people: an actor without a portal user cannot take part."""
    user = actor.user
    if user is None or not user.is_active:
        raise ApprovalRefused(f"{doing} needs a portal user (on the command line: --by USERNAME)")
    return user


def approval_request(*, action: str, content: dict, reason: str, actor: Actor, target: str = "",
                     summary: dict | None = None) -> Approval:
    """Open an approval for exactly `content`; the caller has checked that `actor` may ask for it."""
    user = _person(actor, "asking for an approval")
    plain = json.loads(json.dumps(content))  # what is stored is what is hashed
    with transaction.atomic():
        approval = Approval.objects.create(action=action, content=plain, content_hash=content_hash(plain),
                                           summary=summary or {}, reason=reason.strip(), target=target,
                                           requested_by=user)
        audit_record(actor=actor, action="approval.requested", target=f"approval:{approval.pk}",
                     details={"action": action, "on": target, "content_hash": approval.content_hash})
    return approval


def _pending(approval: Approval) -> Approval:
    locked = Approval.objects.select_for_update().get(pk=approval.pk)
    if locked.state != ApprovalState.PENDING:
        raise ApprovalRefused(f"approval {locked.pk} is {locked.get_state_display().lower()}, not pending")
    return locked


def _decider(approval: Approval, actor: Actor, doing: str):
    user = _person(actor, doing)
    if user.pk == approval.requested_by_id:
        raise ApprovalRefused(f"{user.get_username()} asked for approval {approval.pk} and cannot decide on it: "
                              "a second person must")
    require_permission(actor, approval.approve_permission)
    return user


def approval_approve(*, approval: Approval, actor: Actor, content_hash_seen: str | None = None,
                     reason: str = "", submit: bool = True) -> Approval:
    """Approve and run the approved content (nothing else): the stored content must still hash to
    what was asked for, and to what the approver was shown (`content_hash_seen`, from the page).

    `submit`: warehouse work is sent to the worker when the transaction commits (pages); the CLI
    passes False and runs it where the warehouse lives itself (`result` says what to run).
    """
    with transaction.atomic():
        approval = _pending(approval)
        user = _decider(approval, actor, "approving")
        if content_hash(approval.content) != approval.content_hash:
            raise ApprovalRefused(f"approval {approval.pk}: its content no longer matches what was asked for "
                                  "(changed after the request); nothing was run")
        if content_hash_seen is not None and content_hash_seen != approval.content_hash:
            raise ApprovalRefused(f"approval {approval.pk} is not what you were shown (its hash differs); "
                                  "nothing was run: look at it again")
        approval.decided_by, approval.decided_at, approval.decision_reason = user, timezone.now(), reason.strip()
        runner = _runner(approval.action)
        try:
            with transaction.atomic():
                approval.result = runner(approval, actor, submit=submit) or {}
                approval.state = ApprovalState.APPROVED
                approval.save()
                audit_record(actor=actor, action="approval.approved", target=f"approval:{approval.pk}",
                             details={"action": approval.action, "on": approval.target,
                                      "content_hash": approval.content_hash, "result": approval.result})
        except ApprovalRefused as exc:
            approval.state, approval.error, approval.result = ApprovalState.FAILED, str(exc), {}
            approval.save()
            audit_record(actor=actor, action="approval.failed", target=f"approval:{approval.pk}",
                         details={"action": approval.action, "on": approval.target, "why": str(exc)})
    return approval


def approval_reject(*, approval: Approval, actor: Actor, reason: str) -> Approval:
    if not reason.strip():
        raise ApprovalRefused("say why: a rejection needs a reason")
    with transaction.atomic():
        approval = _pending(approval)
        user = _decider(approval, actor, "rejecting")
        approval.state, approval.decided_by, approval.decided_at = ApprovalState.REJECTED, user, timezone.now()
        approval.decision_reason = reason.strip()
        approval.save()
        _tell_ended(approval, actor)
        audit_record(actor=actor, action="approval.rejected", target=f"approval:{approval.pk}",
                     details={"action": approval.action, "on": approval.target})
    return approval


def approval_withdraw(*, approval: Approval, actor: Actor) -> Approval:
    """The requester takes their own request back (nobody else can)."""
    with transaction.atomic():
        approval = _pending(approval)
        user = _person(actor, "withdrawing")
        if user.pk != approval.requested_by_id:
            raise ApprovalRefused(f"only {approval.requested_by.get_username()} can withdraw approval {approval.pk}")
        approval.state, approval.decided_at = ApprovalState.WITHDRAWN, timezone.now()
        approval.save()
        _tell_ended(approval, actor)
        audit_record(actor=actor, action="approval.withdrawn", target=f"approval:{approval.pk}",
                     details={"action": approval.action, "on": approval.target})
    return approval


def _tell_ended(approval: Approval, actor: Actor) -> None:
    if approval.action in ENDED:
        _function(ENDED[approval.action])(approval, actor)


def _function(dotted: str):
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def _runner(action: str):
    if action not in RUNNERS:
        raise ApprovalRefused(f"approvals of {action!r} cannot run yet")
    return _function(RUNNERS[action])
