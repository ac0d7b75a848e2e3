"""Audit events in the admin: read-only, newest first."""

from django.contrib import admin

from apps.audit.models import AuditEvent
from apps.core.admin import ReadOnlyModelAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    list_display = ("seq", "at", "actor", "via", "action", "target")
    list_filter = ("via", "action")
    search_fields = ("actor", "action", "target")
    date_hierarchy = "at"
    readonly_fields = ("seq", "at", "actor", "actor_user_id", "via", "action", "target", "details", "prev_hash",
                       "hash")
    show_full_result_count = False  # counting a long chain on every page is slow
