"""The audit chain: append-only events, each hashing its canonical JSON together with the previous hash.

Rows are never changed or deleted (a database trigger refuses it, migration 0001); a rewrite by
someone who can disable the trigger is caught by `archive audit verify`, through the digests of
the chain head kept in an S3 bucket under Object Lock (apps.audit.anchors).
"""

from __future__ import annotations

import json

from django.db import models

GENESIS = "0" * 64  # the "previous hash" of the first event


class AuditEvent(models.Model):
    """One operation or data access: who did what to which target, when, and the link to the event before."""

    seq = models.BigIntegerField(primary_key=True, help_text="Position in the chain: 1, 2, 3... without gaps")
    at = models.DateTimeField(db_index=True)
    # Plain values, no foreign key: the row must not change when a user is renamed or deleted.
    actor = models.CharField(max_length=150, db_index=True,
                             help_text="The portal user, os:<name> for a command without --by, beat, anonymous")
    actor_user_id = models.IntegerField(null=True, blank=True)
    via = models.CharField(max_length=16, help_text="web, admin, cli, beat, task")
    action = models.CharField(max_length=64, db_index=True, help_text="What happened, e.g. purge.approved")
    target = models.CharField(max_length=200, blank=True, db_index=True,
                              help_text="What it happened to, e.g. approval:12 or policy:queue=emails")
    details = models.JSONField(default=dict, blank=True, help_text="Figures and ids; never raw payloads or PII")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["-seq"]
        permissions = [
            ("verify_chain", "Can verify the audit chain and write its digest"),
            ("export_auditevent", "Can export audit events as CSV"),
        ]

    @property
    def details_json(self) -> str:
        """The details as one line of JSON (keys sorted), for pages, tables and CSV cells."""
        return json.dumps(self.details, sort_keys=True)

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.target} by {self.actor}"
