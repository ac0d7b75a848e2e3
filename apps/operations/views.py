"""The unauthenticated health endpoint for load balancers and monitors, and Prometheus's `/metrics`."""

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from apps.operations.health import health_report


@require_GET
def health(request):
    """Only up or down per component, no details; 200 for ok, 503 otherwise."""
    report = health_report()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def _scrape_allowed(request) -> bool:
    """A bearer token equal to ARCHIVE_METRICS_TOKEN, or a client address in ARCHIVE_METRICS_ALLOWED_ADDRESSES."""
    token = settings.ARCHIVE_METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer ") and hmac.compare_digest(header[7:].strip().encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in settings.ARCHIVE_METRICS_ALLOWED_ADDRESSES)


@require_GET
def metrics(request):
    """Prometheus exposition (apps.operations.metrics) for a scraper with the token or from an allowed address."""
    if not _scrape_allowed(request):
        return HttpResponse("metrics: a bearer token or an allowed address is needed (docs/operations.md)\n",
                            status=403, content_type="text/plain")
    from prometheus_client import CONTENT_TYPE_LATEST

    from apps.operations.metrics import render

    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)
