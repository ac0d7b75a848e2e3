"""Restore tasks: they run on the worker that owns the warehouse (queue `warehouse`)."""

from celery import shared_task

from apps.restore import services


@shared_task(acks_late=True, expires=3600)
def execute_restore(restore_id: str) -> dict:
    return services.restore_execute(restore_id=restore_id)
