"""The audit viewer: filtered, paginated events, and their CSV export (which is itself recorded)."""

import csv

from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.accounts.actors import Actor
from apps.audit.forms import EventFilterForm
from apps.audit.selectors import COLUMNS, EventFilter, audit_events, event_row
from apps.audit.services import audit_export

PAGE_SIZE = 50


@require_GET
@login_required
@permission_required("audit.view_auditevent", raise_exception=True)
def events(request):
    form = EventFilterForm(_filter_data(request))
    filters = form.filters()
    found = audit_events(actor=Actor.of_user(request.user), filters=filters or EventFilter())
    page = Paginator(found if filters else found.none(), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "audit/events.html", {
        "form": form, "page": page, "filter_query": query.urlencode(),
        "can_export": request.user.has_perm("audit.export_auditevent"),
    })


def _filter_data(request):
    data = request.GET.copy()
    data.pop("page", None)
    return data or None


class _Echo:
    def write(self, value):
        return value


@require_GET
@login_required
@permission_required("audit.export_auditevent", raise_exception=True)
def export_csv(request):
    filters = EventFilterForm(_filter_data(request)).filters()
    if filters is None:
        return HttpResponseBadRequest("The filters are invalid: correct them on the audit page, then export.")
    _, rows = audit_export(actor=Actor.of_user(request.user), filters=filters)
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(COLUMNS)
        for event in rows:
            row = {**event_row(event), "details": event.details_json}
            yield writer.writerow([row[c] for c in COLUMNS])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.csv"'
    return response
