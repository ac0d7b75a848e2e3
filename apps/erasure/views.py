"""Erasure pages: the requests, filing one, one request (its preview, approval, progress, verification)
and its certificate. Thin: the services decide and check permissions again; warehouse work (the
preview, the run) is sent to the worker, never done here."""

from __future__ import annotations

import rfc8785
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.approvals.selectors import can_decide
from apps.approvals.services import ApprovalRefused
from apps.erasure import certificate, criteria, selectors, services
from apps.erasure.forms import CancelForm, ErasureForm, RejectForm
from apps.erasure.models import ErasureRequest, ErasureState
from apps.warehouse import dispatch

VIEW = "erasure.view_erasurerequest"


def _request(request_id: int) -> ErasureRequest:
    return get_object_or_404(selectors.requests_listed(), pk=request_id)


def _actor(request) -> Actor:
    return Actor.of_user(request.user, via="web")


@require_GET
@permission_required(VIEW)
def erasure_list(request):
    state = request.GET.get("state") or None
    if state not in (None, *ErasureState.values):
        state = None
    return render(request, "erasure/list.html", {
        "requests": selectors.requests_listed(state=state).order_by("-created_at"), "state": state,
        "states": ErasureState.choices, "overdue": set(selectors.requests_overdue().values_list("pk", flat=True))})


@require_http_methods(["GET", "POST"])
@permission_required(VIEW, "erasure.add_erasurerequest")
def erasure_new(request):
    form = ErasureForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        submit = request.POST.get("action") != "draft"
        try:
            if submit:
                dispatch.require_worker()  # submitting counts on the worker: somebody must be there to do it
            filed = services.erasure_file(actor=_actor(request), submit=submit, **form.cleaned_data)
            if submit:
                services.erasure_preview_dispatch(request=filed, actor=_actor(request))
        except services.ErasureRefused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, str(exc))
        except dispatch.WorkerUnavailable as exc:
            form.add_error(None, f"{exc} You can save it as a draft meanwhile.")
        else:
            messages.success(request, f"{filed.reference} submitted: the worker counts its records in every place, "
                                      "then a second person approves it." if submit else
                             f"{filed.reference} saved as a draft: nothing is counted or erased until you submit it.")
            return redirect("erasure:detail", request_id=filed.pk)
    return render(request, "erasure/new.html", {"form": form})


@require_GET
@permission_required(VIEW)
def erasure_detail(request, request_id: int):
    erasure = _request(request_id)
    approval = erasure.approval
    user = request.user
    return render(request, "erasure/detail.html", {
        "erasure": erasure, "approval": approval, "criteria": selectors.criteria_shown(erasure),
        "names": criteria.label(erasure.criteria), "places": selectors.places_shown(erasure),
        "preview": erasure.preview, "steps": selectors.steps_shown(erasure), "moving": selectors.is_moving(erasure),
        "overdue": selectors.is_overdue(erasure), "can_decide": approval is not None and can_decide(user, approval),
        "reject_form": RejectForm(),
        "can_cancel": erasure.state in (ErasureState.DRAFT, ErasureState.SUBMITTED)
        and user.has_perm("erasure.change_erasurerequest"),
        "can_submit": erasure.state == ErasureState.DRAFT and user.has_perm("erasure.add_erasurerequest"),
        "can_count_again": erasure.state == ErasureState.SUBMITTED and approval is None
        and user.has_perm("erasure.add_erasurerequest"),
        "can_retry": erasure.state == ErasureState.FAILED and user.has_perm("erasure.run_erasurerequest"),
        "cancel_form": CancelForm()})


@require_GET
@permission_required(VIEW)
def erasure_progress(request, request_id: int):
    return JsonResponse(selectors.erasure_progress(_request(request_id)))


@require_POST
@permission_required(VIEW)
def erasure_decide(request, request_id: int):
    """Approve (the run goes to the worker) or reject; the approvals service says who may."""
    erasure = _request(request_id)
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            dispatch.require_worker()  # approving runs it: somebody must be there to do it
            erasure = services.erasure_approve(request=erasure, actor=_actor(request), submit=True,
                                               content_hash_seen=request.POST.get("content_hash", ""))
            messages.success(request, f"{erasure.reference} approved: it runs on the worker now.")
        elif decision == "reject":
            form = RejectForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Say why it is rejected.")
                return redirect("erasure:detail", request_id=erasure.pk)
            erasure = services.erasure_reject(request=erasure, actor=_actor(request),
                                              reason=form.cleaned_data["reason"])
            messages.success(request, f"{erasure.reference} rejected: nothing is erased; only keyed hashes of "
                                      "its identifiers are kept.")
        else:
            messages.error(request, "Choose approve or reject.")
    except PermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None
    except (services.ErasureRefused, ApprovalRefused, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
    return redirect("erasure:detail", request_id=erasure.pk)


@require_POST
@permission_required(VIEW, "erasure.add_erasurerequest")
def erasure_submit(request, request_id: int):
    """A draft is submitted (its criteria frozen) and its preview sent to the worker."""
    erasure = _request(request_id)
    try:
        dispatch.require_worker()
        if erasure.state == ErasureState.DRAFT:
            erasure = services.erasure_submit(request=erasure, actor=_actor(request))
        services.erasure_preview_dispatch(request=erasure, actor=_actor(request))
    except (services.ErasureRefused, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{erasure.reference} submitted: the worker counts its records in every place.")
    return redirect("erasure:detail", request_id=erasure.pk)


@require_POST
@permission_required(VIEW, "erasure.change_erasurerequest")
def erasure_cancel(request, request_id: int):
    erasure = _request(request_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        erasure = services.erasure_cancel(request=erasure, actor=_actor(request), reason=reason)
    except (services.ErasureRefused, ApprovalRefused) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{erasure.reference} cancelled: nothing is erased.")
    return redirect("erasure:detail", request_id=erasure.pk)


@require_POST
@permission_required(VIEW, "erasure.run_erasurerequest")
def erasure_retry(request, request_id: int):
    erasure = _request(request_id)
    try:
        erasure = services.erasure_retry(request=erasure, actor=_actor(request))
    except (services.ErasureRefused, dispatch.WorkerUnavailable) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{erasure.reference} runs again on the worker, from step {erasure.step}.")
    return redirect("erasure:detail", request_id=erasure.pk)


@require_GET
@permission_required(VIEW)
def erasure_certificate(request, request_id: int):
    """The certificate as a page, or `?format=pdf|html|json` as a download."""
    erasure = _request(request_id)
    if not erasure.certificate_sha256:
        raise Http404(f"{erasure.reference} has no certificate ({erasure.get_state_display().lower()})")
    doc, digest = erasure.certificate, erasure.certificate_sha256
    wanted = request.GET.get("format", "")
    name = f"{erasure.reference}-certificate"
    if wanted == "pdf":
        response = HttpResponse(certificate.render_pdf(erasure), content_type="application/pdf")
    elif wanted == "html":
        response = HttpResponse(render_to_string("erasure/certificate_pdf.html", {"doc": doc, "sha256": digest}),
                                content_type="text/html; charset=utf-8")
    elif wanted == "json":
        response = HttpResponse(rfc8785.dumps(doc), content_type="application/json")
    else:
        return render(request, "erasure/certificate.html", {"doc": doc, "sha256": digest, "request_obj": erasure})
    response["Content-Disposition"] = f'attachment; filename="{name}.{wanted}"'
    return response
