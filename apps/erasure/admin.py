"""Admin for erasure requests: read-only (requests are filed, approved and run on the erasure pages
and the CLI, through the services); what a request names appears only as its label, never as the
stored criteria, and nothing here searches the identifiers."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyModelAdmin
from apps.erasure.models import ErasureRequest
from apps.erasure.selectors import is_overdue


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyModelAdmin):
    list_display = ("reference", "state", "names", "requested_by", "due_on", "overdue", "created_at", "page")
    list_filter = ("state", "due_on")
    ordering = ("due_on", "pk")
    date_hierarchy = "due_on"
    list_select_related = ("requested_by",)
    fields = ("reference", "state", "names", "legal_basis", "reason", "requested_by", "created_at", "submitted_at",
              "due_on", "approval", "step", "attempts", "error", "started_at", "verified_at", "completed_at",
              "ended_at", "certificate_sha256", "page")
    readonly_fields = fields

    @admin.display(description="names")
    def names(self, obj: ErasureRequest) -> str:
        return obj.criteria_label

    @admin.display(description="overdue", boolean=True)
    def overdue(self, obj: ErasureRequest) -> bool:
        return is_overdue(obj)

    @admin.display(description="manage")
    def page(self, obj: ErasureRequest) -> str:
        return format_html('<a href="{}">open the request page</a>', reverse("erasure:detail", args=[obj.pk]))
