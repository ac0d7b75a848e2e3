"""A rehydration: who asked for which cold range, the ClickHouse table that holds it, and until when."""

from __future__ import annotations

import uuid

from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

TABLE_PREFIX = "rehydrated_"


class RehydrationState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Copying from the cold tier"
    READY = "ready", "Ready to query"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired (table dropped)"


class Rehydration(models.Model):
    """Cold records of [date_from, date_to] (whole UTC days, both included), optionally some queues."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    date_from = models.DateField(help_text="First day (UTC), included")
    date_to = models.DateField(help_text="Last day (UTC), included")
    queues = ArrayField(models.CharField(max_length=128), default=list, blank=True,
                        help_text="Only these queues; empty means every queue")
    expires_at = models.DateTimeField(help_text="The table is dropped after this time")
    state = models.CharField(max_length=16, choices=RehydrationState.choices, default=RehydrationState.PENDING,
                             db_index=True)
    table_name = models.CharField(max_length=64, unique=True, help_text="ClickHouse table in the archive database")
    rows = models.BigIntegerField(null=True, blank=True)
    bytes = models.BigIntegerField(null=True, blank=True, help_text="Compressed size on disk")
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="rehydrations")
    requested_via = models.CharField(max_length=100, blank=True, help_text="admin, or cli and the OS user")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    dropped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        queues = f" ({', '.join(self.queues)})" if self.queues else ""
        return f"{self.date_from}..{self.date_to}{queues} as {self.table_name}"

    @property
    def short_id(self) -> str:
        return self.id.hex[:12]

    @staticmethod
    def table_name_for(rehydration_id: uuid.UUID) -> str:
        return f"{TABLE_PREFIX}{rehydration_id.hex[:12]}"


# Who requested, dropped or changed which rehydration, with field diffs.
auditlog.register(Rehydration)
