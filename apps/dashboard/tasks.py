"""Dashboard tasks: the rollup figures are computed on the worker that owns the warehouse (queue `warehouse`)."""

from celery import shared_task

from apps.dashboard import services


@shared_task(acks_late=True, expires=120)
def dashboard_refresh(ranges: list[str] | None = None) -> dict:
    return services.dashboard_refresh(ranges=ranges)
