"""Export status page and its JSON (login required, and any of the five roles); the page also says
how many erasure requests are overdue (a count, no names), since an answer is due by law."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.accounts.decorators import role_required
from apps.erasure.selectors import requests_overdue
from apps.exports.selectors import export_status


@require_GET
@role_required()
def status(request):
    return render(request, "exports/status.html", {"status": export_status(),
                                                   "erasures_overdue": requests_overdue().count()})


@require_GET
@role_required()
def status_json(request):
    return JsonResponse(export_status().as_dict())
