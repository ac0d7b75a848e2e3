"""Admin for approvals: read-only (decisions go through the approval pages and services), linked to the page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.approvals.models import Approval
from apps.core.admin import ReadOnlyModelAdmin


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "action", "target", "state", "requested_by", "requested_at", "decided_by", "page")
    list_filter = ("state", "action")
    readonly_fields = ("action", "target", "state", "content", "content_hash", "summary", "reason", "requested_by",
                       "requested_at", "decided_by", "decided_at", "decision_reason", "result", "error", "page")

    @admin.display(description="decide")
    def page(self, obj: Approval) -> str:
        return format_html('<a href="{}">open the approval page</a>', reverse("approvals:detail", args=[obj.pk]))
