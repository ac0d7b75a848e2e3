"""Retention tasks: they run on the worker that owns the warehouse (queue `warehouse`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.retention import services


def _actor(actor_id: int | None):
    return get_user_model().objects.filter(pk=actor_id).first() if actor_id else None


def _report(run) -> dict:
    return {"run": run.pk, "state": run.state, "dry_run": run.dry_run, "plan": run.plan, "result": run.result,
            "alerts": run.alerts}


@shared_task(acks_late=True, expires=3600)
def retention_run(dry_run: bool = False, as_of: str | None = None, steps: list[str] | None = None,
                  actor_id: int | None = None) -> dict:
    """Beat runs this hourly; the CLI's `archive run` and the admin call it too."""
    run = services.retention_run(dry_run=dry_run, actor=_actor(actor_id),
                                 as_of=datetime.fromisoformat(as_of) if as_of else None,
                                 **({"steps": tuple(steps)} if steps else {}))
    return _report(run)


@shared_task(acks_late=False, expires=3600)
def purge_records(older_than_seconds: int, dry_run: bool, queues: list[str] | None = None,
                  outcomes: list[str] | None = None, as_of: str | None = None, actor_id: int | None = None) -> dict:
    run = services.purge_records(older_than=timedelta(seconds=older_than_seconds), dry_run=dry_run,
                                 actor=_actor(actor_id), queues=queues, outcomes=outcomes,
                                 as_of=datetime.fromisoformat(as_of) if as_of else None)
    return _report(run)
