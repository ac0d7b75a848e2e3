"""Export status page and its JSON (login required, and any of the five roles). The page shows every
alert condition (apps.operations.alerts, the same ones Prometheus evaluates), red while it holds,
and how many erasure requests are overdue (a count, no names), since an answer is due by law."""

from dataclasses import asdict

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
    return render(request, "exports/status.html", {"status": export_status(), "alerts": alerts,
                                                   "firing": [a for a in alerts if a.firing], "lag_max_s": LAG_MAX_S,
                                                   "erasures_overdue": requests_overdue().count()})


@require_GET
@role_required()
def status_json(request):
    return JsonResponse({**export_status().as_dict(), "alerts": [asdict(a) for a in evaluate()]})
