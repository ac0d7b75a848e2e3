"""Export status page (login required) and the JSON health endpoint."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.health import health_report
from apps.exports.selectors import export_status


@require_GET
@login_required
def status(request):
    return render(request, "exports/status.html", {"status": export_status()})


@require_GET
@login_required
def status_json(request):
    return JsonResponse(export_status().as_dict())


@require_GET
def health(request):
    """Unauthenticated liveness for load balancers: only up/down per component, no details."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
