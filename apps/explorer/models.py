"""Query runs (every query anyone runs is one: who, what, when, how long, how much) and saved queries.

A run keeps its SQL and parameters for its owner's history for ARCHIVE_QUERY_HISTORY_DAYS, then only
their SHA-256 (a literal may be a person's identifier). Its rows are never in PostgreSQL: the result
is a Parquet object in S3 (`results/`), recorded as a `StoredCopy`, a place of the registry.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REFUSED = "refused", "Refused"


ENDED = (RunState.SUCCEEDED, RunState.FAILED, RunState.REFUSED)


class QueryRun(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="query_runs", help_text="Empty for the command line's operator")
    actor = models.CharField(max_length=150, help_text="Who ran it, as the audit chain names them")
    via = models.CharField(max_length=16, help_text="web, cli, api, tui")
    allow_list = models.CharField(max_length=32, help_text="The allow-list the guard applied (a role's)")
    template = models.CharField(max_length=64, blank=True, help_text="The template's name; empty for SQL")
    params = models.JSONField(default=dict, blank=True, help_text="The template's parameters as given")
    sql = models.TextField(blank=True, help_text="The SQL that ran; cleared after the history window")
    sql_sha256 = models.CharField(max_length=64)
    explain = models.BooleanField(default=False, help_text="EXPLAIN of the query instead of its rows")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED, db_index=True)
    error = models.TextField(blank=True, help_text="Why it was refused or failed, in one line")
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    elapsed_ms = models.FloatField(null=True, blank=True, help_text="In the engine")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Rows in the result")
    truncated = models.BooleanField(default=False, help_text="The result stopped at the row cap")
    rows_read = models.BigIntegerField(null=True, blank=True)
    bytes_read = models.BigIntegerField(null=True, blank=True)
    columns = models.JSONField(default=list, blank=True, help_text="[name, ClickHouse type] per column")
    tables = models.JSONField(default=list, blank=True, help_text="The tables the query reads")
    result = models.ForeignKey("compliance.StoredCopy", null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+", help_text="The stored result (a copy: erasure covers it)")
    result_bytes = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [models.Index(fields=["user", "-submitted_at"], name="run_history_idx")]

    def __str__(self) -> str:
        return f"{self.template or 'SQL'} by {self.actor} at {self.submitted_at:%Y-%m-%d %H:%M}"

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def total_ms(self) -> float | None:
        if self.finished_at is None:
            return None
        return round((self.finished_at - self.submitted_at).total_seconds() * 1000, 1)


class SavedQuery(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_queries")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    template = models.CharField(max_length=64, blank=True, help_text="A template's name, or empty for SQL")
    params = models.JSONField(default=dict, blank=True, help_text="The template's parameters")
    sql = models.TextField(blank=True)
    shared_with = models.CharField(max_length=32, blank=True,
                                   help_text="A role that may see and run it; empty: private to its owner")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "saved queries"
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_query_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class StatsSnapshot(models.Model):
    """The archive's figures (apps.warehouse.stats) as the worker last computed them, for the stats
    page, which never waits for the warehouse. Numbers, queue names and times only."""

    computed_at = models.DateTimeField(db_index=True)
    figures = models.JSONField(help_text="apps.warehouse.stats.archive_stats() for every queue")

    class Meta:
        get_latest_by = "computed_at"
        ordering = ["-computed_at"]

    def __str__(self) -> str:
        return f"archive stats at {self.computed_at:%Y-%m-%d %H:%M}"
