"""Restore pages: ask for a restore (from a job's page or a jobs search), follow it, list recent ones.

Thin: `apps.restore.services` checks the permission again and every field; the restore runs on the
warehouse worker, never here. A dry run's page offers to restore what it counted, bound to its count.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.explorer.templates import TemplateError, parse_time
from apps.restore import selectors, services
from apps.restore.adapters import Refusal
from apps.restore.models import Restore
from apps.warehouse import dispatch


@require_POST
@permission_required(services.PERMISSION)
def submit(request):
    data = request.POST
    count = data.get("expected_count", "").strip()
    try:
        dispatch.require_worker()
        restore = services.restore_submit(
            actor=Actor.of_user(request.user, via="web"), adapter=data.get("adapter", ""),
            target=data.get("target", ""), job_ids=data.getlist("job_id"), queue=data.get("queue", ""),
            outcome=data.get("outcome", ""),
            start=parse_time(data["from"]) if data.get("from") else None,
            end=parse_time(data["to"]) if data.get("to") else (parse_time("now") if data.get("from") else None),
            expected_count=int(count) if count.isdigit() else None,
            dry_run=data.get("action") == "preview", force=data.get("force") == "on")
        services.dispatch(restore)
    except (Refusal, TemplateError, PermissionDenied, dispatch.WorkerUnavailable) as exc:
        messages.error(request, f"not restored: {exc}")
        back = request.POST.get("back", "")
        safe = url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure())
        return redirect(back if back and safe else "restore:list")
    return redirect("restore:detail", restore_id=restore.pk)


@require_GET
@permission_required("restore.view_restore")
def detail(request, restore_id):
    restore = get_object_or_404(Restore, pk=restore_id)
    return render(request, "restore/detail.html", {
        "restore": restore, "may_restore": request.user.has_perm(services.PERMISSION),
        "reasons": sorted(restore.refused.items(), key=lambda kv: -kv[1])})


@require_GET
@permission_required("restore.view_restore")
def status(request, restore_id):
    return JsonResponse(selectors.restore_as_dict(get_object_or_404(Restore, pk=restore_id)))


@require_GET
@permission_required("restore.view_restore")
def listing(request):
    return render(request, "restore/list.html", {"restores": selectors.recent(100)})
