"""Warehouse tasks: they run on the worker that owns ClickHouse (queue `warehouse`); query runs: apps.explorer.tasks."""

from celery import shared_task

from apps.warehouse import services


@shared_task(acks_late=True, expires=600)
def warehouse_migrate() -> dict:
    return services.warehouse_migrate()


@shared_task(acks_late=True, expires=3000)
def rollups_to_lake() -> dict:
    """The rollups as Parquet in the lake (apps.warehouse.rollups.to_lake); beat runs it hourly."""
    from apps.warehouse import rollups

    return rollups.to_lake()


@shared_task(acks_late=True, expires=120)
def held_refresh() -> dict:
    """Summarise the days written since the last run (apps.warehouse.held); beat runs it every minute."""
    from apps.warehouse import held

    return held.refresh()
