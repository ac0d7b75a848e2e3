"""Export status page and its JSON (login required)."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.exports.selectors import export_status


@require_GET
@login_required
def status(request):
    return render(request, "exports/status.html", {"status": export_status()})


@require_GET
@login_required
def status_json(request):
    return JsonResponse(export_status().as_dict())
