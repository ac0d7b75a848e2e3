"""Explorer tasks: query runs execute on the worker that owns the warehouse (queue `warehouse`)."""

from celery import shared_task

from apps.explorer import services


@shared_task(acks_late=True, expires=600)
def execute_query_run(run_id: str, rows_back: int = 0) -> dict:
    return services.query_run_execute(run_id=run_id, rows_back=rows_back)


@shared_task(acks_late=True, expires=3600)
def query_history_expire() -> dict:
    return services.query_history_expire()


@shared_task(acks_late=True, expires=900)
def stats_refresh(queue: str | None = None) -> dict:
    return services.stats_refresh(queue)
