"""Writes of the dashboard: the worker's snapshots of the rollup figures, and asking the worker for them.

The figures are computed where the warehouse is (`dashboard_refresh`, on the worker: beat every
minute, or when asked) and kept in PostgreSQL, the newest KEPT per range; the page only reads
them. An SRE or an Administrator may ask for fresh ones now; any role's page asks by itself for a
range that has none yet, at most once a minute.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.accounts.actors import Actor, require_permission
from apps.dashboard.models import DashboardSnapshot
from apps.dashboard.ranges import SPANS, span_of

VIEW_PERMISSION = "dashboard.view_dashboardsnapshot"
REFRESH_PERMISSION = "dashboard.add_dashboardsnapshot"
KEPT = 5  # snapshots kept per range: the newest, and a few to see what changed
FIRST_REQUEST_EVERY_S = 60  # how often a page may ask for a range that has no snapshot yet


def dashboard_refresh(*, ranges: list[str] | None = None, now: datetime | None = None) -> dict:
    """On the warehouse worker: compute the figures of each range (default: all) from the rollups,
    keep each as that range's newest snapshot and delete those beyond KEPT. Returns {range: elapsed ms}."""
    from apps.dashboard.figures import rollup_figures

    now = now or timezone.now()
    elapsed = {}
    for key in ranges or list(SPANS):
        span = span_of(key)
        started = time.perf_counter()
        figures = rollup_figures(span.key, now=now)
        elapsed[span.key] = round((time.perf_counter() - started) * 1000, 1)
        with transaction.atomic():
            DashboardSnapshot.objects.create(range=span.key, computed_at=now, elapsed_ms=elapsed[span.key],
                                             figures=figures)
            kept = DashboardSnapshot.objects.filter(range=span.key).order_by("-computed_at", "-pk")[:KEPT]
            DashboardSnapshot.objects.filter(range=span.key).exclude(pk__in=list(kept.values_list("pk", flat=True))) \
                .delete()
    return elapsed


def dashboard_request_refresh(*, actor: Actor) -> None:
    """Have the worker compute every range's figures now (SRE, Administrator); WorkerUnavailable if none would."""
    from apps.dashboard.tasks import dashboard_refresh as task
    from apps.warehouse import dispatch

    require_permission(actor, REFRESH_PERMISSION)
    dispatch.require_worker()
    dispatch.submit(task)


def dashboard_request_first(*, actor: Actor, range_key: str) -> bool:
    """For a page showing a range with no snapshot yet (any role that may view): ask the worker for
    that range, unless a snapshot exists or one was asked for in the last FIRST_REQUEST_EVERY_S.
    Returns whether it asked; WorkerUnavailable if no worker would do it."""
    from apps.dashboard.tasks import dashboard_refresh as task
    from apps.warehouse import dispatch

    require_permission(actor, VIEW_PERMISSION)
    key = span_of(range_key).key
    if DashboardSnapshot.objects.filter(range=key).exists():
        return False
    if not cache.add(f"dashboard:first-request:{key}", True, timeout=FIRST_REQUEST_EVERY_S):
        return False
    try:
        dispatch.require_worker()
    except dispatch.WorkerUnavailable:
        cache.delete(f"dashboard:first-request:{key}")
        raise
    dispatch.submit(task, ranges=[key])
    return True
