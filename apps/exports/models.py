"""The export ledger: every batch is recorded before it is written, so a rerun resumes it exactly."""

from __future__ import annotations

import uuid

from django.conf import settings
from auditlog.registry import auditlog
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import BrinIndex
from django.core.exceptions import ValidationError
from django.db import models


def validate_stream_fields(value) -> None:
    """Stream entries are flat: field names to text values (docs/stream-contract.md)."""
    if not isinstance(value, dict) or not value:
        raise ValidationError("Enter a JSON object of field names to values, e.g. {\"job_id\": \"42\", ...}.")
    wrong = [k for k, v in value.items() if not isinstance(v, str)]
    if wrong:
        raise ValidationError(
            f"Every value must be a string (numbers and JSON go in quotes); not strings: {', '.join(wrong[:5])}."
        )


class BatchState(models.TextChoices):
    RECORDED = "recorded", "Recorded, being written"
    WRITTEN = "written", "Written to every enabled sink"
    ACKNOWLEDGED = "acknowledged", "Acknowledged in Redis (done)"


class ExportBatch(models.Model):
    """One batch of stream entries on its way to the sinks; the unit of exactly-once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    stream = models.CharField(max_length=200)
    group = models.CharField(max_length=200)
    consumer = models.CharField(max_length=200, help_text="Consumer that recorded the batch")
    # One text value, not an array: writing 10^4 ids as one string is several times cheaper.
    entry_id_text = models.TextField(help_text="Stream entry ids of the batch, in order, space-separated")
    entry_count = models.PositiveIntegerField(default=0)
    first_id = models.CharField(max_length=40)
    last_id = models.CharField(max_length=40)
    sinks = ArrayField(models.CharField(max_length=20), help_text="Sinks enabled when the batch was recorded")
    state = models.CharField(max_length=24, choices=BatchState.choices, default=BatchState.RECORDED)
    records = models.PositiveIntegerField(default=0, help_text="Valid records written")
    dead_letters = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(
        default=0, help_text="Entries dropped because their record (job_id, retries) was archived already, or "
        "their dead letter recorded already")
    arrow_bytes = models.BigIntegerField(default=0, help_text="Size of the in-memory batch")
    attempts = models.PositiveIntegerField(default=1, help_text="1 + number of recoveries")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    clickhouse_at = models.DateTimeField(null=True, blank=True, help_text="When ClickHouse had the batch")
    iceberg_at = models.DateTimeField(null=True, blank=True, help_text="When Iceberg committed the batch")
    acknowledged_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "export batches"
        indexes = [models.Index(fields=["stream", "state"])]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.entry_count} entries, {self.get_state_display()})"

    @property
    def entry_ids(self) -> list[str]:
        return self.entry_id_text.split()


class ExportError(models.Model):
    """A failed export attempt; the batch stays recorded and is retried."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    batch = models.ForeignKey(ExportBatch, null=True, blank=True, on_delete=models.SET_NULL)
    stage = models.CharField(max_length=40)
    message = models.TextField()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.stage}: {self.message[:80]}"


class DeadLetter(models.Model):
    """A stream entry that broke the contract; kept with its reason until fixed and re-queued."""

    stream = models.CharField(max_length=200)
    entry_id = models.CharField(max_length=40, help_text="Id of the entry in the archive stream")
    reason = models.TextField()
    fields = models.JSONField(
        validators=[validate_stream_fields],
        help_text="The entry's fields as sent, all values strings. Correct them, save, then re-queue.",
    )
    # Fields that are not text (invalid UTF-8, or NUL, which jsonb refuses), kept byte for byte and
    # re-queued unchanged: base64 of the name -> base64 of the value (apps.exports.entry_fields).
    binary_fields = models.JSONField(default=dict, blank=True, editable=False)
    # Batch rows are pruned after a while (docs/exporter.md); the dead letter outlives its batch.
    batch = models.ForeignKey(ExportBatch, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="dead_letter_entries")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    requeued_at = models.DateTimeField(null=True, blank=True)
    requeued_as = models.CharField(max_length=40, blank=True)
    requeued_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["stream", "entry_id"], name="dead_letter_once_per_entry")]
        # The status page counts the dead letters waiting for a fix.
        indexes = [models.Index(fields=["stream"], condition=models.Q(requeued_at__isnull=True),
                                name="dead_letter_waiting")]
        permissions = [("requeue_deadletter", "Can re-queue dead letters into the archive stream")]

    def __str__(self) -> str:
        # No reason here: it may quote a value, and this text is copied into audit rows.
        return f"dead letter {self.entry_id}"


class KeyRun(models.Model):
    """The keys of the records one claim archived (or one purge removed): the record-level exactly-once.

    A batch claims the keys of its records before writing them (`apps.exports.pipeline.key_index`);
    a record whose key another run holds is a duplicate and is dropped. Keys are BLAKE2b-128
    digests of job id and attempt, never the values, 16 bytes each, sorted. A run without a batch
    holds purged records: they are never archived again while it is kept (see `expires_on`).
    """

    batch = models.UUIDField(null=True, blank=True, help_text="Batch that archived the records; empty: purged")
    expires_on = models.DateField(help_text="Forgotten after this day (ARCHIVE_DEDUP_WINDOW)")
    keys = models.BinaryField(help_text="Sorted 16-byte record keys")
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "run of archived record keys"
        # Runs are written in expiry order, near enough: a block-range index finds the expired ones.
        indexes = [BrinIndex(fields=["expires_on"], name="key_run_expiry"),
                   models.Index(fields=["batch"], name="key_run_batch")]


class ExportDay(models.Model):
    """Daily totals of acknowledged batches, kept after the batch rows themselves are pruned."""

    stream = models.CharField(max_length=200)
    day = models.DateField(help_text="UTC day the batches were acknowledged")
    batches = models.PositiveIntegerField(default=0)
    records = models.PositiveBigIntegerField(default=0)
    clickhouse_records = models.PositiveBigIntegerField(default=0)
    iceberg_records = models.PositiveBigIntegerField(default=0)
    dead_letters = models.PositiveBigIntegerField(default=0)
    duplicates = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-day"]
        constraints = [models.UniqueConstraint(fields=["stream", "day"], name="one_export_day_per_stream")]

    def __str__(self) -> str:
        return f"{self.day}: {self.records} records"


VALUE_NOT_RECORDED = "(value not recorded)"


def value_not_recorded(value: str) -> str:
    """auditlog's mask for a dead letter's entry and reason: they may hold personal data."""
    return VALUE_NOT_RECORDED


# Who changed or deleted a dead letter, and when; never the values of the entry or of the reason.
# Edits of `fields` go through services.dead_letter_edit, whose row also names the changed keys.
auditlog.register(
    DeadLetter,
    mask_fields=["fields", "binary_fields", "reason"],
    mask_callable="apps.exports.models.value_not_recorded",
)
