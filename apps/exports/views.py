"""Export status page and its JSON (login required, and any of the five roles). The page shows every
alert condition (apps.operations.alerts, the same ones Prometheus evaluates), red while it holds,
and how many erasure requests are overdue (a count, no names), since an answer is due by law. With
Redis down the page still answers (the alerts and a line saying so); the JSON answers 503."""

from dataclasses import asdict

import redis
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.decorators import role_required
from apps.erasure.selectors import requests_overdue
from apps.exports.selectors import export_status
from apps.operations.alerts import LAG_MAX_S, evaluate


@require_GET
@role_required()
def status(request):
    alerts = evaluate()
    try:
        current, redis_error = export_status(), ""
    except redis.RedisError as exc:
        current, redis_error = None, f"Redis cannot be reached ({type(exc).__name__}): the stream's figures are unknown."
    return render(request, "exports/status.html", {"status": current, "redis_error": redis_error, "alerts": alerts,
                                                   "firing": [a for a in alerts if a.firing], "lag_max_s": LAG_MAX_S,
                                                   "erasures_overdue": requests_overdue().count()})


@require_GET
@role_required()
def status_json(request):
    alerts = [asdict(a) for a in evaluate()]
    try:
        current = export_status()
    except redis.RedisError as exc:
        return JsonResponse({"error": f"Redis cannot be reached ({type(exc).__name__})", "alerts": alerts}, status=503)
    return JsonResponse({**current.as_dict(), "alerts": alerts})
