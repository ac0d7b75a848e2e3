"""Legal holds: records that must be kept whatever the retention says, until a hold is released.

A hold matches records by queue, tenant, job ids, subject keys (keyed hashes: a person) and an
enqueue-date range (every criterion given must match). Placing one needs one compliance officer; releasing one needs an approval.
"""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class HoldState(models.TextChoices):
    ACTIVE = "active", "Active"
    RELEASED = "released", "Released"


class LegalHold(models.Model):
    queue = models.CharField(max_length=128, blank=True, help_text="Only this queue (empty: any)")
    tenant = models.CharField(max_length=128, blank=True, help_text="Only this tenant id (empty: any)")
    job_ids = ArrayField(models.CharField(max_length=128), default=list, blank=True,
                         help_text="Only these job ids (empty: any)")
    subject_keys = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                              help_text="Only records of these people: subject key hashes (KEY=VALUE is hashed "
                                        "when the hold is placed; empty: anyone's)")
    date_from = models.DateField(null=True, blank=True, help_text="Enqueued on or after this day (UTC)")
    date_to = models.DateField(null=True, blank=True, help_text="Enqueued on or before this day (UTC)")
    reason = models.TextField(help_text="Why the records must be kept (the matter, the request)")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                              help_text="Who answers for the hold")
    review_on = models.DateField(help_text="When the hold is due for review (shown as overdue after)")
    state = models.CharField(max_length=10, choices=HoldState.choices, default=HoldState.ACTIVE, db_index=True)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+", help_text="Who approved the release")
    released_at = models.DateTimeField(null=True, blank=True)
    release_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-placed_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(queue="", tenant="", job_ids=[], subject_keys=[], date_from=None, date_to=None),
                name="hold_has_a_criterion"),
            models.CheckConstraint(
                condition=Q(date_from__isnull=True) | Q(date_to__isnull=True) | Q(date_from__lte=models.F("date_to")),
                name="hold_dates_in_order"),
        ]
        permissions = [("release_legalhold", "Can ask for the release of a legal hold")]

    def __str__(self) -> str:
        return f"hold {self.pk} ({self.criteria_label})"

    @property
    def criteria_label(self) -> str:
        parts = []
        if self.queue:
            parts.append(f"queue={self.queue}")
        if self.tenant:
            parts.append(f"tenant={self.tenant}")
        if self.job_ids:
            parts.append(f"{len(self.job_ids)} job id{'s' if len(self.job_ids) != 1 else ''}")
        if self.subject_keys:
            parts.append(f"{len(self.subject_keys)} subject key{'s' if len(self.subject_keys) != 1 else ''}")
        if self.date_from or self.date_to:
            parts.append(f"enqueued {self.date_from or '...'} to {self.date_to or '...'}")
        return ", ".join(parts)


class SubjectKeyRule(models.Model):
    """Where an identifier of a person is read at ingest (apps.compliance.subject_keys)."""

    name = models.CharField(max_length=64, help_text="The subject key, e.g. email or user_id (as typed in "
                                                      "KEY=VALUE for an erasure, a hold or subject access)")
    source = models.CharField(max_length=8, choices=[("payload", "payload field (top level)"), ("tag", "tag")])
    field = models.CharField(max_length=128, help_text="The payload field or tag name it is read from")
    kind = models.CharField(max_length=8, choices=[("email", "email (trimmed, lower-cased)"),
                                                   ("text", "text (trimmed)")], default="text")

    class Meta:
        ordering = ["name", "source", "field"]
        constraints = [models.UniqueConstraint(fields=["source", "field"], name="one_rule_per_field")]

    def __str__(self) -> str:
        return f"{self.name} from {self.source} {self.field}"


auditlog.register(SubjectKeyRule)


class StoredCopy(models.Model):
    """A copy of archived records the portal itself keeps in S3 (a subject-access bundle, say).

    Copies are a place of the registry (`apps.places.copies`): an erasure finds the ones holding a
    subject's records by the keyed hashes noted here, never by reading raw identifiers."""

    kind = models.CharField(max_length=32, help_text="What made it, e.g. subject_access")
    bucket = models.CharField(max_length=63)
    keys = ArrayField(models.CharField(max_length=1024), default=list, help_text="Its S3 objects")
    key_hashes = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                            help_text="Every subject key hash of the records it holds")
    job_id_hashes = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                               help_text="Keyed hashes of the job ids of the records it holds")
    records = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(help_text="Deleted by the beat task after this")
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_why = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["deleted_at", "expires_at"], name="copy_live_idx")]
