"""Admin for legal holds: read-only here; holds are placed and released on the holds pages and the CLI
(placing needs a compliance officer, releasing an approval), so every step is audited the same way."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from apps.compliance.models import LegalHold
from apps.core.admin import ReadOnlyModelAdmin


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyModelAdmin):
    list_display = ("id", "state", "criteria_label", "owner", "review_on", "placed_by", "placed_at", "page")
    list_filter = ("state",)
    search_fields = ("queue", "tenant", "reason")
    readonly_fields = ("queue", "tenant", "job_ids", "date_from", "date_to", "reason", "owner", "review_on", "state",
                       "placed_by", "placed_at", "released_by", "released_at", "release_reason", "page")

    @admin.display(description="manage")
    def page(self, obj: LegalHold) -> str:
        return format_html('<a href="{}">open the hold page</a>', reverse("compliance:hold", args=[obj.pk]))
