"""Subject access pages: the requests, filing one (built on the worker), one request with its
download buttons (only for the officer who filed it), and a retry of a failed build."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.erasure import access, access_bundle
from apps.erasure import access_selectors as selectors
from apps.erasure.access_forms import AccessRequestForm
from apps.erasure.models import AccessState, SubjectAccessRequest
from apps.warehouse.dispatch import WorkerUnavailable


@require_GET
@permission_required("erasure.view_subjectaccessrequest")
def access_list(request):
    return render(request, "erasure/access_list.html", {
        "requests": selectors.access_requests_listed(),
        "may_file": request.user.has_perm("erasure.add_subjectaccessrequest")})


@require_http_methods(["GET", "POST"])
@permission_required("erasure.add_subjectaccessrequest")
def access_new(request):
    form = AccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            filed = access.access_request(actor=Actor.of_user(request.user), subjects=data["subjects"],
                                          job_ids=data["job_ids"], reason=data["reason"], basis=data["basis"])
        except (access.AccessRefused, WorkerUnavailable, PermissionDenied) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{filed.reference} filed; its bundle is being built on the worker.")
            return redirect("subject_access:detail", request_id=filed.pk)
    return render(request, "erasure/access_new.html", {"form": form, "hours": settings.ARCHIVE_SUBJECT_ACCESS_HOURS})


@require_GET
@permission_required("erasure.view_subjectaccessrequest")
def access_detail(request, request_id: int):
    found = get_object_or_404(SubjectAccessRequest.objects.select_related("requested_by", "bundle"), pk=request_id)
    return render(request, "erasure/access_detail.html", {
        "sar": found, "names": selectors.names_label(found), "available": selectors.bundle_available(found),
        "may_download": selectors.may_download(found, request.user), "formats": list(access_bundle.FILES),
        "may_retry": found.state == AccessState.FAILED and request.user.has_perm("erasure.add_subjectaccessrequest"),
        "building": found.state in (AccessState.REQUESTED, AccessState.BUILDING)})


@require_POST
@permission_required("erasure.view_subjectaccessrequest")
def access_download(request, request_id: int, fmt: str):
    found = get_object_or_404(SubjectAccessRequest, pk=request_id)
    try:
        download = access.access_download(request=found, actor=Actor.of_user(request.user), fmt=fmt)
    except access.AccessRefused as exc:
        raise PermissionDenied(str(exc)) from None
    response = HttpResponse(download.body, content_type=download.content_type)
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@permission_required("erasure.add_subjectaccessrequest")
def access_retry(request, request_id: int):
    found = get_object_or_404(SubjectAccessRequest, pk=request_id)
    try:
        access.access_retry(request=found, actor=Actor.of_user(request.user))
    except (access.AccessRefused, WorkerUnavailable) as exc:
        messages.error(request, str(exc))
    else:
        messages.info(request, f"{found.reference}: the bundle is being built again on the worker.")
    return redirect("subject_access:detail", request_id=found.pk)
