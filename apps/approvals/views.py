"""Approval pages: what waits for a second person, and one approval with approve/reject (thin: services decide)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.approvals import selectors, services
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.warehouse import dispatch


@require_GET
@permission_required("approvals.view_approval")
def approval_list(request):
    pending = list(selectors.approvals_pending())
    decided = Approval.objects.exclude(state=ApprovalState.PENDING).select_related("requested_by", "decided_by")[:50]
    return render(request, "approvals/list.html", {
        "waiting": [a for a in pending if selectors.can_decide(request.user, a)],
        "pending": pending, "decided": decided})


@require_GET
@permission_required("approvals.view_approval")
def approval_detail(request, approval_id: int):
    approval = get_object_or_404(Approval.objects.select_related("requested_by", "decided_by"), pk=approval_id)
    return render(request, "approvals/detail.html", {
        "approval": approval, "can_decide": selectors.can_decide(request.user, approval),
        "can_withdraw": approval.state == ApprovalState.PENDING and approval.requested_by_id == request.user.pk,
        "run": selectors.run_of(approval)})


@require_POST
@login_required
def approval_decide(request, approval_id: int):
    approval = get_object_or_404(Approval, pk=approval_id)
    actor = Actor.of_user(request.user, via="web")
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            if approval.action in (ApprovalAction.PURGE, ApprovalAction.ERASURE):
                dispatch.require_worker()  # approving runs it: somebody must be there to do it
            approval = services.approval_approve(approval=approval, actor=actor,
                                                 content_hash_seen=request.POST.get("content_hash", ""),
                                                 reason=request.POST.get("reason", ""))
            if approval.state == ApprovalState.FAILED:
                messages.error(request, f"Approved, but it cannot run: {approval.error}")
            else:
                messages.success(request, f"Approval {approval.pk} approved: it runs now.")
        elif decision == "reject":
            services.approval_reject(approval=approval, actor=actor, reason=request.POST.get("reason", ""))
            messages.success(request, f"Approval {approval.pk} rejected: nothing runs.")
        elif decision == "withdraw":
            services.approval_withdraw(approval=approval, actor=actor)
            messages.success(request, f"Approval {approval.pk} withdrawn.")
        else:
            messages.error(request, "Choose approve, reject or withdraw.")
    except PermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except (services.ApprovalRefused, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
    return redirect("approvals:detail", approval_id=approval_id)
