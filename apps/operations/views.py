"""The unauthenticated health endpoint for load balancers and monitors."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from apps.operations.health import health_report


@require_GET
def health(request):
    """Only up or down per component, no details; 200 for ok, 503 otherwise."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
