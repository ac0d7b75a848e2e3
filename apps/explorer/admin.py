"""Admin: query runs are read-only records (the audit chain holds who ran what); saved queries are editable."""

from django.contrib import admin

from apps.explorer.models import QueryRun, SavedQuery


@admin.register(QueryRun)
class QueryRunAdmin(admin.ModelAdmin):
    list_display = ("submitted_at", "actor", "via", "template", "state", "rows", "elapsed_ms")
    list_filter = ("state", "via", "template")
    search_fields = ("actor", "sql_sha256")
    readonly_fields = [f.name for f in QueryRun._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SavedQuery)
class SavedQueryAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "template", "shared_with", "updated_at")
    list_filter = ("shared_with",)
    search_fields = ("name", "description")
