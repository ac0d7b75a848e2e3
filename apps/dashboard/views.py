"""The dashboard page. Thin: the figures were computed on the worker (snapshots) or are read from what
other pages keep; this page never opens the warehouse, it asks the worker and shows the newest answer."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.actors import Actor
from apps.accounts.decorators import permission_required
from apps.dashboard import selectors, services
from apps.dashboard.ranges import DEFAULT, SPANS
from apps.warehouse import dispatch


def _chosen(request) -> str:
    key = request.GET.get("range") or request.POST.get("range") or DEFAULT
    return key if key in SPANS else DEFAULT


@require_GET
@permission_required(services.VIEW_PERMISSION)
def home(request):
    """The newest snapshot of the chosen range (asked for when there is none), with the live figures beside it."""
    chosen = _chosen(request)
    if request.GET.get("range") and request.GET["range"] != chosen:
        messages.error(request, f"no range {request.GET['range'][:20]!r}; showing {SPANS[chosen].label}")
    snapshot = selectors.latest_snapshot(chosen)
    asked = False
    if snapshot is None:
        try:
            asked = services.dashboard_request_first(actor=Actor.of_user(request.user, via="web"), range_key=chosen)
        except dispatch.WorkerUnavailable as exc:
            messages.error(request, str(exc))
        snapshot = selectors.latest_snapshot(chosen)  # in tests the worker's task ran right here
    return render(request, "dashboard/home.html", {
        "chosen": chosen, "ranges": [(key, span.label) for key, span in SPANS.items()],
        "snapshot": snapshot, "figures": snapshot.figures if snapshot else None, "asked": asked,
        "age_s": selectors.snapshot_age_s(snapshot) if snapshot else None,
        "stats": selectors.tier_figures(), "export": selectors.export_and_redis(),
        "approvals": selectors.approvals_open(request.user), "erasures": selectors.erasures_open(request.user),
        "may_refresh": request.user.has_perm(services.REFRESH_PERMISSION),
    })


@require_POST
@permission_required(services.REFRESH_PERMISSION)
def refresh(request):
    """Have the worker compute every range again now (SRE, Administrator)."""
    try:
        services.dashboard_request_refresh(actor=Actor.of_user(request.user, via="web"))
    except dispatch.WorkerUnavailable as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "The worker is computing the figures; this page shows them in a moment.")
    return redirect(f"{reverse('dashboard:home')}?range={_chosen(request)}")
