"""Rehydration tasks: they open ClickHouse, so they run on the warehouse queue (CELERY_TASK_ROUTES)."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.rehydration import services


# Not acks_late: a copy cut short by a crash stays `running` until its expiry drops it, instead of
# being redelivered into a half-created table.
@shared_task(acks_late=False, expires=6 * 3600)
def rehydration_run(rehydration_id: str) -> dict:
    return services.rehydration_run(rehydration_id=rehydration_id)


@shared_task(acks_late=True, expires=3600)
def rehydration_drop_table(rehydration_id: str, actor: dict | None = None) -> dict:
    # The service checks the actor's permission again: a task is no way around it.
    return services.rehydration_drop_table(rehydration_id=rehydration_id, actor=Actor.from_task(actor))


@shared_task(acks_late=True, expires=1800)
def rehydration_expire() -> list[str]:
    return services.rehydration_expire_due(actor=Actor.system("beat"))
