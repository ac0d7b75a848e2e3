"""Restores: archived jobs sent back into the live queue (a Celery task, a Redis list, a Redis stream).

A `Restore` is one request (who, what selection, which adapter and target, dry run or not) and what
came of it; `RestoredAttempt` is the ledger of attempts sent, by a keyed hash of the job id and
attempt number (never the id itself), so a second restore of the same attempt is refused without
`--force`. The selection keeps the job ids or filters as given, like a query run's parameters, and
is cleared after ARCHIVE_QUERY_HISTORY_DAYS.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Adapter(models.TextChoices):
    CELERY = "celery", "Celery task (send_task with the recorded name and arguments)"
    LIST = "list", "Redis list (RPUSH of the payload)"
    STREAM = "stream", "Redis stream (XADD of the payload and the job's fields)"


class RestoreState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PREVIEWED = "previewed", "Previewed (dry run: nothing sent)"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"


ENDED = (RestoreState.PREVIEWED, RestoreState.DONE, RestoreState.REFUSED, RestoreState.FAILED)


class Restore(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="restores", help_text="Empty for the command line's operator")
    actor = models.CharField(max_length=150, help_text="Who asked, as the audit chain names them")
    via = models.CharField(max_length=16, help_text="web, cli, api")
    adapter = models.CharField(max_length=8, choices=Adapter.choices)
    target = models.CharField(max_length=200, blank=True,
                              help_text="The Celery task name (empty: each record's `task` tag), the list or the stream")
    selection = models.JSONField(default=dict, blank=True,
                                 help_text='{"job_ids": [...]} or {"queue", "outcome", "from", "to"}; cleared '
                                           "after the history window")
    expected_count = models.PositiveIntegerField(null=True, blank=True,
                                                 help_text="Refuse unless the selection holds exactly this many jobs")
    dry_run = models.BooleanField(default=False, help_text="Only count and check: nothing is sent")
    force = models.BooleanField(default=False, help_text="Send attempts that an earlier restore sent already")
    state = models.CharField(max_length=16, choices=RestoreState.choices, default=RestoreState.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="Why the whole restore was refused or failed, in one line")
    selected = models.PositiveIntegerField(null=True, blank=True, help_text="Jobs the selection found")
    restored = models.PositiveIntegerField(default=0, help_text="Attempts sent (or, in a dry run, that would be)")
    refused = models.JSONField(default=dict, blank=True, help_text="Attempts refused, counted per reason")
    lines = models.JSONField(default=list, blank=True,
                             help_text="For a restore of named jobs: what happened to each (cleared with the selection)")
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]

    def __str__(self) -> str:
        return f"restore {str(self.pk)[:8]} ({self.get_state_display()})"

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())


class AttemptState(models.TextChoices):
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"


class RestoredAttempt(models.Model):
    restore = models.ForeignKey(Restore, on_delete=models.PROTECT, related_name="attempts")
    attempt_hash = models.CharField(max_length=64, db_index=True,
                                    help_text="Keyed hash of the job id and attempt number (never the id)")
    state = models.CharField(max_length=8, choices=AttemptState.choices, default=AttemptState.SENDING)
    sent_as = models.CharField(max_length=200, blank=True, help_text="The Celery task id or stream entry id it got")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["restore", "attempt_hash"], name="one_send_per_restore")]
