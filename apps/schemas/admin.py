"""Admin for schema versions: read-only, because versions are applied with `archive schema apply`."""

from django.contrib import admin

from apps.schemas.models import SchemaVersion


@admin.register(SchemaVersion)
class SchemaVersionAdmin(admin.ModelAdmin):
    list_display = ("number", "applied_at", "applied_by", "applied_via", "doc")
    readonly_fields = ("number", "fields", "doc", "applied_at", "applied_by", "applied_via", "created_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
