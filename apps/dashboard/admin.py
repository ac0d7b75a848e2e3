"""The dashboard's snapshots in the admin: read only (the worker writes them)."""

from django.contrib import admin

from apps.dashboard.models import DashboardSnapshot


@admin.register(DashboardSnapshot)
class DashboardSnapshotAdmin(admin.ModelAdmin):
    list_display = ("range", "computed_at", "elapsed_ms")
    list_filter = ("range",)
    readonly_fields = ("range", "computed_at", "elapsed_ms", "figures")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
