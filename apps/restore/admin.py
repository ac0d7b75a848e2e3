"""Restores in the admin: read-only (they are asked for on the job and jobs pages or with `archive restore`)."""

from django.contrib import admin

from apps.core.admin import ReadOnlyModelAdmin
from apps.restore.models import Restore


@admin.register(Restore)
class RestoreAdmin(ReadOnlyModelAdmin):
    list_display = ("submitted_at", "actor", "adapter", "target", "dry_run", "state", "selected", "restored")
    list_filter = ("state", "adapter", "dry_run")
    readonly_fields = [f.name for f in Restore._meta.fields]
