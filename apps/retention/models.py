"""Retention policies: a global default plus overrides per queue, per outcome, or both.

Every setting of an override may be left empty, meaning "inherit": for each setting the most
specific policy that sets it wins (queue and outcome, then queue, then outcome, then the global
policy, then the built-in defaults from settings). `apps.retention.resolution` implements it.
"""

from __future__ import annotations

import re

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.records.contract import OUTCOMES
from apps.records.redaction import Redactor, patterns_spec


class PayloadMode(models.TextChoices):
    NONE = "none", "None: size only"
    HASH = "hash", "Hash only"
    SAMPLE = "sample", "Redacted sample (at the sampling rate)"
    FULL = "full", "Full payload (redacted, compressed)"


OUTCOME_CHOICES = [(o, o) for o in sorted(OUTCOMES)]


def validate_patterns(value: str) -> None:
    """One `name=regex` per line, checked by the redactor that will use them."""
    try:
        Redactor.with_extra(patterns_spec(value))
    except (ValueError, re.error) as exc:
        raise ValidationError(f"{exc} (write one name=regex per line, e.g. employee_id=EMP-\\d{{6}})") from None


class RetentionPolicy(models.Model):
    """One rule. Leave a setting empty to inherit it from a less specific rule."""

    queue = models.CharField(max_length=128, blank=True, help_text="Empty: every queue")
    outcome = models.CharField(max_length=16, blank=True, choices=OUTCOME_CHOICES, help_text="Empty: every outcome")
    description = models.CharField(max_length=200, blank=True, help_text="Why this rule exists (shown in previews)")

    redis_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Hours an exported entry stays in the Redis stream (never before it is "
        "acknowledged)")
    warm_days = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)],
        help_text="Days a record stays in ClickHouse (warm) before it is served from the cold tier only")
    cold_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days a record is kept at all (then purged from every tier); 0 = forever")
    max_records = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Keep at most this many of the newest records of each queue and outcome; "
        "0 = no cap")
    payload_mode = models.CharField(max_length=8, blank=True, choices=PayloadMode.choices,
                                    help_text="What is kept of the payload")
    sample_rate = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of records whose redacted payload sample is kept (payload mode 'sample'), 0..1")
    keep_failures = models.BooleanField(
        null=True, blank=True, help_text="Always keep a sample of failed, timed-out and dead jobs")
    payload_max_bytes = models.PositiveIntegerField(
        null=True, blank=True, help_text="No sample or full payload is kept of payloads larger than this")
    redaction_patterns = models.TextField(
        blank=True, validators=[validate_patterns],
        help_text="Extra redaction patterns, one name=regex per line, on top of the built-in detectors "
        "(emails, phones, cards, IBANs, IPs)")

    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["queue", "outcome"]
        constraints = [models.UniqueConstraint(fields=["queue", "outcome"], name="one_policy_per_scope")]
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return self.scope_label

    @property
    def scope_label(self) -> str:
        if not self.queue and not self.outcome:
            return "global default"
        parts = [f"queue={self.queue}" if self.queue else "", f"outcome={self.outcome}" if self.outcome else ""]
        return " ".join(p for p in parts if p)

    @property
    def specificity(self) -> int:
        """Queue and outcome 3, queue 2, outcome 1, global 0: the higher wins, setting by setting."""
        return (2 if self.queue else 0) + (1 if self.outcome else 0)


# Who changed which rule, when, and the field diff.
auditlog.register(RetentionPolicy)


class RunKind(models.TextChoices):
    RETENTION = "retention", "Retention run (purge by policy, tiering, compaction, trimming)"
    PURGE = "purge", "Purge"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued for the warehouse worker"
    RUNNING = "running", "Running"
    PREVIEWED = "previewed", "Previewed (dry run, nothing changed)"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RetentionRun(models.Model):
    """The audit record of one retention run or purge: who, when, what was planned, what was done."""

    kind = models.CharField(max_length=12, choices=RunKind.choices)
    dry_run = models.BooleanField()
    as_of = models.DateTimeField(help_text="The moment policies were evaluated at")
    parameters = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    actor = models.CharField(max_length=150, blank=True,
                             help_text="Who asked: the user, os:<name> for a command without --by, or beat")
    preview = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="confirmation",
        help_text="The dry run this purge confirms: it acts on exactly that selection")
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.QUEUED)
    plan = models.JSONField(default=dict, blank=True, help_text="What the run found to do (the preview)")
    result = models.JSONField(default=dict, blank=True, help_text="What it did")
    alerts = models.JSONField(default=list, blank=True, help_text="Problems that need a person")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        permissions = [
            ("start_retentionrun", "Can start a retention run or its preview"),
            ("purge_records", "Can preview and confirm a purge of records"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {'dry run ' if self.dry_run else ''}{self.started_at:%Y-%m-%d %H:%M}"

    @property
    def finished(self) -> bool:
        return self.state in (RunState.PREVIEWED, RunState.DONE, RunState.FAILED)
