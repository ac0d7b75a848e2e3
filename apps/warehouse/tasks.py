"""Warehouse tasks: they run on the worker that owns ClickHouse (queue `warehouse`); query runs: apps.explorer.tasks."""

from celery import shared_task

from apps.warehouse import services


@shared_task(acks_late=True, expires=600)
def warehouse_migrate() -> dict:
    return services.warehouse_migrate()
