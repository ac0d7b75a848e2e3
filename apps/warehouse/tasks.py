"""Warehouse tasks: they run on the worker that owns ClickHouse (queue `warehouse`)."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.warehouse import services


@shared_task(acks_late=True, expires=600)
def warehouse_migrate() -> dict:
    return services.warehouse_migrate()


@shared_task(acks_late=False, expires=300)
def run_query(sql: str, max_rows: int | None = None, actor: dict | None = None) -> dict:
    return services.query_run(sql=sql, actor=Actor.from_task(actor), max_rows=max_rows).as_dict()
