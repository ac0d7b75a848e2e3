"""Erasure requests (GDPR art. 17) and the tombstones they leave.

A request names a person's records by identifiers (subject keys, job ids, trace ids, payload
hashes), narrowed by a tenant and an enqueue-date range. Its criteria are frozen when it is
submitted: the approval (four eyes) covers exactly them. While it is open the request holds the
identifiers as typed, because the approver must see whom they erase and the execution must find
them; when it ends (completed, rejected, cancelled) only their keyed hashes remain (`scrubbed`).
No auditlog registration: auditlog would copy the raw identifiers into its own table.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ErasureState(models.TextChoices):
    DRAFT = "draft", "Draft"
    SUBMITTED = "submitted", "Submitted, waiting for approval"
    APPROVED = "approved", "Approved, waiting to run"
    REJECTED = "rejected", "Rejected"
    EXECUTING = "executing", "Executing"
    VERIFIED = "verified", "Verified"
    COMPLETED = "completed", "Completed"
    COMPLETED_HELD = "completed_held", "Completed, with records kept under a legal hold"
    FAILED = "failed", "Failed (retryable)"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (ErasureState.DRAFT, ErasureState.SUBMITTED, ErasureState.APPROVED, ErasureState.EXECUTING,
               ErasureState.VERIFIED, ErasureState.FAILED)
ENDED_STATES = (ErasureState.COMPLETED, ErasureState.COMPLETED_HELD, ErasureState.REJECTED, ErasureState.CANCELLED)
RUNNABLE_STATES = (ErasureState.APPROVED, ErasureState.EXECUTING, ErasureState.FAILED, ErasureState.VERIFIED)


class ErasureRequest(models.Model):
    state = models.CharField(max_length=16, choices=ErasureState.choices, default=ErasureState.DRAFT, db_index=True)
    criteria = models.JSONField(default=dict, help_text="The identifiers as typed (subjects KEY=VALUE, job ids, "
                                                        "trace ids, payload hashes), a tenant and dates; emptied "
                                                        "of raw identifiers when the request ends")
    hashed = models.JSONField(default=dict, help_text="The criteria with every identifier as its keyed hash: "
                                                      "what the approval, the tombstones and the certificate hold")
    scrubbed = models.BooleanField(default=False, help_text="Only keyed hashes of the identifiers are left")
    legal_basis = models.CharField(max_length=200, help_text="e.g. GDPR art. 17(1)(a): no longer necessary")
    reason = models.TextField(help_text="Why (the data subject's request, its reference)")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    due_on = models.DateField(help_text="Answer due (GDPR art. 12(3): one month); overdue after")
    approval = models.OneToOneField("approvals.Approval", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="erasure")
    preview = models.JSONField(default=dict, blank=True, help_text="Counts per place when submitted")
    step = models.CharField(max_length=32, blank=True, help_text="The step running, or reached when it failed")
    steps = models.JSONField(default=dict, blank=True, help_text="Per step: its plan, result and times")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    verification = models.JSONField(default=dict, blank=True)
    certificate = models.JSONField(default=dict, blank=True, help_text="The certificate of erasure (canonical JSON)")
    certificate_sha256 = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("run_erasurerequest", "Can run or resume an approved erasure request")]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"ER-{self.pk:05d}" if self.pk else "ER-new"

    @property
    def criteria_label(self) -> str:
        """What it names, for people: the identifiers while it is open, only how many once it has ended."""
        from apps.erasure.criteria import label

        return label(self.criteria)


class TombstoneKind(models.TextChoices):
    SUBJECT_KEY = "key", "Subject key hash"
    JOB_ID = "job", "Job id hash"


class Tombstone(models.Model):
    """An erased identifier, as its keyed hash: records that carry it later are not archived again."""

    kind = models.CharField(max_length=3, choices=TombstoneKind.choices)
    value_hash = models.CharField(max_length=64)
    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="tombstones")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "value_hash"], name="one_tombstone_per_value")]


class LateRecord(models.Model):
    """A record of an erased subject that reached the exporter after its erasure and was not archived.

    Named by its stream entry id only (an internal id); one row per entry, so a replayed batch
    does not count it twice."""

    request = models.ForeignKey(ErasureRequest, on_delete=models.PROTECT, related_name="late_records")
    stream_id = models.CharField(max_length=40)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["request", "stream_id"], name="one_late_record_per_entry")]
