"""Retention tasks: they run on the worker that owns the warehouse (queue `warehouse`)."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.accounts.actors import Actor
from apps.retention import services
from apps.retention.models import RetentionRun

logger = logging.getLogger(__name__)


def report(run) -> dict:
    return {"run": run.pk, "state": run.state, "dry_run": run.dry_run, "plan": run.plan, "result": run.result,
            "alerts": run.alerts, "error": run.error}


# Not acks_late: a run cut short by a crash is not delivered again half-done; the next run
# (hourly, or asked for) repairs whatever it left, every step being idempotent.
@shared_task(acks_late=False, expires=3600)
def execute_run(run_id: int) -> dict:
    """A recorded retention run or purge (the admin, the CLI). A failure is recorded on the run and
    reported, not raised: whoever waits reads the run's state and error."""
    try:
        return report(services.run_execute(run_id=run_id))
    except Exception:
        logger.exception("retention run %s failed", run_id)
        return report(RetentionRun.objects.get(pk=run_id))


@shared_task(acks_late=False, expires=3600)
def scheduled_retention_run() -> dict:
    """Beat runs this hourly: the retention policies applied to every tier."""
    return report(services.retention_run(actor=Actor.system("beat"), dry_run=False))
