"""Applied versions of the archived record's schema, one row each (version 1 is seeded)."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models


class SchemaVersion(models.Model):
    """One applied version: its full field list as data (see `apps.schemas.spec` for the format)."""

    number = models.PositiveIntegerField(unique=True)
    fields = models.JSONField(help_text="name, kind, nullable, default, added_in, deprecated_in, doc per field")
    doc = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    applied_via = models.CharField(max_length=100, blank=True, help_text="admin, migration, or cli and the OS user")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"schema v{self.number}"


auditlog.register(SchemaVersion)
