"""Erasure requests (GDPR art. 17), the tombstones they leave, and subject access requests (art. 15).

A request names a person's records by identifiers (subject keys, job ids, trace ids, payload
hashes), narrowed by a tenant and an enqueue-date range. Its criteria are frozen when it is
submitted: the approval (four eyes) covers exactly them. While it is open the request holds the
identifiers as typed, because the approver must see whom they erase and the execution must find
them; when it ends (completed, rejected, cancelled) only their keyed hashes remain (`scrubbed`).
No auditlog registration: auditlog would copy the raw identifiers into its own table.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
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


class AccessState(models.TextChoices):
    REQUESTED = "requested", "Requested, waiting for its bundle"
    BUILDING = "building", "Building the bundle"
    READY = "ready", "Ready to download"
    DOWNLOADED = "downloaded", "Downloaded (still downloadable until it expires)"
    EXPIRED = "expired", "Expired (bundle deleted)"
    FAILED = "failed", "Failed (retryable)"


ACCESS_BUILDABLE = (AccessState.REQUESTED, AccessState.FAILED)
ACCESS_DOWNLOADABLE = (AccessState.READY, AccessState.DOWNLOADED)


class SubjectAccessRequest(models.Model):
    """A data subject's request for a copy of their archived records (GDPR art. 15).

    The person is named by subject keys, as keyed hashes from the start (the KEY=VALUE pairs are
    hashed when the request is filed), and by job ids: their keyed hashes are kept, the raw ids
    only until the bundle is built (records are found by them). The bundle is a `StoredCopy`
    (a place of the registry: an erasure of the person deletes it) that expires on its own.
    """

    state = models.CharField(max_length=12, choices=AccessState.choices, default=AccessState.REQUESTED,
                             db_index=True)
    key_names = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                           help_text="Which subject keys were given (e.g. email, user_id), not their values")
    key_hashes = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                            help_text="The subject keys as keyed hashes (as records hold them)")
    job_id_hashes = ArrayField(models.CharField(max_length=64), default=list, blank=True,
                               help_text="Keyed hashes of the job ids given")
    job_ids = ArrayField(models.CharField(max_length=128), default=list, blank=True,
                         help_text="The job ids as typed: cleared once the bundle is built")
    legal_basis = models.CharField(max_length=200, help_text="e.g. GDPR art. 15 (right of access)")
    reason = models.TextField(help_text="Why (the data subject's request, its reference)")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    records = models.PositiveIntegerField(null=True, blank=True, help_text="Records in the bundle")
    counts = models.JSONField(default=dict, blank=True, help_text="Records per tier, objects and bytes")
    bundle = models.OneToOneField("compliance.StoredCopy", null=True, blank=True, on_delete=models.PROTECT,
                                  related_name="subject_access")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True, help_text="The first download")
    expires_at = models.DateTimeField(help_text="The bundle is deleted after this (ARCHIVE_SUBJECT_ACCESS_HOURS "
                                                "after it is ready; a request never built expires too)")
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"SAR-{self.pk:05d}" if self.pk else "SAR-new"
