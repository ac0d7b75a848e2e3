"""The dashboard's rollup figures per time range, as the warehouse worker last computed them.

The web process never opens the warehouse, so the page reads these rows: the worker computes one
snapshot per range from the rollups (beat, every minute, and on request) and keeps only the
newest few of each. Counts, durations, queue names, error types and times only: no personal data.
"""

from __future__ import annotations

from django.db import models


class DashboardRange(models.TextChoices):
    DAY = "24h", "24 h"
    WEEK = "7d", "7 d"
    MONTH = "30d", "30 d"
    QUARTER = "90d", "90 d"
    ALL = "all", "All history"


class DashboardSnapshot(models.Model):
    range = models.CharField(max_length=8, choices=DashboardRange.choices, db_index=True,
                             help_text="The time range the figures cover, ending at computed_at")
    computed_at = models.DateTimeField(db_index=True, help_text="When the worker computed the figures (UTC)")
    elapsed_ms = models.FloatField(default=0, help_text="How long the rollup queries took on the worker, in ms")
    figures = models.JSONField(help_text="apps.dashboard.figures.rollup_figures() for this range: series per "
                                         "queue and bucket, totals per queue, top error types")

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"
        indexes = [models.Index(fields=["range", "-computed_at"], name="dashboard_newest_idx")]

    def __str__(self) -> str:
        return f"dashboard {self.range} at {self.computed_at:%Y-%m-%d %H:%M}"
