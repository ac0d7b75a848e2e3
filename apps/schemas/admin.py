"""Admin for schema versions: read-only, because versions are applied with `archive schema apply`."""

from django.contrib import admin

from apps.core.admin import ReadOnlyModelAdmin
from apps.schemas.models import SchemaVersion


@admin.register(SchemaVersion)
class SchemaVersionAdmin(ReadOnlyModelAdmin):
    list_display = ("number", "applied_at", "applied_by", "applied_via", "doc")
    readonly_fields = ("number", "fields", "doc", "applied_at", "applied_by", "applied_via", "created_at")
