"""Compliance pages: the home page (approvals, holds, erasure requests, the audit trail at a glance) and legal holds."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.approvals import selectors as approvals
from apps.approvals.models import Approval, ApprovalAction, ApprovalState
from apps.approvals.services import ApprovalRefused
from apps.audit.selectors import audit_events, chain_status
from apps.compliance import selectors, services
from apps.compliance.forms import HoldForm, ReleaseForm
from apps.compliance.models import HoldState, LegalHold
from apps.erasure import selectors as erasures


@require_GET
@permission_required("compliance.view_legalhold")
def home(request):
    user = request.user
    return render(request, "compliance/home.html", {
        "waiting": approvals.approvals_waiting_for(user),
        "pending": approvals.approvals_pending(),
        "holds": selectors.holds_listed(state=HoldState.ACTIVE),
        "overdue": selectors.holds_overdue(),
        "events": audit_events(actor=Actor.of_user(user))[:10] if user.has_perm("audit.view_auditevent") else None,
        "chain": chain_status(),
        "erasures": _erasures(user),
    })


def _erasures(user) -> dict | None:
    """Open erasure requests (soonest due first) and the recent certificates, for who may see them."""
    if not user.has_perm("erasure.view_erasurerequest"):
        return None
    overdue = set(erasures.requests_overdue().values_list("pk", flat=True))
    return {"open": erasures.requests_open(), "by_state": erasures.open_by_state(), "overdue": overdue,
            "certificates": erasures.recent_certificates()}


@require_http_methods(["GET", "POST"])
@permission_required("compliance.view_legalhold")
def hold_list(request):
    form = HoldForm(request.POST or None)
    may_place = request.user.has_perm("compliance.add_legalhold")
    if request.method == "POST" and may_place and form.is_valid():
        try:
            hold = services.hold_place(actor=Actor.of_user(request.user), **form.cleaned_data)
        except services.HoldRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Hold {hold.pk} placed: {hold.criteria_label}.")
            return redirect("compliance:hold", hold_id=hold.pk)
    return render(request, "compliance/holds.html", {
        "holds": selectors.holds_listed(), "form": form if may_place else None,
        "overdue": set(selectors.holds_overdue().values_list("pk", flat=True))})


@require_GET
@permission_required("compliance.view_legalhold")
def hold_detail(request, hold_id: int):
    hold = get_object_or_404(LegalHold.objects.select_related("owner", "placed_by", "released_by"), pk=hold_id)
    releases = Approval.objects.filter(action=ApprovalAction.HOLD_RELEASE, target=f"hold:{hold.pk}")
    may_release = (hold.state == HoldState.ACTIVE and request.user.has_perm("compliance.release_legalhold")
                   and not releases.filter(state=ApprovalState.PENDING).exists())
    return render(request, "compliance/hold.html", {
        "hold": hold, "criteria": selectors.hold_criteria(hold), "releases": releases,
        "release_form": ReleaseForm() if may_release else None})


@require_POST
@permission_required("compliance.release_legalhold")
def hold_release(request, hold_id: int):
    hold = get_object_or_404(LegalHold, pk=hold_id)
    form = ReleaseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the hold may be released.")
        return redirect("compliance:hold", hold_id=hold.pk)
    try:
        approval = services.hold_release_request(hold=hold, actor=Actor.of_user(request.user),
                                                 reason=form.cleaned_data["reason"])
    except (services.HoldRefused, ApprovalRefused) as exc:
        messages.error(request, str(exc))
        return redirect("compliance:hold", hold_id=hold.pk)
    messages.info(request, f"The hold stays active until a second person approves its release (approval "
                           f"{approval.pk}).")
    return redirect("approvals:detail", approval_id=approval.pk)
