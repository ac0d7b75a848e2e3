"""Reading approvals: what waits for whom, and what exactly each would approve."""

from __future__ import annotations

from django.db.models import QuerySet

from apps.approvals.models import Approval, ApprovalAction, ApprovalState


def approvals_pending() -> QuerySet[Approval]:
    return Approval.objects.filter(state=ApprovalState.PENDING).select_related("requested_by")


def can_decide(user, approval: Approval) -> bool:
    """Would this user be allowed to approve or reject it (the service checks the same)?"""
    return (approval.state == ApprovalState.PENDING and user.is_authenticated and user.is_active
            and user.pk != approval.requested_by_id and user.has_perm(approval.approve_permission))


def approvals_waiting_for(user) -> list[Approval]:
    """Pending approvals this user may decide on."""
    return [a for a in approvals_pending() if can_decide(user, a)]


def may_approve_anything(user) -> bool:
    return any(user.has_perm(f"approvals.approve_{action}") for action in ApprovalAction.values)


def approval_as_dict(approval: Approval) -> dict:
    return {"id": approval.pk, "state": approval.state, "action": approval.action, "target": approval.target,
            "requested_by": approval.requested_by.get_username(), "requested_at": approval.requested_at.isoformat(),
            "reason": approval.reason, "content": approval.content, "content_hash": approval.content_hash,
            "summary": approval.summary,
            "decided_by": approval.decided_by.get_username() if approval.decided_by else None,
            "decided_at": approval.decided_at.isoformat() if approval.decided_at else None,
            "decision_reason": approval.decision_reason, "result": approval.result, "error": approval.error}


def run_of(approval: Approval):
    """The retention run an approved purge started (None for other actions)."""
    from apps.retention.models import RetentionRun

    run_id = (approval.result or {}).get("run")
    return RetentionRun.objects.filter(pk=run_id).first() if run_id else None
