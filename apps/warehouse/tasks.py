"""Warehouse tasks: they run on the worker that owns ClickHouse (queue `warehouse`)."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.warehouse import services
from apps.warehouse.allowlists import ANALYST, allow_list_for_roles


@shared_task(acks_late=True, expires=600)
def warehouse_migrate() -> dict:
    return services.warehouse_migrate()


@shared_task(acks_late=False, expires=300)
def run_query(sql: str, max_rows: int | None = None, actor: dict | None = None, roles: list[str] | None = None,
              parameters: dict | None = None) -> dict:
    """`roles`: whose allow-list applies (apps.warehouse.allowlists); None keeps the Analyst's."""
    allow = ANALYST if roles is None else allow_list_for_roles(roles)
    return services.query_run(sql=sql, actor=Actor.from_task(actor), max_rows=max_rows, allow=allow,
                              parameters=parameters).as_dict()
